//! Rate limits, concurrency and budgets as the shared limit store checks them: one check holds
//! every limit a call is under and is taken whole or not at all (one round trip to Redis).
//!
//! Rates are GCRA (a token bucket as one number, the "theoretical arrival time"): a limit of
//! `n` per minute lets `n` through at once, then refills one every `60/n` seconds; a call that
//! uses `k` units takes `k` of them. The same arithmetic runs in [`crate::usage::memory`] and in
//! the Redis script, with the caller's clock (a manual clock in tests).

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::accounts::api_key::ApiKeyId;
use crate::accounts::limits::BudgetPeriod;
use crate::catalog::ids::ModelId;
use crate::kernel::ids::UserId;
use crate::usage::stats::midnight;

/// A rate's window: a limit per minute refills in a minute.
pub const WINDOW_MS: f64 = 60_000.0;

/// Whose limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    Key(ApiKeyId),
    User(UserId),
    Model(ModelId),
    /// Every call of the gateway.
    Global,
}

impl Subject {
    /// How a refusal names it.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Key(_) => "the API key's",
            Self::User(_) => "the user's",
            Self::Model(_) => "the model's",
            Self::Global => "the gateway's",
        }
    }

    fn key(&self) -> String {
        match self {
            Self::Key(id) => format!("key:{}", id.0),
            Self::User(id) => format!("user:{}", id.0),
            Self::Model(id) => format!("model:{}", id.0),
            Self::Global => "global".to_owned(),
        }
    }
}

/// What a rate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Measure {
    Requests,
    Tokens,
}

/// `per_minute` of `measure` for `subject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    pub subject: Subject,
    pub measure: Measure,
    pub per_minute: u64,
}

impl Rate {
    /// Its state's name in the store.
    pub fn key(&self) -> String {
        let measure = match self.measure {
            Measure::Requests => "rpm",
            Measure::Tokens => "tpm",
        };
        format!("rate:{measure}:{}", self.subject.key())
    }

    /// Milliseconds one unit takes to refill.
    pub fn interval_ms(&self) -> f64 {
        WINDOW_MS / self.per_minute.max(1) as f64
    }

    pub fn describe(&self) -> String {
        let measure = match self.measure {
            Measure::Requests => "requests",
            Measure::Tokens => "tokens",
        };
        format!(
            "{} limit of {} {measure} per minute",
            self.subject.describe(),
            self.per_minute
        )
    }
}

/// One rate's state after a check or a peek.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    pub remaining: u64,
    /// Until the limit is whole again.
    pub reset_ms: u64,
}

/// GCRA: from the stored arrival time, what taking `amount` gives: the new arrival time and
/// the state, or how long to wait.
pub fn gcra(stored_tat: Option<f64>, now_ms: f64, rate: &Rate, amount: u64) -> Result<(f64, RateState), u64> {
    let interval = rate.interval_ms();
    let tat = stored_tat.unwrap_or(now_ms).max(now_ms);
    let new_tat = tat + amount as f64 * interval;
    let ahead = new_tat - now_ms;
    if ahead > WINDOW_MS + 1e-6 {
        return Err((ahead - WINDOW_MS).ceil().max(1.0) as u64);
    }
    Ok((new_tat, state(new_tat, now_ms, interval)))
}

/// The state of a stored arrival time.
pub fn state(tat: f64, now_ms: f64, interval: f64) -> RateState {
    let ahead = (tat - now_ms).max(0.0);
    RateState {
        remaining: ((WINDOW_MS - ahead) / interval + 1e-6).floor().max(0.0) as u64,
        reset_ms: ahead.ceil() as u64,
    }
}

/// A slot among a key's calls in flight, held until it is released or expires (a crashed
/// instance's slots free themselves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub key: String,
    pub max: u32,
    pub id: Uuid,
    pub expires_ms: i64,
}

/// A budget as it stands for one call: its period now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetWindow {
    pub subject: Subject,
    pub currency: String,
    pub limit_nanos: i64,
    pub period: BudgetPeriod,
    /// `None` for all time.
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

impl BudgetWindow {
    /// Its state's name in the store: one per period.
    pub fn key(&self) -> String {
        let start = self
            .start
            .map_or_else(|| "all".to_owned(), |start| start.timestamp().to_string());
        format!("budget:{}:{}:{start}", self.subject.key(), self.currency)
    }
}

/// The period holding `now` in a zone: a calendar day, a week from Monday, a month; all time
/// has no bounds.
pub fn period_bounds(
    period: BudgetPeriod,
    now: DateTime<Utc>,
    zone: Tz,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let today = now.with_timezone(&zone).date_naive();
    let (first, next): (NaiveDate, Option<NaiveDate>) = match period {
        BudgetPeriod::AllTime => return (None, None),
        BudgetPeriod::Day => (today, today.checked_add_days(Days::new(1))),
        BudgetPeriod::Week => {
            let monday = today
                .checked_sub_days(Days::new(u64::from(today.weekday().num_days_from_monday())))
                .unwrap_or(today);
            (monday, monday.checked_add_days(Days::new(7)))
        }
        BudgetPeriod::Month => {
            let first = today.with_day(1).unwrap_or(today);
            (first, first.checked_add_months(Months::new(1)))
        }
    };
    (Some(midnight(first, zone)), next.map(|next| midnight(next, zone)))
}

/// A budget's spend and reservations in the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BudgetState {
    pub spent_nanos: i64,
    pub reserved_nanos: i64,
}

/// Everything one call is checked against, taken whole or not at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Check {
    pub now_ms: i64,
    /// Each rate with what the call takes of it.
    pub rates: Vec<(Rate, u64)>,
    pub lease: Option<Lease>,
    /// Each budget with the call's maximum cost, reserved under `reservation`.
    pub budgets: Vec<(BudgetWindow, i64)>,
    pub reservation: Uuid,
    /// When a reservation of a crashed instance frees itself.
    pub reservation_expires_ms: i64,
}

/// What the store answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Taken: each rate's state, in the check's order.
    Admitted(Vec<RateState>),
    /// A rate refused: which one, and how long to wait.
    RateRefused { index: usize, retry_after_ms: u64 },
    /// Every slot of the key is in use.
    ConcurrencyRefused,
    /// A budget cannot take the reservation.
    BudgetRefused { index: usize, state: BudgetState },
    /// The store holds no spend for these budgets (their first call since it started, or
    /// since Redis restarted): seed them from the database, then check again.
    Unseeded(Vec<usize>),
}

/// What a call used, to settle what it took.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settlement {
    pub now_ms: i64,
    /// Each token rate with what the call really used minus what it took (a refund below 0).
    pub tokens: Vec<(Rate, i64)>,
    pub lease: Option<(String, Uuid)>,
    /// Each budget's key with the call's real cost.
    pub budgets: Vec<(String, i64)>,
    pub reservation: Uuid,
    /// What the reservation held (the same in each budget).
    pub reserved_nanos: i64,
}

/// The shared store is unreachable (or answered something unreadable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LimitStoreError(pub String);

/// Where limits' state lives: this process's memory, or Redis shared by every instance.
#[async_trait::async_trait]
pub trait LimitStore: Send + Sync + std::fmt::Debug {
    /// Checks and takes a call's limits atomically.
    async fn check(&self, check: &Check) -> Result<Verdict, LimitStoreError>;

    /// Sets budgets' spend where the store holds none (a seed never overwrites); the store may
    /// forget a seed after a while, to be seeded again from the database.
    async fn seed(&self, budgets: &[(BudgetWindow, i64)], now_ms: i64) -> Result<(), LimitStoreError>;

    /// Rates' states without taking anything.
    async fn peek(&self, rates: &[Rate], now_ms: i64) -> Result<Vec<RateState>, LimitStoreError>;

    /// A budget's spend and reservations; `None` when the store holds none.
    async fn budget(&self, key: &str, now_ms: i64) -> Result<Option<BudgetState>, LimitStoreError>;

    /// Settles a call; never waits (an adapter that does IO does it in the background).
    fn settle(&self, settlement: Settlement);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(per_minute: u64) -> Rate {
        Rate {
            subject: Subject::Global,
            measure: Measure::Requests,
            per_minute,
        }
    }

    #[test]
    fn a_rate_lets_its_limit_through_at_once_then_one_per_interval() {
        let rate = rate(10);
        let mut tat = None;
        for n in 0..10 {
            let (next, state) = gcra(tat, 0.0, &rate, 1).unwrap_or_else(|_| unreachable!());
            assert_eq!(state.remaining, 9 - n);
            tat = Some(next);
        }
        assert_eq!(gcra(tat, 0.0, &rate, 1), Err(6_000), "the next unit in six seconds");
        assert!(gcra(tat, 6_000.0, &rate, 1).is_ok());
        let (_, state) = gcra(None, 0.0, &rate, 1).unwrap_or_else(|_| unreachable!());
        assert_eq!(state.reset_ms, 6_000);
        assert!(gcra(None, 0.0, &rate, 11).is_err(), "more than the limit never fits");
    }

    #[test]
    fn periods_are_calendar_periods_of_the_zone() {
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .map(|at| at.with_timezone(&Utc))
                .unwrap_or_default()
        };
        let now = at("2026-12-03T20:00:00Z");
        let shanghai: Tz = "Asia/Shanghai".parse().unwrap_or(Tz::UTC);
        // 04:00 on Friday the 4th in Shanghai.
        assert_eq!(
            period_bounds(BudgetPeriod::Day, now, shanghai),
            (Some(at("2026-12-03T16:00:00Z")), Some(at("2026-12-04T16:00:00Z")))
        );
        assert_eq!(
            period_bounds(BudgetPeriod::Week, now, shanghai),
            (Some(at("2026-11-29T16:00:00Z")), Some(at("2026-12-06T16:00:00Z")))
        );
        assert_eq!(
            period_bounds(BudgetPeriod::Month, now, Tz::UTC),
            (Some(at("2026-12-01T00:00:00Z")), Some(at("2027-01-01T00:00:00Z")))
        );
        assert_eq!(period_bounds(BudgetPeriod::AllTime, now, Tz::UTC), (None, None));
    }
}
