//! `/api/v1/models/{model_id}/parameters` and `/routes`: a model's typed parameters (defaults
//! and limits the gateway applies) and its routes to suppliers. Writes are admin only.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::catalog::{ModelId, Route, RouteId, RouteInput};
use switchyard_domain::catalog::{Parameter, ParameterId, ParameterInput};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::names::ParameterTypeName;
use crate::routes::models::SupplierRef;

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_parameters)
        .service(create_parameter)
        .service(replace_parameter)
        .service(delete_parameter)
        .service(list_routes)
        .service(create_route)
        .service(replace_route)
        .service(delete_route);
}

/// A typed parameter. Values are JSON of the parameter's type.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParameterBody {
    pub id: Uuid,
    pub model_id: Uuid,
    pub name: String,
    /// `int`, `float`, `bool`, `string` or `json`.
    pub parameter_type: String,
    #[schema(value_type = Option<Object>)]
    pub default_value: Option<serde_json::Value>,
    #[schema(value_type = Option<f64>)]
    pub min_value: Option<serde_json::Value>,
    #[schema(value_type = Option<f64>)]
    pub max_value: Option<serde_json::Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub allowed_values: Option<Vec<serde_json::Value>>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Parameter> for ParameterBody {
    fn from(parameter: Parameter) -> Self {
        let spec = parameter.spec;
        Self {
            id: parameter.id.0,
            model_id: parameter.model_id.0,
            name: spec.name,
            parameter_type: spec.parameter_type.as_str().to_owned(),
            default_value: spec.default_value,
            min_value: spec.min_value,
            max_value: spec.max_value,
            allowed_values: spec.allowed_values,
            description: spec.description,
            created_at: parameter.created_at,
            updated_at: parameter.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParameterList {
    pub data: Vec<ParameterBody>,
}

/// A parameter's writable fields. Every value must be of `parameter_type` (422 naming the
/// parameter otherwise); bounds are for int and float, allowed values for int, float and string.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParameterRequest {
    /// 1–64 of `[a-z0-9_]`, starting with a letter; unique per model.
    #[schema(min_length = 1, max_length = 64, pattern = "^[a-z][a-z0-9_]*$")]
    pub name: String,
    pub parameter_type: ParameterTypeName,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub default_value: Option<serde_json::Value>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub min_value: Option<serde_json::Value>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub max_value: Option<serde_json::Value>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub allowed_values: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
}

impl From<ParameterRequest> for ParameterInput {
    fn from(request: ParameterRequest) -> Self {
        Self {
            name: request.name,
            parameter_type: request.parameter_type.domain().as_str().to_owned(),
            default_value: request.default_value,
            min_value: request.min_value,
            max_value: request.max_value,
            allowed_values: request.allowed_values,
            description: request.description,
        }
    }
}

/// A route from a model to a supplier.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouteBody {
    pub id: Uuid,
    pub model_id: Uuid,
    pub supplier: SupplierRef,
    pub upstream_name: String,
    /// Follows the model's own supplier and upstream name; cannot be deleted.
    pub is_primary: bool,
    /// Lower is tried first.
    pub priority: i32,
    /// Share among routes of equal priority.
    pub weight: i32,
    /// Price overrides on this route, in the model's currency; `null` = the model's price.
    pub input_price: Option<i64>,
    pub cached_input_price: Option<i64>,
    pub output_price: Option<i64>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Route> for RouteBody {
    fn from(route: Route) -> Self {
        let spec = route.spec;
        Self {
            id: route.id.0,
            model_id: route.model_id.0,
            supplier: route.supplier.into(),
            upstream_name: spec.upstream_name,
            is_primary: route.is_primary,
            priority: spec.priority,
            weight: spec.weight,
            input_price: spec.input_price,
            cached_input_price: spec.cached_input_price,
            output_price: spec.output_price,
            is_active: spec.is_active,
            created_at: route.created_at,
            updated_at: route.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RouteList {
    pub data: Vec<RouteBody>,
}

/// A route's writable fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteRequest {
    /// A live supplier's id.
    pub supplier_id: Uuid,
    /// The supplier's name for the model.
    #[schema(min_length = 1, max_length = 128, pattern = r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$")]
    pub upstream_name: String,
    /// 0–1000, default 0.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000)]
    pub priority: Option<i32>,
    /// 1–1000, default 1.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    pub weight: Option<i32>,
    #[serde(default)]
    #[schema(minimum = 0)]
    pub input_price: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 0)]
    pub cached_input_price: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 0)]
    pub output_price: Option<i64>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

impl From<RouteRequest> for RouteInput {
    fn from(request: RouteRequest) -> Self {
        Self {
            supplier_id: request.supplier_id,
            upstream_name: request.upstream_name,
            priority: request.priority,
            weight: request.weight,
            input_price: request.input_price,
            cached_input_price: request.cached_input_price,
            output_price: request.output_price,
            is_active: request.is_active,
        }
    }
}

/// A model's parameters, by name.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("model_id" = Uuid, Path, description = "The model's id")),
    responses((status = 200, description = "The parameters", body = ParameterList), (status = 404, description = "No such model (or not visible)", body = ErrorBody)))]
#[get("/api/v1/models/{model_id:[0-9a-fA-F-]+}/parameters")]
async fn list_parameters(
    state: web::Data<AppState>,
    user: AuthUser,
    model_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let detail = state.catalog.get_model(&user.0, ModelId(*model_id)).await?;
    Ok(HttpResponse::Ok().json(ParameterList {
        data: detail.parameters.into_iter().map(ParameterBody::from).collect(),
    }))
}

/// Add a parameter to a model (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("model_id" = Uuid, Path, description = "The model's id")), request_body = ParameterRequest,
    responses((status = 201, description = "The parameter", body = ParameterBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such live model", body = ErrorBody), (status = 409, description = "The model has a parameter of this name", body = ErrorBody)))]
#[post("/api/v1/models/{model_id:[0-9a-fA-F-]+}/parameters")]
async fn create_parameter(
    state: web::Data<AppState>,
    user: AdminUser,
    model_id: web::Path<Uuid>,
    body: Json<ParameterRequest>,
) -> Result<HttpResponse, ApiError> {
    let parameter = state
        .catalog
        .create_parameter(&user.admin, ModelId(*model_id), body.0.into())
        .await?;
    Ok(HttpResponse::Created().json(ParameterBody::from(parameter)))
}

/// Replace a parameter (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])),
    params(("model_id" = Uuid, Path, description = "The model's id"), ("parameter_id" = Uuid, Path, description = "The parameter's id")), request_body = ParameterRequest,
    responses((status = 200, description = "The parameter", body = ParameterBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such model or parameter", body = ErrorBody), (status = 409, description = "The model has a parameter of this name", body = ErrorBody)))]
#[put("/api/v1/models/{model_id:[0-9a-fA-F-]+}/parameters/{parameter_id}")]
async fn replace_parameter(
    state: web::Data<AppState>,
    user: AdminUser,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<ParameterRequest>,
) -> Result<HttpResponse, ApiError> {
    let (model_id, parameter_id) = path.into_inner();
    let parameter = state
        .catalog
        .replace_parameter(&user.admin, ModelId(model_id), ParameterId(parameter_id), body.0.into())
        .await?;
    Ok(HttpResponse::Ok().json(ParameterBody::from(parameter)))
}

/// Remove a parameter (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])),
    params(("model_id" = Uuid, Path, description = "The model's id"), ("parameter_id" = Uuid, Path, description = "The parameter's id")),
    responses((status = 204, description = "Removed"), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such parameter", body = ErrorBody)))]
#[delete("/api/v1/models/{model_id:[0-9a-fA-F-]+}/parameters/{parameter_id}")]
async fn delete_parameter(
    state: web::Data<AppState>,
    user: AdminUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (model_id, parameter_id) = path.into_inner();
    state
        .catalog
        .delete_parameter(&user.admin, ModelId(model_id), ParameterId(parameter_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A model's routes: the primary one first, then by priority. Other users see active routes.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("model_id" = Uuid, Path, description = "The model's id")),
    responses((status = 200, description = "The routes", body = RouteList), (status = 404, description = "No such model (or not visible)", body = ErrorBody)))]
#[get("/api/v1/models/{model_id:[0-9a-fA-F-]+}/routes")]
async fn list_routes(
    state: web::Data<AppState>,
    user: AuthUser,
    model_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let detail = state.catalog.get_model(&user.0, ModelId(*model_id)).await?;
    Ok(HttpResponse::Ok().json(RouteList {
        data: detail.routes.into_iter().map(RouteBody::from).collect(),
    }))
}

/// Add a route to another supplier (admins).
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])), params(("model_id" = Uuid, Path, description = "The model's id")), request_body = RouteRequest,
    responses((status = 201, description = "The route", body = RouteBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such live model", body = ErrorBody), (status = 409, description = "The model already routes there", body = ErrorBody)))]
#[post("/api/v1/models/{model_id:[0-9a-fA-F-]+}/routes")]
async fn create_route(
    state: web::Data<AppState>,
    user: AdminUser,
    model_id: web::Path<Uuid>,
    body: Json<RouteRequest>,
) -> Result<HttpResponse, ApiError> {
    let route = state
        .catalog
        .create_route(&user.admin, ModelId(*model_id), body.0.into())
        .await?;
    Ok(HttpResponse::Created().json(RouteBody::from(route)))
}

/// Replace a route (admins). The primary route keeps the model's supplier and upstream name.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])),
    params(("model_id" = Uuid, Path, description = "The model's id"), ("route_id" = Uuid, Path, description = "The route's id")), request_body = RouteRequest,
    responses((status = 200, description = "The route", body = RouteBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such model or route", body = ErrorBody), (status = 409, description = "The primary route follows the model, or the model already routes there", body = ErrorBody)))]
#[put("/api/v1/models/{model_id:[0-9a-fA-F-]+}/routes/{route_id}")]
async fn replace_route(
    state: web::Data<AppState>,
    user: AdminUser,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<RouteRequest>,
) -> Result<HttpResponse, ApiError> {
    let (model_id, route_id) = path.into_inner();
    let route = state
        .catalog
        .replace_route(&user.admin, ModelId(model_id), RouteId(route_id), body.0.into())
        .await?;
    Ok(HttpResponse::Ok().json(RouteBody::from(route)))
}

/// Remove a route (admins); the primary route cannot be removed.
#[utoipa::path(tag = "catalog", security(("bearer_jwt" = [])),
    params(("model_id" = Uuid, Path, description = "The model's id"), ("route_id" = Uuid, Path, description = "The route's id")),
    responses((status = 204, description = "Removed"), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such route", body = ErrorBody), (status = 409, description = "The primary route follows the model", body = ErrorBody)))]
#[delete("/api/v1/models/{model_id:[0-9a-fA-F-]+}/routes/{route_id}")]
async fn delete_route(
    state: web::Data<AppState>,
    user: AdminUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (model_id, route_id) = path.into_inner();
    state
        .catalog
        .delete_route(&user.admin, ModelId(model_id), RouteId(route_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
