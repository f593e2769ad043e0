//! A gateway call on its way (the model, the route, the log entry it will write) and how a
//! supplier's failure is told to the client; shared by whole and streamed answers.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::gateway::call_log::CallLogEntry;
use crate::gateway::health::{HealthSettings, KeyHealth, Outcome, millis};
use crate::gateway::pool::PoolKey;
use crate::gateway::ports::ProviderError;
use crate::gateway::routing::{RoutableModel, RouteTarget};
use crate::kernel::error::{DomainError, UpstreamFailure};

/// A call on its way: the model, the route, the key and what its log entry will say.
#[derive(Debug)]
pub struct Attempt {
    pub model: Arc<RoutableModel>,
    pub route: RouteTarget,
    /// The pool key it goes with (`None` for a supplier that needs none, or a user's own key).
    pub key: Option<PoolKey>,
    /// The secret sent: the pool key's, or the user's own.
    pub secret: Option<secrecy::SecretString>,
    /// A user's own endpoint: connections are checked against internal addresses.
    pub guarded: bool,
    /// The key's share of the load while the call runs.
    pub lease: Option<Lease>,
    pub entry: CallLogEntry,
    /// When the request reached the gateway (its first try's start).
    pub started: DateTime<Utc>,
    /// When the request went to the supplier.
    pub upstream_started: Option<DateTime<Utc>>,
}

impl Attempt {
    /// Counts how the call ended against its key's health, once.
    pub fn settle(&mut self, outcome: Result<(), &ProviderError>, now: DateTime<Utc>) {
        if let Some(lease) = self.lease.as_mut() {
            lease.end(outcome, now);
        }
    }
}

/// The model, supplier and number of tries that produced an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedBy {
    pub model: String,
    pub supplier: String,
    pub attempts: u16,
}

impl ServedBy {
    pub(super) fn of(attempt: &Attempt) -> Self {
        Self {
            model: attempt.model.name.clone(),
            supplier: attempt.route.supplier_name.clone(),
            attempts: attempt.entry.attempt,
        }
    }
}

/// A call in flight through a key: counted in the key's load until it ends or is dropped.
#[derive(Debug)]
pub struct Lease {
    health: Arc<KeyHealth>,
    settings: HealthSettings,
    sent: DateTime<Utc>,
    ended: bool,
}

impl Lease {
    pub fn new(health: Arc<KeyHealth>, settings: HealthSettings, now: DateTime<Utc>) -> Self {
        health.begin(millis(now));
        Self {
            health,
            settings,
            sent: now,
            ended: false,
        }
    }

    fn end(&mut self, outcome: Result<(), &ProviderError>, now: DateTime<Utc>) {
        if self.ended {
            return;
        }
        self.ended = true;
        let outcome = match outcome {
            Ok(()) => Outcome::Success {
                latency: (now - self.sent).to_std().unwrap_or_default(),
            },
            Err(error) => Outcome::of(error),
        };
        self.health.end(&outcome, millis(now), &self.settings);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Cancelled (the client went away): the key is no longer loaded, and nothing is known
        // of its health.
        if !self.ended {
            self.health.end(&Outcome::Neutral, 0, &self.settings);
        }
    }
}

/// Whether a supplier's failure may be tried again elsewhere: its own trouble (429, 5xx,
/// connecting or waiting for its answer to begin, a key it refused, an answer that does not
/// read) — never a refusal of the request itself, nor a timeout between chunks or of the whole
/// call (a long generation would only meet it again, at the cost of another).
pub fn retriable(error: &ProviderError) -> bool {
    !matches!(
        error,
        ProviderError::BadRequest { .. } | ProviderError::Unsupported { .. }
    ) && !error.met_by_long_generation()
}

impl UpstreamFailure {
    /// The status the client gets, as logged.
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::RateLimited => 429,
            Self::Failed => 502,
            Self::Overloaded => 503,
            Self::Timeout => 504,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::BadRequest => "upstream_bad_request",
            Self::RateLimited => "rate_limited",
            Self::Failed => "upstream_error",
            Self::Overloaded => "upstream_overloaded",
            Self::Timeout => "upstream_timeout",
        }
    }

    /// The failure in the domain's words; `own_key` when the call went with the caller's own
    /// key (bring your own key), whose refusal is theirs to fix.
    pub fn into_domain(self, error: &ProviderError, own_key: bool) -> DomainError {
        let retry_after_seconds = match error {
            ProviderError::RateLimited { retry_after, .. } | ProviderError::Overloaded { retry_after, .. } => {
                retry_after.map(|wait| wait.as_secs().max(1))
            }
            _ => None,
        };
        // A supplier refusing the gateway's own credentials is the operator's to fix, and its
        // words may hold a piece of the key or the account's billing state: callers get none of
        // them (the call log keeps the summary).
        let message = match error {
            ProviderError::Unauthorized { .. } if own_key => {
                "the supplier refused your own key for this model; fix or disable it under /api/v1/users/me/model-configs"
                    .to_owned()
            }
            ProviderError::Unauthorized { .. } => {
                "the supplier refused the gateway's credentials for this model; an operator must fix the supplier's key"
                    .to_owned()
            }
            other => other.to_string(),
        };
        DomainError::Upstream {
            failure: self,
            message,
            retry_after_seconds,
        }
    }
}

/// How the client is told about a supplier's failure.
pub fn upstream_failure(error: &ProviderError) -> UpstreamFailure {
    match error {
        ProviderError::BadRequest { .. } | ProviderError::Unsupported { .. } => UpstreamFailure::BadRequest,
        ProviderError::RateLimited { .. } => UpstreamFailure::RateLimited,
        ProviderError::Overloaded { .. } => UpstreamFailure::Overloaded,
        ProviderError::Timeout { .. } => UpstreamFailure::Timeout,
        ProviderError::Unauthorized { .. }
        | ProviderError::Failed { .. }
        | ProviderError::Connection { .. }
        | ProviderError::Malformed { .. } => UpstreamFailure::Failed,
    }
}
