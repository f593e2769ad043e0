//! `GET /health/live` and `GET /health/ready`.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::AppState;

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(live).service(ready);
}

/// The process is running.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveStatus {
    /// Always `live`.
    pub status: &'static str,
}

/// Whether the server can serve requests, and the state of each dependency.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyStatus {
    /// `ready` when every dependency is up, else `unavailable`.
    pub status: &'static str,
    /// When the checks ran (RFC 3339, UTC).
    pub checked_at: DateTime<Utc>,
    pub checks: ReadyChecks,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyChecks {
    pub database: DependencyStatus,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DependencyStatus {
    /// `up` or `down`.
    pub status: &'static str,
    /// `sqlite`, `postgres` or `mysql`.
    pub kind: &'static str,
    pub latency_ms: u64,
    /// Why it is down; `null` when up.
    pub error: Option<String>,
}

/// Liveness: answers 200 as long as the process serves HTTP.
#[utoipa::path(tag = "health", responses((status = 200, description = "The process is alive", body = LiveStatus)))]
#[get("/health/live")]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(LiveStatus { status: "live" })
}

/// Readiness: 200 when the database answers, 503 (same body) when it does not.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "Every dependency is up", body = ReadyStatus),
        (status = 503, description = "A dependency is down", body = ReadyStatus),
    )
)]
#[get("/health/ready")]
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let database = state.probe.check().await;
    if let Some(error) = &database.error {
        tracing::warn!(dependency = database.name, %error, "readiness check failed");
    }
    let body = ReadyStatus {
        status: if database.up { "ready" } else { "unavailable" },
        checked_at: state.clock.now(),
        checks: ReadyChecks {
            database: DependencyStatus {
                status: if database.up { "up" } else { "down" },
                kind: database.kind,
                latency_ms: u64::try_from(database.latency.as_millis()).unwrap_or(u64::MAX),
                error: database.error,
            },
        },
    };
    if database.up {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
