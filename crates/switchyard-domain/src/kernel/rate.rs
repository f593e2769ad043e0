//! The state of a caller's rate limits as OpenAI's `x-ratelimit-*` headers report it: for
//! requests and for tokens, the tightest limit that applies.

/// One limit's state after a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    /// Per minute.
    pub limit: u64,
    pub remaining: u64,
    /// Milliseconds until the limit is whole again.
    pub reset_ms: u64,
}

/// The requests' and the tokens' tightest limits; `None` where none applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    pub requests: Option<RateWindow>,
    pub tokens: Option<RateWindow>,
}
