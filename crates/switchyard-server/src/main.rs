//! `switchyard`: serve, or run an operator command. See `switchyard --help`.

use std::process::ExitCode;

use clap::Parser;
use switchyard_server::cli::{AdminCommand, Cli, Command, SecretsCommand};
use switchyard_server::settings::Settings;
use switchyard_server::startup::{Application, open_database};
use switchyard_server::telemetry;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load(cli.config.as_deref())
        .map_err(|error| anyhow::anyhow!("invalid configuration: {error}; see docs/configuration.md"))?;
    if let Some(url) = cli.database_url {
        settings.database.url = Some(url);
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let _logs = telemetry::init(&settings.log)?;
            Application::build(settings).await?.run_until_stopped().await
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    username,
                    email,
                    display_name,
                },
        } => {
            let _logs = telemetry::init(&quiet(&settings.log))?;
            switchyard_server::operator::create_admin(&settings, &username, email.as_deref(), display_name.as_deref())
                .await
        }
        Command::Secrets { command } => match command {
            SecretsCommand::Generate => {
                println!("{}", switchyard_server::secrets::generate());
                Ok(())
            }
            SecretsCommand::GenerateMasterKey => {
                println!("{}", switchyard_domain::kernel::crypto::MasterKey::generate_base64());
                Ok(())
            }
            SecretsCommand::Rotate { new_key } => {
                let _logs = telemetry::init(&quiet(&settings.log))?;
                switchyard_server::operator::rotate_master_key(&settings, new_key.as_deref()).await
            }
        },
        Command::Catalog { command } => {
            let _logs = telemetry::init(&quiet(&settings.log))?;
            switchyard_server::catalog_file::run(&settings, command).await
        }
        Command::Migrate { command } => {
            let database = open_database(&settings).await?;
            let outcome = database.run_migration_command(&command).await;
            database.close().await;
            println!("{}", outcome?);
            Ok(())
        }
    }
}

/// Operator commands print their own results; the log shows only warnings and errors.
fn quiet(log: &switchyard_server::settings::LogSettings) -> switchyard_server::settings::LogSettings {
    switchyard_server::settings::LogSettings {
        level: "warn".to_owned(),
        ..log.clone()
    }
}
