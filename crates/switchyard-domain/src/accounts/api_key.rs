//! Gateway API keys: what a key is, and the rules for creating one.

use chrono::{DateTime, Utc};

use crate::accounts::limits::Limits;
use crate::kernel::error::DomainError;
use crate::kernel::ids::{UserId, id_type};

id_type!(
    /// A gateway API key's id.
    ApiKeyId
);

/// A key as stored; the secret itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub name: String,
    /// The first 8 characters after `sy-`, to recognise the key.
    pub prefix: String,
    pub key_hash: String,
    /// Model names the key may use; empty = every model.
    pub allowed_models: Vec<String>,
    /// Its rate limits and budget (its owner's, within the user's).
    pub limits: Limits,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The last call made with the key, as the call log has recorded it (minutes behind at most).
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether the key authenticates at `now`: live, not revoked, not expired.
    pub fn usable(&self, now: DateTime<Utc>) -> bool {
        self.deleted_at.is_none() && self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }

    /// Whether the key may use `model`.
    pub fn allows_model(&self, model: &str) -> bool {
        self.allowed_models.is_empty() || self.allowed_models.iter().any(|allowed| allowed == model)
    }
}

/// What a caller asks for when creating a key, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeySpec {
    pub name: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub allowed_models: Vec<String>,
}

impl ApiKeySpec {
    pub const MAX_NAME_CHARS: usize = 100;
    pub const MAX_MODELS: usize = 100;
    pub const MAX_MODEL_NAME_CHARS: usize = 128;

    pub fn parse(
        name: &str,
        expires_at: Option<DateTime<Utc>>,
        allowed_models: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > Self::MAX_NAME_CHARS {
            return Err(DomainError::validation(
                "name",
                "invalid_length",
                "must be 1 to 100 characters",
            ));
        }
        if expires_at.is_some_and(|at| at <= now) {
            return Err(DomainError::validation(
                "expires_at",
                "in_the_past",
                "must be in the future",
            ));
        }
        if allowed_models.len() > Self::MAX_MODELS {
            return Err(DomainError::validation(
                "allowed_models",
                "too_many",
                "at most 100 models",
            ));
        }
        let mut models: Vec<String> = Vec::with_capacity(allowed_models.len());
        for (index, model) in allowed_models.into_iter().enumerate() {
            let model = model.trim().to_owned();
            if model.is_empty() || model.chars().count() > Self::MAX_MODEL_NAME_CHARS {
                return Err(DomainError::validation(
                    &format!("allowed_models[{index}]"),
                    "invalid_length",
                    "must be 1 to 128 characters",
                ));
            }
            if !models.contains(&model) {
                models.push(model);
            }
        }
        Ok(Self {
            name: name.to_owned(),
            expires_at,
            allowed_models: models,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn specs_are_checked_and_models_deduplicated() {
        let now = Utc::now();
        let spec = ApiKeySpec::parse(" ci ", None, vec!["gpt-4o".into(), "gpt-4o".into()], now);
        assert_eq!(
            spec.map(|s| (s.name, s.allowed_models)).ok(),
            Some(("ci".into(), vec!["gpt-4o".into()]))
        );
        assert!(ApiKeySpec::parse("", None, vec![], now).is_err());
        assert!(ApiKeySpec::parse("k", Some(now - Duration::seconds(1)), vec![], now).is_err());
        assert!(ApiKeySpec::parse("k", None, vec![" ".into()], now).is_err());
    }
}
