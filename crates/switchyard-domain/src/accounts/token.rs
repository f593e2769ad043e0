//! Credentials as strings: JWT access tokens, opaque refresh tokens (stored only as hashes), and
//! gateway API keys (`sy-…`, stored only as hashes).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::kernel::error::{AuthFailure, DomainError};
use crate::kernel::ids::UserId;
use crate::kernel::principal::Role;

/// The smallest signing secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// `len` random characters of `[A-Za-z0-9]` (base62): 43 of them carry 256 bits.
pub fn random_base62(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// The lower-case hex SHA-256 of a secret: how refresh tokens and API keys are stored.
pub fn sha256_hex(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    pub role: String,
    /// The user's token version when the token was issued; a password change or an admin action
    /// bumps it, which invalidates every token issued before.
    pub ver: i64,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// Signs and checks access tokens (HS256) and derives refresh-token successors.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    successor_key: Vec<u8>,
    issuer: String,
    audience: String,
    access_ttl: Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_ttl", &self.access_ttl)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8], issuer: &str, audience: &str, access_ttl: Duration) -> Result<Self, DomainError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(DomainError::validation(
                "auth.jwt_secret",
                "secret_too_short",
                "must be at least 32 bytes",
            ));
        }
        // The successor key is derived so that the signing secret itself is used for one purpose.
        let successor_key = hmac_sha256(secret, b"switchyard refresh-token successor v1");
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            successor_key,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            access_ttl,
        })
    }

    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// A signed access token for `user`, valid from `now` for the configured time.
    pub fn issue_access(
        &self,
        user: UserId,
        role: Role,
        token_version: i64,
        now: DateTime<Utc>,
    ) -> Result<String, DomainError> {
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.to_string(),
            role: role.as_str().to_owned(),
            ver: token_version,
            iat: now.timestamp(),
            exp: (now + self.access_ttl).timestamp(),
            jti: Uuid::now_v7().to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|error| DomainError::Internal(format!("cannot sign an access token: {error}")))
    }

    /// Checks signature, algorithm (HS256 only: `alg: none` and others are refused), issuer,
    /// audience and expiry against `now` (our clock, not the system's).
    pub fn verify_access(&self, token: &str, now: DateTime<Utc>) -> Result<(UserId, AccessClaims), DomainError> {
        let invalid = || DomainError::Unauthenticated(AuthFailure::InvalidToken);
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation).map_err(|_| invalid())?;
        if data.claims.exp <= now.timestamp() {
            return Err(invalid());
        }
        let id = Uuid::parse_str(&data.claims.sub).map_err(|_| invalid())?;
        Ok((UserId(id), data.claims))
    }

    /// The refresh token that replaces `token`. Derived, not random, so that a client retrying a
    /// refresh gets the same successor without the server ever storing a token in plain text.
    pub fn refresh_successor(&self, token: &str) -> String {
        let mac = hmac_sha256(&self.successor_key, token.as_bytes());
        format!("{REFRESH_PREFIX}{}", URL_SAFE_NO_PAD.encode(mac))
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Sha256::digest([key, message].concat()).to_vec(),
    }
}

/// Refresh tokens start with this, so a leaked one is recognisable.
pub const REFRESH_PREFIX: &str = "syr_";

/// A new refresh token (a new session's first): 256 random bits, base64url.
pub fn new_refresh_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!("{REFRESH_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Gateway API keys start with this.
pub const API_KEY_PREFIX: &str = "sy-";
/// How many characters after `sy-` are shown to identify a key.
pub const API_KEY_VISIBLE_CHARS: usize = 8;

/// A new gateway API key: the secret (shown once), its visible prefix, and its stored hash.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedApiKey {
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

impl std::fmt::Debug for GeneratedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedApiKey")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The characters after `sy-`: 43 base62 characters carry 256 bits.
pub const API_KEY_BODY_CHARS: usize = 43;

/// Whether `secret` has the shape of a key `generate_api_key` makes: `sy-` and 43 base62 characters.
pub fn is_api_key_shaped(secret: &str) -> bool {
    secret
        .strip_prefix(API_KEY_PREFIX)
        .is_some_and(|body| body.len() == API_KEY_BODY_CHARS && body.bytes().all(|byte| byte.is_ascii_alphanumeric()))
}

pub fn generate_api_key() -> GeneratedApiKey {
    let body = random_base62(API_KEY_BODY_CHARS);
    let secret = format!("{API_KEY_PREFIX}{body}");
    GeneratedApiKey {
        prefix: body[..API_KEY_VISIBLE_CHARS].to_owned(),
        hash: sha256_hex(&secret),
        secret,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&[7u8; 32], "switchyard", "switchyard", Duration::minutes(15)).expect("token keys")
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0)
            .single()
            .expect("a valid instant")
    }

    #[test]
    fn access_tokens_verify_until_they_expire() {
        let keys = keys();
        let user = UserId::new();
        let token = keys.issue_access(user, Role::User, 3, now()).expect("a signed token");
        let verified = keys.verify_access(&token, now() + Duration::minutes(14));
        assert_eq!(verified.map(|(id, claims)| (id, claims.ver)).ok(), Some((user, 3)));
        assert!(keys.verify_access(&token, now() + Duration::minutes(15)).is_err());
    }

    #[test]
    fn tokens_from_another_secret_or_audience_are_refused() {
        let token = keys()
            .issue_access(UserId::new(), Role::Admin, 0, now())
            .expect("the token's parts");
        let other =
            TokenKeys::new(&[8u8; 32], "switchyard", "switchyard", Duration::minutes(15)).expect("the token verifies");
        assert!(other.verify_access(&token, now()).is_err());
        let other_audience =
            TokenKeys::new(&[7u8; 32], "switchyard", "elsewhere", Duration::minutes(15)).expect("the token verifies");
        assert!(other_audience.verify_access(&token, now()).is_err());
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(TokenKeys::new(&[1u8; 31], "i", "a", Duration::minutes(1)).is_err());
    }

    #[test]
    fn refresh_successors_are_deterministic_and_distinct() {
        let keys = keys();
        let first = new_refresh_token();
        assert_eq!(keys.refresh_successor(&first), keys.refresh_successor(&first));
        assert_ne!(keys.refresh_successor(&first), first);
        assert!(keys.refresh_successor(&first).starts_with(REFRESH_PREFIX));
        assert_eq!(keys.refresh_successor(&first).len(), REFRESH_PREFIX.len() + 43);
    }

    #[test]
    fn api_keys_have_the_documented_shape() {
        let key = generate_api_key();
        assert!(key.secret.starts_with("sy-"));
        assert_eq!(key.secret.len(), 3 + 43);
        assert_eq!(key.prefix, key.secret[3..11]);
        assert_eq!(key.hash, sha256_hex(&key.secret));
        assert_eq!(key.hash.len(), 64);
    }
}
