//! OpenAI's rate-limit headers: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` for the
//! tightest limit of each kind that applies to the caller; the resets as OpenAI writes them
//! (`6s`, `1m30s`, `250ms`).

use actix_web::HttpResponseBuilder;
use switchyard_domain::kernel::rate::{RateHeaders, RateWindow};

/// `250ms`, `6s`, `1m30.5s`.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let minutes = ms / 60_000;
    let rest = ms % 60_000;
    let seconds = if rest.is_multiple_of(1000) {
        format!("{}s", rest / 1000)
    } else {
        let text = format!("{:.3}", rest as f64 / 1000.0);
        format!("{}s", text.trim_end_matches('0'))
    };
    if minutes > 0 {
        format!("{minutes}m{seconds}")
    } else {
        seconds
    }
}

fn insert_window(builder: &mut HttpResponseBuilder, kind: &str, window: &RateWindow) {
    builder.insert_header((format!("x-ratelimit-limit-{kind}"), window.limit.to_string()));
    builder.insert_header((format!("x-ratelimit-remaining-{kind}"), window.remaining.to_string()));
    builder.insert_header((format!("x-ratelimit-reset-{kind}"), duration(window.reset_ms)));
}

/// Adds the headers of the limits that apply.
pub fn insert(builder: &mut HttpResponseBuilder, rate: &RateHeaders) {
    if let Some(window) = &rate.requests {
        insert_window(builder, "requests", window);
    }
    if let Some(window) = &rate.tokens {
        insert_window(builder, "tokens", window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_read_as_openai_writes_them() {
        assert_eq!(duration(250), "250ms");
        assert_eq!(duration(6_000), "6s");
        assert_eq!(duration(90_500), "1m30.5s");
        assert_eq!(duration(360_000), "6m0s");
    }
}
