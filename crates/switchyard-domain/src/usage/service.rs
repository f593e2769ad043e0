//! The statistics' use cases: a user reads their own usage, an admin everyone's; and the
//! retention of raw call logs and rollups.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::kernel::error::{DomainError, Refusal};
use crate::kernel::ports::Clock;
use crate::kernel::principal::{Admin, Principal};
use crate::usage::ports::UsageStore;
use crate::usage::stats::{
    Dimension, Granularity, Period, RollupQuery, SeriesPoint, TableRow, Totals, UsageFilter, series, table, utc_days,
};

/// The most hourly buckets one series holds (31 days).
pub const MAX_HOURLY_BUCKETS: i64 = 31 * 24;

/// How long raw call logs and rollups are kept; `None` keeps them for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub calls: Option<TimeDelta>,
    pub rollups: Option<TimeDelta>,
    /// Rows removed per statement, so no removal holds locks for long.
    pub chunk: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            calls: Some(TimeDelta::days(30)),
            rollups: Some(TimeDelta::days(400)),
            chunk: 5_000,
        }
    }
}

/// What one retention step removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub calls: u64,
    pub rollups: u64,
}

impl Purged {
    /// Whether a full chunk went, so more may be waiting.
    pub fn more(&self, chunk: u64) -> bool {
        self.calls >= chunk || self.rollups >= chunk
    }
}

#[derive(Debug, Clone)]
pub struct UsagePorts {
    pub store: Arc<dyn UsageStore>,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug)]
pub struct UsageStats {
    ports: UsagePorts,
    retention: Retention,
}

impl UsageStats {
    pub fn new(ports: UsagePorts, retention: Retention) -> Self {
        Self { ports, retention }
    }

    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// A period from a request's bounds (defaults: the last seven days).
    pub fn period(&self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<Period, DomainError> {
        Period::new(from, to, self.ports.clock.now())
    }

    /// A user's filter is narrowed to their own usage; asking for another user's is refused.
    fn scope(who: &Principal, filter: UsageFilter) -> Result<UsageFilter, DomainError> {
        if who.is_admin() {
            return Ok(filter);
        }
        match filter.user {
            Some(user) if user != who.user_id() => Err(DomainError::Forbidden(Refusal::AdminOnly)),
            _ => Ok(UsageFilter {
                user: Some(who.user_id()),
                ..filter
            }),
        }
    }

    /// Totals of a period: requests, errors, tokens, latency, cost per currency.
    pub async fn overview(&self, who: &Principal, filter: UsageFilter, period: Period) -> Result<Totals, DomainError> {
        let query = RollupQuery {
            period,
            filter: Self::scope(who, filter)?,
            group: None,
            by_hour: false,
            days_suffice: true,
        };
        let rows = self.ports.store.usage(&query).await?;
        Ok(Totals::of(&rows))
    }

    /// A time series in hour buckets (at most 31 days of them) or the zone's days.
    pub async fn series(
        &self,
        who: &Principal,
        filter: UsageFilter,
        period: Period,
        granularity: Granularity,
        zone: Tz,
    ) -> Result<Vec<SeriesPoint>, DomainError> {
        if granularity == Granularity::Hour && period.to - period.from > TimeDelta::hours(MAX_HOURLY_BUCKETS) {
            return Err(DomainError::validation(
                "bucket",
                "out_of_range",
                "hour buckets cover at most 31 days; ask for day buckets",
            ));
        }
        let query = RollupQuery {
            period,
            filter: Self::scope(who, filter)?,
            group: None,
            by_hour: true,
            days_suffice: utc_days(period, granularity, zone),
        };
        let rows = self.ports.store.usage(&query).await?;
        Ok(series(&rows, period, granularity, zone))
    }

    /// One row per user, gateway key, model or supplier, with names; per user is for admins.
    pub async fn table(
        &self,
        who: &Principal,
        filter: UsageFilter,
        period: Period,
        dimension: Dimension,
    ) -> Result<Vec<TableRow>, DomainError> {
        if dimension == Dimension::User {
            who.admin()?;
        }
        let query = RollupQuery {
            period,
            filter: Self::scope(who, filter)?,
            group: Some(dimension),
            by_hour: false,
            days_suffice: true,
        };
        let rows = self.ports.store.usage(&query).await?;
        let grouped = table(&rows);
        let ids: Vec<Uuid> = grouped.iter().filter_map(|(id, _)| *id).collect();
        let names = self.ports.store.names(dimension, &ids).await?;
        Ok(named(grouped, &names))
    }

    /// One row per upstream key (admins).
    pub async fn upstream_keys(&self, _admin: &Admin, period: Period) -> Result<Vec<TableRow>, DomainError> {
        let rows = self.ports.store.upstream_usage(period).await?;
        let grouped = table(&rows);
        let ids: Vec<Uuid> = grouped.iter().filter_map(|(id, _)| *id).collect();
        let names = self.ports.store.upstream_key_names(&ids).await?;
        Ok(named(grouped, &names))
    }

    /// Removes one chunk of raw call-log rows and one of rollups past their retention.
    pub async fn purge_step(&self) -> Result<Purged, DomainError> {
        let now = self.ports.clock.now();
        let chunk = self.retention.chunk.max(1);
        let mut purged = Purged::default();
        if let Some(keep) = self.retention.calls {
            purged.calls = self.ports.store.purge_calls(now - keep, chunk).await?;
        }
        if let Some(keep) = self.retention.rollups {
            purged.rollups = self.ports.store.purge_rollups(now - keep, chunk).await?;
        }
        Ok(purged)
    }
}

fn named(grouped: Vec<(Option<Uuid>, Totals)>, names: &HashMap<Uuid, String>) -> Vec<TableRow> {
    grouped
        .into_iter()
        .map(|(id, totals)| TableRow {
            id,
            name: id.and_then(|id| names.get(&id).cloned()),
            totals,
        })
        .collect()
}
