//! Where a finished call goes: the observer (metrics, the `request finished` line), then the
//! call log. Whole answers, streams and refusals all end here.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::gateway::attempt::Attempt;
use crate::gateway::call_log::CallLogEntry;
use crate::gateway::ports::{CallLogSink, CallObserver, FinishedCall};
use crate::kernel::ports::Clock;

/// The code logged for a call whose future was dropped before the supplier answered (the client
/// went away, or the server stopped).
pub const CANCELLED: &str = "cancelled";

#[derive(Debug, Clone)]
pub struct Recorder {
    pub log: Arc<dyn CallLogSink>,
    pub observer: Arc<dyn CallObserver>,
}

impl Recorder {
    /// Records a call that reached no model (unknown or not allowed).
    pub fn refused(&self, entry: CallLogEntry, model: &str) {
        self.observer.finished(&FinishedCall {
            entry: &entry,
            model,
            supplier: "none",
            upstream_ms: None,
        });
        self.log.record(entry);
    }

    /// Records an attempt that ended at `now` (its entry says how).
    pub fn ended(&self, attempt: Attempt, now: DateTime<Utc>) {
        let upstream_ms = attempt.upstream_started.map(|at| (now - at).num_milliseconds().max(0));
        self.observer.finished(&FinishedCall {
            entry: &attempt.entry,
            model: &attempt.model.name,
            supplier: &attempt.route.supplier_name,
            upstream_ms,
        });
        self.log.record(attempt.entry);
    }
}

/// An attempt waiting on the supplier. Taken back when the supplier answers; dropped before
/// that (the handler's future was dropped), it logs the call as cancelled, so no accepted call
/// goes unlogged.
pub struct Pending {
    attempt: Option<Attempt>,
    recorder: Recorder,
    clock: Arc<dyn Clock>,
}

impl Pending {
    pub fn new(attempt: Attempt, recorder: Recorder, clock: Arc<dyn Clock>) -> Self {
        Self {
            attempt: Some(attempt),
            recorder,
            clock,
        }
    }

    pub fn take(mut self) -> Attempt {
        match self.attempt.take() {
            Some(attempt) => attempt,
            // `take` consumes the guard, and only `take` and `drop` empty it.
            None => unreachable!("a pending attempt is taken once"),
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Some(mut attempt) = self.attempt.take() else {
            return;
        };
        let now = self.clock.now();
        let entry = &mut attempt.entry;
        // nginx's "client closed request": no status reached the client.
        entry.status_code = 499;
        entry.error_code = Some(CANCELLED.to_owned());
        entry.error_summary = Some("the call ended before the supplier answered".to_owned());
        entry.latency_ms = (now - attempt.started).num_milliseconds().max(0);
        self.recorder.ended(attempt, now);
    }
}
