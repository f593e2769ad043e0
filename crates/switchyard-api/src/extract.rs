//! Extractors whose failures are `ApiError`s: a JSON body that names the offending field, and
//! the error handlers that make actix's own path and query extractors answer the same way.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::BytesMut;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};

/// The largest request body accepted, in bytes (`server.body_limit`).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl Default for BodyLimit {
    fn default() -> Self {
        Self(2 * 1024 * 1024)
    }
}

/// A JSON request body. Unlike `actix_web::web::Json`, a failure names the field at fault:
/// wrong content type → 415, too large → 413, unreadable → 400 with the JSON path.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<BodyLimit>().copied().unwrap_or_default().0;
        let content_type = check_content_type(req);
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            content_type?;
            if declared_length.is_some_and(|length| length > limit) {
                return Err(too_large(limit));
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|error| {
                    ApiError::invalid_request(format!("the request body could not be read: {error}"))
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body).map(Json)
        })
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the request body is larger than the limit of {limit} bytes"),
    )
}

fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let mime = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    match mime.as_deref() {
        Some("application/json") => Ok(()),
        Some(other) if other.starts_with("application/") && other.ends_with("+json") => Ok(()),
        Some(other) => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("expected content-type application/json, got {other}"),
        )),
        None => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "expected content-type application/json, got none",
        )),
    }
}

/// Parses a JSON document into `T`, turning serde's failure into a 400 that names the field.
/// Every request body is a JSON object: serde would otherwise read a struct from an array of
/// its fields in order (`[null, null]` as a merge patch).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    if first.is_some_and(|byte| *byte != b'{') {
        return Err(ApiError::invalid_request("the body must be a JSON object").with_detail(
            ".",
            "invalid_type",
            "expected a JSON object",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        json_error(&path, error.inner())
    })?;
    deserializer.end().map_err(|error| json_error(".", &error))?;
    Ok(value)
}

fn json_error(path: &str, error: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let message = strip_position(&error.to_string());
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::invalid_request(format!("the request body is not valid JSON: {message}"))
        }
        Category::Data => {
            let (field, code) = field_and_code(path, &message);
            ApiError::invalid_request(format!("{field}: {message}")).with_detail(field, code, message)
        }
    }
}

/// serde's messages end in " at line 1 column 17", which says nothing to an API client.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// Names the field a data error is about. For a missing field serde's path stops at the
/// enclosing object, and the field's name is in backticks in the message.
fn field_and_code(path: &str, message: &str) -> (String, &'static str) {
    let quoted = message.split('`').nth(1).filter(|name| !name.is_empty());
    let join = |name: &str| {
        if path == "." || path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if message.starts_with("missing field") {
        (join(quoted.unwrap_or("?")), "missing_field")
    } else if message.starts_with("unknown field") {
        (path.to_owned(), "unknown_field")
    } else if message.starts_with("invalid type") {
        (path.to_owned(), "invalid_type")
    } else {
        (path.to_owned(), "invalid_value")
    }
}

/// Makes actix's query-string extractor fail with an `ApiError`.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _req| {
        let message = error.to_string();
        let quoted = message.split('`').nth(1).unwrap_or("query").to_owned();
        ApiError::invalid_request(format!("invalid query string: {message}"))
            .with_detail(quoted, "invalid_query", message)
            .into()
    })
}

/// Makes actix's path extractor fail with an `ApiError` (a malformed id is a 400, not a 500).
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|error, _req| ApiError::invalid_request(format!("invalid path parameter: {error}")).into())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields are only deserialized")]
    struct Probe {
        name: String,
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[expect(dead_code, reason = "fields are only deserialized")]
    struct Inner {
        count: u32,
    }

    fn detail(body: &str) -> (ErrorCode, String, String) {
        let Err(error) = parse_json::<Probe>(body.as_bytes()) else {
            panic!("{body} should not parse");
        };
        // A syntax error names no field: it reads as empty here.
        let detail = error.details().first().cloned();
        (
            error.code(),
            detail.as_ref().map_or_else(String::new, |d| d.field.clone()),
            detail.map_or_else(String::new, |d| d.code),
        )
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_even_when_its_items_would_fill_the_fields() {
        assert_eq!(
            detail(r#"["a", {"count": 1}]"#),
            (ErrorCode::InvalidRequest, ".".to_owned(), "invalid_type".to_owned())
        );
        assert_eq!(detail("  42").0, ErrorCode::InvalidRequest);
    }

    #[test]
    fn missing_nested_field_is_named_with_its_path() {
        assert_eq!(
            detail(r#"{"name":"a","inner":{}}"#),
            (
                ErrorCode::InvalidRequest,
                "inner.count".to_owned(),
                "missing_field".to_owned()
            )
        );
    }

    #[test]
    fn mistyped_field_is_named() {
        assert_eq!(
            detail(r#"{"name":"a","inner":{"count":"x"}}"#),
            (
                ErrorCode::InvalidRequest,
                "inner.count".to_owned(),
                "invalid_type".to_owned()
            )
        );
    }

    #[test]
    fn unknown_field_is_named() {
        assert_eq!(
            detail(r#"{"name":"a","inner":{"count":1},"extra":1}"#),
            (
                ErrorCode::InvalidRequest,
                "extra".to_owned(),
                "unknown_field".to_owned()
            )
        );
    }

    #[test]
    fn syntax_errors_and_trailing_garbage_are_invalid_requests() {
        assert_eq!(detail(r#"{"name":"#).0, ErrorCode::InvalidRequest);
        assert_eq!(
            detail(r#"{"name":"a","inner":{"count":1}} x"#).0,
            ErrorCode::InvalidRequest
        );
    }
}
