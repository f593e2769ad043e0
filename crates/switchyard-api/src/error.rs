//! `ApiError`: every failure the HTTP API reports, with a stable snake_case code, rendered as
//! `{"error":{"code","message","details"}}` under `/api` and in OpenAI's shape under `/v1`.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use chrono::SecondsFormat;
use serde::Serialize;
use switchyard_domain::kernel::error::UpstreamFailure;
use switchyard_domain::kernel::rate::RateHeaders;
use switchyard_domain::{AuthFailure, ConflictKind, DomainError, Refusal};
use utoipa::ToSchema;

/// Every error code the API can answer with. `docs/api.md` lists them; keep the two in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body or query cannot be read (syntax, missing or mistyped field, unknown field).
    InvalidRequest,
    /// 422: the input reads but breaks a rule.
    ValidationFailed,
    /// 401: no valid credentials.
    Unauthenticated,
    /// 401: wrong username, email or password.
    InvalidCredentials,
    /// 401: the bearer token is missing, malformed, expired or no longer valid.
    InvalidToken,
    /// 401: the refresh token is unknown, expired, revoked or was reused.
    InvalidRefreshToken,
    /// 401: the gateway API key is missing, unknown, revoked or expired.
    InvalidApiKey,
    /// 403: valid credentials, not allowed.
    Forbidden,
    /// 403: the right password, but the account is locked (`locked_until` in `details`).
    AccountLocked,
    /// 403: the account is deactivated.
    AccountDisabled,
    /// 403: self-service registration is off (`auth.allow_registration`).
    RegistrationDisabled,
    /// 404: no such route or object (also another user's object).
    NotFound,
    /// 404: no routable model of that name for this caller (`/v1`).
    ModelNotFound,
    /// 403: the gateway key may not use this model (its `allowed_models`).
    ModelNotAllowed,
    /// 502: the supplier failed, answered nonsense, refused Switchyard's key, or could not be reached.
    UpstreamError,
    /// 503: the supplier is overloaded; see `Retry-After` when it said.
    UpstreamOverloaded,
    /// 504: the supplier did not answer in time.
    UpstreamTimeout,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 409: the request contradicts the current state.
    Conflict,
    /// 409: the username is taken (usernames stay reserved after deletion).
    UsernameTaken,
    /// 409: another live account uses the email address.
    EmailTaken,
    /// 409: the change would leave no active admin.
    LastAdmin,
    /// 409: the move would make a category its own ancestor.
    CategoryCycle,
    /// 409: the category has children or models; delete with `mode=reassign`.
    CategoryNotEmpty,
    /// 409: the model is the default of its type; set another default first.
    DefaultModelInUse,
    /// 409: the conversation is deleted; restore it first.
    ConversationDeleted,
    /// 409: only the conversation's last answer can be regenerated.
    NotLastAnswer,
    /// 409: the user's files already take their quota (`files.max_files_per_user`, `files.max_bytes_per_user`).
    FileQuotaExceeded,
    /// 413: the body is larger than `server.body_limit`.
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 429: too many requests; see `Retry-After`.
    RateLimited,
    /// 429: a rate or concurrency limit of Switchyard's (the key's, the user's, the model's) is
    /// reached; the message names it; see `Retry-After` and `x-ratelimit-*`.
    RateLimitExceeded,
    /// 429: a budget cannot cover the request's maximum cost; the message says when it starts again.
    InsufficientQuota,
    /// 503: a dependency (the database, ...) is down.
    ServiceUnavailable,
    /// 500: a bug. The message is generic; the details are in the server log.
    InternalError,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated
            | Self::InvalidCredentials
            | Self::InvalidToken
            | Self::InvalidRefreshToken
            | Self::InvalidApiKey => StatusCode::UNAUTHORIZED,
            Self::Forbidden
            | Self::AccountLocked
            | Self::AccountDisabled
            | Self::RegistrationDisabled
            | Self::ModelNotAllowed => StatusCode::FORBIDDEN,
            Self::NotFound | Self::ModelNotFound => StatusCode::NOT_FOUND,
            Self::UpstreamError => StatusCode::BAD_GATEWAY,
            Self::UpstreamOverloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict
            | Self::UsernameTaken
            | Self::EmailTaken
            | Self::LastAdmin
            | Self::CategoryCycle
            | Self::CategoryNotEmpty
            | Self::DefaultModelInUse
            | Self::ConversationDeleted
            | Self::NotLastAnswer
            | Self::FileQuotaExceeded => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited | Self::RateLimitExceeded | Self::InsufficientQuota => StatusCode::TOO_MANY_REQUESTS,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::ValidationFailed => "validation_failed",
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidToken => "invalid_token",
            Self::InvalidRefreshToken => "invalid_refresh_token",
            Self::InvalidApiKey => "invalid_api_key",
            Self::Forbidden => "forbidden",
            Self::AccountLocked => "account_locked",
            Self::AccountDisabled => "account_disabled",
            Self::RegistrationDisabled => "registration_disabled",
            Self::NotFound => "not_found",
            Self::ModelNotFound => "model_not_found",
            Self::ModelNotAllowed => "model_not_allowed",
            Self::UpstreamError => "upstream_error",
            Self::UpstreamOverloaded => "upstream_overloaded",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::UsernameTaken => "username_taken",
            Self::EmailTaken => "email_taken",
            Self::LastAdmin => "last_admin",
            Self::CategoryCycle => "category_cycle",
            Self::CategoryNotEmpty => "category_not_empty",
            Self::DefaultModelInUse => "default_model_in_use",
            Self::ConversationDeleted => "conversation_deleted",
            Self::NotLastAnswer => "not_last_answer",
            Self::FileQuotaExceeded => "file_quota_exceeded",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited => "rate_limited",
            Self::RateLimitExceeded => "rate_limit_exceeded",
            Self::InsufficientQuota => "insufficient_quota",
            Self::ServiceUnavailable => "service_unavailable",
            Self::InternalError => "internal_error",
        }
    }

    /// The `type` OpenAI's API gives this kind of failure; OpenAI SDKs pick their exception by
    /// the status code, so the type is informative.
    fn openai_type(self) -> &'static str {
        match self {
            Self::Unauthenticated
            | Self::InvalidCredentials
            | Self::InvalidToken
            | Self::InvalidRefreshToken
            | Self::InvalidApiKey => "authentication_error",
            Self::Forbidden
            | Self::AccountLocked
            | Self::AccountDisabled
            | Self::RegistrationDisabled
            | Self::ModelNotAllowed => "permission_error",
            Self::RateLimited => "rate_limit_error",
            // OpenAI's own types for its limits and its quota.
            Self::RateLimitExceeded => "requests",
            Self::InsufficientQuota => "insufficient_quota",
            Self::ServiceUnavailable
            | Self::InternalError
            | Self::UpstreamError
            | Self::UpstreamOverloaded
            | Self::UpstreamTimeout => "server_error",
            _ => "invalid_request_error",
        }
    }

    /// The code for a bare status produced outside our handlers (actix's 404/405, ...).
    pub fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => Self::Unauthenticated,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            409 => Self::Conflict,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            422 => Self::ValidationFailed,
            429 => Self::RateLimited,
            503 => Self::ServiceUnavailable,
            400..=499 => Self::InvalidRequest,
            _ => Self::InternalError,
        }
    }
}

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Where: a JSON path into the body (`messages[0].role`), or a query or path parameter name.
    pub field: String,
    /// What, as a stable snake_case code: `missing_field`, `invalid_type`, `unknown_field`, ...
    pub code: String,
    pub message: String,
}

/// An API failure. Construct it with the helpers; it renders itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    details: Vec<ErrorDetail>,
    retry_after_seconds: Option<u64>,
    /// The caller's rate limits, for the `x-ratelimit-*` headers.
    rate: Option<Box<RateHeaders>>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after_seconds: None,
            rate: None,
        }
    }

    /// A 500 whose real cause is logged here, once, and never shown to the client.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::InternalError, "internal server error")
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn with_detail(
        mut self,
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        self.details.push(ErrorDetail {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        });
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn details(&self) -> &[ErrorDetail] {
        &self.details
    }

    /// The same error, rendered in OpenAI's shape (for `/v1/*`).
    /// The error in OpenAI's shape. A request that reads but breaks a rule is a 400 there, as
    /// OpenAI answers it (its SDKs raise `BadRequestError`), not the platform's 422.
    pub fn into_openai(mut self) -> OpenAiError {
        if self.code == ErrorCode::ValidationFailed {
            self.code = ErrorCode::InvalidRequest;
        }
        OpenAiError(self)
    }

    fn response_builder(&self) -> actix_web::HttpResponseBuilder {
        let mut builder = HttpResponse::build(self.code.status());
        if self.code.status() == StatusCode::UNAUTHORIZED {
            builder.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if let Some(seconds) = self.retry_after_seconds {
            builder.insert_header((header::RETRY_AFTER, HeaderValue::from(seconds)));
        }
        if let Some(rate) = &self.rate {
            crate::rate::insert(&mut builder, rate);
        }
        builder
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

/// The platform's error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    pub code: ErrorCode,
    pub message: String,
    pub details: Vec<ErrorDetail>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.response_builder().json(ErrorBody {
            error: ErrorObject {
                code: self.code,
                message: self.message.clone(),
                details: self.details.clone(),
            },
        })
    }
}

/// An [`ApiError`] rendered as OpenAI does: `{"error":{"message","type","param","code"}}`.
#[derive(Debug, Clone)]
pub struct OpenAiError(pub ApiError);

/// OpenAI's error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorBody {
    pub error: OpenAiErrorObject,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorObject {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub param: Option<String>,
    pub code: Option<String>,
}

impl fmt::Display for OpenAiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for OpenAiError {
    fn status_code(&self) -> StatusCode {
        self.0.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let error = &self.0;
        let message = match error.details.first() {
            Some(detail) if !error.message.contains(&detail.message) => {
                format!("{}: {}", error.message, detail.message)
            }
            _ => error.message.clone(),
        };
        error.response_builder().json(OpenAiErrorBody {
            error: OpenAiErrorObject {
                message,
                kind: error.code.openai_type().to_owned(),
                param: error.details.first().map(|detail| detail.field.clone()),
                code: Some(error.code.as_str().to_owned()),
            },
        })
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Validation { field, code, message } => {
                Self::new(ErrorCode::ValidationFailed, format!("{field}: {message}")).with_detail(field, code, message)
            }
            DomainError::NotFound { entity } => Self::not_found(format!("{entity} not found")),
            DomainError::Conflict { kind, message } => {
                let code = match kind {
                    ConflictKind::UsernameTaken => ErrorCode::UsernameTaken,
                    ConflictKind::EmailTaken => ErrorCode::EmailTaken,
                    ConflictKind::LastAdmin => ErrorCode::LastAdmin,
                    ConflictKind::CategoryCycle => ErrorCode::CategoryCycle,
                    ConflictKind::CategoryNotEmpty => ErrorCode::CategoryNotEmpty,
                    ConflictKind::DefaultModelInUse => ErrorCode::DefaultModelInUse,
                    ConflictKind::ConversationDeleted => ErrorCode::ConversationDeleted,
                    ConflictKind::NotLastAnswer => ErrorCode::NotLastAnswer,
                    ConflictKind::FileQuota => ErrorCode::FileQuotaExceeded,
                    ConflictKind::Duplicate => ErrorCode::Conflict,
                };
                Self::new(code, message)
            }
            DomainError::Unauthenticated(failure) => match failure {
                AuthFailure::InvalidCredentials => {
                    Self::new(ErrorCode::InvalidCredentials, "wrong username, email or password")
                }
                AuthFailure::InvalidToken => Self::new(
                    ErrorCode::InvalidToken,
                    "the access token is missing, invalid or expired: log in or refresh",
                ),
                AuthFailure::InvalidRefreshToken => Self::new(
                    ErrorCode::InvalidRefreshToken,
                    "the refresh token is invalid, expired or revoked: log in again",
                ),
                AuthFailure::InvalidApiKey => Self::new(
                    ErrorCode::InvalidApiKey,
                    "the API key is missing, invalid, revoked or expired",
                ),
            },
            DomainError::Forbidden(refusal) => match refusal {
                Refusal::AccountLocked { until } => {
                    let until_text = until.map(|at| at.to_rfc3339_opts(SecondsFormat::Micros, true));
                    let message = match &until_text {
                        Some(at) => format!("the account is locked until {at}"),
                        None => "the account is locked by an administrator".to_owned(),
                    };
                    Self::new(ErrorCode::AccountLocked, message).with_detail(
                        "locked_until",
                        "account_locked",
                        until_text.unwrap_or_default(),
                    )
                }
                Refusal::AccountDisabled => Self::new(ErrorCode::AccountDisabled, "the account is deactivated"),
                Refusal::RegistrationDisabled => Self::new(
                    ErrorCode::RegistrationDisabled,
                    "registration is disabled; ask an administrator for an account",
                ),
                Refusal::AdminOnly => Self::new(ErrorCode::Forbidden, "this needs the admin role"),
                Refusal::ModelNotAllowed => Self::new(
                    ErrorCode::ModelNotAllowed,
                    "this API key may not use this model (see its allowed_models)",
                ),
            },
            DomainError::UnknownModel { model } => Self::new(
                ErrorCode::ModelNotFound,
                format!("the model `{model}` does not exist or you do not have access to it"),
            )
            .with_detail("model", "model_not_found", "no routable model of this name"),
            DomainError::Upstream {
                failure,
                message,
                retry_after_seconds,
            } => {
                let code = match failure {
                    UpstreamFailure::BadRequest => ErrorCode::InvalidRequest,
                    UpstreamFailure::Failed => ErrorCode::UpstreamError,
                    UpstreamFailure::RateLimited => ErrorCode::RateLimited,
                    UpstreamFailure::Overloaded => ErrorCode::UpstreamOverloaded,
                    UpstreamFailure::Timeout => ErrorCode::UpstreamTimeout,
                };
                let error = Self::new(code, message);
                match (failure, retry_after_seconds) {
                    (_, Some(seconds)) => error.with_retry_after(seconds),
                    // A 429 always says when to come back.
                    (UpstreamFailure::RateLimited, None) => error.with_retry_after(1),
                    _ => error,
                }
            }
            DomainError::LimitExceeded {
                message,
                retry_after_seconds,
                headers,
            } => {
                let mut error = Self::new(ErrorCode::RateLimitExceeded, message).with_retry_after(retry_after_seconds);
                error.rate = Some(headers);
                error
            }
            DomainError::QuotaExceeded {
                message,
                retry_after_seconds,
            } => {
                let error = Self::new(ErrorCode::InsufficientQuota, message);
                match retry_after_seconds {
                    Some(seconds) => error.with_retry_after(seconds),
                    None => error,
                }
            }
            DomainError::RateLimited { retry_after_seconds } => {
                Self::new(ErrorCode::RateLimited, "too many requests, slow down").with_retry_after(retry_after_seconds)
            }
            DomainError::Unavailable { dependency, message } => {
                tracing::warn!(dependency, error = %message, "dependency unavailable");
                Self::new(
                    ErrorCode::ServiceUnavailable,
                    format!("{dependency} is unavailable, try again shortly"),
                )
                .with_retry_after(5)
            }
            DomainError::UnsupportedMedia { message } => Self::new(ErrorCode::UnsupportedMediaType, message),
            DomainError::TooLarge { message } => Self::new(ErrorCode::PayloadTooLarge, message),
            DomainError::Internal(message) => Self::internal(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generic_code_maps_back_from_its_status() {
        for code in [
            ErrorCode::InvalidRequest,
            ErrorCode::ValidationFailed,
            ErrorCode::Unauthenticated,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::MethodNotAllowed,
            ErrorCode::Conflict,
            ErrorCode::PayloadTooLarge,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::RateLimited,
            ErrorCode::ServiceUnavailable,
            ErrorCode::InternalError,
        ] {
            assert_eq!(ErrorCode::from_status(code.status()), code, "{code:?}");
            let json = serde_json::to_value(code).expect("a code serialises");
            assert_eq!(json.as_str(), Some(code.as_str()));
        }
    }

    #[test]
    fn validation_errors_name_their_field() {
        let error = ApiError::from(DomainError::Validation {
            field: "name".to_owned(),
            code: "too_long",
            message: "at most 64 characters".to_owned(),
        });
        assert_eq!(error.code(), ErrorCode::ValidationFailed);
        assert_eq!(error.details()[0].field, "name");
    }
}
