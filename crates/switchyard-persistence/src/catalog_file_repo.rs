//! `CatalogFileRepo` on sea-orm: the live catalog as a snapshot, and an import that reads the
//! snapshot, asks the domain for the changes and applies them, all in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    QueryFilter,
};
use switchyard_domain::StoreError;
use switchyard_domain::catalog::CategoryId;
use switchyard_domain::catalog::file::ImportPlan;
use switchyard_domain::catalog::file::{
    CatalogSnapshot, ChangeSet, ImportError, ImportReport, ModelWrite, Write, diff,
};
use switchyard_domain::catalog::{CapabilityId, CatalogFileRepo};
use switchyard_domain::catalog::{ModelId, ModelType};
use tracing::instrument;
use uuid::Uuid;

use crate::entity::{
    capabilities, categories, default_models, model_capabilities, model_categories, model_parameters, model_routes,
    models, suppliers, system_settings,
};
use crate::error::store_error;
use crate::model_rows::{
    insert_model, model_spec, parameter_spec, route_spec, update_model, write_parameter, write_route,
};
use crate::transaction::{begin_write, finish};

/// Where the file's `prices_as_of` is kept.
const PRICES_AS_OF: &str = "catalog.prices_as_of";

#[derive(Debug, Clone)]
pub struct SqlCatalogFileRepo {
    db: DatabaseConnection,
}

impl SqlCatalogFileRepo {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

async fn snapshot(db: &impl ConnectionTrait) -> Result<CatalogSnapshot, StoreError> {
    let prices_as_of = system_settings::Entity::find_by_id(PRICES_AS_OF.to_owned())
        .one(db)
        .await
        .map_err(store_error)?
        .map(|row| row.value);
    let suppliers = suppliers::Entity::find()
        .filter(suppliers::Column::DeletedAt.is_null())
        .all(db)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|row| crate::supplier_repo::to_domain(row, None).map(|supplier| (supplier.id, supplier.spec)))
        .collect::<Result<Vec<_>, _>>()?;
    let capabilities = capabilities::Entity::find()
        .filter(capabilities::Column::DeletedAt.is_null())
        .all(db)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|row| crate::capability_repo::to_domain(row).map(|capability| (capability.id, capability.spec)))
        .collect::<Result<Vec<_>, _>>()?;
    let categories: Vec<_> = categories::Entity::find()
        .filter(categories::Column::DeletedAt.is_null())
        .all(db)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|row| {
            let category = crate::category_repo::to_domain(row);
            (category.id, category.spec)
        })
        .collect();
    let model_rows = models::Entity::find()
        .filter(models::Column::DeletedAt.is_null())
        .all(db)
        .await
        .map_err(store_error)?;
    let model_ids: Vec<Uuid> = model_rows.iter().map(|row| row.id).collect();
    let models = model_rows
        .iter()
        .map(|row| Ok((ModelId(row.id), model_spec(row)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let parameters = model_parameters::Entity::find()
        .filter(model_parameters::Column::ModelId.is_in(model_ids.clone()))
        .all(db)
        .await
        .map_err(store_error)?
        .iter()
        .map(|row| Ok((ModelId(row.model_id), parameter_spec(row)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let live_capabilities: Vec<Uuid> = capabilities.iter().map(|(id, _)| id.0).collect();
    let capability_links = model_capabilities::Entity::find()
        .filter(model_capabilities::Column::ModelId.is_in(model_ids.clone()))
        .filter(model_capabilities::Column::CapabilityId.is_in(live_capabilities))
        .all(db)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|row| {
            let config = row
                .config_json
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|error| StoreError::Other(format!("model_capabilities.config_json: {error}")))?;
            Ok((
                ModelId(row.model_id),
                (CapabilityId(row.capability_id), config, row.is_default),
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let live_categories: Vec<Uuid> = categories.iter().map(|(id, _)| id.0).collect();
    let category_links = model_categories::Entity::find()
        .filter(model_categories::Column::ModelId.is_in(model_ids.clone()))
        .filter(model_categories::Column::CategoryId.is_in(live_categories))
        .all(db)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|row| (ModelId(row.model_id), CategoryId(row.category_id)))
        .collect();
    let live_suppliers: Vec<Uuid> = suppliers.iter().map(|(id, _)| id.0).collect();
    let routes = model_routes::Entity::find()
        .filter(model_routes::Column::ModelId.is_in(model_ids))
        .filter(model_routes::Column::IsPrimary.eq(false))
        .filter(model_routes::Column::SupplierId.is_in(live_suppliers))
        .all(db)
        .await
        .map_err(store_error)?
        .iter()
        .map(|row| (ModelId(row.model_id), route_spec(row)))
        .collect();
    let defaults = default_models::Entity::find()
        .all(db)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|row| {
            let kind = ModelType::parse(&row.model_type).map_err(|error| StoreError::Other(error.to_string()))?;
            Ok((kind, ModelId(row.model_id)))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(CatalogSnapshot {
        prices_as_of,
        suppliers,
        capabilities,
        categories,
        models,
        parameters,
        capability_links,
        category_links,
        routes,
        defaults,
    })
}

/// Inserts or updates one row through its `write_spec`, with the usual live-row columns.
macro_rules! write_row {
    ($db:expr, $entity:ident, $write:expr, $now:expr, $spec_writer:path) => {
        match $write {
            Write::Create(id, spec) => {
                let mut row = $entity::ActiveModel {
                    id: Set(id.0),
                    live_key: Set(String::new()),
                    created_at: Set($now),
                    updated_at: Set($now),
                    deleted_at: Set(None),
                    ..Default::default()
                };
                $spec_writer(&mut row, spec);
                $entity::Entity::insert(row)
                    .exec_without_returning($db)
                    .await
                    .map_err(store_error)?;
            }
            Write::Update(id, spec) => {
                let row = $entity::Entity::find_by_id(id.0)
                    .one($db)
                    .await
                    .map_err(store_error)?
                    .ok_or(StoreError::NotFound)?;
                let mut row = row.into_active_model();
                $spec_writer(&mut row, spec);
                row.updated_at = Set($now);
                row.update($db).await.map_err(store_error)?;
            }
        }
    };
}

/// Soft-deletes rows one by one (each row's `live_key` becomes its own id).
macro_rules! prune_rows {
    ($db:expr, $entity:ident, $ids:expr, $now:expr) => {
        for id in $ids {
            let row = $entity::Entity::find_by_id(id.0)
                .one($db)
                .await
                .map_err(store_error)?
                .ok_or(StoreError::NotFound)?;
            let mut row = row.into_active_model();
            row.deleted_at = Set(Some($now));
            row.live_key = Set(id.0.to_string());
            row.updated_at = Set($now);
            row.update($db).await.map_err(store_error)?;
        }
    };
}

async fn write_model_change(
    db: &impl ConnectionTrait,
    write: &ModelWrite,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let id = write.id.0;
    match (&write.spec, write.primary_route) {
        (Some(spec), Some(route)) => insert_model(db, id, route.0, spec, now).await?,
        (Some(spec), None) => {
            let current = models::Entity::find_by_id(id)
                .one(db)
                .await
                .map_err(store_error)?
                .ok_or(StoreError::NotFound)?;
            update_model(db, current, spec, now).await?;
        }
        (None, _) => {}
    }
    let Some(children) = &write.children else {
        return Ok(());
    };
    model_parameters::Entity::delete_many()
        .filter(model_parameters::Column::ModelId.eq(id))
        .exec(db)
        .await
        .map_err(store_error)?;
    model_capabilities::Entity::delete_many()
        .filter(model_capabilities::Column::ModelId.eq(id))
        .exec(db)
        .await
        .map_err(store_error)?;
    model_categories::Entity::delete_many()
        .filter(model_categories::Column::ModelId.eq(id))
        .exec(db)
        .await
        .map_err(store_error)?;
    model_routes::Entity::delete_many()
        .filter(model_routes::Column::ModelId.eq(id))
        .filter(model_routes::Column::IsPrimary.eq(false))
        .exec(db)
        .await
        .map_err(store_error)?;
    for spec in &children.parameters {
        let mut row = model_parameters::ActiveModel {
            id: Set(Uuid::now_v7()),
            model_id: Set(id),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        write_parameter(&mut row, spec);
        model_parameters::Entity::insert(row)
            .exec_without_returning(db)
            .await
            .map_err(store_error)?;
    }
    for (capability, config, is_default) in &children.capabilities {
        model_capabilities::Entity::insert(model_capabilities::ActiveModel {
            model_id: Set(id),
            capability_id: Set(capability.0),
            config_json: Set(config.as_ref().map(serde_json::Value::to_string)),
            is_default: Set(*is_default),
            created_at: Set(now),
        })
        .exec_without_returning(db)
        .await
        .map_err(store_error)?;
    }
    for category in &children.categories {
        model_categories::Entity::insert(model_categories::ActiveModel {
            model_id: Set(id),
            category_id: Set(category.0),
            created_at: Set(now),
        })
        .exec_without_returning(db)
        .await
        .map_err(store_error)?;
    }
    for spec in &children.routes {
        let mut row = model_routes::ActiveModel {
            id: Set(Uuid::now_v7()),
            model_id: Set(id),
            is_primary: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        write_route(&mut row, spec);
        model_routes::Entity::insert(row)
            .exec_without_returning(db)
            .await
            .map_err(store_error)?;
    }
    Ok(())
}

async fn apply(db: &impl ConnectionTrait, changes: &ChangeSet, now: DateTime<Utc>) -> Result<(), StoreError> {
    match &changes.prices_as_of {
        Some(Some(value)) => crate::settings_repo::upsert(db, PRICES_AS_OF, value, now).await?,
        Some(None) => {
            system_settings::Entity::delete_by_id(PRICES_AS_OF.to_owned())
                .exec(db)
                .await
                .map_err(store_error)?;
        }
        None => {}
    }
    for write in &changes.suppliers {
        write_row!(db, suppliers, write, now, crate::supplier_repo::write_spec);
    }
    for write in &changes.capabilities {
        write_row!(db, capabilities, write, now, crate::capability_repo::write_spec);
    }
    for write in &changes.categories {
        write_row!(db, categories, write, now, crate::category_repo::write_spec);
    }
    for write in &changes.models {
        write_model_change(db, write, now).await?;
    }
    for kind in &changes.remove_defaults {
        default_models::Entity::delete_by_id(kind.as_str().to_owned())
            .exec(db)
            .await
            .map_err(store_error)?;
    }
    for (kind, model) in &changes.defaults {
        default_models::Entity::delete_by_id(kind.as_str().to_owned())
            .exec(db)
            .await
            .map_err(store_error)?;
        default_models::Entity::insert(default_models::ActiveModel {
            model_type: Set(kind.as_str().to_owned()),
            model_id: Set(model.0),
            updated_at: Set(now),
        })
        .exec_without_returning(db)
        .await
        .map_err(store_error)?;
    }
    prune_rows!(db, models, &changes.prune_models, now);
    prune_rows!(db, categories, &changes.prune_categories, now);
    prune_rows!(db, capabilities, &changes.prune_capabilities, now);
    prune_rows!(db, suppliers, &changes.prune_suppliers, now);
    Ok(())
}

#[async_trait]
impl CatalogFileRepo for SqlCatalogFileRepo {
    async fn snapshot(&self) -> Result<CatalogSnapshot, StoreError> {
        snapshot(&self.db).await
    }

    #[instrument(skip_all, fields(prune))]
    async fn import(&self, plan: &ImportPlan, prune: bool, now: DateTime<Utc>) -> Result<ImportReport, ImportError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let current = snapshot(&txn).await?;
            let changes = diff(plan, &current, prune).map_err(ImportError::Invalid)?;
            apply(&txn, &changes, now).await?;
            Ok(changes.report)
        }
        .await;
        finish(txn, outcome).await
    }
}
