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

/// Waits on the runtime's timer (the domain's `Waiter` port).
#[derive(Debug, Default, Clone, Copy)]
pub struct TimerWaiter;

#[async_trait::async_trait]
impl switchyard_domain::gateway::ports::Waiter for TimerWaiter {
    async fn wait(&self, duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}
