//! `/api/v1/categories`: the category tree. Writes are admin only; other users see active, live
//! nodes under active, live ancestors.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::catalog::{Category, CategoryId, CategoryInput, CategoryNode, DeleteMode};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::dto::double_option;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::names::DeleteModeName;

/// Category ids in paths are UUIDs; the pattern keeps `/categories/tree` from being read as an id,
/// so a wrong method on it is a 405, not a 400 about a malformed id.
pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(tree)
        .service(create_category)
        .service(get_category)
        .service(replace_category)
        .service(patch_category)
        .service(delete_category)
        .service(restore_category);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryBody {
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub category_type: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<Category> for CategoryBody {
    fn from(category: Category) -> Self {
        Self {
            id: category.id.0,
            parent_id: category.spec.parent_id.map(|parent| parent.0),
            name: category.spec.name,
            display_name: category.spec.display_name,
            description: category.spec.description,
            category_type: category.spec.category_type,
            is_active: category.spec.is_active,
            created_at: category.created_at,
            updated_at: category.updated_at,
            deleted_at: category.deleted_at,
        }
    }
}

/// A category and its children, recursively.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryTreeNode {
    #[serde(flatten)]
    pub category: CategoryBody,
    #[schema(no_recursion)]
    pub children: Vec<CategoryTreeNode>,
}

impl From<CategoryNode> for CategoryTreeNode {
    fn from(node: CategoryNode) -> Self {
        Self {
            category: node.category.into(),
            children: node.children.into_iter().map(Self::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryTree {
    /// The roots, sorted by name; each with its children.
    pub data: Vec<CategoryTreeNode>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TreeQuery {
    /// Admins only: include soft-deleted nodes.
    #[serde(default)]
    pub include_deleted: bool,
}

/// A category's writable fields (`POST` and `PUT`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryRequest {
    /// A slug: 1–64 of `[a-z0-9_-]`; unique among the live children of one parent.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[a-z0-9][a-z0-9_-]*$")]
    pub name: String,
    /// Defaults to the name.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// Defaults to `general`.
    #[serde(default)]
    #[schema(max_length = 32)]
    pub category_type: Option<String>,
    /// `null` or absent for a root.
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

impl From<CategoryRequest> for CategoryInput {
    fn from(request: CategoryRequest) -> Self {
        Self {
            name: request.name,
            display_name: request.display_name,
            description: request.description,
            category_type: request.category_type,
            parent_id: request.parent_id,
            is_active: request.is_active,
        }
    }
}

/// A JSON Merge Patch of a category; `"parent_id": null` makes it a root.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryPatch {
    #[schema(min_length = 1, max_length = 64, pattern = r"^[a-z0-9][a-z0-9_-]*$")]
    pub name: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, required = false, max_length = 2000)]
    pub description: Option<Option<String>>,
    #[schema(min_length = 1, max_length = 32)]
    pub category_type: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>, required = false)]
    pub parent_id: Option<Option<Uuid>>,
    pub is_active: Option<bool>,
}

impl From<CategoryPatch> for switchyard_domain::catalog::CategoryPatch {
    fn from(patch: CategoryPatch) -> Self {
        Self {
            name: patch.name,
            display_name: patch.display_name.map(Some),
            description: patch.description,
            category_type: patch.category_type.map(Some),
            parent_id: patch.parent_id,
            is_active: patch.is_active.map(Some),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// What to do with children; default `refuse`.
    #[param(inline)]
    pub mode: Option<DeleteModeName>,
}

/// The category tree.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(TreeQuery),
    responses((status = 200, description = "The nested tree", body = CategoryTree)))]
#[get("/api/v1/categories/tree")]
async fn tree(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<TreeQuery>,
) -> Result<HttpResponse, ApiError> {
    let roots = state.catalog.category_tree(&user.0, query.include_deleted).await?;
    Ok(HttpResponse::Ok().json(CategoryTree {
        data: roots.into_iter().map(CategoryTreeNode::from).collect(),
    }))
}

/// Create a category (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), request_body = CategoryRequest,
    responses((status = 201, description = "The category", body = CategoryBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 409, description = "A sibling has the name", body = ErrorBody)))]
#[post("/api/v1/categories")]
async fn create_category(
    state: web::Data<AppState>,
    user: AdminUser,
    body: Json<CategoryRequest>,
) -> Result<HttpResponse, ApiError> {
    let category = state.catalog.create_category(&user.admin, body.0.into()).await?;
    Ok(HttpResponse::Created().json(CategoryBody::from(category)))
}

/// One category.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("category_id" = Uuid, Path, description = "The category's id")),
    responses((status = 200, description = "The category", body = CategoryBody), (status = 404, description = "No such category (or not visible)", body = ErrorBody)))]
#[get("/api/v1/categories/{category_id:[0-9a-fA-F-]+}")]
async fn get_category(
    state: web::Data<AppState>,
    user: AuthUser,
    category_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let category = state.catalog.get_category(&user.0, CategoryId(*category_id)).await?;
    Ok(HttpResponse::Ok().json(CategoryBody::from(category)))
}

/// Replace a category's writable fields, moving it when `parent_id` changes (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("category_id" = Uuid, Path, description = "The category's id")), request_body = CategoryRequest,
    responses((status = 200, description = "The category", body = CategoryBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such live category", body = ErrorBody), (status = 409, description = "A cycle, or a sibling has the name", body = ErrorBody)))]
#[put("/api/v1/categories/{category_id:[0-9a-fA-F-]+}")]
async fn replace_category(
    state: web::Data<AppState>,
    user: AdminUser,
    category_id: web::Path<Uuid>,
    body: Json<CategoryRequest>,
) -> Result<HttpResponse, ApiError> {
    let category = state
        .catalog
        .replace_category(&user.admin, CategoryId(*category_id), body.0.into())
        .await?;
    Ok(HttpResponse::Ok().json(CategoryBody::from(category)))
}

/// Change some of a category's fields (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("category_id" = Uuid, Path, description = "The category's id")),
    request_body(content = CategoryPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The category", body = CategoryBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such live category", body = ErrorBody), (status = 409, description = "A cycle, or a sibling has the name", body = ErrorBody)))]
#[patch("/api/v1/categories/{category_id:[0-9a-fA-F-]+}")]
async fn patch_category(
    state: web::Data<AppState>,
    user: AdminUser,
    category_id: web::Path<Uuid>,
    body: Json<CategoryPatch>,
) -> Result<HttpResponse, ApiError> {
    let category = state
        .catalog
        .patch_category(&user.admin, CategoryId(*category_id), body.0.into())
        .await?;
    Ok(HttpResponse::Ok().json(CategoryBody::from(category)))
}

/// Soft-delete a category (admins); `mode=reassign` moves its children and models to its parent first.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("category_id" = Uuid, Path, description = "The category's id"), DeleteQuery),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such live category", body = ErrorBody), (status = 409, description = "It has children or models and the mode is refuse", body = ErrorBody)))]
#[delete("/api/v1/categories/{category_id:[0-9a-fA-F-]+}")]
async fn delete_category(
    state: web::Data<AppState>,
    user: AdminUser,
    category_id: web::Path<Uuid>,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    let mode = match query.mode {
        Some(mode) => mode.domain(),
        None => DeleteMode::Refuse,
    };
    state
        .catalog
        .delete_category(&user.admin, CategoryId(*category_id), mode)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Bring back a soft-deleted category under its (live) parent (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("category_id" = Uuid, Path, description = "The category's id")),
    responses((status = 200, description = "The category", body = CategoryBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such category", body = ErrorBody), (status = 409, description = "A live sibling has its name now", body = ErrorBody)))]
#[post("/api/v1/categories/{category_id:[0-9a-fA-F-]+}/restore")]
async fn restore_category(
    state: web::Data<AppState>,
    user: AdminUser,
    category_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let category = state
        .catalog
        .restore_category(&user.admin, CategoryId(*category_id))
        .await?;
    Ok(HttpResponse::Ok().json(CategoryBody::from(category)))
}
