//! `POST /v1/embeddings`.

use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchyard_domain::gateway::EmbeddingRequest;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::GatewayUser;
use crate::error::{ApiError, OpenAiErrorBody};
use crate::routes::gateway::{context, read_json};

/// The most inputs one request may carry (OpenAI's own limit).
const MAX_INPUTS: usize = 2048;

/// An embeddings request as OpenAI's SDKs send it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EmbeddingsRequest {
    pub model: String,
    /// A string or an array of (at most 2048) strings.
    pub input: Value,
    /// `float` (the default) or `base64` (little-endian f32s; what OpenAI's SDKs ask for).
    #[serde(default)]
    pub encoding_format: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1)]
    pub dimensions: Option<i64>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingUsage {
    pub prompt_tokens: i64,
    pub total_tokens: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingObject {
    /// `embedding`.
    pub object: &'static str,
    pub index: usize,
    pub embedding: Embedding,
}

/// Floats, or a base64 string when `encoding_format` was `base64`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Embedding {
    Floats(Vec<f32>),
    Base64(String),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingList {
    /// `list`.
    pub object: &'static str,
    pub data: Vec<EmbeddingObject>,
    pub model: String,
    pub usage: EmbeddingUsage,
}

fn invalid(param: &str, message: &str) -> ApiError {
    ApiError::invalid_request(format!("{param}: {message}")).with_detail(param, "invalid_value", message)
}

fn inputs(input: Value) -> Result<Vec<String>, ApiError> {
    let inputs = match input {
        Value::String(text) => vec![text],
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Ok(text),
                _ => Err(invalid(
                    "input",
                    "must be a string or an array of strings (token arrays are not supported)",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(invalid("input", "must be a string or an array of strings")),
    };
    if inputs.is_empty() || inputs.len() > MAX_INPUTS {
        return Err(invalid("input", "must hold 1 to 2048 inputs"));
    }
    if inputs.iter().any(String::is_empty) {
        return Err(invalid("input", "inputs must not be empty strings"));
    }
    Ok(inputs)
}

/// The vector as OpenAI's `base64`: the f32s' little-endian bytes.
fn base64_of(vector: &[f32]) -> String {
    let bytes: Vec<u8> = vector.iter().flat_map(|value| value.to_le_bytes()).collect();
    STANDARD.encode(bytes)
}

/// Create embeddings of one or more texts.
#[utoipa::path(
    tag = "gateway",
    security(("api_key" = []), ("bearer_jwt" = [])),
    request_body = EmbeddingsRequest,
    responses(
        (status = 200, description = "One vector per input, in order", body = EmbeddingList),
        (status = 400, description = "The request is malformed or the supplier refused it", body = OpenAiErrorBody),
        (status = 401, description = "No valid API key or access token", body = OpenAiErrorBody),
        (status = 403, description = "The key may not use this model", body = OpenAiErrorBody),
        (status = 404, description = "No such model (`model_not_found`)", body = OpenAiErrorBody),
        (status = 429, description = "The supplier is rate limiting (see `Retry-After`)", body = OpenAiErrorBody),
        (status = 502, description = "The supplier failed", body = OpenAiErrorBody),
    )
)]
#[post("/v1/embeddings")]
pub async fn embeddings(
    state: web::Data<AppState>,
    user: GatewayUser,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let wire: EmbeddingsRequest = read_json(payload, state.gateway_body_limit).await?;
    let base64 = match wire.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(_) => return Err(invalid("encoding_format", "must be float or base64")),
    };
    if wire.model.trim().is_empty() {
        return Err(invalid("model", "is required"));
    }
    if wire.dimensions.is_some_and(|dimensions| dimensions < 1) {
        return Err(invalid("dimensions", "must be at least 1"));
    }
    let model = wire.model.clone();
    let request = EmbeddingRequest {
        model: wire.model,
        inputs: inputs(wire.input)?,
        dimensions: wire.dimensions,
        user: wire.user,
        extra: wire.extra,
    };
    let answer = state.gateway.embed(&user.0, &context(&req), request).await?;
    let response = answer.value;
    let data = response
        .vectors
        .iter()
        .enumerate()
        .map(|(index, vector)| EmbeddingObject {
            object: "embedding",
            index,
            embedding: if base64 {
                Embedding::Base64(base64_of(vector))
            } else {
                Embedding::Floats(vector.clone())
            },
        })
        .collect();
    let mut reply = HttpResponse::Ok();
    super::served(&mut reply, &answer.by);
    crate::rate::insert(&mut reply, &answer.rate);
    let model = super::shown_model(model, &answer.by);
    Ok(reply.json(EmbeddingList {
        object: "list",
        data,
        model,
        usage: EmbeddingUsage {
            prompt_tokens: response.usage.prompt_tokens,
            total_tokens: response.usage.total_tokens(),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors_are_little_endian_f32s() {
        let encoded = base64_of(&[1.0, -2.5]);
        let bytes = STANDARD.decode(encoded).expect("base64");
        assert_eq!(bytes, [1.0f32.to_le_bytes(), (-2.5f32).to_le_bytes()].concat());
    }

    #[test]
    fn inputs_are_strings() {
        assert_eq!(inputs(Value::from("a")).expect("one"), vec!["a".to_owned()]);
        assert!(inputs(serde_json::json!([[1, 2]])).is_err());
        assert!(inputs(serde_json::json!([])).is_err());
        assert!(inputs(serde_json::json!([""])).is_err());
    }
}
