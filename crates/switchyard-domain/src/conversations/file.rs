//! An uploaded file: what it is (judged from its bytes, never from the client's claim), its
//! name as shown (sanitised; storage keys are generated, never taken from the client), and the
//! limits an upload keeps to.

use chrono::{DateTime, Utc};

use crate::kernel::error::DomainError;
use crate::kernel::ids::{UserId, id_type};
use crate::kernel::named::named_enum;

id_type!(
    /// An uploaded file's id.
    FileId
);

named_enum!(
    /// The kinds of file Switchyard takes.
    MediaType, "media_type", "invalid_media_type" {
        Png => "image/png",
        Jpeg => "image/jpeg",
        Webp => "image/webp",
        Gif => "image/gif",
        Pdf => "application/pdf",
        Text => "text/plain",
        Markdown => "text/markdown",
    }
);

impl MediaType {
    pub fn is_image(self) -> bool {
        matches!(self, Self::Png | Self::Jpeg | Self::Webp | Self::Gif)
    }

    pub fn is_text(self) -> bool {
        matches!(self, Self::Text | Self::Markdown)
    }

    /// The file name extensions that claim this kind.
    fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Png => &["png"],
            Self::Jpeg => &["jpg", "jpeg"],
            Self::Webp => &["webp"],
            Self::Gif => &["gif"],
            Self::Pdf => &["pdf"],
            Self::Text => &["txt", "text", "log", "csv"],
            Self::Markdown => &["md", "markdown"],
        }
    }
}

/// The bytes read before an upload's kind is judged.
pub const SNIFF_BYTES: usize = 8 * 1024;
/// The longest name kept for display.
pub const MAX_NAME_CHARS: usize = 255;

/// The code of an upload whose bytes are not a kind Switchyard takes, or not what its name says.
pub const UNSUPPORTED_FILE: &str = "unsupported_file";

fn unsupported(message: String) -> DomainError {
    DomainError::UnsupportedMedia { message }
}

/// Whether `head` (the first bytes) reads as text: UTF-8 (a character cut at the end of the
/// head allowed) with no control characters but tabs, line ends and form feeds.
fn is_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        // A multi-byte character cut by the end of the head, and nothing else wrong.
        Err(error) if error.error_len().is_none() && head.len() - error.valid_up_to() < 4 => {
            match std::str::from_utf8(&head[..error.valid_up_to()]) {
                Ok(text) => text,
                Err(_) => return false,
            }
        }
        Err(_) => return false,
    };
    valid
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
}

/// The kind of a file from its first bytes, checked against what its name claims: a name
/// whose extension names another kind (or a kind Switchyard does not take) is refused.
pub fn sniff(head: &[u8], name: &str) -> Result<MediaType, DomainError> {
    let extension = name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .filter(|extension| !extension.is_empty() && extension.len() <= 10);
    let claimed = extension.as_deref().map(|extension| {
        MediaType::ALL
            .iter()
            .copied()
            .find(|kind| kind.extensions().contains(&extension))
    });
    let found = match infer::get(head).map(|kind| kind.mime_type()) {
        Some("image/png") => Some(MediaType::Png),
        Some("image/jpeg") => Some(MediaType::Jpeg),
        Some("image/webp") => Some(MediaType::Webp),
        Some("image/gif") => Some(MediaType::Gif),
        Some("application/pdf") => Some(MediaType::Pdf),
        Some(_) => None,
        None if !head.is_empty() && is_text(head) => Some(match claimed {
            Some(Some(MediaType::Markdown)) => MediaType::Markdown,
            _ => MediaType::Text,
        }),
        None => None,
    };
    let Some(found) = found else {
        return Err(unsupported(
            "the content is not a PNG, JPEG, WebP or GIF image, a PDF, or plain text".to_owned(),
        ));
    };
    match claimed {
        None => Ok(found),
        Some(Some(kind)) if kind == found || (kind.is_text() && found.is_text()) => Ok(found),
        Some(_) => Err(unsupported(format!(
            "the name says .{} but the content is {}",
            extension.unwrap_or_default(),
            found.as_str()
        ))),
    }
}

/// A name fit for display: its last path component (no directories, `/` or `\`), control
/// characters dropped, trimmed, at most 255 characters; `file` when nothing is left.
pub fn display_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let name: String = trimmed.chars().take(MAX_NAME_CHARS).collect();
    if name.is_empty() { "file".to_owned() } else { name }
}

/// What uploads keep to, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLimits {
    /// The largest file, in bytes.
    pub max_file_bytes: u64,
    /// The most files one user keeps.
    pub max_files_per_user: u64,
    /// The most bytes one user's files take together.
    pub max_bytes_per_user: u64,
    /// The kinds taken; the others are refused (415).
    pub allowed: Vec<MediaType>,
}

impl Default for FileLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: 20 * 1024 * 1024,
            max_files_per_user: 1000,
            max_bytes_per_user: 1024 * 1024 * 1024,
            allowed: MediaType::ALL.to_vec(),
        }
    }
}

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub id: FileId,
    pub user_id: UserId,
    /// The sanitised original name, for display.
    pub name: String,
    pub media_type: MediaType,
    pub size: i64,
    /// Lower-case hex.
    pub sha256: String,
    /// Where the bytes are: generated from the owner and the id, never from the client.
    pub storage_key: String,
    pub created_at: DateTime<Utc>,
}

/// The storage key of a user's file.
pub fn storage_key(user: UserId, id: FileId) -> String {
    format!("users/{user}/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn the_kind_comes_from_the_bytes_and_a_name_that_claims_another_is_refused() {
        assert_eq!(sniff(PNG, "cat.png"), Ok(MediaType::Png));
        assert_eq!(sniff(PNG, "no-extension"), Ok(MediaType::Png));
        assert_eq!(sniff(b"%PDF-1.7\n", "paper.pdf"), Ok(MediaType::Pdf));
        assert_eq!(
            sniff("# Title\n\nSome text é".as_bytes(), "notes.md"),
            Ok(MediaType::Markdown)
        );
        assert_eq!(sniff(b"plain words", "notes.txt"), Ok(MediaType::Text));
        assert_eq!(sniff(b"plain words", "notes"), Ok(MediaType::Text));
        for (head, name) in [
            (b"plain words".as_slice(), "cat.png"),
            (PNG, "cat.jpg"),
            (PNG, "cat.exe"),
            (b"MZ\x90\0\x03\0\0\0", "tool.exe"),
            (b"MZ\x90\0\x03\0\0\0", "tool.txt"),
            (b"\0\0\0binary", "data"),
            (b"", "empty.txt"),
        ] {
            let refused = sniff(head, name);
            assert!(
                matches!(refused, Err(DomainError::UnsupportedMedia { .. })),
                "{name}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_character_cut_at_the_end_of_the_head_is_still_text() {
        let text = "é".repeat(10);
        let cut = &text.as_bytes()[..text.len() - 1];
        assert!(is_text(cut));
        assert!(!is_text(b"\xff\xfe broken"));
    }

    #[test]
    fn a_name_for_display_loses_its_path_and_control_characters() {
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("C:\\Users\\me\\cat.png"), "cat.png");
        assert_eq!(display_name("evil\u{0}\r\nname.txt"), "evilname.txt");
        assert_eq!(display_name("..."), "file");
        assert_eq!(display_name(" .hidden "), "hidden");
        assert_eq!(display_name(&"a".repeat(300)).chars().count(), MAX_NAME_CHARS);
    }
}
