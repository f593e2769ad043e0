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

/// The measure columns every rollup adds up, in order.
pub(crate) fn measure_names() -> Vec<String> {
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
    names
}

/// The measure columns of a rollup table.
fn measures(table: &mut TableCreateStatement) {
    for name in measure_names() {
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

/// The dimensions a full usage rollup is indexed by (each index ends with the bucket's start).
pub(crate) const INDEXED: [(&str, &str); 3] = [("user", "user_id"), ("key", "api_key_id"), ("model", "model_id")];

/// A usage rollup: its bucket's start in `time`, the dimensions, the measures, and indexes by
/// time and by each of `indexed` (index suffix, column).
pub(crate) async fn usage_table(
    m: &SchemaManager<'_>,
    table: &str,
    time: &str,
    grain: &str,
    indexed: &[(&str, &str)],
) -> Result<(), DbErr> {
    let mut create = schema::create_table(m, Alias::new(table));
    create
        .col(schema::uuid(Alias::new("id")).not_null().primary_key())
        .col(schema::timestamp(m, Alias::new(time)).not_null());
    for dimension in ["user_id", "api_key_id", "model_id", "supplier_id"] {
        create.col(schema::uuid(Alias::new(dimension)).not_null());
    }
    create
        .col(schema::string(Alias::new("currency"), 3).not_null())
        .col(ColumnDef::new(Alias::new("byok")).boolean().not_null());
    measures(&mut create);
    m.create_table(create.to_owned()).await?;
    let indexed = indexed.iter().map(|(suffix, column)| (*suffix, Some(*column)));
    for (suffix, first) in std::iter::once((grain, None)).chain(indexed) {
        let mut columns: Vec<Alias> = first.map(Alias::new).into_iter().collect();
        columns.push(Alias::new(time));
        m.create_index(index(&format!("{table}_{suffix}_idx"), Alias::new(table), &columns))
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let m = manager;
        usage_table(m, "usage_hourly", "hour_start", "hour", &INDEXED).await?;
        usage_table(m, "usage_daily", "day_start", "day", &INDEXED).await?;
        let hour = Alias::new("hour_start");

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
        for table in ["usage_daily", "usage_hourly"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
