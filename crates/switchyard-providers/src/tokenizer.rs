//! Token estimates with OpenAI's `o200k_base` encoding (bundled in `tiktoken-rs`): close enough
//! for every supplier when one reports no usage. The encoding is built once per process, on the
//! first estimate (most calls never need one), and shared.

use std::sync::{Arc, OnceLock};

use switchyard_domain::gateway::Tokenizer;
use tiktoken_rs::CoreBPE;

static ENCODING: OnceLock<Option<Arc<CoreBPE>>> = OnceLock::new();

/// The shared tokenizer. Cheap to create: the encoding is built on first use.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tiktoken;

impl Tiktoken {
    fn encoding() -> Option<&'static Arc<CoreBPE>> {
        ENCODING
            .get_or_init(|| match tiktoken_rs::o200k_base() {
                Ok(encoding) => Some(Arc::new(encoding)),
                Err(error) => {
                    // Bundled data that does not load is a build defect; estimates fall back to
                    // a rough count rather than failing calls.
                    tracing::error!(%error, "the bundled o200k_base encoding did not load; estimating 4 bytes per token");
                    None
                }
            })
            .as_ref()
    }

    /// Builds the encoding now (at start, so the first estimate does not wait).
    pub fn warm_up() {
        let _ = Self::encoding();
    }
}

impl Tokenizer for Tiktoken {
    fn count(&self, text: &str) -> i64 {
        if text.is_empty() {
            return 0;
        }
        let count = match Self::encoding() {
            Some(encoding) => encoding.encode_ordinary(text).len(),
            None => text.len().div_ceil(4),
        };
        i64::try_from(count).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_tokens_as_openai_does() {
        let tokenizer = Tiktoken;
        assert_eq!(tokenizer.count(""), 0);
        assert_eq!(tokenizer.count("hello world"), 2);
        assert!(tokenizer.count(&"lorem ipsum ".repeat(100)) > 100);
    }
}
