//! Account use cases: registration, login with lockout, token refresh with rotation and reuse
//! detection, logout, the caller's own profile and password, and authenticating requests.

use std::sync::Arc;

use chrono::Duration;
use uuid::Uuid;

use crate::api_key::ApiKeyId;
use crate::error::{AuthFailure, ConflictKind, Refusal};
use crate::identity::IdentityCache;
use crate::password::{Password, PasswordHasher};
use crate::ports::{ApiKeyRepo, NewRefreshToken, RefreshTokenRepo, Rotation, UserRepo};
use crate::token::{API_KEY_PREFIX, TokenKeys, new_refresh_token, sha256_hex};
use crate::user::{DisplayName, Email, NewUser, Role, User, UserId, Username};
use crate::{Clock, DomainError, StoreError};

/// The rules of authentication, from configuration.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    pub allow_registration: bool,
    pub max_failed_logins: i64,
    pub lockout_duration: Duration,
    pub refresh_ttl: Duration,
    /// How long after a rotation the old refresh token still yields the same successor.
    pub refresh_reuse_grace: Duration,
}

/// The credentials a login or refresh hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// Who is calling, from an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    /// The role now (not when the token was issued).
    pub role: Role,
}

impl Principal {
    pub fn require_admin(&self) -> Result<(), DomainError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::User => Err(DomainError::Forbidden(Refusal::AdminOnly)),
        }
    }
}

/// Who is calling, from a gateway API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrincipal {
    pub key_id: ApiKeyId,
    pub user_id: UserId,
    pub allowed_models: Vec<String>,
}

/// What a new account is made of, as the caller sent it.
#[derive(Debug, Clone)]
pub struct Registration<'a> {
    pub username: &'a str,
    pub display_name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub password: &'a str,
}

/// The outcome of creating the first admin from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCreation {
    Created(Box<User>),
    /// A user with that username already exists (nothing changed).
    Exists,
}

#[derive(Debug, Clone)]
pub struct Accounts {
    pub(crate) users: Arc<dyn UserRepo>,
    pub(crate) refresh_tokens: Arc<dyn RefreshTokenRepo>,
    pub(crate) keys: Arc<dyn ApiKeyRepo>,
    pub(crate) hasher: Arc<dyn PasswordHasher>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) token_keys: TokenKeys,
    pub(crate) cache: Arc<IdentityCache>,
    pub(crate) policy: AuthPolicy,
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
    pub clock: Arc<dyn Clock>,
}

impl Accounts {
    pub async fn new(ports: AccountPorts, token_keys: TokenKeys, policy: AuthPolicy) -> Result<Self, DomainError> {
        let dummy = Password::presented(&crate::token::random_base62(24));
        let dummy_hash = ports.hasher.hash(&dummy).await?;
        let cache = Arc::new(IdentityCache::new(ports.users.clone(), ports.keys.clone()));
        Ok(Self {
            users: ports.users,
            refresh_tokens: ports.refresh_tokens,
            keys: ports.keys,
            hasher: ports.hasher,
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

    /// Self-service registration, when `auth.allow_registration` is on.
    pub async fn register(&self, registration: Registration<'_>) -> Result<User, DomainError> {
        if !self.policy.allow_registration {
            return Err(DomainError::Forbidden(Refusal::RegistrationDisabled));
        }
        self.create_user(registration, Role::User).await
    }

    /// Creates an admin (the operator command); an existing username is not an error.
    pub async fn create_admin(&self, registration: Registration<'_>) -> Result<AdminCreation, DomainError> {
        match self.create_user(registration, Role::Admin).await {
            Ok(user) => Ok(AdminCreation::Created(Box::new(user))),
            Err(DomainError::Conflict {
                kind: ConflictKind::UsernameTaken,
                ..
            }) => Ok(AdminCreation::Exists),
            Err(other) => Err(other),
        }
    }

    async fn create_user(&self, registration: Registration<'_>, role: Role) -> Result<User, DomainError> {
        let username = Username::parse(registration.username)?;
        let display_name = DisplayName::parse(registration.display_name.unwrap_or(registration.username))?;
        let email = registration.email.map(Email::parse).transpose()?;
        let password = Password::parse_new(registration.password, username.as_str(), "password")?;
        let password_hash = self.hasher.hash(&password).await?;
        let new = NewUser {
            id: UserId::new(),
            username,
            display_name,
            email,
            password_hash,
            role,
            now: self.clock.now(),
        };
        self.users.create(&new).await.map_err(taken)
    }

    /// Checks credentials and hands out tokens. See `docs/api.md` for every outcome.
    pub async fn login(&self, identifier: &str, password: &str) -> Result<TokenPair, DomainError> {
        let password = Password::presented(password);
        let found = self.users.find_for_login(identifier.trim()).await?;
        let Some(user) = found else {
            // Same work as a real check, so timing does not reveal which usernames exist.
            let _ = self.hasher.verify(&password, &self.dummy_hash).await?;
            return Err(DomainError::Unauthenticated(AuthFailure::InvalidCredentials));
        };
        let now = self.clock.now();
        if !self.hasher.verify(&password, &user.password_hash).await? {
            if !user.lock_in_force(now) {
                let lock_until = now + self.policy.lockout_duration;
                self.users
                    .record_failed_login(user.id, self.policy.max_failed_logins, lock_until, now)
                    .await?;
            }
            return Err(DomainError::Unauthenticated(AuthFailure::InvalidCredentials));
        }
        if !user.is_active {
            return Err(DomainError::Forbidden(Refusal::AccountDisabled));
        }
        if user.lock_in_force(now) {
            return Err(DomainError::Forbidden(Refusal::AccountLocked {
                until: user.locked_until,
            }));
        }
        self.users.record_login(user.id, now).await?;
        self.cache.forget_user(user.id);
        self.start_session(&user).await
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
    /// successor; a spent token presented later revokes its whole family.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, DomainError> {
        let invalid = DomainError::Unauthenticated(AuthFailure::InvalidRefreshToken);
        let now = self.clock.now();
        let successor = self.token_keys.refresh_successor(refresh_token);
        let rotation = self
            .refresh_tokens
            .rotate(
                &sha256_hex(refresh_token),
                &sha256_hex(&successor),
                now + self.policy.refresh_ttl,
                self.policy.refresh_reuse_grace,
                now,
            )
            .await?;
        let user_id = match rotation {
            Rotation::Rotated { user_id } | Rotation::Retried { user_id } => user_id,
            // A reused token's family is revoked by now; either way the caller must log in again.
            Rotation::Reused | Rotation::Invalid => return Err(invalid),
        };
        let user = self.cache.user(user_id).await?.ok_or(invalid.clone())?;
        if !user.may_act(now) {
            return Err(invalid);
        }
        self.token_pair(&user, successor)
    }

    /// Ends the session of a refresh token (its whole family).
    pub async fn logout(&self, refresh_token: &str) -> Result<(), DomainError> {
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
        Ok(Principal {
            user_id,
            role: user.role,
        })
    }

    /// Who a gateway API key belongs to, if it is usable and its user may act.
    pub async fn authenticate_key(&self, secret: &str) -> Result<KeyPrincipal, DomainError> {
        let invalid = DomainError::Unauthenticated(AuthFailure::InvalidApiKey);
        if !secret.starts_with(API_KEY_PREFIX) || secret.len() > 128 {
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
        })
    }

    /// The caller's own account.
    pub async fn me(&self, principal: &Principal) -> Result<User, DomainError> {
        let user = self.users.find(principal.user_id).await?;
        user.filter(|user| user.deleted_at.is_none())
            .ok_or(DomainError::NotFound { entity: "user" })
    }

    /// Changes the caller's display name and email (`None` = keep; `Some(None)` = clear email).
    pub async fn update_me(
        &self,
        principal: &Principal,
        display_name: Option<&str>,
        email: Option<Option<&str>>,
    ) -> Result<User, DomainError> {
        let display_name = display_name.map(DisplayName::parse).transpose()?;
        let email = email.map(|email| email.map(Email::parse).transpose()).transpose()?;
        let user = self
            .users
            .update_profile(
                principal.user_id,
                display_name.map(|name| name.as_str().to_owned()),
                email.map(|email| email.map(|email| email.as_str().to_owned())),
                self.clock.now(),
            )
            .await
            .map_err(taken)?;
        Ok(self.cache.store_user(user).as_ref().clone())
    }

    /// Changes the caller's password: needs the current one; ends every session.
    pub async fn change_password(&self, principal: &Principal, current: &str, new: &str) -> Result<(), DomainError> {
        let user = self.me(principal).await?;
        if !self
            .hasher
            .verify(&Password::presented(current), &user.password_hash)
            .await?
        {
            return Err(DomainError::Unauthenticated(AuthFailure::InvalidCredentials));
        }
        let password = Password::parse_new(new, &user.username, "new_password")?;
        let hash = self.hasher.hash(&password).await?;
        let user = self.users.change_password(user.id, &hash, self.clock.now()).await?;
        self.cache.store_user(user);
        Ok(())
    }
}

/// Whether a user's tokens and keys still work: live, active, and not locked by an admin.
/// A lockout after failed logins only blocks new logins: it must not let an attacker who guesses
/// wrong end the real user's sessions.
fn session_allowed(user: &User) -> bool {
    user.deleted_at.is_none() && user.is_active && !(user.is_locked && user.locked_until.is_none())
}

/// Maps a uniqueness conflict of the user store to the rule it broke.
pub(crate) fn taken(error: StoreError) -> DomainError {
    match error {
        StoreError::Conflict(constraint) if constraint.contains("email") => DomainError::Conflict {
            kind: ConflictKind::EmailTaken,
            message: "the email address is already in use".to_owned(),
        },
        StoreError::Conflict(_) => DomainError::Conflict {
            kind: ConflictKind::UsernameTaken,
            message: "the username is taken".to_owned(),
        },
        other => other.into(),
    }
}
