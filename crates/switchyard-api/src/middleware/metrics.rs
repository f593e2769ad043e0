//! Prometheus metrics: HTTP requests by route and status, a latency histogram, and the
//! database pool, rendered at `GET /metrics`. One registry per server (not per worker).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use switchyard_domain::HealthProbe;
use switchyard_domain::accounts::CacheSizes;

/// The server's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    pool: IntGaugeVec,
    identity_cache: IntGaugeVec,
    queries: IntCounter,
    /// The pool's query count when last rendered (the counter is advanced by the difference).
    queries_seen: Arc<AtomicU64>,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("switchyard".to_owned()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route, method and status",
            ),
            &["method", "route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to answer an HTTP request").buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ]),
            &["method", "route"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Database pool connections, by state (in_use, idle, max)",
            ),
            &["state"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        let identity_cache = IntGaugeVec::new(
            Opts::new(
                "identity_cache_entries",
                "Entries held by the identity cache, by map (users, keys, unknown_keys)",
            ),
            &["cache"],
        )?;
        let queries = IntCounter::new("db_queries_total", "Database statements run since start")?;
        registry.register(Box::new(pool.clone()))?;
        registry.register(Box::new(queries.clone()))?;
        registry.register(Box::new(identity_cache.clone()))?;
        Ok(Self {
            registry,
            requests,
            duration,
            pool,
            identity_cache,
            queries,
            queries_seen: Arc::new(AtomicU64::new(0)),
        })
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.duration.with_label_values(&[method, route]).observe(seconds);
    }

    /// The text exposition of every metric, with the pool and the identity cache read now.
    pub fn render(&self, probe: &dyn HealthProbe, identities: CacheSizes) -> Result<String, prometheus::Error> {
        for (cache, entries) in [
            ("users", identities.users),
            ("keys", identities.keys),
            ("unknown_keys", identities.unknown_keys),
        ] {
            self.identity_cache
                .with_label_values(&[cache])
                .set(i64::try_from(entries).unwrap_or(i64::MAX));
        }
        if let Some(stats) = probe.pool_stats() {
            let in_use = stats.connections.saturating_sub(stats.idle);
            self.pool.with_label_values(&["in_use"]).set(i64::from(in_use));
            self.pool.with_label_values(&["idle"]).set(i64::from(stats.idle));
            self.pool
                .with_label_values(&["max"])
                .set(i64::from(stats.max_connections));
            // The pool counts; the counter catches up by the difference, once even when two
            // renders race.
            let seen = self.queries_seen.fetch_max(stats.queries, Ordering::Relaxed);
            self.queries.inc_by(stats.queries.saturating_sub(seen));
        }
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        String::from_utf8(buffer).map_err(|error| prometheus::Error::Msg(error.to_string()))
    }
}

/// Counts and times every request under its route pattern (`unmatched` for unknown paths, so
/// scanners cannot blow up the label set).
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = match *req.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let outcome = next.call(req).await;
    if let Some(metrics) = metrics {
        let status = match &outcome {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        };
        metrics.observe(method, &route, status.as_u16(), started.elapsed().as_secs_f64());
    }
    outcome
}
