//! Every user's own gateway API keys: created with a secret shown once, listed, revoked and
//! deleted. A user never sees or touches another user's keys.

use crate::accounts::api_key::{ApiKey, ApiKeyId, ApiKeySpec};
use crate::accounts::limits::{Limits, LimitsInput};
use crate::accounts::ports::NewApiKey;
use crate::accounts::service::Accounts;
use crate::accounts::token::generate_api_key;
use crate::kernel::error::DomainError;
use crate::kernel::page::{Page, PageRequest};
use crate::kernel::principal::Principal;

impl Accounts {
    /// Creates a gateway API key for the caller; the secret is returned once and never again.
    /// The key is usable on this instance at once (the cache holds it).
    pub async fn create_key(&self, principal: &Principal, spec: ApiKeySpec) -> Result<(ApiKey, String), DomainError> {
        let generated = generate_api_key();
        let key = self
            .keys
            .create(&NewApiKey {
                id: ApiKeyId::new(),
                user_id: principal.user_id(),
                name: spec.name,
                prefix: generated.prefix.clone(),
                key_hash: generated.hash.clone(),
                allowed_models: spec.allowed_models,
                expires_at: spec.expires_at,
                now: self.clock.now(),
            })
            .await?;
        Ok((self.cache.store_key(key).as_ref().clone(), generated.secret))
    }

    pub async fn list_keys(&self, principal: &Principal, page: PageRequest) -> Result<Page<ApiKey>, DomainError> {
        Ok(self.keys.list(principal.user_id(), page).await?)
    }

    pub async fn get_key(&self, principal: &Principal, id: ApiKeyId) -> Result<ApiKey, DomainError> {
        self.keys
            .get(principal.user_id(), id)
            .await?
            .ok_or(DomainError::NotFound { entity: "api key" })
    }

    /// Replaces the key's rate limits and budget, each within its user's (set by an admin).
    pub async fn set_key_limits(
        &self,
        principal: &Principal,
        id: ApiKeyId,
        input: LimitsInput,
    ) -> Result<ApiKey, DomainError> {
        let user = self
            .cache
            .user(principal.user_id())
            .await?
            .ok_or(DomainError::NotFound { entity: "user" })?;
        let limits = Limits::for_key(input, &user.limits)?;
        let key = self
            .keys
            .set_limits(principal.user_id(), id, &limits, self.clock.now())
            .await?
            .ok_or(DomainError::NotFound { entity: "api key" })?;
        Ok(self.cache.store_key(key).as_ref().clone())
    }

    /// Disables the key (it stays listed, revoked).
    pub async fn revoke_key(&self, principal: &Principal, id: ApiKeyId) -> Result<ApiKey, DomainError> {
        let key = self
            .keys
            .revoke(principal.user_id(), id, self.clock.now())
            .await?
            .ok_or(DomainError::NotFound { entity: "api key" })?;
        Ok(self.cache.store_key(key).as_ref().clone())
    }

    /// Deletes the key (soft: call logs keep referring to it).
    pub async fn delete_key(&self, principal: &Principal, id: ApiKeyId) -> Result<(), DomainError> {
        let key = self
            .keys
            .delete(principal.user_id(), id, self.clock.now())
            .await?
            .ok_or(DomainError::NotFound { entity: "api key" })?;
        self.cache.store_key(key);
        Ok(())
    }
}
