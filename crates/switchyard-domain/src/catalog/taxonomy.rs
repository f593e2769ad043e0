//! Capability and category use cases: what models can do and the tree they are sorted into,
//! with soft delete and restore, and the read rule for users who are not admins.

use crate::catalog::capability::{Capability, CapabilityInput, CapabilityPatch, CapabilitySpec};
use crate::catalog::category::{
    Category, CategoryInput, CategoryNode, CategoryPatch, CategorySpec, DeleteMode, build_tree,
};
use crate::catalog::ids::{CapabilityId, CategoryId};
use crate::catalog::ports::{CapabilityFilter, CatalogWriteError, catalog_error};
use crate::catalog::service::{Catalog, visible};
use crate::kernel::error::DomainError;
use crate::kernel::page::{Page, PageRequest};
use crate::kernel::patch::replace;
use crate::kernel::principal::{Admin, Principal};

fn capability_error(error: CatalogWriteError) -> DomainError {
    catalog_error("capability", "a live capability already has this name")(error)
}

fn category_error(error: CatalogWriteError) -> DomainError {
    catalog_error(
        "category",
        "a live category under the same parent already has this name",
    )(error)
}

impl Catalog {
    pub async fn create_capability(&self, _admin: &Admin, input: CapabilityInput) -> Result<Capability, DomainError> {
        let spec = CapabilitySpec::parse(input)?;
        self.capabilities
            .create(CapabilityId::new(), &spec, self.clock.now())
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
        if !principal.is_admin() {
            filter.active = Some(true);
            filter.include_deleted = false;
        }
        Ok(self.capabilities.list(&filter, page).await?)
    }

    pub async fn replace_capability(
        &self,
        _admin: &Admin,
        id: CapabilityId,
        input: CapabilityInput,
    ) -> Result<Capability, DomainError> {
        let spec = CapabilitySpec::parse(input)?;
        self.capabilities
            .update(id, &replace(spec), self.clock.now())
            .await
            .map_err(capability_error)
    }

    pub async fn patch_capability(
        &self,
        _admin: &Admin,
        id: CapabilityId,
        patch: CapabilityPatch,
    ) -> Result<Capability, DomainError> {
        self.capabilities
            .update(id, &|current| patch.apply(current), self.clock.now())
            .await
            .map_err(capability_error)
    }

    /// Soft-deletes (`true`) or restores (`false`) a capability.
    pub async fn set_capability_deleted(
        &self,
        _admin: &Admin,
        id: CapabilityId,
        deleted: bool,
    ) -> Result<Capability, DomainError> {
        self.capabilities
            .set_deleted(id, deleted, self.clock.now())
            .await
            .map_err(capability_error)
    }

    pub async fn create_category(&self, _admin: &Admin, input: CategoryInput) -> Result<Category, DomainError> {
        let spec = CategorySpec::parse(input)?;
        self.categories
            .create(CategoryId::new(), &spec, self.clock.now())
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
        let admin = principal.is_admin();
        let all = self.categories.all(admin && include_deleted).await?;
        let tree = build_tree(all);
        if admin {
            return Ok(tree);
        }
        fn visible_nodes(nodes: Vec<CategoryNode>) -> Vec<CategoryNode> {
            nodes
                .into_iter()
                .filter(|node| node.category.spec.is_active && node.category.deleted_at.is_none())
                .map(|node| CategoryNode {
                    children: visible_nodes(node.children),
                    category: node.category,
                })
                .collect()
        }
        Ok(visible_nodes(tree))
    }

    pub async fn replace_category(
        &self,
        _admin: &Admin,
        id: CategoryId,
        input: CategoryInput,
    ) -> Result<Category, DomainError> {
        let spec = CategorySpec::parse(input)?;
        self.categories
            .update(id, &replace(spec), self.clock.now())
            .await
            .map_err(category_error)
    }

    pub async fn patch_category(
        &self,
        _admin: &Admin,
        id: CategoryId,
        patch: CategoryPatch,
    ) -> Result<Category, DomainError> {
        self.categories
            .update(id, &|current| patch.apply(current), self.clock.now())
            .await
            .map_err(category_error)
    }

    pub async fn delete_category(
        &self,
        _admin: &Admin,
        id: CategoryId,
        mode: DeleteMode,
    ) -> Result<Category, DomainError> {
        self.categories
            .delete(id, mode, self.clock.now())
            .await
            .map_err(category_error)
    }

    pub async fn restore_category(&self, _admin: &Admin, id: CategoryId) -> Result<Category, DomainError> {
        self.categories
            .restore(id, self.clock.now())
            .await
            .map_err(category_error)
    }
}
