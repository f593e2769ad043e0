//! In-memory fakes of the gateway's ports for its unit tests: a provider that answers from a
//! script, a catalog of rows, a call log that keeps what it is given, a tokenizer that counts
//! words.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::catalog::ids::{ModelId, RouteId, SupplierId};
use crate::catalog::model::{
    Model, ModelDetail, ModelSpec, ModelType, Pricing, Route, RouteSpec, SubType, SupplierSummary,
};
use crate::catalog::supplier::{Protocol, Supplier, SupplierSpec};
use crate::gateway::call_log::CallLogEntry;
use crate::gateway::chat::{ChatChunk, ChatRequest, ChatResponse};
use crate::gateway::embedding::{EmbeddingRequest, EmbeddingResponse};
use crate::gateway::ports::{
    CallLogSink, CallObserver, ChatProvider, ChatStream, FinishedCall, ProviderError, RoutingRows, RoutingSource,
    Tokenizer, UpstreamCall,
};
use crate::kernel::error::StoreError;

/// What the scripted provider answers next.
#[derive(Debug, Clone)]
pub enum Scripted {
    Complete(Result<ChatResponse, ProviderError>),
    /// The stream's items; `Err` at the start fails the opening itself.
    Stream(Result<Vec<Result<ChatChunk, ProviderError>>, ProviderError>),
    Embed(Result<EmbeddingResponse, ProviderError>),
    Probe(Result<(), ProviderError>),
    /// Never answers.
    Hang,
}

/// Answers from a script, and keeps every call it was given.
#[derive(Debug, Default)]
pub struct ScriptedProvider {
    pub script: Mutex<VecDeque<Scripted>>,
    pub calls: Mutex<Vec<UpstreamCall>>,
}

impl ScriptedProvider {
    pub fn then(&self, next: Scripted) {
        self.script.lock().expect("the script").push_back(next);
    }

    fn next(&self, call: &UpstreamCall) -> Scripted {
        self.calls.lock().expect("the calls").push(call.clone());
        self.script
            .lock()
            .expect("the script")
            .pop_front()
            .expect("a scripted answer for every call")
    }
}

#[async_trait]
impl ChatProvider for ScriptedProvider {
    async fn complete(&self, call: &UpstreamCall, _request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        match self.next(call) {
            Scripted::Complete(outcome) => outcome,
            Scripted::Hang => std::future::pending().await,
            other => panic!("expected a complete call, the script has {other:?}"),
        }
    }

    async fn stream(&self, call: &UpstreamCall, _request: &ChatRequest) -> Result<ChatStream, ProviderError> {
        match self.next(call) {
            Scripted::Stream(outcome) => {
                let items = outcome?;
                Ok(Box::pin(ItemStream(items.into_iter().collect())))
            }
            other => panic!("expected a stream call, the script has {other:?}"),
        }
    }

    async fn embed(
        &self,
        call: &UpstreamCall,
        _request: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse, ProviderError> {
        match self.next(call) {
            Scripted::Embed(outcome) => outcome,
            other => panic!("expected an embed call, the script has {other:?}"),
        }
    }

    async fn probe(&self, call: &UpstreamCall) -> Result<(), ProviderError> {
        match self.next(call) {
            Scripted::Probe(outcome) => outcome,
            other => panic!("expected a probe, the script has {other:?}"),
        }
    }
}

/// A stream of scripted items, all ready at once.
struct ItemStream(VecDeque<Result<ChatChunk, ProviderError>>);

impl futures_core::Stream for ItemStream {
    type Item = Result<ChatChunk, ProviderError>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.get_mut().0.pop_front())
    }
}

/// Keeps every entry.
#[derive(Debug, Default)]
pub struct KeptLog {
    pub entries: Mutex<Vec<CallLogEntry>>,
}

impl KeptLog {
    pub fn entries(&self) -> Vec<CallLogEntry> {
        self.entries.lock().expect("the log").clone()
    }
}

impl CallLogSink for KeptLog {
    fn record(&self, entry: CallLogEntry) {
        self.entries.lock().expect("the log").push(entry);
    }
}

/// Keeps the (model, supplier) labels of every finished call.
#[derive(Debug, Default)]
pub struct KeptLabels {
    pub calls: Mutex<Vec<(String, String)>>,
}

impl CallObserver for KeptLabels {
    fn finished(&self, call: &FinishedCall<'_>) {
        let labels = (call.model.to_owned(), call.supplier.to_owned());
        self.calls.lock().expect("the labels").push(labels);
    }
}

/// One token per whitespace-separated word.
#[derive(Debug, Default)]
pub struct WordTokenizer;

impl Tokenizer for WordTokenizer {
    fn count(&self, text: &str) -> i64 {
        i64::try_from(text.split_whitespace().count()).unwrap_or(i64::MAX)
    }
}

/// Catalog rows kept in memory.
#[derive(Debug, Default)]
pub struct Rows(pub Mutex<RoutingRows>);

#[async_trait]
impl RoutingSource for Rows {
    async fn routing_rows(&self) -> Result<RoutingRows, StoreError> {
        Ok(self.0.lock().expect("the rows").clone())
    }
}

/// A supplier for the rows.
pub fn supplier(name: &str, protocol: Protocol, now: DateTime<Utc>) -> Supplier {
    Supplier {
        id: SupplierId::new(),
        spec: SupplierSpec {
            name: name.to_owned(),
            display_name: name.to_owned(),
            description: None,
            protocol,
            base_url: format!("https://{name}.example/v1"),
            api_key_required: true,
            website: None,
            api_docs: None,
            category: None,
            logo: None,
            is_active: true,
        },
        key_last4: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    }
}

/// A model served by `supplier` through its primary route, priced at 2 and 8 (micro-units per
/// million tokens, USD).
pub fn model(name: &str, supplier: &Supplier, now: DateTime<Utc>) -> ModelDetail {
    let id = ModelId::new();
    let summary = SupplierSummary {
        id: supplier.id,
        name: supplier.spec.name.clone(),
        display_name: supplier.spec.display_name.clone(),
        usable: true,
    };
    let spec = ModelSpec {
        name: name.to_owned(),
        display_name: name.to_owned(),
        description: None,
        supplier_id: supplier.id,
        upstream_name: Some(format!("{name}-upstream")),
        model_type: ModelType::Language,
        sub_type: SubType::Chat,
        context_window: Some(8000),
        max_output_tokens: Some(1000),
        pricing: Pricing {
            input: 2_000_000,
            cached_input: Some(1_000_000),
            output: 8_000_000,
            currency: "USD".to_owned(),
        },
        rate_limit_per_minute: None,
        api_version: None,
        fallback_models: Vec::new(),
        is_active: true,
    };
    let route = Route {
        id: RouteId::new(),
        model_id: id,
        spec: RouteSpec {
            supplier_id: supplier.id,
            upstream_name: format!("{name}-upstream"),
            priority: 0,
            weight: 1,
            input_price: None,
            cached_input_price: None,
            output_price: None,
            is_active: true,
        },
        is_primary: true,
        supplier: summary.clone(),
        created_at: now,
        updated_at: now,
    };
    ModelDetail {
        model: Model {
            id,
            spec,
            supplier: summary,
            is_default: false,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        },
        parameters: vec![],
        capabilities: vec![],
        categories: vec![],
        routes: vec![route],
    }
}

/// The kept log as shared handles for the gateway and the test.
pub fn log() -> Arc<KeptLog> {
    Arc::new(KeptLog::default())
}

/// Keeps the key flushes and configs' uses it is given, or fails while `failing`; knows no
/// calls.
#[derive(Debug, Default)]
pub struct KeptFlushes {
    pub flushes: Mutex<Vec<crate::gateway::health::KeyFlush>>,
    pub configs_used: Mutex<Vec<(uuid::Uuid, DateTime<Utc>)>>,
    pub failing: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl crate::gateway::ports::KeyStore for KeptFlushes {
    async fn flush(
        &self,
        flushes: &[crate::gateway::health::KeyFlush],
        configs_used: &[(uuid::Uuid, DateTime<Utc>)],
    ) -> Result<(), StoreError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Unavailable("the database is down".to_owned()));
        }
        self.flushes.lock().expect("the flushes").extend_from_slice(flushes);
        self.configs_used
            .lock()
            .expect("the uses")
            .extend_from_slice(configs_used);
        Ok(())
    }

    async fn call_stats(&self, _key: uuid::Uuid) -> Result<crate::gateway::ports::KeyCallStats, StoreError> {
        Ok(Default::default())
    }
}

/// Waits by moving a manual clock on (no sleep), and counts the waits.
#[derive(Debug)]
pub struct ClockWaiter {
    pub clock: Arc<crate::kernel::clock::ManualClock>,
    pub waits: Mutex<Vec<std::time::Duration>>,
}

#[async_trait]
impl crate::gateway::ports::Waiter for ClockWaiter {
    async fn wait(&self, duration: std::time::Duration) {
        self.waits.lock().expect("the waits").push(duration);
        self.clock
            .advance(chrono::Duration::from_std(duration).expect("a short wait"));
    }
}
