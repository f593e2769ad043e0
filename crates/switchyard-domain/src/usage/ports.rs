//! The usage context's store: rollups read for the statistics, and the retention's removals.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::accounts::limits::Limits;
use crate::accounts::service::Accounts;
use crate::kernel::error::StoreError;
use crate::kernel::ids::UserId;
use crate::usage::limits::Subject;
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

    /// What a key or a user spent in a currency from `from` until `to` (their hours; `None`:
    /// unbounded), BYOK calls left out: the durable spend budgets start from.
    async fn spent(
        &self,
        subject: Subject,
        currency: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<i64, StoreError>;

    /// Removes up to `limit` raw call-log rows older than `before`, oldest first; the number
    /// removed.
    async fn purge_calls(&self, before: DateTime<Utc>, limit: u64) -> Result<u64, StoreError>;

    /// Removes up to `limit` rollup rows (of either kind) of hours before `before`.
    async fn purge_rollups(&self, before: DateTime<Utc>, limit: u64) -> Result<u64, StoreError>;
}

/// The limits an admin set on users, as this instance knows them (the identity cache).
#[async_trait]
pub trait UserLimits: Send + Sync + std::fmt::Debug {
    async fn limits_of(&self, user: UserId) -> Result<Limits, StoreError>;
}

#[async_trait]
impl UserLimits for Accounts {
    async fn limits_of(&self, user: UserId) -> Result<Limits, StoreError> {
        self.user_limits(user).await
    }
}
