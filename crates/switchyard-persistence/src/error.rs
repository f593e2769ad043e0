//! Errors of this crate and the translation of driver errors into the domain's `StoreError`.

use sea_orm::{DbErr, RuntimeErr, SqlErr};
use switchyard_domain::StoreError;

/// What can go wrong while opening or migrating the database.
#[derive(Debug, thiserror::Error)]
pub enum PersistenceError {
    #[error("unsupported database URL {url}: use sqlite://, postgres:// or mysql://")]
    UnsupportedUrl { url: String },
    #[error("cannot connect to the {backend} database at {url}: {message}")]
    Connect {
        backend: &'static str,
        url: String,
        message: String,
    },
    #[error("database migration failed: {0}")]
    Migration(String),
}

/// The start of the message of a transaction the database aborted to break a deadlock or a
/// serialization conflict: running it again may succeed.
pub(crate) const RETRY_TRANSACTION: &str = "the database asked to retry the transaction";

/// SQLSTATE 40001 (serialization failure; MySQL's deadlock) and 40P01 (PostgreSQL's deadlock),
/// read from the driver's error, never from message text.
fn must_retry(error: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error))) = error else {
        return false;
    };
    match error.as_ref() {
        sea_orm::sqlx::Error::Database(database) => {
            matches!(database.code().as_deref(), Some("40001" | "40P01"))
        }
        _ => false,
    }
}

/// Whether a store error is a transaction the database aborted and that may succeed if run again.
pub(crate) fn is_retryable(error: &StoreError) -> bool {
    matches!(error, StoreError::Unavailable(message) if message.starts_with(RETRY_TRANSACTION))
}

/// Translates a sea-orm error into the storage port's error.
pub(crate) fn store_error(error: DbErr) -> StoreError {
    if must_retry(&error) {
        return StoreError::Unavailable(format!("{RETRY_TRANSACTION}: {error}"));
    }
    if let Some(sql) = error.sql_err() {
        return match sql {
            SqlErr::UniqueConstraintViolation(message) => StoreError::Conflict(message),
            SqlErr::ForeignKeyConstraintViolation(message) => StoreError::Conflict(message),
            other => StoreError::Other(other.to_string()),
        };
    }
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => StoreError::Unavailable(error.to_string()),
        DbErr::RecordNotFound(_) => StoreError::NotFound,
        other => StoreError::Other(other.to_string()),
    }
}
