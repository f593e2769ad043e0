//! Token estimates with OpenAI's `o200k_base` encoding (bundled in `tiktoken-rs`): close enough
//! for every supplier when one reports no usage. The encoding (about 40 MB) is built once per
//! process and shared: at start when preloaded, or else in the background on the first estimate
//! asked for — which, like any asked for before it is ready, counts 4 bytes a token rather than
//! make a request wait.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use switchyard_domain::gateway::Tokenizer;
use tiktoken_rs::CoreBPE;

static ENCODING: OnceLock<Option<Arc<CoreBPE>>> = OnceLock::new();
/// The background build has been started.
static LOADING: AtomicBool = AtomicBool::new(false);

/// The shared tokenizer. Cheap to create: the encoding is built once.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tiktoken {
    /// Wait for the encoding when it is being built (preloaded); otherwise estimate roughly
    /// until it is ready.
    wait: bool,
}

impl Tiktoken {
    /// A tokenizer whose encoding is built at start ([`Tiktoken::warm_up`]); an estimate asked
    /// for while it is being built waits for it.
    pub fn preloaded() -> Self {
        Self { wait: true }
    }

    /// A tokenizer whose encoding is built in the background on the first estimate.
    pub fn lazy() -> Self {
        Self { wait: false }
    }

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
        LOADING.store(true, Ordering::Relaxed);
        let _ = Self::encoding();
    }

    fn ready(&self) -> Option<&'static Arc<CoreBPE>> {
        if self.wait {
            return Self::encoding();
        }
        if let Some(encoding) = ENCODING.get() {
            return encoding.as_ref();
        }
        if !LOADING.swap(true, Ordering::AcqRel) {
            std::thread::spawn(Self::warm_up);
        }
        None
    }
}

impl Tokenizer for Tiktoken {
    fn count(&self, text: &str) -> i64 {
        if text.is_empty() {
            return 0;
        }
        let count = match self.ready() {
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
        let tokenizer = Tiktoken::preloaded();
        assert_eq!(tokenizer.count(""), 0);
        assert_eq!(tokenizer.count("hello world"), 2);
        assert!(tokenizer.count(&"lorem ipsum ".repeat(100)) > 100);
    }
}
