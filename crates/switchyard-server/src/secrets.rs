//! Instance-wide secrets: the JWT signing secret and the master key that encrypts stored
//! secrets. Each is configured, or (SQLite only) generated once into the data directory.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use switchyard_domain::kernel::crypto::{KEY_CHECK_SETTING, MasterKey, SecretCipher};
use switchyard_domain::{SettingKey, SettingsRepo};
use switchyard_persistence::Backend;

/// The file, inside the data directory, that holds a generated secret.
pub const JWT_SECRET_FILE: &str = "jwt_secret";

/// A new random secret: 48 bytes, base64 (what `switchyard secrets generate` prints).
pub fn generate() -> String {
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    STANDARD.encode(bytes)
}

/// A secret every instance must share: configured, or (SQLite only, where there is one instance)
/// generated once into the data directory.
struct InstanceSecret {
    /// The configuration key.
    setting: &'static str,
    /// The file in the data directory that holds a generated one.
    file: &'static str,
    /// The command that prints a new one.
    command: &'static str,
}

const JWT_SECRET: InstanceSecret = InstanceSecret {
    setting: "auth.jwt_secret",
    file: JWT_SECRET_FILE,
    command: "switchyard secrets generate",
};

const MASTER_KEY: InstanceSecret = InstanceSecret {
    setting: "secrets.master_key",
    file: MASTER_KEY_FILE,
    command: "switchyard secrets generate-master-key",
};

/// The file, inside the data directory, that holds a generated master key.
pub const MASTER_KEY_FILE: &str = "master_key";

impl InstanceSecret {
    fn env_var(&self) -> String {
        format!("SWITCHYARD__{}", self.setting.replace('.', "__").to_uppercase())
    }

    /// The configured value, else the generated file's, else (SQLite) a new one written 0600.
    fn resolve(
        &self,
        configured: Option<&SecretString>,
        backend: Backend,
        data_dir: &Path,
        generate: fn() -> String,
    ) -> anyhow::Result<String> {
        if let Some(secret) = configured {
            return Ok(secret.expose_secret().trim().to_owned());
        }
        anyhow::ensure!(
            backend == Backend::Sqlite,
            "{} is required with {} (every instance must use the same one): run `{}` and set {} to its output",
            self.setting,
            backend.name(),
            self.command,
            self.env_var()
        );
        let path = data_dir.join(self.file);
        if let Ok(existing) = std::fs::read_to_string(&path) {
            return Ok(existing.trim().to_owned());
        }
        std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
        let secret = generate();
        write_private(&path, &secret).with_context(|| format!("cannot write {}", path.display()))?;
        tracing::warn!(
            path = %path.display(),
            "{} is not set: generated one for this SQLite installation; back it up, and set {} before running several instances",
            self.setting,
            self.setting
        );
        Ok(secret)
    }
}

/// The signing secret's bytes (at least 32). See [`InstanceSecret`].
pub fn jwt_secret(configured: Option<&SecretString>, backend: Backend, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let secret = JWT_SECRET.resolve(configured, backend, data_dir, generate)?;
    anyhow::ensure!(
        secret.len() >= switchyard_domain::accounts::token::MIN_SECRET_BYTES,
        "auth.jwt_secret is shorter than 32 bytes; make a strong one with `switchyard secrets generate`"
    );
    Ok(secret.into_bytes())
}

/// The master key that encrypts stored secrets. See [`InstanceSecret`].
pub fn master_key(configured: Option<&SecretString>, backend: Backend, data_dir: &Path) -> anyhow::Result<MasterKey> {
    let key = MASTER_KEY.resolve(configured, backend, data_dir, MasterKey::generate_base64)?;
    MasterKey::from_base64(&key).map_err(|error| {
        anyhow::anyhow!(
            "secrets.master_key is unusable: {error}; make one with `switchyard secrets generate-master-key`"
        )
    })
}

/// Checks that `cipher` is the key this database's secrets were made with: the first start
/// stores a key-check value; later starts must decrypt it.
pub async fn check_master_key(
    repo: &dyn SettingsRepo,
    cipher: &SecretCipher,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let key = SettingKey::parse(KEY_CHECK_SETTING)?;
    match repo.get(&key).await? {
        None => {
            repo.put(&key, &cipher.key_check()?, now).await?;
            Ok(())
        }
        Some(stored) => cipher.verify_key_check(&stored.value).map_err(|error| {
            let made_with = stored.value.split(':').nth(1).unwrap_or("?").to_owned();
            anyhow::anyhow!(
                "secrets.master_key (key id {}) is not the key this database's secrets were encrypted with \
                 (key id {made_with}): {error}. Start with the original key (SWITCHYARD__SECRETS__MASTER_KEY, \
                 or <data_dir>/{MASTER_KEY_FILE} with SQLite); to change keys, use `switchyard secrets rotate`",
                cipher.current_key_id()
            )
        }),
    }
}

/// Writes a new file readable by its owner only.
pub(crate) fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_generates_a_private_secret_once() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let first = jwt_secret(None, Backend::Sqlite, dir.path()).expect("a generated secret");
        let second = jwt_secret(None, Backend::Sqlite, dir.path()).expect("the same secret again");
        assert_eq!(first, second);
        assert!(first.len() >= 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(JWT_SECRET_FILE)).map(|m| m.permissions().mode() & 0o777);
            assert_eq!(mode.ok(), Some(0o600));
        }
    }

    #[test]
    fn postgres_and_mysql_need_a_configured_secret() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for backend in [Backend::Postgres, Backend::MySql] {
            let error = jwt_secret(None, backend, dir.path())
                .err()
                .map(|e| e.to_string())
                .expect("a refusal");
            assert!(error.contains("switchyard secrets generate"), "{error}");
        }
        let short = SecretString::from("too short");
        assert!(jwt_secret(Some(&short), Backend::Postgres, dir.path()).is_err());
        let good = SecretString::from(generate());
        assert!(jwt_secret(Some(&good), Backend::Postgres, dir.path()).is_ok());
    }
}
