//! `ApiKeyRepo` on sea-orm.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect,
};
use switchyard_domain::StoreError;
use switchyard_domain::accounts::UserId;
use switchyard_domain::accounts::{ApiKey, ApiKeyId, Limits};
use switchyard_domain::accounts::{ApiKeyRepo, NewApiKey};
use switchyard_domain::kernel::page::{Cursor, Page, PageRequest};
use tracing::instrument;

use crate::entity::api_keys;
use crate::error::store_error;
use crate::limit_columns::LimitColumns;
use crate::page::paginate;

#[derive(Debug, Clone)]
pub struct SqlApiKeyRepo {
    db: DatabaseConnection,
}

impl SqlApiKeyRepo {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    async fn live_row(&self, user_id: UserId, id: ApiKeyId) -> Result<Option<api_keys::Model>, StoreError> {
        api_keys::Entity::find_by_id(id.0)
            .filter(api_keys::Column::UserId.eq(user_id.0))
            .filter(api_keys::Column::DeletedAt.is_null())
            .one(&self.db)
            .await
            .map_err(store_error)
    }
}

fn to_domain(row: api_keys::Model) -> Result<ApiKey, StoreError> {
    let allowed_models: Vec<String> = serde_json::from_str(&row.allowed_models)
        .map_err(|error| StoreError::Other(format!("api_keys.allowed_models of {}: {error}", row.id)))?;
    let limits = LimitColumns {
        rpm: row.rpm_limit,
        tpm: row.tpm_limit,
        concurrency: row.concurrency_limit,
        budget_nanos: row.budget_nanos,
        budget_currency: row.budget_currency.clone(),
        budget_period: row.budget_period.clone(),
    }
    .limits(&format!("api key {}", row.id))?;
    Ok(ApiKey {
        id: ApiKeyId(row.id),
        user_id: UserId(row.user_id),
        name: row.name,
        prefix: row.prefix,
        key_hash: row.key_hash,
        allowed_models,
        limits,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        last_used_at: row.last_used_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        deleted_at: row.deleted_at,
    })
}

#[async_trait]
impl ApiKeyRepo for SqlApiKeyRepo {
    #[instrument(skip_all, fields(user_id = %key.user_id))]
    async fn create(&self, key: &NewApiKey) -> Result<ApiKey, StoreError> {
        let models =
            serde_json::to_string(&key.allowed_models).map_err(|error| StoreError::Other(error.to_string()))?;
        let row = api_keys::ActiveModel {
            id: Set(key.id.0),
            user_id: Set(key.user_id.0),
            name: Set(key.name.clone()),
            prefix: Set(key.prefix.clone()),
            key_hash: Set(key.key_hash.clone()),
            allowed_models: Set(models),
            expires_at: Set(key.expires_at),
            revoked_at: Set(None),
            last_used_at: Set(None),
            created_at: Set(key.now),
            updated_at: Set(key.now),
            deleted_at: Set(None),
            ..Default::default()
        };
        api_keys::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        self.live_row(key.user_id, key.id)
            .await?
            .ok_or(StoreError::NotFound)
            .and_then(to_domain)
    }

    async fn list(&self, user_id: UserId, page: PageRequest) -> Result<Page<ApiKey>, StoreError> {
        let select = api_keys::Entity::find()
            .filter(api_keys::Column::UserId.eq(user_id.0))
            .filter(api_keys::Column::DeletedAt.is_null());
        let rows = paginate(select, api_keys::Column::CreatedAt, api_keys::Column::Id, page)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        let keys = rows.into_iter().map(to_domain).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(keys, page.limit, |key| Cursor {
            created_at: key.created_at,
            id: key.id.0,
        }))
    }

    async fn get(&self, user_id: UserId, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        self.live_row(user_id, id).await?.map(to_domain).transpose()
    }

    async fn revoke(&self, user_id: UserId, id: ApiKeyId, now: DateTime<Utc>) -> Result<Option<ApiKey>, StoreError> {
        let Some(row) = self.live_row(user_id, id).await? else {
            return Ok(None);
        };
        if row.revoked_at.is_some() {
            return to_domain(row).map(Some);
        }
        let mut row = row.into_active_model();
        row.revoked_at = Set(Some(now));
        row.updated_at = Set(now);
        to_domain(row.update(&self.db).await.map_err(store_error)?).map(Some)
    }

    async fn set_limits(
        &self,
        user_id: UserId,
        id: ApiKeyId,
        limits: &Limits,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiKey>, StoreError> {
        let Some(row) = self.live_row(user_id, id).await? else {
            return Ok(None);
        };
        let columns = LimitColumns::of(limits);
        let mut row = row.into_active_model();
        row.rpm_limit = Set(columns.rpm);
        row.tpm_limit = Set(columns.tpm);
        row.concurrency_limit = Set(columns.concurrency);
        row.budget_nanos = Set(columns.budget_nanos);
        row.budget_currency = Set(columns.budget_currency);
        row.budget_period = Set(columns.budget_period);
        row.updated_at = Set(now);
        to_domain(row.update(&self.db).await.map_err(store_error)?).map(Some)
    }

    async fn delete(&self, user_id: UserId, id: ApiKeyId, now: DateTime<Utc>) -> Result<Option<ApiKey>, StoreError> {
        let Some(row) = self.live_row(user_id, id).await? else {
            return Ok(None);
        };
        let mut row = row.into_active_model();
        row.deleted_at = Set(Some(now));
        row.updated_at = Set(now);
        to_domain(row.update(&self.db).await.map_err(store_error)?).map(Some)
    }

    async fn find_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        api_keys::Entity::find()
            .filter(api_keys::Column::KeyHash.eq(hash))
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(to_domain)
            .transpose()
    }

    async fn changed_since(&self, since: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        api_keys::Entity::find()
            .select_only()
            .column(api_keys::Column::KeyHash)
            .filter(api_keys::Column::UpdatedAt.gte(since))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(store_error)
    }
}
