//! Catalog use cases: suppliers, capabilities and categories (models are in `model_catalog`).
//! Writes are admin only; non-admins see only active, live rows, and never a base URL or key
//! information.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::accounts::Principal;
use crate::capability::{Capability, CapabilityDomain, CapabilityId, CapabilityInput, CapabilitySpec};
use crate::catalog_import::CatalogFileRepo;
use crate::category::{Category, CategoryId, CategoryInput, CategoryNode, CategorySpec, DeleteMode, build_tree};
use crate::crypto::{SecretCipher, SecretSlot};
use crate::error::ConflictKind;
use crate::model_catalog::ModelRepo;
use crate::page::{Page, PageRequest};
use crate::supplier::{KeyChange, Protocol, Supplier, SupplierId, SupplierInput, SupplierSpec, api_key_last4};
use crate::user::Role;
use crate::{Clock, DomainError, StoreError};

/// Filters of the supplier list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SupplierFilter {
    /// Matches the name or display name (case-insensitive substring).
    pub text: Option<String>,
    pub protocol: Option<Protocol>,
    pub category: Option<String>,
    pub active: Option<bool>,
    pub include_deleted: bool,
}

/// The slot a supplier key's ciphertext is bound to.
pub fn upstream_key_slot(key_id: &str) -> SecretSlot<'_> {
    SecretSlot {
        table: "upstream_keys",
        column: "value",
        row_id: key_id,
    }
}

#[async_trait]
pub trait SupplierRepo: Send + Sync + std::fmt::Debug {
    /// `StoreError::Conflict` when a live supplier has the name.
    async fn create(
        &self,
        id: SupplierId,
        spec: &SupplierSpec,
        key: &KeyChange,
        now: DateTime<Utc>,
    ) -> Result<Supplier, StoreError>;
    /// Any supplier, deleted ones included.
    async fn get(&self, id: SupplierId) -> Result<Option<Supplier>, StoreError>;
    async fn list(&self, filter: &SupplierFilter, page: PageRequest) -> Result<Page<Supplier>, StoreError>;
    /// Replaces the writable fields (and the key, as `key` says) of a live supplier.
    async fn update(
        &self,
        id: SupplierId,
        spec: &SupplierSpec,
        key: &KeyChange,
        now: DateTime<Utc>,
    ) -> Result<Supplier, StoreError>;
    /// Soft-deletes (`true`) or restores (`false`); `StoreError::Conflict` when restoring would
    /// duplicate a live name.
    async fn set_deleted(&self, id: SupplierId, deleted: bool, now: DateTime<Utc>) -> Result<Supplier, StoreError>;
    /// The ciphertext of the supplier's key and the row id it is bound to.
    async fn key_ciphertext(&self, id: SupplierId) -> Result<Option<(Uuid, String)>, StoreError>;
}

/// Filters of the capability list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilityFilter {
    pub text: Option<String>,
    pub domain: Option<CapabilityDomain>,
    pub active: Option<bool>,
    pub include_deleted: bool,
}

#[async_trait]
pub trait CapabilityRepo: Send + Sync + std::fmt::Debug {
    /// `StoreError::Conflict` when a live capability has the name.
    async fn create(
        &self,
        id: CapabilityId,
        spec: &CapabilitySpec,
        now: DateTime<Utc>,
    ) -> Result<Capability, StoreError>;
    async fn get(&self, id: CapabilityId) -> Result<Option<Capability>, StoreError>;
    async fn list(&self, filter: &CapabilityFilter, page: PageRequest) -> Result<Page<Capability>, StoreError>;
    /// Replaces the writable fields of a live capability.
    async fn update(
        &self,
        id: CapabilityId,
        spec: &CapabilitySpec,
        now: DateTime<Utc>,
    ) -> Result<Capability, StoreError>;
    /// Soft-deletes (`true`) or restores (`false`).
    async fn set_deleted(&self, id: CapabilityId, deleted: bool, now: DateTime<Utc>) -> Result<Capability, StoreError>;
}

fn capability_error(error: StoreError) -> DomainError {
    match error {
        StoreError::NotFound => DomainError::NotFound { entity: "capability" },
        StoreError::Conflict(_) => DomainError::Conflict {
            kind: ConflictKind::Duplicate,
            message: "a live capability already has this name".to_owned(),
        },
        other => other.into(),
    }
}

/// Why the category store refused a write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CategoryWriteError {
    #[error("the move would make the category its own ancestor")]
    Cycle,
    #[error("the category has live children or models")]
    NotEmpty,
    #[error("the parent is not a live category")]
    ParentMissing,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait CategoryRepo: Send + Sync + std::fmt::Debug {
    /// Creates a category under a live parent; `Store(Conflict)` when a live sibling has the name.
    async fn create(
        &self,
        id: CategoryId,
        spec: &CategorySpec,
        now: DateTime<Utc>,
    ) -> Result<Category, CategoryWriteError>;
    async fn get(&self, id: CategoryId) -> Result<Option<Category>, StoreError>;
    /// Every category (deleted ones only when asked), for the tree.
    async fn all(&self, include_deleted: bool) -> Result<Vec<Category>, StoreError>;
    /// Replaces the writable fields of a live category, refusing a cycle, in one transaction
    /// that holds the tree still while it checks.
    async fn update(
        &self,
        id: CategoryId,
        spec: &CategorySpec,
        now: DateTime<Utc>,
    ) -> Result<Category, CategoryWriteError>;
    /// Soft-deletes a live category; its children and models move to its parent (`Reassign`) or
    /// stop it (`Refuse`).
    async fn delete(
        &self,
        id: CategoryId,
        mode: DeleteMode,
        now: DateTime<Utc>,
    ) -> Result<Category, CategoryWriteError>;
    /// Restores a deleted category whose parent is live.
    async fn restore(&self, id: CategoryId, now: DateTime<Utc>) -> Result<Category, CategoryWriteError>;
}

fn category_error(error: CategoryWriteError) -> DomainError {
    match error {
        CategoryWriteError::Cycle => DomainError::Conflict {
            kind: ConflictKind::CategoryCycle,
            message: "the category cannot be placed under itself or one of its descendants".to_owned(),
        },
        CategoryWriteError::NotEmpty => DomainError::Conflict {
            kind: ConflictKind::CategoryNotEmpty,
            message: "the category has children or models: delete with mode=reassign to move them to its parent"
                .to_owned(),
        },
        CategoryWriteError::ParentMissing => {
            DomainError::validation("parent_id", "no_such_parent", "is not a live category")
        }
        CategoryWriteError::Store(StoreError::NotFound) => DomainError::NotFound { entity: "category" },
        CategoryWriteError::Store(StoreError::Conflict(_)) => DomainError::Conflict {
            kind: ConflictKind::Duplicate,
            message: "a live category under the same parent already has this name".to_owned(),
        },
        CategoryWriteError::Store(other) => other.into(),
    }
}

/// What a write does to the supplier's API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyUpdate {
    Keep,
    Remove,
    Set(String),
}

/// The ports the catalog works through.
#[derive(Debug, Clone)]
pub struct CatalogPorts {
    pub suppliers: Arc<dyn SupplierRepo>,
    pub categories: Arc<dyn CategoryRepo>,
    pub capabilities: Arc<dyn CapabilityRepo>,
    pub models: Arc<dyn ModelRepo>,
    pub files: Arc<dyn CatalogFileRepo>,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    suppliers: Arc<dyn SupplierRepo>,
    categories: Arc<dyn CategoryRepo>,
    capabilities: Arc<dyn CapabilityRepo>,
    pub(crate) models: Arc<dyn ModelRepo>,
    pub(crate) files: Arc<dyn CatalogFileRepo>,
    cipher: SecretCipher,
    pub(crate) clock: Arc<dyn Clock>,
}

/// The catalog's read rule: admins see every row; other users only active, live ones.
pub(crate) fn visible(principal: &Principal, is_active: bool, deleted_at: Option<DateTime<Utc>>) -> bool {
    principal.role == Role::Admin || (is_active && deleted_at.is_none())
}

fn name_taken(error: StoreError) -> DomainError {
    match error {
        StoreError::Conflict(_) => DomainError::Conflict {
            kind: ConflictKind::Duplicate,
            message: "a live supplier already has this name".to_owned(),
        },
        other => other.into(),
    }
}

impl Catalog {
    pub fn new(ports: CatalogPorts, cipher: SecretCipher, clock: Arc<dyn Clock>) -> Self {
        Self {
            suppliers: ports.suppliers,
            categories: ports.categories,
            capabilities: ports.capabilities,
            models: ports.models,
            files: ports.files,
            cipher,
            clock,
        }
    }

    pub async fn create_capability(
        &self,
        principal: &Principal,
        input: CapabilityInput,
    ) -> Result<Capability, DomainError> {
        principal.require_admin()?;
        let spec = CapabilitySpec::parse(input)?;
        self.capabilities
            .create(CapabilityId(Uuid::now_v7()), &spec, self.clock.now())
            .await
            .map_err(capability_error)
    }

    /// A capability the caller may see: admins every one; others only active, live ones.
    pub async fn get_capability(&self, principal: &Principal, id: CapabilityId) -> Result<Capability, DomainError> {
        self.capabilities
            .get(id)
            .await?
            .filter(|capability| visible(principal, capability.spec.is_active, capability.deleted_at))
            .ok_or(DomainError::NotFound { entity: "capability" })
    }

    pub async fn list_capabilities(
        &self,
        principal: &Principal,
        mut filter: CapabilityFilter,
        page: PageRequest,
    ) -> Result<Page<Capability>, DomainError> {
        if principal.role != Role::Admin {
            filter.active = Some(true);
            filter.include_deleted = false;
        }
        Ok(self.capabilities.list(&filter, page).await?)
    }

    pub async fn replace_capability(
        &self,
        principal: &Principal,
        id: CapabilityId,
        input: CapabilityInput,
    ) -> Result<Capability, DomainError> {
        principal.require_admin()?;
        let spec = CapabilitySpec::parse(input)?;
        self.capabilities
            .update(id, &spec, self.clock.now())
            .await
            .map_err(capability_error)
    }

    /// Soft-deletes (`true`) or restores (`false`) a capability.
    pub async fn set_capability_deleted(
        &self,
        principal: &Principal,
        id: CapabilityId,
        deleted: bool,
    ) -> Result<Capability, DomainError> {
        principal.require_admin()?;
        self.capabilities
            .set_deleted(id, deleted, self.clock.now())
            .await
            .map_err(capability_error)
    }

    pub async fn create_category(&self, principal: &Principal, input: CategoryInput) -> Result<Category, DomainError> {
        principal.require_admin()?;
        let spec = CategorySpec::parse(input)?;
        self.categories
            .create(CategoryId(Uuid::now_v7()), &spec, self.clock.now())
            .await
            .map_err(category_error)
    }

    /// A category the caller may see: admins every one; others only active, live ones.
    pub async fn get_category(&self, principal: &Principal, id: CategoryId) -> Result<Category, DomainError> {
        self.categories
            .get(id)
            .await?
            .filter(|category| visible(principal, category.spec.is_active, category.deleted_at))
            .ok_or(DomainError::NotFound { entity: "category" })
    }

    /// The nested tree. Non-admins see active, live nodes whose ancestors are all active too.
    pub async fn category_tree(
        &self,
        principal: &Principal,
        include_deleted: bool,
    ) -> Result<Vec<CategoryNode>, DomainError> {
        let admin = principal.role == Role::Admin;
        let all = self.categories.all(admin && include_deleted).await?;
        let tree = build_tree(all);
        if admin {
            return Ok(tree);
        }
        fn visible(nodes: Vec<CategoryNode>) -> Vec<CategoryNode> {
            nodes
                .into_iter()
                .filter(|node| node.category.spec.is_active && node.category.deleted_at.is_none())
                .map(|node| CategoryNode {
                    children: visible(node.children),
                    category: node.category,
                })
                .collect()
        }
        Ok(visible(tree))
    }

    pub async fn replace_category(
        &self,
        principal: &Principal,
        id: CategoryId,
        input: CategoryInput,
    ) -> Result<Category, DomainError> {
        principal.require_admin()?;
        let spec = CategorySpec::parse(input)?;
        self.categories
            .update(id, &spec, self.clock.now())
            .await
            .map_err(category_error)
    }

    pub async fn delete_category(
        &self,
        principal: &Principal,
        id: CategoryId,
        mode: DeleteMode,
    ) -> Result<Category, DomainError> {
        principal.require_admin()?;
        self.categories
            .delete(id, mode, self.clock.now())
            .await
            .map_err(category_error)
    }

    pub async fn restore_category(&self, principal: &Principal, id: CategoryId) -> Result<Category, DomainError> {
        principal.require_admin()?;
        self.categories
            .restore(id, self.clock.now())
            .await
            .map_err(category_error)
    }

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
        principal: &Principal,
        input: SupplierInput,
        key: KeyUpdate,
    ) -> Result<Supplier, DomainError> {
        principal.require_admin()?;
        let spec = SupplierSpec::parse(input)?;
        let key = self.key_change(key)?;
        let id = SupplierId(Uuid::now_v7());
        self.suppliers
            .create(id, &spec, &key, self.clock.now())
            .await
            .map_err(name_taken)
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
        if principal.role != Role::Admin {
            filter.active = Some(true);
            filter.include_deleted = false;
        }
        Ok(self.suppliers.list(&filter, page).await?)
    }

    /// Replaces the writable fields of a live supplier.
    pub async fn replace_supplier(
        &self,
        principal: &Principal,
        id: SupplierId,
        input: SupplierInput,
        key: KeyUpdate,
    ) -> Result<Supplier, DomainError> {
        principal.require_admin()?;
        let spec = SupplierSpec::parse(input)?;
        let key = self.key_change(key)?;
        self.suppliers
            .update(id, &spec, &key, self.clock.now())
            .await
            .map_err(|error| match error {
                StoreError::NotFound => DomainError::NotFound { entity: "supplier" },
                other => name_taken(other),
            })
    }

    pub async fn delete_supplier(&self, principal: &Principal, id: SupplierId) -> Result<Supplier, DomainError> {
        self.set_deleted(principal, id, true).await
    }

    pub async fn restore_supplier(&self, principal: &Principal, id: SupplierId) -> Result<Supplier, DomainError> {
        self.set_deleted(principal, id, false).await
    }

    async fn set_deleted(&self, principal: &Principal, id: SupplierId, deleted: bool) -> Result<Supplier, DomainError> {
        principal.require_admin()?;
        self.suppliers
            .set_deleted(id, deleted, self.clock.now())
            .await
            .map_err(|error| match error {
                StoreError::NotFound => DomainError::NotFound { entity: "supplier" },
                other => name_taken(other),
            })
    }

    /// The supplier's API key in clear, for calling it (never for a response).
    pub async fn supplier_api_key(&self, id: SupplierId) -> Result<Option<String>, DomainError> {
        let Some((key_id, ciphertext)) = self.suppliers.key_ciphertext(id).await? else {
            return Ok(None);
        };
        self.cipher
            .decrypt(&ciphertext, upstream_key_slot(&key_id.to_string()))
            .map(Some)
            .map_err(|error| DomainError::Internal(format!("the key of supplier {}: {error}", id.0)))
    }
}
