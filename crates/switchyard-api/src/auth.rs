//! The two ways to authenticate: a user's JWT access token (everything under `/api/v1`) and a
//! gateway API key (`/v1/*` only). Each is an extractor; a handler that takes one is protected.

use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use switchyard_domain::accounts::{API_KEY_PREFIX, ClientAddress, KeyPrincipal};
use switchyard_domain::gateway::Caller;
use switchyard_domain::{Admin, AuthFailure, DomainError, Principal};

use crate::AppState;
use crate::error::ApiError;
use crate::middleware::request_context::{ClientIp, RequestId};

/// The `Bearer` credential of a request, if any.
fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credential.trim().to_owned())
        .filter(|credential| !credential.is_empty())
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("the application state is not registered"))
}

/// A caller authenticated by a JWT access token. API keys are refused here.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub Principal);

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let state = state(req);
        Box::pin(async move {
            let token = token.ok_or(DomainError::Unauthenticated(AuthFailure::InvalidToken))?;
            let principal = state?.accounts.authenticate(&token).await?;
            Ok(Self(principal))
        })
    }
}

/// A caller authenticated by a JWT access token of a user whose current role is admin, with the
/// proof of admin rights the admin-only use cases take.
#[derive(Debug, Clone, Copy)]
pub struct AdminUser {
    pub admin: Admin,
    pub principal: Principal,
}

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = AuthUser::from_request(req, payload);
        Box::pin(async move {
            let AuthUser(principal) = user.await?;
            Ok(Self {
                admin: principal.admin()?,
                principal,
            })
        })
    }
}

/// A gateway caller (`/v1/*`): an `sy-…` API key in `Authorization: Bearer` (what OpenAI's
/// SDKs send) or `x-api-key` (what Anthropic's send), or a user's JWT access token (a signed-in
/// web client; every model is open to it).
#[derive(Debug, Clone)]
pub struct GatewayUser(pub Caller);

impl FromRequest for GatewayUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let credential = bearer(req).or_else(|| {
            req.headers()
                .get("x-api-key")
                .and_then(|value| value.to_str().ok())
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        });
        let state = state(req);
        Box::pin(async move {
            let credential = credential.ok_or(DomainError::Unauthenticated(AuthFailure::InvalidApiKey))?;
            let state = state?;
            if credential.starts_with(API_KEY_PREFIX) {
                let key: KeyPrincipal = state.accounts.authenticate_key(&credential).await?;
                return Ok(Self(Caller {
                    user_id: key.user_id,
                    key_id: Some(key.key_id),
                    allowed_models: key.allowed_models,
                    key_limits: key.key_limits,
                }));
            }
            let principal = state
                .accounts
                .authenticate(&credential)
                .await
                .map_err(|error| match error {
                    // Neither a key nor a token: say what the gateway wants.
                    DomainError::Unauthenticated(_) => DomainError::Unauthenticated(AuthFailure::InvalidApiKey),
                    other => other,
                })?;
            Ok(Self(Caller {
                user_id: principal.user_id(),
                key_id: None,
                allowed_models: Vec::new(),
                key_limits: Default::default(),
            }))
        })
    }
}

/// This request's id, for the audit trail.
pub fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<RequestId>().map(|id| id.as_str().to_owned())
}

/// The client's address as `request_context` determined it, as the attempt limits count it: an
/// IPv4 address whole, an IPv6 address by its /64 (one host may hold a whole /64).
pub fn client_address(req: &HttpRequest) -> ClientAddress {
    ClientAddress(req.extensions().get::<ClientIp>().and_then(|ip| ip.0).map(limit_key))
}

fn limit_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::limit_key;

    #[test]
    fn ipv6_addresses_are_counted_by_their_64_bit_prefix() {
        let key = |raw: &str| limit_key(raw.parse().expect("an address"));
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_eq!(key("::ffff:198.51.100.4"), "198.51.100.4");
    }
}
