//! Rate limits and budgets: a key's, set by its owner (within the user's); a user's, set by an
//! admin. Each read shows the budget's current period: spent, held by calls in flight,
//! remaining, and when it starts again.

use actix_web::{HttpResponse, get, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::accounts::{ApiKeyId, Budget, BudgetInput, Limits, LimitsInput, UserId};
use switchyard_domain::usage::{BudgetStatus, Cost, Subject};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(get_key_limits)
        .service(put_key_limits)
        .service(get_my_limits)
        .service(get_user_limits)
        .service(put_user_limits);
}

/// A budget: an amount per period in one currency.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetBody {
    /// Nano-units of `currency` (1 USD = 1000000000).
    #[schema(minimum = 1)]
    pub amount_nanos: i64,
    /// ISO 4217.
    #[schema(min_length = 3, max_length = 3)]
    pub currency: String,
    /// `day`, `week` (from Monday), `month` (calendar periods of `limits.time_zone`) or `all_time`.
    pub period: String,
}

/// Limits to set; `null` (or absent) is no limit of that kind.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsRequest {
    /// Requests per minute, 1–1000000.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000000)]
    pub requests_per_minute: Option<u64>,
    /// Tokens per minute (prompt and answer), 1–10000000000.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10000000000_u64)]
    pub tokens_per_minute: Option<u64>,
    /// Calls in flight at once, 1–100000 (keys only).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100000)]
    pub concurrency: Option<u64>,
    #[serde(default)]
    pub budget: Option<BudgetBody>,
}

impl From<LimitsRequest> for LimitsInput {
    fn from(body: LimitsRequest) -> Self {
        Self {
            requests_per_minute: body.requests_per_minute,
            tokens_per_minute: body.tokens_per_minute,
            concurrency: body.concurrency,
            budget: body.budget.map(|budget| BudgetInput {
                amount_nanos: budget.amount_nanos,
                currency: budget.currency,
                period: budget.period,
            }),
        }
    }
}

/// A budget's current period.
#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetStatusBody {
    pub amount_nanos: i64,
    pub currency: String,
    pub period: String,
    /// The period's start; `null` for all time.
    pub period_start: Option<DateTime<Utc>>,
    /// When it starts again; `null` for all time.
    pub resets_at: Option<DateTime<Utc>>,
    /// Spent in the period (calls on the caller's own keys are not counted).
    pub spent_nanos: i64,
    /// Held by calls in flight (each holds its maximum cost until it ends).
    pub reserved_nanos: i64,
    pub remaining_nanos: i64,
    /// `remaining_nanos` in the currency's units, as a decimal string.
    pub remaining: String,
}

impl From<BudgetStatus> for BudgetStatusBody {
    fn from(status: BudgetStatus) -> Self {
        Self {
            amount_nanos: status.budget.amount_nanos,
            remaining: Cost {
                currency: status.budget.currency.clone(),
                nanos: status.remaining_nanos,
            }
            .amount(),
            currency: status.budget.currency,
            period: status.budget.period.as_str().to_owned(),
            period_start: status.start,
            resets_at: status.resets_at,
            spent_nanos: status.spent_nanos,
            reserved_nanos: status.reserved_nanos,
            remaining_nanos: status.remaining_nanos,
        }
    }
}

/// Limits as set, with the budget's current period.
#[derive(Debug, Serialize, ToSchema)]
pub struct LimitsBody {
    pub requests_per_minute: Option<u32>,
    pub tokens_per_minute: Option<u64>,
    /// Keys only; `null` for users.
    pub concurrency: Option<u32>,
    /// `null` without a budget.
    pub budget: Option<BudgetStatusBody>,
}

async fn body(state: &AppState, subject: Subject, limits: Limits) -> Result<LimitsBody, ApiError> {
    let budget = match &limits.budget {
        Some(budget) => Some(status(state, subject, budget).await?),
        None => None,
    };
    Ok(LimitsBody {
        requests_per_minute: limits.requests_per_minute,
        tokens_per_minute: limits.tokens_per_minute,
        concurrency: limits.concurrency,
        budget,
    })
}

async fn status(state: &AppState, subject: Subject, budget: &Budget) -> Result<BudgetStatusBody, ApiError> {
    Ok(state.governor.budget_status(subject, budget).await?.into())
}

/// One of the caller's keys' limits and budget.
#[utoipa::path(tag = "api-keys", security(("bearer_jwt" = [])), params(("id" = Uuid, Path, description = "The key's id")),
    responses(
        (status = 200, description = "The key's limits", body = LimitsBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such key of the caller's", body = ErrorBody)))]
#[get("/api/v1/api-keys/{id}/limits")]
async fn get_key_limits(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let key = state.accounts.get_key(&user.0, ApiKeyId(*id)).await?;
    Ok(HttpResponse::Ok().json(body(&state, Subject::Key(key.id), key.limits).await?))
}

/// Set one of the caller's keys' limits and budget; each rate at most the user's.
#[utoipa::path(tag = "api-keys", security(("bearer_jwt" = [])), params(("id" = Uuid, Path, description = "The key's id")), request_body = LimitsRequest,
    responses(
        (status = 200, description = "The key's limits", body = LimitsBody),
        (status = 400, description = "The body does not read", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such key of the caller's", body = ErrorBody),
        (status = 422, description = "A limit out of range, above the user's, or a bad budget", body = ErrorBody)))]
#[put("/api/v1/api-keys/{id}/limits")]
async fn put_key_limits(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    request: Json<LimitsRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = state
        .accounts
        .set_key_limits(&user.0, ApiKeyId(*id), request.0.into())
        .await?;
    Ok(HttpResponse::Ok().json(body(&state, Subject::Key(key.id), key.limits).await?))
}

/// The caller's own limits and budget, as an admin set them.
#[utoipa::path(tag = "users", security(("bearer_jwt" = [])),
    responses(
        (status = 200, description = "The caller's limits", body = LimitsBody),
        (status = 401, description = "No valid access token", body = ErrorBody)))]
#[get("/api/v1/users/me/limits")]
async fn get_my_limits(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let id = user.0.user_id();
    let limits = state
        .accounts
        .user_limits(id)
        .await
        .map_err(switchyard_domain::DomainError::from)?;
    Ok(HttpResponse::Ok().json(body(&state, Subject::User(id), limits).await?))
}

/// A user's limits and budget (admins).
#[utoipa::path(tag = "admin", security(("bearer_jwt" = [])), params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user's limits", body = LimitsBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody)))]
#[get("/api/v1/admin/users/{id}/limits")]
async fn get_user_limits(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let user = state.accounts.get_user(&admin.admin, UserId(*id)).await?;
    Ok(HttpResponse::Ok().json(body(&state, Subject::User(user.id), user.limits).await?))
}

/// Set a user's limits and budget (admins): the ceiling of their keys' limits.
#[utoipa::path(tag = "admin", security(("bearer_jwt" = [])), params(("id" = Uuid, Path, description = "The user's id")), request_body = LimitsRequest,
    responses(
        (status = 200, description = "The user's limits", body = LimitsBody),
        (status = 400, description = "The body does not read", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "A limit out of range, a concurrency (keys only), or a bad budget", body = ErrorBody)))]
#[put("/api/v1/admin/users/{id}/limits")]
async fn put_user_limits(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<Uuid>,
    request: Json<LimitsRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .accounts
        .set_user_limits(&admin.admin, UserId(*id), request.0.into())
        .await?;
    Ok(HttpResponse::Ok().json(body(&state, Subject::User(user.id), user.limits).await?))
}
