//! `RefreshTokenRepo` on sea-orm: single-use tokens, rotated in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect,
};
use switchyard_domain::StoreError;
use switchyard_domain::accounts::UserId;
use switchyard_domain::accounts::{NewRefreshToken, RefreshTokenRepo, Rotation};
use tracing::instrument;
use uuid::Uuid;

use crate::entity::refresh_tokens;
use crate::error::store_error;
use crate::transaction::{begin_write, finish};

#[derive(Debug, Clone)]
pub struct SqlRefreshTokenRepo {
    db: DatabaseConnection,
}

impl SqlRefreshTokenRepo {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn row(token: &NewRefreshToken) -> refresh_tokens::ActiveModel {
    refresh_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(token.user_id.0),
        family_id: Set(token.family_id),
        token_hash: Set(token.token_hash.clone()),
        created_at: Set(token.now),
        expires_at: Set(token.expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
    }
}

/// Revokes every live token of a family (one login's session).
async fn revoke_family_of(db: &impl ConnectionTrait, family_id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(Some(now)))
        .filter(refresh_tokens::Column::FamilyId.eq(family_id))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// The body of [`SqlRefreshTokenRepo::rotate`], inside its transaction.
async fn rotate_in(
    txn: &DatabaseTransaction,
    presented_hash: &str,
    successor_hash: &str,
    successor_expires_at: DateTime<Utc>,
    grace: Duration,
    now: DateTime<Utc>,
) -> Result<Rotation, StoreError> {
    let Some(presented) = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(presented_hash))
        .lock_exclusive()
        .one(txn)
        .await
        .map_err(store_error)?
    else {
        return Ok(Rotation::Invalid);
    };
    if presented.revoked_at.is_some() || presented.expires_at <= now {
        return Ok(Rotation::Invalid);
    }
    let user_id = UserId(presented.user_id);
    if let Some(used_at) = presented.used_at {
        if now - used_at <= grace {
            return Ok(Rotation::Retried { user_id });
        }
        // A spent token came back: someone holds a copy. End the whole session.
        revoke_family_of(txn, presented.family_id, now).await?;
        tracing::warn!(user_id = %user_id, "a spent refresh token was presented again; its session is revoked");
        return Ok(Rotation::Reused);
    }
    let spent = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::UsedAt, Expr::value(Some(now)))
        .filter(refresh_tokens::Column::Id.eq(presented.id))
        .filter(refresh_tokens::Column::UsedAt.is_null())
        .exec(txn)
        .await
        .map_err(store_error)?;
    if spent.rows_affected == 0 {
        // Another request spent it a moment ago: that is a retry.
        return Ok(Rotation::Retried { user_id });
    }
    refresh_tokens::Entity::insert(row(&NewRefreshToken {
        user_id,
        family_id: presented.family_id,
        token_hash: successor_hash.to_owned(),
        expires_at: successor_expires_at,
        now,
    }))
    .exec_without_returning(txn)
    .await
    .map_err(store_error)?;
    Ok(Rotation::Rotated { user_id })
}

#[async_trait]
impl RefreshTokenRepo for SqlRefreshTokenRepo {
    #[instrument(skip_all, fields(user_id = %token.user_id))]
    async fn insert(&self, token: &NewRefreshToken) -> Result<(), StoreError> {
        refresh_tokens::Entity::insert(row(token))
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn owner(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<UserId>, StoreError> {
        let owner: Option<Uuid> = refresh_tokens::Entity::find()
            .select_only()
            .column(refresh_tokens::Column::UserId)
            .filter(refresh_tokens::Column::TokenHash.eq(hash))
            .filter(refresh_tokens::Column::RevokedAt.is_null())
            .filter(refresh_tokens::Column::ExpiresAt.gt(now))
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(owner.map(UserId))
    }

    #[instrument(skip_all)]
    async fn rotate(
        &self,
        presented_hash: &str,
        successor_hash: &str,
        successor_expires_at: DateTime<Utc>,
        grace: Duration,
        now: DateTime<Utc>,
    ) -> Result<Rotation, StoreError> {
        let txn = begin_write(&self.db).await?;
        let outcome = rotate_in(&txn, presented_hash, successor_hash, successor_expires_at, grace, now).await;
        // Every outcome commits: a spent or revoked token's lock is released, a reuse's revocation kept.
        finish(txn, outcome).await
    }

    async fn revoke_family(&self, hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let Some(token) = refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::TokenHash.eq(hash))
            .one(&self.db)
            .await
            .map_err(store_error)?
        else {
            return Ok(false);
        };
        revoke_family_of(&self.db, token.family_id, now).await?;
        Ok(token.revoked_at.is_none())
    }
}
