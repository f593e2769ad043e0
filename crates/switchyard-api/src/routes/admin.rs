//! `/api/v1/admin`: user administration and the audit trail (admins only).

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::accounts::{AdminChange, NewAccount, UserFilter};
use switchyard_domain::accounts::{Role, UserId};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{AdminUser, client_address, request_id};
use crate::dto::{UserBody, encode_cursor, page_request, secret};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::names::RoleName;

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_users)
        .service(create_user)
        .service(get_user)
        .service(activate)
        .service(deactivate)
        .service(lock)
        .service(unlock)
        .service(reset_password)
        .service(change_role)
        .service(delete_user)
        .service(restore)
        .service(list_audit);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserListQuery {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// Text in the username, display name or email.
    pub q: Option<String>,
    /// `admin` or `user`.
    #[param(inline)]
    pub role: Option<RoleName>,
    pub active: Option<bool>,
    pub locked: Option<bool>,
    /// Include soft-deleted users.
    #[serde(default)]
    pub include_deleted: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub data: Vec<UserBody>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LockRequest {
    /// Shown to admins; at most 500 characters.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    pub role: RoleName,
}

/// An account an admin creates.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// 3–64 characters of `[A-Za-z0-9_.-]`.
    #[schema(min_length = 3, max_length = 64, pattern = r"^[A-Za-z0-9_.-]+$")]
    pub username: String,
    /// 1–100 characters; defaults to the username.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub display_name: Option<String>,
    #[serde(default)]
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    pub role: RoleName,
    /// The password (same rules as registration); leave it out to have one generated and shown
    /// once in the answer.
    #[serde(default)]
    #[schema(min_length = 8, max_length = 71)]
    pub password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    pub user: UserBody,
    /// The generated password, when none was given: shown this once, never stored in clear.
    pub generated_password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// 8 or more characters, at most 71 bytes, not the username, not a common password.
    #[schema(min_length = 8, max_length = 71)]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventBody {
    pub id: Uuid,
    pub actor_id: Option<Uuid>,
    /// `user.lock`, `user.role_change`, ...
    pub action: String,
    pub target_type: String,
    pub target_id: Option<Uuid>,
    pub request_id: Option<String>,
    pub details: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventList {
    pub data: Vec<AuditEventBody>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// Users, newest first, with filters.
#[utoipa::path(
    tag = "admin",
    security(("bearer_jwt" = [])),
    params(UserListQuery),
    responses(
        (status = 200, description = "A page of users", body = UserList),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
#[get("/api/v1/admin/users")]
async fn list_users(
    state: web::Data<AppState>,
    admin: AdminUser,
    query: web::Query<UserListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let filter = UserFilter {
        text: query.q,
        role: query.role.map(Role::from),
        active: query.active,
        locked: query.locked,
        include_deleted: query.include_deleted,
    };
    let users = state.accounts.list_users(&admin.admin, &filter, page).await?;
    Ok(HttpResponse::Ok().json(UserList {
        next_cursor: users.next.map(encode_cursor),
        data: users.items.into_iter().map(UserBody::from).collect(),
    }))
}

/// Create an account (audited as `user.create`); with registration off, this is how people get one.
#[utoipa::path(
    tag = "admin",
    security(("bearer_jwt" = [])),
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "The account, and its password when it was generated", body = CreatedUser),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "Username or email taken", body = ErrorBody),
        (status = 422, description = "A rule is broken", body = ErrorBody),
        (status = 429, description = "Too many password hashes from this address or admin", body = ErrorBody),
    )
)]
#[post("/api/v1/admin/users")]
async fn create_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: AdminUser,
    body: Json<CreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let account = NewAccount {
        username: &body.username,
        display_name: body.display_name.as_deref(),
        email: body.email.as_deref(),
        role: body.role.into(),
        password: body.password.as_deref(),
    };
    let created = state
        .accounts
        .create_account(&admin.admin, &client_address(&req), request_id(&req), account)
        .await?;
    Ok(secret(HttpResponse::Created()).json(CreatedUser {
        user: UserBody::from(created.user),
        generated_password: created.generated_password,
    }))
}

/// One user, deleted or not.
#[utoipa::path(
    tag = "admin",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = UserBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
#[get("/api/v1/admin/users/{id}")]
async fn get_user(state: web::Data<AppState>, admin: AdminUser, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let user = state.accounts.get_user(&admin.admin, UserId(*id)).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

async fn apply(
    req: &HttpRequest,
    state: &AppState,
    admin: &AdminUser,
    id: Uuid,
    change: AdminChange,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .accounts
        .change_user(&admin.admin, request_id(req), UserId(id), change)
        .await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// Re-enable a deactivated account.
#[utoipa::path(tag = "admin", security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = UserBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody)))]
#[post("/api/v1/admin/users/{id}/activate")]
async fn activate(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    apply(&req, &state, &admin, *id, AdminChange::Activate).await
}

/// Deactivate an account: its tokens and keys stop working at once.
#[utoipa::path(tag = "admin", security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = UserBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody), (status = 409, description = "The last active admin", body = ErrorBody)))]
#[post("/api/v1/admin/users/{id}/deactivate")]
async fn deactivate(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    apply(&req, &state, &admin, *id, AdminChange::Deactivate).await
}

/// Lock an account until an admin unlocks it: its tokens and keys stop working at once.
#[utoipa::path(tag = "admin", security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The user's id")), request_body = LockRequest,
    responses((status = 200, description = "The user", body = UserBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody), (status = 409, description = "The last active admin", body = ErrorBody), (status = 422, description = "A rule is broken", body = ErrorBody)))]
#[post("/api/v1/admin/users/{id}/lock")]
async fn lock(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<Uuid>,
    body: Json<LockRequest>,
) -> Result<HttpResponse, ApiError> {
    let reason = body
        .0
        .reason
        .map(|reason| reason.trim().to_owned())
        .filter(|reason| !reason.is_empty());
    if reason.as_ref().is_some_and(|reason| reason.chars().count() > 500) {
        return Err(switchyard_domain::DomainError::validation("reason", "too_long", "at most 500 characters").into());
    }
    apply(&req, &state, &admin, *id, AdminChange::Lock { reason }).await
}

/// Lift any lock (an admin's or a lockout after failed logins).
#[utoipa::path(tag = "admin", security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = UserBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody)))]
#[post("/api/v1/admin/users/{id}/unlock")]
async fn unlock(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    apply(&req, &state, &admin, *id, AdminChange::Unlock).await
}

/// Set a new password for a user; their sessions end.
#[utoipa::path(tag = "admin", security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The user's id")), request_body = ResetPasswordRequest,
    responses((status = 200, description = "The user", body = UserBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody), (status = 422, description = "The password breaks a rule", body = ErrorBody)))]
#[post("/api/v1/admin/users/{id}/reset-password")]
async fn reset_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<Uuid>,
    body: Json<ResetPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .accounts
        .reset_password(
            &admin.admin,
            &client_address(&req),
            request_id(&req),
            UserId(*id),
            &body.0.password,
        )
        .await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// Make a user an admin, or an admin a user.
#[utoipa::path(tag = "admin", security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The user's id")), request_body = RoleRequest,
    responses((status = 200, description = "The user", body = UserBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody), (status = 409, description = "The last active admin", body = ErrorBody), (status = 422, description = "Unknown role", body = ErrorBody)))]
#[post("/api/v1/admin/users/{id}/role")]
async fn change_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<Uuid>,
    body: Json<RoleRequest>,
) -> Result<HttpResponse, ApiError> {
    apply(&req, &state, &admin, *id, AdminChange::SetRole(body.0.role.into())).await
}

/// Soft-delete a user: they cannot log in; their username stays reserved.
#[utoipa::path(tag = "admin", security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses((status = 200, description = "The deleted user", body = UserBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody), (status = 409, description = "The last active admin", body = ErrorBody)))]
#[delete("/api/v1/admin/users/{id}")]
async fn delete_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    apply(&req, &state, &admin, *id, AdminChange::Delete).await
}

/// Bring back a soft-deleted user.
#[utoipa::path(tag = "admin", security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = UserBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody), (status = 409, description = "The email is now used by another account", body = ErrorBody)))]
#[post("/api/v1/admin/users/{id}/restore")]
async fn restore(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    apply(&req, &state, &admin, *id, AdminChange::Restore).await
}

/// Every admin write, newest first.
#[utoipa::path(tag = "admin", security(("bearer_jwt" = [])), params(AuditQuery),
    responses((status = 200, description = "A page of audit events", body = AuditEventList), (status = 401, description = "No valid access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
#[get("/api/v1/admin/audit")]
async fn list_audit(
    state: web::Data<AppState>,
    admin: AdminUser,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let events = state.accounts.audit_events(&admin.admin, page).await?;
    Ok(HttpResponse::Ok().json(AuditEventList {
        next_cursor: events.next.map(encode_cursor),
        data: events
            .items
            .into_iter()
            .map(|event| AuditEventBody {
                id: event.id,
                actor_id: event.actor_id.map(|id| id.0),
                action: event.action,
                target_type: event.target_type,
                target_id: event.target_id,
                request_id: event.request_id,
                details: event.details,
                created_at: event.created_at,
            })
            .collect(),
    }))
}
