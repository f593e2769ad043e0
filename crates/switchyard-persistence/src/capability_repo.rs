//! `CapabilityRepo` on sea-orm.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect,
};
use switchyard_domain::StoreError;
use switchyard_domain::catalog::{
    Capability, CapabilityDomain, CapabilityId, CapabilitySpec, join_modalities, split_modalities,
};
use switchyard_domain::catalog::{CapabilityFilter, CapabilityRepo, CatalogWriteError};
use switchyard_domain::kernel::page::{Cursor, Page, PageRequest};
use switchyard_domain::kernel::patch::Revise;

use crate::entity::capabilities;
use crate::error::store_error;
use crate::page::{like_pattern, paginate};
use crate::transaction::{begin_write, finish};

#[derive(Debug, Clone)]
pub struct SqlCapabilityRepo {
    db: DatabaseConnection,
}

impl SqlCapabilityRepo {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    async fn find(&self, id: CapabilityId) -> Result<Option<capabilities::Model>, StoreError> {
        capabilities::Entity::find_by_id(id.0)
            .one(&self.db)
            .await
            .map_err(store_error)
    }
}

pub(crate) fn to_domain(row: capabilities::Model) -> Result<Capability, StoreError> {
    let broken = |error: switchyard_domain::DomainError| StoreError::Other(format!("capability {}: {error}", row.id));
    Ok(Capability {
        id: CapabilityId(row.id),
        spec: CapabilitySpec {
            input_types: split_modalities("input_types", &row.input_types).map_err(broken)?,
            output_types: split_modalities("output_types", &row.output_types).map_err(broken)?,
            domain: CapabilityDomain::parse(&row.domain).map_err(broken)?,
            name: row.name,
            display_name: row.display_name,
            description: row.description,
            capability_type: row.capability_type,
            is_active: row.is_active,
        },
        created_at: row.created_at,
        updated_at: row.updated_at,
        deleted_at: row.deleted_at,
    })
}

pub(crate) fn write_spec(row: &mut capabilities::ActiveModel, spec: &CapabilitySpec) {
    row.name = Set(spec.name.clone());
    row.display_name = Set(spec.display_name.clone());
    row.description = Set(spec.description.clone());
    row.capability_type = Set(spec.capability_type.clone());
    row.input_types = Set(join_modalities(&spec.input_types));
    row.output_types = Set(join_modalities(&spec.output_types));
    row.domain = Set(spec.domain.as_str().to_owned());
    row.is_active = Set(spec.is_active);
}

#[async_trait]
impl CapabilityRepo for SqlCapabilityRepo {
    async fn create(
        &self,
        id: CapabilityId,
        spec: &CapabilitySpec,
        now: DateTime<Utc>,
    ) -> Result<Capability, CatalogWriteError> {
        let mut row = capabilities::ActiveModel {
            id: Set(id.0),
            live_key: Set(String::new()),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
            ..Default::default()
        };
        write_spec(&mut row, spec);
        capabilities::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(self.find(id).await?.ok_or(StoreError::NotFound).and_then(to_domain)?)
    }

    async fn get(&self, id: CapabilityId) -> Result<Option<Capability>, StoreError> {
        self.find(id).await?.map(to_domain).transpose()
    }

    async fn list(&self, filter: &CapabilityFilter, page: PageRequest) -> Result<Page<Capability>, StoreError> {
        let mut select = capabilities::Entity::find();
        if !filter.include_deleted {
            select = select.filter(capabilities::Column::DeletedAt.is_null());
        }
        if let Some(active) = filter.active {
            select = select.filter(capabilities::Column::IsActive.eq(active));
        }
        if let Some(domain) = filter.domain {
            select = select.filter(capabilities::Column::Domain.eq(domain.as_str()));
        }
        if let Some(text) = filter.text.as_deref().filter(|text| !text.is_empty()) {
            let pattern = || LikeExpr::new(like_pattern(text)).escape('\\');
            select = select.filter(
                Condition::any()
                    .add(capabilities::Column::Name.like(pattern()))
                    .add(Expr::expr(Func::lower(Expr::col(capabilities::Column::DisplayName))).like(pattern())),
            );
        }
        let rows = paginate(select, capabilities::Column::CreatedAt, capabilities::Column::Id, page)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        let items = rows.into_iter().map(to_domain).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(items, page.limit, |capability| Cursor {
            created_at: capability.created_at,
            id: capability.id.0,
        }))
    }

    async fn update(
        &self,
        id: CapabilityId,
        revise: Revise<'_, CapabilitySpec>,
        now: DateTime<Utc>,
    ) -> Result<Capability, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let row = capabilities::Entity::find_by_id(id.0)
                .filter(capabilities::Column::DeletedAt.is_null())
                .lock_exclusive()
                .one(&txn)
                .await
                .map_err(store_error)?
                .ok_or(StoreError::NotFound)?;
            let spec = revise(&to_domain(row.clone())?.spec).map_err(CatalogWriteError::Rejected)?;
            let mut row = row.into_active_model();
            write_spec(&mut row, &spec);
            row.updated_at = Set(now);
            Ok(to_domain(row.update(&txn).await.map_err(store_error)?)?)
        }
        .await;
        finish(txn, outcome).await
    }

    async fn set_deleted(
        &self,
        id: CapabilityId,
        deleted: bool,
        now: DateTime<Utc>,
    ) -> Result<Capability, CatalogWriteError> {
        let row = self.find(id).await?.ok_or(StoreError::NotFound)?;
        let mut row = row.into_active_model();
        row.deleted_at = Set(deleted.then_some(now));
        row.live_key = Set(if deleted { id.0.to_string() } else { String::new() });
        row.updated_at = Set(now);
        Ok(to_domain(row.update(&self.db).await.map_err(store_error)?)?)
    }
}
