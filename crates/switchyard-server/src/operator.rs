//! Operator commands of the shipped binary: `switchyard admin create`.

use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

use switchyard_domain::accounts::{ClientAddress, NewAccount};
use switchyard_domain::{Admin, ConflictKind, DomainError, Role};

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
    let database = open_database(settings).await?;
    if settings.database.auto_migrate {
        database.migrate_up().await?;
    }
    // A one-shot command checks no credentials: its attempt limits need no Redis.
    let accounts = accounts(settings, &database, None, Arc::new(SystemClock)).await?;
    let account = NewAccount {
        username,
        display_name,
        email,
        role: Role::Admin,
        password: piped.as_deref(),
    };
    // The operator at the server's console holds the database already: no admin needs to exist.
    let outcome = accounts
        .create_account(&Admin::operator(), &ClientAddress(None), None, account)
        .await;
    database.close().await;
    match outcome {
        Ok(created) => {
            println!("created admin {} ({})", created.user.username, created.user.id);
            if let Some(password) = created.generated_password {
                println!("password (shown once, store it now): {password}");
            }
        }
        Err(DomainError::Conflict {
            kind: ConflictKind::UsernameTaken,
            ..
        }) => println!("user {username} exists; nothing changed"),
        Err(error) => anyhow::bail!("cannot create the admin: {error}"),
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

/// Re-encrypts every stored secret under a new master key in one transaction. With SQLite and a
/// generated key file, the file is replaced (the new key is written beside it first, and swapped
/// in only after the commit); otherwise the new key is printed, to be configured before restart.
pub async fn rotate_master_key(settings: &Settings, new_key: Option<&str>) -> anyhow::Result<()> {
    use switchyard_domain::Clock;
    use switchyard_domain::kernel::crypto::{MasterKey, SecretCipher};

    let database = open_database(settings).await?;
    let outcome = async {
        let old = SecretCipher::new(crate::secrets::master_key(
            settings.secrets.master_key.as_ref(),
            database.backend(),
            &settings.data_dir,
        )?);
        let settings_repo = switchyard_persistence::SqlSettingsRepo::new(database.connection().clone());
        let now = SystemClock.now();
        crate::secrets::check_master_key(&settings_repo, &old, now).await?;
        let new_text = match new_key {
            Some(key) => key.trim().to_owned(),
            None => MasterKey::generate_base64(),
        };
        let new = SecretCipher::new(
            MasterKey::from_base64(&new_text).map_err(|error| anyhow::anyhow!("the new master key: {error}"))?,
        );
        anyhow::ensure!(
            new.current_key_id() != old.current_key_id(),
            "the new master key is the current one; nothing to do"
        );
        let key_file = settings.data_dir.join(crate::secrets::MASTER_KEY_FILE);
        let from_file = settings.secrets.master_key.is_none();
        let staged = settings
            .data_dir
            .join(format!("{}.next", crate::secrets::MASTER_KEY_FILE));
        if from_file {
            crate::secrets::write_private(&staged, &new_text)?;
        }
        let store = switchyard_persistence::SqlSecretStore::new(database.connection().clone());
        let count = store.rotate(&old, &new, now).await?;
        println!(
            "re-encrypted {count} stored secrets from key {} to key {}",
            old.current_key_id(),
            new.current_key_id()
        );
        if from_file {
            std::fs::rename(&staged, &key_file)?;
            println!("{} now holds the new key", key_file.display());
        } else {
            println!(
                "set secrets.master_key (SWITCHYARD__SECRETS__MASTER_KEY) to the new key and restart every instance:"
            );
            println!("{new_text}");
        }
        anyhow::Ok(())
    }
    .await;
    database.close().await;
    outcome
}
