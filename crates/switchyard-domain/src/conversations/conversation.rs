//! A conversation: its writable fields (title, model, system prompt) and their rules, its
//! counters, and the filters of a listing.

use chrono::{DateTime, Utc};

use crate::kernel::error::DomainError;
use crate::kernel::ids::{UserId, id_type};
use crate::kernel::patch::merge_patch;
use crate::kernel::text::{length, no_nul, optional, optional_bounded};

id_type!(
    /// A conversation's id.
    ConversationId
);

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_MODEL_CHARS: usize = 128;
pub const MAX_SYSTEM_PROMPT_CHARS: usize = 32_000;
/// The longest title search.
pub const MAX_SEARCH_CHARS: usize = 100;

/// The writable fields of a conversation, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSpec {
    /// `None` until one is given or generated after the first exchange.
    pub title: Option<String>,
    /// The model's name as the gateway knows it (`auto` included).
    pub model: String,
    pub system_prompt: Option<String>,
}

/// The raw writable fields, as a caller sends them.
#[derive(Debug, Clone, Default)]
pub struct ConversationInput {
    pub title: Option<String>,
    pub model: String,
    pub system_prompt: Option<String>,
}

impl ConversationSpec {
    pub fn parse(input: ConversationInput) -> Result<Self, DomainError> {
        let model = input.model.trim().to_owned();
        length("model", &model, 1, MAX_MODEL_CHARS)?;
        let system_prompt = optional(input.system_prompt);
        if let Some(prompt) = &system_prompt {
            length("system_prompt", prompt, 1, MAX_SYSTEM_PROMPT_CHARS)?;
            no_nul("system_prompt", prompt)?;
        }
        no_nul("model", &model)?;
        Ok(Self {
            title: title(input.title)?,
            model,
            system_prompt,
        })
    }

    pub fn to_input(&self) -> ConversationInput {
        ConversationInput {
            title: self.title.clone(),
            model: self.model.clone(),
            system_prompt: self.system_prompt.clone(),
        }
    }
}

/// A title: trimmed, control characters turned into spaces, 1–200 characters; blank = none.
pub fn title(raw: Option<String>) -> Result<Option<String>, DomainError> {
    let cleaned = raw.map(|raw| {
        raw.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
    });
    optional_bounded("title", cleaned, MAX_TITLE_CHARS)
}

merge_patch!(
    /// A JSON Merge Patch of a conversation's writable fields.
    ConversationPatch of ConversationSpec via ConversationInput {
        title: Option<String>,
        model: String,
        system_prompt: Option<String>,
    }
);

/// A stored conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: ConversationId,
    pub user_id: UserId,
    pub spec: ConversationSpec,
    /// The tokens of its live messages.
    pub total_tokens: i64,
    /// Its live messages.
    pub message_count: i64,
    pub is_archived: bool,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Conversation {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// Which of the caller's conversations a listing shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationFilter {
    /// `Some(true)`: only archived ones; `Some(false)`: only the others; `None`: both.
    pub archived: Option<bool>,
    /// Soft-deleted ones instead of live ones.
    pub deleted: bool,
    /// Lower-cased text the title contains.
    pub search: Option<String>,
}

impl ConversationFilter {
    pub fn parse(archived: Option<bool>, deleted: Option<bool>, search: Option<String>) -> Result<Self, DomainError> {
        let search = optional_bounded("q", search, MAX_SEARCH_CHARS)?.map(|text| text.to_lowercase());
        if let Some(text) = &search {
            no_nul("q", text)?;
        }
        Ok(Self {
            archived,
            deleted: deleted.unwrap_or(false),
            search,
        })
    }
}

/// A new conversation, as the store writes it.
#[derive(Debug, Clone)]
pub struct NewConversation {
    pub id: ConversationId,
    pub user_id: UserId,
    pub spec: ConversationSpec,
    pub now: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_loses_its_control_characters_and_a_blank_one_is_none() {
        assert_eq!(
            title(Some(" a\u{0}b\nc ".into())).expect("a title"),
            Some("a b c".into())
        );
        assert_eq!(title(Some("   ".into())).expect("no title"), None);
        let long = "x".repeat(MAX_TITLE_CHARS + 1);
        assert!(title(Some(long)).is_err());
    }

    #[test]
    fn a_patch_keeps_what_it_does_not_name_and_clears_what_it_nulls() {
        let current = ConversationSpec::parse(ConversationInput {
            title: Some("t".into()),
            model: "m".into(),
            system_prompt: Some("be brief".into()),
        })
        .expect("a spec");
        let patch = ConversationPatch {
            system_prompt: Some(None),
            model: Some("n".into()),
            ..Default::default()
        };
        let patched = patch.apply(&current).expect("patched");
        assert_eq!(patched.title.as_deref(), Some("t"));
        assert_eq!(patched.model, "n");
        assert_eq!(patched.system_prompt, None);
        let bad = ConversationPatch {
            model: Some(" ".into()),
            ..Default::default()
        };
        assert!(bad.apply(&current).is_err());
    }
}
