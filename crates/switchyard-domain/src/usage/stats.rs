//! What the statistics ask of the rollups, and what they answer: a period (whole hours), a
//! filter, the dimensions to group by; totals with their cost per currency (never summed across
//! currencies), a time series in hour or day buckets of a time zone.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::accounts::api_key::ApiKeyId;
use crate::catalog::ids::{ModelId, SupplierId};
use crate::kernel::error::DomainError;
use crate::kernel::ids::UserId;
use crate::kernel::named::named_enum;
use crate::usage::rollup::{Measures, hour_of};

/// The longest period one query covers: the rollups' default retention.
pub const MAX_PERIOD_DAYS: i64 = 400;
/// The period when none is given.
pub const DEFAULT_PERIOD_DAYS: i64 = 7;

/// Whole hours, `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    /// `from` rounded down and `to` rounded up to the hour (the rollups' grain); `to` defaults
    /// to the end of the current hour, `from` to seven days before `to`.
    pub fn new(
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let to = to.unwrap_or_else(|| hour_of(now) + TimeDelta::hours(1));
        let from = from.unwrap_or(to - TimeDelta::days(DEFAULT_PERIOD_DAYS));
        let rounded_to = hour_of(to);
        let to = if rounded_to < to {
            rounded_to + TimeDelta::hours(1)
        } else {
            rounded_to
        };
        let from = hour_of(from);
        if from >= to {
            return Err(DomainError::validation("from", "out_of_range", "must be before `to`"));
        }
        if to - from > TimeDelta::days(MAX_PERIOD_DAYS) {
            return Err(DomainError::validation(
                "from",
                "out_of_range",
                format!("a period is at most {MAX_PERIOD_DAYS} days"),
            ));
        }
        Ok(Self { from, to })
    }
}

/// A time zone by its IANA name (`UTC`, `Europe/Berlin`, `Asia/Shanghai`).
pub fn zone(name: &str) -> Result<Tz, DomainError> {
    name.parse::<Tz>().map_err(|_| {
        DomainError::validation(
            "tz",
            "invalid_time_zone",
            format!("{name:?} is not an IANA time zone name (such as UTC, Europe/Berlin, Asia/Shanghai)"),
        )
    })
}

named_enum!(
    /// A time series' bucket.
    Granularity, "bucket", "invalid_bucket" {
        Hour => "hour",
        Day => "day",
    }
);

/// What a statistics query is narrowed to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageFilter {
    pub user: Option<UserId>,
    pub api_key: Option<ApiKeyId>,
    pub model: Option<ModelId>,
    pub supplier: Option<SupplierId>,
}

/// A dimension rows may be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    User,
    ApiKey,
    Model,
    Supplier,
}

/// One query of the rollups: rows of the period matching the filter, summed per currency and
/// per the chosen dimensions (and per hour when `by_hour`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupQuery {
    pub period: Period,
    pub filter: UsageFilter,
    pub group: Option<Dimension>,
    pub by_hour: bool,
    /// With `by_hour`: rows of whole UTC days may stand for their hours (the buckets are UTC
    /// days), so the store reads the daily rollups where it can.
    pub days_suffice: bool,
}

/// One row the store answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupRow {
    /// Set when the query was `by_hour`: the hour's start, or a UTC day's when `days_suffice`.
    pub hour: Option<DateTime<Utc>>,
    /// The value of the query's `group` (`None` also for calls without one, such as a refusal
    /// before a model was known).
    pub group: Option<Uuid>,
    pub currency: Option<String>,
    pub measures: Measures,
}

/// A cost in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cost {
    pub currency: String,
    pub nanos: i64,
}

impl Cost {
    /// The amount in the currency's units, as a decimal string (`"0.001234500"`).
    pub fn amount(&self) -> String {
        let sign = if self.nanos < 0 { "-" } else { "" };
        let nanos = self.nanos.unsigned_abs();
        format!("{sign}{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000)
    }
}

/// Figures summed over rows of any currency, with the cost kept per currency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Requests, tokens and latency over every currency; `cost_nanos` is meaningless here.
    pub measures: Measures,
    /// Cost per currency, by currency code.
    pub cost: Vec<Cost>,
}

impl Totals {
    /// Sums rows; their cost per currency.
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a RollupRow>) -> Self {
        let mut measures = Measures::default();
        let mut cost: BTreeMap<String, i64> = BTreeMap::new();
        for row in rows {
            measures.add(&row.measures);
            if let Some(currency) = &row.currency {
                *cost.entry(currency.clone()).or_default() += row.measures.cost_nanos;
            }
        }
        measures.cost_nanos = 0;
        Self {
            measures,
            cost: cost
                .into_iter()
                .map(|(currency, nanos)| Cost { currency, nanos })
                .collect(),
        }
    }
}

impl Totals {
    /// Adds another's figures and costs (per currency).
    pub fn merge(&mut self, other: &Self) {
        self.measures.add(&other.measures);
        self.measures.cost_nanos = 0;
        for cost in &other.cost {
            match self.cost.iter_mut().find(|mine| mine.currency == cost.currency) {
                Some(mine) => mine.nanos += cost.nanos,
                None => self.cost.push(cost.clone()),
            }
        }
        self.cost.sort_by(|a, b| a.currency.cmp(&b.currency));
    }

    /// A series' buckets summed.
    pub fn of_points(points: &[SeriesPoint]) -> Self {
        let mut totals = Self::default();
        for point in points {
            totals.merge(&point.totals);
        }
        totals
    }
}

/// One bucket of a time series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesPoint {
    /// The bucket's start (an hour, or midnight in the series' zone), in UTC.
    pub start: DateTime<Utc>,
    pub totals: Totals,
}

/// The buckets' starts covering a period, in a zone. A day is a calendar day of the zone (23 or
/// 25 hours across a daylight-saving change); an hour is a UTC hour.
pub fn bucket_starts(period: Period, granularity: Granularity, zone: Tz) -> Vec<DateTime<Utc>> {
    match granularity {
        Granularity::Hour => {
            let mut starts = Vec::new();
            let mut at = period.from;
            while at < period.to {
                starts.push(at);
                at += TimeDelta::hours(1);
            }
            starts
        }
        Granularity::Day => {
            let mut starts = Vec::new();
            let mut day = period.from.with_timezone(&zone).date_naive();
            loop {
                let start = midnight(day, zone);
                if start >= period.to {
                    break;
                }
                starts.push(start);
                match day.checked_add_days(Days::new(1)) {
                    Some(next) => day = next,
                    None => break,
                }
            }
            starts
        }
    }
}

/// Whether a series' buckets are whole UTC days (so daily rollups can fill them).
pub fn utc_days(period: Period, granularity: Granularity, zone: Tz) -> bool {
    granularity == Granularity::Day
        && bucket_starts(period, granularity, zone)
            .iter()
            .all(|start| start.timestamp().rem_euclid(86_400) == 0)
}

/// The first instant of a calendar day in a zone (a zone whose clocks skip midnight starts the
/// day at the first hour that exists).
pub fn midnight(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let mut time = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..4 {
        if let Some(start) = zone.from_local_datetime(&time).earliest() {
            return start.with_timezone(&Utc);
        }
        time += TimeDelta::hours(1);
    }
    Utc.from_utc_datetime(&time)
}

/// Hourly rows into buckets: an hour belongs to the bucket its start falls in (with a zone whose
/// offset is not whole hours, the hour that holds local midnight counts to the day it started
/// in). Buckets without calls are present, empty.
pub fn series(rows: &[RollupRow], period: Period, granularity: Granularity, zone: Tz) -> Vec<SeriesPoint> {
    let starts = bucket_starts(period, granularity, zone);
    let mut buckets: Vec<Vec<&RollupRow>> = vec![Vec::new(); starts.len()];
    for row in rows {
        let Some(hour) = row.hour else { continue };
        // The last bucket whose start is not after the hour.
        let index = starts.partition_point(|start| *start <= hour);
        if index > 0 {
            buckets[index - 1].push(row);
        }
    }
    starts
        .into_iter()
        .zip(buckets)
        .map(|(start, rows)| SeriesPoint {
            start,
            totals: Totals::of(rows),
        })
        .collect()
}

/// One row of a table by a dimension: its id, its name when it still has one, its totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    pub id: Option<Uuid>,
    pub name: Option<String>,
    pub totals: Totals,
}

/// Rows grouped by a dimension into one row per value, most requests first.
pub fn table(rows: &[RollupRow]) -> Vec<(Option<Uuid>, Totals)> {
    let mut by_group: BTreeMap<Option<Uuid>, Vec<&RollupRow>> = BTreeMap::new();
    for row in rows {
        by_group.entry(row.group).or_default().push(row);
    }
    let mut table: Vec<(Option<Uuid>, Totals)> = by_group
        .into_iter()
        .map(|(group, rows)| (group, Totals::of(rows)))
        .collect();
    table.sort_by(|a, b| b.1.measures.requests.cmp(&a.1.measures.requests).then(a.0.cmp(&b.0)));
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::rollup::{Call, Tokens};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn row(hour: &str, currency: Option<&str>, cost: i64) -> RollupRow {
        let mut measures = Measures::of(&Call {
            status_code: 200,
            error_code: None,
            tokens: Tokens {
                prompt: 10,
                ..Tokens::default()
            },
            cost_nanos: cost,
            latency_ms: 50,
        });
        measures.cost_nanos = cost;
        RollupRow {
            hour: Some(at(hour)),
            group: None,
            currency: currency.map(str::to_owned),
            measures,
        }
    }

    #[test]
    fn a_period_covers_whole_hours() {
        let now = at("2026-12-03T10:15:00Z");
        let period = Period::new(None, None, now).unwrap_or_else(|_| unreachable!());
        assert_eq!(period.to, at("2026-12-03T11:00:00Z"));
        assert_eq!(period.from, at("2026-11-26T11:00:00Z"));
        let on_the_hour = at("2026-12-03T11:00:00Z");
        let period = Period::new(None, None, on_the_hour).unwrap_or_else(|_| unreachable!());
        assert_eq!(period.to, at("2026-12-03T12:00:00Z"), "the current hour is in");
        let given = Period::new(None, Some(on_the_hour), now).unwrap_or_else(|_| unreachable!());
        assert_eq!(given.to, on_the_hour, "a given end is kept");
        assert!(Period::new(Some(now), Some(now - TimeDelta::hours(2)), now).is_err());
        assert!(Period::new(Some(now - TimeDelta::days(401)), Some(now), now).is_err());
    }

    #[test]
    fn days_are_the_zones_calendar_days_across_a_clock_change() {
        // Europe/Berlin leaves summer time on 2026-10-25: that day has 25 hours.
        let period = Period {
            from: at("2026-10-24T00:00:00Z"),
            to: at("2026-10-27T00:00:00Z"),
        };
        let berlin = zone("Europe/Berlin").unwrap_or(Tz::UTC);
        let starts = bucket_starts(period, Granularity::Day, berlin);
        assert_eq!(
            starts,
            vec![
                at("2026-10-23T22:00:00Z"),
                at("2026-10-24T22:00:00Z"),
                at("2026-10-25T23:00:00Z"),
                at("2026-10-26T23:00:00Z"),
            ]
        );
        let rows = [
            row("2026-10-25T22:00:00Z", Some("USD"), 5),
            row("2026-10-25T22:00:00Z", Some("CNY"), 7),
            row("2026-10-25T23:00:00Z", Some("USD"), 1),
        ];
        let points = series(&rows, period, Granularity::Day, berlin);
        assert_eq!(
            points[1].totals.measures.requests, 2,
            "22:00 UTC is still the 25th in Berlin"
        );
        assert_eq!(
            points[1].totals.cost,
            vec![
                Cost {
                    currency: "CNY".into(),
                    nanos: 7
                },
                Cost {
                    currency: "USD".into(),
                    nanos: 5
                }
            ],
            "never summed across currencies"
        );
        assert_eq!(
            points[2].totals.measures.requests, 1,
            "23:00 UTC is the 26th's midnight"
        );
        assert!(zone("Mars/Olympus").is_err());
    }

    #[test]
    fn a_cost_reads_as_a_decimal_amount() {
        let cost = |nanos| Cost {
            currency: "USD".into(),
            nanos,
        };
        assert_eq!(cost(1_234_500).amount(), "0.001234500");
        assert_eq!(cost(12_000_000_001).amount(), "12.000000001");
        assert_eq!(cost(-5).amount(), "-0.000000005");
    }
}
