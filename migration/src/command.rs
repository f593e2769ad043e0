//! The migration commands, shared by `cargo run -p migration` and `switchyard migrate`.

use sea_orm_migration::MigrationStatus;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseConnection;

use crate::Migrator;

/// What to do with the schema.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum MigrateCommand {
    /// Apply pending migrations (all of them, or the first N).
    Up {
        #[arg(short = 'n', long)]
        steps: Option<u32>,
    },
    /// Roll back applied migrations, newest first (one by default).
    Down {
        #[arg(short = 'n', long, default_value_t = 1)]
        steps: u32,
    },
    /// List every migration and whether it is applied.
    Status,
    /// Drop every table, then apply all migrations. Destroys all data.
    Fresh,
    /// Roll back every applied migration, then apply all again. Destroys all data.
    Refresh,
    /// Roll back every applied migration. Destroys all data.
    Reset,
}

/// Runs `command` against `db` and returns a human-readable report of what happened.
pub async fn run(db: &DatabaseConnection, command: &MigrateCommand) -> Result<String, DbErr> {
    let before = applied_count(db).await?;
    match command {
        MigrateCommand::Up { steps } => Migrator::up(db, *steps).await?,
        MigrateCommand::Down { steps } => Migrator::down(db, Some(*steps)).await?,
        MigrateCommand::Status => return status_report(db).await,
        MigrateCommand::Fresh => Migrator::fresh(db).await?,
        MigrateCommand::Refresh => Migrator::refresh(db).await?,
        MigrateCommand::Reset => Migrator::reset(db).await?,
    }
    let after = applied_count(db).await?;
    let total = Migrator::migrations().len();
    Ok(format!(
        "applied migrations: {before} of {total} before, {after} of {total} now"
    ))
}

async fn applied_count(db: &DatabaseConnection) -> Result<usize, DbErr> {
    Ok(Migrator::get_applied_migrations(db).await?.len())
}

async fn status_report(db: &DatabaseConnection) -> Result<String, DbErr> {
    let migrations = Migrator::get_migration_with_status(db).await?;
    let mut report = String::new();
    for migration in &migrations {
        let state = match migration.status() {
            MigrationStatus::Applied => "applied",
            MigrationStatus::Pending => "pending",
        };
        report.push_str(&format!("{state:8} {}\n", migration.name()));
    }
    let pending = migrations
        .iter()
        .filter(|m| m.status() == MigrationStatus::Pending)
        .count();
    report.push_str(&format!("{} migrations, {pending} pending", migrations.len()));
    Ok(report)
}
