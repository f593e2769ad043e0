//! Usage and governance: hourly rollups of the call log (`rollup.rs`), the statistics read from
//! them (`stats.rs`, the use cases in `service.rs`), and the store they need (`ports.rs`).

pub mod ports;
pub mod rollup;
pub mod service;
pub mod stats;

pub use chrono_tz::Tz;
pub use ports::UsageStore;
pub use rollup::{
    CLIENT_CLOSED, Call, LATENCY_BOUNDS_MS, LATENCY_BUCKETS, Measures, Rollups, Tokens, UpstreamUsageKey, UsageKey,
    hour_of,
};
pub use service::{Purged, Retention, UsagePorts, UsageStats};
pub use stats::{
    Cost, Dimension, Granularity, Period, RollupQuery, RollupRow, SeriesPoint, TableRow, Totals, UsageFilter, zone,
};
