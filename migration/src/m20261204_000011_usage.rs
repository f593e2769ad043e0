//! Hourly and daily usage rollups and the call log's index by request id.
//!
//! `usage_hourly` holds one row per hour × user × gateway key × model × supplier × currency ×
//! BYOK, `usage_daily` the same per UTC day (what long periods read), `usage_upstream_hourly`
//! one per hour × upstream key × supplier × currency. A row's id is
//! derived from its dimensions (the domain's `UsageKey::id`), so every writer upserts the same
//! row; absent dimensions are the nil UUID and the empty currency (a unique key over nullable
//! columns would let NULLs repeat). The call-log writer adds to them in the transaction that
//! writes the raw rows. Like the call log, they have no foreign keys.

use sea_orm_migration::prelude::*;

use crate::schema;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, DeriveIden)]
enum UsageHourly {
    Table,
    Id,
    HourStart,
    UserId,
    ApiKeyId,
    ModelId,
    SupplierId,
    Currency,
    Byok,
}

#[derive(Debug, DeriveIden)]
enum UsageDaily {
    Table,
    Id,
    DayStart,
    UserId,
    ApiKeyId,
    ModelId,
    SupplierId,
    Currency,
    Byok,
}

#[derive(Debug, DeriveIden)]
enum UsageUpstreamHourly {
    Table,
    Id,
    HourStart,
    UpstreamKeyId,
    SupplierId,
    Currency,
}

#[derive(Debug, DeriveIden)]
enum ApiCallLogs {
    Table,
}

/// The latency histogram's buckets (the domain's `LATENCY_BUCKETS`).
const LATENCY_BUCKETS: usize = 11;

/// The figures both rollups add up.
fn measures(table: &mut TableCreateStatement) {
    let mut names: Vec<String> = [
        "requests",
        "errors",
        "prompt_tokens",
        "completion_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "cost_nanos",
        "latency_ms_sum",
    ]
    .iter()
    .map(|name| (*name).to_owned())
    .collect();
    names.extend((0..LATENCY_BUCKETS).map(|bucket| format!("latency_{bucket}")));
    for name in names {
        table.col(ColumnDef::new(Alias::new(name)).big_integer().not_null());
    }
}

fn index(name: &str, table: impl IntoIden, columns: &[Alias]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(column.clone());
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let m = manager;
        let mut usage = schema::create_table(m, UsageHourly::Table);
        usage
            .col(schema::uuid(UsageHourly::Id).not_null().primary_key())
            .col(schema::timestamp(m, UsageHourly::HourStart).not_null())
            .col(schema::uuid(UsageHourly::UserId).not_null())
            .col(schema::uuid(UsageHourly::ApiKeyId).not_null())
            .col(schema::uuid(UsageHourly::ModelId).not_null())
            .col(schema::uuid(UsageHourly::SupplierId).not_null())
            .col(schema::string(UsageHourly::Currency, 3).not_null())
            .col(ColumnDef::new(UsageHourly::Byok).boolean().not_null());
        measures(&mut usage);
        manager.create_table(usage.to_owned()).await?;
        let hour = Alias::new("hour_start");
        for (name, first) in [
            ("usage_hourly_hour_idx", None),
            ("usage_hourly_user_idx", Some("user_id")),
            ("usage_hourly_key_idx", Some("api_key_id")),
            ("usage_hourly_model_idx", Some("model_id")),
        ] {
            let mut columns: Vec<Alias> = first.map(Alias::new).into_iter().collect();
            columns.push(hour.clone());
            manager.create_index(index(name, UsageHourly::Table, &columns)).await?;
        }

        let mut daily = schema::create_table(m, UsageDaily::Table);
        daily
            .col(schema::uuid(UsageDaily::Id).not_null().primary_key())
            .col(schema::timestamp(m, UsageDaily::DayStart).not_null())
            .col(schema::uuid(UsageDaily::UserId).not_null())
            .col(schema::uuid(UsageDaily::ApiKeyId).not_null())
            .col(schema::uuid(UsageDaily::ModelId).not_null())
            .col(schema::uuid(UsageDaily::SupplierId).not_null())
            .col(schema::string(UsageDaily::Currency, 3).not_null())
            .col(ColumnDef::new(UsageDaily::Byok).boolean().not_null());
        measures(&mut daily);
        manager.create_table(daily.to_owned()).await?;
        let day = Alias::new("day_start");
        for (name, first) in [
            ("usage_daily_day_idx", None),
            ("usage_daily_user_idx", Some("user_id")),
            ("usage_daily_key_idx", Some("api_key_id")),
            ("usage_daily_model_idx", Some("model_id")),
        ] {
            let mut columns: Vec<Alias> = first.map(Alias::new).into_iter().collect();
            columns.push(day.clone());
            manager.create_index(index(name, UsageDaily::Table, &columns)).await?;
        }

        let mut upstream = schema::create_table(m, UsageUpstreamHourly::Table);
        upstream
            .col(schema::uuid(UsageUpstreamHourly::Id).not_null().primary_key())
            .col(schema::timestamp(m, UsageUpstreamHourly::HourStart).not_null())
            .col(schema::uuid(UsageUpstreamHourly::UpstreamKeyId).not_null())
            .col(schema::uuid(UsageUpstreamHourly::SupplierId).not_null())
            .col(schema::string(UsageUpstreamHourly::Currency, 3).not_null());
        measures(&mut upstream);
        manager.create_table(upstream.to_owned()).await?;
        manager
            .create_index(index(
                "usage_upstream_hourly_hour_idx",
                UsageUpstreamHourly::Table,
                &[hour],
            ))
            .await?;
        manager
            .create_index(index(
                "api_call_logs_request_idx",
                ApiCallLogs::Table,
                &[Alias::new("request_id")],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("api_call_logs_request_idx")
                    .table(ApiCallLogs::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(UsageUpstreamHourly::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(UsageDaily::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(UsageHourly::Table).to_owned())
            .await
    }
}
