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
        (name = "catalog", description = "Suppliers, models, parameters, routes, capabilities, the category tree and default models"),
        (name = "keys", description = "The suppliers' upstream key pools, their statistics and health (admins only)"),
        (name = "conversations", description = "Chat history kept on the server: the caller's conversations, their messages, and turns answered through the gateway"),
        (name = "files", description = "The caller's uploads: images and documents to attach to messages"),
        (name = "stats", description = "Usage statistics from hourly rollups: a user's own, an admin's of everyone; JSON or CSV"),
        (name = "logs", description = "The gateway's call log: a user's own calls, an admin's of everyone"),
        (name = "gateway", description = "The OpenAI-compatible gateway: chat completions, models, embeddings (an API key or an access token)"),
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

/// Documents the failures every operation shares, from the same place that causes them: 400 for
/// an unreadable query, path or body, 413 and 415 for bodies, 401 for authenticated routes, 422
/// for a query or body that breaks a rule. Under `/v1` the body is OpenAI's error shape.
pub fn add_common_responses(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{Operation, ParameterIn};
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

    for (path, item) in document.paths.paths.iter_mut() {
        let schema = if path == "/v1" || path.starts_with("/v1/") {
            "OpenAiErrorBody"
        } else {
            "ErrorBody"
        };
        let response = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(schema)))
                            .build(),
                    )
                    .build(),
            )
        };
        let operations: [&mut Option<Operation>; 7] = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
        ];
        for operation in operations.into_iter().flatten() {
            let parameters = operation.parameters.as_deref().unwrap_or_default();
            let located = |place: ParameterIn| {
                parameters
                    .iter()
                    .any(|parameter| matches!(parameter, RefOr::T(p) if p.parameter_in == place))
            };
            let (has_query, has_path) = (located(ParameterIn::Query), located(ParameterIn::Path));
            let has_body = operation.request_body.is_some();
            let secured = operation.security.as_ref().is_some_and(|security| !security.is_empty());
            let responses = &mut operation.responses.responses;
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| response(description));
            };
            if has_query || has_path || has_body {
                add(
                    "400",
                    "The request cannot be read: bad JSON, a missing, mistyped or unknown field or parameter",
                );
            }
            if has_body {
                add("413", "The body is larger than server.body_limit");
                add("415", "The body is not application/json");
            }
            if secured {
                add("401", "No valid credentials");
            }
            if has_query || has_body {
                add("422", "The request reads but breaks a rule; `details` names the field");
            }
        }
    }
}
