//! What the fake upstream keeps between requests: the scripted scenarios, the requests it
//! received, the Replicate predictions it made, and its counts of streams. The test's thread and
//! the server's workers share it, behind one mutex (held only for copies in and out) and atomics.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use actix_web::HttpRequest;
use serde_json::Value;

use crate::scenario::Scenario;

/// The most predictions kept; older ones are forgotten, so a long benchmark's memory stays flat.
const MAX_PREDICTIONS: usize = 10_000;

/// A request the fake upstream received, as the gateway sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, e.g. `/openai/v1/chat/completions`.
    pub path: String,
    /// The query string without the `?` (empty when there is none).
    pub query: String,
    /// Every header, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body as JSON; `Null` when it is empty or not JSON.
    pub body: Value,
}

impl Recorded {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn of(request: &HttpRequest, body: &Value) -> Self {
        Self {
            method: request.method().as_str().to_owned(),
            path: request.path().to_owned(),
            query: request.query_string().to_owned(),
            headers: request
                .headers()
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.clone(),
        }
    }
}

/// A Replicate prediction: what its stream and its polls will answer.
#[derive(Debug, Clone)]
pub(crate) struct Prediction {
    /// `owner/name` of the model.
    pub(crate) model: String,
    /// The scenario taken when it was created.
    pub(crate) scenario: Scenario,
    /// Whether a cancel arrived.
    pub(crate) canceled: bool,
}

#[derive(Debug, Default)]
struct Inner {
    default: Scenario,
    queue: VecDeque<Scenario>,
    /// Scenarios of the exchanges that carry a key, before the queue and the default.
    by_key: HashMap<String, Scenario>,
    requests: Vec<Recorded>,
    predictions: HashMap<String, Prediction>,
    /// Prediction ids, oldest first, to forget the oldest beyond the limit.
    prediction_order: VecDeque<String>,
    cancelled_predictions: Vec<String>,
}

/// The state one fake upstream shares with its workers.
#[derive(Debug)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    recording: AtomicBool,
    answers: AtomicU64,
    prediction_ids: AtomicU64,
    completed: AtomicUsize,
    cancelled: AtomicUsize,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            recording: AtomicBool::new(true),
            answers: AtomicU64::new(0),
            prediction_ids: AtomicU64::new(0),
            completed: AtomicUsize::new(0),
            cancelled: AtomicUsize::new(0),
        }
    }
}

impl Shared {
    /// The state, even after a panic elsewhere (a failed assertion must not hide the requests).
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn record(&self, request: &HttpRequest, body: &Value) {
        if self.recording.load(Ordering::Relaxed) {
            let recorded = Recorded::of(request, body);
            self.lock().requests.push(recorded);
        }
    }

    pub(crate) fn set_recording(&self, enabled: bool) {
        self.recording.store(enabled, Ordering::Relaxed);
    }

    /// The scenario of `key`, else the next one-off scenario, else the default.
    pub(crate) fn take_scenario(&self, key: Option<&str>) -> Scenario {
        let mut inner = self.lock();
        if let Some(scenario) = key.and_then(|key| inner.by_key.get(key)) {
            return scenario.clone();
        }
        match inner.queue.pop_front() {
            Some(scenario) => scenario,
            None => inner.default.clone(),
        }
    }

    pub(crate) fn set(&self, scenario: Scenario) {
        self.lock().default = scenario;
    }

    pub(crate) fn key_scenario(&self, key: &str) -> Option<Scenario> {
        self.lock().by_key.get(key).cloned()
    }

    pub(crate) fn set_for_key(&self, key: &str, scenario: Option<Scenario>) {
        let mut inner = self.lock();
        match scenario {
            Some(scenario) => inner.by_key.insert(key.to_owned(), scenario),
            None => inner.by_key.remove(key),
        };
    }

    pub(crate) fn push(&self, scenario: Scenario) {
        self.lock().queue.push_back(scenario);
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub(crate) fn last_request(&self) -> Option<Recorded> {
        self.lock().requests.last().cloned()
    }

    /// Forgets the requests, the cancelled predictions and the stream counts (scenarios and
    /// predictions stay: an exchange may still be running).
    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.requests.clear();
        inner.cancelled_predictions.clear();
        self.completed.store(0, Ordering::Relaxed);
        self.cancelled.store(0, Ordering::Relaxed);
    }

    /// A number for the next answer's id (ids stay unique across `clear`).
    pub(crate) fn next_answer(&self) -> u64 {
        self.answers.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Keeps a new prediction and returns its id.
    pub(crate) fn add_prediction(&self, prediction: Prediction) -> String {
        let id = format!("pred-{}", self.prediction_ids.fetch_add(1, Ordering::Relaxed) + 1);
        let mut inner = self.lock();
        inner.predictions.insert(id.clone(), prediction);
        inner.prediction_order.push_back(id.clone());
        while inner.prediction_order.len() > MAX_PREDICTIONS {
            if let Some(oldest) = inner.prediction_order.pop_front() {
                inner.predictions.remove(&oldest);
            }
        }
        id
    }

    pub(crate) fn prediction(&self, id: &str) -> Option<Prediction> {
        self.lock().predictions.get(id).cloned()
    }

    /// Marks a prediction cancelled and notes its id; `None` when there is no such prediction.
    pub(crate) fn cancel_prediction(&self, id: &str) -> Option<Prediction> {
        let mut inner = self.lock();
        let prediction = inner.predictions.get_mut(id)?;
        prediction.canceled = true;
        let prediction = prediction.clone();
        inner.cancelled_predictions.push(id.to_owned());
        Some(prediction)
    }

    pub(crate) fn cancelled_predictions(&self) -> Vec<String> {
        self.lock().cancelled_predictions.clone()
    }

    pub(crate) fn stream_completed(&self) {
        self.completed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stream_cancelled(&self) {
        self.cancelled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn streams_completed(&self) -> usize {
        self.completed.load(Ordering::Relaxed)
    }

    pub(crate) fn streams_cancelled(&self) -> usize {
        self.cancelled.load(Ordering::Relaxed)
    }
}
