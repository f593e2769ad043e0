//! The steps every request goes through before its protocol answers: it is recorded (always,
//! first), takes its scenario, waits as scripted, has its key checked, and meets the scripted
//! failure. Also the answer to a route the fake does not know.

use std::collections::HashMap;

use actix_web::web::{Bytes, Data, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::scenario::{Failure, Scenario};
use crate::state::Shared;
use crate::{FakeUpstream, Protocol, errors, sse};

/// A request body as JSON; `Null` when it is empty or not JSON.
pub(crate) fn parse(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// A query parameter, percent-decoded.
pub(crate) fn query(request: &HttpRequest, name: &str) -> Option<String> {
    let mut parameters = Query::<HashMap<String, String>>::from_query(request.query_string())
        .ok()?
        .into_inner();
    parameters.remove(name)
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|value| value.to_str().ok())
}

/// Whether the request carries [`FakeUpstream::KEY`] where its protocol puts keys.
pub(crate) fn authorized(protocol: Protocol, request: &HttpRequest) -> bool {
    let key = FakeUpstream::KEY;
    let bearer = || header(request, "authorization").and_then(|value| value.strip_prefix("Bearer "));
    match protocol {
        Protocol::OpenAi => bearer() == Some(key),
        Protocol::AzureOpenAi => header(request, "api-key") == Some(key),
        Protocol::Anthropic => header(request, "x-api-key") == Some(key),
        Protocol::Gemini => {
            header(request, "x-goog-api-key") == Some(key) || query(request, "key").as_deref() == Some(key)
        }
        // Replicate still takes its legacy `Token` scheme.
        Protocol::Replicate => {
            bearer() == Some(key)
                || header(request, "authorization").and_then(|value| value.strip_prefix("Token ")) == Some(key)
        }
    }
}

/// How an exchange opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Opening {
    protocol: Protocol,
    /// Whether the answer is a stream (a malformed stream differs from a malformed body).
    stream: bool,
    /// Whether the scenario's `first_byte_delay` applies (a Replicate create that does not wait
    /// answers at once).
    first_byte_delay: bool,
}

impl Opening {
    pub(crate) fn new(protocol: Protocol, stream: bool) -> Self {
        Self {
            protocol,
            stream,
            first_byte_delay: true,
        }
    }

    pub(crate) fn without_first_byte_delay(mut self) -> Self {
        self.first_byte_delay = false;
        self
    }
}

/// Records the request, takes the next scenario, waits as it says, checks the key and plays the
/// scripted failures that replace the answer. `Err` is the answer already made.
pub(crate) async fn begin(
    shared: &Data<Shared>,
    opening: Opening,
    request: &HttpRequest,
    body: &Value,
) -> Result<Scenario, HttpResponse> {
    shared.record(request, body);
    let scenario = shared.take_scenario();
    let mut wait = if opening.first_byte_delay {
        scenario.first_byte_delay
    } else {
        std::time::Duration::ZERO
    };
    if let Some(Failure::StallBeforeFirstByte(stall)) = &scenario.failure {
        wait += *stall;
    }
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    if !authorized(opening.protocol, request) {
        return Err(errors::unauthorized(opening.protocol));
    }
    match &scenario.failure {
        Some(Failure::Status { status, headers, body }) => {
            Err(errors::scripted(opening.protocol, *status, headers, body.as_deref()))
        }
        Some(Failure::Overloaded) => Err(errors::overloaded(opening.protocol)),
        Some(Failure::Malformed) if opening.stream => {
            let events = sse::Once(Some(errors::malformed_frame(opening.protocol)));
            Err(sse::respond(
                events,
                sse::Pacing::of(&scenario),
                Data::clone(shared).into_inner(),
            ))
        }
        Some(Failure::Malformed) => Err(errors::malformed()),
        _ => Ok(scenario),
    }
}

/// Records a request inside an exchange (Replicate's polls, stream and cancel, which take no
/// scenario of their own) and checks its key: `Some` is the refusal.
pub(crate) fn follow_up(
    shared: &Shared,
    protocol: Protocol,
    request: &HttpRequest,
    body: &Bytes,
) -> Option<HttpResponse> {
    shared.record(request, &parse(body));
    (!authorized(protocol, request)).then(|| errors::unauthorized(protocol))
}

/// Any route the fake does not serve: recorded like the others, then 404.
pub(crate) async fn unknown(request: HttpRequest, body: Bytes, shared: Data<Shared>) -> HttpResponse {
    shared.record(&request, &parse(&body));
    let message = format!(
        "the fake upstream has no route for {} {}",
        request.method(),
        request.path()
    );
    errors::json(404, &json!({"error": {"message": message, "type": "not_found"}}))
}
