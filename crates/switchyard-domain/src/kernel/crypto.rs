//! Secrets at rest: AES-256-GCM under a master key, with the row's table, column and id as
//! associated data (a ciphertext copied to another row or column does not decrypt), stored as
//! `v1:<key_id>:<nonce>:<ciphertext>` so that a master-key rotation can read old values while it
//! runs. A key-check value lets the server refuse a wrong master key at start.

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

const FORMAT_VERSION: &str = "v1";
const KEY_CHECK_PLAINTEXT: &str = "switchyard master key check";

/// Where a secret lives; bound into its ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretSlot<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row_id: &'a str,
}

impl SecretSlot<'_> {
    fn associated_data(&self) -> String {
        format!("{}.{}.{}", self.table, self.column, self.row_id)
    }
}

/// Where the key-check value is kept (`system_settings`).
pub const KEY_CHECK_SETTING: &str = "secrets.key_check";
const KEY_CHECK_SLOT: SecretSlot<'static> = SecretSlot {
    table: "system_settings",
    column: "value",
    row_id: KEY_CHECK_SETTING,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the master key must be 32 bytes, base64-encoded")]
    BadMasterKey,
    #[error("the stored secret is not in the v1:<key_id>:<nonce>:<ciphertext> format")]
    Malformed,
    /// Encrypted under a master key this server was not given.
    #[error("the secret was encrypted with master key {key_id}, which this server was not given")]
    UnknownKey { key_id: String },
    /// The right key id, but the ciphertext or its slot does not authenticate.
    #[error("the secret does not decrypt: the master key is wrong or the value was tampered with")]
    Undecryptable,
}

/// One master key and its public id (the first 8 hex digits of a hash of the key).
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// Reads a key given as base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, SecretError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| SecretError::BadMasterKey)?;
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| SecretError::BadMasterKey)?;
        let digest = Sha256::digest([b"switchyard master key id v1:".as_slice(), &bytes].concat());
        let id = digest.iter().take(4).map(|byte| format!("{byte:02x}")).collect();
        Ok(Self { id, cipher })
    }

    /// A new random key, base64 (what `switchyard secrets generate-master-key` prints).
    pub fn generate_base64() -> String {
        let bytes: [u8; 32] = rand::random();
        STANDARD.encode(bytes)
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Encrypts with the current master key; decrypts with any key it holds.
#[derive(Debug, Clone)]
pub struct SecretCipher {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl SecretCipher {
    pub fn new(current: MasterKey) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// Also decrypts values made under `previous` (during a rotation).
    pub fn with_previous(mut self, previous: MasterKey) -> Self {
        self.previous.push(previous);
        self
    }

    pub fn current_key_id(&self) -> &str {
        self.current.id()
    }

    pub fn encrypt(&self, plaintext: &str, slot: SecretSlot<'_>) -> Result<String, SecretError> {
        let nonce = Nonce::generate();
        let aad = slot.associated_data();
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Undecryptable)?;
        Ok(format!(
            "{FORMAT_VERSION}:{}:{}:{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(nonce.as_slice()),
            URL_SAFE_NO_PAD.encode(ciphertext)
        ))
    }

    pub fn decrypt(&self, stored: &str, slot: SecretSlot<'_>) -> Result<String, SecretError> {
        let mut parts = stored.split(':');
        let (Some(FORMAT_VERSION), Some(key_id), Some(nonce), Some(ciphertext), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SecretError::Malformed);
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == key_id)
            .ok_or_else(|| SecretError::UnknownKey {
                key_id: key_id.to_owned(),
            })?;
        let nonce = URL_SAFE_NO_PAD.decode(nonce).map_err(|_| SecretError::Malformed)?;
        let nonce = Nonce::try_from(nonce.as_slice()).map_err(|_| SecretError::Malformed)?;
        let ciphertext = URL_SAFE_NO_PAD.decode(ciphertext).map_err(|_| SecretError::Malformed)?;
        let aad = slot.associated_data();
        let plaintext = key
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Undecryptable)?;
        String::from_utf8(plaintext).map_err(|_| SecretError::Undecryptable)
    }

    /// A value that only this master key decrypts, kept in the database.
    pub fn key_check(&self) -> Result<String, SecretError> {
        self.encrypt(KEY_CHECK_PLAINTEXT, KEY_CHECK_SLOT)
    }

    /// Whether a stored key-check value was made with a key this cipher holds.
    pub fn verify_key_check(&self, stored: &str) -> Result<(), SecretError> {
        match self.decrypt(stored, KEY_CHECK_SLOT)? {
            text if text == KEY_CHECK_PLAINTEXT => Ok(()),
            _ => Err(SecretError::Undecryptable),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> SecretCipher {
        SecretCipher::new(MasterKey::from_base64(&MasterKey::generate_base64()).expect("a generated key reads"))
    }

    const SLOT: SecretSlot<'static> = SecretSlot {
        table: "upstream_keys",
        column: "value",
        row_id: "0190-abc",
    };

    #[test]
    fn a_secret_round_trips_and_never_appears_in_its_ciphertext() {
        let cipher = cipher();
        let stored = cipher.encrypt("sk-live-123456", SLOT).expect("encrypted");
        assert!(stored.starts_with(&format!("v1:{}:", cipher.current_key_id())));
        assert!(!stored.contains("sk-live-123456"));
        assert_ne!(
            stored,
            cipher.encrypt("sk-live-123456", SLOT).expect("encrypted"),
            "fresh nonce each time"
        );
        assert_eq!(cipher.decrypt(&stored, SLOT).ok().as_deref(), Some("sk-live-123456"));
    }

    #[test]
    fn a_ciphertext_moved_to_another_row_or_key_does_not_decrypt() {
        let cipher = cipher();
        let stored = cipher.encrypt("sk-live-123456", SLOT).expect("encrypted");
        let other_row = SecretSlot {
            row_id: "0190-def",
            ..SLOT
        };
        assert_eq!(cipher.decrypt(&stored, other_row), Err(SecretError::Undecryptable));
        let stranger = self::cipher();
        assert!(matches!(
            stranger.decrypt(&stored, SLOT),
            Err(SecretError::UnknownKey { .. })
        ));
        assert_eq!(cipher.decrypt("v1:nope", SLOT), Err(SecretError::Malformed));
    }

    #[test]
    fn old_values_decrypt_during_a_rotation() {
        let old_key = MasterKey::from_base64(&MasterKey::generate_base64()).expect("a generated key reads");
        let stored = SecretCipher::new(old_key.clone())
            .encrypt("sk-old", SLOT)
            .expect("encrypted under the old key");
        let rotating = cipher().with_previous(old_key);
        assert_eq!(rotating.decrypt(&stored, SLOT).ok().as_deref(), Some("sk-old"));
    }

    #[test]
    fn the_key_check_recognises_its_key() {
        let cipher = cipher();
        let check = cipher.key_check().expect("a key check");
        assert!(cipher.verify_key_check(&check).is_ok());
        assert!(self::cipher().verify_key_check(&check).is_err());
        assert_eq!(
            MasterKey::from_base64("c2hvcnQ=").err(),
            Some(SecretError::BadMasterKey)
        );
    }
}
