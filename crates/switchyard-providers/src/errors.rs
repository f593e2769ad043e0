//! A supplier's error answer, summarised: the status decides the kind (with the body's word
//! where a protocol says more than its status), the message is the supplier's own (its type
//! and text), cut short, with the call's key taken out. The raw body is never passed on.

use std::time::Duration;

use reqwest::header::HeaderMap;
use secrecy::ExposeSecret;
use serde_json::Value;
use switchyard_domain::gateway::{ProviderError, TimeoutPhase, UpstreamCall};

/// The longest supplier message kept.
const MAX_MESSAGE_CHARS: usize = 300;
/// The longest wait a supplier may ask for that is passed on.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// What a body says more than its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Unauthorized,
    RateLimited,
    Overloaded,
    BadRequest,
}

/// A protocol's reading of an error body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorSummary {
    /// `type: message`, as the supplier put it.
    pub message: String,
    pub class: Option<Class>,
    /// A wait the body names (Gemini's `RetryInfo`).
    pub retry_after: Option<Duration>,
}

/// How a protocol reads its error bodies.
pub type ErrorReader = fn(&Value) -> Option<ErrorSummary>;

/// Reads `{"error": {"message", "type", "code"}}` (OpenAI and its imitators; `code` may be a
/// number), and `{"error": "text"}`.
pub fn openai_error(body: &Value) -> Option<ErrorSummary> {
    let error = body.get("error")?;
    if let Some(text) = error.as_str() {
        return Some(ErrorSummary {
            message: text.to_owned(),
            ..ErrorSummary::default()
        });
    }
    let message = error.get("message").and_then(Value::as_str).unwrap_or_default();
    let kind = error
        .get("type")
        .and_then(Value::as_str)
        .or_else(|| error.get("code").and_then(Value::as_str));
    let class = match kind {
        // Out of credit is the operator's account, not a rate limit to wait out.
        Some("insufficient_quota" | "billing_error" | "authentication_error" | "permission_error") => {
            Some(Class::Unauthorized)
        }
        Some("rate_limit_exceeded" | "rate_limit_error") => Some(Class::RateLimited),
        Some("server_overloaded" | "overloaded_error") => Some(Class::Overloaded),
        Some("content_filter") => Some(Class::BadRequest),
        _ => None,
    };
    Some(ErrorSummary {
        message: match kind {
            Some(kind) if !message.is_empty() => format!("{kind}: {message}"),
            Some(kind) => kind.to_owned(),
            None => message.to_owned(),
        },
        class,
        retry_after: None,
    })
}

/// Reads Google's `{"error": {"code", "message", "status", "details"}}` (also wrapped in a
/// one-element array): `RESOURCE_EXHAUSTED` is a rate limit with the wait its `RetryInfo` names,
/// `UNAVAILABLE` an overload, and a bad key (a 400 with `API_KEY_INVALID`) a refused key.
pub fn google_error(body: &Value) -> Option<ErrorSummary> {
    let body = match body {
        Value::Array(items) => items.first()?,
        other => other,
    };
    let error = body.get("error")?;
    let message = error.get("message").and_then(Value::as_str).unwrap_or_default();
    let status = error.get("status").and_then(Value::as_str);
    let details = error
        .get("details")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let reason = |wanted: &str| {
        details
            .iter()
            .any(|detail| detail.get("reason").and_then(Value::as_str) == Some(wanted))
    };
    let retry_after = details
        .iter()
        .find_map(|detail| detail.get("retryDelay").and_then(Value::as_str))
        .and_then(|delay| delay.strip_suffix('s')?.parse::<f64>().ok())
        .and_then(seconds);
    let class = match status {
        _ if reason("API_KEY_INVALID") => Some(Class::Unauthorized),
        Some("UNAUTHENTICATED" | "PERMISSION_DENIED") => Some(Class::Unauthorized),
        Some("RESOURCE_EXHAUSTED") => Some(Class::RateLimited),
        Some("UNAVAILABLE") => Some(Class::Overloaded),
        Some("INVALID_ARGUMENT" | "NOT_FOUND" | "FAILED_PRECONDITION") => Some(Class::BadRequest),
        _ => None,
    };
    Some(ErrorSummary {
        message: match status {
            Some(status) => format!("{status}: {message}"),
            None => message.to_owned(),
        },
        class,
        retry_after,
    })
}

/// Reads Replicate's problem details `{"title", "detail"}` (and `{"detail"}` alone).
pub fn replicate_error(body: &Value) -> Option<ErrorSummary> {
    let detail = body.get("detail").and_then(Value::as_str);
    let title = body.get("title").and_then(Value::as_str);
    if detail.is_none() && title.is_none() {
        return None;
    }
    let message = match (title, detail) {
        (Some(title), Some(detail)) => format!("{title}: {detail}"),
        (one, other) => one.or(other).unwrap_or_default().to_owned(),
    };
    Some(ErrorSummary {
        message,
        ..ErrorSummary::default()
    })
}

/// An error the supplier sent inside a stream that had begun well (its status was 200): the
/// body's class decides the kind; the rest is a failure of the supplier.
pub fn stream_error(summary: Option<ErrorSummary>, call_key: Option<&str>) -> ProviderError {
    let summary = summary.unwrap_or_else(|| ErrorSummary {
        message: "the supplier failed mid-stream".to_owned(),
        ..ErrorSummary::default()
    });
    let mut message: String = summary.message.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(key) = call_key.filter(|key| !key.is_empty()) {
        message = message.replace(key, "[key]");
    }
    let message: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    let retry_after = summary.retry_after;
    match summary.class {
        Some(Class::RateLimited) => ProviderError::RateLimited { retry_after, message },
        Some(Class::Overloaded) => ProviderError::Overloaded { retry_after, message },
        Some(Class::Unauthorized) => ProviderError::Unauthorized { status: 200, message },
        Some(Class::BadRequest) => ProviderError::BadRequest { status: 200, message },
        None => ProviderError::Failed { status: 200, message },
    }
}

/// The error of a status that is not a success.
pub fn from_status(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    reader: ErrorReader,
    call: &UpstreamCall,
) -> ProviderError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let summary = parsed.as_ref().and_then(reader).unwrap_or_else(|| ErrorSummary {
        message: String::from_utf8_lossy(body).trim().to_owned(),
        ..ErrorSummary::default()
    });
    let message = clean(&summary.message, status, call);
    let retry_after = summary.retry_after.or_else(|| retry_after(headers));
    // The supplier's own timeout is a timeout, whatever its body says.
    if matches!(status, 408 | 504) {
        return ProviderError::Timeout {
            phase: TimeoutPhase::Total,
        };
    }
    // A 404 says the route names a model (or path) the supplier does not have: the operator's
    // to fix, so it is not the client's 400.
    let class = summary.class.or(match status {
        401..=403 => Some(Class::Unauthorized),
        429 => Some(Class::RateLimited),
        503 | 529 => Some(Class::Overloaded),
        400 | 405 | 409 | 413 | 415 | 422 => Some(Class::BadRequest),
        _ => None,
    });
    match class {
        Some(Class::Unauthorized) => ProviderError::Unauthorized { status, message },
        Some(Class::RateLimited) => ProviderError::RateLimited { retry_after, message },
        Some(Class::Overloaded) => ProviderError::Overloaded { retry_after, message },
        Some(Class::BadRequest) => ProviderError::BadRequest { status, message },
        None => ProviderError::Failed { status, message },
    }
}

/// The supplier's message on one line, cut short, without the call's key.
pub fn clean(message: &str, status: u16, call: &UpstreamCall) -> String {
    let mut text: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(key) = &call.api_key {
        let key = key.expose_secret();
        if !key.is_empty() {
            text = text.replace(key, "[key]");
        }
    }
    if text.is_empty() {
        return format!("status {status}");
    }
    let short: String = text.chars().take(MAX_MESSAGE_CHARS).collect();
    format!("{} ({status})", short.trim_end())
}

/// A wait in seconds as a supplier wrote it: negative is none, more than a day (or not a
/// number, or infinite) is a day at most. Never a panic, whatever the text.
fn seconds(value: f64) -> Option<Duration> {
    if value.is_nan() {
        return None;
    }
    let wait = Duration::try_from_secs_f64(value.max(0.0)).unwrap_or(MAX_RETRY_AFTER);
    Some(wait.min(MAX_RETRY_AFTER))
}

/// `Retry-After` in seconds (or `retry-after-ms`); an HTTP date is read as the wait until it.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim);
    if let Some(ms) = text("retry-after-ms").and_then(|value| value.parse::<f64>().ok()) {
        return seconds(ms / 1000.0);
    }
    let value = text("retry-after")?;
    if let Ok(wait) = value.parse::<f64>() {
        return seconds(wait);
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    wait.to_std().ok().map(|wait| wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;
    use switchyard_domain::catalog::Protocol;
    use switchyard_domain::gateway::Timeouts;

    fn call() -> UpstreamCall {
        UpstreamCall {
            protocol: Protocol::OpenAi,
            supplier: "openai".into(),
            base_url: "https://api.openai.com/v1".into(),
            api_key: Some(SecretString::from("sk-secret-1234".to_owned())),
            upstream_model: "gpt-4o".into(),
            api_version: None,
            max_output_tokens: None,
            request_id: "r".into(),
            timeouts: Timeouts::default(),
            guarded: false,
        }
    }

    #[test]
    fn errors_are_classed_by_status_and_body_and_never_carry_the_key() {
        let body =
            br#"{"error": {"message": "Incorrect API key provided: sk-secret-1234", "type": "invalid_request_error"}}"#;
        let error = from_status(401, &HeaderMap::new(), body, openai_error, &call());
        let ProviderError::Unauthorized { status: 401, message } = error else {
            panic!("expected unauthorized, got {error:?}");
        };
        assert!(
            !message.contains("sk-secret-1234") && message.contains("[key]"),
            "{message}"
        );

        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "7".parse().expect("a header value"));
        let error = from_status(429, &headers, b"not json", openai_error, &call());
        assert_eq!(
            error,
            ProviderError::RateLimited {
                retry_after: Some(Duration::from_secs(7)),
                message: "not json (429)".into()
            }
        );
        let overloaded = br#"{"error": {"type": "overloaded_error", "message": "busy"}}"#;
        assert!(matches!(
            from_status(500, &HeaderMap::new(), overloaded, openai_error, &call()),
            ProviderError::Overloaded { .. }
        ));
        assert!(matches!(
            from_status(529, &HeaderMap::new(), b"", openai_error, &call()),
            ProviderError::Overloaded { .. }
        ));
        assert!(matches!(
            from_status(422, &HeaderMap::new(), b"{}", openai_error, &call()),
            ProviderError::BadRequest { .. }
        ));
        assert!(matches!(
            from_status(500, &HeaderMap::new(), b"{}", openai_error, &call()),
            ProviderError::Failed { .. }
        ));
    }

    #[test]
    fn waits_a_supplier_names_never_panic_and_are_bounded() {
        let headers = |name: &str, value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("a name"),
                value.parse().expect("a value"),
            );
            headers
        };
        for (name, value) in [
            ("retry-after", "inf"),
            ("retry-after", "1e400"),
            ("retry-after", "1e20"),
            ("retry-after", "NaN"),
            ("retry-after-ms", "1e30"),
            ("retry-after", "-5"),
        ] {
            let wait = retry_after(&headers(name, value));
            assert!(
                wait.is_none_or(|wait| wait <= MAX_RETRY_AFTER),
                "{name}: {value} → {wait:?}"
            );
        }
        let body = serde_json::json!({"error": {"status": "RESOURCE_EXHAUSTED", "message": "slow down",
            "details": [{"retryDelay": "1e20s"}]}});
        let summary = google_error(&body).expect("a summary");
        assert!(summary.retry_after.is_none_or(|wait| wait <= MAX_RETRY_AFTER));
        assert_eq!(retry_after(&headers("retry-after", "7")), Some(Duration::from_secs(7)));
    }

    #[test]
    fn long_messages_are_cut_and_whitespace_folded() {
        let message = clean(&format!("line one\n\n  line   two {}", "x".repeat(1000)), 500, &call());
        assert!(message.starts_with("line one line two x"));
        assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 6, "{}", message.len());
        assert_eq!(clean("", 502, &call()), "status 502");
    }
}
