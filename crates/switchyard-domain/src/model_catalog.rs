//! The catalog's models: their storage port and use cases (models, parameters, routes,
//! associations with capabilities and categories, the default model of each type).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::accounts::Principal;
use crate::capability::CapabilityId;
use crate::catalog::{Catalog, visible};
use crate::category::CategoryId;
use crate::error::ConflictKind;
use crate::model::{
    Model, ModelDetail, ModelId, ModelInput, ModelSpec, ModelType, Route, RouteId, RouteInput, RouteSpec, check_config,
};
use crate::page::{Page, PageRequest};
use crate::parameter::{Parameter, ParameterId, ParameterInput, ParameterSpec};
use crate::user::Role;
use crate::{DomainError, StoreError};

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

/// Why the model store refused a write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelWriteError {
    /// The named field's supplier is not a live supplier.
    #[error("{field} is not a live supplier")]
    SupplierMissing { field: &'static str },
    #[error("the model is the default of its type")]
    DefaultInUse,
    #[error("the model is inactive or deleted")]
    ModelInactive,
    #[error("the primary route follows the model")]
    PrimaryRoute,
    /// The named object does not exist (or is deleted).
    #[error("{0} not found")]
    Missing(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
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
    ) -> Result<Model, ModelWriteError>;
    /// Any model, deleted ones included.
    async fn get(&self, id: ModelId) -> Result<Option<Model>, StoreError>;
    /// The model with its parameters, capabilities, categories and routes, in a fixed number
    /// of queries.
    async fn detail(&self, id: ModelId) -> Result<Option<ModelDetail>, StoreError>;
    async fn list(&self, filter: &ModelFilter, page: PageRequest) -> Result<Page<Model>, StoreError>;
    /// Replaces a live model's writable fields; its primary route follows. Refuses to
    /// deactivate the default of its type.
    async fn update(&self, id: ModelId, spec: &ModelSpec, now: DateTime<Utc>) -> Result<Model, ModelWriteError>;
    /// Soft-deletes (`true`, refused for the default of its type) or restores (`false`).
    async fn set_deleted(&self, id: ModelId, deleted: bool, now: DateTime<Utc>) -> Result<Model, ModelWriteError>;
    /// Makes an active, live model the default of its type, in one atomic switch.
    async fn set_default(&self, id: ModelId, now: DateTime<Utc>) -> Result<Model, ModelWriteError>;
    /// The default model of each type that has one.
    async fn defaults(&self) -> Result<Vec<Model>, StoreError>;

    async fn create_parameter(
        &self,
        model: ModelId,
        id: ParameterId,
        spec: &ParameterSpec,
        now: DateTime<Utc>,
    ) -> Result<Parameter, ModelWriteError>;
    async fn update_parameter(
        &self,
        model: ModelId,
        id: ParameterId,
        spec: &ParameterSpec,
        now: DateTime<Utc>,
    ) -> Result<Parameter, ModelWriteError>;
    async fn delete_parameter(&self, model: ModelId, id: ParameterId) -> Result<(), ModelWriteError>;

    async fn create_route(
        &self,
        model: ModelId,
        id: RouteId,
        spec: &RouteSpec,
        now: DateTime<Utc>,
    ) -> Result<Route, ModelWriteError>;
    /// Changes a secondary route (the primary one follows the model).
    async fn update_route(
        &self,
        model: ModelId,
        id: RouteId,
        spec: &RouteSpec,
        now: DateTime<Utc>,
    ) -> Result<Route, ModelWriteError>;
    async fn delete_route(&self, model: ModelId, id: RouteId) -> Result<(), ModelWriteError>;

    /// Links (or re-configures the link of) a live model and a live capability.
    async fn link_capability(
        &self,
        model: ModelId,
        capability: CapabilityId,
        config: Option<&Value>,
        is_default: bool,
        now: DateTime<Utc>,
    ) -> Result<(), ModelWriteError>;
    /// False when there was no such link.
    async fn unlink_capability(&self, model: ModelId, capability: CapabilityId) -> Result<bool, StoreError>;
    async fn link_category(
        &self,
        model: ModelId,
        category: CategoryId,
        now: DateTime<Utc>,
    ) -> Result<(), ModelWriteError>;
    async fn unlink_category(&self, model: ModelId, category: CategoryId) -> Result<bool, StoreError>;
}

pub(crate) fn model_error(error: ModelWriteError) -> DomainError {
    match error {
        ModelWriteError::SupplierMissing { field } => {
            DomainError::validation(field, "no_such_supplier", "is not a live supplier")
        }
        ModelWriteError::DefaultInUse => DomainError::Conflict {
            kind: ConflictKind::DefaultModelInUse,
            message: "the model is the default of its type: set another default first".to_owned(),
        },
        ModelWriteError::ModelInactive => {
            DomainError::validation("model_id", "model_inactive", "must be an active, live model")
        }
        ModelWriteError::PrimaryRoute => DomainError::Conflict {
            kind: ConflictKind::Duplicate,
            message: "the primary route follows the model: change the model's supplier or upstream_name instead"
                .to_owned(),
        },
        ModelWriteError::Missing(entity) => DomainError::NotFound { entity },
        ModelWriteError::Store(StoreError::NotFound) => DomainError::NotFound { entity: "model" },
        ModelWriteError::Store(StoreError::Conflict(_)) => DomainError::Conflict {
            kind: ConflictKind::Duplicate,
            message: "a live object with this name (or route to this supplier and upstream name) already exists"
                .to_owned(),
        },
        ModelWriteError::Store(other) => other.into(),
    }
}

/// A missing link is a 404, like any other missing object.
fn unlinked(found: bool) -> Result<(), DomainError> {
    found
        .then_some(())
        .ok_or(DomainError::NotFound { entity: "association" })
}

impl Catalog {
    pub async fn create_model(&self, principal: &Principal, input: ModelInput) -> Result<Model, DomainError> {
        principal.require_admin()?;
        let spec = ModelSpec::parse(input)?;
        self.models
            .create(
                ModelId(Uuid::now_v7()),
                RouteId(Uuid::now_v7()),
                &spec,
                self.clock.now(),
            )
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
        if principal.role != Role::Admin {
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
        if principal.role != Role::Admin {
            filter.active = Some(true);
            filter.include_deleted = false;
        }
        Ok(self.models.list(&filter, page).await?)
    }

    pub async fn replace_model(
        &self,
        principal: &Principal,
        id: ModelId,
        input: ModelInput,
    ) -> Result<Model, DomainError> {
        principal.require_admin()?;
        let spec = ModelSpec::parse(input)?;
        self.models
            .update(id, &spec, self.clock.now())
            .await
            .map_err(model_error)
    }

    /// Soft-deletes (`true`) or restores (`false`) a model.
    pub async fn set_model_deleted(
        &self,
        principal: &Principal,
        id: ModelId,
        deleted: bool,
    ) -> Result<Model, DomainError> {
        principal.require_admin()?;
        self.models
            .set_deleted(id, deleted, self.clock.now())
            .await
            .map_err(model_error)
    }

    pub async fn set_default_model(&self, principal: &Principal, id: ModelId) -> Result<Model, DomainError> {
        principal.require_admin()?;
        self.models
            .set_default(id, self.clock.now())
            .await
            .map_err(|error| match error {
                ModelWriteError::Store(StoreError::NotFound) | ModelWriteError::Missing(_) => {
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
        principal: &Principal,
        model: ModelId,
        input: ParameterInput,
    ) -> Result<Parameter, DomainError> {
        principal.require_admin()?;
        let spec = ParameterSpec::parse(input)?;
        self.models
            .create_parameter(model, ParameterId(Uuid::now_v7()), &spec, self.clock.now())
            .await
            .map_err(model_error)
    }

    pub async fn replace_parameter(
        &self,
        principal: &Principal,
        model: ModelId,
        id: ParameterId,
        input: ParameterInput,
    ) -> Result<Parameter, DomainError> {
        principal.require_admin()?;
        let spec = ParameterSpec::parse(input)?;
        self.models
            .update_parameter(model, id, &spec, self.clock.now())
            .await
            .map_err(model_error)
    }

    pub async fn delete_parameter(
        &self,
        principal: &Principal,
        model: ModelId,
        id: ParameterId,
    ) -> Result<(), DomainError> {
        principal.require_admin()?;
        self.models.delete_parameter(model, id).await.map_err(model_error)
    }

    pub async fn create_route(
        &self,
        principal: &Principal,
        model: ModelId,
        input: RouteInput,
    ) -> Result<Route, DomainError> {
        principal.require_admin()?;
        let spec = RouteSpec::parse(input)?;
        self.models
            .create_route(model, RouteId(Uuid::now_v7()), &spec, self.clock.now())
            .await
            .map_err(model_error)
    }

    pub async fn replace_route(
        &self,
        principal: &Principal,
        model: ModelId,
        id: RouteId,
        input: RouteInput,
    ) -> Result<Route, DomainError> {
        principal.require_admin()?;
        let spec = RouteSpec::parse(input)?;
        self.models
            .update_route(model, id, &spec, self.clock.now())
            .await
            .map_err(model_error)
    }

    pub async fn delete_route(&self, principal: &Principal, model: ModelId, id: RouteId) -> Result<(), DomainError> {
        principal.require_admin()?;
        self.models.delete_route(model, id).await.map_err(model_error)
    }

    pub async fn link_capability(
        &self,
        principal: &Principal,
        model: ModelId,
        capability: CapabilityId,
        config: Option<Value>,
        is_default: bool,
    ) -> Result<(), DomainError> {
        principal.require_admin()?;
        let config = check_config("config_json", config)?;
        self.models
            .link_capability(model, capability, config.as_ref(), is_default, self.clock.now())
            .await
            .map_err(model_error)
    }

    pub async fn unlink_capability(
        &self,
        principal: &Principal,
        model: ModelId,
        capability: CapabilityId,
    ) -> Result<(), DomainError> {
        principal.require_admin()?;
        unlinked(self.models.unlink_capability(model, capability).await?)
    }

    pub async fn link_category(
        &self,
        principal: &Principal,
        model: ModelId,
        category: CategoryId,
    ) -> Result<(), DomainError> {
        principal.require_admin()?;
        self.models
            .link_category(model, category, self.clock.now())
            .await
            .map_err(model_error)
    }

    pub async fn unlink_category(
        &self,
        principal: &Principal,
        model: ModelId,
        category: CategoryId,
    ) -> Result<(), DomainError> {
        principal.require_admin()?;
        unlinked(self.models.unlink_category(model, category).await?)
    }
}
