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

/// Commits when `outcome` is `Ok`, rolls back when it is an error. Always end a transaction
/// through this (or an explicit commit): a dropped sqlx transaction only rolls back when its
/// connection is next used, so its row locks would outlive the request.
pub(crate) async fn finish<T, E: From<StoreError>>(txn: DatabaseTransaction, outcome: Result<T, E>) -> Result<T, E> {
    match outcome {
        Ok(value) => {
            txn.commit().await.map_err(store_error)?;
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback) = txn.rollback().await {
                tracing::warn!(error = %rollback, "rolling back a failed transaction failed");
            }
            Err(error)
        }
    }
}
