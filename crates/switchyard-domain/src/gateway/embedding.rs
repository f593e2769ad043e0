//! Embeddings in Switchyard's own terms: texts in, one vector of floats per text out.

use serde_json::{Map, Value};

use crate::gateway::usage::Usage;

/// An embedding request. The API reads OpenAI's `input` (a string or an array of strings);
/// `encoding_format` is the API's business (the vectors are floats here).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EmbeddingRequest {
    pub model: String,
    pub inputs: Vec<String>,
    /// Fewer dimensions than the model's own, where the model supports it.
    pub dimensions: Option<i64>,
    pub user: Option<String>,
    /// Fields Switchyard does not know, passed to OpenAI-protocol suppliers.
    pub extra: Map<String, Value>,
}

/// The vectors, in the order of the inputs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EmbeddingResponse {
    pub vectors: Vec<Vec<f32>>,
    pub usage: Usage,
}
