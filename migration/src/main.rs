//! `cargo run -p migration -- up | down | status | fresh | refresh | reset`: the migration CLI.
//!
//! The database is named by `--database-url`, `DATABASE_URL` or `SWITCHYARD__DATABASE__URL`.

use std::process::ExitCode;

use clap::Parser;
use migration::MigrateCommand;
use sea_orm_migration::sea_orm::{ConnectOptions, Database};

#[derive(Debug, Parser)]
#[command(name = "migration", about = "Apply or roll back Switchyard's database migrations")]
struct Cli {
    /// The database URL, e.g. `sqlite://data/switchyard.db?mode=rwc`, `postgres://…`, `mysql://…`.
    #[arg(short = 'u', long, env = "DATABASE_URL")]
    database_url: Option<String>,

    #[command(subcommand)]
    command: MigrateCommand,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(url) = cli
        .database_url
        .or_else(|| std::env::var("SWITCHYARD__DATABASE__URL").ok())
    else {
        eprintln!("error: no database named; pass --database-url, or set DATABASE_URL or SWITCHYARD__DATABASE__URL");
        return ExitCode::from(2);
    };
    let mut options = ConnectOptions::new(url);
    options.sqlx_logging(false).max_connections(1);
    let db = match Database::connect(options).await {
        Ok(db) => db,
        Err(error) => {
            eprintln!("error: cannot connect to the database: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = migration::command::run(&db, &cli.command).await;
    let _ = db.close().await;
    match outcome {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: migration failed: {error}");
            ExitCode::FAILURE
        }
    }
}
