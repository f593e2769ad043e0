//! The JWT signing secret: configured, or (SQLite only) generated once into the data directory.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use switchyard_persistence::Backend;

/// The file, inside the data directory, that holds a generated secret.
pub const JWT_SECRET_FILE: &str = "jwt_secret";

/// A new random secret: 48 bytes, base64 (what `switchyard secrets generate` prints).
pub fn generate() -> String {
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    STANDARD.encode(bytes)
}

/// The signing secret's bytes. With SQLite and none configured, one is generated into
/// `<data_dir>/jwt_secret` (mode 0600) on first start and read from there afterwards; with
/// PostgreSQL or MySQL, where several instances share the database, one must be configured.
pub fn jwt_secret(configured: Option<&SecretString>, backend: Backend, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = configured {
        let bytes = secret.expose_secret().as_bytes().to_vec();
        anyhow::ensure!(
            bytes.len() >= switchyard_domain::token::MIN_SECRET_BYTES,
            "auth.jwt_secret is shorter than 32 bytes; make a strong one with `switchyard secrets generate`"
        );
        return Ok(bytes);
    }
    anyhow::ensure!(
        backend == Backend::Sqlite,
        "auth.jwt_secret is required with {} (every instance must sign with the same secret): \
         run `switchyard secrets generate` and set SWITCHYARD__AUTH__JWT_SECRET to its output",
        backend.name()
    );
    let path = data_dir.join(JWT_SECRET_FILE);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        anyhow::ensure!(
            existing.len() >= switchyard_domain::token::MIN_SECRET_BYTES,
            "{} holds a secret shorter than 32 bytes; delete it to generate a new one",
            path.display()
        );
        return Ok(existing.into_bytes());
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let secret = generate();
    write_private(&path, &secret).with_context(|| format!("cannot write {}", path.display()))?;
    tracing::warn!(
        path = %path.display(),
        "auth.jwt_secret is not set: generated one for this SQLite installation; set auth.jwt_secret before running several instances"
    );
    Ok(secret.into_bytes())
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
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
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let first = jwt_secret(None, Backend::Sqlite, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let second = jwt_secret(None, Backend::Sqlite, dir.path()).unwrap_or_else(|e| panic!("{e}"));
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
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for backend in [Backend::Postgres, Backend::MySql] {
            let error = jwt_secret(None, backend, dir.path())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains("switchyard secrets generate"), "{error}");
        }
        let short = SecretString::from("too short");
        assert!(jwt_secret(Some(&short), Backend::Postgres, dir.path()).is_err());
        let good = SecretString::from(generate());
        assert!(jwt_secret(Some(&good), Backend::Postgres, dir.path()).is_ok());
    }
}
