//! The in-memory identity cache: every authenticated request checks its user (token version,
//! active, admin lock, deletion) and its API key here, not in the database. Writes of this
//! instance store the new state at once; other instances' writes arrive through
//! [`IdentityCache::refresh_changed`], run on an interval.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::StoreError;
use crate::api_key::ApiKey;
use crate::ports::{ApiKeyRepo, UserRepo};
use crate::user::{User, UserId};

#[derive(Debug)]
pub struct IdentityCache {
    users_repo: Arc<dyn UserRepo>,
    keys_repo: Arc<dyn ApiKeyRepo>,
    users: RwLock<HashMap<UserId, Arc<User>>>,
    keys: RwLock<HashMap<String, Arc<ApiKey>>>,
}

impl IdentityCache {
    pub fn new(users_repo: Arc<dyn UserRepo>, keys_repo: Arc<dyn ApiKeyRepo>) -> Self {
        Self {
            users_repo,
            keys_repo,
            users: RwLock::new(HashMap::new()),
            keys: RwLock::new(HashMap::new()),
        }
    }

    /// The user, from memory when known (one query the first time).
    pub async fn user(&self, id: UserId) -> Result<Option<Arc<User>>, StoreError> {
        if let Some(user) = read(&self.users).get(&id) {
            return Ok(Some(user.clone()));
        }
        let Some(user) = self.users_repo.find(id).await? else {
            return Ok(None);
        };
        Ok(Some(self.store_user(user)))
    }

    /// Keeps `user` unless the cache already holds a newer state of them (a load that started
    /// before a write must not undo it).
    pub fn store_user(&self, user: User) -> Arc<User> {
        let mut users = write(&self.users);
        match users.get(&user.id) {
            Some(held) if (held.updated_at, held.token_version) > (user.updated_at, user.token_version) => held.clone(),
            _ => {
                let user = Arc::new(user);
                users.insert(user.id, user.clone());
                user
            }
        }
    }

    pub fn forget_user(&self, id: UserId) {
        write(&self.users).remove(&id);
    }

    /// The key with this hash, from memory when known.
    pub async fn key(&self, hash: &str) -> Result<Option<Arc<ApiKey>>, StoreError> {
        if let Some(key) = read(&self.keys).get(hash) {
            return Ok(Some(key.clone()));
        }
        let Some(key) = self.keys_repo.find_by_hash(hash).await? else {
            return Ok(None);
        };
        Ok(Some(self.store_key(key)))
    }

    pub fn store_key(&self, key: ApiKey) -> Arc<ApiKey> {
        let mut keys = write(&self.keys);
        match keys.get(&key.key_hash) {
            Some(held) if held.updated_at > key.updated_at => held.clone(),
            _ => {
                let key = Arc::new(key);
                keys.insert(key.key_hash.clone(), key.clone());
                key
            }
        }
    }

    /// Forgets users and keys changed (by any instance) at or after `since`.
    pub async fn refresh_changed(&self, since: DateTime<Utc>) -> Result<usize, StoreError> {
        let users = self.users_repo.changed_since(since).await?;
        let keys = self.keys_repo.changed_since(since).await?;
        {
            let mut held = write(&self.users);
            for id in &users {
                held.remove(id);
            }
        }
        {
            let mut held = write(&self.keys);
            for hash in &keys {
                held.remove(hash);
            }
        }
        Ok(users.len() + keys.len())
    }
}

// A poisoned lock only means another thread panicked mid-update of a cache; the map is still
// a valid map, so keep using it.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}
