//! The OpenAPI document's fixed parts; paths and schemas come from the route registrations.

use utoipa::OpenApi;

use crate::error::{ErrorBody, ErrorCode, ErrorDetail, ErrorObject, OpenAiErrorBody, OpenAiErrorObject};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchyard",
        description = "One API for every LLM provider: an OpenAI-compatible gateway under /v1 and the platform API under /api/v1. Errors under /api use ErrorBody; errors under /v1 use OpenAiErrorBody.",
    ),
    components(schemas(ErrorBody, ErrorObject, ErrorDetail, ErrorCode, OpenAiErrorBody, OpenAiErrorObject)),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "meta", description = "Metrics, this document and its viewer"),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;
