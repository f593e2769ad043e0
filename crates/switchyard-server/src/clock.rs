//! The system clock, the production implementation of the domain's `Clock` port.

use chrono::{DateTime, Utc};
use switchyard_domain::Clock;
use switchyard_domain::kernel::clock::truncate_to_micros;

/// Reads the operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        truncate_to_micros(Utc::now())
    }
}
