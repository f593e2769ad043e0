//! In-memory fakes of the accounts ports, for the use cases' unit tests: one store of users,
//! refresh tokens and API keys with the same rules as the SQL one (uniqueness, the lockout
//! counter, rotation and reuse), a hasher that counts its work, and a limiter with fixed limits.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::accounts::api_key::{ApiKey, ApiKeyId};
use crate::accounts::audit::{Actor, AuditEvent};
use crate::accounts::limits::Limits;
use crate::accounts::password::Password;
use crate::accounts::ports::{
    AdminChange, ApiKeyRepo, Attempt, AttemptLimiter, NewApiKey, NewRefreshToken, PasswordHasher, RefreshTokenRepo,
    Rotation, Scope, UserFilter, UserRepo, UserWriteError,
};
use crate::accounts::user::{NewUser, User};
use crate::kernel::error::{DomainError, StoreError};
use crate::kernel::ids::UserId;
use crate::kernel::page::{Page, PageRequest};

#[derive(Debug, Clone)]
pub struct StoredToken {
    pub user_id: UserId,
    pub family_id: Uuid,
    pub hash: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
pub struct State {
    pub users: Vec<User>,
    pub tokens: Vec<StoredToken>,
    pub keys: Vec<ApiKey>,
    pub audit: Vec<AuditEvent>,
}

/// The store behind all three repository ports.
#[derive(Debug, Default)]
pub struct MemoryStore {
    pub state: Mutex<State>,
    /// How many times a key was looked up by hash (the query the identity cache saves).
    pub key_lookups: AtomicUsize,
}

impl MemoryStore {
    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("the fake store's lock"))
    }

    pub fn user(&self, id: UserId) -> User {
        self.with(|state| state.users.iter().find(|user| user.id == id).cloned())
            .expect("the user exists")
    }
}

fn user_mut(state: &mut State, id: UserId) -> Result<&mut User, StoreError> {
    state
        .users
        .iter_mut()
        .find(|user| user.id == id)
        .ok_or(StoreError::NotFound)
}

fn revoke_all(state: &mut State, id: UserId, now: DateTime<Utc>) {
    for token in state
        .tokens
        .iter_mut()
        .filter(|token| token.user_id == id && token.revoked_at.is_none())
    {
        token.revoked_at = Some(now);
    }
}

#[async_trait]
impl UserRepo for MemoryStore {
    async fn create(&self, new: &NewUser, audit: Option<&Actor>) -> Result<User, UserWriteError> {
        self.with(|state| {
            let lower = new.username.canonical();
            if state.users.iter().any(|user| user.username.to_lowercase() == lower) {
                return Err(UserWriteError::UsernameTaken);
            }
            let email = new.email.as_ref().map(|email| email.canonical());
            let live_email =
                |user: &&User| user.deleted_at.is_none() && user.email.as_ref().map(|e| e.to_lowercase()) == email;
            if email.is_some() && state.users.iter().any(|user| live_email(&user)) {
                return Err(UserWriteError::EmailTaken);
            }
            let user = User {
                id: new.id,
                username: new.username.as_str().to_owned(),
                display_name: new.display_name.as_str().to_owned(),
                email: new.email.as_ref().map(|email| email.as_str().to_owned()),
                password_hash: new.password_hash.clone(),
                role: new.role,
                is_active: true,
                is_locked: false,
                locked_reason: None,
                locked_until: None,
                failed_login_attempts: 0,
                last_login_at: None,
                token_version: 0,
                limits: Limits::default(),
                created_at: new.now,
                updated_at: new.now,
                deleted_at: None,
            };
            state.users.push(user.clone());
            if let Some(actor) = audit {
                state.audit.push(AuditEvent {
                    id: Uuid::now_v7(),
                    actor_id: actor.user_id,
                    action: "user.create".to_owned(),
                    target_type: "user".to_owned(),
                    target_id: Some(user.id.0),
                    request_id: actor.request_id.clone(),
                    details: None,
                    created_at: new.now,
                });
            }
            Ok(user)
        })
    }

    async fn find(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.with(|state| state.users.iter().find(|user| user.id == id).cloned()))
    }

    async fn find_for_login(&self, identifier: &str) -> Result<Option<User>, StoreError> {
        let lower = identifier.to_lowercase();
        Ok(self.with(|state| {
            state
                .users
                .iter()
                .filter(|user| user.deleted_at.is_none())
                .find(|user| {
                    user.username.to_lowercase() == lower
                        || user.email.as_deref().map(str::to_lowercase) == Some(lower.clone())
                })
                .cloned()
        }))
    }

    async fn record_failed_login(
        &self,
        id: UserId,
        max_failures: i64,
        lock_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.with(|state| {
            let user = user_mut(state, id)?;
            user.failed_login_attempts += 1;
            user.updated_at = now;
            if user.failed_login_attempts >= max_failures && !user.admin_locked() {
                user.is_locked = true;
                user.locked_until = Some(lock_until);
                user.failed_login_attempts = 0;
            }
            Ok(())
        })
    }

    async fn record_login(&self, id: UserId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.with(|state| {
            let user = user_mut(state, id)?;
            user.failed_login_attempts = 0;
            user.last_login_at = Some(now);
            if user.is_locked && user.locked_until.is_some_and(|until| until <= now) {
                user.is_locked = false;
                user.locked_until = None;
            }
            Ok(())
        })
    }

    async fn update_profile(
        &self,
        id: UserId,
        display_name: Option<String>,
        email: Option<Option<String>>,
        now: DateTime<Utc>,
    ) -> Result<User, UserWriteError> {
        self.with(|state| {
            let user = user_mut(state, id)?;
            if let Some(name) = display_name {
                user.display_name = name;
            }
            if let Some(email) = email {
                user.email = email;
            }
            user.updated_at = now;
            Ok(user.clone())
        })
    }

    async fn set_limits(&self, id: UserId, limits: &Limits, now: DateTime<Utc>) -> Result<Option<User>, StoreError> {
        Ok(self.with(|state| {
            let user = state
                .users
                .iter_mut()
                .find(|user| user.id == id && user.deleted_at.is_none())?;
            user.limits = limits.clone();
            user.updated_at = now;
            Some(user.clone())
        }))
    }

    async fn change_password(&self, id: UserId, hash: &str, now: DateTime<Utc>) -> Result<User, StoreError> {
        self.with(|state| {
            revoke_all(state, id, now);
            let user = user_mut(state, id)?;
            user.password_hash = hash.to_owned();
            user.token_version += 1;
            user.updated_at = now;
            Ok(user.clone())
        })
    }

    async fn admin_change(
        &self,
        id: UserId,
        change: &AdminChange,
        _actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<User, UserWriteError> {
        self.with(|state| {
            let ends_sessions = !matches!(
                change,
                AdminChange::Activate | AdminChange::Unlock | AdminChange::Restore
            );
            if ends_sessions {
                revoke_all(state, id, now);
            }
            let user = user_mut(state, id)?;
            match change {
                AdminChange::Activate => user.is_active = true,
                AdminChange::Deactivate => user.is_active = false,
                AdminChange::Lock { reason } => {
                    user.is_locked = true;
                    user.locked_until = None;
                    user.locked_reason = reason.clone();
                }
                AdminChange::Unlock => {
                    user.is_locked = false;
                    user.locked_until = None;
                    user.failed_login_attempts = 0;
                }
                AdminChange::SetRole(role) => user.role = *role,
                AdminChange::SetPassword { hash } => user.password_hash = hash.clone(),
                AdminChange::Delete => user.deleted_at = Some(now),
                AdminChange::Restore => user.deleted_at = None,
            }
            if ends_sessions {
                user.token_version += 1;
            }
            user.updated_at = now;
            Ok(user.clone())
        })
    }

    async fn list(&self, _filter: &UserFilter, page: PageRequest) -> Result<Page<User>, StoreError> {
        let users = self.with(|state| state.users.clone());
        Ok(Page::from_rows(users, page.limit, |user| crate::kernel::page::Cursor {
            created_at: user.created_at,
            id: user.id.0,
        }))
    }

    async fn changed_since(&self, since: DateTime<Utc>) -> Result<Vec<UserId>, StoreError> {
        Ok(self.with(|state| {
            state
                .users
                .iter()
                .filter(|user| user.updated_at >= since)
                .map(|user| user.id)
                .collect()
        }))
    }

    async fn audit_events(&self, page: PageRequest) -> Result<Page<AuditEvent>, StoreError> {
        let events = self.with(|state| state.audit.clone());
        Ok(Page::from_rows(events, page.limit, |event| {
            crate::kernel::page::Cursor {
                created_at: event.created_at,
                id: event.id,
            }
        }))
    }
}

#[async_trait]
impl RefreshTokenRepo for MemoryStore {
    async fn insert(&self, token: &NewRefreshToken) -> Result<(), StoreError> {
        self.with(|state| {
            state.tokens.push(StoredToken {
                user_id: token.user_id,
                family_id: token.family_id,
                hash: token.token_hash.clone(),
                expires_at: token.expires_at,
                used_at: None,
                revoked_at: None,
            });
        });
        Ok(())
    }

    async fn owner(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<UserId>, StoreError> {
        Ok(self.with(|state| {
            let live =
                |token: &&StoredToken| token.hash == hash && token.revoked_at.is_none() && token.expires_at > now;
            state.tokens.iter().find(live).map(|token| token.user_id)
        }))
    }

    async fn rotate(
        &self,
        presented_hash: &str,
        successor_hash: &str,
        successor_expires_at: DateTime<Utc>,
        grace: Duration,
        now: DateTime<Utc>,
    ) -> Result<Rotation, StoreError> {
        Ok(self.with(|state| {
            let Some(presented) = state.tokens.iter_mut().find(|token| token.hash == presented_hash) else {
                return Rotation::Invalid;
            };
            if presented.revoked_at.is_some() || presented.expires_at <= now {
                return Rotation::Invalid;
            }
            let (user_id, family_id) = (presented.user_id, presented.family_id);
            if let Some(used_at) = presented.used_at {
                if now - used_at <= grace {
                    return Rotation::Retried { user_id };
                }
                for token in state.tokens.iter_mut().filter(|token| token.family_id == family_id) {
                    token.revoked_at.get_or_insert(now);
                }
                return Rotation::Reused;
            }
            presented.used_at = Some(now);
            state.tokens.push(StoredToken {
                user_id,
                family_id,
                hash: successor_hash.to_owned(),
                expires_at: successor_expires_at,
                used_at: None,
                revoked_at: None,
            });
            Rotation::Rotated { user_id }
        }))
    }

    async fn revoke_family(&self, hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(self.with(|state| {
            let Some(token) = state.tokens.iter().find(|token| token.hash == hash).cloned() else {
                return false;
            };
            for member in state
                .tokens
                .iter_mut()
                .filter(|member| member.family_id == token.family_id)
            {
                member.revoked_at.get_or_insert(now);
            }
            token.revoked_at.is_none()
        }))
    }
}

#[async_trait]
impl ApiKeyRepo for MemoryStore {
    async fn create(&self, key: &NewApiKey) -> Result<ApiKey, StoreError> {
        let key = ApiKey {
            id: key.id,
            user_id: key.user_id,
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            key_hash: key.key_hash.clone(),
            allowed_models: key.allowed_models.clone(),
            limits: Limits::default(),
            expires_at: key.expires_at,
            revoked_at: None,
            last_used_at: None,
            created_at: key.now,
            updated_at: key.now,
            deleted_at: None,
        };
        self.with(|state| state.keys.push(key.clone()));
        Ok(key)
    }

    async fn list(&self, user_id: UserId, page: PageRequest) -> Result<Page<ApiKey>, StoreError> {
        let keys = self.with(|state| {
            state
                .keys
                .iter()
                .filter(|key| key.user_id == user_id)
                .cloned()
                .collect()
        });
        Ok(Page::from_rows(keys, page.limit, |key: &ApiKey| {
            crate::kernel::page::Cursor {
                created_at: key.created_at,
                id: key.id.0,
            }
        }))
    }

    async fn get(&self, user_id: UserId, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.with(|state| {
            state
                .keys
                .iter()
                .find(|key| key.id == id && key.user_id == user_id)
                .cloned()
        }))
    }

    async fn set_limits(
        &self,
        user_id: UserId,
        id: ApiKeyId,
        limits: &Limits,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.with(|state| {
            let key = state
                .keys
                .iter_mut()
                .find(|key| key.id == id && key.user_id == user_id && key.deleted_at.is_none())?;
            key.limits = limits.clone();
            key.updated_at = now;
            Some(key.clone())
        }))
    }

    async fn revoke(&self, user_id: UserId, id: ApiKeyId, now: DateTime<Utc>) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.with(|state| {
            let key = state
                .keys
                .iter_mut()
                .find(|key| key.id == id && key.user_id == user_id)?;
            key.revoked_at = Some(now);
            key.updated_at = now;
            Some(key.clone())
        }))
    }

    async fn delete(&self, user_id: UserId, id: ApiKeyId, now: DateTime<Utc>) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.with(|state| {
            let key = state
                .keys
                .iter_mut()
                .find(|key| key.id == id && key.user_id == user_id)?;
            key.deleted_at = Some(now);
            key.updated_at = now;
            Some(key.clone())
        }))
    }

    async fn find_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.key_lookups.fetch_add(1, Ordering::SeqCst);
        Ok(self.with(|state| state.keys.iter().find(|key| key.key_hash == hash).cloned()))
    }

    async fn changed_since(&self, since: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        Ok(self.with(|state| {
            state
                .keys
                .iter()
                .filter(|key| key.updated_at >= since)
                .map(|key| key.key_hash.clone())
                .collect()
        }))
    }
}

/// "Hashes" by prefixing, and counts every verification (the bcrypt work a real one would do).
#[derive(Debug, Default)]
pub struct CountingHasher {
    pub verifications: AtomicUsize,
}

#[async_trait]
impl PasswordHasher for CountingHasher {
    async fn hash(&self, password: &Password) -> Result<String, DomainError> {
        Ok(format!("hashed:{}", password.expose()))
    }

    async fn verify(&self, password: &Password, hash: &str) -> Result<bool, DomainError> {
        self.verifications.fetch_add(1, Ordering::SeqCst);
        Ok(hash == format!("hashed:{}", password.expose()))
    }
}

/// Allows `limit` attempts per kind, scope and key; records every key it was asked about.
#[derive(Debug)]
pub struct FixedLimiter {
    pub limit: usize,
    pub seen: Mutex<HashMap<(Attempt, Scope, String), usize>>,
}

impl FixedLimiter {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            seen: Mutex::new(HashMap::new()),
        }
    }

    pub fn count(&self, attempt: Attempt, scope: Scope, key: &str) -> usize {
        let seen = self.seen.lock().expect("the limiter's lock");
        seen.get(&(attempt, scope, key.to_owned())).copied().unwrap_or(0)
    }
}

#[async_trait]
impl AttemptLimiter for FixedLimiter {
    async fn hit(&self, attempt: Attempt, scope: Scope, key: &str) -> Result<(), u64> {
        let mut seen = self.seen.lock().expect("the limiter's lock");
        let count = seen.entry((attempt, scope, key.to_owned())).or_insert(0);
        *count += 1;
        if *count > self.limit { Err(30) } else { Ok(()) }
    }
}
