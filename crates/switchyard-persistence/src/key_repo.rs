//! `UpstreamKeyRepo` on sea-orm: the suppliers' key pools in `upstream_keys`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    FromQueryResult, IntoActiveModel, QueryFilter, QueryOrder,
};
use switchyard_domain::StoreError;
use switchyard_domain::catalog::{
    CatalogWriteError, KeyFilter, KeySpec, KeyStatus, SealedKey, SupplierId, UpstreamKeyRecord, UpstreamKeyRepo,
};
use switchyard_domain::gateway::{KeyFlush, ports::KeyCallStats, ports::KeyStore, ports::LastError};
use switchyard_domain::kernel::page::{Cursor, Page, PageRequest};
use tracing::instrument;
use uuid::Uuid;

use crate::entity::{api_call_logs, suppliers, upstream_keys};
use crate::error::store_error;
use crate::page::paginate;
use crate::supplier_repo::{ACTIVE, ERROR, REMOVED};
use crate::transaction::{begin_write, finish};

#[derive(Debug, Clone)]
pub struct SqlUpstreamKeyRepo {
    db: DatabaseConnection,
}

impl SqlUpstreamKeyRepo {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

pub(crate) fn to_domain(row: upstream_keys::Model) -> Result<UpstreamKeyRecord, StoreError> {
    let status = KeyStatus::parse(&row.status).map_err(|error| StoreError::Other(error.to_string()))?;
    Ok(UpstreamKeyRecord {
        id: row.id,
        supplier_id: SupplierId(row.supplier_id),
        name: row.name,
        last4: row.last4,
        status,
        status_reason: row.status_reason,
        weight: row.weight,
        usage_count: row.usage_count,
        last_used_at: row.last_used_at,
        cooldown_until: row.cooldown_until,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The key, unless it is removed.
async fn live(db: &impl ConnectionTrait, id: Uuid) -> Result<upstream_keys::Model, CatalogWriteError> {
    upstream_keys::Entity::find_by_id(id)
        .filter(upstream_keys::Column::Status.ne(REMOVED))
        .one(db)
        .await
        .map_err(store_error)?
        .ok_or(CatalogWriteError::Missing("key"))
}

#[async_trait]
impl UpstreamKeyRepo for SqlUpstreamKeyRepo {
    #[instrument(skip_all, fields(supplier_id = %supplier.0))]
    async fn create(
        &self,
        id: Uuid,
        supplier: SupplierId,
        spec: &KeySpec,
        secret: &SealedKey,
        now: DateTime<Utc>,
    ) -> Result<UpstreamKeyRecord, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let live_supplier = suppliers::Entity::find_by_id(supplier.0)
                .filter(suppliers::Column::DeletedAt.is_null())
                .one(&txn)
                .await
                .map_err(store_error)?;
            if live_supplier.is_none() {
                return Err(CatalogWriteError::SupplierMissing { field: "supplier_id" });
            }
            let row = upstream_keys::ActiveModel {
                id: Set(id),
                supplier_id: Set(supplier.0),
                name: Set(spec.name.clone()),
                value: Set(secret.ciphertext.clone()),
                last4: Set(secret.last4.clone()),
                status: Set(spec.status.as_str().to_owned()),
                status_reason: Set(None),
                weight: Set(spec.weight),
                usage_count: Set(0),
                last_used_at: Set(None),
                cooldown_until: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            };
            upstream_keys::Entity::insert(row)
                .exec_without_returning(&txn)
                .await
                .map_err(store_error)?;
            Ok(to_domain(live(&txn, id).await?)?)
        }
        .await;
        finish(txn, outcome).await
    }

    async fn get(&self, id: Uuid) -> Result<Option<UpstreamKeyRecord>, StoreError> {
        upstream_keys::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(to_domain)
            .transpose()
    }

    async fn list(&self, filter: &KeyFilter, page: PageRequest) -> Result<Page<UpstreamKeyRecord>, StoreError> {
        let mut select = upstream_keys::Entity::find();
        if let Some(supplier) = filter.supplier {
            select = select.filter(upstream_keys::Column::SupplierId.eq(supplier.0));
        }
        if let Some(status) = filter.status {
            select = select.filter(upstream_keys::Column::Status.eq(status.as_str()));
        } else if !filter.include_removed {
            select = select.filter(upstream_keys::Column::Status.ne(REMOVED));
        }
        let rows = paginate(
            select,
            upstream_keys::Column::CreatedAt,
            upstream_keys::Column::Id,
            page,
        )
        .all(&self.db)
        .await
        .map_err(store_error)?;
        let keys = rows.into_iter().map(to_domain).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(keys, page.limit, |key: &UpstreamKeyRecord| Cursor {
            created_at: key.created_at,
            id: key.id,
        }))
    }

    #[instrument(skip_all, fields(key_id = %id))]
    async fn update(
        &self,
        id: Uuid,
        spec: &KeySpec,
        secret: Option<&SealedKey>,
        now: DateTime<Utc>,
    ) -> Result<UpstreamKeyRecord, CatalogWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let mut row = live(&txn, id).await?.into_active_model();
            row.name = Set(spec.name.clone());
            row.weight = Set(spec.weight);
            row.status = Set(spec.status.as_str().to_owned());
            // An operator's status replaces the health's, and its reason with it.
            row.status_reason = Set(None);
            row.cooldown_until = Set(None);
            if let Some(secret) = secret {
                row.value = Set(secret.ciphertext.clone());
                row.last4 = Set(secret.last4.clone());
            }
            row.updated_at = Set(now);
            let row = row.update(&txn).await.map_err(store_error)?;
            Ok(to_domain(row)?)
        }
        .await;
        finish(txn, outcome).await
    }

    #[instrument(skip_all, fields(key_id = %id))]
    async fn remove(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), CatalogWriteError> {
        let removed = upstream_keys::Entity::update_many()
            .col_expr(upstream_keys::Column::Status, Expr::value(REMOVED))
            .col_expr(upstream_keys::Column::Value, Expr::value(""))
            .col_expr(upstream_keys::Column::UpdatedAt, Expr::value(now))
            .filter(upstream_keys::Column::Id.eq(id))
            .filter(upstream_keys::Column::Status.ne(REMOVED))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        if removed.rows_affected == 0 {
            return Err(CatalogWriteError::Missing("key"));
        }
        Ok(())
    }
}

/// `SUM(column)` as a 64-bit integer on every backend (PostgreSQL sums `bigint` into `numeric`).
pub(crate) fn sum(backend: DbBackend, column: &str) -> SimpleExpr {
    let integer = if backend == DbBackend::MySql {
        "SIGNED"
    } else {
        "BIGINT"
    };
    Expr::cust(format!("CAST(COALESCE(SUM({column}), 0) AS {integer})"))
}

#[derive(Debug, FromQueryResult)]
struct Totals {
    requests: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    errors: i64,
}

#[async_trait]
impl KeyStore for SqlUpstreamKeyRepo {
    #[instrument(skip_all, fields(keys = flushes.len()), err)]
    async fn flush(&self, flushes: &[KeyFlush], configs_used: &[(Uuid, DateTime<Utc>)]) -> Result<(), StoreError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            for flush in flushes {
                write_flush(&txn, flush).await?;
            }
            crate::model_config_repo::configs_used(&txn, configs_used).await
        }
        .await;
        finish(txn, outcome).await
    }

    #[instrument(skip(self), err)]
    async fn call_stats(&self, key: Uuid) -> Result<KeyCallStats, StoreError> {
        let backend = self.db.get_database_backend();
        // From the upstream keys' rollups: they outlive the raw rows and are few.
        let mut select = sea_orm::sea_query::Query::select();
        select
            .expr_as(sum(backend, "requests"), sea_orm::sea_query::Alias::new("requests"))
            .expr_as(
                sum(backend, "prompt_tokens"),
                sea_orm::sea_query::Alias::new("prompt_tokens"),
            )
            .expr_as(
                sum(backend, "completion_tokens"),
                sea_orm::sea_query::Alias::new("completion_tokens"),
            )
            .expr_as(sum(backend, "errors"), sea_orm::sea_query::Alias::new("errors"))
            .from(sea_orm::sea_query::Alias::new(crate::usage_store::UPSTREAM))
            .and_where(sea_orm::sea_query::Expr::col(sea_orm::sea_query::Alias::new("upstream_key_id")).eq(key));
        let totals = match self.db.query_one(&select).await.map_err(store_error)? {
            Some(row) => Some(Totals {
                requests: row.try_get("", "requests").map_err(store_error)?,
                prompt_tokens: row.try_get("", "prompt_tokens").map_err(store_error)?,
                completion_tokens: row.try_get("", "completion_tokens").map_err(store_error)?,
                errors: row.try_get("", "errors").map_err(store_error)?,
            }),
            None => None,
        };
        let last = api_call_logs::Entity::find()
            .filter(api_call_logs::Column::UpstreamKeyId.eq(key))
            .filter(api_call_logs::Column::ErrorCode.is_not_null())
            .order_by_desc(api_call_logs::Column::CreatedAt)
            .one(&self.db)
            .await
            .map_err(store_error)?;
        let totals = totals.unwrap_or(Totals {
            requests: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            errors: 0,
        });
        Ok(KeyCallStats {
            requests: totals.requests,
            prompt_tokens: totals.prompt_tokens,
            completion_tokens: totals.completion_tokens,
            errors: totals.errors,
            last_error: last.map(|row| LastError {
                at: row.created_at,
                status_code: u16::try_from(row.status_code).unwrap_or(0),
                code: row.error_code,
                summary: row.error_summary,
            }),
        })
    }
}

/// One key's uses and state change.
async fn write_flush(db: &impl ConnectionTrait, flush: &KeyFlush) -> Result<(), StoreError> {
    let mut uses = upstream_keys::Entity::update_many()
        .col_expr(
            upstream_keys::Column::UsageCount,
            Expr::col(upstream_keys::Column::UsageCount).add(i64::try_from(flush.uses).unwrap_or(i64::MAX)),
        )
        .filter(upstream_keys::Column::Id.eq(flush.id))
        .filter(upstream_keys::Column::Status.ne(REMOVED));
    if let Some(at) = flush.last_used_at {
        uses = uses.col_expr(upstream_keys::Column::LastUsedAt, Expr::value(at));
    }
    uses.exec(db).await.map_err(store_error)?;
    if let Some(state) = &flush.state {
        upstream_keys::Entity::update_many()
            .col_expr(
                upstream_keys::Column::Status,
                Expr::value(if state.error { ERROR } else { ACTIVE }),
            )
            .col_expr(upstream_keys::Column::StatusReason, Expr::value(state.reason.clone()))
            .col_expr(upstream_keys::Column::CooldownUntil, Expr::value(state.cooldown_until))
            .filter(upstream_keys::Column::Id.eq(flush.id))
            .filter(upstream_keys::Column::Status.is_in([ACTIVE, ERROR]))
            .exec(db)
            .await
            .map_err(store_error)?;
    }
    Ok(())
}
