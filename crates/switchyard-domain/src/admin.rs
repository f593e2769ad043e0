//! Admin use cases on users and the audit trail, and every user's own gateway API keys.

use crate::DomainError;
use crate::accounts::{Accounts, Principal};
use crate::api_key::{ApiKey, ApiKeyId, ApiKeySpec};
use crate::audit::{Actor, AuditEvent};
use crate::error::ConflictKind;
use crate::page::{Page, PageRequest};
use crate::password::Password;
use crate::ports::{AdminChange, AdminChangeError, NewApiKey, UserFilter};
use crate::token::generate_api_key;
use crate::user::{User, UserId};

impl Accounts {
    pub async fn list_users(
        &self,
        principal: &Principal,
        filter: &UserFilter,
        page: PageRequest,
    ) -> Result<Page<User>, DomainError> {
        principal.require_admin()?;
        Ok(self.users.list(filter, page).await?)
    }

    /// Any user, deleted ones included (admins see them).
    pub async fn get_user(&self, principal: &Principal, id: UserId) -> Result<User, DomainError> {
        principal.require_admin()?;
        self.users
            .find(id)
            .await?
            .ok_or(DomainError::NotFound { entity: "user" })
    }

    /// Applies an admin change, audited, never leaving the platform without an active admin.
    pub async fn change_user(
        &self,
        principal: &Principal,
        request_id: Option<String>,
        id: UserId,
        change: AdminChange,
    ) -> Result<User, DomainError> {
        principal.require_admin()?;
        let actor = Actor {
            user_id: principal.user_id,
            request_id,
        };
        let user = self
            .users
            .admin_change(id, &change, &actor, self.clock.now())
            .await
            .map_err(|error| match error {
                AdminChangeError::LastAdmin => DomainError::Conflict {
                    kind: ConflictKind::LastAdmin,
                    message: "this is the last active admin: make another admin first".to_owned(),
                },
                AdminChangeError::Store(crate::StoreError::NotFound) => DomainError::NotFound { entity: "user" },
                AdminChangeError::Store(store) => store.into(),
            })?;
        Ok(self.cache.store_user(user).as_ref().clone())
    }

    /// Sets a user's password (checked against the rules); ends their sessions.
    pub async fn reset_password(
        &self,
        principal: &Principal,
        request_id: Option<String>,
        id: UserId,
        new_password: &str,
    ) -> Result<User, DomainError> {
        let target = self.get_user(principal, id).await?;
        let password = Password::parse_new(new_password, &target.username, "password")?;
        let hash = self.hasher.hash(&password).await?;
        self.change_user(principal, request_id, id, AdminChange::SetPassword { hash })
            .await
    }

    pub async fn audit_events(
        &self,
        principal: &Principal,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, DomainError> {
        principal.require_admin()?;
        Ok(self.users.audit_events(page).await?)
    }

    /// Creates a gateway API key for the caller; the secret is returned once and never again.
    pub async fn create_key(&self, principal: &Principal, spec: ApiKeySpec) -> Result<(ApiKey, String), DomainError> {
        let generated = generate_api_key();
        let key = self
            .keys
            .create(&NewApiKey {
                id: ApiKeyId(uuid::Uuid::now_v7()),
                user_id: principal.user_id,
                name: spec.name,
                prefix: generated.prefix.clone(),
                key_hash: generated.hash.clone(),
                allowed_models: spec.allowed_models,
                expires_at: spec.expires_at,
                now: self.clock.now(),
            })
            .await?;
        Ok((key, generated.secret))
    }

    pub async fn list_keys(&self, principal: &Principal, page: PageRequest) -> Result<Page<ApiKey>, DomainError> {
        Ok(self.keys.list(principal.user_id, page).await?)
    }

    pub async fn get_key(&self, principal: &Principal, id: ApiKeyId) -> Result<ApiKey, DomainError> {
        self.keys
            .get(principal.user_id, id)
            .await?
            .ok_or(DomainError::NotFound { entity: "api key" })
    }

    /// Disables the key (it stays listed, revoked).
    pub async fn revoke_key(&self, principal: &Principal, id: ApiKeyId) -> Result<ApiKey, DomainError> {
        let key = self
            .keys
            .revoke(principal.user_id, id, self.clock.now())
            .await?
            .ok_or(DomainError::NotFound { entity: "api key" })?;
        Ok(self.cache.store_key(key).as_ref().clone())
    }

    /// Deletes the key (soft: call logs keep referring to it).
    pub async fn delete_key(&self, principal: &Principal, id: ApiKeyId) -> Result<(), DomainError> {
        let key = self
            .keys
            .delete(principal.user_id, id, self.clock.now())
            .await?
            .ok_or(DomainError::NotFound { entity: "api key" })?;
        self.cache.store_key(key);
        Ok(())
    }
}
