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

/// The key the request carries where its protocol puts keys.
pub(crate) fn presented_key(protocol: Protocol, request: &HttpRequest) -> Option<String> {
    let bearer = || header(request, "authorization").and_then(|value| value.strip_prefix("Bearer "));
    match protocol {
        Protocol::OpenAi => bearer().map(str::to_owned),
        Protocol::AzureOpenAi => header(request, "api-key").map(str::to_owned),
        Protocol::Anthropic => header(request, "x-api-key").map(str::to_owned),
        Protocol::Gemini => header(request, "x-goog-api-key")
            .map(str::to_owned)
            .or_else(|| query(request, "key")),
        // Replicate still takes its legacy `Token` scheme.
        Protocol::Replicate => bearer()
            .or_else(|| header(request, "authorization").and_then(|value| value.strip_prefix("Token ")))
            .map(str::to_owned),
    }
}

/// Whether the request carries [`FakeUpstream::KEY`], or a key made from it
/// (`fake-upstream-key-2`: a pool of keys), where its protocol puts keys.
pub(crate) fn authorized(protocol: Protocol, request: &HttpRequest) -> bool {
    presented_key(protocol, request).is_some_and(|key| FakeUpstream::accepts(&key))
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
    let key = presented_key(opening.protocol, request);
    let scenario = shared.take_scenario(key.as_deref());
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

/// A probe (a model list, Replicate's account): recorded, its key checked and a key's
/// scripted failure played; otherwise a small success.
pub(crate) async fn probe(protocol: Protocol, request: HttpRequest, shared: Data<Shared>) -> HttpResponse {
    shared.record(&request, &Value::Null);
    if !authorized(protocol, &request) {
        return errors::unauthorized(protocol);
    }
    let key = presented_key(protocol, &request);
    if let Some(Failure::Status { status, headers, body }) = key
        .and_then(|key| shared.key_scenario(&key))
        .and_then(|scenario| scenario.failure)
    {
        return errors::scripted(protocol, status, &headers, body.as_deref());
    }
    match protocol {
        Protocol::Replicate => errors::json(200, &json!({"type": "organization", "username": "fake"})),
        _ => errors::json(200, &json!({"object": "list", "data": [], "models": []})),
    }
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
