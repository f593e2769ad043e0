//! `/api/v1/logs`: the gateway's call log, newest first (a user's own calls; an admin's,
//! everyone's), and every try of one request by its request id.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::accounts::ApiKeyId;
use switchyard_domain::catalog::{ModelId, SupplierId};
use switchyard_domain::gateway::{CallLogEntry, CallLogFilter};
use switchyard_domain::kernel::ids::UserId;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::AuthUser;
use crate::dto::{encode_cursor, page_request};
use crate::error::{ApiError, ErrorBody};

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_logs).service(get_request);
}

/// One call, as logged: ids and figures, no bodies.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogBody {
    pub id: Uuid,
    pub request_id: String,
    pub user_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
    pub model_id: Option<Uuid>,
    pub supplier_id: Option<Uuid>,
    pub upstream_key_id: Option<Uuid>,
    pub upstream_model: Option<String>,
    /// `chat_completions` or `embeddings`.
    pub endpoint: String,
    pub stream: bool,
    /// What the client got (a stream that started is 200 even when it broke later).
    pub status_code: u16,
    pub error_code: Option<String>,
    pub error_summary: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    /// The tokens were estimated (the supplier reported none).
    pub estimated: bool,
    /// Nano-units of `currency`.
    pub cost_nanos: i64,
    pub currency: Option<String>,
    pub time_to_first_token_ms: Option<i64>,
    pub latency_ms: i64,
    pub client_ip: Option<String>,
    /// Which try of the request (1 = the first; retries and fallbacks count on).
    pub attempt: u16,
    /// Sent with the caller's own key.
    pub byok: bool,
    pub created_at: DateTime<Utc>,
}

impl From<CallLogEntry> for LogBody {
    fn from(entry: CallLogEntry) -> Self {
        let usage = entry.usage;
        Self {
            id: entry.id,
            request_id: entry.request_id,
            user_id: entry.user_id.map(|id| id.0),
            api_key_id: entry.api_key_id.map(|id| id.0),
            model_id: entry.model_id.map(|id| id.0),
            supplier_id: entry.supplier_id.map(|id| id.0),
            upstream_key_id: entry.upstream_key_id,
            upstream_model: entry.upstream_model,
            endpoint: entry.endpoint.as_str().to_owned(),
            stream: entry.stream,
            status_code: entry.status_code,
            error_code: entry.error_code,
            error_summary: entry.error_summary,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cached_input_tokens: usage.cached_input_tokens,
            cache_write_tokens: usage.cache_write_tokens,
            reasoning_tokens: usage.reasoning_tokens,
            estimated: usage.estimated,
            cost_nanos: entry.cost_nanos,
            currency: entry.currency,
            time_to_first_token_ms: entry.time_to_first_token_ms,
            latency_ms: entry.latency_ms,
            client_ip: entry.client_ip,
            attempt: entry.attempt,
            byok: entry.byok,
            created_at: entry.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogList {
    pub data: Vec<LogBody>,
    pub next_cursor: Option<String>,
}

/// Every try of one request, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestLog {
    pub request_id: String,
    pub data: Vec<LogBody>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// From this instant (RFC 3339, inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Only this user's calls (admins; a user's own id is allowed).
    pub user_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
    pub model_id: Option<Uuid>,
    pub supplier_id: Option<Uuid>,
    /// The status the client got.
    #[param(minimum = 100, maximum = 599)]
    pub status: Option<u16>,
    pub error_code: Option<String>,
    pub stream: Option<bool>,
}

/// The call log, newest first, with filters and a cursor.
#[utoipa::path(tag = "logs", security(("bearer_jwt" = [])), params(LogQuery),
    responses(
        (status = 200, description = "A page of calls", body = LogList),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Another user's calls, asked by a user", body = ErrorBody),
        (status = 422, description = "A bad period", body = ErrorBody)))]
#[get("/api/v1/logs")]
async fn list_logs(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let filter = CallLogFilter {
        from: query.from,
        to: query.to,
        user: query.user_id.map(UserId),
        api_key: query.api_key_id.map(ApiKeyId),
        model: query.model_id.map(ModelId),
        supplier: query.supplier_id.map(SupplierId),
        status: query.status,
        error_code: query.error_code,
        stream: query.stream,
    };
    let entries = state.call_logs.page(&user.0, filter, page).await?;
    Ok(HttpResponse::Ok().json(LogList {
        next_cursor: entries.next.map(encode_cursor),
        data: entries.items.into_iter().map(LogBody::from).collect(),
    }))
}

/// Every try of one request, by its request id (`x-request-id`).
#[utoipa::path(tag = "logs", security(("bearer_jwt" = [])), params(("request_id" = String, Path, description = "The request id")),
    responses(
        (status = 200, description = "The request's tries, oldest first", body = RequestLog),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such request of the caller's", body = ErrorBody)))]
#[get("/api/v1/logs/{request_id}")]
async fn get_request(
    state: web::Data<AppState>,
    user: AuthUser,
    request_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let entries = state.call_logs.request(&user.0, &request_id).await?;
    Ok(HttpResponse::Ok().json(RequestLog {
        request_id: request_id.into_inner(),
        data: entries.into_iter().map(LogBody::from).collect(),
    }))
}
