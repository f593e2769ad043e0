//! The gateway's call log (`api_call_logs`) and the last use of each gateway key.
//!
//! The log is append-only and compact: ids and numbers, no bodies and no copies of catalog
//! data. It has no foreign keys: rows are written in batches by a background writer (and
//! replayed from a spill file after an outage), and a log row must never be refused because of
//! the state of another table; the rows it names are never hard-deleted (CONVENTIONS.md).

use sea_orm_migration::prelude::*;

use crate::schema;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, DeriveIden)]
enum ApiCallLogs {
    Table,
    Id,
    RequestId,
    UserId,
    ApiKeyId,
    ModelId,
    SupplierId,
    UpstreamKeyId,
    UpstreamModel,
    Endpoint,
    Stream,
    StatusCode,
    ErrorCode,
    ErrorSummary,
    PromptTokens,
    CompletionTokens,
    CachedInputTokens,
    CacheWriteTokens,
    ReasoningTokens,
    Estimated,
    /// Nano-units of `currency`.
    CostNanos,
    Currency,
    TimeToFirstTokenMs,
    LatencyMs,
    ClientIp,
    CreatedAt,
}

#[derive(Debug, DeriveIden)]
enum ApiKeys {
    Table,
    LastUsedAt,
}

fn count(name: impl IntoIden) -> ColumnDef {
    let mut column = ColumnDef::new(name);
    column.big_integer().not_null();
    column
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let m = manager;
        manager
            .create_table(
                schema::create_table(m, ApiCallLogs::Table)
                    .col(schema::uuid(ApiCallLogs::Id).not_null().primary_key())
                    .col(schema::string(ApiCallLogs::RequestId, 128).not_null())
                    .col(schema::uuid(ApiCallLogs::UserId).null())
                    .col(schema::uuid(ApiCallLogs::ApiKeyId).null())
                    .col(schema::uuid(ApiCallLogs::ModelId).null())
                    .col(schema::uuid(ApiCallLogs::SupplierId).null())
                    .col(schema::uuid(ApiCallLogs::UpstreamKeyId).null())
                    .col(schema::string(ApiCallLogs::UpstreamModel, 128).null())
                    .col(schema::string(ApiCallLogs::Endpoint, 24).not_null())
                    .col(ColumnDef::new(ApiCallLogs::Stream).boolean().not_null())
                    .col(ColumnDef::new(ApiCallLogs::StatusCode).small_integer().not_null())
                    .col(schema::string(ApiCallLogs::ErrorCode, 48).null())
                    .col(schema::string(ApiCallLogs::ErrorSummary, 300).null())
                    .col(count(ApiCallLogs::PromptTokens))
                    .col(count(ApiCallLogs::CompletionTokens))
                    .col(count(ApiCallLogs::CachedInputTokens))
                    .col(count(ApiCallLogs::CacheWriteTokens))
                    .col(count(ApiCallLogs::ReasoningTokens))
                    .col(ColumnDef::new(ApiCallLogs::Estimated).boolean().not_null())
                    .col(count(ApiCallLogs::CostNanos))
                    .col(schema::string(ApiCallLogs::Currency, 3).null())
                    .col(ColumnDef::new(ApiCallLogs::TimeToFirstTokenMs).integer().null())
                    .col(ColumnDef::new(ApiCallLogs::LatencyMs).integer().not_null())
                    .col(schema::string(ApiCallLogs::ClientIp, 45).null())
                    .col(schema::timestamp(m, ApiCallLogs::CreatedAt).not_null())
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "api_call_logs_created_idx",
                vec![ApiCallLogs::CreatedAt, ApiCallLogs::Id],
            ),
            (
                "api_call_logs_user_idx",
                vec![ApiCallLogs::UserId, ApiCallLogs::CreatedAt],
            ),
            (
                "api_call_logs_key_idx",
                vec![ApiCallLogs::ApiKeyId, ApiCallLogs::CreatedAt],
            ),
            (
                "api_call_logs_model_idx",
                vec![ApiCallLogs::ModelId, ApiCallLogs::CreatedAt],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(ApiCallLogs::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .add_column(schema::timestamp(m, ApiKeys::LastUsedAt).null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .drop_column(ApiKeys::LastUsedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ApiCallLogs::Table).to_owned())
            .await
    }
}
