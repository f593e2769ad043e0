//! A supplier's key pool and how a call picks its key: round-robin (the default), by weight,
//! the least in flight, or the lowest latency (a moving average). The pick reads atomics only —
//! no database, no lock shared between requests — and the pool's counter and its keys' health
//! survive routing refreshes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use secrecy::SecretString;
use uuid::Uuid;

use crate::gateway::health::{Availability, KeyHealth};
use crate::kernel::named::named_enum;

named_enum!(
    /// How a supplier's pool picks the key of a call.
    Strategy, "key_selection", "invalid_value" {
        RoundRobin => "round_robin",
        Weighted => "weighted",
        LeastInFlight => "least_in_flight",
        Latency => "latency",
    }
);

/// A decrypted upstream key in a pool; its secret never prints.
#[derive(Clone)]
pub struct PoolKey {
    pub id: Uuid,
    pub secret: SecretString,
    pub weight: u32,
    pub health: Arc<KeyHealth>,
    /// The row's `updated_at` the health belongs to.
    pub revision: chrono::DateTime<chrono::Utc>,
}

impl std::fmt::Debug for PoolKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolKey")
            .field("id", &self.id)
            .field("weight", &self.weight)
            .finish_non_exhaustive()
    }
}

/// A supplier's keys and its rotation.
#[derive(Debug)]
pub struct KeyPool {
    pub strategy: Strategy,
    pub keys: Vec<PoolKey>,
    /// Calls so far: the rotation's position.
    next: Arc<AtomicUsize>,
    total_weight: usize,
}

/// The keys a call may try, best first, and when the first cooling one is back.
#[derive(Debug, Default)]
pub struct Selection {
    /// Indexes into the pool's keys.
    pub ready: Vec<usize>,
    /// Unix ms at which the earliest cooling key is back.
    pub earliest_back: Option<i64>,
    /// Keys out until a probe brings them back.
    pub out: usize,
    /// Of those, the ones their supplier refused (the others fail too often).
    pub refused: usize,
}

impl KeyPool {
    /// A pool; `next` is the counter of the pool it replaces, so a refresh does not restart
    /// the rotation.
    pub fn new(strategy: Strategy, keys: Vec<PoolKey>, next: Arc<AtomicUsize>) -> Self {
        let total_weight = keys.iter().map(|key| key.weight.max(1) as usize).sum();
        Self {
            strategy,
            keys,
            next,
            total_weight,
        }
    }

    pub fn counter(&self) -> Arc<AtomicUsize> {
        self.next.clone()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys in rotation now, in the order to try them: the strategy's pick, then the others
    /// around the rotation.
    pub fn select(&self, now: i64) -> Selection {
        let count = self.keys.len();
        let mut selection = Selection::default();
        if count == 0 {
            return selection;
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let start = match self.strategy {
            Strategy::Weighted => self.weighted_index(turn % self.total_weight.max(1)),
            _ => turn % count,
        };
        for offset in 0..count {
            let index = (start + offset) % count;
            match self.keys[index].health.availability(now) {
                Availability::Ready => selection.ready.push(index),
                Availability::CoolingUntil(until) => {
                    selection.earliest_back = Some(selection.earliest_back.map_or(until, |e| e.min(until)));
                }
                Availability::Out => {
                    selection.out += 1;
                    if self.keys[index].health.refused() {
                        selection.refused += 1;
                    }
                }
            }
        }
        // Stable sorts: equals keep the rotation's order, so ties still spread.
        match self.strategy {
            Strategy::LeastInFlight => selection
                .ready
                .sort_by_key(|&index| self.keys[index].health.in_flight()),
            Strategy::Latency => selection
                .ready
                .sort_by_key(|&index| self.keys[index].health.latency_micros()),
            Strategy::RoundRobin | Strategy::Weighted => {}
        }
        selection
    }

    /// The key whose share of the weights holds `position` (0 ≤ position < total weight): over
    /// a full turn of the counter, each key is first exactly `weight` times.
    fn weighted_index(&self, position: usize) -> usize {
        let mut passed = 0;
        for (index, key) in self.keys.iter().enumerate() {
            passed += key.weight.max(1) as usize;
            if position < passed {
                return index;
            }
        }
        0
    }
}

/// Orders routes (already sorted by priority): within each priority, the one whose weight
/// share holds this call's turn comes first and the others follow around; better priorities
/// before worse.
pub fn route_order(priorities: &[(i32, u32)], turn: usize) -> Vec<usize> {
    let mut order = Vec::with_capacity(priorities.len());
    let mut start = 0;
    while start < priorities.len() {
        let priority = priorities[start].0;
        let end = priorities[start..]
            .iter()
            .position(|(p, _)| *p != priority)
            .map_or(priorities.len(), |offset| start + offset);
        let group = &priorities[start..end];
        let total: usize = group.iter().map(|(_, weight)| *weight as usize).sum();
        let first = if total == 0 {
            turn % group.len()
        } else {
            let position = turn % total;
            let mut passed = 0;
            group
                .iter()
                .position(|(_, weight)| {
                    passed += *weight as usize;
                    position < passed
                })
                .unwrap_or(0)
        };
        order.extend((0..group.len()).map(|offset| start + (first + offset) % group.len()));
        start = end;
    }
    order
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::gateway::health::{HealthSettings, Outcome};

    fn pool(strategy: Strategy, weights: &[u32]) -> KeyPool {
        let keys = weights
            .iter()
            .map(|&weight| PoolKey {
                id: Uuid::now_v7(),
                secret: SecretString::from("k"),
                weight,
                health: Arc::default(),
                revision: chrono::DateTime::UNIX_EPOCH,
            })
            .collect();
        KeyPool::new(strategy, keys, Arc::default())
    }

    fn firsts(pool: &KeyPool, calls: usize) -> Vec<usize> {
        let mut counts = vec![0; pool.keys.len()];
        for _ in 0..calls {
            counts[pool.select(0).ready[0]] += 1;
        }
        counts
    }

    #[test]
    fn round_robin_spreads_evenly_and_weights_share_exactly() {
        assert_eq!(
            firsts(&pool(Strategy::RoundRobin, &[1, 9, 1]), 300),
            vec![100, 100, 100]
        );
        assert_eq!(firsts(&pool(Strategy::Weighted, &[1, 3]), 2000), vec![500, 1500]);
    }

    #[test]
    fn keys_out_of_rotation_are_skipped_and_the_earliest_return_is_known() {
        let pool = pool(Strategy::RoundRobin, &[1, 1, 1]);
        let settings = HealthSettings::default();
        let limited = |seconds| Outcome::RateLimited {
            retry_after: Some(Duration::from_secs(seconds)),
        };
        pool.keys[0].health.record(&limited(10), 0, &settings);
        pool.keys[1]
            .health
            .record(&Outcome::Refused { reason: "401".into() }, 0, &settings);
        let selection = pool.select(0);
        assert_eq!((selection.ready.clone(), selection.out), (vec![2], 1));
        pool.keys[2].health.record(&limited(4), 0, &settings);
        let selection = pool.select(0);
        assert_eq!((selection.ready.len(), selection.earliest_back), (0, Some(4_000)));
    }

    #[test]
    fn least_in_flight_and_latency_prefer_the_idle_and_the_fast() {
        let pool = pool(Strategy::LeastInFlight, &[1, 1]);
        pool.keys[0].health.begin(0);
        assert_eq!(firsts(&pool, 4), vec![0, 4]);
        let fast = pool_with_latency();
        assert_eq!(fast.select(0).ready, vec![1, 0]);
    }

    fn pool_with_latency() -> KeyPool {
        let pool = pool(Strategy::Latency, &[1, 1]);
        let settings = HealthSettings::default();
        for (index, millis) in [(0, 80), (1, 20)] {
            pool.keys[index].health.record(
                &Outcome::Success {
                    latency: Duration::from_millis(millis),
                },
                0,
                &settings,
            );
        }
        pool
    }

    #[test]
    fn routes_share_by_weight_within_a_priority_and_worse_priorities_follow() {
        let routes = [(0, 1), (0, 3), (5, 1)];
        let mut firsts = [0; 3];
        for turn in 0..400 {
            let order = route_order(&routes, turn);
            assert_eq!(order.len(), 3);
            assert_eq!(order[2], 2, "the worse priority comes last");
            firsts[order[0]] += 1;
        }
        assert_eq!(firsts, [100, 300, 0]);
    }
}
