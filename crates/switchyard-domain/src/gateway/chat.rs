//! A chat completion in Switchyard's own terms: the request every entry point is translated to
//! (OpenAI's Chat Completions today), the answer, and the chunks of a streamed answer. Each
//! provider translates these to and from its supplier's wire format.

use serde_json::{Map, Value};

use crate::gateway::usage::Usage;
use crate::kernel::named::named_enum;

named_enum!(
    /// Who says a message.
    ChatRole, "role", "invalid_role" {
        System => "system",
        /// OpenAI's newer name for instructions from the application; treated as `system` by
        /// suppliers that have no such role.
        Developer => "developer",
        User => "user",
        Assistant => "assistant",
        Tool => "tool",
    }
);

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// An `https` URL the supplier fetches.
    Url(String),
    /// Inline bytes from a `data:` URL: the media type and the base64 text.
    Data { media_type: String, base64: String },
}

impl ImageSource {
    /// Reads an OpenAI `image_url.url`: `data:<type>;base64,<data>` or an http(s) URL.
    pub fn from_url(url: &str) -> Option<Self> {
        if let Some(rest) = url.strip_prefix("data:") {
            let (media_type, data) = rest.split_once(";base64,")?;
            return Some(Self::Data {
                media_type: media_type.to_owned(),
                base64: data.to_owned(),
            });
        }
        (url.starts_with("https://") || url.starts_with("http://")).then(|| Self::Url(url.to_owned()))
    }

    /// The source as an OpenAI `image_url.url`.
    pub fn to_url(&self) -> String {
        match self {
            Self::Url(url) => url.clone(),
            Self::Data { media_type, base64 } => format!("data:{media_type};base64,{base64}"),
        }
    }
}

/// One part of a message's content.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentPart {
    Text(String),
    Image {
        source: ImageSource,
        /// OpenAI's `detail` (`low`, `high`, `auto`), when given.
        detail: Option<String>,
    },
    /// A part of a kind Switchyard does not translate (audio, files): kept as sent, passed to
    /// OpenAI-protocol suppliers, refused by the others.
    Other(Value),
}

/// A message's content: plain text, or parts.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum MessageContent {
    #[default]
    Empty,
    Text(String),
    Parts(Vec<ContentPart>),
}

impl MessageContent {
    /// The text of the content (the text parts joined), for suppliers and estimates that take
    /// text only.
    pub fn text(&self) -> String {
        match self {
            Self::Empty => String::new(),
            Self::Text(text) => text.clone(),
            Self::Parts(parts) => parts
                .iter()
                .filter_map(|part| match part {
                    ContentPart::Text(text) => Some(text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    pub fn has_images(&self) -> bool {
        matches!(self, Self::Parts(parts) if parts.iter().any(|part| matches!(part, ContentPart::Image { .. })))
    }
}

/// A call of a tool the model asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them: JSON text.
    pub arguments: String,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatMessage {
    pub role: Option<ChatRole>,
    pub content: MessageContent,
    pub name: Option<String>,
    /// The assistant's tool calls.
    pub tool_calls: Vec<ToolCall>,
    /// For a `tool` message: the call it answers.
    pub tool_call_id: Option<String>,
    /// The model's reasoning, where a supplier shows it (DeepSeek, Anthropic's thinking).
    pub reasoning_content: Option<String>,
}

impl ChatMessage {
    pub fn role(&self) -> ChatRole {
        self.role.unwrap_or(ChatRole::User)
    }
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// A JSON Schema object.
    pub parameters: Value,
    pub strict: Option<bool>,
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    None,
    Required,
    Function(String),
}

/// The shape the answer must take.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema {
        name: String,
        schema: Value,
        strict: Option<bool>,
    },
}

/// A chat completion request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// The model's name as the client sent it.
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub response_format: Option<ResponseFormat>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    /// OpenAI's older `max_tokens`, as sent.
    pub max_tokens: Option<i64>,
    /// OpenAI's `max_completion_tokens` (reasoning included), as sent.
    pub max_completion_tokens: Option<i64>,
    pub stop: Vec<String>,
    pub n: Option<i64>,
    pub seed: Option<i64>,
    pub presence_penalty: Option<f64>,
    pub frequency_penalty: Option<f64>,
    pub logprobs: Option<bool>,
    pub top_logprobs: Option<i64>,
    pub user: Option<String>,
    pub stream: bool,
    /// `stream_options.include_usage`: the client wants the usage chunk.
    pub include_usage: bool,
    /// Fields Switchyard does not know, as sent: passed through unchanged to OpenAI-protocol
    /// suppliers, dropped (with a debug log) for the others.
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    /// The most tokens the answer may have, however the client said it.
    pub fn max_output(&self) -> Option<i64> {
        self.max_completion_tokens.or(self.max_tokens)
    }
}

named_enum!(
    /// Why the model stopped.
    FinishReason, "finish_reason", "invalid_finish_reason" {
        Stop => "stop",
        Length => "length",
        ToolCalls => "tool_calls",
        ContentFilter => "content_filter",
    }
);

/// What the assistant answered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AssistantMessage {
    pub content: Option<String>,
    pub reasoning_content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub refusal: Option<String>,
}

/// One of the `n` answers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Choice {
    pub index: i64,
    pub message: AssistantMessage,
    pub finish_reason: Option<FinishReason>,
    /// OpenAI's `logprobs` object, as the supplier gave it.
    pub logprobs: Option<Value>,
}

/// A whole answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatResponse {
    /// The supplier's id for the answer.
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    pub choices: Vec<Choice>,
    /// The supplier's figures; `None` when it gave none (the gateway then estimates).
    pub usage: Option<Usage>,
    pub system_fingerprint: Option<String>,
}

/// A piece of a tool call in a stream: the first for an index carries its id and name; the
/// arguments arrive in pieces to append.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolCallDelta {
    pub index: i64,
    pub id: Option<String>,
    pub name: Option<String>,
    pub arguments: Option<String>,
}

/// What one chunk adds to a choice.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Delta {
    pub role: Option<ChatRole>,
    pub content: Option<String>,
    pub reasoning_content: Option<String>,
    pub tool_calls: Vec<ToolCallDelta>,
    pub refusal: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChunkChoice {
    pub index: i64,
    pub delta: Delta,
    pub finish_reason: Option<FinishReason>,
    pub logprobs: Option<Value>,
}

/// One chunk of a streamed answer. The supplier's usage, when it gives any, arrives on a chunk
/// (usually the last); it may also carry choices.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatChunk {
    pub id: String,
    pub created: i64,
    pub choices: Vec<ChunkChoice>,
    pub usage: Option<Usage>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_sources_read_data_and_https_urls() {
        assert_eq!(
            ImageSource::from_url("data:image/png;base64,iVBORw0KGgo="),
            Some(ImageSource::Data {
                media_type: "image/png".into(),
                base64: "iVBORw0KGgo=".into()
            })
        );
        let url = "https://example.com/cat.jpg";
        assert_eq!(
            ImageSource::from_url(url).map(|source| source.to_url()).as_deref(),
            Some(url)
        );
        assert_eq!(ImageSource::from_url("ftp://example.com/cat.jpg"), None);
        assert_eq!(ImageSource::from_url("data:image/png,raw"), None);
    }

    #[test]
    fn the_text_of_a_content_joins_its_text_parts() {
        let content = MessageContent::Parts(vec![
            ContentPart::Text("a".into()),
            ContentPart::Image {
                source: ImageSource::Url("https://x/y.png".into()),
                detail: None,
            },
            ContentPart::Text("b".into()),
        ]);
        assert_eq!(content.text(), "a\nb");
        assert!(content.has_images());
        assert_eq!(MessageContent::Text("t".into()).text(), "t");
    }
}
