//! Makes every error response a JSON body: the platform's shape everywhere, OpenAI's shape under
//! `/v1`. Errors that did not come from our handlers (actix's 404 and 405, a foreign error type)
//! are given the code their status implies.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

use crate::error::{ApiError, ErrorCode};

/// Whether a path belongs to the OpenAI-compatible gateway.
pub fn is_gateway_path(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

pub async fn error_body(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let gateway = is_gateway_path(req.path());
    // The request must not be cloned before routing (actix needs it uniquely owned then), so an
    // error returned (rather than rendered) by an inner service goes back as an error of ours,
    // which the dispatcher renders through `ResponseError`.
    let response = match next.call(req).await {
        Ok(response) => response,
        Err(error) => {
            let api_error = as_api_error(&error);
            return Err(if gateway {
                api_error.into_openai().into()
            } else {
                api_error.into()
            });
        }
    };
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return Ok(response.map_into_boxed_body());
    }
    let api_error = match response.response().error() {
        Some(error) => match error.as_error::<ApiError>() {
            // Already in the platform's shape: leave it as the handler rendered it.
            Some(_) if !gateway => return Ok(response.map_into_boxed_body()),
            Some(api_error) => api_error.clone(),
            None => as_api_error(error),
        },
        None if is_json(&response) => return Ok(response.map_into_boxed_body()),
        None => {
            let request = response.request();
            let message = match status.as_u16() {
                404 => format!("no route for {} {}", request.method(), request.path()),
                405 => format!("method {} is not allowed on {}", request.method(), request.path()),
                _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
            };
            ApiError::new(ErrorCode::from_status(status), message)
        }
    };
    let mut rendered = render(api_error, gateway);
    keep_headers(response.headers(), rendered.headers_mut());
    Ok(ServiceResponse::new(response.request().clone(), rendered))
}

/// Whether a header of the response being re-rendered must survive: what the status needs
/// (`Allow`, `Retry-After`, `WWW-Authenticate`) and what CORS added, so a browser can read the
/// error as it reads a success.
fn kept(name: &header::HeaderName) -> bool {
    matches!(
        *name,
        header::ALLOW | header::RETRY_AFTER | header::WWW_AUTHENTICATE | header::VARY
    ) || name.as_str().starts_with("access-control-")
}

fn keep_headers(from: &header::HeaderMap, to: &mut header::HeaderMap) {
    let names: Vec<header::HeaderName> = from.keys().filter(|name| kept(name)).cloned().collect();
    for name in names {
        to.remove(&name);
        for value in from.get_all(&name) {
            to.append(name.clone(), value.clone());
        }
    }
}

/// The methods each route pattern answers, read from the OpenAPI document (which is generated
/// from the route registrations), for the `Allow` header of a 405.
#[derive(Debug, Clone, Default)]
pub struct AllowedMethods(pub std::collections::HashMap<String, String>);

impl AllowedMethods {
    pub fn from_document(document: &utoipa::openapi::OpenApi) -> Self {
        let methods = document
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let operations = [
                    ("GET", &item.get),
                    ("HEAD", &item.head),
                    ("POST", &item.post),
                    ("PUT", &item.put),
                    ("PATCH", &item.patch),
                    ("DELETE", &item.delete),
                    ("OPTIONS", &item.options),
                ];
                let allowed: Vec<&str> = operations
                    .iter()
                    .filter(|(_, operation)| operation.is_some())
                    .map(|(method, _)| *method)
                    .collect();
                (path.clone(), allowed.join(", "))
            })
            .collect();
        Self(methods)
    }
}

/// The app's default service: reached when no route took the request. The path may still be a
/// route's (its method guard refused): that is a 405 with `Allow`, anything else a 404.
pub async fn fallback(req: actix_web::HttpRequest) -> Result<HttpResponse, Error> {
    let Some(pattern) = req.match_pattern() else {
        return Err(ApiError::not_found(format!("no route for {} {}", req.method(), req.path())).into());
    };
    let error = ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("method {} is not allowed on {}", req.method(), req.path()),
    );
    let allowed = req
        .app_data::<actix_web::web::Data<AllowedMethods>>()
        .and_then(|methods| methods.0.get(&documented_path(&pattern)).cloned());
    let mut response = HttpResponse::from_error(error);
    if let Some(allowed) = allowed.and_then(|allowed| header::HeaderValue::from_str(&allowed).ok()) {
        response.headers_mut().insert(header::ALLOW, allowed);
    }
    Ok(response)
}

/// A route pattern as the OpenAPI document writes it: `{id:[0-9a-f-]+}` becomes `{id}`.
/// (Our route regexes contain no braces.)
fn documented_path(pattern: &str) -> String {
    let mut path = String::with_capacity(pattern.len());
    let (mut in_parameter, mut in_regex) = (false, false);
    for c in pattern.chars() {
        match c {
            '{' => in_parameter = true,
            ':' if in_parameter => in_regex = true,
            '}' => (in_parameter, in_regex) = (false, false),
            _ => {}
        }
        if !in_regex {
            path.push(c);
        }
    }
    path
}

fn is_json(response: &ServiceResponse<impl MessageBody>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

/// Keeps an `ApiError` as it is; any other error becomes one with the code of its status (and a
/// generic message for a 5xx, whose cause is logged by the request span).
fn as_api_error(error: &Error) -> ApiError {
    if let Some(api_error) = error.as_error::<ApiError>() {
        return api_error.clone();
    }
    let status = error.as_response_error().status_code();
    let code = ErrorCode::from_status(status);
    if status.is_server_error() {
        ApiError::new(code, "internal server error")
    } else {
        ApiError::new(code, error.to_string())
    }
}

fn render(error: ApiError, gateway: bool) -> HttpResponse {
    if gateway {
        HttpResponse::from_error(error.into_openai())
    } else {
        HttpResponse::from_error(error)
    }
}

#[cfg(test)]
mod tests {
    use super::documented_path;

    #[test]
    fn route_regexes_are_dropped_from_documented_paths() {
        assert_eq!(
            documented_path("/api/v1/categories/{category_id:[0-9a-fA-F-]+}/restore"),
            "/api/v1/categories/{category_id}/restore"
        );
        assert_eq!(documented_path("/api/v1/users/{id}"), "/api/v1/users/{id}");
        assert_eq!(documented_path("/health/live"), "/health/live");
    }
}
