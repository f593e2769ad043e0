//! The call log: one compact row per gateway call (ids and numbers, no bodies and no copies of
//! catalog data), written in the background so that no request waits for the database.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::accounts::api_key::ApiKeyId;
use crate::catalog::ids::{ModelId, SupplierId};
use crate::gateway::usage::Usage;
use crate::kernel::ids::UserId;
use crate::kernel::named::named_enum;

named_enum!(
    /// Which gateway route a call came through.
    Endpoint, "endpoint", "invalid_endpoint" {
        ChatCompletions => "chat_completions",
        Embeddings => "embeddings",
    }
);

/// The longest error summary kept.
pub const MAX_ERROR_SUMMARY_CHARS: usize = 300;

/// One gateway call, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallLogEntry {
    /// A fresh UUIDv7, the row's key.
    pub id: Uuid,
    /// The request id (`x-request-id`), sent upstream too.
    pub request_id: String,
    pub user_id: Option<UserId>,
    pub api_key_id: Option<ApiKeyId>,
    pub model_id: Option<ModelId>,
    pub supplier_id: Option<SupplierId>,
    pub upstream_key_id: Option<Uuid>,
    /// The supplier's name for the model, when it differs from nothing known (kept: routes change).
    pub upstream_model: Option<String>,
    pub endpoint: Endpoint,
    pub stream: bool,
    /// What the client got (a stream that started is 200 even if it broke later).
    pub status_code: u16,
    pub error_code: Option<String>,
    pub error_summary: Option<String>,
    pub usage: Usage,
    /// In nano-units of `currency`.
    pub cost_nanos: i64,
    pub currency: Option<String>,
    pub time_to_first_token_ms: Option<i64>,
    pub latency_ms: i64,
    pub client_ip: Option<String>,
    /// Which try of the request this was (1 = the first; retries and fallbacks count on).
    pub attempt: u16,
    /// Sent with the caller's own key (bring your own key): priced, not counted against the
    /// platform's keys.
    pub byok: bool,
    pub created_at: DateTime<Utc>,
}

impl CallLogEntry {
    /// Cuts a summary to [`MAX_ERROR_SUMMARY_CHARS`].
    pub fn summary(text: &str) -> String {
        text.chars().take(MAX_ERROR_SUMMARY_CHARS).collect()
    }
}

/// What a page of the call log is narrowed to; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallLogFilter {
    /// From this instant (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Before this instant.
    pub to: Option<DateTime<Utc>>,
    pub user: Option<UserId>,
    pub api_key: Option<ApiKeyId>,
    pub model: Option<ModelId>,
    pub supplier: Option<SupplierId>,
    /// The status the client got.
    pub status: Option<u16>,
    pub error_code: Option<String>,
    pub stream: Option<bool>,
}
