//! `AttemptLimiter` in this process's memory: one keyed rate limiter (governor, GCRA) per kind
//! of attempt and scope, each instance counting the attempts it sees; and across instances
//! (`redis.url` set): the same rates in Redis, with the gateway's rate script, so that N
//! instances do not give N times the attempts. While Redis is unreachable each instance counts
//! in its own memory again (still a limit, not none and not a refusal of every login).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use switchyard_domain::accounts::{Attempt, AttemptLimiter, Scope};

use crate::redis_limits::RedisLimitStore;

/// Keys a limiter holds before it first drops those whose limit has fully recovered (they carry
/// no state worth keeping); after each pass the threshold is twice what was left, so the pass
/// costs amortised constant time per attempt while keys that are still limited stay counted.
const FIRST_PRUNE_AT: usize = 10_000;

struct Limiter {
    limiter: DefaultKeyedRateLimiter<String>,
    prune_at: AtomicUsize,
}

pub struct InMemoryAttemptLimiter {
    limiters: HashMap<(Attempt, Scope), Limiter>,
    clock: DefaultClock,
}

impl std::fmt::Debug for InMemoryAttemptLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryAttemptLimiter")
            .field("limited", &self.limiters.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl InMemoryAttemptLimiter {
    /// Attempts allowed per minute for each kind and scope listed (a burst of that many, then
    /// one every `60 / n` seconds); what is not listed, or listed as 0, is not limited.
    pub fn new(per_minute: &[(Attempt, Scope, u32)]) -> Self {
        let limiters = per_minute
            .iter()
            .filter_map(|&(attempt, scope, n)| {
                let quota = Quota::per_minute(NonZeroU32::new(n)?);
                let limiter = Limiter {
                    limiter: RateLimiter::keyed(quota),
                    prune_at: AtomicUsize::new(FIRST_PRUNE_AT),
                };
                Some(((attempt, scope), limiter))
            })
            .collect();
        Self {
            limiters,
            clock: DefaultClock::default(),
        }
    }
}

#[async_trait]
impl AttemptLimiter for InMemoryAttemptLimiter {
    async fn hit(&self, attempt: Attempt, scope: Scope, key: &str) -> Result<(), u64> {
        let Some(Limiter { limiter, prune_at }) = self.limiters.get(&(attempt, scope)) else {
            return Ok(());
        };
        if limiter.len() > prune_at.load(Ordering::Relaxed) {
            limiter.retain_recent();
            prune_at.store((limiter.len() * 2).max(FIRST_PRUNE_AT), Ordering::Relaxed);
        }
        limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()).as_secs().max(1))
    }
}

/// The attempt limits in Redis, shared by every instance on it.
#[derive(Debug)]
pub struct SharedAttemptLimiter {
    store: RedisLimitStore,
    per_minute: HashMap<(Attempt, Scope), u32>,
    /// What counts while Redis is unreachable.
    local: InMemoryAttemptLimiter,
}

impl SharedAttemptLimiter {
    /// Limits as [`InMemoryAttemptLimiter::new`] takes them, kept in `store`.
    pub fn new(store: RedisLimitStore, per_minute: &[(Attempt, Scope, u32)]) -> Self {
        Self {
            store,
            per_minute: per_minute
                .iter()
                .filter(|(_, _, n)| *n > 0)
                .map(|&(attempt, scope, n)| ((attempt, scope), n))
                .collect(),
            local: InMemoryAttemptLimiter::new(per_minute),
        }
    }
}

#[async_trait]
impl AttemptLimiter for SharedAttemptLimiter {
    async fn hit(&self, attempt: Attempt, scope: Scope, key: &str) -> Result<(), u64> {
        let Some(&per_minute) = self.per_minute.get(&(attempt, scope)) else {
            return Ok(());
        };
        let scope_name = match scope {
            Scope::Address => "address",
            Scope::Account => "account",
        };
        let name = format!("attempt:{}:{scope_name}:{key}", attempt.as_str());
        match self.store.take_one(&name, per_minute).await {
            Ok(None) => Ok(()),
            Ok(Some(wait_ms)) => Err(wait_ms.div_ceil(1000).max(1)),
            // The store has logged the outage.
            Err(_) => self.local.hit(attempt, scope, key).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn attempts_are_counted_per_kind_scope_and_key() {
        let limiter =
            InMemoryAttemptLimiter::new(&[(Attempt::Login, Scope::Address, 2), (Attempt::Login, Scope::Account, 0)]);
        for _ in 0..2 {
            assert_eq!(limiter.hit(Attempt::Login, Scope::Address, "unknown").await, Ok(()));
        }
        let retry_after = limiter.hit(Attempt::Login, Scope::Address, "unknown").await;
        assert!(matches!(retry_after, Err(1..=60)), "{retry_after:?}");
        assert_eq!(limiter.hit(Attempt::Login, Scope::Address, "203.0.113.1").await, Ok(()));
        assert_eq!(
            limiter.hit(Attempt::Refresh, Scope::Address, "unknown").await,
            Ok(()),
            "another kind"
        );
        for _ in 0..5 {
            assert_eq!(
                limiter.hit(Attempt::Login, Scope::Account, "alice").await,
                Ok(()),
                "0 = not limited"
            );
        }
    }
}
