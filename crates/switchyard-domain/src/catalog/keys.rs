//! Key pool use cases, for admins: the keys of every supplier, each encrypted before it reaches
//! the store (bound to its row), listed with its status, use and health but never its secret.

use uuid::Uuid;

use crate::catalog::ids::SupplierId;
use crate::catalog::ports::{CatalogWriteError, KeyFilter, SealedKey, catalog_error};
use crate::catalog::service::Catalog;
use crate::catalog::supplier::api_key_last4;
use crate::catalog::suppliers::upstream_key_slot;
use crate::catalog::upstream_key::{KeyInput, KeySpec, UpstreamKeyRecord};
use crate::kernel::error::DomainError;
use crate::kernel::page::{Page, PageRequest};
use crate::kernel::principal::Admin;

fn key_error(error: CatalogWriteError) -> DomainError {
    catalog_error("key", "the key conflicts with another")(error)
}

impl Catalog {
    fn seal(&self, id: Uuid, key: &str) -> Result<SealedKey, DomainError> {
        let last4 = api_key_last4(key)?;
        let ciphertext = self
            .cipher
            .encrypt(key.trim(), upstream_key_slot(&id.to_string()))
            .map_err(|error| DomainError::Internal(error.to_string()))?;
        Ok(SealedKey { ciphertext, last4 })
    }

    /// Adds a key to a live supplier's pool.
    pub async fn create_key(
        &self,
        _admin: &Admin,
        supplier: SupplierId,
        input: KeyInput,
        key: &str,
    ) -> Result<UpstreamKeyRecord, DomainError> {
        let spec = KeySpec::parse(input)?;
        let id = Uuid::now_v7();
        let secret = self.seal(id, key)?;
        self.keys
            .create(id, supplier, &spec, &secret, self.clock.now())
            .await
            .map_err(key_error)
    }

    pub async fn get_key(&self, _admin: &Admin, id: Uuid) -> Result<UpstreamKeyRecord, DomainError> {
        self.keys.get(id).await?.ok_or(DomainError::NotFound { entity: "key" })
    }

    pub async fn list_keys(
        &self,
        _admin: &Admin,
        filter: KeyFilter,
        page: PageRequest,
    ) -> Result<Page<UpstreamKeyRecord>, DomainError> {
        Ok(self.keys.list(&filter, page).await?)
    }

    /// Replaces a key's name, weight and status, and its secret when `key` is given.
    pub async fn replace_key(
        &self,
        _admin: &Admin,
        id: Uuid,
        input: KeyInput,
        key: Option<&str>,
    ) -> Result<UpstreamKeyRecord, DomainError> {
        let current = self
            .keys
            .get(id)
            .await?
            .ok_or(DomainError::NotFound { entity: "key" })?;
        let spec = KeySpec::parse_for(input, Some(&current.name))?;
        let secret = key.map(|key| self.seal(id, key)).transpose()?;
        self.keys
            .update(id, &spec, secret.as_ref(), self.clock.now())
            .await
            .map_err(key_error)
    }

    /// Removes a key from its pool (the row stays, emptied, for the call logs).
    pub async fn delete_key(&self, _admin: &Admin, id: Uuid) -> Result<(), DomainError> {
        self.keys.remove(id, self.clock.now()).await.map_err(key_error)
    }
}
