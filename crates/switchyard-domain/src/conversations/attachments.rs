//! Files attached to messages, loaded for a turn's context: images as base64 (each protocol
//! then sends them in its own form), text documents as text cut to the context's room, other
//! documents (PDF) as base64 for the suppliers that read them.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::conversations::file::{FileId, MediaType};
use crate::conversations::files::Files;
use crate::conversations::message::{Loaded, Message};
use crate::gateway::ports::Tokenizer;
use crate::kernel::error::DomainError;
use crate::kernel::principal::Principal;

/// Cuts `text` to at most `most` tokens, saying so at the cut.
pub(crate) fn cut(tokenizer: &dyn Tokenizer, text: &str, most: i64) -> String {
    if tokenizer.count(text) <= most {
        return text.to_owned();
    }
    let boundaries: Vec<usize> = text.char_indices().map(|(at, _)| at).collect();
    let (mut low, mut high) = (0, boundaries.len());
    while low < high {
        let middle = (low + high).div_ceil(2);
        if tokenizer.count(&text[..boundaries[middle.min(boundaries.len() - 1)]]) <= most {
            low = middle;
        } else {
            high = middle - 1;
        }
    }
    let end = boundaries.get(low).copied().unwrap_or(text.len());
    format!(
        "{}\n[… the rest of the file is cut: it does not fit the model's context]",
        &text[..end]
    )
}

/// The contents of the files `messages` hold, text documents cut to `text_tokens` each. A file
/// deleted meanwhile is left out (the message then says it was removed).
pub(crate) async fn load(
    files: &Files,
    tokenizer: &dyn Tokenizer,
    user: &Principal,
    messages: &[&Message],
    text_tokens: i64,
) -> Result<HashMap<FileId, Loaded>, DomainError> {
    let mut seen = HashSet::new();
    let ids: Vec<FileId> = messages
        .iter()
        .flat_map(|message| message.files())
        .filter(|id| seen.insert(*id))
        .collect();
    let mut loaded = HashMap::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(loaded);
    }
    for file in files.get_many(user, &ids).await? {
        let bytes = match files.read(&file).await {
            Ok(bytes) => bytes,
            Err(DomainError::NotFound { .. }) => continue,
            Err(error) => return Err(error),
        };
        let content = match file.media_type {
            kind if kind.is_image() => Loaded::Image {
                media_type: kind,
                base64: STANDARD.encode(&bytes),
            },
            MediaType::Text | MediaType::Markdown => {
                Loaded::Text(cut(tokenizer, &String::from_utf8_lossy(&bytes), text_tokens.max(1)))
            }
            kind => Loaded::Document {
                media_type: kind,
                base64: STANDARD.encode(&bytes),
            },
        };
        loaded.insert(file.id, content);
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Words;

    impl Tokenizer for Words {
        fn count(&self, text: &str) -> i64 {
            text.split_whitespace().count() as i64
        }
    }

    #[test]
    fn a_document_is_cut_to_the_tokens_it_may_take() {
        assert_eq!(cut(&Words, "one two", 5), "one two");
        let cut = cut(&Words, "one two three four five six", 3);
        assert!(cut.starts_with("one two three"), "{cut}");
        assert!(!cut.contains("four"), "{cut}");
        assert!(cut.contains("cut"));
    }
}
