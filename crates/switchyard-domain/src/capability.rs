//! Capabilities: what a model can do (`text_generation`, `vision`, `embedding`, ...) and which
//! kinds of input it takes and output it gives. The gateway will decide what a model accepts
//! from the active capabilities linked to it, not from its type label.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::DomainError;
use crate::text::{length, optional, optional_bounded, slug};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CapabilityId(pub Uuid);

/// A kind of content a model takes or gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Modality {
    Audio,
    File,
    Image,
    Text,
    Video,
}

impl Modality {
    pub const ALL: [Modality; 5] = [Self::Audio, Self::File, Self::Image, Self::Text, Self::Video];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::File => "file",
            Self::Image => "image",
            Self::Text => "text",
            Self::Video => "video",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|modality| modality.as_str() == raw)
            .ok_or_else(|| {
                DomainError::validation(field, "invalid_modality", "must be text, image, audio, video or file")
            })
    }
}

/// The field of application of a capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapabilityDomain {
    Nlp,
    Cv,
    Audio,
    Multimodal,
}

impl CapabilityDomain {
    pub const ALL: [CapabilityDomain; 4] = [Self::Nlp, Self::Cv, Self::Audio, Self::Multimodal];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nlp => "nlp",
            Self::Cv => "cv",
            Self::Audio => "audio",
            Self::Multimodal => "multimodal",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|domain| domain.as_str() == raw)
            .ok_or_else(|| DomainError::validation("domain", "invalid_domain", "must be nlp, cv, audio or multimodal"))
    }
}

/// The writable fields of a capability, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilitySpec {
    /// A slug, unique among live capabilities.
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub capability_type: String,
    /// At least one.
    pub input_types: BTreeSet<Modality>,
    /// At least one.
    pub output_types: BTreeSet<Modality>,
    pub domain: CapabilityDomain,
    pub is_active: bool,
}

/// The raw writable fields, as a caller sends them.
#[derive(Debug, Clone, Default)]
pub struct CapabilityInput {
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub capability_type: Option<String>,
    pub input_types: Vec<String>,
    pub output_types: Vec<String>,
    pub domain: String,
    pub is_active: Option<bool>,
}

fn modalities(field: &str, raw: &[String]) -> Result<BTreeSet<Modality>, DomainError> {
    if raw.is_empty() {
        return Err(DomainError::validation(
            field,
            "required",
            "name at least one of text, image, audio, video, file",
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(index, value)| Modality::parse(&format!("{field}[{index}]"), value.trim()))
        .collect()
}

impl CapabilitySpec {
    pub fn parse(input: CapabilityInput) -> Result<Self, DomainError> {
        let name = slug("name", &input.name)?;
        let display_name = optional(input.display_name).unwrap_or_else(|| name.clone());
        length("display_name", &display_name, 1, 100)?;
        let capability_type = optional(input.capability_type).unwrap_or_else(|| "general".to_owned());
        length("capability_type", &capability_type, 1, 32)?;
        Ok(Self {
            description: optional_bounded("description", input.description, 2000)?,
            input_types: modalities("input_types", &input.input_types)?,
            output_types: modalities("output_types", &input.output_types)?,
            domain: CapabilityDomain::parse(input.domain.trim())?,
            name,
            display_name,
            capability_type,
            is_active: input.is_active.unwrap_or(true),
        })
    }
}

/// A capability as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    pub id: CapabilityId,
    pub spec: CapabilitySpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A set of modalities as stored: sorted names joined by commas (`image,text`).
pub fn join_modalities(set: &BTreeSet<Modality>) -> String {
    set.iter()
        .map(|modality| modality.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads a stored set back.
pub fn split_modalities(field: &str, stored: &str) -> Result<BTreeSet<Modality>, DomainError> {
    stored
        .split(',')
        .filter(|part| !part.is_empty())
        .map(|part| Modality::parse(field, part))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modalities_are_checked_deduplicated_and_stored_sorted() {
        let spec = CapabilitySpec::parse(CapabilityInput {
            name: "vision".into(),
            input_types: vec!["text".into(), "image".into(), "text".into()],
            output_types: vec!["text".into()],
            domain: "multimodal".into(),
            ..CapabilityInput::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(join_modalities(&spec.input_types), "image,text");
        assert_eq!(
            split_modalities("input_types", "image,text").ok(),
            Some(spec.input_types)
        );
        let bad = CapabilitySpec::parse(CapabilityInput {
            name: "x".into(),
            input_types: vec!["smell".into()],
            output_types: vec!["text".into()],
            domain: "nlp".into(),
            ..CapabilityInput::default()
        });
        assert!(matches!(bad, Err(DomainError::Validation { field, .. }) if field == "input_types[0]"));
    }
}
