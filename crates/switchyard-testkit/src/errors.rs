//! The suppliers' error answers, each in its protocol's own shape (the gateway reads the shape to
//! decide the kind of error): a refused key, a scripted status, an overload, a malformed body,
//! and a request the fake cannot serve.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::Protocol;
use crate::sse::Frame;

/// The message of scripted error bodies.
const SCRIPTED: &str = "scripted failure";
/// A body that starts like JSON and breaks off.
const MALFORMED: &str = "{\"unexpected\": tru";

/// A JSON answer with this status.
pub(crate) fn json(status: u16, body: &Value) -> HttpResponse {
    HttpResponse::build(status_code(status))
        .content_type("application/json")
        .body(body.to_string())
}

/// A status code, or 500 for a number HTTP has no status for.
fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The protocol's error body for `status` with `message`.
pub(crate) fn error_body(protocol: Protocol, status: u16, message: &str) -> Value {
    match protocol {
        Protocol::OpenAi | Protocol::AzureOpenAi => {
            let kind = match status {
                429 => "rate_limit_exceeded",
                400..=499 => "invalid_request_error",
                _ => "server_error",
            };
            json!({"error": {"message": message, "type": kind, "code": null}})
        }
        Protocol::Anthropic => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
        Protocol::Gemini => {
            let kind = match status {
                400 => "INVALID_ARGUMENT",
                403 => "PERMISSION_DENIED",
                404 => "NOT_FOUND",
                429 => "RESOURCE_EXHAUSTED",
                503 => "UNAVAILABLE",
                504 => "DEADLINE_EXCEEDED",
                _ => "INTERNAL",
            };
            json!({"error": {"code": status, "message": message, "status": kind}})
        }
        Protocol::Replicate => json!({"detail": message, "status": status}),
    }
}

/// The answer to a wrong or missing key (Gemini says 400 `API_KEY_INVALID`, as it really does).
pub(crate) fn unauthorized(protocol: Protocol) -> HttpResponse {
    match protocol {
        Protocol::OpenAi | Protocol::AzureOpenAi => json(
            401,
            &json!({"error": {
                "message": "Incorrect API key provided",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }}),
        ),
        Protocol::Anthropic => json(
            401,
            &json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
        ),
        Protocol::Gemini => json(
            400,
            &json!({"error": {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
            }}),
        ),
        Protocol::Replicate => json(
            401,
            &json!({"title": "Unauthenticated", "detail": "You did not pass a valid authentication token", "status": 401}),
        ),
    }
}

/// A scripted status: the body given (JSON or text, as it parses) or the protocol's own, and the
/// headers given (replacing any of the same name).
pub(crate) fn scripted(
    protocol: Protocol,
    status: u16,
    headers: &[(String, String)],
    body: Option<&str>,
) -> HttpResponse {
    let mut response = HttpResponse::build(status_code(status));
    let body = match body {
        Some(text) => {
            let is_json = serde_json::from_str::<Value>(text).is_ok();
            response.content_type(if is_json { "application/json" } else { "text/plain" });
            text.to_owned()
        }
        None => {
            response.content_type("application/json");
            error_body(protocol, status, SCRIPTED).to_string()
        }
    };
    for (name, value) in headers {
        response.insert_header((name.as_str(), value.as_str()));
    }
    response.body(body)
}

/// The protocol's answer when it is overloaded.
pub(crate) fn overloaded(protocol: Protocol) -> HttpResponse {
    match protocol {
        Protocol::OpenAi | Protocol::AzureOpenAi => json(
            503,
            &json!({"error": {
                "message": "The server is overloaded or not ready yet.",
                "type": "server_overloaded",
                "code": null,
            }}),
        ),
        Protocol::Anthropic => json(
            529,
            &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ),
        Protocol::Gemini => json(
            503,
            &json!({"error": {"code": 503, "status": "UNAVAILABLE", "message": "The model is overloaded."}}),
        ),
        Protocol::Replicate => json(503, &json!({"detail": "overloaded"})),
    }
}

/// A 200 whose body is broken JSON.
pub(crate) fn malformed() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(MALFORMED)
}

/// A first stream event whose data is broken JSON, framed as the protocol frames its events.
pub(crate) fn malformed_frame(protocol: Protocol) -> Frame {
    match protocol {
        Protocol::Anthropic => Frame::raw(format!("event: message_start\ndata: {MALFORMED}\n\n")),
        Protocol::Replicate => Frame::raw(format!("event: output\ndata: {MALFORMED}\n\n")),
        Protocol::OpenAi | Protocol::AzureOpenAi | Protocol::Gemini => Frame::raw(format!("data: {MALFORMED}\n\n")),
    }
}

/// A request the protocol refuses, with `message`.
pub(crate) fn bad_request(protocol: Protocol, message: &str) -> HttpResponse {
    json(400, &error_body(protocol, 400, message))
}

/// A resource the protocol does not have.
pub(crate) fn not_found(protocol: Protocol, message: &str) -> HttpResponse {
    json(404, &error_body(protocol, 404, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_bodies_name_the_kind_each_protocol_gives_the_status() {
        assert_eq!(
            error_body(Protocol::OpenAi, 429, "m")["error"]["type"],
            "rate_limit_exceeded"
        );
        assert_eq!(
            error_body(Protocol::AzureOpenAi, 404, "m")["error"]["type"],
            "invalid_request_error"
        );
        assert_eq!(error_body(Protocol::OpenAi, 502, "m")["error"]["type"], "server_error");
        assert_eq!(
            error_body(Protocol::Anthropic, 529, "m")["error"]["type"],
            "overloaded_error"
        );
        assert_eq!(error_body(Protocol::Anthropic, 500, "m")["error"]["type"], "api_error");
        assert_eq!(
            error_body(Protocol::Gemini, 429, "m")["error"]["status"],
            "RESOURCE_EXHAUSTED"
        );
        assert_eq!(error_body(Protocol::Gemini, 500, "m")["error"]["status"], "INTERNAL");
        assert_eq!(
            error_body(Protocol::Replicate, 422, "m"),
            json!({"detail": "m", "status": 422})
        );
    }
}
