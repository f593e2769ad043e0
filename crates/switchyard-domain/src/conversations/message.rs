//! A message of a conversation: who said it, its content (text, and parts that name images),
//! its tokens, what produced it and how its turn ended; and what a caller sends.

use chrono::{DateTime, Utc};

use std::collections::HashMap;

use crate::conversations::conversation::ConversationId;
use crate::conversations::file::{FileId, MediaType};
use crate::gateway::chat::{ChatMessage, ChatRole, ContentPart, ImageSource, MessageContent};
use crate::kernel::error::DomainError;
use crate::kernel::ids::id_type;
use crate::kernel::named::named_enum;
use crate::kernel::text::no_nul;

id_type!(
    /// A message's id.
    MessageId
);

/// The longest text of one message sent.
pub const MAX_TEXT_CHARS: usize = 100_000;
/// The most images of one message (by URL), and the most files.
pub const MAX_IMAGES: usize = 10;
pub const MAX_FILES: usize = 10;
/// The longest image URL (a `data:` URL carries the image itself).
pub const MAX_IMAGE_URL_CHARS: usize = 8 * 1024 * 1024;
/// The most bytes of text and image URLs one message stores (MySQL's MEDIUMTEXT holds 16 MiB).
pub const MAX_CONTENT_BYTES: usize = 12 * 1024 * 1024;
/// The longest error kept with a failed answer.
pub const MAX_ERROR_CHARS: usize = 300;

named_enum!(
    /// Who said a message.
    MessageRole, "role", "invalid_role" {
        System => "system",
        User => "user",
        Assistant => "assistant",
        Tool => "tool",
    }
);

named_enum!(
    /// How the turn that produced a message ended.
    MessageStatus, "status", "invalid_status" {
        Complete => "complete",
        /// The answer stopped early: the client went away mid-stream.
        Incomplete => "incomplete",
        /// The supplier failed; whatever had arrived is kept with the error.
        Failed => "failed",
    }
);

/// One part of a stored message's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// An image by URL: `https://…` or a `data:` URL.
    Image {
        url: String,
        detail: Option<String>,
    },
    /// An uploaded file (an image, or a document inlined as text).
    File {
        file_id: FileId,
        name: String,
        media_type: MediaType,
    },
}

/// A file's content as a model's context takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// An image, base64.
    Image { media_type: MediaType, base64: String },
    /// A text document, cut to the context's room.
    Text(String),
    /// Any other document (a PDF), base64: sent as OpenAI's `file` part.
    Document { media_type: MediaType, base64: String },
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub role: MessageRole,
    pub parts: Vec<Part>,
    /// The model's reasoning, where the supplier showed it.
    pub reasoning: Option<String>,
    /// The message's own tokens: a question's estimate, an answer's completion tokens.
    pub tokens: i64,
    /// The model and supplier that answered (answers only).
    pub model: Option<String>,
    pub supplier: Option<String>,
    pub status: MessageStatus,
    pub error: Option<String>,
    pub finish_reason: Option<String>,
    /// The call log's request id of the call that answered.
    pub request_id: Option<String>,
    /// Replaced by a regenerated answer (kept, left out of the context).
    pub superseded: bool,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Message {
    /// The text parts joined.
    pub fn text(&self) -> String {
        self.parts
            .iter()
            .filter_map(|part| match part {
                Part::Text(text) => Some(text.as_str()),
                Part::Image { .. } | Part::File { .. } => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The files the message holds.
    pub fn files(&self) -> impl Iterator<Item = FileId> + '_ {
        self.parts.iter().filter_map(|part| match part {
            Part::File { file_id, .. } => Some(*file_id),
            _ => None,
        })
    }

    /// Whether a later turn's context includes it: not deleted, not replaced, and not a
    /// failure (a failed answer says nothing the model should build on).
    pub fn in_context(&self) -> bool {
        self.deleted_at.is_none() && !self.superseded && self.status != MessageStatus::Failed
    }

    /// The message as the gateway sends it, its files' contents taken from `files` (a file
    /// missing there has been deleted: a note says so).
    pub fn to_chat(&self, files: &HashMap<FileId, Loaded>) -> ChatMessage {
        let role = match self.role {
            MessageRole::System => ChatRole::System,
            MessageRole::User => ChatRole::User,
            MessageRole::Assistant => ChatRole::Assistant,
            MessageRole::Tool => ChatRole::Tool,
        };
        let content = if self.parts.iter().all(|part| matches!(part, Part::Text(_))) {
            MessageContent::Text(self.text())
        } else {
            MessageContent::Parts(self.parts.iter().filter_map(|part| chat_part(part, files)).collect())
        };
        ChatMessage {
            role: Some(role),
            content,
            ..ChatMessage::default()
        }
    }
}

fn chat_part(part: &Part, files: &HashMap<FileId, Loaded>) -> Option<ContentPart> {
    Some(match part {
        Part::Text(text) => ContentPart::Text(text.clone()),
        Part::Image { url, detail } => ContentPart::Image {
            source: ImageSource::from_url(url)?,
            detail: detail.clone(),
        },
        Part::File { file_id, name, .. } => match files.get(file_id) {
            Some(Loaded::Image { media_type, base64 }) => ContentPart::Image {
                source: ImageSource::Data {
                    media_type: media_type.as_str().to_owned(),
                    base64: base64.clone(),
                },
                detail: None,
            },
            Some(Loaded::Text(text)) => ContentPart::Text(format!("File {name}:\n\n{text}")),
            // Not every protocol reads PDFs, and one kept in the history would fail every
            // later turn on a model that does not: the model is told it is there.
            Some(Loaded::Document { media_type, .. }) => ContentPart::Text(format!(
                "(The file {name}, {}, is attached here; its content is not sent to the model.)",
                media_type.as_str()
            )),
            None => ContentPart::Text(format!("(The file {name} was attached here; it has been deleted.)")),
        },
    })
}

/// What a caller sends into a conversation.
#[derive(Debug, Clone, Default)]
pub struct MessageInput {
    pub text: Option<String>,
    /// Images by URL (`https://…` or `data:image/…;base64,…`), each with an optional `detail`.
    pub images: Vec<(String, Option<String>)>,
    /// Uploaded files of the caller's.
    pub files: Vec<FileId>,
}

/// A checked message to send: its parts, and the files still to be looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub parts: Vec<Part>,
    pub files: Vec<FileId>,
}

impl Question {
    pub fn parse(input: MessageInput) -> Result<Self, DomainError> {
        let mut parts = Vec::new();
        if let Some(text) = input.text.filter(|text| !text.trim().is_empty()) {
            no_nul("content", &text)?;
            if text.chars().count() > MAX_TEXT_CHARS {
                return Err(DomainError::validation(
                    "content",
                    "invalid_length",
                    format!("must be at most {MAX_TEXT_CHARS} characters"),
                ));
            }
            parts.push(Part::Text(text));
        }
        if input.images.len() > MAX_IMAGES {
            return Err(DomainError::validation(
                "images",
                "too_many",
                format!("at most {MAX_IMAGES} images per message"),
            ));
        }
        for (index, (url, detail)) in input.images.into_iter().enumerate() {
            let field = format!("images[{index}]");
            let readable = url.len() <= MAX_IMAGE_URL_CHARS
                && match ImageSource::from_url(&url) {
                    Some(ImageSource::Url(url)) => url.starts_with("https://"),
                    Some(ImageSource::Data { media_type, .. }) => media_type.starts_with("image/"),
                    None => false,
                };
            if !readable {
                return Err(DomainError::validation(
                    &field,
                    "invalid_image",
                    "must be an https URL or a data:image/…;base64 URL",
                ));
            }
            if let Some(detail) = &detail
                && !matches!(detail.as_str(), "low" | "high" | "auto")
            {
                return Err(DomainError::validation(
                    &format!("{field}.detail"),
                    "invalid_detail",
                    "must be one of low, high, auto",
                ));
            }
            parts.push(Part::Image { url, detail });
        }
        let mut files = input.files;
        if files.len() > MAX_FILES {
            return Err(DomainError::validation(
                "files",
                "too_many",
                format!("at most {MAX_FILES} files per message"),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        files.retain(|file| seen.insert(*file));
        let bytes: usize = parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.len(),
                Part::Image { url, .. } => url.len(),
                Part::File { .. } => 0,
            })
            .sum();
        if bytes > MAX_CONTENT_BYTES {
            return Err(DomainError::TooLarge {
                message: format!(
                    "the message's text and images take {bytes} bytes, more than {MAX_CONTENT_BYTES}; upload large images as files"
                ),
            });
        }
        if parts.is_empty() && files.is_empty() {
            return Err(DomainError::validation(
                "content",
                "empty_message",
                "send text, an image, a file or several",
            ));
        }
        Ok(Self { parts, files })
    }
}

/// A message as the store writes it, with its conversation's counters in the same transaction.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub message: Message,
    /// Also mark this earlier answer superseded (a regenerated answer replaces it).
    pub supersedes: Option<MessageId>,
}

/// Which way a page of messages goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Newest first.
    #[default]
    Descending,
    Ascending,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_needs_text_or_an_image_and_takes_only_readable_images() {
        assert!(Question::parse(MessageInput::default()).is_err());
        assert!(
            Question::parse(MessageInput {
                text: Some("  ".into()),
                ..Default::default()
            })
            .is_err()
        );
        let image = Question::parse(MessageInput {
            text: None,
            images: vec![("data:image/png;base64,iVBORw0KGgo=".into(), Some("low".into()))],
            files: Vec::new(),
        })
        .expect("an image question");
        assert_eq!(image.parts.len(), 1);
        for url in [
            "http://example.com/a.png",
            "file:///etc/passwd",
            "data:text/plain;base64,aGk=",
        ] {
            let refused = Question::parse(MessageInput {
                text: Some("hi".into()),
                images: vec![(url.into(), None)],
                files: Vec::new(),
            });
            assert!(refused.is_err(), "{url}");
        }
    }
}
