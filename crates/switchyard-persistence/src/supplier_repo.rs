//! `SupplierRepo` on sea-orm, with the supplier's key in `upstream_keys`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};
use switchyard_domain::StoreError;
use switchyard_domain::catalog::{CatalogWriteError, SupplierFilter, SupplierRepo};
use switchyard_domain::catalog::{KeyChange, Protocol, Supplier, SupplierId, SupplierSpec};
use switchyard_domain::kernel::page::{Cursor, Page, PageRequest};
use switchyard_domain::kernel::patch::Revise;
use tracing::instrument;
use uuid::Uuid;

use crate::entity::{suppliers, upstream_keys};
use crate::error::store_error;
use crate::page::{like_pattern, paginate};
use crate::transaction::{begin_write, finish};

pub(crate) const ACTIVE: &str = "active";
pub(crate) const REMOVED: &str = "removed";
pub(crate) const ERROR: &str = "error";
/// The name of the key a supplier's own `api_key` field sets.
pub(crate) const DEFAULT_KEY: &str = switchyard_domain::catalog::SUPPLIER_KEY_NAME;

#[derive(Debug, Clone)]
pub struct SqlSupplierRepo {
    db: DatabaseConnection,
}

impl SqlSupplierRepo {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

pub(crate) fn to_domain(row: suppliers::Model, key_last4: Option<String>) -> Result<Supplier, StoreError> {
    let protocol = Protocol::parse(&row.protocol).map_err(|error| StoreError::Other(error.to_string()))?;
    Ok(Supplier {
        id: SupplierId(row.id),
        spec: SupplierSpec {
            name: row.name,
            display_name: row.display_name,
            description: row.description,
            protocol,
            base_url: row.base_url,
            api_key_required: row.api_key_required,
            website: row.website,
            api_docs: row.api_docs,
            category: row.category,
            logo: row.logo,
            is_active: row.is_active,
        },
        key_last4,
        created_at: row.created_at,
        updated_at: row.updated_at,
        deleted_at: row.deleted_at,
    })
}

pub(crate) fn write_spec(row: &mut suppliers::ActiveModel, spec: &SupplierSpec) {
    row.name = Set(spec.name.clone());
    row.display_name = Set(spec.display_name.clone());
    row.description = Set(spec.description.clone());
    row.protocol = Set(spec.protocol.as_str().to_owned());
    row.base_url = Set(spec.base_url.clone());
    row.api_key_required = Set(spec.api_key_required);
    row.website = Set(spec.website.clone());
    row.api_docs = Set(spec.api_docs.clone());
    row.category = Set(spec.category.clone());
    row.logo = Set(spec.logo.clone());
    row.is_active = Set(spec.is_active);
}

/// The suppliers' own keys (their pools' `default` keys that are not removed), newest first.
async fn default_keys(db: &impl ConnectionTrait, ids: Vec<Uuid>) -> Result<Vec<upstream_keys::Model>, StoreError> {
    upstream_keys::Entity::find()
        .filter(upstream_keys::Column::SupplierId.is_in(ids))
        .filter(upstream_keys::Column::Name.eq(DEFAULT_KEY))
        .filter(upstream_keys::Column::Status.ne(REMOVED))
        .order_by_desc(upstream_keys::Column::CreatedAt)
        .all(db)
        .await
        .map_err(store_error)
}

/// Rows with their key's last four characters, in two queries whatever the number of rows.
async fn with_keys(db: &impl ConnectionTrait, rows: Vec<suppliers::Model>) -> Result<Vec<Supplier>, StoreError> {
    let keys = default_keys(db, rows.iter().map(|row| row.id).collect()).await?;
    rows.into_iter()
        .map(|row| {
            let last4 = keys
                .iter()
                .find(|key| key.supplier_id == row.id)
                .map(|key| key.last4.clone());
            to_domain(row, last4)
        })
        .collect()
}

/// Applies a change of the supplier's own key (its pool's key named `default`) inside a
/// transaction: the old one is emptied and marked removed (the row stays, for the call logs
/// that name it); a new one gets a new row. The pool's other keys are left alone.
async fn apply_key(
    db: &impl ConnectionTrait,
    id: SupplierId,
    key: &KeyChange,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if matches!(key, KeyChange::Keep) {
        return Ok(());
    }
    upstream_keys::Entity::update_many()
        .col_expr(upstream_keys::Column::Status, Expr::value(REMOVED))
        .col_expr(upstream_keys::Column::Value, Expr::value(""))
        .col_expr(upstream_keys::Column::UpdatedAt, Expr::value(now))
        .filter(upstream_keys::Column::SupplierId.eq(id.0))
        .filter(upstream_keys::Column::Name.eq(DEFAULT_KEY))
        .filter(upstream_keys::Column::Status.ne(REMOVED))
        .exec(db)
        .await
        .map_err(store_error)?;
    if let KeyChange::Set {
        key_id,
        ciphertext,
        last4,
    } = key
    {
        upstream_keys::Entity::insert(upstream_keys::ActiveModel {
            id: Set(*key_id),
            supplier_id: Set(id.0),
            name: Set(DEFAULT_KEY.to_owned()),
            value: Set(ciphertext.clone()),
            last4: Set(last4.clone()),
            status: Set(ACTIVE.to_owned()),
            status_reason: Set(None),
            weight: Set(1),
            usage_count: Set(0),
            last_used_at: Set(None),
            cooldown_until: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_without_returning(db)
        .await
        .map_err(store_error)?;
    }
    Ok(())
}

async fn find(db: &impl ConnectionTrait, id: SupplierId) -> Result<Option<Supplier>, StoreError> {
    let Some(row) = suppliers::Entity::find_by_id(id.0).one(db).await.map_err(store_error)? else {
        return Ok(None);
    };
    Ok(with_keys(db, vec![row]).await?.pop())
}

#[async_trait]
impl SupplierRepo for SqlSupplierRepo {
    #[instrument(skip_all, fields(supplier = %spec.name))]
    async fn create(
        &self,
        id: SupplierId,
        spec: &SupplierSpec,
        key: &KeyChange,
        now: DateTime<Utc>,
    ) -> Result<Supplier, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let mut row = suppliers::ActiveModel {
                id: Set(id.0),
                live_key: Set(String::new()),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
                ..Default::default()
            };
            write_spec(&mut row, spec);
            suppliers::Entity::insert(row)
                .exec_without_returning(&txn)
                .await
                .map_err(store_error)?;
            apply_key(&txn, id, key, now).await?;
            Ok(find(&txn, id).await?.ok_or(StoreError::NotFound)?)
        }
        .await;
        finish(txn, outcome).await
    }

    async fn get(&self, id: SupplierId) -> Result<Option<Supplier>, StoreError> {
        find(&self.db, id).await
    }

    async fn list(&self, filter: &SupplierFilter, page: PageRequest) -> Result<Page<Supplier>, StoreError> {
        let mut select = suppliers::Entity::find();
        if !filter.include_deleted {
            select = select.filter(suppliers::Column::DeletedAt.is_null());
        }
        if let Some(active) = filter.active {
            select = select.filter(suppliers::Column::IsActive.eq(active));
        }
        if let Some(protocol) = filter.protocol {
            select = select.filter(suppliers::Column::Protocol.eq(protocol.as_str()));
        }
        if let Some(category) = &filter.category {
            select = select.filter(suppliers::Column::Category.eq(category.clone()));
        }
        if let Some(text) = filter.text.as_deref().filter(|text| !text.is_empty()) {
            let pattern = || LikeExpr::new(like_pattern(text)).escape('\\');
            select = select.filter(
                Condition::any()
                    .add(suppliers::Column::Name.like(pattern()))
                    .add(Expr::expr(Func::lower(Expr::col(suppliers::Column::DisplayName))).like(pattern())),
            );
        }
        let rows = paginate(select, suppliers::Column::CreatedAt, suppliers::Column::Id, page)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        let suppliers = with_keys(&self.db, rows).await?;
        Ok(Page::from_rows(suppliers, page.limit, |supplier| Cursor {
            created_at: supplier.created_at,
            id: supplier.id.0,
        }))
    }

    #[instrument(skip_all, fields(supplier_id = %id.0))]
    async fn update(
        &self,
        id: SupplierId,
        revise: Revise<'_, SupplierSpec>,
        key: &KeyChange,
        now: DateTime<Utc>,
    ) -> Result<Supplier, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let row = suppliers::Entity::find_by_id(id.0)
                .filter(suppliers::Column::DeletedAt.is_null())
                .lock_exclusive()
                .one(&txn)
                .await
                .map_err(store_error)?
                .ok_or(StoreError::NotFound)?;
            let spec = revise(&to_domain(row.clone(), None)?.spec).map_err(CatalogWriteError::Rejected)?;
            let mut row = row.into_active_model();
            write_spec(&mut row, &spec);
            row.updated_at = Set(now);
            row.update(&txn).await.map_err(store_error)?;
            apply_key(&txn, id, key, now).await?;
            Ok(find(&txn, id).await?.ok_or(StoreError::NotFound)?)
        }
        .await;
        finish(txn, outcome).await
    }

    async fn set_deleted(
        &self,
        id: SupplierId,
        deleted: bool,
        now: DateTime<Utc>,
    ) -> Result<Supplier, CatalogWriteError> {
        let row = suppliers::Entity::find_by_id(id.0)
            .one(&self.db)
            .await
            .map_err(store_error)?
            .ok_or(StoreError::NotFound)?;
        let mut row = row.into_active_model();
        row.deleted_at = Set(deleted.then_some(now));
        row.live_key = Set(if deleted { id.0.to_string() } else { String::new() });
        row.updated_at = Set(now);
        row.update(&self.db).await.map_err(store_error)?;
        Ok(find(&self.db, id).await?.ok_or(StoreError::NotFound)?)
    }

    async fn key_ciphertext(&self, id: SupplierId) -> Result<Option<(Uuid, String)>, StoreError> {
        Ok(default_keys(&self.db, vec![id.0])
            .await?
            .into_iter()
            .next()
            .map(|key| (key.id, key.value)))
    }
}
