//! Supplier use cases: CRUD with soft delete and restore, and the supplier's API key, which is
//! encrypted before it reaches the store and decrypted only to call the supplier.

use uuid::Uuid;

use crate::catalog::ids::SupplierId;
use crate::catalog::ports::{CatalogWriteError, SupplierFilter, catalog_error};
use crate::catalog::service::{Catalog, visible};
use crate::catalog::supplier::{KeyChange, Supplier, SupplierInput, SupplierPatch, SupplierSpec, api_key_last4};
use crate::kernel::crypto::SecretSlot;
use crate::kernel::error::DomainError;
use crate::kernel::page::{Page, PageRequest};
use crate::kernel::patch::replace;
use crate::kernel::principal::{Admin, Principal};

/// The slot a supplier key's ciphertext is bound to.
pub fn upstream_key_slot(key_id: &str) -> SecretSlot<'_> {
    SecretSlot {
        table: "upstream_keys",
        column: "value",
        row_id: key_id,
    }
}

/// What a write does to the supplier's API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyUpdate {
    Keep,
    Remove,
    Set(String),
}

fn supplier_error(error: CatalogWriteError) -> DomainError {
    catalog_error("supplier", "a live supplier already has this name")(error)
}

impl Catalog {
    fn key_change(&self, update: KeyUpdate) -> Result<KeyChange, DomainError> {
        Ok(match update {
            KeyUpdate::Keep => KeyChange::Keep,
            KeyUpdate::Remove => KeyChange::Remove,
            KeyUpdate::Set(key) => {
                let last4 = api_key_last4(&key)?;
                let key_id = Uuid::now_v7();
                let ciphertext = self
                    .cipher
                    .encrypt(key.trim(), upstream_key_slot(&key_id.to_string()))
                    .map_err(|error| DomainError::Internal(error.to_string()))?;
                KeyChange::Set {
                    key_id,
                    ciphertext,
                    last4,
                }
            }
        })
    }

    pub async fn create_supplier(
        &self,
        _admin: &Admin,
        input: SupplierInput,
        key: KeyUpdate,
    ) -> Result<Supplier, DomainError> {
        let spec = SupplierSpec::parse(input)?;
        let key = self.key_change(key)?;
        self.suppliers
            .create(SupplierId::new(), &spec, &key, self.clock.now())
            .await
            .map_err(supplier_error)
    }

    /// A supplier the caller may see: admins see every one; others only active, live ones.
    pub async fn get_supplier(&self, principal: &Principal, id: SupplierId) -> Result<Supplier, DomainError> {
        let supplier = self.suppliers.get(id).await?;
        supplier
            .filter(|supplier| visible(principal, supplier.spec.is_active, supplier.deleted_at))
            .ok_or(DomainError::NotFound { entity: "supplier" })
    }

    pub async fn list_suppliers(
        &self,
        principal: &Principal,
        mut filter: SupplierFilter,
        page: PageRequest,
    ) -> Result<Page<Supplier>, DomainError> {
        if !principal.is_admin() {
            filter.active = Some(true);
            filter.include_deleted = false;
        }
        Ok(self.suppliers.list(&filter, page).await?)
    }

    /// Replaces the writable fields of a live supplier.
    pub async fn replace_supplier(
        &self,
        _admin: &Admin,
        id: SupplierId,
        input: SupplierInput,
        key: KeyUpdate,
    ) -> Result<Supplier, DomainError> {
        let spec = SupplierSpec::parse(input)?;
        let key = self.key_change(key)?;
        self.suppliers
            .update(id, &replace(spec), &key, self.clock.now())
            .await
            .map_err(supplier_error)
    }

    /// Changes the fields a merge patch names, from the supplier's current fields, in the
    /// store's transaction.
    pub async fn patch_supplier(
        &self,
        _admin: &Admin,
        id: SupplierId,
        patch: SupplierPatch,
        key: KeyUpdate,
    ) -> Result<Supplier, DomainError> {
        let key = self.key_change(key)?;
        self.suppliers
            .update(id, &|current| patch.apply(current), &key, self.clock.now())
            .await
            .map_err(supplier_error)
    }

    /// Soft-deletes (`true`) or restores (`false`) a supplier.
    pub async fn set_supplier_deleted(
        &self,
        _admin: &Admin,
        id: SupplierId,
        deleted: bool,
    ) -> Result<Supplier, DomainError> {
        self.suppliers
            .set_deleted(id, deleted, self.clock.now())
            .await
            .map_err(supplier_error)
    }

    /// The supplier's API key in clear, for calling it (never for a response).
    pub async fn supplier_api_key(&self, _admin: &Admin, id: SupplierId) -> Result<Option<String>, DomainError> {
        let Some((key_id, ciphertext)) = self.suppliers.key_ciphertext(id).await? else {
            return Ok(None);
        };
        self.cipher
            .decrypt(&ciphertext, upstream_key_slot(&key_id.to_string()))
            .map(Some)
            .map_err(|error| DomainError::Internal(format!("the key of supplier {}: {error}", id.0)))
    }
}
