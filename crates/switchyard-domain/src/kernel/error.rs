//! Errors of the domain and of the storage ports.

use chrono::{DateTime, Utc};

use crate::kernel::rate::RateHeaders;

/// Why a caller is not authenticated (401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Wrong username, email or password (of an account that is neither locked nor deactivated).
    InvalidCredentials,
    /// A bearer token that is missing, malformed, tampered with, expired or no longer valid.
    InvalidToken,
    /// A refresh token that is unknown, expired, revoked or was reused.
    InvalidRefreshToken,
    /// A gateway API key that is missing, unknown, revoked, expired or of a disabled user.
    InvalidApiKey,
}

/// Why an authenticated caller may not do this (403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A password checked for a locked account, right or wrong; `None` = locked by an admin until
    /// unlocked.
    AccountLocked {
        until: Option<DateTime<Utc>>,
    },
    /// A password checked for a deactivated account, right or wrong.
    AccountDisabled,
    RegistrationDisabled,
    /// The route needs the admin role.
    AdminOnly,
    /// The gateway key may not use this model (its `allowed_models`).
    ModelNotAllowed,
}

/// How a supplier failed a gateway call (the API gives each its status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFailure {
    /// The supplier refused the request itself: the client's request is at fault (400).
    BadRequest,
    /// The supplier refused its key, answered nonsense, failed or could not be reached (502).
    Failed,
    RateLimited,
    Overloaded,
    Timeout,
}

/// Which rule a conflicting request broke (409).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    UsernameTaken,
    EmailTaken,
    /// The change would leave no active admin.
    LastAdmin,
    /// The move would make a category its own ancestor.
    CategoryCycle,
    /// The category has children or models (delete with `mode=reassign`).
    CategoryNotEmpty,
    /// The model is the default of its type (set another default first).
    DefaultModelInUse,
    /// The conversation is deleted (restore it first).
    ConversationDeleted,
    /// Only a conversation's last answer can be regenerated.
    NotLastAnswer,
    /// The user's files already take their quota (count or bytes).
    FileQuota,
    /// Anything else already there.
    Duplicate,
}

/// What can go wrong in a use case, in the domain's own words. The API crate maps each
/// variant to an HTTP status and a stable error code.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DomainError {
    /// Input that reads but breaks a rule; `field` names the offending input.
    #[error("{field}: {message}")]
    Validation {
        field: String,
        code: &'static str,
        message: String,
    },
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    #[error("{message}")]
    Conflict { kind: ConflictKind, message: String },
    #[error("not authenticated: {0:?}")]
    Unauthenticated(AuthFailure),
    #[error("forbidden: {0:?}")]
    Forbidden(Refusal),
    #[error("rate limited; retry after {retry_after_seconds}s")]
    RateLimited { retry_after_seconds: u64 },
    /// A rate or concurrency limit of Switchyard's own refused the call before any upstream
    /// call; the message names the limit.
    #[error("{message}")]
    LimitExceeded {
        message: String,
        retry_after_seconds: u64,
        headers: Box<RateHeaders>,
    },
    /// A budget cannot take the call's maximum cost; the message says when it starts again.
    #[error("{message}")]
    QuotaExceeded {
        message: String,
        /// Until the budget starts again; `None` for a budget for all time (or another currency).
        retry_after_seconds: Option<u64>,
    },
    /// No routable model has this name (or the caller may not see it).
    #[error("no model named {model}")]
    UnknownModel { model: String },
    /// A supplier failed the call; the message summarises why, without secrets.
    #[error("{message}")]
    Upstream {
        failure: UpstreamFailure,
        message: String,
        retry_after_seconds: Option<u64>,
    },
    /// The content is not a kind accepted here (415).
    #[error("{message}")]
    UnsupportedMedia { message: String },
    /// The content is larger than a limit (413).
    #[error("{message}")]
    TooLarge { message: String },
    /// A dependency (database, upstream) cannot be reached right now.
    #[error("{dependency} is unavailable: {message}")]
    Unavailable { dependency: &'static str, message: String },
    /// Anything else: a bug or an unexpected state. The message is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl DomainError {
    pub fn validation(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.to_owned(),
            code,
            message: message.into(),
        }
    }
}

/// The error every repository port returns. Adapters translate their driver's errors into it,
/// so no database error type ever reaches the domain.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or reference rule of the store; the message names the constraint.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Other(String),
}

impl From<StoreError> for DomainError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => DomainError::NotFound { entity: "record" },
            StoreError::Conflict(message) => DomainError::Conflict {
                kind: ConflictKind::Duplicate,
                message,
            },
            StoreError::Unavailable(message) => DomainError::Unavailable {
                dependency: "database",
                message,
            },
            StoreError::Other(message) => DomainError::Internal(message),
        }
    }
}
