//! Keeps the gateway's routing snapshot in step with the catalog: after a successful write to
//! suppliers and their keys, models (and their routes and links), capabilities, categories or a
//! user's model configs, the
//! snapshot is rebuilt before the answer goes, so the next `/v1` call sees the change. Other
//! instances sharing the database pick it up on the refresh interval.
//!
//! Rebuilds are coalesced: writes that land while one runs share the next one, so however many
//! writes arrive at once (any user may write their own model configs), at most one rebuild runs
//! and one waits.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{Error, web};

use crate::AppState;

/// Coalesces snapshot rebuilds after writes.
#[derive(Debug, Default)]
pub struct Refresher {
    /// Writes seen so far.
    writes: AtomicU64,
    /// The writes the last rebuild that succeeded began after.
    covered: AtomicU64,
    /// One rebuild at a time.
    turn: tokio::sync::Mutex<()>,
}

impl Refresher {
    /// Returns once a rebuild that began after this write has succeeded (its own, or one that
    /// another write started meanwhile), or its own failed; `rebuild` says whether it succeeded.
    pub async fn after_write(&self, rebuild: impl AsyncFnOnce() -> bool) {
        let mine = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        let _turn = self.turn.lock().await;
        if self.covered.load(Ordering::SeqCst) >= mine {
            return;
        }
        let through = self.writes.load(Ordering::SeqCst);
        if rebuild().await {
            self.covered.fetch_max(through, Ordering::SeqCst);
        }
    }
}

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
        state
            .refresher
            .after_write(async || match state.gateway.refresh().await {
                Ok((models, problems)) => {
                    for problem in problems {
                        tracing::error!(%problem, "a routing snapshot entry was left out");
                    }
                    tracing::debug!(models, "routing snapshot refreshed after a catalog write");
                    true
                }
                // The write stands; the interval refresh will catch up.
                Err(error) => {
                    tracing::warn!(%error, "the routing snapshot could not be refreshed after a catalog write");
                    false
                }
            })
            .await;
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn writes_at_once_share_rebuilds() {
        let refresher = Arc::new(Refresher::default());
        let rebuilds = Arc::new(AtomicU64::new(0));
        let writers: Vec<_> = (0..50)
            .map(|_| {
                let (refresher, rebuilds) = (refresher.clone(), rebuilds.clone());
                tokio::spawn(async move {
                    refresher
                        .after_write(async || {
                            rebuilds.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                            true
                        })
                        .await;
                })
            })
            .collect();
        for writer in writers {
            writer.await.expect("a writer");
        }
        let count = rebuilds.load(Ordering::SeqCst);
        assert!((1..=2).contains(&count), "{count} rebuilds for 50 writes");
        // A write after them all gets a rebuild of its own.
        refresher
            .after_write(async || {
                rebuilds.fetch_add(1, Ordering::SeqCst);
                true
            })
            .await;
        assert_eq!(rebuilds.load(Ordering::SeqCst), count + 1);
    }

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
