//! Operator commands of the shipped binary: `switchyard admin create`.

use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

use switchyard_domain::accounts::{AdminCreation, Registration};
use switchyard_domain::token::random_base62;

use crate::clock::SystemClock;
use crate::settings::Settings;
use crate::startup::{accounts, open_database};

/// Creates an admin; prints what happened. Idempotent: an existing username is reported, not changed.
pub async fn create_admin(
    settings: &Settings,
    username: &str,
    email: Option<&str>,
    display_name: Option<&str>,
) -> anyhow::Result<()> {
    let piped = read_piped_password()?;
    let generated = piped.is_none();
    let password = piped.unwrap_or_else(|| random_base62(24));

    let database = open_database(settings).await?;
    if settings.database.auto_migrate {
        database.migrate_up().await?;
    }
    let accounts = accounts(settings, &database, Arc::new(SystemClock)).await?;
    let outcome = accounts
        .create_admin(Registration {
            username,
            display_name,
            email,
            password: &password,
        })
        .await;
    database.close().await;
    match outcome.map_err(|error| anyhow::anyhow!("cannot create the admin: {error}"))? {
        AdminCreation::Created(user) => {
            println!("created admin {} ({})", user.username, user.id);
            if generated {
                println!("password (shown once, store it now): {password}");
            }
        }
        AdminCreation::Exists => println!("user {username} exists; nothing changed"),
    }
    Ok(())
}

/// The first line of standard input when it is not a terminal and holds one.
fn read_piped_password() -> anyhow::Result<Option<String>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    Ok((!password.is_empty()).then_some(password))
}
