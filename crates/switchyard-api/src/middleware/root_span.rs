//! The tracing span of each request: its id, route, client and outcome are fields of every log
//! line written while it runs.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::RootSpanBuilder;

use super::request_context::{ClientIp, RequestId, RequestStart};

/// Builds the per-request span from the context set by [`super::request_context`].
#[derive(Debug)]
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let extensions = request.extensions();
        let request_id = extensions.get::<RequestId>().map(RequestId::as_str).unwrap_or("-");
        let client_ip = extensions
            .get::<ClientIp>()
            .and_then(|ip| ip.0)
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %request.method(),
            route = %request.match_pattern().unwrap_or_else(|| "unmatched".to_owned()),
            path = %request.path(),
            client_ip = %client_ip,
            status = Empty,
            error = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, error, started) = match outcome {
            Ok(response) => (
                response.status(),
                response.response().error().map(ToString::to_string),
                response.request().extensions().get::<RequestStart>().copied(),
            ),
            Err(error) => (error.as_response_error().status_code(), Some(error.to_string()), None),
        };
        span.record("status", status.as_u16());
        if let Some(error) = &error {
            span.record("error", error.as_str());
            if status.is_server_error() {
                tracing::error!(parent: &span, status = status.as_u16(), error = %error, "request failed");
            }
        }
        let elapsed_ms = started.map(|start| start.0.elapsed().as_secs_f64() * 1000.0);
        tracing::info!(parent: &span, status = status.as_u16(), elapsed_ms, "request finished");
    }
}
