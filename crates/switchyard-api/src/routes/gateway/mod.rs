//! `/v1/*`: the OpenAI-compatible gateway. Requests are read in OpenAI's shape and turned into
//! the domain's terms; answers and errors go back in OpenAI's shape (the error middleware
//! renders `ApiError` that way under `/v1`).

mod chat;
mod embeddings;
mod models;
pub(crate) mod sse;
mod wire;

pub(crate) use wire::ChatCompletionChunk;

use actix_web::{HttpMessage, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use switchyard_domain::gateway::{CallContext, ServedBy};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{ApiError, ErrorCode};
use crate::extract::parse_json;
use crate::middleware::request_context::{ClientIp, RequestId};

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(chat::chat_completions)
        .service(models::list_models)
        .service(models::get_model)
        .service(embeddings::embeddings);
}

/// The request's id and the client's address, for the upstream call and the call log.
/// Says what served an answer: `x-switchyard-model` (the model that answered, a fallback's
/// when one did), `x-switchyard-supplier` and `x-switchyard-attempts` (tries, the first included).
pub(crate) fn served(response: &mut actix_web::HttpResponseBuilder, by: &ServedBy) {
    response
        .insert_header(("x-switchyard-model", by.model.as_str()))
        .insert_header(("x-switchyard-supplier", by.supplier.as_str()))
        .insert_header(("x-switchyard-attempts", by.attempts.to_string()));
}

/// The model an answer names: the one asked for, or for `auto` the one chosen.
pub(crate) fn shown_model(asked: String, by: &ServedBy) -> String {
    match switchyard_domain::gateway::service::auto_category(&asked) {
        Some(_) => by.model.clone(),
        None => asked,
    }
}

pub(crate) fn context(req: &HttpRequest) -> CallContext {
    let extensions = req.extensions();
    CallContext {
        request_id: extensions
            .get::<RequestId>()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default(),
        client_ip: extensions
            .get::<ClientIp>()
            .and_then(|ip| ip.0)
            .map(|ip| ip.to_string()),
    }
}

/// Reads a JSON body up to the gateway's own limit (images travel inline, so it is larger than
/// the platform API's). The content type is not checked: OpenAI's API does not either.
pub(crate) async fn read_json<T: DeserializeOwned>(mut payload: web::Payload, limit: usize) -> Result<T, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|error| ApiError::invalid_request(format!("the request body could not be read: {error}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the request body is larger than the gateway's limit of {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    if body.is_empty() {
        return Err(ApiError::invalid_request(
            "the request body is empty; send a JSON object",
        ));
    }
    parse_json(&body)
}
