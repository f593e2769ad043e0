//! Errors of the domain and of the storage ports.

/// What can go wrong in a use case, in the domain's own words. The API crate maps each
/// variant to an HTTP status and a stable error code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DomainError {
    /// Input that reads but breaks a rule; `field` names the offending input.
    #[error("{field}: {message}")]
    Validation {
        field: String,
        code: &'static str,
        message: String,
    },
    /// The thing asked for does not exist (or is not visible to the caller).
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    /// The request contradicts the current state (a duplicate name, a cycle, ...).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// A dependency (database, upstream) cannot be reached right now.
    #[error("{dependency} is unavailable: {message}")]
    Unavailable { dependency: &'static str, message: String },
    /// Anything else: a bug or an unexpected state. The message is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The error every repository port returns. Adapters translate their driver's errors into it,
/// so no database error type ever reaches the domain.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
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
                code: "conflict",
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
