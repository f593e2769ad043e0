//! Google's Gemini API (`{base}/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`,
//! `:batchEmbedContents`; the key in `x-goog-api-key`).
//!
//! System and developer messages become `systemInstruction`; assistant turns are `model`
//! turns; tool results are `functionResponse` parts (named after the call they answer, which
//! OpenAI's tool messages do not repeat). Gemini says `STOP` when it calls tools, so a turn with
//! calls finishes with `tool_calls`; safety blocks finish with `content_filter`. Its streams
//! simply end, each event a whole response with the new parts and the usage so far (which
//! replaces, never adds). Gemini 3 wants the `thoughtSignature` of a function call back with
//! it: it travels in the tool call's id, after [`SIGNATURE_MARK`].

use std::collections::HashMap;

use async_trait::async_trait;
use eventsource_stream::Event;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_domain::gateway::{
    AssistantMessage, ChatChunk, ChatMessage, ChatProvider, ChatRequest, ChatResponse, ChatRole, ChatStream, Choice,
    ChunkChoice, ContentPart, Delta, EmbeddingRequest, EmbeddingResponse, FinishReason, ImageSource, MessageContent,
    ProviderError, ResponseFormat, ToolCall, ToolCallDelta, ToolChoice, UpstreamCall, Usage,
};

use crate::errors::{google_error, stream_error};
use crate::http::{Decoder, Http, Step, chunks, events, read_json};
use crate::translate::{arguments_object, log_dropped, push_turn, reasoning_effort, unsupported};

/// Between a tool call's id and the thought signature it carries.
pub const SIGNATURE_MARK: &str = "~sig~";
/// The most texts one `batchEmbedContents` takes.
const EMBED_BATCH: usize = 100;
/// The client's fields this translation reads from the pass-through ones.
const USED_EXTRA: &[&str] = &["reasoning_effort", "top_k", "safetySettings"];

#[derive(Debug, Clone)]
pub struct Gemini {
    http: std::sync::Arc<Http>,
}

impl Gemini {
    pub fn new(http: std::sync::Arc<Http>) -> Self {
        Self { http }
    }

    async fn post(
        &self,
        call: &UpstreamCall,
        operation: &str,
        body: &Value,
        stream: bool,
    ) -> Result<(reqwest::Response, tokio::time::Instant), ProviderError> {
        let url = format!(
            "{}/models/{}:{operation}{}",
            call.base_url.trim_end_matches('/'),
            call.upstream_model,
            if stream { "?alt=sse" } else { "" }
        );
        self.http
            .send(call, google_error, |client| {
                let mut builder = client.post(url).json(body);
                if let Some(key) = &call.api_key {
                    builder = builder.header("x-goog-api-key", key.expose_secret());
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
impl ChatProvider for Gemini {
    async fn complete(&self, call: &UpstreamCall, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let body = generate_body(request)?;
        let (response, started) = self.post(call, "generateContent", &body, false).await?;
        let wire: WireResponse = read_json(response, started, call.timeouts).await?;
        wire.into_domain()
    }

    async fn stream(&self, call: &UpstreamCall, request: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let body = generate_body(request)?;
        let (response, started) = self.post(call, "streamGenerateContent", &body, true).await?;
        let decoder = StreamDecoder::new(call.api_key.clone());
        Ok(chunks(events(response, started, call.timeouts), decoder))
    }

    async fn embed(&self, call: &UpstreamCall, request: &EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        let mut response = EmbeddingResponse::default();
        for batch in request.inputs.chunks(EMBED_BATCH) {
            let requests: Vec<Value> = batch
                .iter()
                .map(|text| {
                    let mut one = json!({
                        "model": format!("models/{}", call.upstream_model),
                        "content": {"parts": [{"text": text}]},
                    });
                    if let Some(dimensions) = request.dimensions {
                        one["outputDimensionality"] = json!(dimensions);
                    }
                    one
                })
                .collect();
            let body = json!({"requests": requests});
            let (answer, started) = self.post(call, "batchEmbedContents", &body, false).await?;
            let wire: WireEmbeddings = read_json(answer, started, call.timeouts).await?;
            if wire.embeddings.len() != batch.len() {
                return Err(ProviderError::Malformed {
                    message: format!("{} embeddings for {} inputs", wire.embeddings.len(), batch.len()),
                });
            }
            response
                .vectors
                .extend(wire.embeddings.into_iter().map(|embedding| embedding.values));
            response.usage.prompt_tokens += wire.usage_metadata.unwrap_or_default().prompt_token_count;
        }
        log_dropped("gemini", &request.extra, &[]);
        Ok(response)
    }

    async fn probe(&self, call: &UpstreamCall) -> Result<(), ProviderError> {
        crate::probe::probe(&self.http, call).await
    }
}

/// A media type from an image URL's extension (Gemini's `fileData` wants one).
fn media_type_of(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url).to_ascii_lowercase();
    match path.rsplit('.').next() {
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("heic") => "image/heic",
        _ => "image/jpeg",
    }
}

fn parts(content: &MessageContent) -> Result<Vec<Value>, ProviderError> {
    match content {
        MessageContent::Empty => Ok(Vec::new()),
        MessageContent::Text(text) if text.is_empty() => Ok(Vec::new()),
        MessageContent::Text(text) => Ok(vec![json!({"text": text})]),
        MessageContent::Parts(items) => items
            .iter()
            .filter(|part| !matches!(part, ContentPart::Text(text) if text.is_empty()))
            .map(|part| match part {
                ContentPart::Text(text) => Ok(json!({"text": text})),
                ContentPart::Image {
                    source: ImageSource::Data { media_type, base64 },
                    ..
                } => Ok(json!({"inlineData": {"mimeType": media_type, "data": base64}})),
                ContentPart::Image {
                    source: ImageSource::Url(url),
                    ..
                } => Ok(json!({"fileData": {"mimeType": media_type_of(url), "fileUri": url}})),
                ContentPart::Other(value) => {
                    let kind = value.get("type").and_then(Value::as_str).unwrap_or("unknown");
                    Err(unsupported("gemini", &format!("content parts of type `{kind}`")))
                }
            })
            .collect(),
    }
}

/// Splits an id this gateway made into Gemini's id and the thought signature it carries.
fn split_signature(id: &str) -> (&str, Option<&str>) {
    match id.split_once(SIGNATURE_MARK) {
        Some((id, signature)) => (id, Some(signature)),
        None => (id, None),
    }
}

fn model_parts(message: &ChatMessage) -> Vec<Value> {
    let mut parts: Vec<Value> = match message.content.text() {
        text if text.is_empty() => Vec::new(),
        text => vec![json!({"text": text})],
    };
    for call in &message.tool_calls {
        let (id, signature) = split_signature(&call.id);
        let mut function = json!({"name": call.name, "args": arguments_object(&call.arguments)});
        if !id.is_empty() && !id.starts_with("call_") {
            function["id"] = json!(id);
        }
        let mut part = json!({"functionCall": function});
        if let Some(signature) = signature {
            part["thoughtSignature"] = json!(signature);
        }
        parts.push(part);
    }
    parts
}

/// A tool message as a `functionResponse`: the name comes from the call it answers; the
/// result is an object (text that is not a JSON object is wrapped as `{"output": …}`).
fn function_response(message: &ChatMessage, names: &HashMap<String, String>) -> Result<Value, ProviderError> {
    let id = message
        .tool_call_id
        .as_deref()
        .ok_or_else(|| unsupported("gemini", "a tool message without `tool_call_id`"))?;
    let name = names.get(id).cloned().or_else(|| message.name.clone()).ok_or_else(|| {
        unsupported(
            "gemini",
            &format!("a tool result for `{id}`, which no earlier assistant turn called"),
        )
    })?;
    let text = message.content.text();
    let response = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(object)) => Value::Object(object),
        _ => json!({"output": text}),
    };
    let (id, _) = split_signature(id);
    let mut function = json!({"name": name, "response": response});
    if !id.starts_with("call_") {
        function["id"] = json!(id);
    }
    Ok(json!({"functionResponse": function}))
}

/// The request body.
pub fn generate_body(request: &ChatRequest) -> Result<Value, ProviderError> {
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    let mut names = HashMap::new();
    for message in &request.messages {
        match message.role() {
            ChatRole::System | ChatRole::Developer => {
                if message.content.has_images() {
                    return Err(unsupported("gemini", "images in a system message"));
                }
                let text = message.content.text();
                if !text.is_empty() {
                    system.push(json!({"text": text}));
                }
            }
            ChatRole::User => push_turn(&mut turns, "user", parts(&message.content)?),
            ChatRole::Assistant => {
                for call in &message.tool_calls {
                    names.insert(call.id.clone(), call.name.clone());
                }
                push_turn(&mut turns, "model", model_parts(message));
            }
            ChatRole::Tool => push_turn(&mut turns, "user", vec![function_response(message, &names)?]),
        }
    }
    let mut body = Map::new();
    let contents: Vec<Value> = turns
        .into_iter()
        .map(|(role, parts)| json!({"role": role, "parts": parts}))
        .collect();
    body.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": system}));
    }
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let mut declaration = json!({"name": tool.name, "parametersJsonSchema": tool.parameters});
                if let Some(description) = &tool.description {
                    declaration["description"] = json!(description);
                }
                declaration
            })
            .collect();
        body.insert("tools".into(), json!([{"functionDeclarations": declarations}]));
    }
    if let Some(choice) = &request.tool_choice {
        let config = match choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Function(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        body.insert("toolConfig".into(), json!({"functionCallingConfig": config}));
    }
    let mut config = Map::new();
    let mut set = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            config.insert(name.to_owned(), value);
        }
    };
    set("temperature", request.temperature.map(Value::from));
    set("topP", request.top_p.map(Value::from));
    set("topK", request.extra.get("top_k").cloned());
    set("maxOutputTokens", request.max_output().map(Value::from));
    set("candidateCount", request.n.map(Value::from));
    set("seed", request.seed.map(Value::from));
    set("presencePenalty", request.presence_penalty.map(Value::from));
    set("frequencyPenalty", request.frequency_penalty.map(Value::from));
    set("responseLogprobs", request.logprobs.map(Value::from));
    set("logprobs", request.top_logprobs.map(Value::from));
    set("stopSequences", (!request.stop.is_empty()).then(|| json!(request.stop)));
    match &request.response_format {
        Some(ResponseFormat::JsonObject) => set("responseMimeType", Some(json!("application/json"))),
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            set("responseMimeType", Some(json!("application/json")));
            set("responseJsonSchema", Some(schema.clone()));
        }
        Some(ResponseFormat::Text) | None => {}
    }
    let budget = match reasoning_effort(&request.extra) {
        Some("none") => Some(0),
        Some("minimal") => Some(128),
        Some("low") => Some(1024),
        Some("medium") => Some(2048),
        Some("high") => Some(4096),
        _ => None,
    };
    set(
        "thinkingConfig",
        budget.map(|budget| json!({"thinkingBudget": budget, "includeThoughts": budget > 0})),
    );
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    if let Some(safety) = request.extra.get("safetySettings") {
        body.insert("safetySettings".into(), safety.clone());
    }
    log_dropped("gemini", &request.extra, USED_EXTRA);
    Ok(Value::Object(body))
}

#[derive(Debug, Deserialize, Default, Clone, Copy)]
#[serde(default, rename_all = "camelCase")]
struct WireUsage {
    prompt_token_count: i64,
    candidates_token_count: i64,
    cached_content_token_count: i64,
    thoughts_token_count: i64,
    tool_use_prompt_token_count: i64,
    total_token_count: i64,
}

impl WireUsage {
    fn into_domain(self) -> Usage {
        let prompt = self.prompt_token_count + self.tool_use_prompt_token_count;
        // The thoughts are counted apart from the candidates, except where the total says the
        // candidates already hold them.
        let inclusive = self.thoughts_token_count > 0 && prompt + self.candidates_token_count == self.total_token_count;
        let completion = if inclusive {
            self.candidates_token_count
        } else {
            self.candidates_token_count + self.thoughts_token_count
        };
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            cached_input_tokens: self.cached_content_token_count,
            cache_write_tokens: 0,
            reasoning_tokens: self.thoughts_token_count,
            estimated: false,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct WireFunctionCall {
    id: Option<String>,
    name: String,
    args: Option<Value>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct WirePart {
    text: Option<String>,
    thought: bool,
    function_call: Option<WireFunctionCall>,
    thought_signature: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireContent {
    parts: Vec<WirePart>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct WireCandidate {
    index: Option<i64>,
    content: WireContent,
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct WireFeedback {
    block_reason: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct WireResponse {
    candidates: Vec<WireCandidate>,
    prompt_feedback: Option<WireFeedback>,
    usage_metadata: Option<WireUsage>,
    response_id: String,
    error: Option<Value>,
}

/// A finish reason; `tool_calls` when the turn called tools (Gemini says `STOP` then).
fn finish_reason(raw: &str, called_tools: bool) -> FinishReason {
    match raw {
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "LANGUAGE" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "OTHER" => {
            FinishReason::ContentFilter
        }
        _ if raw.starts_with("IMAGE_") => FinishReason::ContentFilter,
        _ if called_tools => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

/// A tool call of a part: Gemini's id (or one made from the answer's id and the call's
/// position), with the thought signature after the mark.
fn tool_call(call: WireFunctionCall, signature: Option<String>, response_id: &str, position: usize) -> ToolCall {
    let mut id = call
        .id
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| format!("call_{response_id}_{position}"));
    if let Some(signature) = signature {
        id = format!("{id}{SIGNATURE_MARK}{signature}");
    }
    ToolCall {
        id,
        name: call.name,
        arguments: call.args.unwrap_or_else(|| json!({})).to_string(),
    }
}

/// What one candidate's parts say: text, thoughts, calls.
#[derive(Default)]
struct Said {
    text: String,
    reasoning: String,
    calls: Vec<ToolCall>,
}

fn read_parts(parts: Vec<WirePart>, response_id: &str, first_call: usize) -> Said {
    let mut said = Said::default();
    for part in parts {
        if let Some(call) = part.function_call {
            let position = first_call + said.calls.len();
            said.calls
                .push(tool_call(call, part.thought_signature, response_id, position));
        } else if let Some(text) = part.text {
            if part.thought {
                said.reasoning.push_str(&text);
            } else {
                said.text.push_str(&text);
            }
        }
    }
    said
}

impl WireResponse {
    fn into_domain(self) -> Result<ChatResponse, ProviderError> {
        let usage = self.usage_metadata.map(WireUsage::into_domain);
        let created = chrono::Utc::now().timestamp();
        if self.candidates.is_empty() {
            let Some(reason) = self.prompt_feedback.and_then(|feedback| feedback.block_reason) else {
                return Err(ProviderError::Malformed {
                    message: "the answer has no candidates and says no block reason".to_owned(),
                });
            };
            tracing::debug!(reason, "gemini blocked the prompt");
            return Ok(ChatResponse {
                id: self.response_id,
                created,
                choices: vec![Choice {
                    index: 0,
                    message: AssistantMessage::default(),
                    finish_reason: Some(FinishReason::ContentFilter),
                    logprobs: None,
                }],
                usage,
                system_fingerprint: None,
            });
        }
        let response_id = self.response_id;
        let choices = self
            .candidates
            .into_iter()
            .enumerate()
            .map(|(position, candidate)| {
                let said = read_parts(candidate.content.parts, &response_id, 0);
                let called = !said.calls.is_empty();
                Choice {
                    index: candidate.index.unwrap_or(i64::try_from(position).unwrap_or(0)),
                    finish_reason: Some(finish_reason(
                        candidate.finish_reason.as_deref().unwrap_or("STOP"),
                        called,
                    )),
                    // Gemini's logprobsResult is not OpenAI's shape; SDKs would misread it.
                    logprobs: None,
                    message: AssistantMessage {
                        content: (!said.text.is_empty() || !called).then_some(said.text),
                        reasoning_content: (!said.reasoning.is_empty()).then_some(said.reasoning),
                        tool_calls: said.calls,
                        refusal: None,
                    },
                }
            })
            .collect();
        Ok(ChatResponse {
            id: response_id,
            created,
            choices,
            usage,
            system_fingerprint: None,
        })
    }
}

/// Per candidate in a stream: calls so far (to number the next) and the last finish reason.
#[derive(Default)]
struct CandidateState {
    calls: usize,
    finish: Option<String>,
}

/// Gemini's stream: every event a partial response; the finish reasons and the usage are sent
/// once the body ends, as the last value each had.
struct StreamDecoder {
    key: Option<SecretString>,
    id: String,
    created: i64,
    candidates: HashMap<i64, CandidateState>,
    usage: Option<WireUsage>,
    blocked: bool,
}

impl StreamDecoder {
    fn new(key: Option<SecretString>) -> Self {
        Self {
            key,
            id: String::new(),
            created: chrono::Utc::now().timestamp(),
            candidates: HashMap::new(),
            usage: None,
            blocked: false,
        }
    }
}

impl Decoder for StreamDecoder {
    fn event(&mut self, event: Event) -> Result<Step, ProviderError> {
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(Step::Chunks(Vec::new()));
        }
        let wire: WireResponse = serde_json::from_str(data).map_err(|error| ProviderError::Malformed {
            message: format!("a stream event is not the JSON expected: {error}"),
        })?;
        if let Some(error) = wire.error {
            let key = self.key.as_ref().map(ExposeSecret::expose_secret);
            return Err(stream_error(google_error(&json!({"error": error})), key));
        }
        if self.id.is_empty() {
            self.id = wire.response_id.clone();
        }
        if let Some(usage) = wire.usage_metadata {
            self.usage = Some(usage);
        }
        if wire
            .prompt_feedback
            .and_then(|feedback| feedback.block_reason)
            .is_some()
        {
            self.blocked = true;
        }
        let mut chunk = ChatChunk {
            id: self.id.clone(),
            created: self.created,
            choices: Vec::new(),
            usage: None,
        };
        for (position, candidate) in wire.candidates.into_iter().enumerate() {
            let index = candidate.index.unwrap_or(i64::try_from(position).unwrap_or(0));
            let first = !self.candidates.contains_key(&index);
            let state = self.candidates.entry(index).or_default();
            if candidate.finish_reason.is_some() {
                state.finish = candidate.finish_reason;
            }
            let said = read_parts(candidate.content.parts, &self.id, state.calls);
            let calls: Vec<ToolCallDelta> = said
                .calls
                .into_iter()
                .enumerate()
                .map(|(offset, call)| ToolCallDelta {
                    index: i64::try_from(state.calls + offset).unwrap_or(i64::MAX),
                    id: Some(call.id),
                    name: Some(call.name),
                    arguments: Some(call.arguments),
                })
                .collect();
            state.calls += calls.len();
            let delta = Delta {
                role: first.then_some(ChatRole::Assistant),
                content: (!said.text.is_empty()).then_some(said.text),
                reasoning_content: (!said.reasoning.is_empty()).then_some(said.reasoning),
                tool_calls: calls,
                refusal: None,
            };
            if delta != Delta::default() {
                chunk.choices.push(ChunkChoice {
                    index,
                    delta,
                    finish_reason: None,
                    // Gemini's logprobsResult is not OpenAI's shape; SDKs would misread it.
                    logprobs: None,
                });
            }
        }
        Ok(Step::Chunks(if chunk.choices.is_empty() {
            Vec::new()
        } else {
            vec![chunk]
        }))
    }

    fn end(&mut self) -> Result<Vec<ChatChunk>, ProviderError> {
        // Gemini's last event carries the finish reason: a body that ends before any did was
        // cut short.
        let finished = self.candidates.values().any(|state| state.finish.is_some());
        if !finished && !self.blocked {
            return Err(ProviderError::Malformed {
                message: "the stream ended before the answer was complete".to_owned(),
            });
        }
        if self.blocked && self.candidates.is_empty() {
            self.candidates.insert(
                0,
                CandidateState {
                    calls: 0,
                    finish: Some("SAFETY".to_owned()),
                },
            );
        }
        let mut indexes: Vec<i64> = self.candidates.keys().copied().collect();
        indexes.sort_unstable();
        let choices = indexes
            .into_iter()
            .map(|index| {
                let state = &self.candidates[&index];
                ChunkChoice {
                    index,
                    delta: Delta::default(),
                    finish_reason: Some(finish_reason(
                        state.finish.as_deref().unwrap_or("STOP"),
                        state.calls > 0,
                    )),
                    logprobs: None,
                }
            })
            .collect();
        Ok(vec![ChatChunk {
            id: self.id.clone(),
            created: self.created,
            choices,
            usage: self.usage.map(WireUsage::into_domain),
        }])
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WireVector {
    values: Vec<f32>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct WireEmbedUsage {
    prompt_token_count: i64,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct WireEmbeddings {
    embeddings: Vec<WireVector>,
    usage_metadata: Option<WireEmbedUsage>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_domain::gateway::Tool;

    fn message(role: ChatRole, text: &str) -> ChatMessage {
        ChatMessage {
            role: Some(role),
            content: MessageContent::Text(text.into()),
            ..ChatMessage::default()
        }
    }

    #[test]
    fn tool_results_are_named_after_their_call_and_signatures_go_back() {
        let request = ChatRequest {
            messages: vec![
                message(ChatRole::System, "Be terse."),
                message(ChatRole::User, "Weather?"),
                ChatMessage {
                    role: Some(ChatRole::Assistant),
                    tool_calls: vec![ToolCall {
                        id: format!("flveizpn{SIGNATURE_MARK}EvwD"),
                        name: "weather".into(),
                        arguments: r#"{"city":"Paris"}"#.into(),
                    }],
                    ..ChatMessage::default()
                },
                ChatMessage {
                    tool_call_id: Some(format!("flveizpn{SIGNATURE_MARK}EvwD")),
                    ..message(ChatRole::Tool, "18C")
                },
            ],
            tools: vec![Tool {
                name: "weather".into(),
                description: Some("The weather".into()),
                parameters: json!({"type": "object"}),
                strict: None,
            }],
            tool_choice: Some(ToolChoice::Function("weather".into())),
            max_completion_tokens: Some(100),
            ..ChatRequest::default()
        };
        let body = generate_body(&request).expect("a body");
        assert_eq!(body["systemInstruction"], json!({"parts": [{"text": "Be terse."}]}));
        let contents = body["contents"].as_array().expect("contents");
        assert_eq!(
            contents[1]["parts"][0],
            json!({"functionCall": {"id": "flveizpn", "name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "EvwD"})
        );
        assert_eq!(
            contents[2],
            json!({"role": "user", "parts": [{"functionResponse": {"id": "flveizpn", "name": "weather", "response": {"output": "18C"}}}]})
        );
        assert_eq!(
            body["toolConfig"]["functionCallingConfig"]["allowedFunctionNames"],
            json!(["weather"])
        );
        assert_eq!(body["generationConfig"]["maxOutputTokens"], 100);
    }

    #[test]
    fn a_tool_result_for_no_known_call_is_refused() {
        let request = ChatRequest {
            messages: vec![ChatMessage {
                tool_call_id: Some("nobody".into()),
                ..message(ChatRole::Tool, "x")
            }],
            ..ChatRequest::default()
        };
        assert!(matches!(
            generate_body(&request),
            Err(ProviderError::Unsupported { .. })
        ));
    }

    #[test]
    fn thoughts_count_as_completion_unless_the_total_holds_them_already() {
        let separate = WireUsage {
            prompt_token_count: 1294,
            candidates_token_count: 125,
            thoughts_token_count: 1071,
            total_token_count: 2490,
            ..WireUsage::default()
        };
        assert_eq!(separate.into_domain().completion_tokens, 1196);
        let inclusive = WireUsage {
            total_token_count: 1419,
            ..separate
        };
        assert_eq!(inclusive.into_domain().completion_tokens, 125);
        assert_eq!(inclusive.into_domain().reasoning_tokens, 1071);
    }

    #[test]
    fn tool_calls_finish_with_tool_calls_and_safety_with_content_filter() {
        assert_eq!(finish_reason("STOP", true), FinishReason::ToolCalls);
        assert_eq!(finish_reason("STOP", false), FinishReason::Stop);
        assert_eq!(finish_reason("SAFETY", true), FinishReason::ContentFilter);
        assert_eq!(finish_reason("IMAGE_SAFETY", false), FinishReason::ContentFilter);
        assert_eq!(finish_reason("MAX_TOKENS", false), FinishReason::Length);
        assert_eq!(media_type_of("https://x/y.PNG?size=2"), "image/png");
    }
}
