//! The conversations' request and response bodies, converted to and from the domain by hand.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::conversations::{Conversation, FileId, Message, MessageInput, Part};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::dto::double_option;

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationBody {
    pub id: Uuid,
    /// `null` until one is given, or generated after the first exchange.
    pub title: Option<String>,
    /// The model's name as the gateway knows it (`auto` included).
    pub model: String,
    pub system_prompt: Option<String>,
    /// The tokens of its live messages.
    pub total_tokens: i64,
    /// Its live messages.
    pub message_count: i64,
    pub is_archived: bool,
    pub is_deleted: bool,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Conversation> for ConversationBody {
    fn from(conversation: Conversation) -> Self {
        Self {
            id: conversation.id.0,
            is_deleted: conversation.is_deleted(),
            title: conversation.spec.title,
            model: conversation.spec.model,
            system_prompt: conversation.spec.system_prompt,
            total_tokens: conversation.total_tokens,
            message_count: conversation.message_count,
            is_archived: conversation.is_archived,
            deleted_at: conversation.deleted_at,
            created_at: conversation.created_at,
            updated_at: conversation.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationList {
    pub data: Vec<ConversationBody>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversationRequest {
    /// 1–200 characters; absent or `null` = none yet (one is generated when configured).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub title: Option<String>,
    /// A model name of `/v1/models`, or `auto`; 1–128 characters.
    #[schema(min_length = 1, max_length = 128, pattern = r"\S")]
    pub model: String,
    /// At most 32,000 characters.
    #[serde(default)]
    #[schema(max_length = 32000)]
    pub system_prompt: Option<String>,
}

/// A JSON Merge Patch of a conversation: absent = keep, `null` = clear.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationPatchBody {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 200)]
    pub title: Option<Option<String>>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128, pattern = r"\S")]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 32000)]
    pub system_prompt: Option<Option<String>>,
}

impl From<ConversationPatchBody> for switchyard_domain::conversations::ConversationPatch {
    fn from(patch: ConversationPatchBody) -> Self {
        Self {
            title: patch.title,
            model: patch.model,
            system_prompt: patch.system_prompt,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListConversationsQuery {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `true`: only archived conversations; `false`: only the others; absent: both.
    pub archived: Option<bool>,
    /// `true`: the soft-deleted ones instead of the live ones.
    pub deleted: Option<bool>,
    /// Text the title contains (case-insensitive), at most 100 characters.
    #[param(max_length = 100)]
    pub q: Option<String>,
}

/// Which way a page of messages goes.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum OrderName {
    /// Newest first (the default).
    #[default]
    Desc,
    /// Oldest first.
    Asc,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListMessagesQuery {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page (of the same `order`).
    pub cursor: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    pub order: Option<OrderName>,
}

/// An image by URL: `https://…`, or the image itself as `data:image/…;base64,…`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageUrl {
    pub url: String,
    /// `low`, `high` or `auto` (OpenAI's); absent = the supplier's default.
    #[serde(default)]
    pub detail: Option<String>,
}

/// One part of a message's content, in OpenAI's shape.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PartBody {
    Text {
        text: String,
    },
    ImageUrl {
        image_url: ImageUrl,
    },
    /// An uploaded file (`/api/v1/files/{file_id}`).
    File {
        file_id: Uuid,
        name: String,
        media_type: String,
    },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageBody {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The text parts joined.
    pub content: String,
    pub parts: Vec<PartBody>,
    /// The model's reasoning, where the supplier showed it.
    pub reasoning: Option<String>,
    /// A question's estimated tokens; an answer's completion tokens.
    pub tokens: i64,
    /// The model and supplier that answered (answers only).
    pub model: Option<String>,
    pub supplier: Option<String>,
    /// `complete`, `incomplete` (the client went away mid-stream) or `failed` (see `error`).
    pub status: String,
    pub error: Option<String>,
    pub finish_reason: Option<String>,
    /// The request id of the call (the call log's).
    pub request_id: Option<String>,
    /// Replaced by a regenerated answer; kept, left out of later contexts.
    pub superseded: bool,
    pub created_at: DateTime<Utc>,
}

impl From<Message> for MessageBody {
    fn from(message: Message) -> Self {
        Self {
            id: message.id.0,
            conversation_id: message.conversation_id.0,
            role: message.role.as_str().to_owned(),
            content: message.text(),
            parts: message
                .parts
                .into_iter()
                .map(|part| match part {
                    Part::Text(text) => PartBody::Text { text },
                    Part::Image { url, detail } => PartBody::ImageUrl {
                        image_url: ImageUrl { url, detail },
                    },
                    Part::File {
                        file_id,
                        name,
                        media_type,
                    } => PartBody::File {
                        file_id: file_id.0,
                        name,
                        media_type: media_type.as_str().to_owned(),
                    },
                })
                .collect(),
            reasoning: message.reasoning,
            tokens: message.tokens,
            model: message.model,
            supplier: message.supplier,
            status: message.status.as_str().to_owned(),
            error: message.error,
            finish_reason: message.finish_reason,
            request_id: message.request_id,
            superseded: message.superseded,
            created_at: message.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageList {
    pub data: Vec<MessageBody>,
    pub next_cursor: Option<String>,
}

/// A message to send into a conversation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessageRequest {
    /// The text, at most 100,000 characters; may be absent when images are sent.
    #[serde(default)]
    pub content: Option<String>,
    /// At most 10 images; a message with images needs a model that takes them.
    #[serde(default)]
    pub images: Vec<ImageUrl>,
    /// At most 10 uploaded files of the caller's (`/api/v1/files`): images go to the model as
    /// images, text documents inline as text (cut to the model's context); a PDF is named to
    /// the model, not sent.
    #[serde(default)]
    pub files: Vec<Uuid>,
    /// Stream the answer as server-sent events (the gateway's `chat.completion.chunk`s).
    #[serde(default)]
    pub stream: bool,
    /// The most tokens of the answer; the model's most output tokens when absent.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub max_tokens: Option<i64>,
}

impl SendMessageRequest {
    pub fn input(&self) -> MessageInput {
        message_input(self.content.clone(), &self.images, &self.files)
    }
}

/// A message's parts as the domain takes them.
pub fn message_input(content: Option<String>, images: &[ImageUrl], files: &[Uuid]) -> MessageInput {
    MessageInput {
        text: content,
        images: images
            .iter()
            .map(|image| (image.url.clone(), image.detail.clone()))
            .collect(),
        files: files.iter().copied().map(FileId).collect(),
    }
}

/// How to answer the last question again.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RegenerateRequest {
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    #[schema(minimum = 1)]
    pub max_tokens: Option<i64>,
}

/// A question and its stored answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExchangeBody {
    pub question: MessageBody,
    pub answer: MessageBody,
}

/// The export's format.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    #[default]
    Json,
    Markdown,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `json` (the default) or `markdown`.
    pub format: Option<ExportFormat>,
}

/// A conversation with all its messages, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationExport {
    pub conversation: ConversationBody,
    pub messages: Vec<MessageBody>,
}
