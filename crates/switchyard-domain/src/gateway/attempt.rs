//! A gateway call on its way (the model, the route, the log entry it will write) and how a
//! supplier's failure is told to the client; shared by whole and streamed answers.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::gateway::call_log::CallLogEntry;
use crate::gateway::ports::ProviderError;
use crate::gateway::routing::{RoutableModel, RouteTarget};
use crate::kernel::error::{DomainError, UpstreamFailure};

/// A call on its way: the model, the route and what its log entry will say.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub model: Arc<RoutableModel>,
    pub route: RouteTarget,
    pub entry: CallLogEntry,
    pub started: DateTime<Utc>,
    /// When the request went to the supplier.
    pub upstream_started: Option<DateTime<Utc>>,
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

    pub fn into_domain(self, error: &ProviderError) -> DomainError {
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
