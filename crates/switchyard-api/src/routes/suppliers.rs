//! `/api/v1/suppliers`: who serves models. Writes are admin only; other users see active, live
//! suppliers without their base URL or key information.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::accounts::Principal;
use switchyard_domain::accounts::Role;
use switchyard_domain::catalog::{KeyUpdate, SupplierFilter};
use switchyard_domain::catalog::{Supplier, SupplierId, SupplierInput};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::dto::{double_option, encode_cursor, page_request};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::names::ProtocolName;

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_suppliers)
        .service(create_supplier)
        .service(get_supplier)
        .service(replace_supplier)
        .service(patch_supplier)
        .service(delete_supplier)
        .service(restore_supplier);
}

/// Whether a key is set; never the key.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyInfo {
    pub set: bool,
    /// The key's last four characters, when one is set.
    pub last4: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SupplierBody {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    /// `openai`, `azure_openai`, `anthropic`, `gemini` or `replicate`.
    pub protocol: String,
    /// Admins only; `null` for other users (internal hosts stay private).
    pub base_url: Option<String>,
    pub api_key_required: bool,
    /// Admins only; `null` for other users.
    pub api_key: Option<ApiKeyInfo>,
    pub website: Option<String>,
    pub api_docs: Option<String>,
    pub category: Option<String>,
    pub logo: Option<String>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl SupplierBody {
    fn new(supplier: Supplier, viewer: &Principal) -> Self {
        let admin = viewer.role() == Role::Admin;
        let spec = supplier.spec;
        Self {
            id: supplier.id.0,
            name: spec.name,
            display_name: spec.display_name,
            description: spec.description,
            protocol: spec.protocol.as_str().to_owned(),
            base_url: admin.then_some(spec.base_url),
            api_key_required: spec.api_key_required,
            api_key: admin.then(|| ApiKeyInfo {
                set: supplier.key_last4.is_some(),
                last4: supplier.key_last4,
            }),
            website: spec.website,
            api_docs: spec.api_docs,
            category: spec.category,
            logo: spec.logo,
            is_active: spec.is_active,
            created_at: supplier.created_at,
            updated_at: supplier.updated_at,
            deleted_at: supplier.deleted_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SupplierList {
    pub data: Vec<SupplierBody>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SupplierListQuery {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// Text in the name or display name.
    pub q: Option<String>,
    #[param(inline)]
    pub protocol: Option<ProtocolName>,
    pub category: Option<String>,
    /// Admins only (others always see active suppliers).
    pub active: Option<bool>,
    /// Admins only.
    #[serde(default)]
    pub include_deleted: bool,
}

/// A supplier's writable fields (`POST` and `PUT`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierRequest {
    /// A slug: 1–64 of `[a-z0-9_-]`; unique among live suppliers.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[a-z0-9][a-z0-9_-]*$")]
    pub name: String,
    /// Defaults to the name.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    pub protocol: ProtocolName,
    /// An http or https URL.
    #[schema(max_length = 500)]
    pub base_url: String,
    #[serde(default)]
    pub api_key_required: Option<bool>,
    /// Write-only. Absent = keep the current key; `null` = remove it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, required = false, max_length = 512)]
    pub api_key: Option<Option<String>>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub website: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub api_docs: Option<String>,
    #[serde(default)]
    #[schema(max_length = 64)]
    pub category: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub logo: Option<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// A JSON Merge Patch of a supplier: absent = keep, `null` = clear (`api_key: null` removes the key).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierPatch {
    #[schema(min_length = 1, max_length = 64, pattern = r"^[a-z0-9][a-z0-9_-]*$")]
    pub name: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, required = false, max_length = 2000)]
    pub description: Option<Option<String>>,
    pub protocol: Option<ProtocolName>,
    #[schema(max_length = 500)]
    pub base_url: Option<String>,
    pub api_key_required: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, required = false, max_length = 512)]
    pub api_key: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, required = false, max_length = 500)]
    pub website: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, required = false, max_length = 500)]
    pub api_docs: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, required = false, max_length = 64)]
    pub category: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, required = false, max_length = 500)]
    pub logo: Option<Option<String>>,
    pub is_active: Option<bool>,
}

impl From<SupplierPatch> for switchyard_domain::catalog::SupplierPatch {
    fn from(patch: SupplierPatch) -> Self {
        Self {
            name: patch.name,
            display_name: patch.display_name.map(Some),
            description: patch.description,
            protocol: patch.protocol.map(|protocol| protocol.domain().as_str().to_owned()),
            base_url: patch.base_url,
            api_key_required: patch.api_key_required.map(Some),
            website: patch.website,
            api_docs: patch.api_docs,
            category: patch.category,
            logo: patch.logo,
            is_active: patch.is_active.map(Some),
        }
    }
}

fn key_update(api_key: Option<Option<String>>) -> KeyUpdate {
    match api_key {
        None => KeyUpdate::Keep,
        Some(None) => KeyUpdate::Remove,
        Some(Some(key)) => KeyUpdate::Set(key),
    }
}

impl SupplierRequest {
    fn into_parts(self) -> (SupplierInput, KeyUpdate) {
        let input = SupplierInput {
            name: self.name,
            display_name: self.display_name,
            description: self.description,
            protocol: self.protocol.domain().as_str().to_owned(),
            base_url: self.base_url,
            api_key_required: self.api_key_required,
            website: self.website,
            api_docs: self.api_docs,
            category: self.category,
            logo: self.logo,
            is_active: self.is_active,
        };
        (input, key_update(self.api_key))
    }
}

/// Suppliers, newest first.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(SupplierListQuery),
    responses((status = 200, description = "A page of suppliers", body = SupplierList)))]
#[get("/api/v1/suppliers")]
async fn list_suppliers(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<SupplierListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let filter = SupplierFilter {
        text: query.q,
        protocol: query.protocol.map(ProtocolName::domain),
        category: query.category,
        active: query.active,
        include_deleted: query.include_deleted,
    };
    let suppliers = state.catalog.list_suppliers(&user.0, filter, page).await?;
    Ok(HttpResponse::Ok().json(SupplierList {
        next_cursor: suppliers.next.map(encode_cursor),
        data: suppliers
            .items
            .into_iter()
            .map(|s| SupplierBody::new(s, &user.0))
            .collect(),
    }))
}

/// Create a supplier (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), request_body = SupplierRequest,
    responses((status = 201, description = "The supplier", body = SupplierBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody), (status = 422, description = "A rule is broken", body = ErrorBody)))]
#[post("/api/v1/suppliers")]
async fn create_supplier(
    state: web::Data<AppState>,
    user: AdminUser,
    body: Json<SupplierRequest>,
) -> Result<HttpResponse, ApiError> {
    let (input, key) = body.0.into_parts();
    let supplier = state.catalog.create_supplier(&user.admin, input, key).await?;
    Ok(HttpResponse::Created().json(SupplierBody::new(supplier, &user.principal)))
}

/// One supplier.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("supplier_id" = Uuid, Path, description = "The supplier's id")),
    responses((status = 200, description = "The supplier", body = SupplierBody), (status = 404, description = "No such supplier (or not visible)", body = ErrorBody)))]
#[get("/api/v1/suppliers/{supplier_id}")]
async fn get_supplier(
    state: web::Data<AppState>,
    user: AuthUser,
    supplier_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let supplier = state.catalog.get_supplier(&user.0, SupplierId(*supplier_id)).await?;
    Ok(HttpResponse::Ok().json(SupplierBody::new(supplier, &user.0)))
}

/// Replace a supplier's writable fields (admins). `api_key`: absent keeps it, `null` removes it.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("supplier_id" = Uuid, Path, description = "The supplier's id")), request_body = SupplierRequest,
    responses((status = 200, description = "The supplier", body = SupplierBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such live supplier", body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody)))]
#[put("/api/v1/suppliers/{supplier_id}")]
async fn replace_supplier(
    state: web::Data<AppState>,
    user: AdminUser,
    supplier_id: web::Path<Uuid>,
    body: Json<SupplierRequest>,
) -> Result<HttpResponse, ApiError> {
    let (input, key) = body.0.into_parts();
    let supplier = state
        .catalog
        .replace_supplier(&user.admin, SupplierId(*supplier_id), input, key)
        .await?;
    Ok(HttpResponse::Ok().json(SupplierBody::new(supplier, &user.principal)))
}

/// Change some of a supplier's fields (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("supplier_id" = Uuid, Path, description = "The supplier's id")),
    request_body(content = SupplierPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The supplier", body = SupplierBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such live supplier", body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody)))]
#[patch("/api/v1/suppliers/{supplier_id}")]
async fn patch_supplier(
    state: web::Data<AppState>,
    user: AdminUser,
    supplier_id: web::Path<Uuid>,
    body: Json<SupplierPatch>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.0;
    let key = key_update(patch.api_key.clone());
    let supplier = state
        .catalog
        .patch_supplier(&user.admin, SupplierId(*supplier_id), patch.into(), key)
        .await?;
    Ok(HttpResponse::Ok().json(SupplierBody::new(supplier, &user.principal)))
}

/// Soft-delete a supplier (admins): its models are no longer routable.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("supplier_id" = Uuid, Path, description = "The supplier's id")),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such supplier", body = ErrorBody)))]
#[delete("/api/v1/suppliers/{supplier_id}")]
async fn delete_supplier(
    state: web::Data<AppState>,
    user: AdminUser,
    supplier_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .catalog
        .set_supplier_deleted(&user.admin, SupplierId(*supplier_id), true)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Bring back a soft-deleted supplier (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("supplier_id" = Uuid, Path, description = "The supplier's id")),
    responses((status = 200, description = "The supplier", body = SupplierBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such supplier", body = ErrorBody), (status = 409, description = "A live supplier has its name now", body = ErrorBody)))]
#[post("/api/v1/suppliers/{supplier_id}/restore")]
async fn restore_supplier(
    state: web::Data<AppState>,
    user: AdminUser,
    supplier_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let supplier = state
        .catalog
        .set_supplier_deleted(&user.admin, SupplierId(*supplier_id), false)
        .await?;
    Ok(HttpResponse::Ok().json(SupplierBody::new(supplier, &user.principal)))
}
