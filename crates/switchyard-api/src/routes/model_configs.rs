//! `/api/v1/users/me/model-configs`: the caller's own configs of models (bring your own key).
//! The key is write-only (its last four characters show); a custom endpoint must be https and
//! reach no internal address. Another user's config is as missing as one that never was.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::gateway::byok::{ModelConfig, ModelConfigInput};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::AuthUser;
use crate::dto::{encode_cursor, page_request};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_configs)
        .service(create_config)
        .service(get_config)
        .service(replace_config)
        .service(delete_config);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelConfigBody {
    pub id: Uuid,
    pub model_id: Uuid,
    pub is_enabled: bool,
    /// The key's last four characters; the key itself is never returned.
    pub api_key_last4: String,
    pub custom_endpoint: Option<String>,
    /// The default `max_tokens` of the caller's requests to the model (the request's own wins).
    pub max_tokens: Option<i64>,
    /// The default `temperature` (the request's own wins).
    pub temperature: Option<f64>,
    /// Lower first, among the caller's configs of one model.
    pub priority: i32,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ModelConfig> for ModelConfigBody {
    fn from(config: ModelConfig) -> Self {
        Self {
            id: config.id,
            model_id: config.model_id.0,
            is_enabled: config.spec.is_enabled,
            api_key_last4: config.key_last4,
            custom_endpoint: config.spec.custom_endpoint,
            max_tokens: config.spec.max_tokens,
            temperature: config.spec.temperature,
            priority: config.spec.priority,
            last_used_at: config.last_used_at,
            created_at: config.created_at,
            updated_at: config.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelConfigList {
    pub data: Vec<ModelConfigBody>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ModelConfigListQuery {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// A config's fields (`POST`: `api_key` required; `PUT`: absent keeps it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelConfigRequest {
    pub model_id: Uuid,
    #[serde(default)]
    pub is_enabled: Option<bool>,
    /// Write-only.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 512)]
    pub api_key: Option<String>,
    /// An https URL of the model's protocol (the supplier's base URL when absent); it must not
    /// be or resolve to an internal address.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub custom_endpoint: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10000000)]
    pub max_tokens: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2)]
    pub temperature: Option<f64>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000)]
    pub priority: Option<i32>,
}

impl ModelConfigRequest {
    fn into_parts(self) -> (ModelConfigInput, Option<String>) {
        let input = ModelConfigInput {
            model_id: self.model_id,
            is_enabled: self.is_enabled,
            custom_endpoint: self.custom_endpoint,
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            priority: self.priority,
        };
        (input, self.api_key)
    }
}

/// The caller's model configs, newest first.
#[utoipa::path(tag = "users", security(("bearer_jwt" = [])), params(ModelConfigListQuery),
    responses((status = 200, description = "A page of the caller's configs", body = ModelConfigList)))]
#[get("/api/v1/users/me/model-configs")]
async fn list_configs(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ModelConfigListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let configs = state.model_configs.list(&user.0, page).await?;
    Ok(HttpResponse::Ok().json(ModelConfigList {
        next_cursor: configs.next.map(encode_cursor),
        data: configs.items.into_iter().map(ModelConfigBody::from).collect(),
    }))
}

/// Add a config of a model with the caller's own key.
#[utoipa::path(tag = "users", security(("bearer_jwt" = [])), request_body = ModelConfigRequest,
    responses((status = 201, description = "The config", body = ModelConfigBody), (status = 422, description = "A rule is broken (an endpoint that is not allowed, no such model)", body = ErrorBody)))]
#[post("/api/v1/users/me/model-configs")]
async fn create_config(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<ModelConfigRequest>,
) -> Result<HttpResponse, ApiError> {
    let (input, key) = body.0.into_parts();
    let Some(key) = key else {
        return Err(switchyard_domain::DomainError::validation("api_key", "required", "is required").into());
    };
    let config = state.model_configs.create(&user.0, input, &key).await?;
    Ok(HttpResponse::Created().json(ModelConfigBody::from(config)))
}

/// One of the caller's configs.
#[utoipa::path(tag = "users", security(("bearer_jwt" = [])), params(("config_id" = Uuid, Path, description = "The config's id")),
    responses((status = 200, description = "The config", body = ModelConfigBody), (status = 404, description = "No such config of the caller's", body = ErrorBody)))]
#[get("/api/v1/users/me/model-configs/{config_id}")]
async fn get_config(
    state: web::Data<AppState>,
    user: AuthUser,
    config_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let config = state.model_configs.get(&user.0, *config_id).await?;
    Ok(HttpResponse::Ok().json(ModelConfigBody::from(config)))
}

/// Replace one of the caller's configs (`api_key` absent keeps the key).
#[utoipa::path(tag = "users", security(("bearer_jwt" = [])), params(("config_id" = Uuid, Path, description = "The config's id")), request_body = ModelConfigRequest,
    responses((status = 200, description = "The config", body = ModelConfigBody), (status = 404, description = "No such config of the caller's", body = ErrorBody), (status = 422, description = "A rule is broken", body = ErrorBody)))]
#[put("/api/v1/users/me/model-configs/{config_id}")]
async fn replace_config(
    state: web::Data<AppState>,
    user: AuthUser,
    config_id: web::Path<Uuid>,
    body: Json<ModelConfigRequest>,
) -> Result<HttpResponse, ApiError> {
    let (input, key) = body.0.into_parts();
    let config = state
        .model_configs
        .replace(&user.0, *config_id, input, key.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(ModelConfigBody::from(config)))
}

/// Delete one of the caller's configs (its key with it).
#[utoipa::path(tag = "users", security(("bearer_jwt" = [])), params(("config_id" = Uuid, Path, description = "The config's id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such config of the caller's", body = ErrorBody)))]
#[delete("/api/v1/users/me/model-configs/{config_id}")]
async fn delete_config(
    state: web::Data<AppState>,
    user: AuthUser,
    config_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.model_configs.delete(&user.0, *config_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
