//! `/api/v1/api-keys`: the caller's gateway API keys.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::accounts::{ApiKeyId, ApiKeySpec};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::AuthUser;
use crate::dto::{self, ApiKeyBody, encode_cursor, page_request};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(create_key)
        .service(list_keys)
        .service(get_key)
        .service(revoke_key)
        .service(delete_key);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// 1–100 characters, not only spaces.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// When the key stops working; `null` = never.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Model names the key may use (at most 100, each 1–128 characters); empty or absent = every model.
    #[serde(default)]
    #[schema(max_items = 100, inline, value_type = Vec<ModelName>)]
    pub allowed_models: Vec<String>,
}

/// A model name: 1–128 characters, not only spaces.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, min_length = 1, max_length = 128, pattern = r"\S")]
pub struct ModelName(pub String);

/// A new key, with its secret: shown this once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// `sy-` and 43 characters; store it now.
    pub secret: String,
    pub key: ApiKeyBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub data: Vec<ApiKeyBody>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Create a gateway API key.
#[utoipa::path(
    tag = "api-keys",
    security(("bearer_jwt" = [])),
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "The key and its secret", body = CreatedApiKey),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 422, description = "A rule is broken", body = ErrorBody),
    )
)]
#[post("/api/v1/api-keys")]
async fn create_key(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreateApiKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let now = state.clock.now();
    let spec = ApiKeySpec::parse(&body.name, body.expires_at, body.allowed_models, now)?;
    let (key, secret) = state.accounts.create_key(&user.0, spec).await?;
    Ok(dto::secret(HttpResponse::Created()).json(CreatedApiKey {
        secret,
        key: ApiKeyBody::new(key, now),
    }))
}

/// The caller's keys, newest first (deleted ones left out, revoked ones kept).
#[utoipa::path(
    tag = "api-keys",
    security(("bearer_jwt" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of keys", body = ApiKeyList),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
    )
)]
#[get("/api/v1/api-keys")]
async fn list_keys(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let keys = state.accounts.list_keys(&user.0, page).await?;
    let now = state.clock.now();
    Ok(HttpResponse::Ok().json(ApiKeyList {
        next_cursor: keys.next.map(encode_cursor),
        data: keys.items.into_iter().map(|key| ApiKeyBody::new(key, now)).collect(),
    }))
}

/// One of the caller's keys.
#[utoipa::path(
    tag = "api-keys",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The key's id")),
    responses(
        (status = 200, description = "The key", body = ApiKeyBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such key of the caller's", body = ErrorBody),
    )
)]
#[get("/api/v1/api-keys/{id}")]
async fn get_key(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let key = state.accounts.get_key(&user.0, ApiKeyId(*id)).await?;
    Ok(HttpResponse::Ok().json(ApiKeyBody::new(key, state.clock.now())))
}

/// Disable a key for good (it stays listed as revoked).
#[utoipa::path(
    tag = "api-keys",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The key's id")),
    responses(
        (status = 200, description = "The revoked key", body = ApiKeyBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such key of the caller's", body = ErrorBody),
    )
)]
#[post("/api/v1/api-keys/{id}/revoke")]
async fn revoke_key(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let key = state.accounts.revoke_key(&user.0, ApiKeyId(*id)).await?;
    Ok(HttpResponse::Ok().json(ApiKeyBody::new(key, state.clock.now())))
}

/// Delete a key (it stops working and disappears from the list).
#[utoipa::path(
    tag = "api-keys",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such key of the caller's", body = ErrorBody),
    )
)]
#[delete("/api/v1/api-keys/{id}")]
async fn delete_key(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    state.accounts.delete_key(&user.0, ApiKeyId(*id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
