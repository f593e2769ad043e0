//! Usage and governance: hourly rollups of the call log (`rollup.rs`), the statistics read from
//! them (`stats.rs`, the use cases in `service.rs`), and the store they need (`ports.rs`); rate
//! limits, concurrency and budgets (`limits.rs`: their arithmetic and the `LimitStore` port;
//! `memory.rs`: one instance's store; `governor.rs`: the limits in force and their checks).

pub mod governor;
pub mod limits;
pub mod memory;
pub mod ports;
pub mod rollup;
pub mod service;
pub mod stats;

pub use chrono_tz::Tz;
pub use governor::{BudgetStatus, Estimate, FailMode, Governor, LimitSettings, Permit, Rules, Subjects};
pub use limits::{
    BudgetState, BudgetWindow, Check, Lease, LimitStore, LimitStoreError, Measure, Rate, RateState, Settlement,
    Subject, Verdict,
};
pub use memory::MemoryLimitStore;
pub use ports::UsageStore;
pub use rollup::{
    CLIENT_CLOSED, Call, LATENCY_BOUNDS_MS, LATENCY_BUCKETS, Measures, Rollups, Tokens, UpstreamUsageKey, UsageKey,
    day_of, hour_of,
};
pub use service::{Purged, Retention, UsagePorts, UsageStats};
pub use stats::{
    Cost, Dimension, Granularity, Period, RollupQuery, RollupRow, SeriesPoint, TableRow, Totals, UsageFilter, zone,
};
