//! The usage context's store: rollups read for the statistics, and the retention's removals.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::kernel::error::StoreError;
use crate::usage::stats::{Dimension, Period, RollupQuery, RollupRow};

/// Reads the rollups (never the raw call log) and removes what retention no longer keeps.
#[async_trait]
pub trait UsageStore: Send + Sync + std::fmt::Debug {
    /// The usage rollups of the query's period and filter, summed per its grouping and currency.
    async fn usage(&self, query: &RollupQuery) -> Result<Vec<RollupRow>, StoreError>;

    /// The upstream keys' rollups of a period, grouped by key (`group`) and currency.
    async fn upstream_usage(&self, period: Period) -> Result<Vec<RollupRow>, StoreError>;

    /// The names of a dimension's rows (usernames, key names, model and supplier names).
    async fn names(&self, dimension: Dimension, ids: &[Uuid]) -> Result<HashMap<Uuid, String>, StoreError>;

    /// The names of upstream keys.
    async fn upstream_key_names(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, String>, StoreError>;

    /// Removes up to `limit` raw call-log rows older than `before`, oldest first; the number
    /// removed.
    async fn purge_calls(&self, before: DateTime<Utc>, limit: u64) -> Result<u64, StoreError>;

    /// Removes up to `limit` rollup rows (of either kind) of hours before `before`.
    async fn purge_rollups(&self, before: DateTime<Utc>, limit: u64) -> Result<u64, StoreError>;
}
