//! `/api/v1/keys`: the suppliers' upstream key pools, admins only. A key is write-only (its
//! last four characters show); its status is the operator's (`active`, `inactive`) or its
//! health's (`error`, with the reason); its statistics add its calls and its health now.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::catalog::{KeyFilter, KeyInput, KeyStatus, SupplierId, UpstreamKeyRecord};
use switchyard_domain::gateway::HealthView;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::AdminUser;
use crate::dto::{encode_cursor, page_request};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_keys)
        .service(create_key)
        .service(get_key)
        .service(replace_key)
        .service(delete_key)
        .service(key_stats);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyBody {
    pub id: Uuid,
    pub supplier_id: Uuid,
    pub name: String,
    /// The key's last four characters; the key itself is never returned.
    pub last4: String,
    /// `active`, `inactive`, `error` (its supplier refused it; see `status_reason`) or `removed`.
    pub status: String,
    pub status_reason: Option<String>,
    pub weight: i32,
    /// Calls sent with it, as last written (the gateway writes counts every few seconds).
    pub usage_count: i64,
    pub last_used_at: Option<DateTime<Utc>>,
    pub cooldown_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UpstreamKeyRecord> for KeyBody {
    fn from(key: UpstreamKeyRecord) -> Self {
        Self {
            id: key.id,
            supplier_id: key.supplier_id.0,
            name: key.name,
            last4: key.last4,
            status: key.status.as_str().to_owned(),
            status_reason: key.status_reason,
            weight: key.weight,
            usage_count: key.usage_count,
            last_used_at: key.last_used_at,
            cooldown_until: key.cooldown_until,
            created_at: key.created_at,
            updated_at: key.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub data: Vec<KeyBody>,
    pub next_cursor: Option<String>,
}

/// A key status to filter on.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatusName {
    Active,
    Inactive,
    Error,
    Removed,
}

impl KeyStatusName {
    fn domain(self) -> KeyStatus {
        match self {
            Self::Active => KeyStatus::Active,
            Self::Inactive => KeyStatus::Inactive,
            Self::Error => KeyStatus::Error,
            Self::Removed => KeyStatus::Removed,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct KeyListQuery {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    pub supplier_id: Option<Uuid>,
    #[param(inline)]
    pub status: Option<KeyStatusName>,
    /// Removed keys are listed only when asked (or filtered on).
    #[serde(default)]
    pub include_removed: bool,
}

/// An operator's status of a key.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperatorStatus {
    Active,
    Inactive,
}

/// A new key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyCreate {
    pub supplier_id: Uuid,
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Write-only.
    #[schema(min_length = 4, max_length = 512)]
    pub key: String,
    /// 1–1000, default 1: its share under the `weighted` selection.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    pub weight: Option<i32>,
    /// Default `active`.
    #[serde(default)]
    pub status: Option<OperatorStatus>,
}

/// A key's writable fields; `key` absent keeps the secret. Setting `active` puts a key its
/// health took out (`error`) back into rotation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyReplace {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Write-only; absent = keep.
    #[serde(default)]
    #[schema(min_length = 4, max_length = 512)]
    pub key: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    pub weight: Option<i32>,
    #[serde(default)]
    pub status: Option<OperatorStatus>,
}

fn input(name: String, weight: Option<i32>, status: Option<OperatorStatus>) -> KeyInput {
    KeyInput {
        name,
        weight,
        status: status.map(|status| {
            match status {
                OperatorStatus::Active => "active",
                OperatorStatus::Inactive => "inactive",
            }
            .to_owned()
        }),
    }
}

/// The last failed call through a key.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastErrorBody {
    pub at: DateTime<Utc>,
    pub status_code: u16,
    pub code: Option<String>,
    pub summary: Option<String>,
}

/// A key's health in this instance's memory.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    /// `healthy`, `cooling_down`, `error` (refused by its supplier) or `circuit_open` (failing).
    pub condition: String,
    /// Why it is out of rotation.
    pub reason: Option<String>,
    pub cooldown_until: Option<DateTime<Utc>>,
    /// When a key out of rotation is probed next.
    pub next_probe_at: Option<DateTime<Utc>>,
    pub in_flight: u32,
    pub consecutive_failures: u32,
    /// The moving average of its answers' latency.
    pub latency_ewma_ms: Option<f64>,
}

impl From<HealthView> for HealthBody {
    fn from(view: HealthView) -> Self {
        Self {
            condition: view.condition.as_str().to_owned(),
            reason: view.reason,
            cooldown_until: view.cooldown_until,
            next_probe_at: view.next_probe_at,
            in_flight: view.in_flight,
            consecutive_failures: view.consecutive_failures,
            latency_ewma_ms: view.latency_ewma_ms,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyStats {
    pub key: KeyBody,
    /// Calls that went with the key (every try counts), from its rollups.
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Calls that did not succeed.
    pub errors: i64,
    pub last_error: Option<LastErrorBody>,
    /// `null` when the key is in no pool (inactive, removed, or its supplier is off).
    pub health: Option<HealthBody>,
}

/// The keys of every supplier, newest first (admins).
#[utoipa::path(tag = "keys", security(("bearer_jwt" = [])), params(KeyListQuery),
    responses((status = 200, description = "A page of keys", body = KeyList), (status = 403, description = "Not an admin", body = ErrorBody)))]
#[get("/api/v1/keys")]
async fn list_keys(
    state: web::Data<AppState>,
    user: AdminUser,
    query: web::Query<KeyListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let filter = KeyFilter {
        supplier: query.supplier_id.map(SupplierId),
        status: query.status.map(KeyStatusName::domain),
        include_removed: query.include_removed,
    };
    let keys = state.catalog.list_keys(&user.admin, filter, page).await?;
    Ok(HttpResponse::Ok().json(KeyList {
        next_cursor: keys.next.map(encode_cursor),
        data: keys.items.into_iter().map(KeyBody::from).collect(),
    }))
}

/// Add a key to a supplier's pool (admins).
#[utoipa::path(tag = "keys", security(("bearer_jwt" = [])), request_body = KeyCreate,
    responses((status = 201, description = "The key", body = KeyBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 422, description = "A rule is broken, or no such live supplier", body = ErrorBody)))]
#[post("/api/v1/keys")]
async fn create_key(
    state: web::Data<AppState>,
    user: AdminUser,
    body: Json<KeyCreate>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let key = state
        .catalog
        .create_key(
            &user.admin,
            SupplierId(body.supplier_id),
            input(body.name, body.weight, body.status),
            &body.key,
        )
        .await?;
    Ok(HttpResponse::Created().json(KeyBody::from(key)))
}

/// One key (admins).
#[utoipa::path(tag = "keys", security(("bearer_jwt" = [])), params(("key_id" = Uuid, Path, description = "The key's id")),
    responses((status = 200, description = "The key", body = KeyBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such key", body = ErrorBody)))]
#[get("/api/v1/keys/{key_id}")]
async fn get_key(
    state: web::Data<AppState>,
    user: AdminUser,
    key_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let key = state.catalog.get_key(&user.admin, *key_id).await?;
    Ok(HttpResponse::Ok().json(KeyBody::from(key)))
}

/// Replace a key's name, weight, status and (when given) secret (admins).
#[utoipa::path(tag = "keys", security(("bearer_jwt" = [])), params(("key_id" = Uuid, Path, description = "The key's id")), request_body = KeyReplace,
    responses((status = 200, description = "The key", body = KeyBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such key (or removed)", body = ErrorBody), (status = 422, description = "A rule is broken", body = ErrorBody)))]
#[put("/api/v1/keys/{key_id}")]
async fn replace_key(
    state: web::Data<AppState>,
    user: AdminUser,
    key_id: web::Path<Uuid>,
    body: Json<KeyReplace>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let key = state
        .catalog
        .replace_key(
            &user.admin,
            *key_id,
            input(body.name, body.weight, body.status),
            body.key.as_deref(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(KeyBody::from(key)))
}

/// Remove a key from its pool (admins): it is emptied; the row stays for the call log.
#[utoipa::path(tag = "keys", security(("bearer_jwt" = [])), params(("key_id" = Uuid, Path, description = "The key's id")),
    responses((status = 204, description = "Removed"), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such key (or removed)", body = ErrorBody)))]
#[delete("/api/v1/keys/{key_id}")]
async fn delete_key(
    state: web::Data<AppState>,
    user: AdminUser,
    key_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.catalog.delete_key(&user.admin, *key_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A key's calls, tokens and errors (from its rollups), its last error and its health now (admins).
#[utoipa::path(tag = "keys", security(("bearer_jwt" = [])), params(("key_id" = Uuid, Path, description = "The key's id")),
    responses((status = 200, description = "The key's statistics", body = KeyStats), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such key", body = ErrorBody)))]
#[get("/api/v1/keys/{key_id}/stats")]
async fn key_stats(
    state: web::Data<AppState>,
    user: AdminUser,
    key_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let key = state.catalog.get_key(&user.admin, *key_id).await?;
    let (calls, health) = state.gateway.key_stats(&user.admin, key.id).await?;
    Ok(HttpResponse::Ok().json(KeyStats {
        key: key.into(),
        requests: calls.requests,
        prompt_tokens: calls.prompt_tokens,
        completion_tokens: calls.completion_tokens,
        errors: calls.errors,
        last_error: calls.last_error.map(|last| LastErrorBody {
            at: last.at,
            status_code: last.status_code,
            code: last.code,
            summary: last.summary,
        }),
        health: health.map(HealthBody::from),
    }))
}
