//! The gateway's use cases: the models a caller may use, a chat completion (whole or
//! streamed) and embeddings, each resolved from the in-memory routing snapshot, sent through
//! the supplier's protocol, metered (the supplier's usage, or an estimate), priced and logged.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use crate::accounts::api_key::ApiKeyId;
use crate::gateway::attempt::{Attempt, upstream_failure};
use crate::gateway::call_log::{CallLogEntry, Endpoint};
use crate::gateway::chat::{ChatRequest, ChatResponse};
use crate::gateway::embedding::{EmbeddingRequest, EmbeddingResponse};
use crate::gateway::metering::{Meter, estimate_prompt, estimate_response};
use crate::gateway::ports::{
    CallLogCounts, CallLogSink, CallObserver, ChatProvider, ProviderError, RoutingSource, Timeouts, Tokenizer,
    UpstreamCall,
};
use crate::gateway::recorder::{Pending, Recorder};
use crate::gateway::requirements::{UNSUPPORTED_BY_MODEL, check_chat, check_embedding};
use crate::gateway::routing::{RoutableModel, RoutingSnapshot};
use crate::gateway::stream::GatewayStream;
use crate::kernel::crypto::SecretCipher;
use crate::kernel::error::{DomainError, Refusal};
use crate::kernel::ids::UserId;
use crate::kernel::ports::Clock;

/// Who is calling the gateway: a user, through one of their API keys or their own session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub key_id: Option<ApiKeyId>,
    /// The key's `allowed_models`; empty = every model.
    pub allowed_models: Vec<String>,
}

impl Caller {
    pub fn may_use(&self, model: &str) -> bool {
        self.allowed_models.is_empty() || self.allowed_models.iter().any(|allowed| allowed == model)
    }
}

/// What the HTTP layer knows about the request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallContext {
    pub request_id: String,
    pub client_ip: Option<String>,
}

/// Timeouts from configuration: the defaults, and a supplier's own by its name.
#[derive(Debug, Clone, Default)]
pub struct GatewaySettings {
    pub timeouts: Timeouts,
    pub supplier_timeouts: HashMap<String, Timeouts>,
}

/// The ports the gateway works through.
#[derive(Debug, Clone)]
pub struct GatewayPorts {
    pub provider: Arc<dyn ChatProvider>,
    pub routing: Arc<dyn RoutingSource>,
    pub log: Arc<dyn CallLogSink>,
    pub observer: Arc<dyn CallObserver>,
    pub tokenizer: Arc<dyn Tokenizer>,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug)]
pub struct Gateway {
    pub(super) ports: GatewayPorts,
    cipher: SecretCipher,
    settings: GatewaySettings,
    snapshot: ArcSwap<RoutingSnapshot>,
    /// Refreshes begun so far.
    refreshes: AtomicU64,
}

impl Gateway {
    /// A gateway with an empty snapshot; [`Gateway::refresh`] fills it.
    pub fn new(ports: GatewayPorts, cipher: SecretCipher, settings: GatewaySettings) -> Self {
        Self {
            ports,
            cipher,
            settings,
            snapshot: ArcSwap::from_pointee(RoutingSnapshot::default()),
            refreshes: AtomicU64::new(0),
        }
    }

    /// Rebuilds the snapshot from the catalog and swaps it in; returns the number of routable
    /// models and the keys that did not decrypt (to log). Refreshes may overlap (a catalog
    /// write and the interval): the one that began last read the latest rows, and a snapshot
    /// never replaces one that began after it.
    pub async fn refresh(&self) -> Result<(usize, Vec<String>), DomainError> {
        let generation = self.refreshes.fetch_add(1, Ordering::SeqCst) + 1;
        let rows = self.ports.routing.routing_rows().await?;
        let (mut snapshot, problems) = RoutingSnapshot::build(rows, &self.cipher);
        snapshot.generation = generation;
        let count = snapshot.len();
        let fresh = Arc::new(snapshot);
        self.snapshot.rcu(|current| {
            if current.generation < generation {
                fresh.clone()
            } else {
                current.clone()
            }
        });
        Ok((count, problems))
    }

    /// The routable models the caller may use, by name.
    pub fn models(&self, caller: &Caller) -> Vec<Arc<RoutableModel>> {
        let snapshot = self.snapshot.load();
        snapshot
            .models()
            .filter(|model| caller.may_use(&model.name))
            .cloned()
            .collect()
    }

    /// One model the caller may use; a model they may not use is as unknown as a missing one.
    pub fn model(&self, caller: &Caller, name: &str) -> Result<Arc<RoutableModel>, DomainError> {
        let snapshot = self.snapshot.load();
        snapshot
            .get(name)
            .filter(|_| caller.may_use(name))
            .cloned()
            .ok_or_else(|| DomainError::UnknownModel { model: name.to_owned() })
    }

    /// Resolves the model and its route, or logs and refuses the call.
    fn begin(
        &self,
        caller: &Caller,
        context: &CallContext,
        name: &str,
        endpoint: Endpoint,
        stream: bool,
    ) -> Result<Attempt, DomainError> {
        let started = self.ports.clock.now();
        let mut entry = CallLogEntry {
            id: uuid::Uuid::now_v7(),
            request_id: context.request_id.clone(),
            user_id: Some(caller.user_id),
            api_key_id: caller.key_id,
            model_id: None,
            supplier_id: None,
            upstream_key_id: None,
            upstream_model: None,
            endpoint,
            stream,
            status_code: 200,
            error_code: None,
            error_summary: None,
            usage: Default::default(),
            cost_nanos: 0,
            currency: None,
            time_to_first_token_ms: None,
            latency_ms: 0,
            client_ip: context.client_ip.clone(),
            created_at: started,
        };
        let snapshot = self.snapshot.load();
        let found = snapshot.get(name).cloned();
        let refusal = match &found {
            None => Some(DomainError::UnknownModel { model: name.to_owned() }),
            Some(_) if !caller.may_use(name) => Some(DomainError::Forbidden(Refusal::ModelNotAllowed)),
            Some(_) => None,
        };
        let (Some(model), None) = (found, refusal.clone()) else {
            let error = refusal.unwrap_or(DomainError::UnknownModel { model: name.to_owned() });
            let (status, code) = match &error {
                DomainError::Forbidden(_) => (403, "model_not_allowed"),
                _ => (404, "model_not_found"),
            };
            entry.status_code = status;
            entry.error_code = Some(code.to_owned());
            entry.error_summary = Some(CallLogEntry::summary(&format!("model {name}")));
            let label = if matches!(error, DomainError::Forbidden(_)) {
                name
            } else {
                "unknown"
            };
            self.recorder().refused(entry, label);
            return Err(error);
        };
        entry.model_id = Some(model.id);
        // Today the primary route (the snapshot puts it first); key pools and fallbacks choose
        // among `routes` and `keys` in the routing issue.
        let route = model
            .routes
            .first()
            .cloned()
            .ok_or(DomainError::UnknownModel { model: name.to_owned() })?;
        entry.supplier_id = Some(route.supplier_id);
        entry.upstream_model = Some(route.upstream_model.clone());
        entry.upstream_key_id = route.keys.first().map(|key| key.id);
        entry.currency = Some(route.pricing.currency.clone());
        Ok(Attempt {
            model,
            route,
            entry,
            started,
            upstream_started: None,
        })
    }

    fn recorder(&self) -> Recorder {
        Recorder {
            log: self.ports.log.clone(),
            observer: self.ports.observer.clone(),
        }
    }

    /// What the call-log writer has done, for the metrics.
    pub fn log_counts(&self) -> CallLogCounts {
        self.ports.log.counts()
    }

    fn upstream_call(&self, attempt: &Attempt, context: &CallContext) -> UpstreamCall {
        let route = &attempt.route;
        UpstreamCall {
            protocol: route.protocol,
            supplier: route.supplier_name.clone(),
            base_url: route.base_url.clone(),
            api_key: route.keys.first().map(|key| key.secret.clone()),
            upstream_model: route.upstream_model.clone(),
            api_version: attempt.model.api_version.clone(),
            max_output_tokens: attempt.model.max_output_tokens,
            request_id: context.request_id.clone(),
            timeouts: self
                .settings
                .supplier_timeouts
                .get(&route.supplier_name)
                .copied()
                .unwrap_or(self.settings.timeouts),
        }
    }

    /// Refuses a call to a supplier that needs a key it does not have, before sending it.
    fn check_key(&self, attempt: &Attempt) -> Result<(), ProviderError> {
        if attempt.route.key_required && attempt.route.keys.is_empty() {
            return Err(ProviderError::Unauthorized {
                status: 0,
                message: format!("supplier {} has no API key configured", attempt.route.supplier_name),
            });
        }
        Ok(())
    }

    /// Logs a call refused before it went upstream (its model cannot serve it) and returns why.
    fn refuse(&self, mut attempt: Attempt, error: DomainError) -> DomainError {
        let now = self.ports.clock.now();
        attempt.entry.status_code = 400;
        attempt.entry.error_code = Some(UNSUPPORTED_BY_MODEL.to_owned());
        attempt.entry.error_summary = Some(CallLogEntry::summary(&error.to_string()));
        attempt.entry.latency_ms = (now - attempt.started).num_milliseconds().max(0);
        self.recorder().ended(attempt, now);
        error
    }

    /// Logs a failed call and turns its error into the domain's.
    pub(super) fn fail(&self, mut attempt: Attempt, error: ProviderError) -> DomainError {
        let failure = upstream_failure(&error);
        attempt.entry.status_code = failure.status();
        attempt.entry.error_code = Some(failure.code().to_owned());
        attempt.entry.error_summary = Some(CallLogEntry::summary(&error.to_string()));
        let now = self.ports.clock.now();
        attempt.entry.latency_ms = (now - attempt.started).num_milliseconds().max(0);
        self.recorder().ended(attempt, now);
        failure.into_domain(&error)
    }

    /// A whole chat completion.
    pub async fn chat(
        &self,
        caller: &Caller,
        context: &CallContext,
        request: ChatRequest,
    ) -> Result<ChatResponse, DomainError> {
        let mut attempt = self.begin(caller, context, &request.model, Endpoint::ChatCompletions, false)?;
        if let Err(error) = check_chat(&attempt.model, &request) {
            return Err(self.refuse(attempt, error));
        }
        let call = self.upstream_call(&attempt, context);
        let key = self.check_key(&attempt);
        attempt.upstream_started = Some(self.ports.clock.now());
        let pending = Pending::new(attempt, self.recorder(), self.ports.clock.clone());
        let outcome = match key {
            Ok(()) => self.ports.provider.complete(&call, &request).await,
            Err(error) => Err(error),
        };
        let mut attempt = pending.take();
        let mut response = match outcome {
            Ok(response) => response,
            Err(error) => return Err(self.fail(attempt, error)),
        };
        let usage = response.usage.unwrap_or_else(|| {
            let tokenizer = self.ports.tokenizer.as_ref();
            estimate_response(tokenizer, estimate_prompt(tokenizer, &request), &response)
        });
        response.usage = Some(usage);
        let mut meter = Meter::new(&attempt.route.pricing);
        meter.settle(usage);
        let now = self.ports.clock.now();
        attempt.entry.latency_ms = (now - attempt.started).num_milliseconds().max(0);
        attempt.entry.time_to_first_token_ms = Some(attempt.entry.latency_ms);
        meter.write_into(&mut attempt.entry);
        self.recorder().ended(attempt, now);
        Ok(response)
    }

    /// A streamed chat completion: returns once the supplier's first chunk is in, so an early
    /// failure is an ordinary error; the stream meters itself and logs when it ends or is
    /// dropped (a client that went away).
    pub async fn chat_stream(
        &self,
        caller: &Caller,
        context: &CallContext,
        request: ChatRequest,
    ) -> Result<GatewayStream, DomainError> {
        let mut attempt = self.begin(caller, context, &request.model, Endpoint::ChatCompletions, true)?;
        if let Err(error) = check_chat(&attempt.model, &request) {
            return Err(self.refuse(attempt, error));
        }
        let call = self.upstream_call(&attempt, context);
        let key = self.check_key(&attempt);
        attempt.upstream_started = Some(self.ports.clock.now());
        let pending = Pending::new(attempt, self.recorder(), self.ports.clock.clone());
        let opened = match key {
            Ok(()) => self.ports.provider.stream(&call, &request).await,
            Err(error) => Err(error),
        };
        let mut upstream = match opened {
            Ok(upstream) => upstream,
            Err(error) => return Err(self.fail(pending.take(), error)),
        };
        let first = std::future::poll_fn(|cx| upstream.as_mut().poll_next(cx)).await;
        let attempt = pending.take();
        match first {
            Some(Ok(chunk)) => Ok(GatewayStream::new(
                self.recorder(),
                self.ports.clock.clone(),
                self.ports.tokenizer.clone(),
                attempt,
                request,
                chunk,
                upstream,
            )),
            Some(Err(error)) => Err(self.fail(attempt, error)),
            None => Err(self.fail(
                attempt,
                ProviderError::Malformed {
                    message: "the stream ended before its first chunk".to_owned(),
                },
            )),
        }
    }

    /// Embeddings of the inputs, in their order.
    pub async fn embed(
        &self,
        caller: &Caller,
        context: &CallContext,
        request: EmbeddingRequest,
    ) -> Result<EmbeddingResponse, DomainError> {
        let mut attempt = self.begin(caller, context, &request.model, Endpoint::Embeddings, false)?;
        if let Err(error) = check_embedding(&attempt.model, &request) {
            return Err(self.refuse(attempt, error));
        }
        let call = self.upstream_call(&attempt, context);
        let key = self.check_key(&attempt);
        attempt.upstream_started = Some(self.ports.clock.now());
        let pending = Pending::new(attempt, self.recorder(), self.ports.clock.clone());
        let outcome = match key {
            Ok(()) => self.ports.provider.embed(&call, &request).await,
            Err(error) => Err(error),
        };
        let mut attempt = pending.take();
        let mut response = match outcome {
            Ok(response) => response,
            Err(error) => return Err(self.fail(attempt, error)),
        };
        if response.usage.prompt_tokens == 0 {
            let tokenizer = self.ports.tokenizer.as_ref();
            let prompt = request.inputs.iter().map(|input| tokenizer.count(input)).sum();
            response.usage = crate::gateway::usage::Usage {
                prompt_tokens: prompt,
                estimated: true,
                ..Default::default()
            };
        }
        let mut meter = Meter::new(&attempt.route.pricing);
        meter.settle(response.usage);
        let now = self.ports.clock.now();
        attempt.entry.latency_ms = (now - attempt.started).num_milliseconds().max(0);
        meter.write_into(&mut attempt.entry);
        self.recorder().ended(attempt, now);
        Ok(response)
    }
}
