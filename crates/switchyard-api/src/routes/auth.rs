//! `/api/v1/auth`: register, login, refresh, logout.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use switchyard_domain::accounts::{Registration, TokenPair};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::AppState;
use crate::auth::client_address;
use crate::dto::{UserBody, secret};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(register).service(login).service(refresh).service(logout);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
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
    /// At least 8 characters, at most 71 bytes, not the username, not a common password.
    #[schema(min_length = 8, max_length = 71)]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The username or the email address.
    pub username: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT for `Authorization: Bearer` on `/api/v1`.
    pub access_token: String,
    /// Single use: trade it for a new pair at `/api/v1/auth/refresh`.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

impl From<TokenPair> for TokenResponse {
    fn from(pair: TokenPair) -> Self {
        Self {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
            token_type: "Bearer".to_owned(),
            expires_in: pair.expires_in,
        }
    }
}

/// Create an account (only when `auth.allow_registration` is on).
#[utoipa::path(
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The new account", body = UserBody),
        (status = 403, description = "Registration is disabled", body = ErrorBody),
        (status = 409, description = "Username or email taken", body = ErrorBody),
        (status = 422, description = "A rule is broken", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address", body = ErrorBody),
    )
)]
#[post("/api/v1/auth/register")]
async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let registration = Registration {
        username: &body.username,
        display_name: body.display_name.as_deref(),
        email: body.email.as_deref(),
        password: &body.password,
    };
    let user = state.accounts.register(registration, &client_address(&req)).await?;
    Ok(HttpResponse::Created().json(UserBody::from(user)))
}

/// Trade a username (or email) and password for tokens.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, description = "Wrong credentials", body = ErrorBody),
        (status = 403, description = "Account locked or deactivated (the same answer whatever the password)", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address or for this account", body = ErrorBody),
    )
)]
#[post("/api/v1/auth/login")]
async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let pair = state
        .accounts
        .login(&body.0.username, &body.0.password, &client_address(&req))
        .await?;
    Ok(secret(HttpResponse::Ok()).json(TokenResponse::from(pair)))
}

/// Trade a refresh token for a new pair (the old one is spent).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new pair", body = TokenResponse),
        (status = 401, description = "Invalid, expired, revoked or reused refresh token", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address or for this session's account", body = ErrorBody),
    )
)]
#[post("/api/v1/auth/refresh")]
async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let pair = state
        .accounts
        .refresh(&body.0.refresh_token, &client_address(&req))
        .await?;
    Ok(secret(HttpResponse::Ok()).json(TokenResponse::from(pair)))
}

/// End the session of a refresh token.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Unknown refresh token", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address", body = ErrorBody),
    )
)]
#[post("/api/v1/auth/logout")]
async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    state
        .accounts
        .logout(&body.0.refresh_token, &client_address(&req))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
