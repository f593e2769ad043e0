//! `ModelConfigRepo` on sea-orm: users' own model configs in `user_model_configs`, every query
//! scoped to the owner.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    QueryFilter,
};
use switchyard_domain::StoreError;
use switchyard_domain::catalog::ModelId;
use switchyard_domain::gateway::byok::{
    ConfigWriteError, ModelConfig, ModelConfigRepo, ModelConfigSpec, SealedUserKey, StoredModelConfig,
};
use switchyard_domain::kernel::ids::UserId;
use switchyard_domain::kernel::page::{Cursor, Page, PageRequest};
use tracing::instrument;
use uuid::Uuid;

use crate::entity::{models, user_model_configs};
use crate::error::store_error;
use crate::page::paginate;
use crate::transaction::{begin_write, finish};

#[derive(Debug, Clone)]
pub struct SqlModelConfigRepo {
    db: DatabaseConnection,
}

impl SqlModelConfigRepo {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn to_domain(row: user_model_configs::Model) -> ModelConfig {
    ModelConfig {
        id: row.id,
        user_id: UserId(row.user_id),
        model_id: ModelId(row.model_id),
        spec: ModelConfigSpec {
            model_id: ModelId(row.model_id),
            is_enabled: row.is_enabled,
            custom_endpoint: row.custom_endpoint,
            max_tokens: row.max_tokens,
            temperature: row.temperature,
            priority: row.priority,
        },
        key_last4: row.api_key_last4,
        last_used_at: row.last_used_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// An enabled config, for the routing snapshot.
pub(crate) fn stored(row: user_model_configs::Model) -> StoredModelConfig {
    StoredModelConfig {
        id: row.id,
        user_id: UserId(row.user_id),
        model_id: ModelId(row.model_id),
        ciphertext: row.api_key,
        custom_endpoint: row.custom_endpoint,
        max_tokens: row.max_tokens,
        temperature: row.temperature,
        priority: row.priority,
    }
}

fn write(row: &mut user_model_configs::ActiveModel, spec: &ModelConfigSpec) {
    row.model_id = Set(spec.model_id.0);
    row.is_enabled = Set(spec.is_enabled);
    row.custom_endpoint = Set(spec.custom_endpoint.clone());
    row.max_tokens = Set(spec.max_tokens);
    row.temperature = Set(spec.temperature);
    row.priority = Set(spec.priority);
}

/// Whether the model is live (not deleted).
async fn live_model(db: &impl sea_orm::ConnectionTrait, id: ModelId) -> Result<(), ConfigWriteError> {
    models::Entity::find_by_id(id.0)
        .filter(models::Column::DeletedAt.is_null())
        .one(db)
        .await
        .map_err(store_error)?
        .map(|_| ())
        .ok_or(ConfigWriteError::ModelMissing)
}

fn owned(owner: UserId, id: Uuid) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(user_model_configs::Column::Id.eq(id))
        .add(user_model_configs::Column::UserId.eq(owner.0))
}

#[async_trait]
impl ModelConfigRepo for SqlModelConfigRepo {
    #[instrument(skip_all, fields(user_id = %owner.0))]
    async fn create(
        &self,
        id: Uuid,
        owner: UserId,
        spec: &ModelConfigSpec,
        key: &SealedUserKey,
        now: DateTime<Utc>,
    ) -> Result<ModelConfig, ConfigWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            live_model(&txn, spec.model_id).await?;
            let mut row = user_model_configs::ActiveModel {
                id: Set(id),
                user_id: Set(owner.0),
                api_key: Set(key.ciphertext.clone()),
                api_key_last4: Set(key.last4.clone()),
                last_used_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            };
            write(&mut row, spec);
            let row = row.insert(&txn).await.map_err(store_error)?;
            Ok(to_domain(row))
        }
        .await;
        finish(txn, outcome).await
    }

    async fn get(&self, owner: UserId, id: Uuid) -> Result<Option<ModelConfig>, StoreError> {
        Ok(user_model_configs::Entity::find()
            .filter(owned(owner, id))
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(to_domain))
    }

    async fn list(&self, owner: UserId, page: PageRequest) -> Result<Page<ModelConfig>, StoreError> {
        let select = user_model_configs::Entity::find().filter(user_model_configs::Column::UserId.eq(owner.0));
        let rows = paginate(
            select,
            user_model_configs::Column::CreatedAt,
            user_model_configs::Column::Id,
            page,
        )
        .all(&self.db)
        .await
        .map_err(store_error)?;
        let configs = rows.into_iter().map(to_domain).collect();
        Ok(Page::from_rows(configs, page.limit, |config: &ModelConfig| Cursor {
            created_at: config.created_at,
            id: config.id,
        }))
    }

    #[instrument(skip_all, fields(user_id = %owner.0, config_id = %id))]
    async fn update(
        &self,
        owner: UserId,
        id: Uuid,
        spec: &ModelConfigSpec,
        key: Option<&SealedUserKey>,
        now: DateTime<Utc>,
    ) -> Result<ModelConfig, ConfigWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let row = user_model_configs::Entity::find()
                .filter(owned(owner, id))
                .one(&txn)
                .await
                .map_err(store_error)?
                .ok_or(ConfigWriteError::Missing)?;
            live_model(&txn, spec.model_id).await?;
            let mut row = row.into_active_model();
            write(&mut row, spec);
            if let Some(key) = key {
                row.api_key = Set(key.ciphertext.clone());
                row.api_key_last4 = Set(key.last4.clone());
            }
            row.updated_at = Set(now);
            let row = row.update(&txn).await.map_err(store_error)?;
            Ok(to_domain(row))
        }
        .await;
        finish(txn, outcome).await
    }

    #[instrument(skip_all, fields(user_id = %owner.0, config_id = %id))]
    async fn delete(&self, owner: UserId, id: Uuid) -> Result<(), ConfigWriteError> {
        let deleted = user_model_configs::Entity::delete_many()
            .filter(owned(owner, id))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        if deleted.rows_affected == 0 {
            return Err(ConfigWriteError::Missing);
        }
        Ok(())
    }
}

/// Moves configs' last use forward (never back).
pub(crate) async fn configs_used(db: &impl ConnectionTrait, used: &[(Uuid, DateTime<Utc>)]) -> Result<(), StoreError> {
    for (id, at) in used {
        user_model_configs::Entity::update_many()
            .col_expr(user_model_configs::Column::LastUsedAt, Expr::value(*at))
            .filter(user_model_configs::Column::Id.eq(*id))
            .filter(
                sea_orm::Condition::any()
                    .add(user_model_configs::Column::LastUsedAt.is_null())
                    .add(user_model_configs::Column::LastUsedAt.lt(*at)),
            )
            .exec(db)
            .await
            .map_err(store_error)?;
    }
    Ok(())
}
