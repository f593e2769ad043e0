//! The catalog as a file: natural keys only (supplier, model and capability names, category
//! paths), no ids, timestamps or secrets, sorted, so it diffs well in git. `plan.rs` checks a
//! file whole; `diff.rs` turns the check into changes to the live catalog.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::capability::CapabilityInput;
use crate::catalog::parameter::ParameterInput;
use crate::catalog::supplier::SupplierInput;

/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    pub version: u32,
    /// When the prices were last checked (free text, e.g. `2026-11-01`).
    #[serde(default)]
    pub prices_as_of: Option<String>,
    #[serde(default)]
    pub suppliers: Vec<SupplierEntry>,
    #[serde(default)]
    pub capabilities: Vec<CapabilityEntry>,
    #[serde(default)]
    pub categories: Vec<CategoryEntry>,
    #[serde(default)]
    pub models: Vec<ModelEntry>,
    /// Model type → the name of its default model.
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplierEntry {
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub protocol: String,
    pub base_url: String,
    #[serde(default)]
    pub api_key_required: Option<bool>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub api_docs: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub logo: Option<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilityEntry {
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub capability_type: Option<String>,
    pub input_types: Vec<String>,
    pub output_types: Vec<String>,
    pub domain: String,
    #[serde(default)]
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryEntry {
    /// Names from the root, joined by `/` (`llm/chat`); every ancestor is listed too.
    pub path: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub category_type: Option<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// The primary supplier's name.
    pub supplier: String,
    #[serde(default)]
    pub upstream_name: Option<String>,
    pub model_type: String,
    #[serde(default)]
    pub sub_type: Option<String>,
    #[serde(default)]
    pub context_window: Option<i64>,
    #[serde(default)]
    pub max_output_tokens: Option<i64>,
    /// Micro-units of `currency` per million tokens.
    pub input_price: i64,
    #[serde(default)]
    pub cached_input_price: Option<i64>,
    pub output_price: i64,
    pub currency: String,
    #[serde(default)]
    pub rate_limit_per_minute: Option<i64>,
    #[serde(default)]
    pub api_version: Option<String>,
    /// Models tried in order when every route of this one failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_models: Vec<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    pub parameters: Vec<ParameterEntry>,
    #[serde(default)]
    pub capabilities: Vec<CapabilityLinkEntry>,
    /// Category paths.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Routes beyond the primary one (which the model's supplier and upstream name imply).
    #[serde(default)]
    pub routes: Vec<RouteEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterEntry {
    pub name: String,
    pub parameter_type: String,
    #[serde(default)]
    pub default_value: Option<Value>,
    #[serde(default)]
    pub min_value: Option<Value>,
    #[serde(default)]
    pub max_value: Option<Value>,
    #[serde(default)]
    pub allowed_values: Option<Vec<Value>>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilityLinkEntry {
    pub name: String,
    #[serde(default)]
    pub config: Option<Value>,
    #[serde(default)]
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteEntry {
    pub supplier: String,
    pub upstream_name: String,
    #[serde(default)]
    pub priority: Option<i32>,
    #[serde(default)]
    pub weight: Option<i32>,
    #[serde(default)]
    pub input_price: Option<i64>,
    #[serde(default)]
    pub cached_input_price: Option<i64>,
    #[serde(default)]
    pub output_price: Option<i64>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// One problem in a catalog file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// A JSON path into the file: `models[3].input_price`.
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl From<SupplierEntry> for SupplierInput {
    fn from(entry: SupplierEntry) -> Self {
        Self {
            name: entry.name,
            display_name: entry.display_name,
            description: entry.description,
            protocol: entry.protocol,
            base_url: entry.base_url,
            api_key_required: entry.api_key_required,
            website: entry.website,
            api_docs: entry.api_docs,
            category: entry.category,
            logo: entry.logo,
            is_active: entry.is_active,
        }
    }
}

impl From<CapabilityEntry> for CapabilityInput {
    fn from(entry: CapabilityEntry) -> Self {
        Self {
            name: entry.name,
            display_name: entry.display_name,
            description: entry.description,
            capability_type: entry.capability_type,
            input_types: entry.input_types,
            output_types: entry.output_types,
            domain: entry.domain,
            is_active: entry.is_active,
        }
    }
}

impl From<ParameterEntry> for ParameterInput {
    fn from(entry: ParameterEntry) -> Self {
        Self {
            name: entry.name,
            parameter_type: entry.parameter_type,
            default_value: entry.default_value,
            min_value: entry.min_value,
            max_value: entry.max_value,
            allowed_values: entry.allowed_values,
            description: entry.description,
        }
    }
}
