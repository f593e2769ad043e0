//! The account use cases every caller meets: registration, login with lockout, token refresh
//! with rotation and reuse detection, logout, and authenticating requests. The caller's own
//! profile is in `profile.rs`, admin work in `admin.rs`, gateway API keys in `keys.rs`.
//!
//! Every route that checks or sets a password or a refresh token counts its attempts per client
//! address and per account ([`AttemptLimiter`]) before it does any work.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::accounts::api_key::ApiKeyId;
use crate::accounts::identity::{CacheLimits, IdentityCache};
use crate::accounts::limits::Limits;
use crate::accounts::password::Password;
use crate::accounts::ports::{
    ApiKeyRepo, Attempt, AttemptLimiter, ClientAddress, NewRefreshToken, PasswordHasher, RefreshTokenRepo, Rotation,
    Scope, UserRepo, UserWriteError,
};
use crate::accounts::token::{TokenKeys, is_api_key_shaped, new_refresh_token, random_base62, sha256_hex};
use crate::accounts::user::{DisplayName, Email, NewUser, User, Username};
use crate::kernel::error::{AuthFailure, ConflictKind, DomainError, Refusal, StoreError};
use crate::kernel::ids::UserId;
use crate::kernel::ports::Clock;
use crate::kernel::principal::{Principal, Role};

/// The rules of authentication, from configuration.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    pub allow_registration: bool,
    pub max_failed_logins: i64,
    pub lockout_duration: Duration,
    pub refresh_ttl: Duration,
    /// How long after a rotation the old refresh token still yields the same successor.
    pub refresh_reuse_grace: Duration,
    pub identity_cache: CacheLimits,
}

/// The credentials a login or refresh hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// Who is calling, from a gateway API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrincipal {
    pub key_id: ApiKeyId,
    pub user_id: UserId,
    pub allowed_models: Vec<String>,
    /// The key's limits, as this instance knows them now.
    pub key_limits: Limits,
}

/// What a new account is made of, as the caller sent it.
#[derive(Debug, Clone)]
pub struct Registration<'a> {
    pub username: &'a str,
    pub display_name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub password: &'a str,
}

#[derive(Debug, Clone)]
pub struct Accounts {
    pub(super) users: Arc<dyn UserRepo>,
    pub(super) refresh_tokens: Arc<dyn RefreshTokenRepo>,
    pub(super) keys: Arc<dyn ApiKeyRepo>,
    pub(super) hasher: Arc<dyn PasswordHasher>,
    pub(super) limiter: Arc<dyn AttemptLimiter>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) token_keys: TokenKeys,
    pub(super) cache: Arc<IdentityCache>,
    pub(super) policy: AuthPolicy,
    /// A hash verified when the user does not exist, so that path costs what a real one does.
    dummy_hash: String,
}

/// The stores and tools [`Accounts`] works with.
#[derive(Debug, Clone)]
pub struct AccountPorts {
    pub users: Arc<dyn UserRepo>,
    pub refresh_tokens: Arc<dyn RefreshTokenRepo>,
    pub keys: Arc<dyn ApiKeyRepo>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub limiter: Arc<dyn AttemptLimiter>,
    pub clock: Arc<dyn Clock>,
}

impl Accounts {
    pub async fn new(ports: AccountPorts, token_keys: TokenKeys, policy: AuthPolicy) -> Result<Self, DomainError> {
        let dummy = Password::presented(&random_base62(24));
        let dummy_hash = ports.hasher.hash(&dummy).await?;
        let cache = Arc::new(IdentityCache::new(
            ports.users.clone(),
            ports.keys.clone(),
            ports.clock.clone(),
            policy.identity_cache,
        ));
        Ok(Self {
            users: ports.users,
            refresh_tokens: ports.refresh_tokens,
            keys: ports.keys,
            hasher: ports.hasher,
            limiter: ports.limiter,
            clock: ports.clock,
            token_keys,
            cache,
            policy,
            dummy_hash,
        })
    }

    pub fn identity_cache(&self) -> Arc<IdentityCache> {
        self.cache.clone()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Counts one attempt; refuses it with 429 when the limit is reached.
    pub(super) async fn throttle(&self, attempt: Attempt, scope: Scope, key: &str) -> Result<(), DomainError> {
        self.limiter
            .hit(attempt, scope, key)
            .await
            .map_err(|retry_after_seconds| DomainError::RateLimited { retry_after_seconds })
    }

    /// Self-service registration, when `auth.allow_registration` is on.
    pub async fn register(&self, registration: Registration<'_>, client: &ClientAddress) -> Result<User, DomainError> {
        self.throttle(Attempt::Register, Scope::Address, client.key()).await?;
        if !self.policy.allow_registration {
            return Err(DomainError::Forbidden(Refusal::RegistrationDisabled));
        }
        let new = self.new_user(registration, Role::User).await?;
        self.users.create(&new, None).await.map_err(user_write_error)
    }

    /// Checks a new account's fields and hashes its password.
    pub(super) async fn new_user(&self, registration: Registration<'_>, role: Role) -> Result<NewUser, DomainError> {
        let username = Username::parse(registration.username)?;
        let display_name = DisplayName::parse(registration.display_name.unwrap_or(registration.username))?;
        let email = registration.email.map(Email::parse).transpose()?;
        let password = Password::parse_new(registration.password, username.as_str(), "password")?;
        let password_hash = self.hasher.hash(&password).await?;
        Ok(NewUser {
            id: UserId::new(),
            username,
            display_name,
            email,
            password_hash,
            role,
            now: self.clock.now(),
        })
    }

    /// Checks credentials and hands out tokens. See `docs/api.md` for every outcome.
    pub async fn login(
        &self,
        identifier: &str,
        password: &str,
        client: &ClientAddress,
    ) -> Result<TokenPair, DomainError> {
        let identifier = identifier.trim();
        self.throttle(Attempt::Login, Scope::Address, client.key()).await?;
        // Longer than any username or email: no account has it, and it must not cost bcrypt
        // work or a large key in the limiter.
        if identifier.chars().count() > Email::MAX_LEN {
            return Err(DomainError::Unauthenticated(AuthFailure::InvalidCredentials));
        }
        // Counted by what was typed, existing account or not, so the limit tells nothing
        // about which accounts exist.
        self.throttle(Attempt::Login, Scope::Account, &identifier.to_lowercase())
            .await?;
        let password = Password::presented(password);
        let Some(user) = self.users.find_for_login(identifier).await? else {
            // Same work as a real check, so timing does not reveal which usernames exist.
            let _ = self.hasher.verify(&password, &self.dummy_hash).await?;
            return Err(DomainError::Unauthenticated(AuthFailure::InvalidCredentials));
        };
        let matches = self.hasher.verify(&password, &user.password_hash).await?;
        let now = self.clock.now();
        refuse_while_barred(&user, now)?;
        if !matches {
            self.count_failure(&user, now).await?;
            return Err(DomainError::Unauthenticated(AuthFailure::InvalidCredentials));
        }
        self.users.record_login(user.id, now).await?;
        self.cache.forget_user(user.id);
        self.start_session(&user).await
    }

    /// Counts a failed password check toward the account's lockout.
    pub(super) async fn count_failure(&self, user: &User, now: DateTime<Utc>) -> Result<(), DomainError> {
        let lock_until = now + self.policy.lockout_duration;
        self.users
            .record_failed_login(user.id, self.policy.max_failed_logins, lock_until, now)
            .await?;
        Ok(())
    }

    async fn start_session(&self, user: &User) -> Result<TokenPair, DomainError> {
        let now = self.clock.now();
        let refresh_token = new_refresh_token();
        self.refresh_tokens
            .insert(&NewRefreshToken {
                user_id: user.id,
                family_id: Uuid::now_v7(),
                token_hash: sha256_hex(&refresh_token),
                expires_at: now + self.policy.refresh_ttl,
                now,
            })
            .await?;
        self.token_pair(user, refresh_token)
    }

    fn token_pair(&self, user: &User, refresh_token: String) -> Result<TokenPair, DomainError> {
        let access_token = self
            .token_keys
            .issue_access(user.id, user.role, user.token_version, self.clock.now())?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            expires_in: self.token_keys.access_ttl().num_seconds(),
        })
    }

    /// Spends a refresh token for a new pair. A retry within the grace period gets the same
    /// successor; a spent token presented later revokes its whole family. Whatever refuses the
    /// refresh does so before the token is spent, so a refused client's later retry is not
    /// taken for a reuse.
    pub async fn refresh(&self, refresh_token: &str, client: &ClientAddress) -> Result<TokenPair, DomainError> {
        let invalid = DomainError::Unauthenticated(AuthFailure::InvalidRefreshToken);
        self.throttle(Attempt::Refresh, Scope::Address, client.key()).await?;
        let presented = sha256_hex(refresh_token);
        let now = self.clock.now();
        let Some(owner) = self.refresh_tokens.owner(&presented, now).await? else {
            return Err(invalid);
        };
        self.throttle(Attempt::Refresh, Scope::Account, &owner.to_string())
            .await?;
        let user = self.cache.user(owner).await?.ok_or(invalid.clone())?;
        if !session_allowed(&user) {
            return Err(invalid);
        }
        let successor = self.token_keys.refresh_successor(refresh_token);
        let rotation = self
            .refresh_tokens
            .rotate(
                &presented,
                &sha256_hex(&successor),
                now + self.policy.refresh_ttl,
                self.policy.refresh_reuse_grace,
                now,
            )
            .await?;
        match rotation {
            Rotation::Rotated { .. } | Rotation::Retried { .. } => self.token_pair(&user, successor),
            // A reused token's family is revoked by now; either way the caller must log in again.
            Rotation::Reused | Rotation::Invalid => Err(invalid),
        }
    }

    /// Ends the session of a refresh token (its whole family). Counted like a refresh per
    /// client address: it too tries a token.
    pub async fn logout(&self, refresh_token: &str, client: &ClientAddress) -> Result<(), DomainError> {
        self.throttle(Attempt::Refresh, Scope::Address, client.key()).await?;
        let revoked = self
            .refresh_tokens
            .revoke_family(&sha256_hex(refresh_token), self.clock.now())
            .await?;
        if revoked {
            Ok(())
        } else {
            Err(DomainError::Unauthenticated(AuthFailure::InvalidRefreshToken))
        }
    }

    /// Who an access token belongs to, if it is still good: signature, expiry, and the user's
    /// current token version, status and role (from the identity cache).
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal, DomainError> {
        let invalid = DomainError::Unauthenticated(AuthFailure::InvalidToken);
        let now = self.clock.now();
        let (user_id, claims) = self.token_keys.verify_access(access_token, now)?;
        let user = self.cache.user(user_id).await?.ok_or(invalid.clone())?;
        if claims.ver != user.token_version || !session_allowed(&user) {
            return Err(invalid);
        }
        Ok(Principal::new(user_id, user.role))
    }

    /// Who a gateway API key belongs to, if it is usable and its user may act.
    pub async fn authenticate_key(&self, secret: &str) -> Result<KeyPrincipal, DomainError> {
        let invalid = DomainError::Unauthenticated(AuthFailure::InvalidApiKey);
        // Only what `generate_api_key` makes can match: anything else costs no lookup.
        if !is_api_key_shaped(secret) {
            return Err(invalid);
        }
        let now = self.clock.now();
        let key = self.cache.key(&sha256_hex(secret)).await?.ok_or(invalid.clone())?;
        if !key.usable(now) {
            return Err(invalid);
        }
        let user = self.cache.user(key.user_id).await?.ok_or(invalid.clone())?;
        if !session_allowed(&user) {
            return Err(invalid);
        }
        Ok(KeyPrincipal {
            key_id: key.id,
            user_id: key.user_id,
            allowed_models: key.allowed_models.clone(),
            key_limits: key.limits.clone(),
        })
    }

    /// A user's limits, from the identity cache (no query once the user is known).
    pub async fn user_limits(&self, user_id: UserId) -> Result<Limits, StoreError> {
        Ok(self
            .cache
            .user(user_id)
            .await?
            .map(|user| user.limits.clone())
            .unwrap_or_default())
    }
}

/// While an account is deactivated or locked, every check of its password gets this same
/// answer, whatever the password (after the same bcrypt work), so the answer never tells a
/// right guess from a wrong one; such attempts are not counted either.
pub(super) fn refuse_while_barred(user: &User, now: DateTime<Utc>) -> Result<(), DomainError> {
    if !user.is_active {
        return Err(DomainError::Forbidden(Refusal::AccountDisabled));
    }
    if user.lock_in_force(now) {
        return Err(DomainError::Forbidden(Refusal::AccountLocked {
            until: user.locked_until,
        }));
    }
    Ok(())
}

/// Whether a user's tokens and keys still work: live, active, and not locked by an admin.
/// A lockout after failed logins only blocks new logins: it must not let an attacker who guesses
/// wrong end the real user's sessions.
fn session_allowed(user: &User) -> bool {
    user.deleted_at.is_none() && user.is_active && !user.admin_locked()
}

/// The domain's words for a refused write of the user store.
pub(super) fn user_write_error(error: UserWriteError) -> DomainError {
    match error {
        UserWriteError::UsernameTaken => DomainError::Conflict {
            kind: ConflictKind::UsernameTaken,
            message: "the username is taken".to_owned(),
        },
        UserWriteError::EmailTaken => DomainError::Conflict {
            kind: ConflictKind::EmailTaken,
            message: "the email address is already in use".to_owned(),
        },
        UserWriteError::LastAdmin => DomainError::Conflict {
            kind: ConflictKind::LastAdmin,
            message: "this is the last active admin: make another admin first".to_owned(),
        },
        UserWriteError::Store(StoreError::NotFound) => DomainError::NotFound { entity: "user" },
        UserWriteError::Store(other) => other.into(),
    }
}
