//! OpenAI's Chat Completions shapes, in and out, and their translation to and from the
//! domain's. Fields whose JSON takes several shapes (`content`, `stop`, `tool_choice`,
//! `response_format`) are read by hand so that a wrong one is a 400 naming the field. Fields
//! Switchyard does not know are kept (`extra`) and passed to OpenAI-protocol suppliers.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchyard_domain::gateway::{
    ChatChunk, ChatMessage, ChatRequest, ChatResponse, ChatRole, ContentPart, ImageSource, MessageContent,
    ResponseFormat, Tool, ToolCall, ToolChoice, Usage,
};
use utoipa::ToSchema;

use crate::error::ApiError;

/// The most messages, tools and stop sequences one request may carry.
const MAX_MESSAGES: usize = 10_000;
const MAX_TOOLS: usize = 512;
const MAX_STOPS: usize = 16;

fn invalid(param: &str, message: impl Into<String>) -> ApiError {
    let message = message.into();
    ApiError::invalid_request(format!("{param}: {message}")).with_detail(param, "invalid_value", message)
}

/// A chat completion request as OpenAI's SDKs send it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatCompletionRequest {
    /// A model name from `GET /v1/models`.
    pub model: String,
    pub messages: Vec<ChatMessageIn>,
    #[serde(default)]
    pub tools: Option<Vec<ToolIn>>,
    /// `"auto"`, `"none"`, `"required"` or `{"type": "function", "function": {"name": …}}`.
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    /// `{"type": "text" | "json_object"}` or `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`.
    #[serde(default)]
    pub response_format: Option<Value>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2)]
    pub temperature: Option<f64>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1)]
    pub top_p: Option<f64>,
    #[serde(default)]
    #[schema(minimum = 1)]
    pub max_tokens: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 1)]
    pub max_completion_tokens: Option<i64>,
    /// A string or up to 16 strings.
    #[serde(default)]
    pub stop: Option<Value>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 128)]
    pub n: Option<i64>,
    #[serde(default)]
    pub seed: Option<i64>,
    #[serde(default)]
    #[schema(minimum = -2, maximum = 2)]
    pub presence_penalty: Option<f64>,
    #[serde(default)]
    #[schema(minimum = -2, maximum = 2)]
    pub frequency_penalty: Option<f64>,
    #[serde(default)]
    pub logprobs: Option<bool>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 20)]
    pub top_logprobs: Option<i64>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Any other field: passed through to OpenAI-protocol suppliers.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StreamOptions {
    /// Send one more chunk at the end, with `choices: []` and the usage.
    #[serde(default)]
    pub include_usage: Option<bool>,
}

/// One message.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatMessageIn {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// A string, an array of parts (`text`, `image_url`), or `null` for an assistant turn
    /// that only calls tools.
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<ToolCallIn>>,
    #[serde(default)]
    pub tool_call_id: Option<String>,
    /// DeepSeek's reasoning, sent back on turns that called tools.
    #[serde(default)]
    pub reasoning_content: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ToolCallIn {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub function: FunctionCallIn,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FunctionCallIn {
    pub name: String,
    /// JSON text.
    #[serde(default)]
    pub arguments: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ToolIn {
    /// `function`.
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionIn,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FunctionIn {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// A JSON Schema object.
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
}

fn range(param: &str, value: Option<f64>, low: f64, high: f64) -> Result<Option<f64>, ApiError> {
    match value {
        Some(value) if !(low..=high).contains(&value) => {
            Err(invalid(param, format!("must be between {low} and {high}")))
        }
        other => Ok(other),
    }
}

fn at_least(param: &str, value: Option<i64>, low: i64, high: i64) -> Result<Option<i64>, ApiError> {
    match value {
        Some(value) if !(low..=high).contains(&value) => {
            Err(invalid(param, format!("must be between {low} and {high}")))
        }
        other => Ok(other),
    }
}

fn part(param: &str, value: &Value) -> Result<ContentPart, ApiError> {
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(param, "a content part needs a `type`"))?;
    match kind {
        "text" => value
            .get("text")
            .and_then(Value::as_str)
            .map(|text| ContentPart::Text(text.to_owned()))
            .ok_or_else(|| invalid(&format!("{param}.text"), "a text part needs its `text` as a string")),
        "image_url" => {
            let image = value.get("image_url");
            // Older clients send the URL as a bare string.
            let url = image
                .and_then(|image| image.get("url").and_then(Value::as_str).or_else(|| image.as_str()))
                .ok_or_else(|| invalid(&format!("{param}.image_url.url"), "an image part needs its URL"))?;
            let source = ImageSource::from_url(url).ok_or_else(|| {
                invalid(
                    &format!("{param}.image_url.url"),
                    "must be an http(s) URL or a data:<type>;base64,<data> URL",
                )
            })?;
            let detail = image
                .and_then(|image| image.get("detail"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            Ok(ContentPart::Image { source, detail })
        }
        _ => Ok(ContentPart::Other(value.clone())),
    }
}

fn content(param: &str, value: Option<Value>) -> Result<MessageContent, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(MessageContent::Empty),
        Some(Value::String(text)) => Ok(MessageContent::Text(text)),
        Some(Value::Array(parts)) => parts
            .iter()
            .enumerate()
            .map(|(index, value)| part(&format!("{param}[{index}]"), value))
            .collect::<Result<Vec<_>, _>>()
            .map(MessageContent::Parts),
        Some(_) => Err(invalid(param, "must be a string, an array of content parts, or null")),
    }
}

fn tool_choice(value: Option<Value>) -> Result<Option<ToolChoice>, ApiError> {
    let param = "tool_choice";
    Ok(match value {
        None | Some(Value::Null) => None,
        Some(Value::String(word)) => Some(match word.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            other => return Err(invalid(param, format!("`{other}` is not auto, none or required"))),
        }),
        Some(object) => {
            let name = object
                .get("function")
                .and_then(|function| function.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(
                        param,
                        "must be auto, none, required or {\"type\":\"function\",\"function\":{\"name\":…}}",
                    )
                })?;
            Some(ToolChoice::Function(name.to_owned()))
        }
    })
}

fn response_format(value: Option<Value>) -> Result<Option<ResponseFormat>, ApiError> {
    let param = "response_format";
    let Some(value) = value.filter(|value| !value.is_null()) else {
        return Ok(None);
    };
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(param, "needs a `type`"))?;
    Ok(Some(match kind {
        "text" => ResponseFormat::Text,
        "json_object" => ResponseFormat::JsonObject,
        "json_schema" => {
            let inner = value
                .get("json_schema")
                .ok_or_else(|| invalid("response_format.json_schema", "is required for type json_schema"))?;
            let name = inner
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("response")
                .to_owned();
            let schema = inner
                .get("schema")
                .cloned()
                .ok_or_else(|| invalid("response_format.json_schema.schema", "is required"))?;
            ResponseFormat::JsonSchema {
                name,
                schema,
                strict: inner.get("strict").and_then(Value::as_bool),
            }
        }
        other => {
            return Err(invalid(
                param,
                format!("`{other}` is not text, json_object or json_schema"),
            ));
        }
    }))
}

fn stop(value: Option<Value>) -> Result<Vec<String>, ApiError> {
    let stops = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => vec![text],
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Ok(text),
                _ => Err(invalid("stop", "must be a string or an array of strings")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid("stop", "must be a string or an array of strings")),
    };
    if stops.len() > MAX_STOPS {
        return Err(invalid("stop", format!("at most {MAX_STOPS} sequences")));
    }
    Ok(stops)
}

fn message(index: usize, message: ChatMessageIn) -> Result<ChatMessage, ApiError> {
    let param = format!("messages[{index}]");
    let role = ChatRole::parse(&message.role).map_err(|_| {
        invalid(
            &format!("{param}.role"),
            format!("`{}` is not system, developer, user, assistant or tool", message.role),
        )
    })?;
    let content = content(&format!("{param}.content"), message.content)?;
    if role == ChatRole::Tool && message.tool_call_id.is_none() {
        return Err(invalid(
            &format!("{param}.tool_call_id"),
            "a tool message needs the id of the call it answers",
        ));
    }
    if content.has_images() && role != ChatRole::User {
        return Err(invalid(
            &format!("{param}.content"),
            "only user messages may hold images",
        ));
    }
    let tool_calls = message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(position, call)| match call.kind.as_deref() {
            None | Some("function") => Ok(ToolCall {
                id: call.id,
                name: call.function.name,
                arguments: call.function.arguments,
            }),
            Some(other) => Err(invalid(
                &format!("{param}.tool_calls[{position}].type"),
                format!("`{other}` is not function"),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ChatMessage {
        role: Some(role),
        content,
        name: message.name,
        tool_calls,
        tool_call_id: message.tool_call_id,
        reasoning_content: message.reasoning_content,
    })
}

impl ChatCompletionRequest {
    /// The request in the domain's terms, or a 400 naming what is wrong.
    pub fn into_domain(self) -> Result<ChatRequest, ApiError> {
        if self.model.trim().is_empty() {
            return Err(invalid("model", "is required"));
        }
        if self.messages.is_empty() {
            return Err(invalid("messages", "must hold at least one message"));
        }
        if self.messages.len() > MAX_MESSAGES {
            return Err(invalid("messages", format!("at most {MAX_MESSAGES} messages")));
        }
        let tools = self.tools.unwrap_or_default();
        if tools.len() > MAX_TOOLS {
            return Err(invalid("tools", format!("at most {MAX_TOOLS} tools")));
        }
        let tools = tools
            .into_iter()
            .enumerate()
            .map(|(index, tool)| {
                if tool.kind != "function" {
                    return Err(invalid(&format!("tools[{index}].type"), "only `function` tools exist"));
                }
                if tool.function.name.is_empty() {
                    return Err(invalid(&format!("tools[{index}].function.name"), "is required"));
                }
                Ok(Tool {
                    name: tool.function.name,
                    description: tool.function.description,
                    parameters: tool
                        .function
                        .parameters
                        .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
                    strict: tool.function.strict,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let messages = self
            .messages
            .into_iter()
            .enumerate()
            .map(|(index, one)| message(index, one))
            .collect::<Result<Vec<_>, _>>()?;
        let stream = self.stream.unwrap_or(false);
        Ok(ChatRequest {
            model: self.model,
            messages,
            tools,
            tool_choice: tool_choice(self.tool_choice)?,
            parallel_tool_calls: self.parallel_tool_calls,
            response_format: response_format(self.response_format)?,
            temperature: range("temperature", self.temperature, 0.0, 2.0)?,
            top_p: range("top_p", self.top_p, 0.0, 1.0)?,
            max_tokens: at_least("max_tokens", self.max_tokens, 1, i64::from(i32::MAX))?,
            max_completion_tokens: at_least(
                "max_completion_tokens",
                self.max_completion_tokens,
                1,
                i64::from(i32::MAX),
            )?,
            stop: stop(self.stop)?,
            n: at_least("n", self.n, 1, 128)?,
            seed: self.seed,
            presence_penalty: range("presence_penalty", self.presence_penalty, -2.0, 2.0)?,
            frequency_penalty: range("frequency_penalty", self.frequency_penalty, -2.0, 2.0)?,
            logprobs: self.logprobs,
            top_logprobs: at_least("top_logprobs", self.top_logprobs, 0, 20)?,
            user: self.user,
            stream,
            include_usage: stream
                && self
                    .stream_options
                    .and_then(|options| options.include_usage)
                    .unwrap_or(false),
            extra: self.extra,
        })
    }
}

/// Token counts in OpenAI's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageOut {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub prompt_tokens_details: PromptDetails,
    pub completion_tokens_details: CompletionDetails,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PromptDetails {
    /// Input read from the supplier's cache (charged at the cached price).
    pub cached_tokens: i64,
    /// Input written to the supplier's cache (Anthropic's cache creation).
    pub cache_write_tokens: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompletionDetails {
    pub reasoning_tokens: i64,
}

impl From<Usage> for UsageOut {
    fn from(usage: Usage) -> Self {
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.total_tokens(),
            prompt_tokens_details: PromptDetails {
                cached_tokens: usage.cached_input_tokens,
                cache_write_tokens: usage.cache_write_tokens,
            },
            completion_tokens_details: CompletionDetails {
                reasoning_tokens: usage.reasoning_tokens,
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FunctionOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ToolCallOut {
    /// Present in streamed pieces only: which call the piece belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `function`, on a call's first piece.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub function: FunctionOut,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageOut {
    pub role: &'static str,
    pub content: Option<String>,
    /// The model's reasoning, where the supplier shows it (DeepSeek, Anthropic's thinking, Gemini's thoughts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallOut>,
    pub refusal: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChoiceOut {
    pub index: i64,
    pub message: MessageOut,
    pub logprobs: Option<Value>,
    /// `stop`, `length`, `tool_calls` or `content_filter`.
    pub finish_reason: Option<&'static str>,
}

/// A whole answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatCompletion {
    pub id: String,
    /// `chat.completion`.
    pub object: &'static str,
    pub created: i64,
    pub model: String,
    pub choices: Vec<ChoiceOut>,
    pub usage: Option<UsageOut>,
    pub system_fingerprint: Option<String>,
}

/// The answer's id: the supplier's, or one made from the request's.
fn answer_id(id: String, request_id: &str) -> String {
    if id.is_empty() {
        format!("chatcmpl-{request_id}")
    } else {
        id
    }
}

impl ChatCompletion {
    pub fn new(response: ChatResponse, model: &str, request_id: &str) -> Self {
        let choices = response
            .choices
            .into_iter()
            .map(|choice| ChoiceOut {
                index: choice.index,
                logprobs: choice.logprobs,
                finish_reason: choice.finish_reason.map(|reason| reason.as_str()),
                message: MessageOut {
                    role: "assistant",
                    content: choice.message.content,
                    reasoning_content: choice.message.reasoning_content,
                    tool_calls: choice
                        .message
                        .tool_calls
                        .into_iter()
                        .map(|call| ToolCallOut {
                            index: None,
                            id: Some(call.id),
                            kind: Some("function"),
                            function: FunctionOut {
                                name: Some(call.name),
                                arguments: Some(call.arguments),
                            },
                        })
                        .collect(),
                    refusal: choice.message.refusal,
                },
            })
            .collect();
        Self {
            id: answer_id(response.id, request_id),
            object: "chat.completion",
            created: response.created,
            model: model.to_owned(),
            choices,
            usage: response.usage.map(UsageOut::from),
            system_fingerprint: response.system_fingerprint,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeltaOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChunkChoiceOut {
    pub index: i64,
    pub delta: DeltaOut,
    pub logprobs: Option<Value>,
    pub finish_reason: Option<&'static str>,
}

/// One `data:` event of a streamed answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatCompletionChunk {
    pub id: String,
    /// `chat.completion.chunk`.
    pub object: &'static str,
    pub created: i64,
    pub model: String,
    pub choices: Vec<ChunkChoiceOut>,
    /// On the last chunk only, when `stream_options.include_usage` asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageOut>,
}

impl ChatCompletionChunk {
    pub fn new(chunk: ChatChunk, model: &str, request_id: &str) -> Self {
        let choices = chunk
            .choices
            .into_iter()
            .map(|choice| {
                let delta = choice.delta;
                ChunkChoiceOut {
                    index: choice.index,
                    logprobs: choice.logprobs,
                    finish_reason: choice.finish_reason.map(|reason| reason.as_str()),
                    delta: DeltaOut {
                        role: delta.role.map(|_| "assistant"),
                        content: delta.content,
                        reasoning_content: delta.reasoning_content,
                        tool_calls: delta
                            .tool_calls
                            .into_iter()
                            .map(|call| ToolCallOut {
                                index: Some(call.index),
                                kind: call.id.as_ref().map(|_| "function"),
                                id: call.id,
                                function: FunctionOut {
                                    name: call.name,
                                    arguments: call.arguments,
                                },
                            })
                            .collect(),
                        refusal: delta.refusal,
                    },
                }
            })
            .collect();
        Self {
            id: answer_id(chunk.id, request_id),
            object: "chat.completion.chunk",
            created: chunk.created,
            model: model.to_owned(),
            choices,
            usage: chunk.usage.map(UsageOut::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(body: Value) -> Result<ChatRequest, ApiError> {
        serde_json::from_value::<ChatCompletionRequest>(body)
            .map_err(|error| ApiError::invalid_request(error.to_string()))?
            .into_domain()
    }

    #[test]
    fn a_full_request_reads_with_unknown_fields_kept() {
        let request = read(json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "developer", "content": "Be terse."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}
                ]},
                {"role": "assistant", "content": null, "refusal": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": "{}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "a cat"}
            ],
            "tools": [{"type": "function", "function": {"name": "look", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "look"}},
            "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}, "strict": true}},
            "stop": "END",
            "stream": true,
            "stream_options": {"include_usage": true},
            "service_tier": "flex",
        }))
        .expect("the request reads");
        assert_eq!(request.messages.len(), 4);
        assert!(request.messages[1].content.has_images());
        assert_eq!(request.tool_choice, Some(ToolChoice::Function("look".into())));
        assert_eq!(request.stop, vec!["END".to_owned()]);
        assert!(request.stream && request.include_usage);
        assert_eq!(request.extra.get("service_tier"), Some(&json!("flex")));
        assert!(!request.extra.contains_key("stream_options"));
    }

    #[test]
    fn bad_fields_are_named() {
        let base = |extra: Value| {
            let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
            body.as_object_mut()
                .expect("an object")
                .extend(extra.as_object().expect("an object").clone());
            body
        };
        for (extra, param) in [
            (json!({"temperature": 3.5}), "temperature"),
            (json!({"n": 0}), "n"),
            (json!({"stop": [1]}), "stop"),
            (json!({"tool_choice": "sometimes"}), "tool_choice"),
            (json!({"response_format": {"type": "yaml"}}), "response_format"),
            (json!({"messages": []}), "messages"),
            (
                json!({"messages": [{"role": "robot", "content": "x"}]}),
                "messages[0].role",
            ),
            (
                json!({"messages": [{"role": "user", "content": 5}]}),
                "messages[0].content",
            ),
            (
                json!({"messages": [{"role": "tool", "content": "x"}]}),
                "messages[0].tool_call_id",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}]}),
                "messages[0].content[0].image_url.url",
            ),
        ] {
            let error = read(base(extra.clone())).expect_err("refused");
            assert_eq!(
                error.details().first().map(|detail| detail.field.as_str()),
                Some(param),
                "{extra}"
            );
        }
    }
}
