//! Suppliers: who serves models, how we talk to them (the protocol), and their API key, which is
//! stored encrypted and never shown again (only whether one is set and its last four characters).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalog::ids::SupplierId;
use crate::kernel::error::DomainError;
use crate::kernel::named::named_enum;
use crate::kernel::patch::merge_patch;
use crate::kernel::text::{length, optional, optional_bounded, slug};

named_enum!(
    /// How the gateway talks to a supplier.
    Protocol, "protocol", "invalid_protocol" {
        /// Every OpenAI-compatible API: OpenAI, DeepSeek, Baidu Qianfan v2, Ollama, vLLM, ...
        OpenAi => "openai",
        AzureOpenAi => "azure_openai",
        Anthropic => "anthropic",
        Gemini => "gemini",
        Replicate => "replicate",
    }
);

/// The writable fields of a supplier, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplierSpec {
    /// A slug: 1–64 of `[a-z0-9_-]`, starting with a letter or digit; unique among live suppliers.
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub protocol: Protocol,
    pub base_url: String,
    pub api_key_required: bool,
    pub website: Option<String>,
    pub api_docs: Option<String>,
    pub category: Option<String>,
    pub logo: Option<String>,
    pub is_active: bool,
}

/// The raw writable fields, as a caller sends them.
#[derive(Debug, Clone, Default)]
pub struct SupplierInput {
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub protocol: String,
    pub base_url: String,
    pub api_key_required: Option<bool>,
    pub website: Option<String>,
    pub api_docs: Option<String>,
    pub category: Option<String>,
    pub logo: Option<String>,
    pub is_active: Option<bool>,
}

pub const MAX_URL_LEN: usize = 500;

fn check_url(field: &str, value: &str) -> Result<String, DomainError> {
    length(field, value, 1, MAX_URL_LEN)?;
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(value.to_owned()),
        _ => Err(DomainError::validation(
            field,
            "invalid_url",
            "must be an http or https URL",
        )),
    }
}

impl SupplierSpec {
    pub fn parse(input: SupplierInput) -> Result<Self, DomainError> {
        let name = slug("name", &input.name)?;
        let display_name = optional(input.display_name).unwrap_or_else(|| name.clone());
        length("display_name", &display_name, 1, 100)?;
        let description = optional_bounded("description", input.description, 2000)?;
        let category = optional_bounded("category", input.category, 64)?;
        let logo = optional_bounded("logo", input.logo, MAX_URL_LEN)?;
        Ok(Self {
            protocol: Protocol::parse(input.protocol.trim())?,
            base_url: check_url("base_url", input.base_url.trim())?,
            website: optional(input.website)
                .map(|url| check_url("website", &url))
                .transpose()?,
            api_docs: optional(input.api_docs)
                .map(|url| check_url("api_docs", &url))
                .transpose()?,
            name,
            display_name,
            description,
            category,
            logo,
            api_key_required: input.api_key_required.unwrap_or(true),
            is_active: input.is_active.unwrap_or(true),
        })
    }
}

impl SupplierSpec {
    /// The fields as a caller would send them.
    pub fn to_input(&self) -> SupplierInput {
        SupplierInput {
            name: self.name.clone(),
            display_name: Some(self.display_name.clone()),
            description: self.description.clone(),
            protocol: self.protocol.as_str().to_owned(),
            base_url: self.base_url.clone(),
            api_key_required: Some(self.api_key_required),
            website: self.website.clone(),
            api_docs: self.api_docs.clone(),
            category: self.category.clone(),
            logo: self.logo.clone(),
            is_active: Some(self.is_active),
        }
    }
}

merge_patch!(
    /// A JSON Merge Patch of a supplier's writable fields (its key is changed beside it).
    SupplierPatch of SupplierSpec via SupplierInput {
        name: String,
        display_name: Option<String>,
        description: Option<String>,
        protocol: String,
        base_url: String,
        api_key_required: Option<bool>,
        website: Option<String>,
        api_docs: Option<String>,
        category: Option<String>,
        logo: Option<String>,
        is_active: Option<bool>,
    }
);

/// What an admin does to a supplier's API key in a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    Keep,
    Remove,
    /// Set a new key: the upstream-key row id it is bound to, its ciphertext, its last 4 characters.
    Set {
        key_id: Uuid,
        ciphertext: String,
        last4: String,
    },
}

/// A supplier as stored. `key_last4` is `Some` when a key is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supplier {
    pub id: SupplierId,
    pub spec: SupplierSpec,
    pub key_last4: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// The largest API key accepted, in characters.
pub const MAX_API_KEY_LEN: usize = 512;

/// Checks a new API key and returns its last four characters.
pub fn api_key_last4(key: &str) -> Result<String, DomainError> {
    let key = key.trim();
    if key.is_empty() || key.chars().count() > MAX_API_KEY_LEN || key.chars().any(char::is_control) {
        return Err(DomainError::validation(
            "api_key",
            "invalid_api_key",
            "must be 1 to 512 characters without control characters",
        ));
    }
    let chars: Vec<char> = key.chars().collect();
    Ok(chars[chars.len().saturating_sub(4)..].iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SupplierInput {
        SupplierInput {
            name: "openai".into(),
            protocol: "openai".into(),
            base_url: "https://api.openai.com/v1".into(),
            ..SupplierInput::default()
        }
    }

    #[test]
    fn a_supplier_spec_is_checked_and_defaulted() {
        let spec = SupplierSpec::parse(input()).expect("a valid supplier");
        assert_eq!(
            (spec.display_name.as_str(), spec.api_key_required, spec.is_active),
            ("openai", true, true)
        );
        for (change, field) in [
            (
                SupplierInput {
                    name: "Open AI".into(),
                    ..input()
                },
                "name",
            ),
            (
                SupplierInput {
                    protocol: "grpc".into(),
                    ..input()
                },
                "protocol",
            ),
            (
                SupplierInput {
                    base_url: "ftp://x".into(),
                    ..input()
                },
                "base_url",
            ),
            (
                SupplierInput {
                    website: Some("not a url".into()),
                    ..input()
                },
                "website",
            ),
        ] {
            match SupplierSpec::parse(change) {
                Err(DomainError::Validation { field: got, .. }) => assert_eq!(got, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn only_the_last_four_characters_of_a_key_are_kept() {
        assert_eq!(api_key_last4(" sk-abcdef123 ").ok().as_deref(), Some("f123"));
        assert_eq!(api_key_last4("abc").ok().as_deref(), Some("abc"));
        assert!(api_key_last4("").is_err());
    }
}
