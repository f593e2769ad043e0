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
    /// Manage accounts from the command line.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Make or manage secrets.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Export, import or seed the model catalog (suppliers, models, capabilities, categories).
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Write the live catalog to FILE as sorted JSON with natural keys (no ids, timestamps or
    /// keys); `-` writes to standard output.
    Export { file: PathBuf },
    /// Check FILE whole, then upsert it by natural key in one transaction (all or nothing).
    Import {
        file: PathBuf,
        /// Also soft-delete the suppliers, capabilities, categories and models FILE does not name.
        #[arg(long)]
        prune: bool,
    },
    /// Import the catalog bundled in this binary (deploy/catalog.json); running it again changes nothing.
    Seed,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin. The password is read from standard input when one is piped in;
    /// otherwise a strong one is generated and printed once. An existing username changes nothing.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: Option<String>,
        /// Defaults to the username.
        #[arg(long)]
        display_name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Print a new random secret for auth.jwt_secret (48 random bytes, base64).
    Generate,
    /// Print a new master key for secrets.master_key (32 random bytes, base64).
    GenerateMasterKey,
    /// Re-encrypt every stored secret under a new master key, in one transaction.
    Rotate {
        /// The new key (base64 of 32 bytes); generated when absent.
        #[arg(long)]
        new_key: Option<String>,
    },
}
