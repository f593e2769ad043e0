//! Model use cases: models, their parameters and routes, their links to capabilities and
//! categories, and the default model of each type. Writes take the proof of admin rights;
//! reads show other users only active, live models with their active, live links.

use serde_json::Value;

use crate::catalog::ids::{CapabilityId, CategoryId, ModelId, ParameterId, RouteId};
use crate::catalog::model::{
    Model, ModelDetail, ModelInput, ModelPatch, ModelSpec, Route, RouteInput, RouteSpec, check_config,
};
use crate::catalog::parameter::{Parameter, ParameterInput, ParameterSpec};
use crate::catalog::ports::{CatalogWriteError, ModelFilter, catalog_error};
use crate::catalog::service::{Catalog, visible};
use crate::kernel::error::{DomainError, StoreError};
use crate::kernel::page::{Page, PageRequest};
use crate::kernel::patch::replace;
use crate::kernel::principal::{Admin, Principal};

fn model_error(error: CatalogWriteError) -> DomainError {
    catalog_error(
        "model",
        "a live object with this name (or route to this supplier and upstream name) already exists",
    )(error)
}

/// A missing link is a 404, like any other missing object.
fn unlinked(found: bool) -> Result<(), DomainError> {
    found
        .then_some(())
        .ok_or(DomainError::NotFound { entity: "association" })
}

impl Catalog {
    pub async fn create_model(&self, _admin: &Admin, input: ModelInput) -> Result<Model, DomainError> {
        let spec = ModelSpec::parse(input)?;
        self.models
            .create(ModelId::new(), RouteId::new(), &spec, self.clock.now())
            .await
            .map_err(model_error)
    }

    /// A model with everything linked to it. Admins see everything; other users see an active,
    /// live model with its active, live capabilities and categories and its active routes.
    pub async fn get_model(&self, principal: &Principal, id: ModelId) -> Result<ModelDetail, DomainError> {
        let mut detail = self
            .models
            .detail(id)
            .await?
            .filter(|detail| visible(principal, detail.model.spec.is_active, detail.model.deleted_at))
            .ok_or(DomainError::NotFound { entity: "model" })?;
        if !principal.is_admin() {
            detail
                .capabilities
                .retain(|linked| linked.capability.spec.is_active && linked.capability.deleted_at.is_none());
            detail
                .categories
                .retain(|category| category.spec.is_active && category.deleted_at.is_none());
            detail.routes.retain(|route| route.spec.is_active);
        }
        Ok(detail)
    }

    pub async fn list_models(
        &self,
        principal: &Principal,
        mut filter: ModelFilter,
        page: PageRequest,
    ) -> Result<Page<Model>, DomainError> {
        if !principal.is_admin() {
            filter.active = Some(true);
            filter.include_deleted = false;
        }
        Ok(self.models.list(&filter, page).await?)
    }

    pub async fn replace_model(&self, _admin: &Admin, id: ModelId, input: ModelInput) -> Result<Model, DomainError> {
        let spec = ModelSpec::parse(input)?;
        self.models
            .update(id, &replace(spec), self.clock.now())
            .await
            .map_err(model_error)
    }

    /// Changes the fields a merge patch names, from the model's current fields, in the store's
    /// transaction: two patches of different fields at once both land.
    pub async fn patch_model(&self, _admin: &Admin, id: ModelId, patch: ModelPatch) -> Result<Model, DomainError> {
        self.models
            .update(id, &|current| patch.apply(current), self.clock.now())
            .await
            .map_err(model_error)
    }

    /// Soft-deletes (`true`) or restores (`false`) a model.
    pub async fn set_model_deleted(&self, _admin: &Admin, id: ModelId, deleted: bool) -> Result<Model, DomainError> {
        self.models
            .set_deleted(id, deleted, self.clock.now())
            .await
            .map_err(model_error)
    }

    pub async fn set_default_model(&self, _admin: &Admin, id: ModelId) -> Result<Model, DomainError> {
        self.models
            .set_default(id, self.clock.now())
            .await
            .map_err(|error| match error {
                CatalogWriteError::Store(StoreError::NotFound) | CatalogWriteError::Missing(_) => {
                    DomainError::validation("model_id", "no_such_model", "is not a model")
                }
                other => model_error(other),
            })
    }

    /// The default model of each type; other users see only those they may see.
    pub async fn default_models(&self, principal: &Principal) -> Result<Vec<Model>, DomainError> {
        let mut defaults = self.models.defaults().await?;
        defaults.retain(|model| visible(principal, model.spec.is_active, model.deleted_at));
        Ok(defaults)
    }

    pub async fn create_parameter(
        &self,
        _admin: &Admin,
        model: ModelId,
        input: ParameterInput,
    ) -> Result<Parameter, DomainError> {
        let spec = ParameterSpec::parse(input)?;
        self.models
            .create_parameter(model, ParameterId::new(), &spec, self.clock.now())
            .await
            .map_err(model_error)
    }

    pub async fn replace_parameter(
        &self,
        _admin: &Admin,
        model: ModelId,
        id: ParameterId,
        input: ParameterInput,
    ) -> Result<Parameter, DomainError> {
        let spec = ParameterSpec::parse(input)?;
        self.models
            .update_parameter(model, id, &spec, self.clock.now())
            .await
            .map_err(model_error)
    }

    pub async fn delete_parameter(&self, _admin: &Admin, model: ModelId, id: ParameterId) -> Result<(), DomainError> {
        self.models.delete_parameter(model, id).await.map_err(model_error)
    }

    pub async fn create_route(&self, _admin: &Admin, model: ModelId, input: RouteInput) -> Result<Route, DomainError> {
        let spec = RouteSpec::parse(input)?;
        self.models
            .create_route(model, RouteId::new(), &spec, self.clock.now())
            .await
            .map_err(model_error)
    }

    pub async fn replace_route(
        &self,
        _admin: &Admin,
        model: ModelId,
        id: RouteId,
        input: RouteInput,
    ) -> Result<Route, DomainError> {
        let spec = RouteSpec::parse(input)?;
        self.models
            .update_route(model, id, &spec, self.clock.now())
            .await
            .map_err(model_error)
    }

    pub async fn delete_route(&self, _admin: &Admin, model: ModelId, id: RouteId) -> Result<(), DomainError> {
        self.models.delete_route(model, id).await.map_err(model_error)
    }

    pub async fn link_capability(
        &self,
        _admin: &Admin,
        model: ModelId,
        capability: CapabilityId,
        config: Option<Value>,
        is_default: bool,
    ) -> Result<(), DomainError> {
        let config = check_config("config_json", config)?;
        self.models
            .link_capability(model, capability, config.as_ref(), is_default, self.clock.now())
            .await
            .map_err(model_error)
    }

    pub async fn unlink_capability(
        &self,
        _admin: &Admin,
        model: ModelId,
        capability: CapabilityId,
    ) -> Result<(), DomainError> {
        unlinked(self.models.unlink_capability(model, capability).await?)
    }

    pub async fn link_category(&self, _admin: &Admin, model: ModelId, category: CategoryId) -> Result<(), DomainError> {
        self.models
            .link_category(model, category, self.clock.now())
            .await
            .map_err(model_error)
    }

    pub async fn unlink_category(
        &self,
        _admin: &Admin,
        model: ModelId,
        category: CategoryId,
    ) -> Result<(), DomainError> {
        unlinked(self.models.unlink_category(model, category).await?)
    }
}
