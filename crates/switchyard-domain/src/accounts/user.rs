//! Users: the rules for names and emails, and account state.

use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::accounts::limits::Limits;
use crate::kernel::error::DomainError;
use crate::kernel::ids::UserId;
use crate::kernel::principal::Role;

/// 3–64 ASCII characters of `[A-Za-z0-9_.-]`; unique case-insensitively, reserved forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.len() < Self::MIN_LEN || raw.len() > Self::MAX_LEN {
            return Err(DomainError::validation(
                "username",
                "invalid_length",
                "must be 3 to 64 characters",
            ));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return Err(DomainError::validation(
                "username",
                "invalid_characters",
                "may contain only letters, digits, '_', '.' and '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased form that uniqueness is decided on.
    pub fn canonical(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// Any Unicode, 1–100 characters, no control characters, no surrounding whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_LEN: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        let length = trimmed.chars().count();
        if length == 0 || length > Self::MAX_LEN {
            return Err(DomainError::validation(
                "display_name",
                "invalid_length",
                "must be 1 to 100 characters",
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(DomainError::validation(
                "display_name",
                "invalid_characters",
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A syntactically valid email address of at most 254 characters; unique case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        if trimmed.len() > Self::MAX_LEN {
            return Err(DomainError::validation(
                "email",
                "invalid_length",
                "must be at most 254 characters",
            ));
        }
        match email_address::EmailAddress::from_str(trimmed) {
            Ok(_) if trimmed.contains('@') && !trimmed.contains(' ') => Ok(Self(trimmed.to_owned())),
            _ => Err(DomainError::validation(
                "email",
                "invalid_email",
                "is not a valid email address",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn canonical(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A user as stored. The password hash never leaves the domain and persistence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub role: Role,
    pub is_active: bool,
    pub is_locked: bool,
    pub locked_reason: Option<String>,
    /// When a lock ends; `None` while locked means an admin lock with no end.
    pub locked_until: Option<DateTime<Utc>>,
    pub failed_login_attempts: i64,
    pub last_login_at: Option<DateTime<Utc>>,
    pub token_version: i64,
    /// Rate limits and budget an admin set on the account (each key's are within them).
    pub limits: Limits,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl User {
    /// Whether a lock is in force at `now` (an expired lock lifts itself).
    pub fn lock_in_force(&self, now: DateTime<Utc>) -> bool {
        self.is_locked && self.locked_until.is_none_or(|until| until > now)
    }

    /// Locked by an admin (until an admin unlocks it), as opposed to a lockout after failed
    /// logins, which ends by itself.
    pub fn admin_locked(&self) -> bool {
        self.is_locked && self.locked_until.is_none()
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub username: Username,
    pub display_name: DisplayName,
    pub email: Option<Email>,
    pub password_hash: String,
    pub role: Role,
    pub now: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_rules() {
        assert!(Username::parse("alice_01.b-c").is_ok());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(65)).is_err());
        assert!(Username::parse("名字abc").is_err());
        assert_eq!(
            Username::parse("Alice").map(|u| u.canonical()).ok(),
            Some("alice".to_owned())
        );
    }

    #[test]
    fn display_names_take_any_unicode_up_to_100_characters() {
        assert_eq!(
            DisplayName::parse(" 王小明 🚀 ").map(|d| d.0).ok(),
            Some("王小明 🚀".to_owned())
        );
        assert!(DisplayName::parse(&"字".repeat(100)).is_ok());
        assert!(DisplayName::parse(&"字".repeat(101)).is_err());
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("a\u{0007}b").is_err());
    }

    #[test]
    fn emails_are_validated() {
        assert!(Email::parse("Alice@Example.com").is_ok());
        assert!(Email::parse("not-an-email").is_err());
        assert!(Email::parse("a b@example.com").is_err());
        assert_eq!(
            Email::parse("A@B.io").map(|e| e.canonical()).ok(),
            Some("a@b.io".to_owned())
        );
    }
}
