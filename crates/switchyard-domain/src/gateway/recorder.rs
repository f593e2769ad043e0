//! Where a finished call goes: the observer (metrics, the `request finished` line), then the
//! call log. Whole answers, streams and refusals all end here.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::gateway::attempt::Attempt;
use crate::gateway::call_log::CallLogEntry;
use crate::gateway::ports::{CallLogSink, CallObserver, FinishedCall};

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
