//! `GET /v1/models` and `GET /v1/models/{model}`: the catalog models the caller may use, in
//! OpenAI's shape, each with a `switchyard` object saying what the model can do and costs.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use switchyard_domain::gateway::RoutableModel;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::GatewayUser;
use crate::error::{ApiError, OpenAiErrorBody};

/// Prices in integer micro-units of `currency` per million tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelPricing {
    pub currency: String,
    pub input_per_million: i64,
    /// `null`: cached input costs the input price.
    pub cached_input_per_million: Option<i64>,
    pub output_per_million: i64,
}

/// What Switchyard knows about a model beyond OpenAI's fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelFacts {
    pub display_name: String,
    /// `chat`, `embedding`, …
    #[serde(rename = "type")]
    pub model_type: &'static str,
    /// Names of its capabilities (`vision`, `tool_calling`, `reasoning`, …).
    pub capabilities: Vec<String>,
    pub input_modalities: Vec<&'static str>,
    pub output_modalities: Vec<&'static str>,
    pub context_window: Option<i64>,
    pub max_output_tokens: Option<i64>,
    pub pricing: ModelPricing,
}

/// A model in OpenAI's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelObject {
    /// The name to send as `model`.
    pub id: String,
    /// `model`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: i64,
    /// The supplier of its primary route.
    pub owned_by: String,
    pub switchyard: ModelFacts,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GatewayModelList {
    /// `list`.
    pub object: &'static str,
    pub data: Vec<ModelObject>,
}

impl ModelObject {
    fn new(model: &RoutableModel) -> Self {
        // What a call is charged: the primary route's prices (its overrides over the model's).
        let pricing = model.routes.first().map_or(&model.pricing, |route| &route.pricing);
        Self {
            id: model.name.clone(),
            object: "model",
            created: model.created_at.timestamp(),
            owned_by: model
                .routes
                .first()
                .map(|route| route.supplier_name.clone())
                .unwrap_or_default(),
            switchyard: ModelFacts {
                display_name: model.display_name.clone(),
                model_type: model.model_type.as_str(),
                capabilities: model.capabilities.clone(),
                input_modalities: model.input_types.iter().map(|kind| kind.as_str()).collect(),
                output_modalities: model.output_types.iter().map(|kind| kind.as_str()).collect(),
                context_window: model.context_window,
                max_output_tokens: model.max_output_tokens,
                pricing: ModelPricing {
                    currency: pricing.currency.clone(),
                    input_per_million: pricing.input,
                    cached_input_per_million: pricing.cached_input,
                    output_per_million: pricing.output,
                },
            },
        }
    }
}

/// List the models the caller may use.
#[utoipa::path(
    tag = "gateway",
    security(("api_key" = []), ("bearer_jwt" = [])),
    responses(
        (status = 200, description = "The models, by name", body = GatewayModelList),
        (status = 401, description = "No valid API key or access token", body = OpenAiErrorBody),
    )
)]
#[get("/v1/models")]
pub async fn list_models(state: web::Data<AppState>, user: GatewayUser) -> Result<HttpResponse, ApiError> {
    let data = state
        .gateway
        .models(&user.0)
        .iter()
        .map(|model| ModelObject::new(model))
        .collect();
    let mut response = HttpResponse::Ok();
    crate::rate::insert(&mut response, &state.gateway.rate_headers(&user.0).await);
    Ok(response.json(GatewayModelList { object: "list", data }))
}

/// One model the caller may use.
#[utoipa::path(
    tag = "gateway",
    security(("api_key" = []), ("bearer_jwt" = [])),
    params(("model" = String, Path, description = "The model's name (it may hold slashes)")),
    responses(
        (status = 200, description = "The model", body = ModelObject),
        (status = 401, description = "No valid API key or access token", body = OpenAiErrorBody),
        (status = 404, description = "No such model, or not one this key may use (`model_not_found`)", body = OpenAiErrorBody),
    )
)]
#[get("/v1/models/{model:.+}")]
pub async fn get_model(
    state: web::Data<AppState>,
    user: GatewayUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let model = state.gateway.model(&user.0, &path.into_inner())?;
    let mut response = HttpResponse::Ok();
    crate::rate::insert(&mut response, &state.gateway.rate_headers(&user.0).await);
    Ok(response.json(ModelObject::new(&model)))
}
