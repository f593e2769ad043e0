//! What a health probe reports (the `HealthProbe` port is in `ports.rs`).

use std::time::Duration;

/// The result of probing one dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyHealth {
    /// Which dependency: `database`, later `redis`, ...
    pub name: &'static str,
    /// Which kind of it: `sqlite`, `postgres`, `mysql`, ...
    pub kind: &'static str,
    /// Whether it answered.
    pub up: bool,
    /// How long the probe took.
    pub latency: Duration,
    /// Why it is down, in words safe to show (no credentials, no hosts).
    pub error: Option<String>,
}

/// A snapshot of a connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Connections open now (idle and in use).
    pub connections: u32,
    /// Of those, the idle ones.
    pub idle: u32,
    /// The most the pool will open.
    pub max_connections: u32,
    /// Statements run since start (every query, transactions included).
    pub queries: u64,
}
