//! Settings: small instance-wide values kept in the database (for example the master-key check
//! value), shared by every instance; the `SettingsRepo` port is in `ports.rs`.

use chrono::{DateTime, Utc};

use crate::kernel::error::DomainError;

/// The name of a setting: 1–64 characters of `[a-z0-9_.]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SettingKey(String);

impl SettingKey {
    /// The longest key the `system_settings.key` column holds.
    pub const MAX_LEN: usize = 64;

    /// Parses a key, naming the broken rule.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let invalid = |message: &str| DomainError::validation("key", "invalid_setting_key", message);
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(invalid("must be 1 to 64 characters"));
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.';
        if !raw.chars().all(allowed) {
            return Err(invalid("may contain only a-z, 0-9, '_' and '.'"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: SettingKey,
    pub value: String,
    pub updated_at: DateTime<Utc>,
}

/// The longest value the `system_settings.value` column holds, in characters.
pub const MAX_SETTING_VALUE_LEN: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_keys_accept_dotted_lowercase_names() {
        assert!(SettingKey::parse("secrets.key_check").is_ok());
    }

    #[test]
    fn setting_keys_reject_empty_long_and_odd_names() {
        assert!(SettingKey::parse("").is_err());
        assert!(SettingKey::parse(&"a".repeat(65)).is_err());
        assert!(SettingKey::parse("Upper").is_err());
        assert!(SettingKey::parse("with space").is_err());
    }
}
