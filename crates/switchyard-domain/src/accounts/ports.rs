//! The ports of accounts: the stores of users (with the audit trail of admin changes), refresh
//! tokens and gateway API keys (each method that must be atomic owns its transaction), password
//! hashing, and the limiter of attempts on credentials.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::accounts::api_key::{ApiKey, ApiKeyId};
use crate::accounts::audit::{Actor, AuditEvent};
use crate::accounts::limits::Limits;
use crate::accounts::password::Password;
use crate::accounts::user::{NewUser, User};
use crate::kernel::error::{DomainError, StoreError};
use crate::kernel::ids::UserId;
use crate::kernel::named::named_enum;
use crate::kernel::page::{Page, PageRequest};
use crate::kernel::principal::Role;

/// Filters of the admin user list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Matches username, display name or email (case-insensitive substring).
    pub text: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    pub locked: Option<bool>,
    pub include_deleted: bool,
}

/// An admin's change to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminChange {
    Activate,
    Deactivate,
    Lock { reason: Option<String> },
    Unlock,
    SetRole(Role),
    SetPassword { hash: String },
    Delete,
    Restore,
}

impl AdminChange {
    /// The audit action name.
    pub fn action(&self) -> &'static str {
        match self {
            Self::Activate => "user.activate",
            Self::Deactivate => "user.deactivate",
            Self::Lock { .. } => "user.lock",
            Self::Unlock => "user.unlock",
            Self::SetRole(_) => "user.role_change",
            Self::SetPassword { .. } => "user.password_reset",
            Self::Delete => "user.delete",
            Self::Restore => "user.restore",
        }
    }

    /// Whether, applied to an active admin, the change leaves them no longer an active admin.
    pub fn removes_admin(&self) -> bool {
        matches!(
            self,
            Self::Deactivate | Self::Lock { .. } | Self::SetRole(Role::User) | Self::Delete
        )
    }
}

/// Why the user store refused a write. Which unique rule a duplicate broke is read from the
/// constraint the database names, never from its message (which holds the duplicate value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserWriteError {
    #[error("the username is taken")]
    UsernameTaken,
    #[error("another live account has the email address")]
    EmailTaken,
    #[error("the change would leave no active admin")]
    LastAdmin,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait UserRepo: Send + Sync + std::fmt::Debug {
    /// Inserts a user, and with `audit` an audit event of its creation, in one transaction.
    async fn create(&self, user: &NewUser, audit: Option<&Actor>) -> Result<User, UserWriteError>;

    /// The user with this id, deleted ones included.
    async fn find(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// The live user whose username or email is `identifier` (case-insensitive).
    async fn find_for_login(&self, identifier: &str) -> Result<Option<User>, StoreError>;

    /// Counts a failed login (`n = n + 1`) and, at `max_failures`, locks until `lock_until`.
    async fn record_failed_login(
        &self,
        id: UserId,
        max_failures: i64,
        lock_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records a successful login: resets the failure count, lifts an expired lock.
    async fn record_login(&self, id: UserId, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Changes a user's own display name and email (`None` = keep; `Some(None)` = clear the email).
    async fn update_profile(
        &self,
        id: UserId,
        display_name: Option<String>,
        email: Option<Option<String>>,
        now: DateTime<Utc>,
    ) -> Result<User, UserWriteError>;

    /// Sets a new password hash, bumps the token version and revokes every refresh token of the
    /// user, in one transaction.
    async fn change_password(&self, id: UserId, hash: &str, now: DateTime<Utc>) -> Result<User, StoreError>;

    /// Applies an admin change and records it in the audit trail, in one transaction that
    /// refuses to leave no active admin, even when two admins act at once. Changes that end a
    /// user's sessions (deactivate, lock, role, password, delete) bump the token version and
    /// revoke the user's refresh tokens.
    async fn admin_change(
        &self,
        id: UserId,
        change: &AdminChange,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<User, UserWriteError>;

    async fn list(&self, filter: &UserFilter, page: PageRequest) -> Result<Page<User>, StoreError>;

    /// Replaces a live user's limits; `None` when there is no such live user.
    async fn set_limits(&self, id: UserId, limits: &Limits, now: DateTime<Utc>) -> Result<Option<User>, StoreError>;

    /// Ids of users changed at or after `since` (for other instances' identity caches).
    async fn changed_since(&self, since: DateTime<Utc>) -> Result<Vec<UserId>, StoreError>;

    async fn audit_events(&self, page: PageRequest) -> Result<Page<AuditEvent>, StoreError>;
}

/// A refresh token row to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    pub user_id: UserId,
    pub family_id: uuid::Uuid,
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// First use: the token is spent and its successor stored.
    Rotated { user_id: UserId },
    /// A retry within the grace period: the successor already exists.
    Retried { user_id: UserId },
    /// A spent token presented again after the grace period: its whole family is now revoked.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

#[async_trait]
pub trait RefreshTokenRepo: Send + Sync + std::fmt::Debug {
    async fn insert(&self, token: &NewRefreshToken) -> Result<(), StoreError>;

    /// The user a token with this hash was issued to, while the token is neither revoked nor
    /// expired at `now` (spent ones included, so a reuse still reaches [`Self::rotate`]); the
    /// user's state is checked before the token is spent.
    async fn owner(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<UserId>, StoreError>;

    /// Spends the token with `presented_hash` and stores `successor` (same family), in one
    /// transaction; see [`Rotation`].
    async fn rotate(
        &self,
        presented_hash: &str,
        successor_hash: &str,
        successor_expires_at: DateTime<Utc>,
        grace: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<Rotation, StoreError>;

    /// Revokes the family of the token with `hash`; false when there is no such token.
    async fn revoke_family(&self, hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;
}

/// A key to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub allowed_models: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

#[async_trait]
pub trait ApiKeyRepo: Send + Sync + std::fmt::Debug {
    async fn create(&self, key: &NewApiKey) -> Result<ApiKey, StoreError>;

    /// The user's keys (deleted ones left out), newest first.
    async fn list(&self, user_id: UserId, page: PageRequest) -> Result<Page<ApiKey>, StoreError>;

    /// The user's live key with this id; another user's key is `None`.
    async fn get(&self, user_id: UserId, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError>;

    /// Marks the user's key revoked (kept, disabled); `None` when it is not theirs or deleted.
    async fn revoke(&self, user_id: UserId, id: ApiKeyId, now: DateTime<Utc>) -> Result<Option<ApiKey>, StoreError>;

    /// Soft-deletes the user's key; `None` when it is not theirs or already deleted.
    async fn delete(&self, user_id: UserId, id: ApiKeyId, now: DateTime<Utc>) -> Result<Option<ApiKey>, StoreError>;

    /// Replaces the limits of the user's live key; `None` when it is not theirs or deleted.
    async fn set_limits(
        &self,
        user_id: UserId,
        id: ApiKeyId,
        limits: &Limits,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiKey>, StoreError>;

    /// The key with this hash, whatever its state.
    async fn find_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError>;

    /// Hashes of keys changed at or after `since`.
    async fn changed_since(&self, since: DateTime<Utc>) -> Result<Vec<String>, StoreError>;
}

/// Hashes and verifies passwords. Implementations run bcrypt off the async executor and bound
/// how many hashes run at once.
#[async_trait]
pub trait PasswordHasher: Send + Sync + std::fmt::Debug {
    async fn hash(&self, password: &Password) -> Result<String, DomainError>;

    /// Whether `password` matches `hash`. A password over 72 bytes never matches.
    async fn verify(&self, password: &Password, hash: &str) -> Result<bool, DomainError>;
}

named_enum!(
    /// The credential checks that are rate-limited.
    Attempt, "attempt", "invalid_attempt" {
        Login => "login",
        Register => "register",
        Refresh => "refresh",
        /// A password change or an admin's password reset.
        Password => "password",
    }
);

/// What an attempt is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The client's address (requests whose address is unknown share one bucket).
    Address,
    /// The account the credential belongs to.
    Account,
}

/// Where a request came from, as the HTTP layer determined it: the client's address, or `None`
/// when it cannot be known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientAddress(pub Option<String>);

impl ClientAddress {
    /// The bucket key: the address, or one key shared by every request without one.
    pub fn key(&self) -> &str {
        self.0.as_deref().unwrap_or("unknown")
    }
}

/// Counts attempts at checking credentials, per kind and scope, against limits the adapter was
/// configured with.
#[async_trait]
pub trait AttemptLimiter: Send + Sync + std::fmt::Debug {
    /// Counts one attempt against `key`; `Err(seconds)` when the limit is reached: retry after
    /// that many seconds (at least 1).
    async fn hit(&self, attempt: Attempt, scope: Scope, key: &str) -> Result<(), u64>;
}
