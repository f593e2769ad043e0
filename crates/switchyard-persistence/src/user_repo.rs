//! `UserRepo` on sea-orm: users, their admin changes and the audit trail.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};
use switchyard_domain::StoreError;
use switchyard_domain::accounts::{Actor, AuditEvent};
use switchyard_domain::accounts::{AdminChange, UserFilter, UserRepo, UserWriteError};
use switchyard_domain::accounts::{Limits, NewUser, Role, User, UserId};
use switchyard_domain::kernel::page::{Cursor, Page, PageRequest};
use tracing::instrument;
use uuid::Uuid;

use crate::entity::{audit_events, refresh_tokens, users};
use crate::error::store_error;
use crate::limit_columns::LimitColumns;
use crate::page::{like_pattern, paginate};
use crate::transaction::{begin_write, finish};

#[derive(Debug, Clone)]
pub struct SqlUserRepo {
    db: DatabaseConnection,
}

impl SqlUserRepo {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn to_domain(row: users::Model) -> Result<User, StoreError> {
    let role = Role::parse(&row.role).map_err(|error| StoreError::Other(error.to_string()))?;
    let limits = LimitColumns {
        rpm: row.rpm_limit,
        tpm: row.tpm_limit,
        concurrency: None,
        budget_nanos: row.budget_nanos,
        budget_currency: row.budget_currency.clone(),
        budget_period: row.budget_period.clone(),
    }
    .limits(&format!("user {}", row.id))?;
    Ok(User {
        id: UserId(row.id),
        username: row.username,
        display_name: row.display_name,
        email: row.email,
        password_hash: row.password_hash,
        role,
        is_active: row.is_active,
        is_locked: row.is_locked,
        locked_reason: row.locked_reason,
        locked_until: row.locked_until,
        failed_login_attempts: row.failed_login_attempts,
        last_login_at: row.last_login_at,
        token_version: row.token_version,
        limits,
        created_at: row.created_at,
        updated_at: row.updated_at,
        deleted_at: row.deleted_at,
    })
}

async fn find_row(db: &impl ConnectionTrait, id: UserId) -> Result<users::Model, StoreError> {
    users::Entity::find_by_id(id.0)
        .one(db)
        .await
        .map_err(store_error)?
        .ok_or(StoreError::NotFound)
}

/// Revokes every live refresh token of a user (their sessions end).
async fn revoke_sessions(db: &impl ConnectionTrait, id: UserId, now: DateTime<Utc>) -> Result<(), StoreError> {
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now))
        .filter(refresh_tokens::Column::UserId.eq(id.0))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// Which of the users table's unique rules a write broke, by the constraint the database named.
fn user_write_error(error: DbErr) -> UserWriteError {
    match store_error(error) {
        StoreError::Conflict(constraint) if constraint == "users_username_lower_key" => UserWriteError::UsernameTaken,
        StoreError::Conflict(constraint) if constraint == "users_email_live_key" => UserWriteError::EmailTaken,
        other => UserWriteError::Store(other),
    }
}

/// Records an admin action in the audit trail (in the caller's transaction).
async fn audit(
    db: &impl ConnectionTrait,
    action: &str,
    target: UserId,
    actor: &Actor,
    details: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    audit_events::Entity::insert(audit_events::ActiveModel {
        id: Set(Uuid::now_v7()),
        actor_id: Set(actor.user_id.map(|id| id.0)),
        action: Set(action.to_owned()),
        target_type: Set("user".to_owned()),
        target_id: Set(Some(target.0)),
        request_id: Set(actor.request_id.clone()),
        details: Set(details.map(|details| details.chars().take(500).collect())),
        created_at: Set(now),
    })
    .exec_without_returning(db)
    .await
    .map_err(store_error)?;
    Ok(())
}

/// Whether a row is an admin who can act (what the last-admin guard protects).
fn is_active_admin(row: &users::Model) -> bool {
    row.role == Role::Admin.as_str()
        && row.is_active
        && row.deleted_at.is_none()
        && !(row.is_locked && row.locked_until.is_none())
}

/// The body of [`SqlUserRepo::admin_change`], inside its transaction.
async fn apply_admin_change(
    txn: &DatabaseTransaction,
    id: UserId,
    change: &AdminChange,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<users::Model, UserWriteError> {
    // Lock every active admin row in one order before looking at the target, so two admins
    // acting on each other at once queue instead of both seeing another admin left.
    let admins: Vec<users::Model> = users::Entity::find()
        .filter(users::Column::Role.eq(Role::Admin.as_str()))
        .filter(users::Column::IsActive.eq(true))
        .filter(users::Column::DeletedAt.is_null())
        .order_by_asc(users::Column::Id)
        .lock_exclusive()
        .all(txn)
        .await
        .map_err(store_error)?;
    let current = find_row(txn, id).await?;
    if change.removes_admin() && is_active_admin(&current) {
        let others = admins
            .iter()
            .filter(|row| row.id != current.id && is_active_admin(row))
            .count();
        if others == 0 {
            return Err(UserWriteError::LastAdmin);
        }
    }
    let mut row = current.clone().into_active_model();
    let mut end_sessions = false;
    let details = match change {
        AdminChange::Activate => {
            row.is_active = Set(true);
            None
        }
        AdminChange::Deactivate => {
            row.is_active = Set(false);
            end_sessions = true;
            None
        }
        AdminChange::Lock { reason } => {
            row.is_locked = Set(true);
            row.locked_until = Set(None);
            row.locked_reason = Set(Some(reason.clone().unwrap_or_else(|| "locked by an admin".to_owned())));
            end_sessions = true;
            reason.clone()
        }
        AdminChange::Unlock => {
            row.is_locked = Set(false);
            row.locked_until = Set(None);
            row.locked_reason = Set(None);
            row.failed_login_attempts = Set(0);
            None
        }
        AdminChange::SetRole(role) => {
            row.role = Set(role.as_str().to_owned());
            Some(format!("role {} -> {}", current.role, role.as_str()))
        }
        AdminChange::SetPassword { hash } => {
            row.password_hash = Set(hash.clone());
            row.failed_login_attempts = Set(0);
            end_sessions = true;
            None
        }
        AdminChange::Delete => {
            row.deleted_at = Set(Some(now));
            row.live_key = Set(current.id.to_string());
            end_sessions = true;
            None
        }
        AdminChange::Restore => {
            row.deleted_at = Set(None);
            row.live_key = Set(String::new());
            None
        }
    };
    if end_sessions {
        row.token_version = Set(current.token_version + 1);
        revoke_sessions(txn, id, now).await?;
    }
    row.updated_at = Set(now);
    let updated = row.update(txn).await.map_err(user_write_error)?;
    audit(txn, change.action(), id, actor, details, now).await?;
    Ok(updated)
}

#[async_trait]
impl UserRepo for SqlUserRepo {
    #[instrument(skip_all, fields(user_id = %user.id))]
    async fn create(&self, user: &NewUser, actor: Option<&Actor>) -> Result<User, UserWriteError> {
        let row = users::ActiveModel {
            id: Set(user.id.0),
            username: Set(user.username.as_str().to_owned()),
            username_lower: Set(user.username.canonical()),
            display_name: Set(user.display_name.as_str().to_owned()),
            email: Set(user.email.as_ref().map(|email| email.as_str().to_owned())),
            email_lower: Set(user.email.as_ref().map(|email| email.canonical())),
            live_key: Set(String::new()),
            password_hash: Set(user.password_hash.clone()),
            role: Set(user.role.as_str().to_owned()),
            is_active: Set(true),
            is_locked: Set(false),
            locked_reason: Set(None),
            locked_until: Set(None),
            failed_login_attempts: Set(0),
            last_login_at: Set(None),
            token_version: Set(0),
            created_at: Set(user.now),
            updated_at: Set(user.now),
            deleted_at: Set(None),
            // No limits: an admin sets them.
            ..Default::default()
        };
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            users::Entity::insert(row)
                .exec_without_returning(&txn)
                .await
                .map_err(user_write_error)?;
            if let Some(actor) = actor {
                audit(
                    &txn,
                    "user.create",
                    user.id,
                    actor,
                    Some(format!("role {}", user.role.as_str())),
                    user.now,
                )
                .await?;
            }
            Ok::<_, UserWriteError>(find_row(&txn, user.id).await?)
        }
        .await;
        Ok(to_domain(finish(txn, outcome).await?)?)
    }

    async fn find(&self, id: UserId) -> Result<Option<User>, StoreError> {
        users::Entity::find_by_id(id.0)
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(to_domain)
            .transpose()
    }

    async fn find_for_login(&self, identifier: &str) -> Result<Option<User>, StoreError> {
        let lower = identifier.to_lowercase();
        users::Entity::find()
            .filter(users::Column::DeletedAt.is_null())
            .filter(
                Condition::any()
                    .add(users::Column::UsernameLower.eq(lower.clone()))
                    .add(users::Column::EmailLower.eq(lower)),
            )
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(to_domain)
            .transpose()
    }

    #[instrument(skip_all, fields(user_id = %id))]
    async fn record_failed_login(
        &self,
        id: UserId,
        max_failures: i64,
        lock_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            users::Entity::update_many()
                .col_expr(
                    users::Column::FailedLoginAttempts,
                    Expr::col(users::Column::FailedLoginAttempts).add(1),
                )
                .col_expr(users::Column::UpdatedAt, Expr::value(now))
                .filter(users::Column::Id.eq(id.0))
                .exec(&txn)
                .await
                .map_err(store_error)?;
            // At the limit: lock for a while and start counting again (an admin lock is left alone).
            users::Entity::update_many()
                .col_expr(users::Column::IsLocked, Expr::value(true))
                .col_expr(users::Column::LockedUntil, Expr::value(Some(lock_until)))
                .col_expr(
                    users::Column::LockedReason,
                    Expr::value(Some("too many failed logins".to_owned())),
                )
                .col_expr(users::Column::FailedLoginAttempts, Expr::value(0i64))
                .filter(users::Column::Id.eq(id.0))
                .filter(users::Column::FailedLoginAttempts.gte(max_failures))
                .filter(
                    Condition::any()
                        .add(users::Column::IsLocked.eq(false))
                        .add(users::Column::LockedUntil.is_not_null()),
                )
                .exec(&txn)
                .await
                .map_err(store_error)?;
            Ok(())
        }
        .await;
        finish(txn, outcome).await
    }

    async fn record_login(&self, id: UserId, now: DateTime<Utc>) -> Result<(), StoreError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            users::Entity::update_many()
                .col_expr(users::Column::FailedLoginAttempts, Expr::value(0i64))
                .col_expr(users::Column::LastLoginAt, Expr::value(Some(now)))
                .col_expr(users::Column::UpdatedAt, Expr::value(now))
                .filter(users::Column::Id.eq(id.0))
                .exec(&txn)
                .await
                .map_err(store_error)?;
            // An expired lock lifts itself.
            users::Entity::update_many()
                .col_expr(users::Column::IsLocked, Expr::value(false))
                .col_expr(users::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
                .col_expr(users::Column::LockedReason, Expr::value(Option::<String>::None))
                .filter(users::Column::Id.eq(id.0))
                .filter(users::Column::IsLocked.eq(true))
                .filter(users::Column::LockedUntil.lte(now))
                .exec(&txn)
                .await
                .map_err(store_error)?;
            Ok(())
        }
        .await;
        finish(txn, outcome).await
    }

    async fn update_profile(
        &self,
        id: UserId,
        display_name: Option<String>,
        email: Option<Option<String>>,
        now: DateTime<Utc>,
    ) -> Result<User, UserWriteError> {
        let mut row = find_row(&self.db, id).await?.into_active_model();
        if let Some(display_name) = display_name {
            row.display_name = Set(display_name);
        }
        if let Some(email) = email {
            row.email_lower = Set(email.as_ref().map(|email| email.to_lowercase()));
            row.email = Set(email);
        }
        row.updated_at = Set(now);
        Ok(to_domain(row.update(&self.db).await.map_err(user_write_error)?)?)
    }

    #[instrument(skip_all, fields(user_id = %id))]
    async fn change_password(&self, id: UserId, hash: &str, now: DateTime<Utc>) -> Result<User, StoreError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let current = find_row(&txn, id).await?;
            let mut row = current.clone().into_active_model();
            row.password_hash = Set(hash.to_owned());
            row.token_version = Set(current.token_version + 1);
            row.updated_at = Set(now);
            let updated = row.update(&txn).await.map_err(store_error)?;
            revoke_sessions(&txn, id, now).await?;
            Ok(updated)
        }
        .await;
        to_domain(finish(txn, outcome).await?)
    }

    #[instrument(skip_all, fields(user_id = %id, action = change.action()))]
    async fn admin_change(
        &self,
        id: UserId,
        change: &AdminChange,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<User, UserWriteError> {
        let txn = begin_write(&self.db).await?;
        let outcome = apply_admin_change(&txn, id, change, actor, now).await;
        Ok(to_domain(finish(txn, outcome).await?)?)
    }

    #[instrument(skip(self, limits), err)]
    async fn set_limits(&self, id: UserId, limits: &Limits, now: DateTime<Utc>) -> Result<Option<User>, StoreError> {
        let Some(row) = users::Entity::find_by_id(id.0)
            .filter(users::Column::DeletedAt.is_null())
            .one(&self.db)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let columns = LimitColumns::of(limits);
        let mut row = row.into_active_model();
        row.rpm_limit = Set(columns.rpm);
        row.tpm_limit = Set(columns.tpm);
        row.budget_nanos = Set(columns.budget_nanos);
        row.budget_currency = Set(columns.budget_currency);
        row.budget_period = Set(columns.budget_period);
        row.updated_at = Set(now);
        to_domain(row.update(&self.db).await.map_err(store_error)?).map(Some)
    }

    async fn list(&self, filter: &UserFilter, page: PageRequest) -> Result<Page<User>, StoreError> {
        let mut select = users::Entity::find();
        if !filter.include_deleted {
            select = select.filter(users::Column::DeletedAt.is_null());
        }
        if let Some(role) = filter.role {
            select = select.filter(users::Column::Role.eq(role.as_str()));
        }
        if let Some(active) = filter.active {
            select = select.filter(users::Column::IsActive.eq(active));
        }
        if let Some(locked) = filter.locked {
            select = select.filter(users::Column::IsLocked.eq(locked));
        }
        if let Some(text) = filter.text.as_deref().filter(|text| !text.is_empty()) {
            let pattern = || LikeExpr::new(like_pattern(text)).escape('\\');
            select = select.filter(
                Condition::any()
                    .add(users::Column::UsernameLower.like(pattern()))
                    .add(users::Column::EmailLower.like(pattern()))
                    .add(Expr::expr(Func::lower(Expr::col(users::Column::DisplayName))).like(pattern())),
            );
        }
        let rows = paginate(select, users::Column::CreatedAt, users::Column::Id, page)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        let users = rows.into_iter().map(to_domain).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(users, page.limit, |user| Cursor {
            created_at: user.created_at,
            id: user.id.0,
        }))
    }

    async fn changed_since(&self, since: DateTime<Utc>) -> Result<Vec<UserId>, StoreError> {
        let ids: Vec<Uuid> = users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .filter(users::Column::UpdatedAt.gte(since))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(store_error)?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn audit_events(&self, page: PageRequest) -> Result<Page<AuditEvent>, StoreError> {
        let rows = paginate(
            audit_events::Entity::find(),
            audit_events::Column::CreatedAt,
            audit_events::Column::Id,
            page,
        )
        .all(&self.db)
        .await
        .map_err(store_error)?;
        let events = rows
            .into_iter()
            .map(|row| AuditEvent {
                id: row.id,
                actor_id: row.actor_id.map(UserId),
                action: row.action,
                target_type: row.target_type,
                target_id: row.target_id,
                request_id: row.request_id,
                details: row.details,
                created_at: row.created_at,
            })
            .collect();
        Ok(Page::from_rows(events, page.limit, |event| Cursor {
            created_at: event.created_at,
            id: event.id,
        }))
    }
}
