//! The limit store of a single instance: every limit's state in this process's memory, behind
//! one lock (each check is a few map operations). With `redis.url` set, the Redis store takes
//! its place so that every instance shares one state.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use uuid::Uuid;

use crate::usage::limits::{
    BudgetState, BudgetWindow, Check, LimitStore, LimitStoreError, Rate, RateState, Settlement, Verdict, gcra, state,
};

/// Checks between two sweeps of state that no longer matters.
const SWEEP_EVERY: u64 = 10_000;

#[derive(Debug, Default)]
struct Budget {
    spent: i64,
    /// Reservations in flight: amount and expiry.
    reserved: HashMap<Uuid, (i64, i64)>,
    /// When the period ends (`None`: all time).
    end_ms: Option<i64>,
}

impl Budget {
    fn reserved(&mut self, now_ms: i64) -> i64 {
        self.reserved.retain(|_, (_, expires)| *expires > now_ms);
        self.reserved.values().map(|(amount, _)| amount).sum()
    }
}

#[derive(Debug, Default)]
struct State {
    /// Each rate's theoretical arrival time, in milliseconds.
    rates: HashMap<String, f64>,
    /// Each key's calls in flight and when their slot expires.
    leases: HashMap<String, HashMap<Uuid, i64>>,
    budgets: HashMap<String, Budget>,
    checks: u64,
}

impl State {
    fn sweep(&mut self, now_ms: i64) {
        let now = now_ms as f64;
        self.rates.retain(|_, tat| *tat > now);
        self.leases.retain(|_, held| {
            held.retain(|_, expires| *expires > now_ms);
            !held.is_empty()
        });
        self.budgets
            .retain(|_, budget| budget.end_ms.is_none_or(|end| end > now_ms));
    }
}

#[derive(Debug, Default)]
pub struct MemoryLimitStore {
    state: Mutex<State>,
}

impl MemoryLimitStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain numbers behind: still usable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl LimitStore for MemoryLimitStore {
    async fn check(&self, check: &Check) -> Result<Verdict, LimitStoreError> {
        let mut state = self.lock();
        state.checks += 1;
        if state.checks.is_multiple_of(SWEEP_EVERY) {
            state.sweep(check.now_ms);
        }
        let now = check.now_ms as f64;
        let mut taken = Vec::with_capacity(check.rates.len());
        let mut refused: Option<(usize, u64)> = None;
        for (index, (rate, amount)) in check.rates.iter().enumerate() {
            match gcra(state.rates.get(&rate.key()).copied(), now, rate, *amount) {
                Ok(next) => taken.push(next),
                Err(wait) => {
                    if refused.is_none_or(|(_, longest)| wait > longest) {
                        refused = Some((index, wait));
                    }
                }
            }
        }
        if let Some((index, retry_after_ms)) = refused {
            return Ok(Verdict::RateRefused { index, retry_after_ms });
        }
        if let Some(lease) = &check.lease {
            let held = state.leases.entry(lease.key.clone()).or_default();
            held.retain(|_, expires| *expires > check.now_ms);
            if held.len() >= lease.max as usize {
                return Ok(Verdict::ConcurrencyRefused);
            }
        }
        let unseeded: Vec<usize> = check
            .budgets
            .iter()
            .enumerate()
            .filter(|(_, (window, _))| !state.budgets.contains_key(&window.key()))
            .map(|(index, _)| index)
            .collect();
        if !unseeded.is_empty() {
            return Ok(Verdict::Unseeded(unseeded));
        }
        for (index, (window, reserve)) in check.budgets.iter().enumerate() {
            let Some(budget) = state.budgets.get_mut(&window.key()) else {
                return Ok(Verdict::Unseeded(vec![index]));
            };
            let reserved = budget.reserved(check.now_ms);
            if budget.spent.saturating_add(reserved).saturating_add(*reserve) > window.limit_nanos {
                return Ok(Verdict::BudgetRefused {
                    index,
                    state: BudgetState {
                        spent_nanos: budget.spent,
                        reserved_nanos: reserved,
                    },
                });
            }
        }
        // Everything fits: take it all.
        for ((rate, _), (tat, _)) in check.rates.iter().zip(&taken) {
            state.rates.insert(rate.key(), *tat);
        }
        if let Some(lease) = &check.lease {
            state
                .leases
                .entry(lease.key.clone())
                .or_default()
                .insert(lease.id, lease.expires_ms);
        }
        for (window, reserve) in &check.budgets {
            if let Some(budget) = state.budgets.get_mut(&window.key()) {
                budget
                    .reserved
                    .insert(check.reservation, (*reserve, check.reservation_expires_ms));
            }
        }
        Ok(Verdict::Admitted(taken.into_iter().map(|(_, state)| state).collect()))
    }

    async fn seed(&self, budgets: &[(BudgetWindow, i64)], _now_ms: i64) -> Result<(), LimitStoreError> {
        let mut state = self.lock();
        for (window, spent) in budgets {
            state.budgets.entry(window.key()).or_insert_with(|| Budget {
                spent: *spent,
                reserved: HashMap::new(),
                end_ms: window.end.map(|end| end.timestamp_millis()),
            });
        }
        Ok(())
    }

    async fn peek(&self, rates: &[Rate], now_ms: i64) -> Result<Vec<RateState>, LimitStoreError> {
        let held = self.lock();
        let now = now_ms as f64;
        Ok(rates
            .iter()
            .map(|rate| {
                let tat = held.rates.get(&rate.key()).copied().unwrap_or(now);
                state(tat, now, rate.interval_ms())
            })
            .collect())
    }

    async fn budget(&self, key: &str, now_ms: i64) -> Result<Option<BudgetState>, LimitStoreError> {
        let mut state = self.lock();
        Ok(state.budgets.get_mut(key).map(|budget| BudgetState {
            spent_nanos: budget.spent,
            reserved_nanos: budget.reserved(now_ms),
        }))
    }

    fn settle(&self, settlement: Settlement) {
        let mut state = self.lock();
        for (rate, delta) in &settlement.tokens {
            if let Some(tat) = state.rates.get_mut(&rate.key()) {
                *tat += *delta as f64 * rate.interval_ms();
            }
        }
        if let Some((key, id)) = &settlement.lease
            && let Some(held) = state.leases.get_mut(key)
        {
            held.remove(id);
        }
        for (key, cost) in &settlement.budgets {
            if let Some(budget) = state.budgets.get_mut(key) {
                budget.reserved.remove(&settlement.reservation);
                budget.spent = budget.spent.saturating_add(*cost);
            }
        }
    }
}
