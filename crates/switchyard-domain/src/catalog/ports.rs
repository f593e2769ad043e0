//! The storage ports of the catalog: suppliers, capabilities, categories, models (with their
//! parameters, routes and links) and the catalog file. A write that checks state first (a
//! cycle, the default model, a live supplier) or changes a row from its current fields (a
//! merge patch) is one method that owns its transaction and locks what it reads.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::catalog::capability::{Capability, CapabilityDomain, CapabilitySpec};
use crate::catalog::category::{Category, CategorySpec, DeleteMode};
use crate::catalog::file::diff::{CatalogSnapshot, ImportError, ImportReport};
use crate::catalog::file::plan::ImportPlan;
use crate::catalog::ids::{CapabilityId, CategoryId, ModelId, ParameterId, RouteId, SupplierId};
use crate::catalog::model::{Model, ModelDetail, ModelSpec, ModelType, Route, RouteSpec};
use crate::catalog::parameter::{Parameter, ParameterSpec};
use crate::catalog::supplier::{KeyChange, Protocol, Supplier, SupplierSpec};
use crate::catalog::upstream_key::{KeySpec, KeyStatus, UpstreamKeyRecord};
use crate::kernel::error::{DomainError, StoreError};
use crate::kernel::page::{Page, PageRequest};
use crate::kernel::patch::Revise;

/// Why the catalog store refused a write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogWriteError {
    /// The named field's supplier is not a live supplier.
    #[error("{field} is not a live supplier")]
    SupplierMissing { field: &'static str },
    #[error("the model is the default of its type")]
    DefaultInUse,
    #[error("the model is inactive or deleted")]
    ModelInactive,
    #[error("the primary route follows the model")]
    PrimaryRoute,
    #[error("the move would make the category its own ancestor")]
    Cycle,
    #[error("the category has live children or models")]
    NotEmpty,
    #[error("the parent is not a live category")]
    ParentMissing,
    /// The named object does not exist (or is deleted).
    #[error("{0} not found")]
    Missing(&'static str),
    /// The domain refused the revised fields (a merge patch that breaks a rule).
    #[error(transparent)]
    Rejected(DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

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

#[async_trait]
pub trait SupplierRepo: Send + Sync + std::fmt::Debug {
    /// `Store(Conflict)` when a live supplier has the name.
    async fn create(
        &self,
        id: SupplierId,
        spec: &SupplierSpec,
        key: &KeyChange,
        now: DateTime<Utc>,
    ) -> Result<Supplier, CatalogWriteError>;
    /// Any supplier, deleted ones included.
    async fn get(&self, id: SupplierId) -> Result<Option<Supplier>, StoreError>;
    async fn list(&self, filter: &SupplierFilter, page: PageRequest) -> Result<Page<Supplier>, StoreError>;
    /// Revises the writable fields of a live supplier (and its key, as `key` says).
    async fn update(
        &self,
        id: SupplierId,
        revise: Revise<'_, SupplierSpec>,
        key: &KeyChange,
        now: DateTime<Utc>,
    ) -> Result<Supplier, CatalogWriteError>;
    /// Soft-deletes (`true`) or restores (`false`); `Store(Conflict)` when restoring would
    /// duplicate a live name.
    async fn set_deleted(
        &self,
        id: SupplierId,
        deleted: bool,
        now: DateTime<Utc>,
    ) -> Result<Supplier, CatalogWriteError>;
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
    /// `Store(Conflict)` when a live capability has the name.
    async fn create(
        &self,
        id: CapabilityId,
        spec: &CapabilitySpec,
        now: DateTime<Utc>,
    ) -> Result<Capability, CatalogWriteError>;
    async fn get(&self, id: CapabilityId) -> Result<Option<Capability>, StoreError>;
    async fn list(&self, filter: &CapabilityFilter, page: PageRequest) -> Result<Page<Capability>, StoreError>;
    /// Revises the writable fields of a live capability.
    async fn update(
        &self,
        id: CapabilityId,
        revise: Revise<'_, CapabilitySpec>,
        now: DateTime<Utc>,
    ) -> Result<Capability, CatalogWriteError>;
    /// Soft-deletes (`true`) or restores (`false`).
    async fn set_deleted(
        &self,
        id: CapabilityId,
        deleted: bool,
        now: DateTime<Utc>,
    ) -> Result<Capability, CatalogWriteError>;
}

#[async_trait]
pub trait CategoryRepo: Send + Sync + std::fmt::Debug {
    /// Creates a category under a live parent; `Store(Conflict)` when a live sibling has the name.
    async fn create(
        &self,
        id: CategoryId,
        spec: &CategorySpec,
        now: DateTime<Utc>,
    ) -> Result<Category, CatalogWriteError>;
    async fn get(&self, id: CategoryId) -> Result<Option<Category>, StoreError>;
    /// Every category (deleted ones only when asked), for the tree.
    async fn all(&self, include_deleted: bool) -> Result<Vec<Category>, StoreError>;
    /// Revises the writable fields of a live category, refusing a cycle, in one transaction
    /// that holds the tree still while it checks.
    async fn update(
        &self,
        id: CategoryId,
        revise: Revise<'_, CategorySpec>,
        now: DateTime<Utc>,
    ) -> Result<Category, CatalogWriteError>;
    /// Soft-deletes a live category; its children and models move to its parent (`Reassign`) or
    /// stop it (`Refuse`).
    async fn delete(&self, id: CategoryId, mode: DeleteMode, now: DateTime<Utc>)
    -> Result<Category, CatalogWriteError>;
    /// Restores a deleted category whose parent is live.
    async fn restore(&self, id: CategoryId, now: DateTime<Utc>) -> Result<Category, CatalogWriteError>;
}

/// Filters of the model list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelFilter {
    /// Matches the name or display name (case-insensitive substring).
    pub text: Option<String>,
    /// A supplier's name: models it supplies (primary supplier or another route).
    pub supplier: Option<String>,
    pub model_type: Option<ModelType>,
    /// A capability's name: models linked to it.
    pub capability: Option<String>,
    /// A category's name: models linked to a category of that name.
    pub category: Option<String>,
    pub active: Option<bool>,
    pub include_deleted: bool,
}

#[async_trait]
pub trait ModelRepo: Send + Sync + std::fmt::Debug {
    /// Creates a model and its primary route in one transaction.
    async fn create(
        &self,
        id: ModelId,
        primary_route: RouteId,
        spec: &ModelSpec,
        now: DateTime<Utc>,
    ) -> Result<Model, CatalogWriteError>;
    /// Any model, deleted ones included.
    async fn get(&self, id: ModelId) -> Result<Option<Model>, StoreError>;
    /// The model with its parameters, capabilities, categories and routes, in a fixed number
    /// of queries.
    async fn detail(&self, id: ModelId) -> Result<Option<ModelDetail>, StoreError>;
    async fn list(&self, filter: &ModelFilter, page: PageRequest) -> Result<Page<Model>, StoreError>;
    /// Revises a live model's writable fields under a lock; its primary route follows.
    /// Refuses to deactivate the default of its type or change its type.
    async fn update(
        &self,
        id: ModelId,
        revise: Revise<'_, ModelSpec>,
        now: DateTime<Utc>,
    ) -> Result<Model, CatalogWriteError>;
    /// Soft-deletes (`true`, refused for the default of its type) or restores (`false`).
    async fn set_deleted(&self, id: ModelId, deleted: bool, now: DateTime<Utc>) -> Result<Model, CatalogWriteError>;
    /// Makes an active, live model the default of its type, in one atomic switch.
    async fn set_default(&self, id: ModelId, now: DateTime<Utc>) -> Result<Model, CatalogWriteError>;
    /// The default model of each type that has one.
    async fn defaults(&self) -> Result<Vec<Model>, StoreError>;

    async fn create_parameter(
        &self,
        model: ModelId,
        id: ParameterId,
        spec: &ParameterSpec,
        now: DateTime<Utc>,
    ) -> Result<Parameter, CatalogWriteError>;
    async fn update_parameter(
        &self,
        model: ModelId,
        id: ParameterId,
        spec: &ParameterSpec,
        now: DateTime<Utc>,
    ) -> Result<Parameter, CatalogWriteError>;
    async fn delete_parameter(&self, model: ModelId, id: ParameterId) -> Result<(), CatalogWriteError>;

    async fn create_route(
        &self,
        model: ModelId,
        id: RouteId,
        spec: &RouteSpec,
        now: DateTime<Utc>,
    ) -> Result<Route, CatalogWriteError>;
    /// Changes a secondary route (the primary one follows the model).
    async fn update_route(
        &self,
        model: ModelId,
        id: RouteId,
        spec: &RouteSpec,
        now: DateTime<Utc>,
    ) -> Result<Route, CatalogWriteError>;
    async fn delete_route(&self, model: ModelId, id: RouteId) -> Result<(), CatalogWriteError>;

    /// Links (or re-configures the link of) a live model and a live capability.
    async fn link_capability(
        &self,
        model: ModelId,
        capability: CapabilityId,
        config: Option<&Value>,
        is_default: bool,
        now: DateTime<Utc>,
    ) -> Result<(), CatalogWriteError>;
    /// False when there was no such link.
    async fn unlink_capability(&self, model: ModelId, capability: CapabilityId) -> Result<bool, StoreError>;
    async fn link_category(
        &self,
        model: ModelId,
        category: CategoryId,
        now: DateTime<Utc>,
    ) -> Result<(), CatalogWriteError>;
    async fn unlink_category(&self, model: ModelId, category: CategoryId) -> Result<bool, StoreError>;
}

/// Filters of the key list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFilter {
    pub supplier: Option<SupplierId>,
    pub status: Option<KeyStatus>,
    /// Removed keys are listed only when asked.
    pub include_removed: bool,
}

/// A new key's secret: the ciphertext bound to its row and its last four characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedKey {
    pub ciphertext: String,
    pub last4: String,
}

/// The suppliers' upstream key pools.
#[async_trait]
pub trait UpstreamKeyRepo: Send + Sync + std::fmt::Debug {
    /// `SupplierMissing` when the supplier is not live.
    async fn create(
        &self,
        id: Uuid,
        supplier: SupplierId,
        spec: &KeySpec,
        secret: &SealedKey,
        now: DateTime<Utc>,
    ) -> Result<UpstreamKeyRecord, CatalogWriteError>;
    /// Any key, removed ones included.
    async fn get(&self, id: Uuid) -> Result<Option<UpstreamKeyRecord>, StoreError>;
    async fn list(&self, filter: &KeyFilter, page: PageRequest) -> Result<Page<UpstreamKeyRecord>, StoreError>;
    /// Replaces a key's writable fields (and its secret when `secret` is given); setting it
    /// `active` clears an `error` and its reason. `Missing` for a removed key.
    async fn update(
        &self,
        id: Uuid,
        spec: &KeySpec,
        secret: Option<&SealedKey>,
        now: DateTime<Utc>,
    ) -> Result<UpstreamKeyRecord, CatalogWriteError>;
    /// Empties the key and marks it removed. `Missing` when it is already.
    async fn remove(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), CatalogWriteError>;
}

#[async_trait]
pub trait CatalogFileRepo: Send + Sync + std::fmt::Debug {
    async fn snapshot(&self) -> Result<CatalogSnapshot, StoreError>;
    /// In one transaction: reads the live catalog, computes the changes with
    /// [`crate::catalog::file::diff::diff`] and applies them; nothing is written when it refuses.
    async fn import(&self, plan: &ImportPlan, prune: bool, now: DateTime<Utc>) -> Result<ImportReport, ImportError>;
}

/// The domain's words for a refused catalog write: `entity` names what was not found,
/// `duplicate` says what a uniqueness conflict means for this kind of row.
pub(crate) fn catalog_error(
    entity: &'static str,
    duplicate: &'static str,
) -> impl Fn(CatalogWriteError) -> DomainError {
    use crate::kernel::error::ConflictKind;
    move |error| match error {
        CatalogWriteError::SupplierMissing { field } => {
            DomainError::validation(field, "no_such_supplier", "is not a live supplier")
        }
        CatalogWriteError::DefaultInUse => DomainError::Conflict {
            kind: ConflictKind::DefaultModelInUse,
            message: "the model is the default of its type: set another default first".to_owned(),
        },
        CatalogWriteError::ModelInactive => {
            DomainError::validation("model_id", "model_inactive", "must be an active, live model")
        }
        CatalogWriteError::PrimaryRoute => DomainError::Conflict {
            kind: ConflictKind::Duplicate,
            message: "the primary route follows the model: change the model's supplier or upstream_name instead"
                .to_owned(),
        },
        CatalogWriteError::Cycle => DomainError::Conflict {
            kind: ConflictKind::CategoryCycle,
            message: "the category cannot be placed under itself or one of its descendants".to_owned(),
        },
        CatalogWriteError::NotEmpty => DomainError::Conflict {
            kind: ConflictKind::CategoryNotEmpty,
            message: "the category has children or models: delete with mode=reassign to move them to its parent"
                .to_owned(),
        },
        CatalogWriteError::ParentMissing => {
            DomainError::validation("parent_id", "no_such_parent", "is not a live category")
        }
        CatalogWriteError::Missing(entity) => DomainError::NotFound { entity },
        CatalogWriteError::Rejected(error) => error,
        CatalogWriteError::Store(StoreError::NotFound) => DomainError::NotFound { entity },
        CatalogWriteError::Store(StoreError::Conflict(_)) => DomainError::Conflict {
            kind: ConflictKind::Duplicate,
            message: duplicate.to_owned(),
        },
        CatalogWriteError::Store(other) => other.into(),
    }
}
