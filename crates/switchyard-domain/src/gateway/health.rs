//! Each upstream key's health and load, in memory: atomics that requests update as they end
//! (no lock on the path, no database), kept across routing refreshes by the key's id. A key is
//! in rotation unless it is cooling down after a 429 (until the latest deadline a supplier gave),
//! refused by its supplier (401/403: `error`, with the reason) or behind an open circuit
//! (failures in a row). Keys out of rotation for a reason other than a cooldown are probed on a
//! schedule and come back when a probe succeeds. Use counts, the last use and state changes are
//! written to the keys' rows by a background flush, never per request.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use crate::gateway::ports::ProviderError;
#[cfg(test)]
use crate::gateway::ports::TimeoutPhase;

/// How keys' health reacts, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthSettings {
    /// Failures in a row (5xx, timeouts, connection errors) that open a key's circuit.
    pub failure_threshold: u32,
    /// Between two probes of a key out of rotation (an open circuit or a refused key).
    pub probe_interval: Duration,
    /// The cooldown after a 429 that gave no `Retry-After`.
    pub default_cooldown: Duration,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            probe_interval: Duration::from_secs(30),
            default_cooldown: Duration::from_secs(5),
        }
    }
}

const HEALTHY: u8 = 0;
const REFUSED: u8 = 1;
const OPEN: u8 = 2;

/// A key's condition, as the key API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Healthy,
    /// Rate limited until `cooldown_until`.
    CoolingDown,
    /// Refused by the supplier (401/403).
    Error,
    /// Failed too often in a row.
    CircuitOpen,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::CoolingDown => "cooling_down",
            Self::Error => "error",
            Self::CircuitOpen => "circuit_open",
        }
    }
}

/// Whether a key can take a call now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Ready,
    /// Back at this instant (Unix milliseconds).
    CoolingUntil(i64),
    /// Out until a probe brings it back.
    Out,
}

/// How a call through a key ended, as its health counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success {
        latency: Duration,
    },
    /// 429: cooling down for `retry_after` (or the default).
    RateLimited {
        retry_after: Option<Duration>,
    },
    /// 401/403: the supplier refused the key.
    Refused {
        reason: String,
    },
    /// 5xx, a timeout, a connection error: counts toward the circuit.
    Failure {
        reason: String,
    },
    /// The request's own fault (400): says nothing about the key.
    Neutral,
}

impl Outcome {
    /// What a supplier's error says about the key that carried the call.
    pub fn of(error: &ProviderError) -> Self {
        match error {
            ProviderError::RateLimited { retry_after, .. } => Self::RateLimited {
                retry_after: *retry_after,
            },
            ProviderError::Unauthorized { .. } => Self::Refused {
                reason: error.to_string(),
            },
            // The request's length, not the key's health (else one caller's long requests
            // could open every key's circuit).
            error if error.met_by_long_generation() => Self::Neutral,
            ProviderError::Overloaded { .. }
            | ProviderError::Failed { .. }
            | ProviderError::Timeout { .. }
            | ProviderError::Connection { .. }
            | ProviderError::Malformed { .. } => Self::Failure {
                reason: error.to_string(),
            },
            ProviderError::BadRequest { .. } | ProviderError::Unsupported { .. } => Self::Neutral,
        }
    }
}

/// Unix milliseconds of an instant.
pub fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn instant(millis: i64) -> Option<DateTime<Utc>> {
    (millis > 0)
        .then(|| Utc.timestamp_millis_opt(millis).single())
        .flatten()
}

fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}

/// One key's health and load.
#[derive(Debug, Default)]
pub struct KeyHealth {
    in_flight: AtomicU32,
    /// Latency's moving average in microseconds; 0 = not measured yet.
    ewma_micros: AtomicU64,
    /// Unix ms; 0 = none.
    cooldown_until: AtomicI64,
    failures: AtomicU32,
    state: AtomicU8,
    /// Unix ms of the next probe while out of rotation.
    next_probe: AtomicI64,
    /// A probe is running (one at a time).
    probing: AtomicBool,
    uses: AtomicU64,
    flushed_uses: AtomicU64,
    last_used: AtomicI64,
    /// The state or the cooldown changed since the last flush.
    changed: AtomicBool,
    /// Why it is out of rotation.
    reason: Mutex<Option<String>>,
}

/// What a key's health looks like now.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthView {
    pub condition: Condition,
    pub reason: Option<String>,
    pub cooldown_until: Option<DateTime<Utc>>,
    pub next_probe_at: Option<DateTime<Utc>>,
    pub in_flight: u32,
    pub consecutive_failures: u32,
    /// Milliseconds; `None` before its first answer.
    pub latency_ewma_ms: Option<f64>,
}

/// A key's probe, claimed: [`ProbeClaim::done`] counts its outcome; done or dropped, it lets
/// the next probe be claimed.
#[derive(Debug)]
pub struct ProbeClaim {
    health: Arc<KeyHealth>,
}

impl ProbeClaim {
    pub fn done(self, outcome: &Outcome, now: i64, settings: &HealthSettings) {
        self.health.probed(outcome, now, settings);
    }
}

impl Drop for ProbeClaim {
    fn drop(&mut self) {
        self.health.probing.store(false, Ordering::Release);
    }
}

/// A key's changes since the last flush, for its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFlush {
    pub id: Uuid,
    pub uses: u64,
    pub last_used_at: Option<DateTime<Utc>>,
    /// `Some` when the state changed: whether the supplier refused it, and why.
    pub state: Option<FlushedState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushedState {
    /// `error` (refused) or back to `active`.
    pub error: bool,
    pub reason: Option<String>,
    pub cooldown_until: Option<DateTime<Utc>>,
}

impl KeyHealth {
    /// A key as its row left it: `error` rows start refused, probed at once.
    pub fn restored(error: bool, reason: Option<String>, cooldown_until: Option<DateTime<Utc>>) -> Self {
        let health = Self::default();
        if error {
            health.state.store(REFUSED, Ordering::Relaxed);
            *health.reason_lock() = reason;
        }
        if let Some(until) = cooldown_until {
            health.cooldown_until.store(millis(until), Ordering::Relaxed);
        }
        health
    }

    fn reason_lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn availability(&self, now: i64) -> Availability {
        if self.state.load(Ordering::Acquire) != HEALTHY {
            return Availability::Out;
        }
        let until = self.cooldown_until.load(Ordering::Acquire);
        if until > now {
            Availability::CoolingUntil(until)
        } else {
            Availability::Ready
        }
    }

    /// Out of rotation because its supplier refused it.
    pub fn refused(&self) -> bool {
        self.state.load(Ordering::Acquire) == REFUSED
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn latency_micros(&self) -> u64 {
        self.ewma_micros.load(Ordering::Relaxed)
    }

    /// A call starts through the key; the guard ends it.
    pub fn begin(&self, now: i64) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.uses.fetch_add(1, Ordering::Relaxed);
        self.last_used.fetch_max(now, Ordering::Relaxed);
    }

    /// A call through the key ended.
    pub fn end(&self, outcome: &Outcome, now: i64, settings: &HealthSettings) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.record(outcome, now, settings);
    }

    /// Counts an outcome (of a call or a probe).
    pub fn record(&self, outcome: &Outcome, now: i64, settings: &HealthSettings) {
        match outcome {
            Outcome::Success { latency } => {
                let sample = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
                // α = 1/5; an atomic update, so concurrent answers do not lose samples.
                let _ = self
                    .ewma_micros
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| {
                        Some(if current == 0 {
                            sample
                        } else {
                            (current * 4 + sample) / 5
                        })
                    });
                self.failures.store(0, Ordering::Relaxed);
                if self.state.swap(HEALTHY, Ordering::AcqRel) != HEALTHY {
                    *self.reason_lock() = None;
                    self.next_probe.store(0, Ordering::Relaxed);
                    self.changed.store(true, Ordering::Release);
                }
            }
            Outcome::RateLimited { retry_after } => {
                let wait = retry_after.unwrap_or(settings.default_cooldown);
                let until = now.saturating_add(duration_millis(wait));
                // The later deadline wins: a shorter Retry-After never cuts a cooldown short.
                let before = self.cooldown_until.fetch_max(until, Ordering::AcqRel);
                if until > before {
                    self.changed.store(true, Ordering::Release);
                }
            }
            Outcome::Refused { reason } => {
                self.out(REFUSED, reason, now, settings);
            }
            Outcome::Failure { reason } => {
                let failures = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
                if failures >= settings.failure_threshold.max(1) {
                    self.out(OPEN, reason, now, settings);
                }
            }
            Outcome::Neutral => {}
        }
    }

    fn out(&self, state: u8, reason: &str, now: i64, settings: &HealthSettings) {
        *self.reason_lock() = Some(crate::gateway::call_log::CallLogEntry::summary(reason));
        self.schedule_probe(now, settings);
        if self.state.swap(state, Ordering::AcqRel) != state || state == REFUSED {
            self.changed.store(true, Ordering::Release);
        }
    }

    /// The next probe, a probe interval from `now`.
    fn schedule_probe(&self, now: i64, settings: &HealthSettings) {
        self.next_probe.store(
            now.saturating_add(duration_millis(settings.probe_interval)),
            Ordering::Release,
        );
    }

    /// Claims the key's probe when one is due now (one at a time): the claim is released when
    /// it is done or dropped (a probe cancelled midway does not keep the key from the next).
    pub fn claim_probe(self: &Arc<Self>, now: i64) -> Option<ProbeClaim> {
        let due = self.state.load(Ordering::Acquire) != HEALTHY
            && self.next_probe.load(Ordering::Acquire) <= now
            && !self.probing.swap(true, Ordering::AcqRel);
        due.then(|| ProbeClaim { health: self.clone() })
    }

    /// A probe ended: a success puts the key back, a failure schedules the next one.
    fn probed(&self, outcome: &Outcome, now: i64, settings: &HealthSettings) {
        match outcome {
            Outcome::Success { .. } => self.record(outcome, now, settings),
            // A refused key stays refused, with the supplier's reason, until its supplier
            // accepts it: a probe that fails otherwise (a 5xx) proves nothing about the key.
            Outcome::Failure { .. } if self.state.load(Ordering::Acquire) == REFUSED => {
                self.schedule_probe(now, settings);
            }
            Outcome::Refused { reason } => self.out(REFUSED, reason, now, settings),
            Outcome::Failure { reason } => self.out(OPEN, reason, now, settings),
            // A rate-limited probe reached a key the supplier accepts: it is back, cooling.
            Outcome::RateLimited { .. } => {
                self.record(
                    &Outcome::Success {
                        latency: Duration::ZERO,
                    },
                    now,
                    settings,
                );
                self.record(outcome, now, settings);
            }
            Outcome::Neutral => self.record(
                &Outcome::Success {
                    latency: Duration::ZERO,
                },
                now,
                settings,
            ),
        }
    }

    pub fn view(&self, now: i64) -> HealthView {
        let state = self.state.load(Ordering::Acquire);
        let cooldown = self.cooldown_until.load(Ordering::Acquire);
        let condition = match state {
            REFUSED => Condition::Error,
            OPEN => Condition::CircuitOpen,
            _ if cooldown > now => Condition::CoolingDown,
            _ => Condition::Healthy,
        };
        let ewma = self.ewma_micros.load(Ordering::Relaxed);
        HealthView {
            condition,
            reason: self.reason_lock().clone(),
            cooldown_until: instant(cooldown).filter(|_| cooldown > now),
            next_probe_at: (state != HEALTHY)
                .then(|| instant(self.next_probe.load(Ordering::Acquire)))
                .flatten(),
            in_flight: self.in_flight(),
            consecutive_failures: self.failures.load(Ordering::Relaxed),
            latency_ewma_ms: (ewma > 0).then(|| ewma as f64 / 1000.0),
        }
    }

    /// What changed since the last flush, marking it flushed; `None` when nothing did.
    pub fn take_flush(&self, id: Uuid) -> Option<KeyFlush> {
        let uses = self.uses.load(Ordering::Acquire);
        let flushed = self.flushed_uses.swap(uses, Ordering::AcqRel);
        let changed = self.changed.swap(false, Ordering::AcqRel);
        if uses == flushed && !changed {
            return None;
        }
        let state = changed.then(|| FlushedState {
            error: self.state.load(Ordering::Acquire) == REFUSED,
            reason: self.reason_lock().clone(),
            cooldown_until: instant(self.cooldown_until.load(Ordering::Acquire)),
        });
        Some(KeyFlush {
            id,
            uses: uses.saturating_sub(flushed),
            last_used_at: instant(self.last_used.load(Ordering::Relaxed)),
            state,
        })
    }

    /// Gives back a flush that could not be written, so the next one carries it.
    pub fn restore_flush(&self, flush: &KeyFlush) {
        self.flushed_uses.fetch_sub(flush.uses, Ordering::AcqRel);
        if flush.state.is_some() {
            self.changed.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: HealthSettings = HealthSettings {
        failure_threshold: 3,
        probe_interval: Duration::from_secs(30),
        default_cooldown: Duration::from_secs(5),
    };

    fn limited(seconds: u64) -> Outcome {
        Outcome::RateLimited {
            retry_after: Some(Duration::from_secs(seconds)),
        }
    }

    #[test]
    fn a_cooldown_only_ever_lengthens() {
        let health = KeyHealth::default();
        health.record(&limited(60), 1_000, &SETTINGS);
        health.record(&limited(10), 2_000, &SETTINGS);
        assert_eq!(health.availability(30_000), Availability::CoolingUntil(61_000));
        assert_eq!(health.availability(61_000), Availability::Ready);
        health.record(&Outcome::RateLimited { retry_after: None }, 100_000, &SETTINGS);
        assert_eq!(health.availability(100_000), Availability::CoolingUntil(105_000));
    }

    #[test]
    fn failures_in_a_row_open_the_circuit_and_a_probe_closes_it() {
        let health = Arc::new(KeyHealth::default());
        let failure = Outcome::Failure { reason: "502".into() };
        health.record(&failure, 0, &SETTINGS);
        health.record(&failure, 0, &SETTINGS);
        health.record(
            &Outcome::Success {
                latency: Duration::from_millis(3),
            },
            0,
            &SETTINGS,
        );
        health.record(&failure, 0, &SETTINGS);
        health.record(&failure, 0, &SETTINGS);
        assert_eq!(
            health.availability(0),
            Availability::Ready,
            "a success resets the count"
        );
        health.record(&failure, 10, &SETTINGS);
        assert_eq!(health.availability(10), Availability::Out);
        let view = health.view(10);
        assert_eq!(view.condition, Condition::CircuitOpen);
        assert_eq!(view.next_probe_at.map(millis), Some(30_010));
        assert!(health.claim_probe(30_009).is_none(), "not before its time");
        let claim = health.claim_probe(30_010).expect("a claim");
        assert!(health.claim_probe(30_010).is_none(), "one probe at a time");
        claim.done(
            &Outcome::Success {
                latency: Duration::from_millis(1),
            },
            30_020,
            &SETTINGS,
        );
        assert_eq!(health.availability(30_020), Availability::Ready);
        assert_eq!(health.view(30_020).reason, None);
    }

    #[test]
    fn a_dropped_probe_claim_lets_the_next_probe_run() {
        let health = Arc::new(KeyHealth::default());
        health.record(&Outcome::Refused { reason: "401".into() }, 0, &SETTINGS);
        let claim = health.claim_probe(30_000).expect("a claim");
        drop(claim);
        assert!(
            health.claim_probe(30_000).is_some(),
            "the cancelled probe's claim was kept"
        );
    }

    #[test]
    fn a_refused_key_stays_refused_when_its_probe_fails_otherwise() {
        let health = Arc::new(KeyHealth::default());
        health.record(&Outcome::Refused { reason: "401".into() }, 0, &SETTINGS);
        health.claim_probe(30_000).expect("a claim").done(
            &Outcome::Failure { reason: "503".into() },
            30_000,
            &SETTINGS,
        );
        let view = health.view(30_000);
        assert_eq!(
            (view.condition, view.reason.as_deref()),
            (Condition::Error, Some("401")),
            "the supplier's reason stays"
        );
        assert_eq!(view.next_probe_at.map(millis), Some(60_000));
        let flush = health.take_flush(Uuid::nil()).expect("a flush");
        assert!(
            flush.state.is_some_and(|state| state.error),
            "it would be written active"
        );
    }

    #[test]
    fn a_long_generations_timeout_says_nothing_about_the_key() {
        for phase in [TimeoutPhase::Idle, TimeoutPhase::Total] {
            assert_eq!(Outcome::of(&ProviderError::Timeout { phase }), Outcome::Neutral);
        }
        for phase in [TimeoutPhase::Connect, TimeoutPhase::FirstByte] {
            assert!(matches!(
                Outcome::of(&ProviderError::Timeout { phase }),
                Outcome::Failure { .. }
            ));
        }
    }

    #[test]
    fn a_refused_key_keeps_its_reason_until_a_probe_succeeds() {
        let health = Arc::new(KeyHealth::default());
        health.record(
            &Outcome::Refused {
                reason: "401 invalid key".into(),
            },
            0,
            &SETTINGS,
        );
        let view = health.view(0);
        assert_eq!(
            (view.condition, view.reason.as_deref()),
            (Condition::Error, Some("401 invalid key"))
        );
        health.claim_probe(30_000).expect("a claim").done(
            &Outcome::Refused {
                reason: "401 again".into(),
            },
            30_000,
            &SETTINGS,
        );
        assert_eq!(health.view(30_000).next_probe_at.map(millis), Some(60_000));
        health.claim_probe(60_000).expect("a claim").done(
            &Outcome::Success {
                latency: Duration::ZERO,
            },
            60_000,
            &SETTINGS,
        );
        assert_eq!(health.view(60_000).condition, Condition::Healthy);
    }

    #[test]
    fn flushes_carry_uses_and_state_changes_once() {
        let id = Uuid::nil();
        let health = KeyHealth::default();
        assert_eq!(health.take_flush(id), None);
        health.begin(5_000);
        health.end(
            &Outcome::Success {
                latency: Duration::ZERO,
            },
            5_001,
            &SETTINGS,
        );
        health.begin(6_000);
        health.end(&Outcome::Refused { reason: "403".into() }, 6_001, &SETTINGS);
        let flush = health.take_flush(id).expect("a flush");
        assert_eq!(flush.uses, 2);
        assert_eq!(flush.last_used_at.map(millis), Some(6_000));
        assert!(flush.state.as_ref().is_some_and(|state| state.error));
        assert_eq!(health.take_flush(id), None);
        health.restore_flush(&flush);
        assert_eq!(health.take_flush(id).map(|again| again.uses), Some(2));
        assert_eq!(health.in_flight(), 0);
    }
}
