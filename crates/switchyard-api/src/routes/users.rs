//! `/api/v1/users/me`: the caller's own account and password.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::AppState;
use crate::auth::{AuthUser, client_address};
use crate::dto::{UserBody, double_option};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(get_me).service(update_me).service(change_password);
}

/// A JSON Merge Patch of the caller's profile: absent = keep, `null` = clear.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    /// 1–100 characters of any script, not only spaces; cannot be cleared.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = String, required = false, min_length = 1, max_length = 100, pattern = r"\S")]
    pub display_name: Option<Option<String>>,
    /// An email address, or `null` to remove it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, required = false, format = Email, max_length = 254)]
    pub email: Option<Option<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 8 or more characters, at most 71 bytes, not the username, not a common password.
    #[schema(min_length = 8, max_length = 71)]
    pub new_password: String,
}

/// The caller's account.
#[utoipa::path(
    tag = "users",
    security(("bearer_jwt" = [])),
    responses(
        (status = 200, description = "The caller's account", body = UserBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
    )
)]
#[get("/api/v1/users/me")]
async fn get_me(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let me = state.accounts.me(&user.0).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(me)))
}

/// Change the caller's display name or email.
#[utoipa::path(
    tag = "users",
    security(("bearer_jwt" = [])),
    request_body(content = UpdateMeRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated account", body = UserBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 409, description = "Email taken", body = ErrorBody),
        (status = 422, description = "A rule is broken", body = ErrorBody),
    )
)]
#[patch("/api/v1/users/me")]
async fn update_me(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<UpdateMeRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let display_name = match body.display_name {
        Some(None) => {
            return Err(ApiError::from(switchyard_domain::DomainError::validation(
                "display_name",
                "required",
                "cannot be cleared",
            )));
        }
        Some(Some(name)) => Some(name),
        None => None,
    };
    let email = body.email.as_ref().map(|email| email.as_deref());
    let me = state
        .accounts
        .update_me(&user.0, display_name.as_deref(), email)
        .await?;
    Ok(HttpResponse::Ok().json(UserBody::from(me)))
}

/// Change the caller's password. Every session of the account ends, this one included.
#[utoipa::path(
    tag = "users",
    security(("bearer_jwt" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; log in again"),
        (status = 401, description = "No valid access token, or a wrong current password (counted toward the lockout)", body = ErrorBody),
        (status = 403, description = "The account is locked (the same answer whatever the password)", body = ErrorBody),
        (status = 422, description = "The new password breaks a rule", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address or for this account", body = ErrorBody),
    )
)]
#[post("/api/v1/users/me/password")]
async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    state
        .accounts
        .change_password(
            &user.0,
            &body.0.current_password,
            &body.0.new_password,
            &client_address(&req),
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
