//! The OpenAPI document's fixed parts; paths and schemas come from the route registrations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorCode, ErrorDetail, ErrorObject, OpenAiErrorBody, OpenAiErrorObject};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchyard",
        description = "One API for every LLM provider: an OpenAI-compatible gateway under /v1 and the platform API under /api/v1. Errors under /api use ErrorBody; errors under /v1 use OpenAiErrorBody.",
    ),
    components(schemas(ErrorBody, ErrorObject, ErrorDetail, ErrorCode, OpenAiErrorBody, OpenAiErrorObject)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "meta", description = "Metrics, this document and its viewer"),
        (name = "auth", description = "Register, log in, refresh, log out"),
        (name = "users", description = "The caller's own account"),
        (name = "api-keys", description = "The caller's gateway API keys"),
        (name = "admin", description = "User administration and the audit trail (admins only)"),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

/// `bearer_jwt`: a user's access token (everything under `/api/v1`). `api_key`: a gateway key
/// `sy-…` (only `/v1/*`).
#[derive(Debug)]
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer_jwt",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from POST /api/v1/auth/login"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A gateway API key (sy-...) from POST /api/v1/api-keys"))
                    .build(),
            ),
        );
    }
}
