//! `/api/v1/models`: the models clients ask for by name, with their supplier, prices, limits,
//! parameters, capabilities, categories and routes; the default model of each type. Writes are
//! admin only; other users see active, live models.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::catalog::ModelFilter;
use switchyard_domain::catalog::{Model, ModelDetail, ModelId, ModelInput, SupplierSummary};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::dto::{double_option, encode_cursor, page_request};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::names::{ModalityName, ModelTypeName, SubTypeName};
use crate::routes::capabilities::CapabilityBody;
use crate::routes::categories::CategoryBody;
use crate::routes::model_parts::{ParameterBody, RouteBody};

/// Model ids in paths match UUID syntax, so `/models/defaults` and `/models/set-default` are
/// never read as ids.
pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_models)
        .service(create_model)
        .service(list_defaults)
        .service(set_default)
        .service(get_model)
        .service(replace_model)
        .service(patch_model)
        .service(delete_model)
        .service(restore_model);
}

/// The supplier of a model or route: never its base URL or key.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupplierRef {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    /// Active and not deleted.
    pub usable: bool,
}

impl From<SupplierSummary> for SupplierRef {
    fn from(summary: SupplierSummary) -> Self {
        Self {
            id: summary.id.0,
            name: summary.name,
            display_name: summary.display_name,
            usable: summary.usable,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelBody {
    pub id: Uuid,
    /// What clients send in `model`.
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    /// The primary supplier.
    pub supplier: SupplierRef,
    /// The supplier's id for the model, when it differs from `name`.
    pub upstream_name: Option<String>,
    pub model_type: String,
    pub sub_type: String,
    pub context_window: Option<i64>,
    pub max_output_tokens: Option<i64>,
    /// Micro-units of `currency` per million input tokens.
    pub input_price: i64,
    pub cached_input_price: Option<i64>,
    pub output_price: i64,
    /// ISO 4217.
    pub currency: String,
    pub rate_limit_per_minute: Option<i64>,
    pub api_version: Option<String>,
    /// Models tried in order when every route of this one failed.
    pub fallback_models: Vec<String>,
    pub is_active: bool,
    /// The default model of its type.
    pub is_default: bool,
    /// Active and live, with an active, live supplier.
    pub routable: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<Model> for ModelBody {
    fn from(model: Model) -> Self {
        let routable = model.routable();
        let spec = model.spec;
        Self {
            id: model.id.0,
            name: spec.name,
            display_name: spec.display_name,
            description: spec.description,
            supplier: model.supplier.into(),
            upstream_name: spec.upstream_name,
            model_type: spec.model_type.as_str().to_owned(),
            sub_type: spec.sub_type.as_str().to_owned(),
            context_window: spec.context_window,
            max_output_tokens: spec.max_output_tokens,
            input_price: spec.pricing.input,
            cached_input_price: spec.pricing.cached_input,
            output_price: spec.pricing.output,
            currency: spec.pricing.currency,
            rate_limit_per_minute: spec.rate_limit_per_minute,
            api_version: spec.api_version,
            fallback_models: spec.fallback_models,
            is_active: spec.is_active,
            is_default: model.is_default,
            routable,
            created_at: model.created_at,
            updated_at: model.updated_at,
            deleted_at: model.deleted_at,
        }
    }
}

/// A capability linked to a model.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedCapabilityBody {
    pub capability: CapabilityBody,
    /// The link's configuration (a JSON object), if any.
    #[schema(value_type = Option<Object>)]
    pub config_json: Option<serde_json::Value>,
    pub is_default: bool,
}

/// A model with everything linked to it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelDetailBody {
    #[serde(flatten)]
    pub model: ModelBody,
    /// What the model takes: the union of its active capabilities' input types.
    pub input_types: Vec<ModalityName>,
    pub output_types: Vec<ModalityName>,
    pub parameters: Vec<ParameterBody>,
    pub capabilities: Vec<LinkedCapabilityBody>,
    pub categories: Vec<CategoryBody>,
    /// Primary route first, then by priority.
    pub routes: Vec<RouteBody>,
}

impl From<ModelDetail> for ModelDetailBody {
    fn from(detail: ModelDetail) -> Self {
        let (inputs, outputs) = detail.modalities();
        Self {
            input_types: inputs.into_iter().map(ModalityName::from).collect(),
            output_types: outputs.into_iter().map(ModalityName::from).collect(),
            model: detail.model.into(),
            parameters: detail.parameters.into_iter().map(ParameterBody::from).collect(),
            capabilities: detail
                .capabilities
                .into_iter()
                .map(|linked| LinkedCapabilityBody {
                    capability: linked.capability.into(),
                    config_json: linked.config,
                    is_default: linked.is_default,
                })
                .collect(),
            categories: detail.categories.into_iter().map(CategoryBody::from).collect(),
            routes: detail.routes.into_iter().map(RouteBody::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    pub data: Vec<ModelBody>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ModelListQuery {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// Text in the name or display name.
    pub q: Option<String>,
    /// A supplier's name: models it serves (primary supplier or another route).
    pub supplier: Option<String>,
    #[param(inline)]
    pub model_type: Option<ModelTypeName>,
    /// A capability's name.
    pub capability: Option<String>,
    /// A category's name.
    pub category: Option<String>,
    /// Admins only (others always see active models).
    pub active: Option<bool>,
    /// Admins only.
    #[serde(default)]
    pub include_deleted: bool,
}

/// A model's writable fields (`POST` and `PUT`). Prices are integers: micro-units of
/// `currency` per million tokens (2.50 USD per million = 2500000).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelRequest {
    /// 1–128 of letters, digits and `. _ : / @ -`; unique among live models.
    #[schema(min_length = 1, max_length = 128, pattern = r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$")]
    pub name: String,
    /// Defaults to the name.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub display_name: Option<String>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// The primary supplier (a live supplier's id).
    pub supplier_id: Uuid,
    #[serde(default)]
    #[schema(max_length = 128)]
    pub upstream_name: Option<String>,
    pub model_type: ModelTypeName,
    /// Defaults to `chat`.
    #[serde(default)]
    pub sub_type: Option<SubTypeName>,
    #[serde(default)]
    #[schema(minimum = 1)]
    pub context_window: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 1)]
    pub max_output_tokens: Option<i64>,
    #[schema(minimum = 0)]
    pub input_price: i64,
    #[serde(default)]
    #[schema(minimum = 0)]
    pub cached_input_price: Option<i64>,
    #[schema(minimum = 0)]
    pub output_price: i64,
    /// ISO 4217 (`USD`, `CNY`).
    #[schema(min_length = 3, max_length = 3, pattern = "^[A-Za-z]{3}$")]
    pub currency: String,
    #[serde(default)]
    #[schema(minimum = 1)]
    pub rate_limit_per_minute: Option<i64>,
    #[serde(default)]
    #[schema(max_length = 32)]
    pub api_version: Option<String>,
    /// Model names tried in order when every route of this one failed; at most 10.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub fallback_models: Option<Vec<String>>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

impl From<ModelRequest> for ModelInput {
    fn from(request: ModelRequest) -> Self {
        Self {
            name: request.name,
            display_name: request.display_name,
            description: request.description,
            supplier_id: request.supplier_id,
            upstream_name: request.upstream_name,
            model_type: request.model_type.domain().as_str().to_owned(),
            sub_type: request.sub_type.map(|sub| sub.domain().as_str().to_owned()),
            context_window: request.context_window,
            max_output_tokens: request.max_output_tokens,
            input_price: request.input_price,
            cached_input_price: request.cached_input_price,
            output_price: request.output_price,
            currency: request.currency,
            rate_limit_per_minute: request.rate_limit_per_minute,
            api_version: request.api_version,
            fallback_models: request.fallback_models,
            is_active: request.is_active,
        }
    }
}

/// A JSON Merge Patch of a model: absent = keep, `null` = clear.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelPatch {
    #[schema(min_length = 1, max_length = 128, pattern = r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$")]
    pub name: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, required = false, max_length = 2000)]
    pub description: Option<Option<String>>,
    pub supplier_id: Option<Uuid>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, required = false, max_length = 128)]
    pub upstream_name: Option<Option<String>>,
    pub model_type: Option<ModelTypeName>,
    pub sub_type: Option<SubTypeName>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>, required = false, minimum = 1)]
    pub context_window: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>, required = false, minimum = 1)]
    pub max_output_tokens: Option<Option<i64>>,
    #[schema(minimum = 0)]
    pub input_price: Option<i64>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>, required = false, minimum = 0)]
    pub cached_input_price: Option<Option<i64>>,
    #[schema(minimum = 0)]
    pub output_price: Option<i64>,
    #[schema(min_length = 3, max_length = 3, pattern = "^[A-Za-z]{3}$")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>, required = false, minimum = 1)]
    pub rate_limit_per_minute: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, required = false, max_length = 32)]
    pub api_version: Option<Option<String>>,
    /// `null` clears the list.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>, required = false, max_items = 10)]
    pub fallback_models: Option<Option<Vec<String>>>,
    pub is_active: Option<bool>,
}

impl From<ModelPatch> for switchyard_domain::catalog::ModelPatch {
    fn from(patch: ModelPatch) -> Self {
        Self {
            name: patch.name,
            display_name: patch.display_name.map(Some),
            description: patch.description,
            supplier_id: patch.supplier_id,
            upstream_name: patch.upstream_name,
            model_type: patch.model_type.map(|kind| kind.domain().as_str().to_owned()),
            sub_type: patch.sub_type.map(|sub| Some(sub.domain().as_str().to_owned())),
            context_window: patch.context_window,
            max_output_tokens: patch.max_output_tokens,
            input_price: patch.input_price,
            cached_input_price: patch.cached_input_price,
            output_price: patch.output_price,
            currency: patch.currency,
            rate_limit_per_minute: patch.rate_limit_per_minute,
            api_version: patch.api_version,
            fallback_models: patch.fallback_models,
            is_active: patch.is_active.map(Some),
        }
    }
}

/// Which model becomes the default of its type.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetDefaultRequest {
    /// An active, live model.
    pub model_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DefaultModels {
    /// One model per model type that has a default.
    pub data: Vec<ModelBody>,
}

/// Models, newest first.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(ModelListQuery),
    responses((status = 200, description = "A page of models", body = ModelList)))]
#[get("/api/v1/models")]
async fn list_models(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ModelListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let filter = ModelFilter {
        text: query.q,
        supplier: query.supplier,
        model_type: query.model_type.map(ModelTypeName::domain),
        capability: query.capability,
        category: query.category,
        active: query.active,
        include_deleted: query.include_deleted,
    };
    let models = state.catalog.list_models(&user.0, filter, page).await?;
    Ok(HttpResponse::Ok().json(ModelList {
        next_cursor: models.next.map(encode_cursor),
        data: models.items.into_iter().map(ModelBody::from).collect(),
    }))
}

/// Create a model (admins); it gets a primary route to its supplier.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), request_body = ModelRequest,
    responses((status = 201, description = "The model", body = ModelBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody)))]
#[post("/api/v1/models")]
async fn create_model(
    state: web::Data<AppState>,
    user: AdminUser,
    body: Json<ModelRequest>,
) -> Result<HttpResponse, ApiError> {
    let model = state.catalog.create_model(&user.admin, body.0.into()).await?;
    Ok(HttpResponse::Created().json(ModelBody::from(model)))
}

/// The default model of each type.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])),
    responses((status = 200, description = "The defaults", body = DefaultModels)))]
#[get("/api/v1/models/defaults")]
async fn list_defaults(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let defaults = state.catalog.default_models(&user.0).await?;
    Ok(HttpResponse::Ok().json(DefaultModels {
        data: defaults.into_iter().map(ModelBody::from).collect(),
    }))
}

/// Make a model the default of its type (admins); the previous default of that type stops being one.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), request_body = SetDefaultRequest,
    responses((status = 200, description = "The new default", body = ModelBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
#[post("/api/v1/models/set-default")]
async fn set_default(
    state: web::Data<AppState>,
    user: AdminUser,
    body: Json<SetDefaultRequest>,
) -> Result<HttpResponse, ApiError> {
    let model = state
        .catalog
        .set_default_model(&user.admin, ModelId(body.0.model_id))
        .await?;
    Ok(HttpResponse::Ok().json(ModelBody::from(model)))
}

/// One model with its supplier, parameters, capabilities, categories and routes.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("model_id" = Uuid, Path, description = "The model's id")),
    responses((status = 200, description = "The model", body = ModelDetailBody), (status = 404, description = "No such model (or not visible)", body = ErrorBody)))]
#[get("/api/v1/models/{model_id:[0-9a-fA-F-]+}")]
async fn get_model(
    state: web::Data<AppState>,
    user: AuthUser,
    model_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let detail = state.catalog.get_model(&user.0, ModelId(*model_id)).await?;
    Ok(HttpResponse::Ok().json(ModelDetailBody::from(detail)))
}

/// Replace a model's writable fields (admins). Deactivating the default of its type is a 409.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("model_id" = Uuid, Path, description = "The model's id")), request_body = ModelRequest,
    responses((status = 200, description = "The model", body = ModelBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such live model", body = ErrorBody), (status = 409, description = "The name is taken, or the model is the default of its type", body = ErrorBody)))]
#[put("/api/v1/models/{model_id:[0-9a-fA-F-]+}")]
async fn replace_model(
    state: web::Data<AppState>,
    user: AdminUser,
    model_id: web::Path<Uuid>,
    body: Json<ModelRequest>,
) -> Result<HttpResponse, ApiError> {
    let model = state
        .catalog
        .replace_model(&user.admin, ModelId(*model_id), body.0.into())
        .await?;
    Ok(HttpResponse::Ok().json(ModelBody::from(model)))
}

/// Change some of a model's fields (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("model_id" = Uuid, Path, description = "The model's id")),
    request_body(content = ModelPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The model", body = ModelBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such live model", body = ErrorBody), (status = 409, description = "The name is taken, or the model is the default of its type", body = ErrorBody)))]
#[patch("/api/v1/models/{model_id:[0-9a-fA-F-]+}")]
async fn patch_model(
    state: web::Data<AppState>,
    user: AdminUser,
    model_id: web::Path<Uuid>,
    body: Json<ModelPatch>,
) -> Result<HttpResponse, ApiError> {
    let model = state
        .catalog
        .patch_model(&user.admin, ModelId(*model_id), body.0.into())
        .await?;
    Ok(HttpResponse::Ok().json(ModelBody::from(model)))
}

/// Soft-delete a model (admins). Deleting the default of its type is a 409.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("model_id" = Uuid, Path, description = "The model's id")),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such model", body = ErrorBody), (status = 409, description = "The model is the default of its type", body = ErrorBody)))]
#[delete("/api/v1/models/{model_id:[0-9a-fA-F-]+}")]
async fn delete_model(
    state: web::Data<AppState>,
    user: AdminUser,
    model_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .catalog
        .set_model_deleted(&user.admin, ModelId(*model_id), true)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Bring back a soft-deleted model (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("model_id" = Uuid, Path, description = "The model's id")),
    responses((status = 200, description = "The model", body = ModelBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such model", body = ErrorBody), (status = 409, description = "A live model has its name now", body = ErrorBody)))]
#[post("/api/v1/models/{model_id:[0-9a-fA-F-]+}/restore")]
async fn restore_model(
    state: web::Data<AppState>,
    user: AdminUser,
    model_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let model = state
        .catalog
        .set_model_deleted(&user.admin, ModelId(*model_id), false)
        .await?;
    Ok(HttpResponse::Ok().json(ModelBody::from(model)))
}
