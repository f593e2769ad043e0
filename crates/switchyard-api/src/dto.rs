//! Response bodies shared by several routes, converted by hand from domain types, and the list
//! envelope with its opaque cursor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use switchyard_domain::accounts::ApiKey;
use switchyard_domain::accounts::User;
use switchyard_domain::kernel::page::{Cursor, PageRequest};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;

/// A response carrying a secret shown once (tokens, a new key, a generated password): no cache
/// may keep it.
pub fn secret(mut response: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    response.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    response
}

/// A user account. Never carries the password hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    /// `admin` or `user`.
    pub role: String,
    pub is_active: bool,
    pub is_locked: bool,
    pub locked_reason: Option<String>,
    /// When a lock ends; `null` with `is_locked` means locked by an admin until unlocked.
    pub locked_until: Option<DateTime<Utc>>,
    pub failed_login_attempts: i64,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id.0,
            username: user.username,
            display_name: user.display_name,
            email: user.email,
            role: user.role.as_str().to_owned(),
            is_active: user.is_active,
            is_locked: user.is_locked,
            locked_reason: user.locked_reason,
            locked_until: user.locked_until,
            failed_login_attempts: user.failed_login_attempts,
            last_login_at: user.last_login_at,
            created_at: user.created_at,
            updated_at: user.updated_at,
            deleted_at: user.deleted_at,
        }
    }
}

/// A gateway API key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyBody {
    pub id: Uuid,
    pub name: String,
    /// The first 8 characters after `sy-`.
    pub prefix: String,
    /// Model names the key may use; empty = every model.
    pub allowed_models: Vec<String>,
    /// `active`, `revoked` or `expired`.
    pub status: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The last gateway call made with the key (written by the call-log writer, so it may lag
    /// by a flush interval).
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ApiKeyBody {
    pub fn new(key: ApiKey, now: DateTime<Utc>) -> Self {
        let status = if key.revoked_at.is_some() {
            "revoked"
        } else if key.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else {
            "active"
        };
        Self {
            id: key.id.0,
            name: key.name,
            prefix: key.prefix,
            allowed_models: key.allowed_models,
            status: status.to_owned(),
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
            last_used_at: key.last_used_at,
            created_at: key.created_at,
            updated_at: key.updated_at,
        }
    }
}

/// Encodes a page cursor as an opaque string.
pub fn encode_cursor(cursor: Cursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}.{}", cursor.created_at.timestamp_micros(), cursor.id))
}

fn decode_cursor(raw: &str) -> Option<Cursor> {
    let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (micros, id) = text.split_once('.')?;
    Some(Cursor {
        created_at: Utc.timestamp_micros(micros.parse().ok()?).single()?,
        id: Uuid::parse_str(id).ok()?,
    })
}

/// The page a list request asks for.
pub fn page_request(limit: Option<u64>, cursor: Option<&str>) -> Result<PageRequest, ApiError> {
    let after = match cursor {
        Some(raw) => Some(decode_cursor(raw).ok_or_else(|| {
            ApiError::invalid_request("cursor: not a cursor this API returned").with_detail(
                "cursor",
                "invalid_value",
                "not a cursor this API returned",
            )
        })?),
        None => None,
    };
    Ok(PageRequest::new(limit, after)?)
}

/// For JSON Merge Patch: tells an absent field (`None`) from an explicit `null` (`Some(None)`).
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = Cursor {
            created_at: Utc
                .timestamp_micros(1_800_000_000_123_456)
                .single()
                .expect("a valid instant"),
            id: Uuid::now_v7(),
        };
        assert_eq!(decode_cursor(&encode_cursor(cursor)), Some(cursor));
        assert!(page_request(None, Some("bm9wZQ")).is_err());
        assert!(page_request(Some(0), None).is_err());
        assert!(page_request(Some(201), None).is_err());
    }
}
