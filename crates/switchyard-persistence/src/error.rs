//! Errors of this crate and the translation of driver errors into the domain's `StoreError`.

use sea_orm::{DbErr, SqlErr};
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

/// Translates a sea-orm error into the storage port's error.
pub(crate) fn store_error(error: DbErr) -> StoreError {
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
