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
use switchyard_domain::gateway::{CallLogCounts, CallObserver, FinishedCall};

/// The server's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    pool: IntGaugeVec,
    identity_cache: IntGaugeVec,
    gateway: GatewayMetrics,
    call_log: IntGaugeVec,
    queries: IntCounter,
    /// The pool's query count when last rendered (the counter is advanced by the difference).
    queries_seen: Arc<AtomicU64>,
    /// Limit checks that could not reach the limit store (Redis).
    limit_failures: IntCounter,
    limit_failures_seen: Arc<AtomicU64>,
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
        let call_log = IntGaugeVec::new(
            Opts::new(
                "call_log_entries",
                "The call-log writer's counts since start: written, pending, spilled, replayed, failed_batches",
            ),
            &["state"],
        )?;
        registry.register(Box::new(call_log.clone()))?;
        let limit_failures = IntCounter::new(
            "limit_store_failures_total",
            "Limit checks that could not reach the limit store (Redis) since start",
        )?;
        registry.register(Box::new(limit_failures.clone()))?;
        let gateway = GatewayMetrics::new(&registry)?;
        registry.register(Box::new(pool.clone()))?;
        registry.register(Box::new(queries.clone()))?;
        registry.register(Box::new(identity_cache.clone()))?;
        Ok(Self {
            registry,
            requests,
            duration,
            pool,
            identity_cache,
            gateway,
            call_log,
            queries,
            queries_seen: Arc::new(AtomicU64::new(0)),
            limit_failures,
            limit_failures_seen: Arc::new(AtomicU64::new(0)),
        })
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.duration.with_label_values(&[method, route]).observe(seconds);
    }

    /// The text exposition of every metric, with the pool and the identity cache read now.
    pub fn render(
        &self,
        probe: &dyn HealthProbe,
        identities: CacheSizes,
        log: CallLogCounts,
        limit_failures: u64,
    ) -> Result<String, prometheus::Error> {
        let seen = self.limit_failures_seen.fetch_max(limit_failures, Ordering::Relaxed);
        self.limit_failures.inc_by(limit_failures.saturating_sub(seen));
        for (state, count) in [
            ("written", log.written),
            ("pending", log.pending),
            ("spilled", log.spilled),
            ("replayed", log.replayed),
            ("failed_batches", log.failed_batches),
        ] {
            self.call_log
                .with_label_values(&[state])
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
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

/// The gateway's own metrics: calls by model, supplier and outcome, tokens by model and kind,
/// and the time spent upstream, to the first token, and in the gateway itself.
#[derive(Debug, Clone)]
struct GatewayMetrics {
    requests: IntCounterVec,
    tokens: IntCounterVec,
    upstream: HistogramVec,
    first_token: HistogramVec,
    overhead: prometheus::Histogram,
}

/// Seconds, from a millisecond to ten minutes.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

impl GatewayMetrics {
    fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let requests = IntCounterVec::new(
            Opts::new(
                "gateway_requests_total",
                "Gateway calls by model, supplier and outcome (ok, or the error code)",
            ),
            &["model", "supplier", "outcome"],
        )?;
        let tokens = IntCounterVec::new(
            Opts::new(
                "gateway_tokens_total",
                "Tokens by model and kind (prompt, completion, cached_input, cache_write, reasoning)",
            ),
            &["model", "kind"],
        )?;
        let upstream = HistogramVec::new(
            HistogramOpts::new(
                "gateway_upstream_duration_seconds",
                "Time waiting on the supplier (a whole stream for streamed calls)",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["supplier"],
        )?;
        let first_token = HistogramVec::new(
            HistogramOpts::new(
                "gateway_time_to_first_token_seconds",
                "Time from the request to the first token",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["model"],
        )?;
        let overhead = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "gateway_overhead_seconds",
                "Time a call spent in the gateway itself (its latency minus the time upstream)",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
            ]),
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(tokens.clone()))?;
        registry.register(Box::new(upstream.clone()))?;
        registry.register(Box::new(first_token.clone()))?;
        registry.register(Box::new(overhead.clone()))?;
        Ok(Self {
            requests,
            tokens,
            upstream,
            first_token,
            overhead,
        })
    }
}

fn seconds(millis: i64) -> f64 {
    // Milliseconds far below 2^52 convert exactly.
    millis.max(0) as f64 / 1000.0
}

impl CallObserver for Metrics {
    fn finished(&self, call: &FinishedCall<'_>) {
        let entry = call.entry;
        let metrics = &self.gateway;
        let outcome = entry.error_code.as_deref().unwrap_or("ok");
        metrics
            .requests
            .with_label_values(&[call.model, call.supplier, outcome])
            .inc();
        let usage = entry.usage;
        for (kind, count) in [
            ("prompt", usage.prompt_tokens),
            ("completion", usage.completion_tokens),
            ("cached_input", usage.cached_input_tokens),
            ("cache_write", usage.cache_write_tokens),
            ("reasoning", usage.reasoning_tokens),
        ] {
            if let Ok(count) = u64::try_from(count)
                && count > 0
            {
                metrics.tokens.with_label_values(&[call.model, kind]).inc_by(count);
            }
        }
        if let Some(upstream) = call.upstream_ms {
            metrics
                .upstream
                .with_label_values(&[call.supplier])
                .observe(seconds(upstream));
            metrics.overhead.observe(seconds(entry.latency_ms - upstream));
        }
        if let Some(first) = entry.time_to_first_token_ms {
            metrics
                .first_token
                .with_label_values(&[call.model])
                .observe(seconds(first));
        }
        if entry.stream {
            // A stream's access-log line is written when its headers go; this one says how it ended.
            tracing::info!(
                request_id = %entry.request_id,
                model = call.model,
                supplier = call.supplier,
                status = entry.status_code,
                outcome,
                duration_ms = entry.latency_ms,
                time_to_first_token_ms = entry.time_to_first_token_ms,
                prompt_tokens = usage.prompt_tokens,
                completion_tokens = usage.completion_tokens,
                estimated = usage.estimated,
                "request finished"
            );
        }
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
