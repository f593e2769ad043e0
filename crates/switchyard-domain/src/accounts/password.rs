//! Passwords: the rules a new password must meet, and bcrypt itself (the `PasswordHasher` port
//! in `ports.rs` runs it off the async executor).

use crate::kernel::error::DomainError;

/// bcrypt reads at most 72 bytes, the password's terminating NUL included, so 71 of the
/// password; longer passwords are refused rather than silently cut.
pub const MAX_PASSWORD_BYTES: usize = 71;
pub const MIN_PASSWORD_CHARS: usize = 8;

/// The most common passwords (lower-cased), refused outright.
const COMMON_PASSWORDS: &[&str] = &[
    "12345678",
    "123456789",
    "1234567890",
    "password",
    "password1",
    "password123",
    "passw0rd",
    "qwertyui",
    "qwerty123",
    "qwertyuiop",
    "1q2w3e4r",
    "1qaz2wsx",
    "iloveyou",
    "11111111",
    "00000000",
    "12341234",
    "87654321",
    "abcd1234",
    "abc12345",
    "admin123",
    "administrator",
    "welcome1",
    "welcome123",
    "letmein1",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "superman",
    "trustno1",
    "whatever",
    "starwars",
    "changeme",
    "computer",
    "internet",
    "michelle",
    "jennifer",
    "password!",
    "p@ssw0rd",
    "asdfghjk",
    "zxcvbnm1",
    "monkey123",
    "dragon123",
    "master123",
    "qazwsxedc",
    "aa123456",
    "a1234567",
    "88888888",
    "66666666",
    "woaini1314",
    "5201314520",
    "switchyard",
];

/// A new password that meets the rules: 8+ characters, at most 71 bytes, not the username,
/// not one of the most common passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    /// Checks a new password; `field` names it in the error (`password`, `new_password`).
    pub fn parse_new(raw: &str, username: &str, field: &str) -> Result<Self, DomainError> {
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(DomainError::validation(
                field,
                "password_too_short",
                "must be at least 8 characters",
            ));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(DomainError::validation(
                field,
                "password_too_long",
                "must be at most 71 bytes (bcrypt reads no more)",
            ));
        }
        if raw.eq_ignore_ascii_case(username) {
            return Err(DomainError::validation(
                field,
                "password_is_username",
                "must not be the username",
            ));
        }
        if COMMON_PASSWORDS.contains(&raw.to_lowercase().as_str()) {
            return Err(DomainError::validation(
                field,
                "password_too_common",
                "is one of the most common passwords",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A password presented at login or for confirmation: not checked against the rules,
    /// only against its hash.
    pub fn presented(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// bcrypt at `cost`, refusing (not truncating) passwords over 71 bytes. CPU-bound: call it
/// from a blocking thread.
pub fn bcrypt_hash(password: &Password, cost: u32) -> Result<String, DomainError> {
    bcrypt::non_truncating_hash(password.expose(), cost).map_err(|error| DomainError::Internal(error.to_string()))
}

/// Verifies against a bcrypt hash; an over-long password or a malformed hash is "no match".
pub fn bcrypt_verify(password: &Password, hash: &str) -> bool {
    bcrypt::non_truncating_verify(password.expose(), hash).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(raw: &str) -> Option<&'static str> {
        match Password::parse_new(raw, "alice", "password") {
            Ok(_) => None,
            Err(DomainError::Validation { code, .. }) => Some(code),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn new_passwords_follow_the_rules() {
        assert_eq!(rule("correct horse battery"), None);
        assert_eq!(rule("short"), Some("password_too_short"));
        assert_eq!(rule(&"x".repeat(72)), Some("password_too_long"));
        assert_eq!(rule(&"é".repeat(37)), Some("password_too_long"));
        assert_eq!(rule("ALICE"), Some("password_too_short"));
        assert!(Password::parse_new("alice_password", "alice_password", "p").is_err());
        assert_eq!(rule("Password123"), Some("password_too_common"));
    }

    #[test]
    fn bcrypt_round_trips_and_refuses_long_passwords() {
        let password = Password::parse_new("correct horse battery", "alice", "password").expect("a valid password");
        let hash = bcrypt_hash(&password, 4).expect("a bcrypt hash");
        assert!(bcrypt_verify(&password, &hash));
        assert!(!bcrypt_verify(&Password::presented("wrong horse battery"), &hash));
        let long = Password::presented(&format!("{}{}", "correct horse battery", "x".repeat(60)));
        assert!(!bcrypt_verify(&long, &hash));
        // The longest password the rules let through is one bcrypt hashes whole.
        let longest =
            Password::parse_new(&"y".repeat(MAX_PASSWORD_BYTES), "alice", "password").expect("the longest password");
        let hash = bcrypt_hash(&longest, 4).expect("the longest password hashes");
        assert!(bcrypt_verify(&longest, &hash));
    }
}
