//! The gateway's ports: the supplier clients (`ChatProvider`, one implementation per wire
//! protocol behind one dispatcher), the catalog rows the routing snapshot is built from, the
//! call log (written in the background: recording never waits), and the tokenizer that
//! estimates usage when a supplier reports none.

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures_core::Stream;
use secrecy::SecretString;
use uuid::Uuid;

use crate::catalog::ids::SupplierId;
use crate::catalog::model::ModelDetail;
use crate::catalog::supplier::Protocol;
use crate::gateway::call_log::{CallLogEntry, CallLogFilter};
use crate::gateway::chat::{ChatChunk, ChatRequest, ChatResponse};
use crate::gateway::embedding::{EmbeddingRequest, EmbeddingResponse};
use crate::kernel::error::StoreError;
use crate::kernel::ids::UserId;
use crate::kernel::page::{Page, PageRequest};

/// How long a call to a supplier may take, phase by phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open the connection.
    pub connect: Duration,
    /// From sending the request to the first byte of the answer (the status line).
    pub first_byte: Duration,
    /// Between two pieces of a streamed answer.
    pub idle: Duration,
    /// For the whole call, a stream included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(60),
            idle: Duration::from_secs(60),
            total: Duration::from_secs(600),
        }
    }
}

/// Where and how to send one call: the route the gateway chose.
#[derive(Debug, Clone)]
pub struct UpstreamCall {
    pub protocol: Protocol,
    pub supplier: String,
    /// The supplier's base URL, as configured (`https://api.openai.com/v1`).
    pub base_url: String,
    pub api_key: Option<SecretString>,
    /// The supplier's name for the model (an Azure deployment, a Replicate `owner/name`).
    pub upstream_model: String,
    /// Azure's `api-version`, Anthropic's `anthropic-version`, when the model sets one.
    pub api_version: Option<String>,
    /// The model's most output tokens: the default `max_tokens` of suppliers that require one.
    pub max_output_tokens: Option<i64>,
    /// Sent upstream as `x-request-id`.
    pub request_id: String,
    pub timeouts: Timeouts,
    /// A user's own endpoint: every connection must reach no internal address (checked on the
    /// addresses the name resolves to when connecting).
    pub guarded: bool,
}

/// A phase of a call that ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    Connect,
    FirstByte,
    Idle,
    Total,
}

/// Why a supplier's answer is not an answer. Messages summarise the supplier's error (its type
/// and message); they never carry its raw body or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The supplier refused the request itself (400, 404, 413, 422): the client's fault.
    #[error("the supplier refused the request ({status}): {message}")]
    BadRequest { status: u16, message: String },
    /// The supplier refused our credentials (401, 403): an operator must fix the key.
    #[error("the supplier refused its key ({status}): {message}")]
    Unauthorized { status: u16, message: String },
    #[error("the supplier is rate limiting: {message}")]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// 529, 503, or an overload error in the body.
    #[error("the supplier is overloaded: {message}")]
    Overloaded {
        retry_after: Option<Duration>,
        message: String,
    },
    #[error("the supplier failed ({status}): {message}")]
    Failed { status: u16, message: String },
    #[error("the supplier did not answer in time ({phase:?})")]
    Timeout { phase: TimeoutPhase },
    #[error("the connection to the supplier failed: {message}")]
    Connection { message: String },
    /// An answer that does not read as the protocol says (or a stream cut short).
    #[error("the supplier's answer does not read: {message}")]
    Malformed { message: String },
    /// The request uses something this protocol cannot carry (audio to a text-only API).
    #[error("{message}")]
    Unsupported { message: String },
}

impl ProviderError {
    /// A timeout between chunks or of the whole call: what a long generation meets whatever
    /// the key (neither held against the key nor tried again elsewhere).
    pub fn met_by_long_generation(&self) -> bool {
        matches!(
            self,
            Self::Timeout {
                phase: TimeoutPhase::Idle | TimeoutPhase::Total
            }
        )
    }
}

/// A streamed answer: chunks as the supplier sends them.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, ProviderError>> + Send>>;

/// The supplier clients, one per wire protocol. The usage a provider returns is the supplier's
/// own figures, or `None` when it gave none.
#[async_trait]
pub trait ChatProvider: Send + Sync + std::fmt::Debug {
    async fn complete(&self, call: &UpstreamCall, request: &ChatRequest) -> Result<ChatResponse, ProviderError>;

    /// Sends the request and returns once the supplier has answered with a stream (its status
    /// and headers are in); the chunks follow.
    async fn stream(&self, call: &UpstreamCall, request: &ChatRequest) -> Result<ChatStream, ProviderError>;

    async fn embed(&self, call: &UpstreamCall, request: &EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError>;

    /// A cheap request that shows whether the supplier accepts `call`'s key (its model list,
    /// or its account), for a key out of rotation.
    async fn probe(&self, call: &UpstreamCall) -> Result<(), ProviderError>;
}

/// Counts tokens the way the suppliers' own tokenizers roughly do, for estimates.
pub trait Tokenizer: Send + Sync + std::fmt::Debug {
    fn count(&self, text: &str) -> i64;
}

/// Takes call-log entries without waiting: a bounded queue in front of a background writer.
pub trait CallLogSink: Send + Sync + std::fmt::Debug {
    fn record(&self, entry: CallLogEntry);

    /// What the writer has done since start, for the metrics.
    fn counts(&self) -> CallLogCounts {
        CallLogCounts::default()
    }
}

/// Reads the call log back, newest first.
#[async_trait]
pub trait CallLogReader: Send + Sync + std::fmt::Debug {
    /// A page of the entries matching the filter, newest first by `(created_at, id)`.
    async fn page(&self, filter: &CallLogFilter, page: PageRequest) -> Result<Page<CallLogEntry>, StoreError>;

    /// The entries (every try) of one request id, oldest first; only `user`'s when given.
    async fn by_request(&self, request_id: &str, user: Option<UserId>) -> Result<Vec<CallLogEntry>, StoreError>;
}

/// A call as it ended, for the metrics and the `request finished` line: the log entry and the
/// names its ids stand for.
#[derive(Debug, Clone, Copy)]
pub struct FinishedCall<'a> {
    pub entry: &'a CallLogEntry,
    /// The model's name (`unknown` for a model the catalog does not have).
    pub model: &'a str,
    /// The supplier's name (`none` when no supplier was reached).
    pub supplier: &'a str,
    /// Milliseconds spent waiting on the supplier (the rest of `latency_ms` is the gateway's).
    pub upstream_ms: Option<i64>,
}

/// Watches calls end (metrics, logs); it must not block.
pub trait CallObserver: Send + Sync + std::fmt::Debug {
    fn finished(&self, call: &FinishedCall<'_>);
}

/// The call-log writer's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallLogCounts {
    /// Rows in the database (replayed ones included).
    pub written: u64,
    /// Entries waiting in memory for the database.
    pub pending: u64,
    /// Entries appended to the spill file (the queue was full, the database away too long, or
    /// the server stopped while it was away).
    pub spilled: u64,
    /// Spilled entries written to the database since.
    pub replayed: u64,
    /// Batches the database refused (each retried, or spilled).
    pub failed_batches: u64,
}

/// A supplier's upstream key in rotation (`active`, or `error` to be probed), still encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpstreamKey {
    pub id: Uuid,
    pub supplier_id: SupplierId,
    pub ciphertext: String,
    pub weight: i32,
    /// The supplier refused it when it was last used.
    pub error: bool,
    pub status_reason: Option<String>,
    pub cooldown_until: Option<chrono::DateTime<chrono::Utc>>,
    /// An operator's last change: a key changed since starts with fresh health.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// What the routing snapshot is built from: every live model (with its capabilities, for the
/// model list) and the active keys of their suppliers, in a fixed number of queries.
#[derive(Debug, Clone, Default)]
pub struct RoutingRows {
    pub models: Vec<ModelDetail>,
    pub suppliers: Vec<crate::catalog::supplier::Supplier>,
    pub keys: Vec<StoredUpstreamKey>,
    /// Users' enabled model configs (bring your own key).
    pub configs: Vec<crate::gateway::byok::StoredModelConfig>,
}

/// A key's calls, from the call log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyCallStats {
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Calls that did not end in a success.
    pub errors: i64,
    pub last_error: Option<LastError>,
}

/// A key's latest failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    pub at: chrono::DateTime<chrono::Utc>,
    pub status_code: u16,
    pub code: Option<String>,
    pub summary: Option<String>,
}

/// The keys' rows, seen from the gateway: the background flush of their use and health, and
/// their history for the key API.
#[async_trait]
pub trait KeyStore: Send + Sync + std::fmt::Debug {
    /// In one transaction: adds the keys' uses, moves their last use forward and writes their
    /// state changes (never over an operator's `inactive` or a removal), and moves users' model
    /// configs' last use forward. All or nothing.
    async fn flush(
        &self,
        keys: &[crate::gateway::health::KeyFlush],
        configs_used: &[(Uuid, chrono::DateTime<chrono::Utc>)],
    ) -> Result<(), StoreError>;
    async fn call_stats(&self, key: Uuid) -> Result<KeyCallStats, StoreError>;
}

/// Waits a while (the runtime's timer in the server; tests move a manual clock instead).
#[async_trait]
pub trait Waiter: Send + Sync + std::fmt::Debug {
    async fn wait(&self, duration: std::time::Duration);
}

#[async_trait]
pub trait RoutingSource: Send + Sync + std::fmt::Debug {
    async fn routing_rows(&self) -> Result<RoutingRows, StoreError>;
}
