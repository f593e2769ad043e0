//! Keeps the gateway's routing snapshot in step with the catalog: after a successful write to
//! suppliers and their keys, models (and their routes and links), capabilities, categories or a
//! user's model configs, the
//! snapshot is rebuilt before the answer goes, so the next `/v1` call sees the change. Other
//! instances sharing the database pick it up on the refresh interval.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, web};

use crate::AppState;

/// The parts of the platform API whose writes change what the gateway routes to.
const ROUTING_PATHS: &[&str] = &[
    "/api/v1/suppliers",
    "/api/v1/keys",
    "/api/v1/models",
    "/api/v1/capabilities",
    // Categories choose among models for `auto:<category>`.
    "/api/v1/categories",
    "/api/v1/users/me/model-configs",
];

fn changes_routing(method: &Method, path: &str) -> bool {
    let writes = matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    writes
        && ROUTING_PATHS
            .iter()
            .any(|prefix| path == *prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/')))
}

pub async fn refresh_after_catalog_writes(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, Error> {
    let watched = changes_routing(req.method(), req.path());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let response = next.call(req).await?;
    if watched
        && response.status().is_success()
        && let Some(state) = state
    {
        match state.gateway.refresh().await {
            Ok((models, problems)) => {
                for problem in problems {
                    tracing::error!(%problem, "a routing snapshot entry was left out");
                }
                tracing::debug!(models, "routing snapshot refreshed after a catalog write");
            }
            // The write stands; the interval refresh will catch up.
            Err(error) => tracing::warn!(%error, "the routing snapshot could not be refreshed after a catalog write"),
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_writes_to_routing_resources_refresh() {
        assert!(changes_routing(&Method::POST, "/api/v1/models"));
        assert!(changes_routing(&Method::PATCH, "/api/v1/suppliers/0190/key"));
        assert!(changes_routing(&Method::DELETE, "/api/v1/capabilities/x"));
        assert!(!changes_routing(&Method::GET, "/api/v1/models"));
        assert!(changes_routing(&Method::POST, "/api/v1/categories/associations"));
        assert!(!changes_routing(&Method::POST, "/api/v1/api-keys"));
        assert!(!changes_routing(&Method::POST, "/api/v1/modelsx"));
    }
}
