//! Routes that exist only in tests, to drive the real extractors and error rendering with a
//! JSON body before any product route takes one: `POST /api/v1/test/widgets` and its `/v1` twin.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use switchyard_api::ApiError;
use switchyard_api::auth::GatewayUser;
use switchyard_api::extract::Json;
use switchyard_domain::DomainError;
use utoipa_actix_web::service_config::ServiceConfig;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Widget {
    pub name: String,
    pub size: u32,
    pub tags: Vec<String>,
}

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.route("/api/v1/test/widgets", web::post().to(create_widget))
        .route("/v1/test/widgets", web::post().to(create_widget))
        .route("/v1/test/whoami", web::get().to(whoami));
}

/// Answers who a gateway caller is (the gateway's routes use the same extractor).
async fn whoami(caller: GatewayUser) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "user_id": caller.0.user_id.0,
        "key_id": caller.0.key_id.map(|id| id.0),
        "allowed_models": caller.0.allowed_models,
    }))
}

async fn create_widget(Json(widget): Json<Widget>) -> Result<HttpResponse, ApiError> {
    if widget.name.trim().is_empty() {
        return Err(DomainError::Validation {
            field: "name".to_owned(),
            code: "blank",
            message: "must not be blank".to_owned(),
        }
        .into());
    }
    Ok(HttpResponse::Created().json(widget))
}
