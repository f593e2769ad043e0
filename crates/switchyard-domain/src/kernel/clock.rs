//! Time for tests: the clock that only moves when told to, and the truncation every clock
//! applies (the `Clock` port itself is in `ports.rs`).

use std::sync::Mutex;

use chrono::{DateTime, Duration, DurationRound, TimeDelta, Utc};

use crate::kernel::ports::Clock;

/// Truncates an instant to whole microseconds, the precision of `DATETIME(6)` and `timestamptz`.
pub fn truncate_to_micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    // Truncation to one microsecond only fails for instants outside chrono's nanosecond range
    // (beyond the year 2262), which no clock of ours produces; keep the instant as it is then.
    instant.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(instant)
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing still at `start` (truncated to microseconds).
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(truncate_to_micros(start)),
        }
    }

    /// Moves the clock forward (or backward, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = truncate_to_micros(*now + by);
    }

    /// Sets the clock to `instant`.
    pub fn set(&self, instant: DateTime<Utc>) {
        let mut now = self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = truncate_to_micros(instant);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Timelike};

    use super::*;

    #[test]
    fn truncation_drops_sub_microsecond_digits() {
        let instant = Utc
            .with_ymd_and_hms(2026, 11, 22, 8, 0, 0)
            .single()
            .and_then(|t| t.with_nanosecond(123_456_789));
        let Some(instant) = instant else {
            panic!("valid instant");
        };
        assert_eq!(truncate_to_micros(instant).nanosecond(), 123_456_000);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Utc.timestamp_opt(1_800_000_000, 0).single();
        let Some(start) = start else {
            panic!("valid instant");
        };
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::minutes(15));
        assert_eq!(clock.now(), start + Duration::minutes(15));
        clock.set(start);
        assert_eq!(clock.now(), start);
    }
}
