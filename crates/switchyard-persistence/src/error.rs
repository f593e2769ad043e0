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

/// Translates a sea-orm error into the storage port's error. A broken unique or foreign-key
/// rule becomes `Conflict` naming the constraint (never the driver's message, which holds the
/// conflicting value).
pub(crate) fn store_error(error: DbErr) -> StoreError {
    if must_retry(&error) {
        return StoreError::Unavailable(format!("{RETRY_TRANSACTION}: {error}"));
    }
    if let Some(constraint) = unique_violation(&error) {
        return StoreError::Conflict(constraint);
    }
    if let Some(sql) = error.sql_err() {
        return match sql {
            SqlErr::UniqueConstraintViolation(_) => StoreError::Conflict("unique constraint".to_owned()),
            SqlErr::ForeignKeyConstraintViolation(_) => StoreError::Conflict("foreign key".to_owned()),
            other => StoreError::Other(other.to_string()),
        };
    }
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => StoreError::Unavailable(error.to_string()),
        DbErr::RecordNotFound(_) => StoreError::NotFound,
        other => StoreError::Other(other.to_string()),
    }
}

/// Every named unique index of the schema with its table and columns: SQLite names only the
/// columns of the index a duplicate broke. `the_unique_index_list_matches_the_schema` checks
/// this list against the migrated schema.
pub(crate) const UNIQUE_INDEXES: &[(&str, &str, &[&str])] = &[
    ("users_username_lower_key", "users", &["username_lower"]),
    ("users_email_live_key", "users", &["email_lower", "live_key"]),
    ("suppliers_name_live_key", "suppliers", &["name", "live_key"]),
    (
        "categories_sibling_name_key",
        "categories",
        &["parent_key", "name", "live_key"],
    ),
    ("capabilities_name_live_key", "capabilities", &["name", "live_key"]),
    ("models_name_live_key", "models", &["name", "live_key"]),
    (
        "model_routes_model_supplier",
        "model_routes",
        &["model_id", "supplier_id", "upstream_name"],
    ),
    ("model_parameters_model_name", "model_parameters", &["model_id", "name"]),
];

/// The name of the unique constraint a duplicate broke, read from the driver's error on each
/// backend: PostgreSQL names the constraint; MySQL and MariaDB name the key at the end of their
/// message (`… for key 'users_email_live_key'`, MySQL 8 with the table in front); SQLite names
/// the columns (`UNIQUE constraint failed: users.email_lower, users.live_key`), looked up in
/// [`UNIQUE_INDEXES`]. An index that is not listed is named `table(column, …)`.
pub(crate) fn unique_violation(error: &DbErr) -> Option<String> {
    let (DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error))) = error else {
        return None;
    };
    let sea_orm::sqlx::Error::Database(database) = error.as_ref() else {
        return None;
    };
    if database.kind() != sea_orm::sqlx::error::ErrorKind::UniqueViolation {
        return None;
    }
    if let Some(constraint) = database.constraint() {
        return Some(constraint.to_owned());
    }
    constraint_from_message(database.message())
}

/// The constraint a MySQL/MariaDB or SQLite duplicate-key message names.
fn constraint_from_message(message: &str) -> Option<String> {
    if let Some(columns) = message.strip_prefix("UNIQUE constraint failed: ") {
        let qualified: Vec<(&str, &str)> = columns
            .split(", ")
            .filter_map(|column| column.trim().split_once('.'))
            .collect();
        let table = qualified.first()?.0;
        let names: Vec<&str> = qualified.iter().map(|(_, column)| *column).collect();
        let listed = UNIQUE_INDEXES
            .iter()
            .find(|(_, indexed_table, indexed)| *indexed_table == table && *indexed == names.as_slice());
        return Some(match listed {
            Some((name, _, _)) => (*name).to_owned(),
            None => format!("{table}({})", names.join(", ")),
        });
    }
    // The key is the message's last quoted word: the duplicate value comes before it and may
    // itself contain anything, `for key '…'` included.
    let key = message.strip_suffix('\'')?;
    let start = key.rfind(" for key '")? + " for key '".len();
    let key = &key[start..];
    Some(key.rsplit_once('.').map_or(key, |(_, name)| name).to_owned())
}

#[cfg(test)]
mod tests {
    use super::constraint_from_message;

    #[test]
    fn the_constraint_is_read_from_the_key_name_not_from_the_duplicate_value() {
        let mariadb = "Duplicate entry 'email_fan' for key 'users_username_lower_key'";
        assert_eq!(
            constraint_from_message(mariadb).as_deref(),
            Some("users_username_lower_key")
        );
        let mysql8 = "Duplicate entry 'x@y.z-' for key 'users.users_email_live_key'";
        assert_eq!(constraint_from_message(mysql8).as_deref(), Some("users_email_live_key"));
        let hostile = "Duplicate entry 'a' for key 'users_email_live_key'' for key 'users_username_lower_key'";
        assert_eq!(
            constraint_from_message(hostile).as_deref(),
            Some("users_username_lower_key")
        );
        let sqlite = "UNIQUE constraint failed: users.email_lower, users.live_key";
        assert_eq!(constraint_from_message(sqlite).as_deref(), Some("users_email_live_key"));
        let unlisted = "UNIQUE constraint failed: model_capabilities.model_id, model_capabilities.capability_id";
        assert_eq!(
            constraint_from_message(unlisted).as_deref(),
            Some("model_capabilities(model_id, capability_id)")
        );
    }
}
