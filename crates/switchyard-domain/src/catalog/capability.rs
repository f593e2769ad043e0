//! Capabilities: what a model can do (`text_generation`, `vision`, `embedding`, ...) and which
//! kinds of input it takes and output it gives. The gateway will decide what a model accepts
//! from the active capabilities linked to it, not from its type label.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::catalog::ids::CapabilityId;
use crate::kernel::error::DomainError;
use crate::kernel::named::named_enum;
use crate::kernel::patch::merge_patch;
use crate::kernel::text::{length, optional, optional_bounded, slug};

named_enum!(
    /// A kind of content a model takes or gives (declared in name order: stored sets are
    /// sorted by it).
    Modality, "modality", "invalid_modality" {
        Audio => "audio",
        File => "file",
        Image => "image",
        Text => "text",
        Video => "video",
    }
);

named_enum!(
    /// The field of application of a capability.
    CapabilityDomain, "domain", "invalid_domain" {
        Nlp => "nlp",
        Cv => "cv",
        Audio => "audio",
        Multimodal => "multimodal",
    }
);

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
        .map(|(index, value)| Modality::parse_field(&format!("{field}[{index}]"), value.trim()))
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

impl CapabilitySpec {
    /// The fields as a caller would send them.
    pub fn to_input(&self) -> CapabilityInput {
        let names = |set: &BTreeSet<Modality>| set.iter().map(|modality| modality.as_str().to_owned()).collect();
        CapabilityInput {
            name: self.name.clone(),
            display_name: Some(self.display_name.clone()),
            description: self.description.clone(),
            capability_type: Some(self.capability_type.clone()),
            input_types: names(&self.input_types),
            output_types: names(&self.output_types),
            domain: self.domain.as_str().to_owned(),
            is_active: Some(self.is_active),
        }
    }
}

merge_patch!(
    /// A JSON Merge Patch of a capability's writable fields.
    CapabilityPatch of CapabilitySpec via CapabilityInput {
        name: String,
        display_name: Option<String>,
        description: Option<String>,
        capability_type: Option<String>,
        input_types: Vec<String>,
        output_types: Vec<String>,
        domain: String,
        is_active: Option<bool>,
    }
);

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
        .map(|part| Modality::parse_field(field, part))
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
        .expect("a valid capability");
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
