//! Anthropic's Messages API (`POST {base}/messages`, `x-api-key`, `anthropic-version`).
//!
//! System and developer messages become the top-level `system`; tool results become `user`
//! turns of `tool_result` blocks; turns of the same role are merged (the API wants them to
//! alternate); `max_tokens`, which the API requires, is the client's or the model's most output
//! tokens. Answers come back with `thinking` as `reasoning_content`, `tool_use` as tool calls,
//! and usage with the cache reads and writes counted in the prompt (Anthropic's `input_tokens`
//! leaves them out). Streams are Anthropic's typed events, turned into OpenAI chunks as they
//! come; `message_delta` usage is cumulative, so it replaces rather than adds.

use std::collections::HashMap;

use async_trait::async_trait;
use eventsource_stream::Event;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_domain::gateway::{
    AssistantMessage, ChatChunk, ChatMessage, ChatProvider, ChatRequest, ChatResponse, ChatRole, ChatStream, Choice,
    ChunkChoice, ContentPart, Delta, EmbeddingRequest, EmbeddingResponse, FinishReason, ImageSource, MessageContent,
    ProviderError, ToolCall, ToolCallDelta, ToolChoice, UpstreamCall, Usage,
};

use crate::errors::{openai_error, stream_error};
use crate::http::{Decoder, Http, Step, chunks, events, read_json};
use crate::openai::endpoint;
use crate::translate::{arguments_object, log_dropped, push_turn, reasoning_effort, unsupported};

/// The API version sent when the model names none: the stable one every SDK pins.
pub const DEFAULT_VERSION: &str = "2023-06-01";
/// `max_tokens` when neither the client nor the model gives one.
const DEFAULT_MAX_TOKENS: i64 = 4096;
/// The smallest thinking budget the API accepts.
const MIN_THINKING_BUDGET: i64 = 1024;
/// The client's fields this translation reads from the pass-through ones.
const USED_EXTRA: &[&str] = &["thinking", "reasoning_effort", "top_k", "metadata"];

#[derive(Debug, Clone)]
pub struct Anthropic {
    http: std::sync::Arc<Http>,
}

impl Anthropic {
    pub fn new(http: std::sync::Arc<Http>) -> Self {
        Self { http }
    }

    async fn send(
        &self,
        call: &UpstreamCall,
        request: &ChatRequest,
        stream: bool,
    ) -> Result<(reqwest::Response, tokio::time::Instant), ProviderError> {
        let body = messages_body(request, call, stream)?;
        let url = endpoint(&call.base_url, "messages");
        let version = call.api_version.as_deref().unwrap_or(DEFAULT_VERSION);
        self.http
            .send(call, openai_error, |client| {
                let mut builder = client.post(url).header("anthropic-version", version).json(&body);
                if let Some(key) = &call.api_key {
                    builder = builder.header("x-api-key", key.expose_secret());
                }
                if stream {
                    builder = builder.header("accept", "text/event-stream");
                }
                builder
            })
            .await
    }
}

#[async_trait]
impl ChatProvider for Anthropic {
    async fn complete(&self, call: &UpstreamCall, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let (response, started) = self.send(call, request, false).await?;
        let wire: WireMessage = read_json(response, started, call.timeouts).await?;
        Ok(wire.into_domain())
    }

    async fn stream(&self, call: &UpstreamCall, request: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let (response, started) = self.send(call, request, true).await?;
        let decoder = EventDecoder::new(call.api_key.clone());
        Ok(chunks(events(response, started, call.timeouts), decoder))
    }

    async fn embed(
        &self,
        _call: &UpstreamCall,
        _request: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse, ProviderError> {
        Err(unsupported("anthropic", "embeddings (Anthropic has no embedding API)"))
    }

    async fn probe(&self, call: &UpstreamCall) -> Result<(), ProviderError> {
        crate::probe::probe(&self.http, call).await
    }
}

/// A user turn's parts as content blocks; empty text is left out (the API refuses it).
fn user_blocks(content: &MessageContent) -> Result<Vec<Value>, ProviderError> {
    match content {
        MessageContent::Empty => Ok(Vec::new()),
        MessageContent::Text(text) => Ok(text_block(text).into_iter().collect()),
        MessageContent::Parts(parts) => {
            let mut blocks = Vec::new();
            for part in parts {
                match part {
                    ContentPart::Text(text) => blocks.extend(text_block(text)),
                    ContentPart::Image { source, .. } => blocks.push(image_block(source)?),
                    ContentPart::Other(value) => {
                        let kind = value.get("type").and_then(Value::as_str).unwrap_or("unknown");
                        return Err(unsupported("anthropic", &format!("content parts of type `{kind}`")));
                    }
                }
            }
            Ok(blocks)
        }
    }
}

fn text_block(text: &str) -> Option<Value> {
    (!text.trim().is_empty()).then(|| json!({"type": "text", "text": text}))
}

fn image_block(source: &ImageSource) -> Result<Value, ProviderError> {
    Ok(match source {
        ImageSource::Url(url) => json!({"type": "image", "source": {"type": "url", "url": url}}),
        ImageSource::Data { media_type, base64 } => {
            if !matches!(
                media_type.as_str(),
                "image/jpeg" | "image/png" | "image/gif" | "image/webp"
            ) {
                return Err(unsupported(
                    "anthropic",
                    &format!("images of type {media_type} (jpeg, png, gif, webp only)"),
                ));
            }
            json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": base64}})
        }
    })
}

fn assistant_blocks(message: &ChatMessage) -> Vec<Value> {
    let mut blocks: Vec<Value> = text_block(&message.content.text()).into_iter().collect();
    for call in &message.tool_calls {
        blocks.push(json!({
            "type": "tool_use",
            "id": call.id,
            "name": call.name,
            "input": arguments_object(&call.arguments),
        }));
    }
    blocks
}

fn tool_result_block(message: &ChatMessage) -> Result<Value, ProviderError> {
    let id = message
        .tool_call_id
        .as_deref()
        .ok_or_else(|| unsupported("anthropic", "a tool message without `tool_call_id`"))?;
    let mut block = json!({"type": "tool_result", "tool_use_id": id});
    let content = user_blocks(&message.content)?;
    if !content.is_empty() {
        block["content"] = Value::Array(content);
    }
    Ok(block)
}

/// The `thinking` setting: the client's own Anthropic `thinking` object, or one made from
/// OpenAI's `reasoning_effort` with a budget below `max_tokens` (none when that leaves less
/// than the smallest budget). `reasoning_effort` turns on no thinking where Anthropic would
/// refuse it: a forced tool choice, or a conversation that already called tools (its earlier
/// turns would need their thinking blocks and signatures back, which OpenAI's shape cannot carry).
fn thinking(request: &ChatRequest, max_tokens: i64) -> Option<Value> {
    if let Some(thinking) = request.extra.get("thinking").filter(|value| value.is_object()) {
        return Some(thinking.clone());
    }
    let forced = matches!(
        request.tool_choice,
        Some(ToolChoice::Required | ToolChoice::Function(_))
    );
    let called = request.messages.iter().any(|message| !message.tool_calls.is_empty());
    if forced || called {
        return None;
    }
    let budget = match reasoning_effort(&request.extra)? {
        "minimal" | "low" => MIN_THINKING_BUDGET,
        "medium" => 4096,
        "high" => 16384,
        _ => return None,
    };
    let budget = budget.min(max_tokens - 1);
    (budget >= MIN_THINKING_BUDGET).then(|| json!({"type": "enabled", "budget_tokens": budget}))
}

/// The request body.
pub fn messages_body(request: &ChatRequest, call: &UpstreamCall, stream: bool) -> Result<Value, ProviderError> {
    if request.n.is_some_and(|n| n > 1) {
        return Err(unsupported("anthropic", "more than one choice (`n` > 1)"));
    }
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in &request.messages {
        match message.role() {
            ChatRole::System | ChatRole::Developer => {
                if message.content.has_images() {
                    return Err(unsupported("anthropic", "images in a system message"));
                }
                system.push(message.content.text());
            }
            ChatRole::User => push_turn(&mut turns, "user", user_blocks(&message.content)?),
            ChatRole::Assistant => push_turn(&mut turns, "assistant", assistant_blocks(message)),
            ChatRole::Tool => push_turn(&mut turns, "user", vec![tool_result_block(message)?]),
        }
    }
    let max_tokens = request
        .max_output()
        .or(call.max_output_tokens)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    let mut body = Map::new();
    body.insert("model".into(), json!(call.upstream_model));
    body.insert("max_tokens".into(), json!(max_tokens));
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    body.insert("messages".into(), Value::Array(messages));
    let system: Vec<String> = system.into_iter().filter(|text| !text.trim().is_empty()).collect();
    if !system.is_empty() {
        body.insert("system".into(), json!(system.join("\n")));
    }
    let thinking = thinking(request, max_tokens);
    // Temperature above 1 is clamped (Anthropic's range); newer models refuse temperature and
    // top_p together, so top_p goes only alone. Thinking allows neither.
    if thinking.is_none() {
        if let Some(temperature) = request.temperature {
            body.insert("temperature".into(), json!(temperature.clamp(0.0, 1.0)));
        } else if let Some(top_p) = request.top_p {
            body.insert("top_p".into(), json!(top_p));
        }
        if let Some(top_k) = request.extra.get("top_k") {
            body.insert("top_k".into(), top_k.clone());
        }
    }
    if let Some(thinking) = thinking {
        body.insert("thinking".into(), thinking);
    }
    if !request.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(request.stop));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let mut wire = json!({"name": tool.name, "input_schema": tool.parameters});
                if let Some(description) = &tool.description {
                    wire["description"] = json!(description);
                }
                wire
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    let single = request.parallel_tool_calls == Some(false);
    let choice = match &request.tool_choice {
        Some(ToolChoice::None) => Some(json!({"type": "none"})),
        Some(ToolChoice::Auto) => Some(json!({"type": "auto"})),
        Some(ToolChoice::Required) => Some(json!({"type": "any"})),
        Some(ToolChoice::Function(name)) => Some(json!({"type": "tool", "name": name})),
        None if single && !request.tools.is_empty() => Some(json!({"type": "auto"})),
        None => None,
    };
    if let Some(mut choice) = choice {
        if single && choice["type"] != "none" {
            choice["disable_parallel_tool_use"] = json!(true);
        }
        body.insert("tool_choice".into(), choice);
    }
    if let Some(metadata) = request.extra.get("metadata").filter(|value| value.is_object()) {
        body.insert("metadata".into(), metadata.clone());
    } else if let Some(user) = &request.user {
        body.insert("metadata".into(), json!({"user_id": user}));
    }
    if stream {
        body.insert("stream".into(), json!(true));
    }
    log_dropped("anthropic", &request.extra, USED_EXTRA);
    Ok(Value::Object(body))
}

/// A stop reason as OpenAI's finish reason; `pause_turn` and reasons to come end like `stop`.
fn finish_reason(stop_reason: &str) -> FinishReason {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

#[derive(Debug, Deserialize, Default, Clone, Copy)]
#[serde(default)]
struct WireUsage {
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cache_creation_input_tokens: Option<i64>,
    cache_read_input_tokens: Option<i64>,
}

impl WireUsage {
    /// Anthropic's cumulative figures: those present replace the ones held.
    fn update(&mut self, newer: WireUsage) {
        self.input_tokens = newer.input_tokens.or(self.input_tokens);
        self.output_tokens = newer.output_tokens.or(self.output_tokens);
        self.cache_creation_input_tokens = newer.cache_creation_input_tokens.or(self.cache_creation_input_tokens);
        self.cache_read_input_tokens = newer.cache_read_input_tokens.or(self.cache_read_input_tokens);
    }

    fn into_domain(self) -> Usage {
        let written = self.cache_creation_input_tokens.unwrap_or(0);
        let read = self.cache_read_input_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: self.input_tokens.unwrap_or(0) + written + read,
            completion_tokens: self.output_tokens.unwrap_or(0),
            cached_input_tokens: read,
            cache_write_tokens: written,
            reasoning_tokens: 0,
            estimated: false,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireBlock {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
    thinking: Option<String>,
    id: Option<String>,
    name: Option<String>,
    input: Option<Value>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireMessage {
    id: String,
    content: Vec<WireBlock>,
    stop_reason: Option<String>,
    usage: Option<WireUsage>,
}

impl WireMessage {
    fn into_domain(self) -> ChatResponse {
        let mut text = String::new();
        let mut reasoning = String::new();
        let mut tool_calls = Vec::new();
        for block in self.content {
            match block.kind.as_str() {
                "text" => text.push_str(block.text.as_deref().unwrap_or_default()),
                "thinking" => reasoning.push_str(block.thinking.as_deref().unwrap_or_default()),
                "tool_use" => tool_calls.push(ToolCall {
                    id: block.id.unwrap_or_default(),
                    name: block.name.unwrap_or_default(),
                    arguments: block.input.unwrap_or_else(|| json!({})).to_string(),
                }),
                // Redacted thinking, server tools' results, citations: nothing an OpenAI client reads.
                _ => {}
            }
        }
        let message = AssistantMessage {
            content: (!text.is_empty() || tool_calls.is_empty()).then_some(text),
            reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
            tool_calls,
            refusal: None,
        };
        ChatResponse {
            id: self.id,
            created: chrono::Utc::now().timestamp(),
            choices: vec![Choice {
                index: 0,
                message,
                finish_reason: Some(finish_reason(self.stop_reason.as_deref().unwrap_or("end_turn"))),
                logprobs: None,
            }],
            usage: self.usage.map(WireUsage::into_domain),
            system_fingerprint: None,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireDelta {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
    thinking: Option<String>,
    partial_json: Option<String>,
    stop_reason: Option<String>,
}

/// One streamed event; `type` names it.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireEvent {
    #[serde(rename = "type")]
    kind: String,
    message: Option<WireMessage>,
    index: Option<i64>,
    content_block: Option<WireBlock>,
    delta: Option<WireDelta>,
    usage: Option<WireUsage>,
    error: Option<Value>,
}

/// Anthropic's events as OpenAI chunks. Tool calls are numbered in the order they start
/// (Anthropic's block index counts text blocks too).
struct EventDecoder {
    key: Option<SecretString>,
    id: String,
    created: i64,
    usage: WireUsage,
    tool_index: HashMap<i64, i64>,
}

impl EventDecoder {
    fn new(key: Option<SecretString>) -> Self {
        Self {
            key,
            id: String::new(),
            created: chrono::Utc::now().timestamp(),
            usage: WireUsage::default(),
            tool_index: HashMap::new(),
        }
    }

    fn chunk(&self, delta: Delta, finish_reason: Option<FinishReason>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            created: self.created,
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason,
                logprobs: None,
            }],
            usage: None,
        }
    }

    fn tool_delta(&self, block: i64, id: Option<String>, name: Option<String>, arguments: Option<String>) -> Delta {
        let index = self.tool_index.get(&block).copied().unwrap_or(0);
        Delta {
            tool_calls: vec![ToolCallDelta {
                index,
                id,
                name,
                arguments,
            }],
            ..Delta::default()
        }
    }
}

impl Decoder for EventDecoder {
    fn event(&mut self, event: Event) -> Result<Step, ProviderError> {
        let wire: WireEvent = serde_json::from_str(&event.data).map_err(|error| ProviderError::Malformed {
            message: format!("a stream event is not the JSON expected: {error}"),
        })?;
        let block = wire.index.unwrap_or(0);
        let chunks = match wire.kind.as_str() {
            "message_start" => {
                let message = wire.message.unwrap_or_default();
                self.id = message.id;
                if let Some(usage) = message.usage {
                    self.usage.update(usage);
                }
                let delta = Delta {
                    role: Some(ChatRole::Assistant),
                    content: Some(String::new()),
                    ..Delta::default()
                };
                vec![self.chunk(delta, None)]
            }
            "content_block_start" => {
                let start = wire.content_block.unwrap_or_default();
                match start.kind.as_str() {
                    "tool_use" => {
                        let next = i64::try_from(self.tool_index.len()).unwrap_or(i64::MAX);
                        self.tool_index.insert(block, next);
                        let delta = self.tool_delta(block, start.id, start.name, Some(String::new()));
                        vec![self.chunk(delta, None)]
                    }
                    "text" if start.text.as_deref().is_some_and(|text| !text.is_empty()) => {
                        let delta = Delta {
                            content: start.text,
                            ..Delta::default()
                        };
                        vec![self.chunk(delta, None)]
                    }
                    _ => Vec::new(),
                }
            }
            "content_block_delta" => {
                let delta = wire.delta.unwrap_or_default();
                match delta.kind.as_str() {
                    "text_delta" => vec![self.chunk(
                        Delta {
                            content: delta.text,
                            ..Delta::default()
                        },
                        None,
                    )],
                    "thinking_delta" => vec![self.chunk(
                        Delta {
                            reasoning_content: delta.thinking,
                            ..Delta::default()
                        },
                        None,
                    )],
                    "input_json_delta" => match delta.partial_json.filter(|json| !json.is_empty()) {
                        Some(json) => vec![self.chunk(self.tool_delta(block, None, None, Some(json)), None)],
                        None => Vec::new(),
                    },
                    // Signatures, citations and delta types to come.
                    _ => Vec::new(),
                }
            }
            "message_delta" => {
                if let Some(usage) = wire.usage {
                    self.usage.update(usage);
                }
                match wire.delta.and_then(|delta| delta.stop_reason) {
                    Some(reason) => vec![self.chunk(Delta::default(), Some(finish_reason(&reason)))],
                    None => Vec::new(),
                }
            }
            "message_stop" => {
                let usage = ChatChunk {
                    id: self.id.clone(),
                    created: self.created,
                    choices: Vec::new(),
                    usage: Some(self.usage.into_domain()),
                };
                return Ok(Step::Done(vec![usage]));
            }
            "error" => {
                let key = self.key.as_ref().map(ExposeSecret::expose_secret);
                let body = json!({"error": wire.error.unwrap_or(Value::Null)});
                return Err(stream_error(openai_error(&body), key));
            }
            // `ping`, `content_block_stop` and event types to come.
            _ => Vec::new(),
        };
        Ok(Step::Chunks(chunks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_domain::catalog::Protocol;
    use switchyard_domain::gateway::{Timeouts, Tool};

    fn call() -> UpstreamCall {
        UpstreamCall {
            protocol: Protocol::Anthropic,
            supplier: "anthropic".into(),
            base_url: "https://api.anthropic.com/v1".into(),
            api_key: None,
            upstream_model: "claude-sonnet-4".into(),
            api_version: None,
            max_output_tokens: Some(8192),
            request_id: "r".into(),
            timeouts: Timeouts::default(),
            guarded: false,
        }
    }

    fn message(role: ChatRole, text: &str) -> ChatMessage {
        ChatMessage {
            role: Some(role),
            content: MessageContent::Text(text.into()),
            ..ChatMessage::default()
        }
    }

    #[test]
    fn system_is_hoisted_tool_results_merge_and_max_tokens_defaults_to_the_models() {
        let request = ChatRequest {
            messages: vec![
                message(ChatRole::System, "Be terse."),
                message(ChatRole::User, "Weather in Paris and Rome?"),
                ChatMessage {
                    role: Some(ChatRole::Assistant),
                    tool_calls: vec![
                        ToolCall {
                            id: "toolu_1".into(),
                            name: "weather".into(),
                            arguments: r#"{"city":"Paris"}"#.into(),
                        },
                        ToolCall {
                            id: "toolu_2".into(),
                            name: "weather".into(),
                            arguments: String::new(),
                        },
                    ],
                    ..ChatMessage::default()
                },
                ChatMessage {
                    tool_call_id: Some("toolu_1".into()),
                    ..message(ChatRole::Tool, "18C")
                },
                ChatMessage {
                    tool_call_id: Some("toolu_2".into()),
                    ..message(ChatRole::Tool, "21C")
                },
                message(ChatRole::Developer, "Answer in French."),
            ],
            tools: vec![Tool {
                name: "weather".into(),
                description: None,
                parameters: json!({"type": "object"}),
                strict: Some(true),
            }],
            parallel_tool_calls: Some(false),
            temperature: Some(1.7),
            top_p: Some(0.5),
            ..ChatRequest::default()
        };
        let body = messages_body(&request, &call(), false).expect("a body");
        assert_eq!(body["system"], "Be terse.\nAnswer in French.");
        assert_eq!(body["max_tokens"], 8192);
        assert_eq!(body["temperature"], 1.0);
        assert!(body.get("top_p").is_none());
        assert_eq!(
            body["tool_choice"],
            json!({"type": "auto", "disable_parallel_tool_use": true})
        );
        assert_eq!(
            body["tools"],
            json!([{"name": "weather", "input_schema": {"type": "object"}}])
        );
        let messages = body["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[1]["content"][1]["input"], json!({}));
        assert_eq!(messages[2]["role"], "user");
        assert_eq!(messages[2]["content"][0]["tool_use_id"], "toolu_1");
        assert_eq!(messages[2]["content"][1]["tool_use_id"], "toolu_2");
    }

    #[test]
    fn reasoning_effort_becomes_a_thinking_budget_below_max_tokens() {
        let mut request = ChatRequest {
            messages: vec![message(ChatRole::User, "hi")],
            max_tokens: Some(2000),
            ..ChatRequest::default()
        };
        request.extra.insert("reasoning_effort".into(), json!("high"));
        let body = messages_body(&request, &call(), true).expect("a body");
        assert_eq!(body["thinking"], json!({"type": "enabled", "budget_tokens": 1999}));
        assert_eq!(body["stream"], true);
        request.max_tokens = Some(500);
        let body = messages_body(&request, &call(), false).expect("a body");
        assert!(body.get("thinking").is_none());
        // Not where Anthropic would refuse it.
        request.max_tokens = Some(8000);
        request.tool_choice = Some(ToolChoice::Required);
        assert!(
            messages_body(&request, &call(), false)
                .expect("a body")
                .get("thinking")
                .is_none()
        );
        request.tool_choice = None;
        request.messages.push(ChatMessage {
            role: Some(ChatRole::Assistant),
            tool_calls: vec![ToolCall {
                id: "toolu_1".into(),
                name: "t".into(),
                arguments: "{}".into(),
            }],
            ..ChatMessage::default()
        });
        assert!(
            messages_body(&request, &call(), false)
                .expect("a body")
                .get("thinking")
                .is_none()
        );
    }

    #[test]
    fn n_above_one_and_unknown_parts_are_refused() {
        let request = ChatRequest {
            messages: vec![message(ChatRole::User, "hi")],
            n: Some(2),
            ..ChatRequest::default()
        };
        assert!(matches!(
            messages_body(&request, &call(), false),
            Err(ProviderError::Unsupported { .. })
        ));
        let audio = ChatRequest {
            messages: vec![ChatMessage {
                content: MessageContent::Parts(vec![ContentPart::Other(json!({"type": "input_audio"}))]),
                ..ChatMessage::default()
            }],
            ..ChatRequest::default()
        };
        let error = messages_body(&audio, &call(), false).expect_err("refused");
        assert!(error.to_string().contains("input_audio"), "{error}");
    }

    #[test]
    fn usage_counts_cache_reads_and_writes_in_the_prompt_and_updates_replace() {
        let mut usage = WireUsage {
            input_tokens: Some(25),
            output_tokens: Some(1),
            cache_creation_input_tokens: Some(100),
            cache_read_input_tokens: Some(2048),
        };
        usage.update(WireUsage {
            output_tokens: Some(15),
            ..WireUsage::default()
        });
        let usage = usage.into_domain();
        assert_eq!(usage.prompt_tokens, 25 + 100 + 2048);
        assert_eq!(usage.completion_tokens, 15);
        assert_eq!(usage.cached_input_tokens, 2048);
        assert_eq!(usage.cache_write_tokens, 100);
    }
}
