//! Models: what clients ask for by name, who supplies them (the primary supplier and further
//! routes), their type, limits and prices. Prices are integers: micro-units of the model's
//! currency per million tokens.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalog::capability::{Capability, Modality};
use crate::catalog::category::Category;
use crate::catalog::ids::{ModelId, RouteId, SupplierId};
use crate::catalog::parameter::Parameter;
use crate::kernel::error::DomainError;
use crate::kernel::named::named_enum;
use crate::kernel::patch::merge_patch;
use crate::kernel::text::{currency, length, optional, optional_bounded};

named_enum!(
    /// A model's kind: a label for people and for the default-per-type rule, not what decides
    /// which inputs it takes (its capabilities do).
    ModelType, "model_type", "invalid_value" {
        Language => "language",
        Vision => "vision",
        Multimodal => "multimodal",
        Audio => "audio",
        Embedding => "embedding",
        Image => "image",
    }
);

named_enum!(
    /// How a model is called.
    SubType, "sub_type", "invalid_value" {
        Chat => "chat",
        Completion => "completion",
        Embedding => "embedding",
        ImageGeneration => "image_generation",
        SpeechToText => "speech_to_text",
        TextToSpeech => "text_to_speech",
        Rerank => "rerank",
        Moderation => "moderation",
    }
);

/// Prices in micro-units of `currency` per million tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pricing {
    pub input: i64,
    pub cached_input: Option<i64>,
    pub output: i64,
    /// ISO 4217, upper case (`USD`, `CNY`).
    pub currency: String,
}

/// The writable fields of a model, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// What clients send; unique among live models.
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    /// The primary supplier.
    pub supplier_id: SupplierId,
    /// The supplier's id for the model, when it differs from `name`.
    pub upstream_name: Option<String>,
    pub model_type: ModelType,
    pub sub_type: SubType,
    pub context_window: Option<i64>,
    pub max_output_tokens: Option<i64>,
    pub pricing: Pricing,
    pub rate_limit_per_minute: Option<i64>,
    pub api_version: Option<String>,
    /// Models tried in order when every route of this one failed (names; unknown or
    /// unroutable ones are skipped at call time).
    pub fallback_models: Vec<String>,
    pub is_active: bool,
}

impl ModelSpec {
    /// The name the primary supplier knows the model by.
    pub fn upstream(&self) -> &str {
        self.upstream_name.as_deref().unwrap_or(&self.name)
    }
}

/// The raw writable fields, as a caller sends them.
#[derive(Debug, Clone, Default)]
pub struct ModelInput {
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub supplier_id: Uuid,
    pub upstream_name: Option<String>,
    pub model_type: String,
    pub sub_type: Option<String>,
    pub context_window: Option<i64>,
    pub max_output_tokens: Option<i64>,
    pub input_price: i64,
    pub cached_input_price: Option<i64>,
    pub output_price: i64,
    pub currency: String,
    pub rate_limit_per_minute: Option<i64>,
    pub api_version: Option<String>,
    pub fallback_models: Option<Vec<String>>,
    pub is_active: Option<bool>,
}

/// The most fallback models a model may name.
pub const MAX_FALLBACK_MODELS: usize = 10;

/// A model's fallbacks: model names, at most [`MAX_FALLBACK_MODELS`], each once, never itself.
fn fallback_models(name: &str, raw: Option<Vec<String>>) -> Result<Vec<String>, DomainError> {
    let raw = raw.unwrap_or_default();
    if raw.len() > MAX_FALLBACK_MODELS {
        return Err(DomainError::validation(
            "fallback_models",
            "too_many",
            format!("at most {MAX_FALLBACK_MODELS} models"),
        ));
    }
    let mut names: Vec<String> = Vec::with_capacity(raw.len());
    for entry in raw {
        let fallback = model_name("fallback_models", &entry)?;
        if fallback == name || names.contains(&fallback) {
            return Err(DomainError::validation(
                "fallback_models",
                "invalid_value",
                format!("{fallback} is named twice or is the model itself"),
            ));
        }
        names.push(fallback);
    }
    Ok(names)
}

/// A model name as clients send it: 1–128 of `[A-Za-z0-9._:/@-]`, starting with a letter or
/// digit (`gpt-4o`, `meta/llama-3-70b-instruct`, `llama3.1:8b`).
pub fn model_name(field: &str, raw: &str) -> Result<String, DomainError> {
    let name = raw.trim().to_owned();
    length(field, &name, 1, 128)?;
    let allowed = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'/' | b'@' | b'-'));
    if !allowed || !name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric()) {
        return Err(DomainError::validation(
            field,
            "invalid_model_name",
            "may contain only letters, digits and . _ : / @ -, starting with a letter or digit",
        ));
    }
    Ok(name)
}

/// A non-negative integer (tokens, prices).
pub(crate) fn non_negative(field: &str, value: i64) -> Result<i64, DomainError> {
    if value < 0 {
        return Err(DomainError::validation(field, "out_of_range", "must not be negative"));
    }
    Ok(value)
}

fn positive(field: &str, value: Option<i64>) -> Result<Option<i64>, DomainError> {
    match value {
        Some(value) if value < 1 => Err(DomainError::validation(field, "out_of_range", "must be at least 1")),
        other => Ok(other),
    }
}

impl ModelSpec {
    pub fn parse(input: ModelInput) -> Result<Self, DomainError> {
        let name = model_name("name", &input.name)?;
        let display_name = optional(input.display_name).unwrap_or_else(|| name.clone());
        length("display_name", &display_name, 1, 200)?;
        let upstream_name = optional(input.upstream_name)
            .map(|upstream| model_name("upstream_name", &upstream))
            .transpose()?;
        let sub_type = match optional(input.sub_type) {
            Some(raw) => SubType::parse(&raw)?,
            None => SubType::Chat,
        };
        Ok(Self {
            description: optional_bounded("description", input.description, 2000)?,
            supplier_id: SupplierId(input.supplier_id),
            upstream_name,
            model_type: ModelType::parse(input.model_type.trim())?,
            sub_type,
            context_window: positive("context_window", input.context_window)?,
            max_output_tokens: positive("max_output_tokens", input.max_output_tokens)?,
            pricing: Pricing {
                input: non_negative("input_price", input.input_price)?,
                cached_input: input
                    .cached_input_price
                    .map(|price| non_negative("cached_input_price", price))
                    .transpose()?,
                output: non_negative("output_price", input.output_price)?,
                currency: currency("currency", &input.currency)?,
            },
            rate_limit_per_minute: positive("rate_limit_per_minute", input.rate_limit_per_minute)?,
            api_version: optional_bounded("api_version", input.api_version, 32)?,
            fallback_models: fallback_models(&name, input.fallback_models)?,
            is_active: input.is_active.unwrap_or(true),
            name,
            display_name,
        })
    }
}

impl ModelSpec {
    /// The fields as a caller would send them.
    pub fn to_input(&self) -> ModelInput {
        ModelInput {
            name: self.name.clone(),
            display_name: Some(self.display_name.clone()),
            description: self.description.clone(),
            supplier_id: self.supplier_id.0,
            upstream_name: self.upstream_name.clone(),
            model_type: self.model_type.as_str().to_owned(),
            sub_type: Some(self.sub_type.as_str().to_owned()),
            context_window: self.context_window,
            max_output_tokens: self.max_output_tokens,
            input_price: self.pricing.input,
            cached_input_price: self.pricing.cached_input,
            output_price: self.pricing.output,
            currency: self.pricing.currency.clone(),
            rate_limit_per_minute: self.rate_limit_per_minute,
            api_version: self.api_version.clone(),
            fallback_models: Some(self.fallback_models.clone()),
            is_active: Some(self.is_active),
        }
    }
}

merge_patch!(
    /// A JSON Merge Patch of a model's writable fields.
    ModelPatch of ModelSpec via ModelInput {
        name: String,
        display_name: Option<String>,
        description: Option<String>,
        supplier_id: Uuid,
        upstream_name: Option<String>,
        model_type: String,
        sub_type: Option<String>,
        context_window: Option<i64>,
        max_output_tokens: Option<i64>,
        input_price: i64,
        cached_input_price: Option<i64>,
        output_price: i64,
        currency: String,
        rate_limit_per_minute: Option<i64>,
        api_version: Option<String>,
        fallback_models: Option<Vec<String>>,
        is_active: Option<bool>,
    }
);

/// The few supplier fields a model shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplierSummary {
    pub id: SupplierId,
    pub name: String,
    pub display_name: String,
    /// Active and not deleted.
    pub usable: bool,
}

/// A model as stored, with its primary supplier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub id: ModelId,
    pub spec: ModelSpec,
    pub supplier: SupplierSummary,
    /// The default model of its type.
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Model {
    /// Whether the gateway may send requests for it: the model is active and live, and so is
    /// its supplier.
    pub fn routable(&self) -> bool {
        self.spec.is_active && self.deleted_at.is_none() && self.supplier.usable
    }
}

/// A route's writable fields, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub supplier_id: SupplierId,
    pub upstream_name: String,
    /// Lower is tried first; 0–1000.
    pub priority: i32,
    /// Share among routes of equal priority; 1–1000.
    pub weight: i32,
    /// Overrides the model's prices on this route (same currency); all `None` = the model's.
    pub input_price: Option<i64>,
    pub cached_input_price: Option<i64>,
    pub output_price: Option<i64>,
    pub is_active: bool,
}

#[derive(Debug, Clone, Default)]
pub struct RouteInput {
    pub supplier_id: Uuid,
    pub upstream_name: String,
    pub priority: Option<i32>,
    pub weight: Option<i32>,
    pub input_price: Option<i64>,
    pub cached_input_price: Option<i64>,
    pub output_price: Option<i64>,
    pub is_active: Option<bool>,
}

fn bounded(field: &str, value: i32, min: i32, max: i32) -> Result<i32, DomainError> {
    if value < min || value > max {
        return Err(DomainError::validation(
            field,
            "out_of_range",
            format!("must be between {min} and {max}"),
        ));
    }
    Ok(value)
}

impl RouteSpec {
    pub fn parse(input: RouteInput) -> Result<Self, DomainError> {
        let price = |field: &str, value: Option<i64>| value.map(|price| non_negative(field, price)).transpose();
        Ok(Self {
            supplier_id: SupplierId(input.supplier_id),
            upstream_name: model_name("upstream_name", &input.upstream_name)?,
            priority: bounded("priority", input.priority.unwrap_or(0), 0, 1000)?,
            weight: bounded("weight", input.weight.unwrap_or(1), 1, 1000)?,
            input_price: price("input_price", input.input_price)?,
            cached_input_price: price("cached_input_price", input.cached_input_price)?,
            output_price: price("output_price", input.output_price)?,
            is_active: input.is_active.unwrap_or(true),
        })
    }
}

/// A route from a model to a supplier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub id: RouteId,
    pub model_id: ModelId,
    pub spec: RouteSpec,
    /// The route that follows the model's own supplier and upstream name; it changes with the
    /// model and cannot be deleted.
    pub is_primary: bool,
    pub supplier: SupplierSummary,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A capability linked to a model, with the link's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedCapability {
    pub capability: Capability,
    /// A JSON object, when set.
    pub config: Option<serde_json::Value>,
    pub is_default: bool,
}

/// A model with everything linked to it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelDetail {
    pub model: Model,
    pub parameters: Vec<Parameter>,
    pub capabilities: Vec<LinkedCapability>,
    pub categories: Vec<Category>,
    pub routes: Vec<Route>,
}

impl ModelDetail {
    /// What the model takes and gives: exactly the kinds listed by its active, live capabilities.
    pub fn modalities(&self) -> (BTreeSet<Modality>, BTreeSet<Modality>) {
        let mut inputs = BTreeSet::new();
        let mut outputs = BTreeSet::new();
        for linked in &self.capabilities {
            let capability = &linked.capability;
            if capability.spec.is_active && capability.deleted_at.is_none() {
                inputs.extend(capability.spec.input_types.iter().copied());
                outputs.extend(capability.spec.output_types.iter().copied());
            }
        }
        (inputs, outputs)
    }
}

/// The largest `config_json` accepted, serialised.
pub const MAX_CONFIG_JSON_LEN: usize = 4000;

/// Checks an association's configuration: a JSON object of at most 4000 characters.
pub fn check_config(field: &str, config: Option<serde_json::Value>) -> Result<Option<serde_json::Value>, DomainError> {
    match config {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(value @ serde_json::Value::Object(_)) => {
            if value.to_string().chars().count() > MAX_CONFIG_JSON_LEN {
                return Err(DomainError::validation(
                    field,
                    "too_long",
                    "must serialise to at most 4000 characters",
                ));
            }
            Ok(Some(value))
        }
        Some(_) => Err(DomainError::validation(field, "invalid_type", "must be a JSON object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::capability::{CapabilityDomain, CapabilitySpec};
    use crate::catalog::ids::CapabilityId;

    fn input() -> ModelInput {
        ModelInput {
            name: "gpt-4o".into(),
            supplier_id: Uuid::nil(),
            model_type: "multimodal".into(),
            input_price: 2_500_000,
            output_price: 10_000_000,
            currency: "usd".into(),
            ..ModelInput::default()
        }
    }

    #[test]
    fn a_model_spec_is_checked_and_defaulted() {
        let spec = ModelSpec::parse(input()).expect("a valid model");
        assert_eq!(spec.pricing.currency, "USD");
        assert_eq!(spec.sub_type, SubType::Chat);
        assert_eq!(spec.upstream(), "gpt-4o");
        for (change, field) in [
            (
                ModelInput {
                    name: "gpt 4o".into(),
                    ..input()
                },
                "name",
            ),
            (
                ModelInput {
                    model_type: "robot".into(),
                    ..input()
                },
                "model_type",
            ),
            (
                ModelInput {
                    input_price: -1,
                    ..input()
                },
                "input_price",
            ),
            (
                ModelInput {
                    currency: "dollars".into(),
                    ..input()
                },
                "currency",
            ),
            (
                ModelInput {
                    context_window: Some(0),
                    ..input()
                },
                "context_window",
            ),
        ] {
            match ModelSpec::parse(change) {
                Err(DomainError::Validation { field: got, .. }) => assert_eq!(got, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(model_name("name", "meta/llama-3-70b-instruct").is_ok());
        assert!(model_name("name", "llama3.1:8b").is_ok());
    }

    #[test]
    fn a_model_takes_exactly_what_its_active_live_capabilities_list() {
        let at = Utc::now();
        let capability = |name: &str, inputs: &[Modality], active: bool| LinkedCapability {
            capability: Capability {
                id: CapabilityId(Uuid::now_v7()),
                spec: CapabilitySpec {
                    name: name.into(),
                    display_name: name.into(),
                    description: None,
                    capability_type: "general".into(),
                    input_types: inputs.iter().copied().collect(),
                    output_types: [Modality::Text].into_iter().collect(),
                    domain: CapabilityDomain::Nlp,
                    is_active: active,
                },
                created_at: at,
                updated_at: at,
                deleted_at: None,
            },
            config: None,
            is_default: false,
        };
        let spec = ModelSpec::parse(input()).expect("a valid model");
        let detail = ModelDetail {
            model: Model {
                id: ModelId(Uuid::now_v7()),
                spec,
                supplier: SupplierSummary {
                    id: SupplierId(Uuid::nil()),
                    name: "openai".into(),
                    display_name: "OpenAI".into(),
                    usable: true,
                },
                is_default: false,
                created_at: at,
                updated_at: at,
                deleted_at: None,
            },
            parameters: vec![],
            capabilities: vec![
                capability("text_generation", &[Modality::Text], true),
                capability("vision", &[Modality::Image], false),
            ],
            categories: vec![],
            routes: vec![],
        };
        let (inputs, outputs) = detail.modalities();
        assert_eq!(inputs.into_iter().collect::<Vec<_>>(), [Modality::Text]);
        assert_eq!(outputs.into_iter().collect::<Vec<_>>(), [Modality::Text]);
    }

    #[test]
    fn association_config_must_be_a_small_object() {
        assert_eq!(check_config("config_json", None).ok(), Some(None));
        assert!(check_config("config_json", Some(serde_json::json!({"detail": "high"}))).is_ok());
        assert!(check_config("config_json", Some(serde_json::json!([1]))).is_err());
        let big = serde_json::json!({"x": "y".repeat(5000)});
        assert!(check_config("config_json", Some(big)).is_err());
    }
}
