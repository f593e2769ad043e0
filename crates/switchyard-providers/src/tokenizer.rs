//! Token estimates with OpenAI's `o200k_base` encoding (bundled in `tiktoken-rs`, built once
//! per process): close enough for every supplier when one reports no usage.

use switchyard_domain::gateway::Tokenizer;
use tiktoken_rs::CoreBPE;

pub struct Tiktoken {
    encoding: CoreBPE,
}

impl std::fmt::Debug for Tiktoken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tiktoken(o200k_base)")
    }
}

impl Tiktoken {
    /// Builds the encoding (about 0.2 s in a release build): do it once, at start.
    pub fn new() -> Result<Self, String> {
        let encoding = tiktoken_rs::o200k_base().map_err(|error| format!("cannot build the tokenizer: {error}"))?;
        Ok(Self { encoding })
    }
}

impl Tokenizer for Tiktoken {
    fn count(&self, text: &str) -> i64 {
        if text.is_empty() {
            return 0;
        }
        i64::try_from(self.encoding.encode_ordinary(text).len()).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_tokens_as_openai_does() {
        let tokenizer = Tiktoken::new().expect("the bundled encoding");
        assert_eq!(tokenizer.count(""), 0);
        assert_eq!(tokenizer.count("hello world"), 2);
        assert!(tokenizer.count(&"lorem ipsum ".repeat(100)) > 100);
    }
}
