//! The catalog as a file: its format (`format.rs`), the whole-file check that makes an import
//! plan (`plan.rs`), and the snapshot, export and change set of an import (`diff.rs`); here the
//! two use cases, both for admins (or the operator).

pub mod diff;
pub mod format;
pub mod plan;

pub use diff::*;
pub use format::*;
pub use plan::*;

use crate::catalog::service::Catalog;
use crate::kernel::error::StoreError;
use crate::kernel::principal::Admin;

impl Catalog {
    /// The live catalog as a file.
    pub async fn export_file(&self, _admin: &Admin) -> Result<format::CatalogFile, StoreError> {
        Ok(diff::export(&self.files.snapshot().await?))
    }

    /// Checks `file` whole, then imports it in one transaction (all or nothing); `prune`
    /// soft-deletes the suppliers, capabilities, categories and models it does not name.
    pub async fn import_file(
        &self,
        _admin: &Admin,
        file: format::CatalogFile,
        prune: bool,
    ) -> Result<diff::ImportReport, diff::ImportError> {
        let plan = file.plan().map_err(diff::ImportError::Invalid)?;
        self.files.import(&plan, prune, self.clock.now()).await
    }
}
