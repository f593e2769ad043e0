//! `/api/v1/capabilities/associations` and `/api/v1/categories/associations`: which
//! capabilities a model has (with the link's configuration) and which categories it is in.
//! Admin only.

use actix_web::{HttpResponse, delete, post, web};
use serde::{Deserialize, Serialize};
use switchyard_domain::catalog::CapabilityId;
use switchyard_domain::catalog::CategoryId;
use switchyard_domain::catalog::ModelId;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::AdminUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(link_capability)
        .service(unlink_capability)
        .service(link_category)
        .service(unlink_category);
}

/// Links a model and a capability (again: replaces the link's configuration).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapabilityAssociation {
    pub model_id: Uuid,
    pub capability_id: Uuid,
    /// A JSON object configuring the capability for this model (`{"max_images": 4}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config_json: Option<serde_json::Value>,
    /// The model's default capability (at most one per model).
    #[serde(default)]
    pub is_default: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CapabilityLinkQuery {
    pub model_id: Uuid,
    pub capability_id: Uuid,
}

/// Links a model and a category.
#[derive(Debug, Deserialize, Serialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CategoryAssociation {
    pub model_id: Uuid,
    pub category_id: Uuid,
}

/// Link a model and a capability (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), request_body = CapabilityAssociation,
    responses((status = 200, description = "The link", body = CapabilityAssociation), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such live model or capability", body = ErrorBody)))]
#[post("/api/v1/capabilities/associations")]
async fn link_capability(
    state: web::Data<AppState>,
    user: AdminUser,
    body: Json<CapabilityAssociation>,
) -> Result<HttpResponse, ApiError> {
    let link = body.0;
    state
        .catalog
        .link_capability(
            &user.admin,
            ModelId(link.model_id),
            CapabilityId(link.capability_id),
            link.config_json.clone(),
            link.is_default,
        )
        .await?;
    Ok(HttpResponse::Ok().json(CapabilityAssociation {
        config_json: link.config_json.filter(|config| !config.is_null()),
        ..link
    }))
}

/// Unlink a model and a capability (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(CapabilityLinkQuery),
    responses((status = 204, description = "Unlinked"), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such link", body = ErrorBody)))]
#[delete("/api/v1/capabilities/associations")]
async fn unlink_capability(
    state: web::Data<AppState>,
    user: AdminUser,
    query: web::Query<CapabilityLinkQuery>,
) -> Result<HttpResponse, ApiError> {
    state
        .catalog
        .unlink_capability(&user.admin, ModelId(query.model_id), CapabilityId(query.capability_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Put a model in a category (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), request_body = CategoryAssociation,
    responses((status = 200, description = "The link", body = CategoryAssociation), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such live model or category", body = ErrorBody)))]
#[post("/api/v1/categories/associations")]
async fn link_category(
    state: web::Data<AppState>,
    user: AdminUser,
    body: Json<CategoryAssociation>,
) -> Result<HttpResponse, ApiError> {
    let link = body.0;
    state
        .catalog
        .link_category(&user.admin, ModelId(link.model_id), CategoryId(link.category_id))
        .await?;
    Ok(HttpResponse::Ok().json(link))
}

/// Take a model out of a category (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(CategoryAssociation),
    responses((status = 204, description = "Unlinked"), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such link", body = ErrorBody)))]
#[delete("/api/v1/categories/associations")]
async fn unlink_category(
    state: web::Data<AppState>,
    user: AdminUser,
    query: web::Query<CategoryAssociation>,
) -> Result<HttpResponse, ApiError> {
    state
        .catalog
        .unlink_category(&user.admin, ModelId(query.model_id), CategoryId(query.category_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
