//! Transactions that read then write: IMMEDIATE on SQLite (so concurrent writers queue instead
//! of failing with SQLITE_BUSY); PostgreSQL and MySQL rely on row locks (`FOR UPDATE`).

use sea_orm::{DatabaseConnection, DatabaseTransaction, SqliteTransactionMode, TransactionOptions, TransactionTrait};
use switchyard_domain::StoreError;

use crate::error::store_error;

pub(crate) async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, StoreError> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
    .map_err(store_error)
}
