//! The in-memory identity cache: every authenticated request checks its user (token version,
//! active, admin lock, deletion) and its API key here, not in the database. Key hashes that
//! matched no key are remembered for a short while too, so a flood of made-up keys costs no
//! query each. Every map is bounded (`moka`). Writes of this instance store the new state at
//! once; other instances' writes arrive through [`IdentityCache::refresh_changed`], run on an
//! interval.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use moka::ops::compute::{CompResult, Op};
use moka::sync::Cache;

use crate::accounts::api_key::ApiKey;
use crate::accounts::ports::{ApiKeyRepo, UserRepo};
use crate::accounts::user::User;
use crate::kernel::error::StoreError;
use crate::kernel::ids::UserId;
use crate::kernel::ports::Clock;

/// How much the cache holds and how long an unknown key hash is believed unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// The most users, and the most API keys, held (each).
    pub capacity: u64,
    pub unknown_key_ttl: Duration,
    /// The most unknown key hashes held.
    pub unknown_key_capacity: u64,
}

impl Default for CacheLimits {
    fn default() -> Self {
        Self {
            capacity: 100_000,
            unknown_key_ttl: Duration::seconds(30),
            unknown_key_capacity: 100_000,
        }
    }
}

/// How many entries each map holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheSizes {
    pub users: u64,
    pub keys: u64,
    pub unknown_keys: u64,
}

pub struct IdentityCache {
    users_repo: Arc<dyn UserRepo>,
    keys_repo: Arc<dyn ApiKeyRepo>,
    clock: Arc<dyn Clock>,
    limits: CacheLimits,
    users: Cache<UserId, Arc<User>>,
    keys: Cache<String, Arc<ApiKey>>,
    /// Key hashes that matched nothing, with when that answer stops being believed. The expiry
    /// is read from the domain's clock, so tests can let it pass.
    unknown_keys: Cache<String, DateTime<Utc>>,
}

impl std::fmt::Debug for IdentityCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityCache")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl IdentityCache {
    pub fn new(
        users_repo: Arc<dyn UserRepo>,
        keys_repo: Arc<dyn ApiKeyRepo>,
        clock: Arc<dyn Clock>,
        limits: CacheLimits,
    ) -> Self {
        Self {
            users_repo,
            keys_repo,
            clock,
            limits,
            users: Cache::new(limits.capacity),
            keys: Cache::new(limits.capacity),
            unknown_keys: Cache::new(limits.unknown_key_capacity),
        }
    }

    /// The user, from memory when known (one query the first time).
    pub async fn user(&self, id: UserId) -> Result<Option<Arc<User>>, StoreError> {
        if let Some(user) = self.users.get(&id) {
            return Ok(Some(user));
        }
        let Some(user) = self.users_repo.find(id).await? else {
            return Ok(None);
        };
        Ok(Some(self.store_user(user)))
    }

    /// Keeps `user` unless the cache already holds a newer state of them (a load that started
    /// before a write must not undo it); returns the state kept.
    pub fn store_user(&self, user: User) -> Arc<User> {
        let user = Arc::new(user);
        let version = |user: &User| (user.updated_at, user.token_version);
        kept(self.users.entry(user.id).and_compute_with(|held| match held {
            Some(held) if version(held.value()) > version(&user) => Op::Nop,
            _ => Op::Put(user.clone()),
        }))
        .unwrap_or(user)
    }

    pub fn forget_user(&self, id: UserId) {
        self.users.invalidate(&id);
    }

    /// The key with this hash: from memory when known, `None` from memory when the hash matched
    /// nothing a moment ago, otherwise one query.
    pub async fn key(&self, hash: &str) -> Result<Option<Arc<ApiKey>>, StoreError> {
        if let Some(key) = self.keys.get(hash) {
            return Ok(Some(key));
        }
        let now = self.clock.now();
        if self.unknown_keys.get(hash).is_some_and(|until| until > now) {
            return Ok(None);
        }
        match self.keys_repo.find_by_hash(hash).await? {
            Some(key) => Ok(Some(self.store_key(key))),
            None => {
                self.unknown_keys
                    .insert(hash.to_owned(), now + self.limits.unknown_key_ttl);
                Ok(None)
            }
        }
    }

    /// Keeps `key` unless a newer state is held; the hash is no longer unknown.
    pub fn store_key(&self, key: ApiKey) -> Arc<ApiKey> {
        let key = Arc::new(key);
        self.unknown_keys.invalidate(&key.key_hash);
        kept(
            self.keys
                .entry(key.key_hash.clone())
                .and_compute_with(|held| match held {
                    Some(held) if held.value().updated_at > key.updated_at => Op::Nop,
                    _ => Op::Put(key.clone()),
                }),
        )
        .unwrap_or(key)
    }

    /// Forgets users and keys changed (by any instance) at or after `since`; a key created
    /// elsewhere stops being unknown here.
    pub async fn refresh_changed(&self, since: DateTime<Utc>) -> Result<usize, StoreError> {
        let users = self.users_repo.changed_since(since).await?;
        let keys = self.keys_repo.changed_since(since).await?;
        for id in &users {
            self.users.invalidate(id);
        }
        for hash in &keys {
            self.keys.invalidate(hash);
            self.unknown_keys.invalidate(hash);
        }
        Ok(users.len() + keys.len())
    }

    /// The entries held now (for metrics).
    pub fn sizes(&self) -> CacheSizes {
        self.users.run_pending_tasks();
        self.keys.run_pending_tasks();
        self.unknown_keys.run_pending_tasks();
        CacheSizes {
            users: self.users.entry_count(),
            keys: self.keys.entry_count(),
            unknown_keys: self.unknown_keys.entry_count(),
        }
    }
}

/// The value a compute left in the cache.
fn kept<K, V>(result: CompResult<K, V>) -> Option<V> {
    match result {
        CompResult::Inserted(entry) | CompResult::ReplacedWith(entry) | CompResult::Unchanged(entry) => {
            Some(entry.into_value())
        }
        CompResult::StillNone(_) | CompResult::Removed(_) => None,
    }
}
