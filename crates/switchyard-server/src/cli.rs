//! The command line of the `switchyard` binary.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use switchyard_persistence::MigrateCommand;

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Switchyard: one OpenAI-compatible gateway and platform API for every LLM provider",
    after_help = "Configuration: defaults, then switchyard.toml (or --config), then SWITCHYARD__SECTION__KEY \
                  environment variables. See docs/configuration.md."
)]
pub struct Cli {
    /// A configuration file to read instead of ./switchyard.toml.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// The database URL, overriding database.url.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no command is given).
    Serve,
    /// Apply, roll back or list database migrations.
    Migrate {
        #[command(subcommand)]
        command: MigrateCommand,
    },
}
