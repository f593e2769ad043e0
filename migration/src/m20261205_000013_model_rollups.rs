//! Per-model usage rollups: `usage_model_hourly` and `usage_model_daily` hold the buckets of
//! `usage_hourly` and `usage_daily` without their user and gateway key (one row per hour or UTC
//! day × model × supplier × currency × BYOK; `user_id` and `api_key_id` are the nil UUID). The
//! statistics over everyone (the overview, the usage series, the per-model and per-supplier
//! tables) read them: a few rows per model and hour where the full rollups hold one per key and
//! model. They are filled here from the full rollups, then added to by the call-log writer.
//!
//! The rows filled here get random ids, not the writer's derived ones: the writer's first batch
//! for the current hour adds a second row for a bucket filled here, which the statistics sum
//! like any other.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261204_000011_usage::{measure_names, usage_table};

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

const TABLES: [(&str, &str, &str, &str); 2] = [
    ("usage_model_hourly", "usage_hourly", "hour_start", "hour"),
    ("usage_model_daily", "usage_daily", "day_start", "day"),
];

/// `INSERT INTO target SELECT (the full rollup grouped without user and key)`.
fn fill(backend: DbBackend, target: &str, source: &str, time: &str) -> String {
    let (id, nil) = match backend {
        DbBackend::Postgres => ("gen_random_uuid()", "'00000000-0000-0000-0000-000000000000'::uuid"),
        DbBackend::MySql => ("UNHEX(REPLACE(UUID(), '-', ''))", "X'00000000000000000000000000000000'"),
        _ => ("randomblob(16)", "X'00000000000000000000000000000000'"),
    };
    let measures = measure_names();
    let dimensions = format!("{time}, model_id, supplier_id, currency, byok");
    let sums: Vec<String> = measures.iter().map(|column| format!("SUM({column})")).collect();
    format!(
        "INSERT INTO {target} (id, user_id, api_key_id, {dimensions}, {}) \
         SELECT {id}, {nil}, {nil}, {dimensions}, {} FROM {source} GROUP BY {dimensions}",
        measures.join(", "),
        sums.join(", ")
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        for (table, source, time, grain) in TABLES {
            usage_table(manager, table, time, grain, &[("model", "model_id")]).await?;
            manager
                .get_connection()
                .execute_unprepared(&fill(backend, table, source, time))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, _, _, _) in TABLES {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
