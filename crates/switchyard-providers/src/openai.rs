//! The OpenAI protocol: OpenAI itself, DeepSeek (its `reasoning_content`, its cache-hit
//! tokens), Baidu Qianfan v2, Ollama, vLLM and every OpenAI-compatible server. Fields the
//! gateway does not know pass through unchanged. Streams always ask for usage
//! (`stream_options.include_usage`), so the figures are the supplier's own.

use async_trait::async_trait;
use eventsource_stream::Event;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_domain::gateway::{
    AssistantMessage, ChatChunk, ChatMessage, ChatProvider, ChatRequest, ChatResponse, ChatRole, ChatStream, Choice,
    ChunkChoice, ContentPart, Delta, EmbeddingRequest, EmbeddingResponse, FinishReason, MessageContent, ProviderError,
    ResponseFormat, ToolCall, ToolCallDelta, ToolChoice, UpstreamCall, Usage,
};

use crate::errors::{openai_error, stream_error};
use crate::http::{Decoder, Http, Step, chunks, events, read_json};

/// Where an API in OpenAI's format lives and how it takes its key: OpenAI's own layout
/// ([`OPENAI`]), or Azure's deployments (`azure::DIALECT`).
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// The URL of an operation (`chat/completions`, `embeddings`).
    pub url: fn(&UpstreamCall, &str) -> String,
    pub authorize: fn(reqwest::RequestBuilder, &UpstreamCall) -> reqwest::RequestBuilder,
}

/// OpenAI's layout: `{base}/{operation}`, the key as a bearer token.
pub const OPENAI: Dialect = Dialect {
    url: openai_url,
    authorize: bearer,
};

/// A client of an API in OpenAI's format.
#[derive(Debug, Clone)]
pub struct OpenAi {
    http: std::sync::Arc<Http>,
    dialect: Dialect,
}

impl OpenAi {
    pub fn new(http: std::sync::Arc<Http>, dialect: Dialect) -> Self {
        Self { http, dialect }
    }

    /// Posts `body` to `operation`, authorized.
    async fn post(
        &self,
        call: &UpstreamCall,
        operation: &str,
        body: &Value,
        stream: bool,
    ) -> Result<(reqwest::Response, tokio::time::Instant), ProviderError> {
        let url = (self.dialect.url)(call, operation);
        let authorize = self.dialect.authorize;
        self.http
            .send(call, openai_error, |client| {
                let request = authorize(client.post(url), call).json(body);
                if stream {
                    request.header("accept", "text/event-stream")
                } else {
                    request
                }
            })
            .await
    }
}

/// `{base}/{path}`, without doubling the slash.
pub fn endpoint(base_url: &str, path: &str) -> String {
    format!("{}/{path}", base_url.trim_end_matches('/'))
}

fn openai_url(call: &UpstreamCall, operation: &str) -> String {
    endpoint(&call.base_url, operation)
}

fn bearer(request: reqwest::RequestBuilder, call: &UpstreamCall) -> reqwest::RequestBuilder {
    match &call.api_key {
        Some(key) => request.bearer_auth(key.expose_secret()),
        None => request,
    }
}

#[async_trait]
impl ChatProvider for OpenAi {
    async fn complete(&self, call: &UpstreamCall, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let body = chat_body(request, &call.upstream_model, false);
        let (response, started) = self.post(call, "chat/completions", &body, false).await?;
        let wire: WireResponse = read_json(response, started, call.timeouts).await?;
        Ok(wire.into_domain())
    }

    async fn stream(&self, call: &UpstreamCall, request: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let body = chat_body(request, &call.upstream_model, true);
        let (response, started) = self.post(call, "chat/completions", &body, true).await?;
        let decoder = ChunkDecoder {
            key: call.api_key.clone(),
        };
        Ok(chunks(events(response, started, call.timeouts), decoder))
    }

    async fn embed(&self, call: &UpstreamCall, request: &EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        let body = embedding_body(request, &call.upstream_model);
        let (response, started) = self.post(call, "embeddings", &body, false).await?;
        let wire: WireEmbeddings = read_json(response, started, call.timeouts).await?;
        wire.into_domain(request.inputs.len())
    }

    async fn probe(&self, call: &UpstreamCall) -> Result<(), ProviderError> {
        crate::probe::probe(&self.http, call).await
    }
}

/// A message's content on the wire: a string, parts, or `null` (an assistant turn that only
/// calls tools).
fn content(content: &MessageContent) -> Value {
    match content {
        MessageContent::Empty => Value::Null,
        MessageContent::Text(text) => Value::String(text.clone()),
        MessageContent::Parts(parts) => Value::Array(
            parts
                .iter()
                .map(|part| match part {
                    ContentPart::Text(text) => json!({"type": "text", "text": text}),
                    ContentPart::Image { source, detail } => {
                        let mut image = json!({"url": source.to_url()});
                        if let Some(detail) = detail {
                            image["detail"] = json!(detail);
                        }
                        json!({"type": "image_url", "image_url": image})
                    }
                    ContentPart::Other(value) => value.clone(),
                })
                .collect(),
        ),
    }
}

fn message(message: &ChatMessage) -> Value {
    // `developer` is OpenAI's newer name; every OpenAI-compatible server knows `system`, and
    // OpenAI reads `system` as `developer` for the models that want it.
    let role = match message.role() {
        ChatRole::Developer => ChatRole::System,
        other => other,
    };
    let mut wire = Map::new();
    wire.insert("role".into(), json!(role.as_str()));
    let body = match content(&message.content) {
        Value::Null if message.tool_calls.is_empty() => json!(""),
        other => other,
    };
    wire.insert("content".into(), body);
    if let Some(name) = &message.name {
        wire.insert("name".into(), json!(name));
    }
    if !message.tool_calls.is_empty() {
        let calls: Vec<Value> = message
            .tool_calls
            .iter()
            .map(|call| json!({"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}))
            .collect();
        wire.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(id) = &message.tool_call_id {
        wire.insert("tool_call_id".into(), json!(id));
    }
    // Sent back only when the client sent it: DeepSeek's thinking mode wants it on turns that
    // called tools; other servers never see it otherwise.
    if let Some(reasoning) = &message.reasoning_content {
        wire.insert("reasoning_content".into(), json!(reasoning));
    }
    Value::Object(wire)
}

/// The request body: the client's unknown fields first, then every field the gateway knows.
pub fn chat_body(request: &ChatRequest, upstream_model: &str, stream: bool) -> Value {
    let mut body = request.extra.clone();
    let mut set = |name: &str, value: Value| {
        body.insert(name.to_owned(), value);
    };
    set("model", json!(upstream_model));
    set("messages", Value::Array(request.messages.iter().map(message).collect()));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let mut function = json!({"name": tool.name, "parameters": tool.parameters});
                if let Some(description) = &tool.description {
                    function["description"] = json!(description);
                }
                if let Some(strict) = tool.strict {
                    function["strict"] = json!(strict);
                }
                json!({"type": "function", "function": function})
            })
            .collect();
        set("tools", Value::Array(tools));
    }
    if let Some(choice) = &request.tool_choice {
        set(
            "tool_choice",
            match choice {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Function(name) => json!({"type": "function", "function": {"name": name}}),
            },
        );
    }
    if let Some(format) = &request.response_format {
        set(
            "response_format",
            match format {
                ResponseFormat::Text => json!({"type": "text"}),
                ResponseFormat::JsonObject => json!({"type": "json_object"}),
                ResponseFormat::JsonSchema { name, schema, strict } => {
                    let mut inner = json!({"name": name, "schema": schema});
                    if let Some(strict) = strict {
                        inner["strict"] = json!(strict);
                    }
                    json!({"type": "json_schema", "json_schema": inner})
                }
            },
        );
    }
    let optional = [
        ("parallel_tool_calls", request.parallel_tool_calls.map(Value::from)),
        ("temperature", request.temperature.map(Value::from)),
        ("top_p", request.top_p.map(Value::from)),
        ("max_tokens", request.max_tokens.map(Value::from)),
        ("max_completion_tokens", request.max_completion_tokens.map(Value::from)),
        ("n", request.n.map(Value::from)),
        ("seed", request.seed.map(Value::from)),
        ("presence_penalty", request.presence_penalty.map(Value::from)),
        ("frequency_penalty", request.frequency_penalty.map(Value::from)),
        ("logprobs", request.logprobs.map(Value::from)),
        ("top_logprobs", request.top_logprobs.map(Value::from)),
        ("user", request.user.clone().map(Value::from)),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            set(name, value);
        }
    }
    if !request.stop.is_empty() {
        set("stop", json!(request.stop));
    }
    if stream {
        set("stream", json!(true));
        set("stream_options", json!({"include_usage": true}));
    } else {
        body.remove("stream");
        body.remove("stream_options");
    }
    Value::Object(body)
}

pub fn embedding_body(request: &EmbeddingRequest, upstream_model: &str) -> Value {
    let mut body = request.extra.clone();
    body.insert("model".into(), json!(upstream_model));
    body.insert("input".into(), json!(request.inputs));
    body.insert("encoding_format".into(), json!("float"));
    if let Some(dimensions) = request.dimensions {
        body.insert("dimensions".into(), json!(dimensions));
    }
    if let Some(user) = &request.user {
        body.insert("user".into(), json!(user));
    }
    Value::Object(body)
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct WireUsage {
    prompt_tokens: i64,
    completion_tokens: i64,
    prompt_tokens_details: Option<WirePromptDetails>,
    completion_tokens_details: Option<WireCompletionDetails>,
    /// DeepSeek's name for cached input.
    prompt_cache_hit_tokens: Option<i64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WirePromptDetails {
    cached_tokens: Option<i64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireCompletionDetails {
    reasoning_tokens: Option<i64>,
}

impl WireUsage {
    pub fn into_domain(self) -> Usage {
        let cached = self
            .prompt_tokens_details
            .and_then(|details| details.cached_tokens)
            .or(self.prompt_cache_hit_tokens)
            .unwrap_or(0);
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            cached_input_tokens: cached,
            cache_write_tokens: 0,
            reasoning_tokens: self
                .completion_tokens_details
                .and_then(|details| details.reasoning_tokens)
                .unwrap_or(0),
            estimated: false,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireFunction {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireToolCall {
    index: Option<i64>,
    id: Option<String>,
    function: WireFunction,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireMessage {
    role: Option<String>,
    content: Option<Value>,
    reasoning_content: Option<String>,
    /// vLLM's and Ollama's name for it.
    reasoning: Option<String>,
    tool_calls: Option<Vec<WireToolCall>>,
    refusal: Option<String>,
}

impl WireMessage {
    /// Content is text, or (rarely) text parts.
    fn text(content: Option<Value>) -> Option<String> {
        match content? {
            Value::String(text) => Some(text),
            Value::Array(parts) => Some(
                parts
                    .iter()
                    .filter_map(|part| part.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(""),
            ),
            _ => None,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireChoice {
    index: i64,
    message: WireMessage,
    delta: WireMessage,
    finish_reason: Option<String>,
    logprobs: Option<Value>,
}

/// Reads a finish reason; `function_call` is the old name of `tool_calls`; anything else a
/// server invents ends the answer like `stop`.
pub fn finish_reason(raw: Option<&str>) -> Option<FinishReason> {
    raw.map(|raw| match raw {
        "function_call" => FinishReason::ToolCalls,
        other => FinishReason::parse(other).unwrap_or(FinishReason::Stop),
    })
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub(crate) struct WireResponse {
    id: String,
    created: i64,
    choices: Vec<WireChoice>,
    usage: Option<WireUsage>,
    system_fingerprint: Option<String>,
}

impl WireResponse {
    pub(crate) fn into_domain(self) -> ChatResponse {
        let choices = self
            .choices
            .into_iter()
            .map(|choice| {
                let message = choice.message;
                Choice {
                    index: choice.index,
                    finish_reason: finish_reason(choice.finish_reason.as_deref()),
                    logprobs: choice.logprobs.filter(|value| !value.is_null()),
                    message: AssistantMessage {
                        reasoning_content: message.reasoning_content.or(message.reasoning),
                        tool_calls: message
                            .tool_calls
                            .unwrap_or_default()
                            .into_iter()
                            .map(|call| ToolCall {
                                id: call.id.unwrap_or_default(),
                                name: call.function.name.unwrap_or_default(),
                                arguments: call.function.arguments.unwrap_or_default(),
                            })
                            .collect(),
                        refusal: message.refusal,
                        content: WireMessage::text(message.content),
                    },
                }
            })
            .collect();
        ChatResponse {
            id: self.id,
            created: self.created,
            choices,
            usage: self.usage.map(WireUsage::into_domain),
            system_fingerprint: self.system_fingerprint,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireChunk {
    id: String,
    created: i64,
    choices: Vec<WireChoice>,
    usage: Option<WireUsage>,
    error: Option<Value>,
}

impl WireChunk {
    fn into_domain(self) -> ChatChunk {
        let choices = self
            .choices
            .into_iter()
            .map(|choice| {
                let delta = choice.delta;
                ChunkChoice {
                    index: choice.index,
                    finish_reason: finish_reason(choice.finish_reason.as_deref()),
                    logprobs: choice.logprobs.filter(|value| !value.is_null()),
                    delta: Delta {
                        role: delta.role.as_deref().and_then(|role| ChatRole::parse(role).ok()),
                        reasoning_content: delta.reasoning_content.or(delta.reasoning),
                        tool_calls: delta
                            .tool_calls
                            .unwrap_or_default()
                            .into_iter()
                            .enumerate()
                            .map(|(position, call)| ToolCallDelta {
                                index: call.index.unwrap_or(i64::try_from(position).unwrap_or(0)),
                                id: call.id,
                                name: call.function.name,
                                arguments: call.function.arguments,
                            })
                            .collect(),
                        refusal: delta.refusal,
                        content: WireMessage::text(delta.content),
                    },
                }
            })
            .collect();
        ChatChunk {
            id: self.id,
            created: self.created,
            choices,
            usage: self.usage.map(WireUsage::into_domain),
        }
    }
}

/// OpenAI's stream: a chunk per `data:` line, `[DONE]` at the end; an `error` object in a
/// chunk is the supplier failing mid-stream.
pub struct ChunkDecoder {
    /// The call's key, kept out of error messages.
    pub key: Option<SecretString>,
}

impl Decoder for ChunkDecoder {
    fn event(&mut self, event: Event) -> Result<Step, ProviderError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return Ok(Step::Done(Vec::new()));
        }
        if data.is_empty() {
            return Ok(Step::Chunks(Vec::new()));
        }
        let chunk: WireChunk = serde_json::from_str(data).map_err(|error| ProviderError::Malformed {
            message: format!("a stream chunk is not the JSON expected: {error}"),
        })?;
        if let Some(error) = &chunk.error {
            let key = self.key.as_ref().map(ExposeSecret::expose_secret);
            return Err(stream_error(openai_error(&json!({"error": error})), key));
        }
        Ok(Step::Chunks(vec![chunk.into_domain()]))
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireEmbedding {
    index: usize,
    /// Floats, or base64 of little-endian f32 when a server ignores `encoding_format`.
    embedding: Value,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub(crate) struct WireEmbeddings {
    data: Vec<WireEmbedding>,
    usage: Option<WireUsage>,
}

impl WireEmbeddings {
    /// The vectors in input order; `expected` is the number of inputs, and the answer must have
    /// exactly one vector for each (indices 0 to n-1), or it would label a vector wrongly.
    pub(crate) fn into_domain(mut self, expected: usize) -> Result<EmbeddingResponse, ProviderError> {
        self.data.sort_by_key(|item| item.index);
        let complete = self.data.len() == expected
            && self
                .data
                .iter()
                .enumerate()
                .all(|(position, item)| item.index == position);
        if !complete {
            return Err(ProviderError::Malformed {
                message: format!(
                    "{} embeddings for {expected} inputs, or their indices do not match",
                    self.data.len()
                ),
            });
        }
        let vectors = self
            .data
            .into_iter()
            .map(|item| vector(item.embedding))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EmbeddingResponse {
            vectors,
            usage: self.usage.map(WireUsage::into_domain).unwrap_or_default(),
        })
    }
}

fn vector(value: Value) -> Result<Vec<f32>, ProviderError> {
    let malformed = || ProviderError::Malformed {
        message: "an embedding is neither floats nor base64".to_owned(),
    };
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_f64().map(|number| number as f32).ok_or_else(malformed))
            .collect(),
        Value::String(text) => {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map_err(|_| malformed())?;
            Ok(bytes
                .chunks_exact(4)
                .map(|word| f32::from_le_bytes([word[0], word[1], word[2], word[3]]))
                .collect())
        }
        _ => Err(malformed()),
    }
}
