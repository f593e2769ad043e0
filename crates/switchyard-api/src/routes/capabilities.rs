//! `/api/v1/capabilities`: what models can do. Writes are admin only; other users see active,
//! live capabilities.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::catalog::CapabilityFilter;
use switchyard_domain::catalog::{Capability, CapabilityId, CapabilityInput};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::dto::{double_option, encode_cursor, page_request};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::names::{DomainName, ModalityName};

/// Capability ids in paths are UUIDs; the pattern keeps literal siblings (the associations
/// route, later) from being read as ids.
pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_capabilities)
        .service(create_capability)
        .service(get_capability)
        .service(replace_capability)
        .service(patch_capability)
        .service(delete_capability)
        .service(restore_capability);
}

/// A modality as the domain's input names it.
fn modality_text(name: ModalityName) -> String {
    name.domain().as_str().to_owned()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CapabilityBody {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub capability_type: String,
    /// Sorted by name.
    pub input_types: Vec<ModalityName>,
    pub output_types: Vec<ModalityName>,
    pub domain: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<Capability> for CapabilityBody {
    fn from(capability: Capability) -> Self {
        let spec = capability.spec;
        Self {
            id: capability.id.0,
            name: spec.name,
            display_name: spec.display_name,
            description: spec.description,
            capability_type: spec.capability_type,
            input_types: spec.input_types.into_iter().map(ModalityName::from).collect(),
            output_types: spec.output_types.into_iter().map(ModalityName::from).collect(),
            domain: spec.domain.as_str().to_owned(),
            is_active: spec.is_active,
            created_at: capability.created_at,
            updated_at: capability.updated_at,
            deleted_at: capability.deleted_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CapabilityList {
    pub data: Vec<CapabilityBody>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CapabilityListQuery {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// Text in the name or display name.
    pub q: Option<String>,
    #[param(inline)]
    pub domain: Option<DomainName>,
    /// Admins only (others always see active capabilities).
    pub active: Option<bool>,
    /// Admins only.
    #[serde(default)]
    pub include_deleted: bool,
}

/// A capability's writable fields (`POST` and `PUT`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapabilityRequest {
    /// A slug: 1–64 of `[a-z0-9_-]`; unique among live capabilities.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[a-z0-9][a-z0-9_-]*$")]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// Defaults to `general`.
    #[serde(default)]
    #[schema(max_length = 32)]
    pub capability_type: Option<String>,
    /// At least one.
    #[schema(min_items = 1)]
    pub input_types: Vec<ModalityName>,
    /// At least one.
    #[schema(min_items = 1)]
    pub output_types: Vec<ModalityName>,
    pub domain: DomainName,
    #[serde(default)]
    pub is_active: Option<bool>,
}

impl From<CapabilityRequest> for CapabilityInput {
    fn from(request: CapabilityRequest) -> Self {
        Self {
            name: request.name,
            display_name: request.display_name,
            description: request.description,
            capability_type: request.capability_type,
            input_types: request.input_types.into_iter().map(modality_text).collect(),
            output_types: request.output_types.into_iter().map(modality_text).collect(),
            domain: request.domain.domain().as_str().to_owned(),
            is_active: request.is_active,
        }
    }
}

/// A JSON Merge Patch of a capability.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapabilityPatch {
    #[schema(min_length = 1, max_length = 64, pattern = r"^[a-z0-9][a-z0-9_-]*$")]
    pub name: Option<String>,
    /// Blank = the name.
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, required = false, max_length = 2000)]
    pub description: Option<Option<String>>,
    #[schema(min_length = 1, max_length = 32)]
    pub capability_type: Option<String>,
    #[schema(min_items = 1)]
    pub input_types: Option<Vec<ModalityName>>,
    #[schema(min_items = 1)]
    pub output_types: Option<Vec<ModalityName>>,
    pub domain: Option<DomainName>,
    pub is_active: Option<bool>,
}

impl From<CapabilityPatch> for switchyard_domain::catalog::CapabilityPatch {
    fn from(patch: CapabilityPatch) -> Self {
        let texts = |names: Vec<ModalityName>| names.into_iter().map(modality_text).collect();
        Self {
            name: patch.name,
            display_name: patch.display_name.map(Some),
            description: patch.description,
            capability_type: patch.capability_type.map(Some),
            input_types: patch.input_types.map(texts),
            output_types: patch.output_types.map(texts),
            domain: patch.domain.map(|domain| domain.domain().as_str().to_owned()),
            is_active: patch.is_active.map(Some),
        }
    }
}

/// Capabilities, newest first.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(CapabilityListQuery),
    responses((status = 200, description = "A page of capabilities", body = CapabilityList)))]
#[get("/api/v1/capabilities")]
async fn list_capabilities(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<CapabilityListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let filter = CapabilityFilter {
        text: query.q,
        domain: query.domain.map(DomainName::domain),
        active: query.active,
        include_deleted: query.include_deleted,
    };
    let capabilities = state.catalog.list_capabilities(&user.0, filter, page).await?;
    Ok(HttpResponse::Ok().json(CapabilityList {
        next_cursor: capabilities.next.map(encode_cursor),
        data: capabilities.items.into_iter().map(CapabilityBody::from).collect(),
    }))
}

/// Create a capability (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), request_body = CapabilityRequest,
    responses((status = 201, description = "The capability", body = CapabilityBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody)))]
#[post("/api/v1/capabilities")]
async fn create_capability(
    state: web::Data<AppState>,
    user: AdminUser,
    body: Json<CapabilityRequest>,
) -> Result<HttpResponse, ApiError> {
    let capability = state.catalog.create_capability(&user.admin, body.0.into()).await?;
    Ok(HttpResponse::Created().json(CapabilityBody::from(capability)))
}

/// One capability.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("capability_id" = Uuid, Path, description = "The capability's id")),
    responses((status = 200, description = "The capability", body = CapabilityBody), (status = 404, description = "No such capability (or not visible)", body = ErrorBody)))]
#[get("/api/v1/capabilities/{capability_id:[0-9a-fA-F-]+}")]
async fn get_capability(
    state: web::Data<AppState>,
    user: AuthUser,
    capability_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let capability = state
        .catalog
        .get_capability(&user.0, CapabilityId(*capability_id))
        .await?;
    Ok(HttpResponse::Ok().json(CapabilityBody::from(capability)))
}

/// Replace a capability's writable fields (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("capability_id" = Uuid, Path, description = "The capability's id")), request_body = CapabilityRequest,
    responses((status = 200, description = "The capability", body = CapabilityBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such live capability", body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody)))]
#[put("/api/v1/capabilities/{capability_id:[0-9a-fA-F-]+}")]
async fn replace_capability(
    state: web::Data<AppState>,
    user: AdminUser,
    capability_id: web::Path<Uuid>,
    body: Json<CapabilityRequest>,
) -> Result<HttpResponse, ApiError> {
    let capability = state
        .catalog
        .replace_capability(&user.admin, CapabilityId(*capability_id), body.0.into())
        .await?;
    Ok(HttpResponse::Ok().json(CapabilityBody::from(capability)))
}

/// Change some of a capability's fields (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("capability_id" = Uuid, Path, description = "The capability's id")),
    request_body(content = CapabilityPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The capability", body = CapabilityBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such live capability", body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody)))]
#[patch("/api/v1/capabilities/{capability_id:[0-9a-fA-F-]+}")]
async fn patch_capability(
    state: web::Data<AppState>,
    user: AdminUser,
    capability_id: web::Path<Uuid>,
    body: Json<CapabilityPatch>,
) -> Result<HttpResponse, ApiError> {
    let capability = state
        .catalog
        .patch_capability(&user.admin, CapabilityId(*capability_id), body.0.into())
        .await?;
    Ok(HttpResponse::Ok().json(CapabilityBody::from(capability)))
}

/// Soft-delete a capability (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("capability_id" = Uuid, Path, description = "The capability's id")),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such capability", body = ErrorBody)))]
#[delete("/api/v1/capabilities/{capability_id:[0-9a-fA-F-]+}")]
async fn delete_capability(
    state: web::Data<AppState>,
    user: AdminUser,
    capability_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .catalog
        .set_capability_deleted(&user.admin, CapabilityId(*capability_id), true)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Bring back a soft-deleted capability (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("capability_id" = Uuid, Path, description = "The capability's id")),
    responses((status = 200, description = "The capability", body = CapabilityBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such capability", body = ErrorBody), (status = 409, description = "A live capability has its name now", body = ErrorBody)))]
#[post("/api/v1/capabilities/{capability_id:[0-9a-fA-F-]+}/restore")]
async fn restore_capability(
    state: web::Data<AppState>,
    user: AdminUser,
    capability_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let capability = state
        .catalog
        .set_capability_deleted(&user.admin, CapabilityId(*capability_id), false)
        .await?;
    Ok(HttpResponse::Ok().json(CapabilityBody::from(capability)))
}
