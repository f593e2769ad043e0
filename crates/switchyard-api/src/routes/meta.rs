//! Routes about the server itself: `GET /metrics`, `GET /openapi.json`, and `/docs`.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::AppState;
use crate::error::ApiError;

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(metrics).service(openapi).service(docs_redirect);
}

/// The OpenAPI document as served, generated from the route registrations at start-up.
#[derive(Debug, Clone)]
pub struct OpenApiDocument(pub String);

/// Prometheus metrics in the text exposition format.
#[utoipa::path(
    tag = "meta",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain; version=0.0.4", body = String))
)]
#[get("/metrics")]
async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let identities = state.accounts.identity_cache().sizes();
    let text = state
        .metrics
        .render(
            state.probe.as_ref(),
            identities,
            state.gateway.log_counts(),
            state.governor.store_failures(),
        )
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

/// This OpenAPI 3.1 document.
#[utoipa::path(
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object))
)]
#[get("/openapi.json")]
async fn openapi(document: web::Data<OpenApiDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0.clone())
}

/// The API documentation (Swagger UI, served from assets compiled into the binary) lives at `/docs/`.
#[utoipa::path(tag = "meta", responses((status = 308, description = "Redirect to /docs/")))]
#[get("/docs")]
async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}
