//! The kernel's ports, which every context may use: the clock (every instant the domain records
//! comes from here, never from a database default), health probes, and instance-wide settings.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::kernel::error::StoreError;
use crate::kernel::health::{DependencyHealth, PoolStats};
use crate::kernel::settings::{Setting, SettingKey};

/// A source of the current time. Production uses the system clock (in the server crate);
/// tests use [`ManualClock`](crate::kernel::clock::ManualClock) to let time pass without sleeping.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant, truncated to microseconds (the precision every backend stores).
    fn now(&self) -> DateTime<Utc>;
}

/// A dependency that can be probed for readiness and measured for metrics.
#[async_trait]
pub trait HealthProbe: Send + Sync + std::fmt::Debug {
    /// Checks the dependency with a cheap round trip.
    async fn check(&self) -> DependencyHealth;

    /// The dependency's connection pool, when it has one.
    fn pool_stats(&self) -> Option<PoolStats>;
}

/// Reads and writes instance-wide settings.
#[async_trait]
pub trait SettingsRepo: Send + Sync + std::fmt::Debug {
    async fn get(&self, key: &SettingKey) -> Result<Option<Setting>, StoreError>;

    /// Inserts or replaces the value of `key`, stamped with `at`.
    async fn put(&self, key: &SettingKey, value: &str, at: DateTime<Utc>) -> Result<Setting, StoreError>;
}
