//! Switchyard's database migrations, shared by the server (which applies them at start), the
//! `switchyard migrate` subcommand and this crate's own command-line interface.
//!
//! Migrations are plain sea-orm-migration code that never imports entity modules, so they keep
//! working after the entities change. Every table is created through [`schema`], which applies
//! the conventions every backend must share (utf8mb4_bin on MariaDB, microsecond timestamps).

pub use sea_orm_migration::prelude::*;

pub mod command;
mod m20261122_000001_system_settings;
mod m20261122_000002_accounts;
mod m20261122_000003_suppliers;
mod m20261122_000004_categories;
mod m20261122_000005_capabilities;
mod m20261122_000006_models;
mod m20261201_000007_call_logs;
mod m20261202_000008_routing;
mod m20261203_000009_conversations;
mod m20261203_000010_files;
mod m20261204_000011_usage;
mod m20261204_000012_limits;
mod m20261205_000013_model_rollups;
pub mod schema;

pub use command::MigrateCommand;

/// The ordered list of every migration.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_system_settings::Migration),
            Box::new(m20261122_000002_accounts::Migration),
            Box::new(m20261122_000003_suppliers::Migration),
            Box::new(m20261122_000004_categories::Migration),
            Box::new(m20261122_000005_capabilities::Migration),
            Box::new(m20261122_000006_models::Migration),
            Box::new(m20261201_000007_call_logs::Migration),
            Box::new(m20261202_000008_routing::Migration),
            Box::new(m20261203_000009_conversations::Migration),
            Box::new(m20261203_000010_files::Migration),
            Box::new(m20261204_000011_usage::Migration),
            Box::new(m20261204_000012_limits::Migration),
            Box::new(m20261205_000013_model_rollups::Migration),
        ]
    }
}
