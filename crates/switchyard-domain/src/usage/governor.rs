//! The gateway's limits in force: which rates, concurrency and budgets a call is under (from its
//! key, its user, its model and the configured defaults), checked and taken before the call,
//! settled with what it really used after it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::accounts::api_key::ApiKeyId;
use crate::accounts::limits::{Budget, BudgetPeriod, Limits};
use crate::catalog::ids::ModelId;
use crate::kernel::error::DomainError;
use crate::kernel::ids::UserId;
use crate::kernel::ports::Clock;
use crate::kernel::rate::{RateHeaders, RateWindow};
use crate::usage::limits::{
    BudgetState, BudgetWindow, Check, Lease, LimitStore, LimitStoreError, Measure, Rate, RateState, Settlement,
    Subject, Verdict, period_bounds,
};
use crate::usage::ports::{UsageStore, UserLimits};
use crate::usage::stats::Cost;

/// What to do when the shared limit store cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Let calls through unlimited (with a warning and a metric) until it is back.
    Open,
    /// Refuse calls with 503 until it is back.
    Closed,
}

#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// For keys that set none of their own.
    pub default_key_rpm: Option<u32>,
    pub default_key_tpm: Option<u64>,
    pub default_key_concurrency: Option<u32>,
    pub on_store_failure: FailMode,
    /// Budgets' days, weeks and months are this zone's.
    pub zone: Tz,
    /// How long a slot or a reservation outlives an instance that died holding it.
    pub lease_ttl: Duration,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            default_key_rpm: None,
            default_key_tpm: None,
            default_key_concurrency: None,
            on_store_failure: FailMode::Open,
            zone: Tz::UTC,
            lease_ttl: Duration::from_secs(15 * 60),
        }
    }
}

/// Whom a call counts for and what is set on them.
#[derive(Debug, Clone, Copy)]
pub struct Subjects<'a> {
    pub user: UserId,
    pub key: Option<(ApiKeyId, &'a Limits)>,
    pub model: ModelId,
    /// The catalog's `rate_limit_per_minute` of the model (across every caller).
    pub model_rpm: Option<u32>,
}

/// The limits a call is under.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub rates: Vec<Rate>,
    pub concurrency: Option<(ApiKeyId, u32)>,
    pub budgets: Vec<(Subject, Budget)>,
}

impl Rules {
    /// Whether checking needs the call's token estimate (a token rate or a budget applies).
    pub fn needs_estimate(&self) -> bool {
        !self.budgets.is_empty() || self.rates.iter().any(|rate| rate.measure == Measure::Tokens)
    }

    fn is_empty(&self) -> bool {
        self.rates.is_empty() && self.concurrency.is_none() && self.budgets.is_empty()
    }

    /// Whether a model billing in `currency` can be checked against every budget.
    pub fn accepts_currency(&self, currency: &str) -> bool {
        self.budgets.iter().all(|(_, budget)| budget.currency == currency)
    }

    /// The refusal when no model a call may go to bills in its budgets' currency.
    pub fn budget_currency_mismatch<'a>(&self, mut currencies: impl Iterator<Item = &'a str>) -> Option<DomainError> {
        if currencies.any(|currency| self.accepts_currency(currency)) {
            return None;
        }
        let (subject, budget) = self.budgets.first()?;
        Some(DomainError::QuotaExceeded {
            message: format!(
                "{} budget is in {}, and no model this request may go to bills in it: a budget cannot be checked across currencies",
                subject.describe(),
                budget.currency
            ),
            retry_after_seconds: None,
        })
    }
}

/// What a call may use at most: its tokens (prompt estimate and the most it may answer) and
/// the cost they reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    pub tokens: u64,
    pub max_cost: Cost,
}

/// What a call took; settled with [`Permit::settle`], or on drop with nothing used.
pub struct Permit {
    store: Option<Arc<dyn LimitStore>>,
    clock: Arc<dyn Clock>,
    tokens: Vec<(Rate, u64)>,
    lease: Option<(String, Uuid)>,
    budgets: Vec<String>,
    /// The budgets' currency: a cost in another is not theirs to count.
    currency: Option<String>,
    reservation: Uuid,
    reserved_nanos: i64,
    headers: RateHeaders,
    settled: bool,
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("headers", &self.headers)
            .field("settled", &self.settled)
            .finish_non_exhaustive()
    }
}

impl Permit {
    /// A call under no limit.
    pub fn unlimited(clock: Arc<dyn Clock>) -> Self {
        Self {
            store: None,
            clock,
            tokens: Vec::new(),
            lease: None,
            budgets: Vec::new(),
            currency: None,
            reservation: Uuid::nil(),
            reserved_nanos: 0,
            headers: RateHeaders::default(),
            settled: true,
        }
    }

    /// The rate limits' state as the check left it.
    pub fn headers(&self) -> RateHeaders {
        self.headers
    }

    /// Settles with what the call used: its real tokens replace the estimate, its real cost
    /// (0 for a call on the caller's own key) replaces the reservation. A cost in another
    /// currency than the budgets' (which the gateway's routing avoids) counts nothing.
    pub fn settle(mut self, tokens: u64, cost_nanos: i64, currency: Option<&str>) {
        let cost = match (&self.currency, currency) {
            (Some(budgets), Some(spent)) if budgets != spent => 0,
            _ => cost_nanos,
        };
        self.finish(tokens, cost);
    }

    fn finish(&mut self, tokens: u64, cost_nanos: i64) {
        if self.settled {
            return;
        }
        self.settled = true;
        let Some(store) = &self.store else { return };
        let settlement = Settlement {
            now_ms: self.clock.now().timestamp_millis(),
            tokens: self
                .tokens
                .iter()
                .map(|(rate, taken)| {
                    let used = i64::try_from(tokens).unwrap_or(i64::MAX);
                    (*rate, used - i64::try_from(*taken).unwrap_or(i64::MAX))
                })
                .collect(),
            lease: self.lease.take(),
            budgets: self
                .budgets
                .iter()
                .map(|key| (key.clone(), cost_nanos.max(0)))
                .collect(),
            reservation: self.reservation,
            reserved_nanos: self.reserved_nanos,
        };
        store.settle(settlement);
    }
}

impl Drop for Permit {
    /// A call that ended without settling (a failure, a dropped request) used nothing.
    fn drop(&mut self) {
        self.finish(0, 0);
    }
}

/// A budget as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetStatus {
    pub budget: Budget,
    pub start: Option<DateTime<Utc>>,
    /// When it starts again (`None` for all time).
    pub resets_at: Option<DateTime<Utc>>,
    pub spent_nanos: i64,
    /// Held by calls in flight.
    pub reserved_nanos: i64,
    pub remaining_nanos: i64,
}

pub struct Governor {
    store: Arc<dyn LimitStore>,
    usage: Arc<dyn UsageStore>,
    users: Arc<dyn UserLimits>,
    clock: Arc<dyn Clock>,
    settings: LimitSettings,
    store_failures: AtomicU64,
}

impl std::fmt::Debug for Governor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Governor")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn amount(nanos: i64, currency: &str) -> String {
    format!(
        "{} {currency}",
        Cost {
            currency: currency.to_owned(),
            nanos,
        }
        .amount()
    )
}

fn period_name(period: BudgetPeriod) -> &'static str {
    match period {
        BudgetPeriod::Day => " per day",
        BudgetPeriod::Week => " per week",
        BudgetPeriod::Month => " per month",
        BudgetPeriod::AllTime => "",
    }
}

impl Governor {
    pub fn new(
        store: Arc<dyn LimitStore>,
        usage: Arc<dyn UsageStore>,
        users: Arc<dyn UserLimits>,
        clock: Arc<dyn Clock>,
        settings: LimitSettings,
    ) -> Self {
        Self {
            store,
            usage,
            users,
            clock,
            settings,
            store_failures: AtomicU64::new(0),
        }
    }

    /// Checks that failed because the limit store could not be reached, since start.
    pub fn store_failures(&self) -> u64 {
        self.store_failures.load(Ordering::Relaxed)
    }

    /// The limits a call is under (the user's from the identity cache: no query in steady state).
    pub async fn rules(&self, subjects: &Subjects<'_>) -> Result<Rules, DomainError> {
        let user = self.users.limits_of(subjects.user).await?;
        let mut rules = Rules::default();
        let mut rate = |subject: Subject, measure: Measure, per_minute: Option<u64>| {
            if let Some(per_minute) = per_minute.filter(|limit| *limit > 0) {
                rules.rates.push(Rate {
                    subject,
                    measure,
                    per_minute,
                });
            }
        };
        if let Some((key, limits)) = subjects.key {
            let rpm = limits.requests_per_minute.or(self.settings.default_key_rpm);
            let tpm = limits.tokens_per_minute.or(self.settings.default_key_tpm);
            rate(Subject::Key(key), Measure::Requests, rpm.map(u64::from));
            rate(Subject::Key(key), Measure::Tokens, tpm);
        }
        rate(
            Subject::User(subjects.user),
            Measure::Requests,
            user.requests_per_minute.map(u64::from),
        );
        rate(Subject::User(subjects.user), Measure::Tokens, user.tokens_per_minute);
        rate(
            Subject::Model(subjects.model),
            Measure::Requests,
            subjects.model_rpm.map(u64::from),
        );
        if let Some((key, limits)) = subjects.key {
            rules.concurrency = limits
                .concurrency
                .or(self.settings.default_key_concurrency)
                .filter(|max| *max > 0)
                .map(|max| (key, max));
            if let Some(budget) = &limits.budget {
                rules.budgets.push((Subject::Key(key), budget.clone()));
            }
        }
        if let Some(budget) = &user.budget {
            rules.budgets.push((Subject::User(subjects.user), budget.clone()));
        }
        Ok(rules)
    }

    fn window(&self, subject: Subject, budget: &Budget, now: DateTime<Utc>) -> BudgetWindow {
        let (start, end) = period_bounds(budget.period, now, self.settings.zone);
        BudgetWindow {
            subject,
            currency: budget.currency.clone(),
            limit_nanos: budget.amount_nanos,
            period: budget.period,
            start,
            end,
        }
    }

    /// Seeds budgets the store holds no spend for, from the rollups.
    async fn seed(&self, windows: &[&BudgetWindow]) -> Result<(), DomainError> {
        let mut seeds = Vec::with_capacity(windows.len());
        for window in windows {
            let spent = self
                .usage
                .spent(window.subject, &window.currency, window.start, window.end)
                .await?;
            seeds.push(((*window).clone(), spent));
        }
        let now_ms = self.clock.now().timestamp_millis();
        self.store
            .seed(&seeds, now_ms)
            .await
            .map_err(|error| self.unavailable(&error))
    }

    fn unavailable(&self, error: &LimitStoreError) -> DomainError {
        DomainError::Unavailable {
            dependency: "the limit store",
            message: error.0.clone(),
        }
    }

    /// Checks and takes a call's limits; refuses it (429, or 503 when the store is down and
    /// the gateway fails closed) before any upstream call.
    pub async fn admit(&self, rules: &Rules, estimate: Option<&Estimate>) -> Result<Permit, DomainError> {
        if rules.is_empty() {
            return Ok(Permit::unlimited(self.clock.clone()));
        }
        let now = self.clock.now();
        let now_ms = now.timestamp_millis();
        let tokens = estimate.map_or(1, |estimate| estimate.tokens.max(1));
        let mut budgets = Vec::with_capacity(rules.budgets.len());
        for (subject, budget) in &rules.budgets {
            let window = self.window(*subject, budget, now);
            let cost = estimate.map(|estimate| &estimate.max_cost);
            let reserve = match cost {
                Some(cost) if cost.nanos > 0 && cost.currency != budget.currency => {
                    return Err(DomainError::QuotaExceeded {
                        retry_after_seconds: None,
                        message: format!(
                            "{} budget is in {}, and this model bills in {}: it cannot be checked against the budget",
                            subject.describe(),
                            budget.currency,
                            cost.currency
                        ),
                    });
                }
                Some(cost) => cost.nanos.max(0),
                None => 0,
            };
            budgets.push((window, reserve));
        }
        let ttl = i64::try_from(self.settings.lease_ttl.as_millis()).unwrap_or(i64::MAX);
        let reservation = Uuid::now_v7();
        let check = Check {
            now_ms,
            rates: rules
                .rates
                .iter()
                .map(|rate| {
                    let amount = match rate.measure {
                        Measure::Requests => 1,
                        Measure::Tokens => tokens,
                    };
                    (*rate, amount)
                })
                .collect(),
            lease: rules.concurrency.map(|(key, max)| Lease {
                key: format!("concurrency:key:{}", key.0),
                max,
                id: reservation,
                expires_ms: now_ms.saturating_add(ttl),
            }),
            budgets,
            reservation,
            reservation_expires_ms: now_ms.saturating_add(ttl),
        };
        let mut verdict = self.check(&check).await?;
        if let Some(Verdict::Unseeded(indexes)) = &verdict {
            let windows: Vec<&BudgetWindow> = indexes
                .iter()
                .filter_map(|index| check.budgets.get(*index).map(|(window, _)| window))
                .collect();
            match self.seed(&windows).await {
                Ok(()) => verdict = self.check(&check).await?,
                Err(error) => match self.settings.on_store_failure {
                    // Seeding reached the store and failed: like a failed check.
                    FailMode::Open if matches!(error, DomainError::Unavailable { .. }) => {
                        self.store_failures.fetch_add(1, Ordering::Relaxed);
                        verdict = None;
                    }
                    _ => return Err(error),
                },
            }
        }
        let Some(verdict) = verdict else {
            // The store is down and the gateway fails open.
            return Ok(Permit::unlimited(self.clock.clone()));
        };
        match verdict {
            Verdict::Admitted(states) => Ok(self.permit(&check, &states)),
            Verdict::RateRefused { index, retry_after_ms } => {
                let (rate, _) = check.rates[index];
                let seconds = retry_after_ms.div_ceil(1000).max(1);
                let window = RateWindow {
                    limit: rate.per_minute,
                    remaining: 0,
                    reset_ms: retry_after_ms,
                };
                let headers = match rate.measure {
                    Measure::Requests => RateHeaders {
                        requests: Some(window),
                        tokens: None,
                    },
                    Measure::Tokens => RateHeaders {
                        requests: None,
                        tokens: Some(window),
                    },
                };
                let message = if rate.measure == Measure::Tokens && tokens > rate.per_minute {
                    format!(
                        "this request may use {tokens} tokens, more than {} allows at once; lower max_tokens",
                        rate.describe()
                    )
                } else {
                    format!("{} is reached; retry after {seconds}s", rate.describe())
                };
                Err(DomainError::LimitExceeded {
                    message,
                    retry_after_seconds: seconds,
                    headers: Box::new(headers),
                })
            }
            Verdict::ConcurrencyRefused => {
                let max = rules.concurrency.map_or(0, |(_, max)| max);
                Err(DomainError::LimitExceeded {
                    message: format!("the API key's limit of {max} calls in flight is reached; retry when one ends"),
                    retry_after_seconds: 1,
                    headers: Box::default(),
                })
            }
            Verdict::BudgetRefused { index, state } => {
                let (window, reserve) = &check.budgets[index];
                Err(DomainError::QuotaExceeded {
                    message: budget_refusal(window, *reserve, state),
                    retry_after_seconds: window
                        .end
                        .map(|end| u64::try_from((end - now).num_seconds()).unwrap_or(0).max(1)),
                })
            }
            // Seeded and gone again (expired at once): the store is not keeping state.
            Verdict::Unseeded(_) => {
                let error = LimitStoreError("a budget's spend was seeded and is missing again".to_owned());
                self.store_failures.fetch_add(1, Ordering::Relaxed);
                match self.settings.on_store_failure {
                    FailMode::Open => Ok(Permit::unlimited(self.clock.clone())),
                    FailMode::Closed => Err(self.unavailable(&error)),
                }
            }
        }
    }

    /// The store's verdict; `None` when it is down and the gateway fails open.
    async fn check(&self, check: &Check) -> Result<Option<Verdict>, DomainError> {
        match self.store.check(check).await {
            Ok(verdict) => Ok(Some(verdict)),
            // The store logs its outages (once each, and when it is back); here they count.
            Err(error) => {
                self.store_failures.fetch_add(1, Ordering::Relaxed);
                match self.settings.on_store_failure {
                    FailMode::Open => Ok(None),
                    FailMode::Closed => Err(self.unavailable(&error)),
                }
            }
        }
    }

    fn permit(&self, check: &Check, states: &[RateState]) -> Permit {
        let mut headers = RateHeaders::default();
        for ((rate, _), state) in check.rates.iter().zip(states) {
            let window = RateWindow {
                limit: rate.per_minute,
                remaining: state.remaining,
                reset_ms: state.reset_ms,
            };
            let slot = match rate.measure {
                Measure::Requests => &mut headers.requests,
                Measure::Tokens => &mut headers.tokens,
            };
            // The tightest limit of each measure is the one a client must mind.
            if slot.is_none_or(|known| window.remaining < known.remaining) {
                *slot = Some(window);
            }
        }
        Permit {
            store: Some(self.store.clone()),
            clock: self.clock.clone(),
            tokens: check
                .rates
                .iter()
                .filter(|(rate, _)| rate.measure == Measure::Tokens)
                .copied()
                .collect(),
            lease: check.lease.as_ref().map(|lease| (lease.key.clone(), lease.id)),
            budgets: check.budgets.iter().map(|(window, _)| window.key()).collect(),
            currency: check.budgets.first().map(|(window, _)| window.currency.clone()),
            reservation: check.reservation,
            reserved_nanos: check.budgets.first().map_or(0, |(_, reserve)| *reserve),
            headers,
            settled: false,
        }
    }

    /// The rate limits' state for a caller without taking anything (`GET /v1/models`).
    pub async fn peek(&self, rules: &Rules) -> RateHeaders {
        if rules.rates.is_empty() {
            return RateHeaders::default();
        }
        let now_ms = self.clock.now().timestamp_millis();
        let states = match self.store.peek(&rules.rates, now_ms).await {
            Ok(states) => states,
            Err(_) => {
                self.store_failures.fetch_add(1, Ordering::Relaxed);
                return RateHeaders::default();
            }
        };
        let check = Check {
            rates: rules.rates.iter().map(|rate| (*rate, 0)).collect(),
            ..Check::default()
        };
        let mut permit = self.permit(&check, &states);
        permit.settled = true;
        permit.headers
    }

    /// A budget's spend, reservations and what remains in its current period.
    pub async fn budget_status(&self, subject: Subject, budget: &Budget) -> Result<BudgetStatus, DomainError> {
        let now = self.clock.now();
        let window = self.window(subject, budget, now);
        let now_ms = now.timestamp_millis();
        let read = |store: Arc<dyn LimitStore>, key: String| async move { store.budget(&key, now_ms).await };
        let state = match read(self.store.clone(), window.key()).await {
            Ok(Some(state)) => state,
            Ok(None) => {
                self.seed(&[&window]).await?;
                read(self.store.clone(), window.key())
                    .await
                    .map_err(|error| self.unavailable(&error))?
                    .unwrap_or_default()
            }
            Err(_) => {
                // The store is down: the durable spend is still known.
                BudgetState {
                    spent_nanos: self
                        .usage
                        .spent(subject, &window.currency, window.start, window.end)
                        .await?,
                    reserved_nanos: 0,
                }
            }
        };
        Ok(BudgetStatus {
            budget: budget.clone(),
            start: window.start,
            resets_at: window.end,
            spent_nanos: state.spent_nanos,
            reserved_nanos: state.reserved_nanos,
            remaining_nanos: (budget.amount_nanos - state.spent_nanos - state.reserved_nanos).max(0),
        })
    }
}

fn budget_refusal(window: &BudgetWindow, reserve: i64, state: BudgetState) -> String {
    let currency = &window.currency;
    let resets = match window.end {
        Some(end) => format!("it starts again at {}", end.to_rfc3339_opts(SecondsFormat::Secs, true)),
        None => "it is for all time; an admin or the key's owner can raise it".to_owned(),
    };
    format!(
        "{} budget of {}{} cannot cover this request (up to {}): {} spent, {} held by calls in flight; {resets}",
        window.subject.describe(),
        amount(window.limit_nanos, currency),
        period_name(window.period),
        amount(reserve, currency),
        amount(state.spent_nanos, currency),
        amount(state.reserved_nanos, currency),
    )
}
