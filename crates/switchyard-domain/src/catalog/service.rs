//! The catalog's use cases share one service over its ports; its read rule is here. Writes are
//! admin only (they take the proof of admin rights); other users see only active, live rows,
//! and never a base URL or key information. The use cases of each kind are in `suppliers.rs`,
//! `taxonomy.rs` (capabilities and categories), `models.rs` and `file/`.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::catalog::ports::{CapabilityRepo, CatalogFileRepo, CategoryRepo, ModelRepo, SupplierRepo, UpstreamKeyRepo};
use crate::kernel::crypto::SecretCipher;
use crate::kernel::ports::Clock;
use crate::kernel::principal::Principal;

/// The ports the catalog works through.
#[derive(Debug, Clone)]
pub struct CatalogPorts {
    pub suppliers: Arc<dyn SupplierRepo>,
    pub categories: Arc<dyn CategoryRepo>,
    pub capabilities: Arc<dyn CapabilityRepo>,
    pub models: Arc<dyn ModelRepo>,
    pub keys: Arc<dyn UpstreamKeyRepo>,
    pub files: Arc<dyn CatalogFileRepo>,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub(super) suppliers: Arc<dyn SupplierRepo>,
    pub(super) categories: Arc<dyn CategoryRepo>,
    pub(super) capabilities: Arc<dyn CapabilityRepo>,
    pub(super) models: Arc<dyn ModelRepo>,
    pub(super) keys: Arc<dyn UpstreamKeyRepo>,
    pub(super) files: Arc<dyn CatalogFileRepo>,
    pub(super) cipher: SecretCipher,
    pub(super) clock: Arc<dyn Clock>,
}

impl Catalog {
    pub fn new(ports: CatalogPorts, cipher: SecretCipher, clock: Arc<dyn Clock>) -> Self {
        Self {
            suppliers: ports.suppliers,
            categories: ports.categories,
            capabilities: ports.capabilities,
            models: ports.models,
            keys: ports.keys,
            files: ports.files,
            cipher,
            clock,
        }
    }
}

/// The catalog's read rule: admins see every row; other users only active, live ones.
pub(super) fn visible(principal: &Principal, is_active: bool, deleted_at: Option<DateTime<Utc>>) -> bool {
    principal.is_admin() || (is_active && deleted_at.is_none())
}
