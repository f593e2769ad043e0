//! `ModelRepo` on sea-orm: models with their primary route, parameters, routes, associations
//! and the default model of each type. Writes that check state first lock the model row. Row
//! conversions live in `model_rows`.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder,
};
use serde_json::Value;
use switchyard_domain::StoreError;
use switchyard_domain::catalog::CapabilityId;
use switchyard_domain::catalog::CategoryId;
use switchyard_domain::catalog::{CatalogWriteError, ModelFilter, ModelRepo};
use switchyard_domain::catalog::{LinkedCapability, Model, ModelDetail, ModelId, ModelSpec, Route, RouteId, RouteSpec};
use switchyard_domain::catalog::{Parameter, ParameterId, ParameterSpec};
use switchyard_domain::kernel::page::{Cursor, Page, PageRequest};
use switchyard_domain::kernel::patch::Revise;
use tracing::instrument;
use uuid::Uuid;

use crate::entity::{
    capabilities, categories, default_models, model_capabilities, model_categories, model_parameters, model_routes,
    models, suppliers,
};
use crate::error::{is_retryable, store_error};
use crate::model_rows::{
    assemble, child_of, default_ids, insert_model, is_default, json_value, linked_by_name, live_supplier, load,
    lock_model, model_spec, require_live, route_of, summaries, to_parameter, to_route, update_model, write_parameter,
    write_route,
};
use crate::page::{like_pattern, paginate};
use crate::transaction::{begin_write, finish};

#[derive(Debug, Clone)]
pub struct SqlModelRepo {
    db: DatabaseConnection,
}

impl SqlModelRepo {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    async fn try_set_default(&self, id: ModelId, now: DateTime<Utc>) -> Result<Model, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let current = lock_model(&txn, id, false).await?;
            if !current.is_active || current.deleted_at.is_some() {
                return Err(CatalogWriteError::ModelInactive);
            }
            default_models::Entity::insert(default_models::ActiveModel {
                model_type: Set(current.model_type.clone()),
                model_id: Set(id.0),
                updated_at: Set(now),
            })
            .on_conflict(
                OnConflict::column(default_models::Column::ModelType)
                    .update_columns([default_models::Column::ModelId, default_models::Column::UpdatedAt])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(store_error)?;
            Ok(load(&txn, id.0).await?)
        }
        .await;
        finish(txn, outcome).await
    }
}

/// Models with their parameters, capabilities, categories and routes, in six queries however
/// many models there are (the routing snapshot loads every model this way).
pub(crate) async fn details(db: &impl ConnectionTrait, models: Vec<Model>) -> Result<Vec<ModelDetail>, StoreError> {
    let ids: Vec<Uuid> = models.iter().map(|model| model.id.0).collect();
    let mut parameters: HashMap<Uuid, Vec<Parameter>> = HashMap::new();
    let parameter_rows = model_parameters::Entity::find()
        .filter(model_parameters::Column::ModelId.is_in(ids.clone()))
        .order_by_asc(model_parameters::Column::Name)
        .all(db)
        .await
        .map_err(store_error)?;
    for row in parameter_rows {
        let model = row.model_id;
        parameters.entry(model).or_default().push(to_parameter(row)?);
    }
    let links = model_capabilities::Entity::find()
        .filter(model_capabilities::Column::ModelId.is_in(ids.clone()))
        .all(db)
        .await
        .map_err(store_error)?;
    let capability_rows = capabilities::Entity::find()
        .filter(capabilities::Column::Id.is_in(links.iter().map(|link| link.capability_id)))
        .order_by_asc(capabilities::Column::Name)
        .all(db)
        .await
        .map_err(store_error)?;
    let category_links = model_categories::Entity::find()
        .filter(model_categories::Column::ModelId.is_in(ids.clone()))
        .all(db)
        .await
        .map_err(store_error)?;
    let category_rows: Vec<_> = categories::Entity::find()
        .filter(categories::Column::Id.is_in(category_links.iter().map(|link| link.category_id)))
        .order_by_asc(categories::Column::Name)
        .all(db)
        .await
        .map_err(store_error)?;
    let route_rows = model_routes::Entity::find()
        .filter(model_routes::Column::ModelId.is_in(ids))
        .order_by_desc(model_routes::Column::IsPrimary)
        .order_by_asc(model_routes::Column::Priority)
        .order_by_asc(model_routes::Column::Id)
        .all(db)
        .await
        .map_err(store_error)?;
    let suppliers = summaries(db, route_rows.iter().map(|row| row.supplier_id).collect()).await?;
    let mut routes: HashMap<Uuid, Vec<Route>> = HashMap::new();
    for row in route_rows {
        let model = row.model_id;
        routes.entry(model).or_default().push(route_of(&suppliers, row)?);
    }
    let mut detailed = Vec::with_capacity(models.len());
    for model in models {
        let id = model.id.0;
        let mut linked = Vec::new();
        for row in &capability_rows {
            let Some(link) = links
                .iter()
                .find(|link| link.model_id == id && link.capability_id == row.id)
            else {
                continue;
            };
            linked.push(LinkedCapability {
                capability: crate::capability_repo::to_domain(row.clone())?,
                config: json_value(&link.config_json)?,
                is_default: link.is_default,
            });
        }
        let categories = category_rows
            .iter()
            .filter(|row| {
                category_links
                    .iter()
                    .any(|link| link.model_id == id && link.category_id == row.id)
            })
            .cloned()
            .map(crate::category_repo::to_domain)
            .collect();
        detailed.push(ModelDetail {
            parameters: parameters.remove(&id).unwrap_or_default(),
            capabilities: linked,
            categories,
            routes: routes.remove(&id).unwrap_or_default(),
            model,
        });
    }
    Ok(detailed)
}

#[async_trait]
impl ModelRepo for SqlModelRepo {
    #[instrument(skip_all, fields(model = %spec.name))]
    async fn create(
        &self,
        id: ModelId,
        primary: RouteId,
        spec: &ModelSpec,
        now: DateTime<Utc>,
    ) -> Result<Model, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            live_supplier(&txn, spec.supplier_id, "supplier_id").await?;
            insert_model(&txn, id.0, primary.0, spec, now).await?;
            Ok(load(&txn, id.0).await?)
        }
        .await;
        finish(txn, outcome).await
    }

    async fn get(&self, id: ModelId) -> Result<Option<Model>, StoreError> {
        match load(&self.db, id.0).await {
            Ok(model) => Ok(Some(model)),
            Err(StoreError::NotFound) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn detail(&self, id: ModelId) -> Result<Option<ModelDetail>, StoreError> {
        let Some(model) = self.get(id).await? else {
            return Ok(None);
        };
        Ok(details(&self.db, vec![model]).await?.pop())
    }

    async fn list(&self, filter: &ModelFilter, page: PageRequest) -> Result<Page<Model>, StoreError> {
        let mut select = models::Entity::find();
        if !filter.include_deleted {
            select = select.filter(models::Column::DeletedAt.is_null());
        }
        if let Some(active) = filter.active {
            select = select.filter(models::Column::IsActive.eq(active));
        }
        if let Some(model_type) = filter.model_type {
            select = select.filter(models::Column::ModelType.eq(model_type.as_str()));
        }
        if let Some(supplier) = filter.supplier.as_deref() {
            select = select.filter(linked_by_name::<model_routes::Entity, suppliers::Entity>(
                model_routes::Column::ModelId,
                model_routes::Column::SupplierId,
                supplier,
                suppliers::Column::Name,
                suppliers::Column::Id,
                suppliers::Column::DeletedAt,
            ));
        }
        if let Some(capability) = filter.capability.as_deref() {
            select = select.filter(linked_by_name::<model_capabilities::Entity, capabilities::Entity>(
                model_capabilities::Column::ModelId,
                model_capabilities::Column::CapabilityId,
                capability,
                capabilities::Column::Name,
                capabilities::Column::Id,
                capabilities::Column::DeletedAt,
            ));
        }
        if let Some(category) = filter.category.as_deref() {
            select = select.filter(linked_by_name::<model_categories::Entity, categories::Entity>(
                model_categories::Column::ModelId,
                model_categories::Column::CategoryId,
                category,
                categories::Column::Name,
                categories::Column::Id,
                categories::Column::DeletedAt,
            ));
        }
        if let Some(text) = filter.text.as_deref().filter(|text| !text.is_empty()) {
            let pattern = || LikeExpr::new(like_pattern(text)).escape('\\');
            select = select.filter(
                Condition::any()
                    .add(Expr::expr(Func::lower(Expr::col(models::Column::Name))).like(pattern()))
                    .add(Expr::expr(Func::lower(Expr::col(models::Column::DisplayName))).like(pattern())),
            );
        }
        let rows = paginate(select, models::Column::CreatedAt, models::Column::Id, page)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        let items = assemble(&self.db, rows).await?;
        Ok(Page::from_rows(items, page.limit, |model| Cursor {
            created_at: model.created_at,
            id: model.id.0,
        }))
    }

    #[instrument(skip_all, fields(model_id = %id.0))]
    async fn update(
        &self,
        id: ModelId,
        revise: Revise<'_, ModelSpec>,
        now: DateTime<Utc>,
    ) -> Result<Model, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let current = lock_model(&txn, id, true).await?;
            let spec = &revise(&model_spec(&current)?).map_err(CatalogWriteError::Rejected)?;
            live_supplier(&txn, spec.supplier_id, "supplier_id").await?;
            let leaves_its_type = !spec.is_active || spec.model_type.as_str() != current.model_type;
            if leaves_its_type && is_default(&txn, id.0).await? {
                return Err(CatalogWriteError::DefaultInUse);
            }
            update_model(&txn, current, spec, now).await?;
            Ok(load(&txn, id.0).await?)
        }
        .await;
        finish(txn, outcome).await
    }

    #[instrument(skip_all, fields(model_id = %id.0, deleted))]
    async fn set_deleted(&self, id: ModelId, deleted: bool, now: DateTime<Utc>) -> Result<Model, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let current = lock_model(&txn, id, false).await?;
            if deleted && is_default(&txn, id.0).await? {
                return Err(CatalogWriteError::DefaultInUse);
            }
            if deleted == current.deleted_at.is_some() {
                return Ok(load(&txn, id.0).await?);
            }
            let mut row = current.into_active_model();
            row.deleted_at = Set(deleted.then_some(now));
            row.live_key = Set(if deleted { id.0.to_string() } else { String::new() });
            row.updated_at = Set(now);
            row.update(&txn).await.map_err(store_error)?;
            Ok(load(&txn, id.0).await?)
        }
        .await;
        finish(txn, outcome).await
    }

    #[instrument(skip_all, fields(model_id = %id.0))]
    async fn set_default(&self, id: ModelId, now: DateTime<Utc>) -> Result<Model, CatalogWriteError> {
        // Concurrent upserts of one key can deadlock on MySQL (gap locks); the loser may simply
        // run again.
        let mut attempt = 1;
        loop {
            match self.try_set_default(id, now).await {
                Err(CatalogWriteError::Store(error)) if is_retryable(&error) && attempt < 5 => {
                    tracing::debug!(attempt, %error, "set-default conflicted; retrying");
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn defaults(&self) -> Result<Vec<Model>, StoreError> {
        let ids = default_ids(&self.db).await?;
        let rows = models::Entity::find()
            .filter(models::Column::Id.is_in(ids))
            .order_by_asc(models::Column::ModelType)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        assemble(&self.db, rows).await
    }

    async fn create_parameter(
        &self,
        model: ModelId,
        id: ParameterId,
        spec: &ParameterSpec,
        now: DateTime<Utc>,
    ) -> Result<Parameter, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            lock_model(&txn, model, true).await?;
            let mut row = model_parameters::ActiveModel {
                id: Set(id.0),
                model_id: Set(model.0),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            };
            write_parameter(&mut row, spec);
            model_parameters::Entity::insert(row)
                .exec_without_returning(&txn)
                .await
                .map_err(store_error)?;
            let row = model_parameters::Entity::find_by_id(id.0)
                .one(&txn)
                .await
                .map_err(store_error)?
                .ok_or(CatalogWriteError::Missing("parameter"))?;
            Ok(to_parameter(row)?)
        }
        .await;
        finish(txn, outcome).await
    }

    async fn update_parameter(
        &self,
        model: ModelId,
        id: ParameterId,
        spec: &ParameterSpec,
        now: DateTime<Utc>,
    ) -> Result<Parameter, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            lock_model(&txn, model, true).await?;
            let row =
                child_of::<model_parameters::Entity>(&txn, id.0, model_parameters::Column::ModelId, model, "parameter")
                    .await?;
            let mut row = row.into_active_model();
            write_parameter(&mut row, spec);
            row.updated_at = Set(now);
            Ok(to_parameter(row.update(&txn).await.map_err(store_error)?)?)
        }
        .await;
        finish(txn, outcome).await
    }

    async fn delete_parameter(&self, model: ModelId, id: ParameterId) -> Result<(), CatalogWriteError> {
        require_live::<models::Entity>(&self.db, model.0, models::Column::DeletedAt, "model").await?;
        let deleted = model_parameters::Entity::delete_many()
            .filter(model_parameters::Column::Id.eq(id.0))
            .filter(model_parameters::Column::ModelId.eq(model.0))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        if deleted.rows_affected == 0 {
            return Err(CatalogWriteError::Missing("parameter"));
        }
        Ok(())
    }

    async fn create_route(
        &self,
        model: ModelId,
        id: RouteId,
        spec: &RouteSpec,
        now: DateTime<Utc>,
    ) -> Result<Route, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            lock_model(&txn, model, true).await?;
            live_supplier(&txn, spec.supplier_id, "supplier_id").await?;
            let mut row = model_routes::ActiveModel {
                id: Set(id.0),
                model_id: Set(model.0),
                is_primary: Set(false),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            };
            write_route(&mut row, spec);
            model_routes::Entity::insert(row)
                .exec_without_returning(&txn)
                .await
                .map_err(store_error)?;
            let row = model_routes::Entity::find_by_id(id.0)
                .one(&txn)
                .await
                .map_err(store_error)?
                .ok_or(CatalogWriteError::Missing("route"))?;
            Ok(to_route(&txn, row).await?)
        }
        .await;
        finish(txn, outcome).await
    }

    async fn update_route(
        &self,
        model: ModelId,
        id: RouteId,
        spec: &RouteSpec,
        now: DateTime<Utc>,
    ) -> Result<Route, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            lock_model(&txn, model, true).await?;
            let row =
                child_of::<model_routes::Entity>(&txn, id.0, model_routes::Column::ModelId, model, "route").await?;
            if row.is_primary && (row.supplier_id != spec.supplier_id.0 || row.upstream_name != spec.upstream_name) {
                return Err(CatalogWriteError::PrimaryRoute);
            }
            live_supplier(&txn, spec.supplier_id, "supplier_id").await?;
            let mut row = row.into_active_model();
            write_route(&mut row, spec);
            row.updated_at = Set(now);
            let row = row.update(&txn).await.map_err(store_error)?;
            Ok(to_route(&txn, row).await?)
        }
        .await;
        finish(txn, outcome).await
    }

    async fn delete_route(&self, model: ModelId, id: RouteId) -> Result<(), CatalogWriteError> {
        require_live::<models::Entity>(&self.db, model.0, models::Column::DeletedAt, "model").await?;
        let row =
            child_of::<model_routes::Entity>(&self.db, id.0, model_routes::Column::ModelId, model, "route").await?;
        if row.is_primary {
            return Err(CatalogWriteError::PrimaryRoute);
        }
        model_routes::Entity::delete_by_id(id.0)
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn link_capability(
        &self,
        model: ModelId,
        capability: CapabilityId,
        config: Option<&Value>,
        is_default: bool,
        now: DateTime<Utc>,
    ) -> Result<(), CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            lock_model(&txn, model, true).await?;
            require_live::<capabilities::Entity>(&txn, capability.0, capabilities::Column::DeletedAt, "capability")
                .await?;
            if is_default {
                model_capabilities::Entity::update_many()
                    .col_expr(model_capabilities::Column::IsDefault, Expr::value(false))
                    .filter(model_capabilities::Column::ModelId.eq(model.0))
                    .exec(&txn)
                    .await
                    .map_err(store_error)?;
            }
            model_capabilities::Entity::insert(model_capabilities::ActiveModel {
                model_id: Set(model.0),
                capability_id: Set(capability.0),
                config_json: Set(config.map(Value::to_string)),
                is_default: Set(is_default),
                created_at: Set(now),
            })
            .on_conflict(
                OnConflict::columns([
                    model_capabilities::Column::ModelId,
                    model_capabilities::Column::CapabilityId,
                ])
                .update_columns([
                    model_capabilities::Column::ConfigJson,
                    model_capabilities::Column::IsDefault,
                ])
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(store_error)?;
            Ok(())
        }
        .await;
        finish(txn, outcome).await
    }

    async fn unlink_capability(&self, model: ModelId, capability: CapabilityId) -> Result<bool, StoreError> {
        let deleted = model_capabilities::Entity::delete_many()
            .filter(model_capabilities::Column::ModelId.eq(model.0))
            .filter(model_capabilities::Column::CapabilityId.eq(capability.0))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(deleted.rows_affected > 0)
    }

    async fn link_category(
        &self,
        model: ModelId,
        category: CategoryId,
        now: DateTime<Utc>,
    ) -> Result<(), CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            lock_model(&txn, model, true).await?;
            require_live::<categories::Entity>(&txn, category.0, categories::Column::DeletedAt, "category").await?;
            // Under the model's row lock, so a concurrent link of the same pair waits here.
            let linked = model_categories::Entity::find_by_id((model.0, category.0))
                .one(&txn)
                .await
                .map_err(store_error)?;
            if linked.is_none() {
                model_categories::Entity::insert(model_categories::ActiveModel {
                    model_id: Set(model.0),
                    category_id: Set(category.0),
                    created_at: Set(now),
                })
                .exec_without_returning(&txn)
                .await
                .map_err(store_error)?;
            }
            Ok(())
        }
        .await;
        finish(txn, outcome).await
    }

    async fn unlink_category(&self, model: ModelId, category: CategoryId) -> Result<bool, StoreError> {
        let deleted = model_categories::Entity::delete_many()
            .filter(model_categories::Column::ModelId.eq(model.0))
            .filter(model_categories::Column::CategoryId.eq(category.0))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(deleted.rows_affected > 0)
    }
}
