//! The gateway's use cases: the models a caller may use, a chat completion (whole or
//! streamed) and embeddings, each resolved from the in-memory routing snapshot, sent through
//! the supplier's protocol, metered (the supplier's usage, or an estimate), priced and logged.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::accounts::api_key::ApiKeyId;
use crate::accounts::limits::Limits;
use crate::catalog::model::Pricing;
pub use crate::gateway::attempt::ServedBy;
use crate::gateway::attempt::{Attempt, Lease, retriable, upstream_failure};
use crate::gateway::call_log::{CallLogEntry, Endpoint};
use crate::gateway::chat::{ChatChunk, ChatRequest, ChatResponse, ContentPart, MessageContent};
use crate::gateway::embedding::{EmbeddingRequest, EmbeddingResponse};
use crate::gateway::health::{Availability, HealthSettings, HealthView, KeyFlush, Outcome, millis};
use crate::gateway::metering::{Meter, estimate_prompt, estimate_response, settle};
use crate::gateway::pool::PoolKey;
use crate::gateway::ports::{
    CallLogCounts, CallLogSink, CallObserver, ChatProvider, ChatStream, KeyCallStats, KeyStore, ProviderError,
    RoutingSource, TimeoutPhase, Timeouts, Tokenizer, UpstreamCall, Waiter,
};
use crate::gateway::recorder::{Pending, Recorder};
use crate::gateway::requirements::{UNSUPPORTED_BY_MODEL, check_chat, check_embedding};
use crate::gateway::routing::{KeySelection, RoutableModel, RouteTarget, RoutingSnapshot};
use crate::gateway::stream::GatewayStream;
use crate::gateway::usage::{Usage, cost_nanos};
use crate::kernel::crypto::SecretCipher;
use crate::kernel::error::{DomainError, Refusal};
use crate::kernel::ids::UserId;
use crate::kernel::ports::Clock;
use crate::kernel::principal::Admin;
use crate::kernel::rate::RateHeaders;
use crate::usage::governor::{Estimate, Governor, Permit, Subjects};
use crate::usage::stats::Cost;

/// Who is calling the gateway: a user, through one of their API keys or their own session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub key_id: Option<ApiKeyId>,
    /// The key's `allowed_models`; empty = every model.
    pub allowed_models: Vec<String>,
    /// The key's rate limits and budget (none without a key; the user's come from the
    /// identity cache).
    pub key_limits: Limits,
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

/// Settings from configuration: timeouts (the defaults, and a supplier's own by its name), key
/// health and selection, and how far a call may be retried.
#[derive(Debug, Clone, Default)]
pub struct GatewaySettings {
    pub timeouts: Timeouts,
    pub supplier_timeouts: HashMap<String, Timeouts>,
    pub health: HealthSettings,
    pub selection: KeySelection,
    pub retry: RetrySettings,
}

/// How far one request may go through keys, routes and fallback models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    /// Tries in all, the first included.
    pub max_attempts: u16,
    /// No new try starts this long after the request arrived.
    pub deadline: Duration,
    /// When every key is cooling down and the first is back within this (and the deadline), the
    /// request waits for it instead of failing with 429 at once; zero = never waits.
    pub cooldown_wait: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            deadline: Duration::from_secs(60),
            cooldown_wait: Duration::ZERO,
        }
    }
}

/// An answer and what served it (for the `x-switchyard-*` headers).
#[derive(Debug)]
pub struct Served<T> {
    pub value: T,
    pub by: ServedBy,
    /// The caller's rate limits after the call was taken.
    pub rate: RateHeaders,
}

/// The most a call may answer when neither the request nor the model says.
pub const FALLBACK_MAX_OUTPUT: i64 = 4096;
/// What an image may cost in prompt tokens, for limits' estimates (a large image in high detail
/// is about 1,600 at Anthropic, 1,100 at OpenAI).
pub const IMAGE_TOKENS: i64 = 1_600;
/// The call-log codes of refusals by Switchyard's own limits.
pub const RATE_LIMIT_EXCEEDED: &str = "rate_limit_exceeded";
pub const INSUFFICIENT_QUOTA: &str = "insufficient_quota";
pub const LIMITS_UNAVAILABLE: &str = "limits_unavailable";

/// The code of an `auto` request no model can serve.
pub const NO_CAPABLE_MODEL: &str = "no_capable_model";

/// The category an `auto` model name asks for: `Some(None)` for `auto`, `Some(Some(c))` for
/// `auto:c`, `None` for any other name.
pub fn auto_category(name: &str) -> Option<Option<&str>> {
    match name {
        "auto" => Some(None),
        _ => name.strip_prefix("auto:").map(Some),
    }
}

/// How a probe of a key out of rotation went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    pub key_id: uuid::Uuid,
    pub supplier: String,
    /// In rotation again.
    pub back: bool,
    pub outcome: Outcome,
}

/// What a call asks of the supplier.
#[derive(Clone, Copy)]
enum Work<'r> {
    Chat(&'r ChatRequest),
    Stream(&'r ChatRequest),
    Embed(&'r EmbeddingRequest),
}

impl Work<'_> {
    fn model(&self) -> &str {
        match self {
            Self::Chat(request) | Self::Stream(request) => &request.model,
            Self::Embed(request) => &request.model,
        }
    }

    fn endpoint(&self) -> Endpoint {
        match self {
            Self::Chat(_) | Self::Stream(_) => Endpoint::ChatCompletions,
            Self::Embed(_) => Endpoint::Embeddings,
        }
    }

    fn check(&self, model: &RoutableModel) -> Result<(), DomainError> {
        match self {
            Self::Chat(request) | Self::Stream(request) => check_chat(model, request),
            Self::Embed(request) => check_embedding(model, request),
        }
    }
}

/// What the supplier answered.
enum Answer {
    Chat(ChatResponse),
    /// The stream and its first chunk.
    Stream(ChatStream, ChatChunk),
    Embed(EmbeddingResponse),
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
    pub keys: Arc<dyn KeyStore>,
    pub waiter: Arc<dyn Waiter>,
    /// Rate limits, concurrency and budgets; `None` checks none.
    pub governor: Option<Arc<Governor>>,
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
        let previous = self.snapshot.load_full();
        let (mut snapshot, problems) = RoutingSnapshot::build(rows, &self.cipher, &previous, &self.settings.selection);
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

    /// The log entry every try of a call starts from.
    fn entry(&self, caller: &Caller, context: &CallContext, endpoint: Endpoint, stream: bool) -> CallLogEntry {
        CallLogEntry {
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
            attempt: 1,
            byok: false,
            created_at: self.ports.clock.now(),
        }
    }

    /// The model the caller named, or the call logged and refused.
    fn resolve(
        &self,
        snapshot: &RoutingSnapshot,
        caller: &Caller,
        name: &str,
        mut entry: CallLogEntry,
    ) -> Result<Arc<RoutableModel>, DomainError> {
        match snapshot.get(name) {
            Some(model) if caller.may_use(name) => return Ok(model.clone()),
            Some(_) => {
                entry.status_code = 403;
                entry.error_code = Some("model_not_allowed".to_owned());
            }
            None => {
                entry.status_code = 404;
                entry.error_code = Some("model_not_found".to_owned());
            }
        }
        entry.error_summary = Some(CallLogEntry::summary(&format!("model {name}")));
        let allowed = entry.status_code == 403;
        self.recorder().refused(entry, if allowed { name } else { "unknown" });
        Err(if allowed {
            DomainError::Forbidden(Refusal::ModelNotAllowed)
        } else {
            DomainError::UnknownModel { model: name.to_owned() }
        })
    }

    /// A try of `model` through `route` with `key`, its log entry numbered `number`.
    fn attempt(
        &self,
        base: &CallLogEntry,
        model: &Arc<RoutableModel>,
        route: &RouteTarget,
        key: Option<&PoolKey>,
        number: u16,
    ) -> Attempt {
        let mut entry = base.clone();
        if number > 1 {
            entry.id = uuid::Uuid::now_v7();
            entry.created_at = self.ports.clock.now();
        }
        entry.attempt = number;
        entry.model_id = Some(model.id);
        entry.supplier_id = Some(route.supplier_id);
        entry.upstream_model = Some(route.upstream_model.clone());
        entry.upstream_key_id = key.map(|key| key.id);
        entry.currency = Some(route.pricing.currency.clone());
        Attempt {
            model: model.clone(),
            route: route.clone(),
            key: key.cloned(),
            secret: key.map(|key| key.secret.clone()),
            guarded: false,
            lease: None,
            entry,
            started: base.created_at,
            upstream_started: None,
        }
    }

    /// Sends the call through keys, routes and fallback models until one answers, a failure
    /// is the request's own, or the retry budget or deadline is spent; every try is logged.
    async fn run(
        &self,
        caller: &Caller,
        context: &CallContext,
        work: Work<'_>,
    ) -> Result<(Answer, Attempt, Permit), DomainError> {
        let base = self.entry(caller, context, work.endpoint(), matches!(work, Work::Stream(_)));
        let snapshot = self.snapshot.load_full();
        let chain = match auto_category(work.model()) {
            Some(category) => self.auto_chain(&snapshot, caller, work, category, base.clone())?,
            None => self.chain(&snapshot, caller, work, base.clone())?,
        };
        let mut chain = chain;
        let permit = self.admit(caller, &mut chain, work, &base).await?;
        let model = chain[0].clone();
        let retry = self.settings.retry;
        let deadline = chrono::Duration::from_std(retry.deadline)
            .ok()
            .and_then(|wait| base.created_at.checked_add_signed(wait))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
        let mut tries: u16 = 0;
        // The last retriable failure through the caller's own keys, and through the pools.
        let mut last_own: Option<ProviderError> = None;
        let mut last: Option<ProviderError> = None;
        // The caller's own keys for the model go first (bring your own key).
        let primary = model
            .routes
            .iter()
            .find(|route| route.is_primary)
            .or(model.routes.first());
        if let Some(primary) = primary {
            for own in snapshot.user_routes(caller.user_id, model.id) {
                if tries >= retry.max_attempts.max(1) || (tries > 0 && self.ports.clock.now() >= deadline) {
                    break;
                }
                tries += 1;
                let mut route = primary.clone();
                if let Some(endpoint) = &own.custom_endpoint {
                    route.base_url = endpoint.clone();
                }
                let mut attempt = self.attempt(&base, &model, &route, None, tries);
                attempt.secret = Some(own.secret.clone());
                attempt.guarded = own.custom_endpoint.is_some();
                attempt.entry.byok = true;
                own.used(millis(self.ports.clock.now()));
                if let Some(done) = self.try_once(attempt, context, work, &mut last_own).await {
                    return done.map(|(answer, attempt)| (answer, attempt, permit));
                }
            }
        }
        let mut earliest_back: Option<i64> = None;
        let mut keyless: Option<&RouteTarget> = None;
        // Keys out of rotation: how many, and how many their suppliers refused.
        let (mut out, mut refused) = (0, 0);
        // The budget or the deadline ended the tries before every ready key was tried.
        let mut cut_short = false;
        let mut waited = false;
        'rounds: loop {
            'models: for candidate in &chain {
                for index in candidate.route_order() {
                    let route = &candidate.routes[index];
                    let keys: Vec<Option<&PoolKey>> = if route.pool.is_empty() {
                        if route.key_required {
                            keyless = keyless.or(Some(route));
                            continue;
                        }
                        vec![None]
                    } else {
                        let selection = route.pool.select(millis(self.ports.clock.now()));
                        if let Some(back) = selection.earliest_back {
                            earliest_back = Some(earliest_back.map_or(back, |known| known.min(back)));
                        }
                        out += selection.out;
                        refused += selection.refused;
                        selection.ready.iter().map(|&key| Some(&route.pool.keys[key])).collect()
                    };
                    for key in keys {
                        if tries >= retry.max_attempts.max(1) || (tries > 0 && self.ports.clock.now() >= deadline) {
                            cut_short = true;
                            break 'models;
                        }
                        tries += 1;
                        let attempt = self.attempt(&base, candidate, route, key, tries);
                        if let Some(done) = self.try_once(attempt, context, work, &mut last).await {
                            return done.map(|(answer, attempt)| (answer, attempt, permit));
                        }
                    }
                }
            }
            // Every key is cooling down: wait for the first back when it is soon enough, once.
            if last.is_none()
                && !waited
                && let Some(back) = earliest_back
            {
                let now = self.ports.clock.now();
                let wait = Duration::from_millis(u64::try_from(back - millis(now)).unwrap_or(0));
                let in_time = chrono::Duration::from_std(wait)
                    .ok()
                    .and_then(|wait| now.checked_add_signed(wait))
                    .is_some_and(|then| then < deadline);
                if wait <= retry.cooldown_wait && in_time && tries < retry.max_attempts.max(1) {
                    self.ports.waiter.wait(wait).await;
                    waited = true;
                    (earliest_back, out, refused) = (None, 0, 0);
                    continue 'rounds;
                }
            }
            break 'rounds;
        }
        if let Some(error) = last {
            return Err(upstream_failure(&error).into_domain(&error, false));
        }
        // Nothing went through the pools. The caller's own key failed, unless the pools had no
        // key to try but cooling ones: then the earliest Retry-After is the better answer.
        if let Some(error) = last_own
            && (earliest_back.is_none() || cut_short)
        {
            return Err(upstream_failure(&error).into_domain(&error, true));
        }
        // Nothing was sent: every key is cooling down or out, or the supplier has none.
        let now = self.ports.clock.now();
        let route = keyless.or_else(|| model.routes.first()).cloned();
        let Some(route) = route else {
            return Err(DomainError::UnknownModel {
                model: model.name.clone(),
            });
        };
        let attempt = self.attempt(&base, &model, &route, None, tries + 1);
        let error = match (earliest_back, keyless) {
            (Some(back), _) => {
                let wait = u64::try_from(back - millis(now)).unwrap_or(0);
                ProviderError::RateLimited {
                    retry_after: Some(Duration::from_millis(wait.max(1))),
                    message: "every key of the model's suppliers is cooling down after a rate limit".to_owned(),
                }
            }
            (None, Some(route)) if out == 0 => ProviderError::Unauthorized {
                status: 0,
                message: format!("supplier {} has no API key configured", route.supplier_name),
            },
            (None, _) if out > 0 && refused == out => ProviderError::Unauthorized {
                status: 0,
                message: "every key of the model's suppliers was refused by its supplier; an operator must fix them (they are probed again)"
                    .to_owned(),
            },
            (None, _) => ProviderError::Overloaded {
                retry_after: Some(self.settings.health.probe_interval),
                message: "every key of the model's suppliers is out of rotation (refused or failing); they are probed again"
                    .to_owned(),
            },
        };
        let refused = self.fail(attempt, &error);
        Err(refused)
    }

    /// Checks and takes the caller's limits before any upstream call; a refusal is logged.
    /// Under a budget, only the chain's models that bill in the budget's currency stay in it (a
    /// budget cannot convert), so a fallback never spends in another currency.
    async fn admit(
        &self,
        caller: &Caller,
        chain: &mut Vec<Arc<RoutableModel>>,
        work: Work<'_>,
        base: &CallLogEntry,
    ) -> Result<Permit, DomainError> {
        let Some(governor) = &self.ports.governor else {
            return Ok(Permit::unlimited(self.ports.clock.clone()));
        };
        let first = chain[0].clone();
        let subjects = Subjects {
            user: caller.user_id,
            key: caller.key_id.map(|key| (key, &caller.key_limits)),
            model: first.id,
            model_rpm: first.rate_limit_per_minute,
        };
        let rules = governor.rules(&subjects).await?;
        let outcome = match rules.budget_currency_mismatch(chain.iter().map(|model| model.pricing.currency.as_str())) {
            Some(refusal) => Err(refusal),
            None => {
                chain.retain(|model| rules.accepts_currency(&model.pricing.currency));
                let estimate = rules.needs_estimate().then(|| self.estimate(chain, work));
                governor.admit(&rules, estimate.as_ref()).await
            }
        };
        match outcome {
            Ok(permit) => Ok(permit),
            Err(error) => {
                let Some(route) = first.routes.first() else {
                    return Err(error);
                };
                let mut attempt = self.attempt(base, &first, route, None, 1);
                let (status, code) = match &error {
                    DomainError::QuotaExceeded { .. } => (429, INSUFFICIENT_QUOTA),
                    DomainError::Unavailable { .. } => (503, LIMITS_UNAVAILABLE),
                    _ => (429, RATE_LIMIT_EXCEEDED),
                };
                let now = self.ports.clock.now();
                attempt.entry.status_code = status;
                attempt.entry.error_code = Some(code.to_owned());
                attempt.entry.error_summary = Some(CallLogEntry::summary(&error.to_string()));
                attempt.entry.latency_ms = (now - attempt.started).num_milliseconds().max(0);
                self.recorder().ended(attempt, now);
                Err(error)
            }
        }
    }

    /// The most a call may use: its prompt's estimate (text by the tokenizer, each image as
    /// [`IMAGE_TOKENS`]) and the most it may answer (`max_tokens`, else the largest most output
    /// of the models it may be sent to, else 4096; times `n`), at the dearest price of any route
    /// of those models.
    fn estimate(&self, chain: &[Arc<RoutableModel>], work: Work<'_>) -> Estimate {
        let tokenizer = self.ports.tokenizer.as_ref();
        let (prompt, output) = match work {
            Work::Chat(request) | Work::Stream(request) => {
                let most = chain.iter().filter_map(|model| model.max_output_tokens).max();
                let answers = request.n.unwrap_or(1).max(1);
                let output = request
                    .max_output()
                    .or(most)
                    .unwrap_or(FALLBACK_MAX_OUTPUT)
                    .saturating_mul(answers);
                let images: i64 = request
                    .messages
                    .iter()
                    .filter_map(|message| match &message.content {
                        MessageContent::Parts(parts) => Some(
                            parts
                                .iter()
                                .filter(|part| matches!(part, ContentPart::Image { .. }))
                                .count(),
                        ),
                        MessageContent::Text(_) | MessageContent::Empty => None,
                    })
                    .map(|count| i64::try_from(count).unwrap_or(i64::MAX))
                    .sum();
                let prompt = estimate_prompt(tokenizer, request).saturating_add(images.saturating_mul(IMAGE_TOKENS));
                (prompt, output)
            }
            Work::Embed(request) => (request.inputs.iter().map(|input| tokenizer.count(input)).sum(), 0),
        };
        let currency = chain[0].pricing.currency.clone();
        let mut dearest = Pricing {
            input: 0,
            cached_input: None,
            output: 0,
            currency: currency.clone(),
        };
        for route in chain.iter().flat_map(|model| model.routes.iter()) {
            if route.pricing.currency == currency {
                dearest.input = dearest.input.max(route.pricing.input);
                dearest.output = dearest.output.max(route.pricing.output);
            }
        }
        let usage = Usage {
            prompt_tokens: prompt.max(0),
            completion_tokens: output.max(0),
            ..Usage::default()
        };
        Estimate {
            tokens: u64::try_from(usage.prompt_tokens.saturating_add(usage.completion_tokens)).unwrap_or(0),
            max_cost: Cost {
                currency,
                nanos: cost_nanos(&usage, &dearest),
            },
        }
    }

    /// The caller's rate limits now, taking nothing (for `GET /v1/models`).
    pub async fn rate_headers(&self, caller: &Caller) -> RateHeaders {
        let Some(governor) = &self.ports.governor else {
            return RateHeaders::default();
        };
        let subjects = Subjects {
            user: caller.user_id,
            key: caller.key_id.map(|key| (key, &caller.key_limits)),
            model: crate::catalog::ids::ModelId(uuid::Uuid::nil()),
            model_rpm: None,
        };
        match governor.rules(&subjects).await {
            Ok(rules) => governor.peek(&rules).await,
            Err(_) => RateHeaders::default(),
        }
    }

    /// The named model and its fallbacks the caller may use and that can serve the request; a
    /// model that cannot is refused (logged) before any call.
    fn chain(
        &self,
        snapshot: &RoutingSnapshot,
        caller: &Caller,
        work: Work<'_>,
        base: CallLogEntry,
    ) -> Result<Vec<Arc<RoutableModel>>, DomainError> {
        let model = self.resolve(snapshot, caller, work.model(), base.clone())?;
        if let Err(error) = work.check(&model) {
            let Some(route) = model.routes.first() else {
                return Err(error);
            };
            let attempt = self.attempt(&base, &model, route, None, 1);
            return Err(self.refuse(attempt, error));
        }
        let mut chain = vec![model.clone()];
        for name in &model.fallback_models {
            if let Some(fallback) = snapshot.get(name)
                && caller.may_use(name)
                && work.check(fallback).is_ok()
                && !chain.iter().any(|known| known.id == fallback.id)
            {
                chain.push(fallback.clone());
            }
        }
        Ok(chain)
    }

    /// `auto` (or `auto:<category>`): every model the caller may use (in the category) that can
    /// serve the request and has a key in rotation, cheapest first — the next cheapest are the
    /// fallbacks. None is a 400, logged.
    fn auto_chain(
        &self,
        snapshot: &RoutingSnapshot,
        caller: &Caller,
        work: Work<'_>,
        category: Option<&str>,
        mut base: CallLogEntry,
    ) -> Result<Vec<Arc<RoutableModel>>, DomainError> {
        let now = millis(self.ports.clock.now());
        let mut chain: Vec<Arc<RoutableModel>> = snapshot
            .models()
            .filter(|model| caller.may_use(&model.name))
            .filter(|model| category.is_none_or(|wanted| model.categories.iter().any(|name| name == wanted)))
            .filter(|model| work.check(model).is_ok())
            .filter(|model| model.routes.iter().any(|route| route.ready(now)))
            .cloned()
            .collect();
        chain.sort_by_key(|model| (model.cheapest(), model.name.clone()));
        if chain.is_empty() {
            let message = match category {
                Some(category) => {
                    format!("no model of category {category} that you may use can serve this request now")
                }
                None => "no model that you may use can serve this request now".to_owned(),
            };
            base.status_code = 400;
            base.error_code = Some(NO_CAPABLE_MODEL.to_owned());
            base.error_summary = Some(CallLogEntry::summary(&message));
            self.recorder().refused(base, "auto");
            return Err(DomainError::validation("model", NO_CAPABLE_MODEL, message));
        }
        Ok(chain)
    }

    /// Sends one try: `Some` ends the call (an answer, or a failure that is the request's own);
    /// `None` means try elsewhere, with the failure kept in `last`.
    async fn try_once(
        &self,
        attempt: Attempt,
        context: &CallContext,
        work: Work<'_>,
        last: &mut Option<ProviderError>,
    ) -> Option<Result<(Answer, Attempt), DomainError>> {
        match self.send(attempt, context, work).await {
            Ok(done) => Some(Ok(done)),
            Err((attempt, error)) => {
                let again = retriable(&error);
                let refused = self.fail(attempt, &error);
                if !again {
                    return Some(Err(refused));
                }
                *last = Some(error);
                None
            }
        }
    }

    /// One try: the supplier's answer (for a stream, its first chunk), or the attempt back with
    /// the failure. A call dropped while waiting is logged as cancelled.
    async fn send(
        &self,
        mut attempt: Attempt,
        context: &CallContext,
        work: Work<'_>,
    ) -> Result<(Answer, Attempt), (Attempt, ProviderError)> {
        let call = self.upstream_call(&attempt, context);
        let now = self.ports.clock.now();
        attempt.lease = attempt
            .key
            .as_ref()
            .map(|key| Lease::new(key.health.clone(), self.settings.health, now));
        attempt.upstream_started = Some(now);
        let pending = Pending::new(attempt, self.recorder(), self.ports.clock.clone());
        let outcome = match work {
            Work::Chat(request) => self.ports.provider.complete(&call, request).await.map(Answer::Chat),
            Work::Embed(request) => self.ports.provider.embed(&call, request).await.map(Answer::Embed),
            Work::Stream(request) => match self.ports.provider.stream(&call, request).await {
                Ok(mut upstream) => match std::future::poll_fn(|cx| upstream.as_mut().poll_next(cx)).await {
                    Some(Ok(first)) => Ok(Answer::Stream(upstream, first)),
                    // Headers then silence: nothing reached the client yet, so this is the
                    // supplier not answering (counted against the key, and tried elsewhere),
                    // not a long generation.
                    Some(Err(ProviderError::Timeout {
                        phase: TimeoutPhase::Idle,
                    })) => Err(ProviderError::Timeout {
                        phase: TimeoutPhase::FirstByte,
                    }),
                    Some(Err(error)) => Err(error),
                    None => Err(ProviderError::Malformed {
                        message: "the stream ended before its first chunk".to_owned(),
                    }),
                },
                Err(error) => Err(error),
            },
        };
        let attempt = pending.take();
        match outcome {
            Ok(answer) => Ok((answer, attempt)),
            Err(error) => Err((attempt, error)),
        }
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
            api_key: attempt.secret.clone(),
            upstream_model: route.upstream_model.clone(),
            api_version: attempt.model.api_version.clone(),
            max_output_tokens: attempt.model.max_output_tokens,
            request_id: context.request_id.clone(),
            timeouts: self.timeouts(&route.supplier_name),
            guarded: attempt.guarded,
        }
    }

    fn timeouts(&self, supplier: &str) -> Timeouts {
        self.settings
            .supplier_timeouts
            .get(supplier)
            .copied()
            .unwrap_or(self.settings.timeouts)
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

    /// Logs a failed try, counts it against its key and turns its error into the domain's.
    pub(super) fn fail(&self, mut attempt: Attempt, error: &ProviderError) -> DomainError {
        let now = self.ports.clock.now();
        attempt.settle(Err(error), now);
        let failure = upstream_failure(error);
        attempt.entry.status_code = failure.status();
        attempt.entry.error_code = Some(failure.code().to_owned());
        attempt.entry.error_summary = Some(CallLogEntry::summary(&error.to_string()));
        attempt.entry.latency_ms = (now - attempt.started).num_milliseconds().max(0);
        let own_key = attempt.entry.byok;
        self.recorder().ended(attempt, now);
        failure.into_domain(error, own_key)
    }

    /// The caller's own defaults for the model (their first enabled config's `max_tokens` and
    /// `temperature`), where the request sets none, kept within the model's limits.
    fn with_user_defaults(&self, caller: &Caller, mut request: ChatRequest) -> ChatRequest {
        let snapshot = self.snapshot.load();
        let Some(model) = snapshot.get(&request.model) else {
            return request;
        };
        let Some(own) = snapshot.user_routes(caller.user_id, model.id).first() else {
            return request;
        };
        if request.max_tokens.is_none()
            && request.max_completion_tokens.is_none()
            && let Some(max_tokens) = own.max_tokens
        {
            request.max_tokens = Some(model.max_output_tokens.map_or(max_tokens, |most| max_tokens.min(most)));
        }
        if request.temperature.is_none()
            && let Some(temperature) = own.temperature
        {
            let range = model
                .parameters
                .iter()
                .find(|parameter| parameter.name == "temperature");
            let bound = |value: Option<&serde_json::Value>| value.and_then(serde_json::Value::as_f64);
            let low = range
                .and_then(|range| bound(range.min_value.as_ref()))
                .unwrap_or(f64::MIN);
            let high = range
                .and_then(|range| bound(range.max_value.as_ref()))
                .unwrap_or(f64::MAX);
            request.temperature = Some(temperature.clamp(low, high.max(low)));
        }
        request
    }

    /// A whole chat completion.
    pub async fn chat(
        &self,
        caller: &Caller,
        context: &CallContext,
        request: ChatRequest,
    ) -> Result<Served<ChatResponse>, DomainError> {
        let request = self.with_user_defaults(caller, request);
        let (answer, mut attempt, permit) = self.run(caller, context, Work::Chat(&request)).await?;
        let Answer::Chat(mut response) = answer else {
            return Err(DomainError::Internal("a chat call answered otherwise".to_owned()));
        };
        let now = self.ports.clock.now();
        attempt.settle(Ok(()), now);
        let usage = response.usage.unwrap_or_else(|| {
            let tokenizer = self.ports.tokenizer.as_ref();
            estimate_response(tokenizer, estimate_prompt(tokenizer, &request), &response)
        });
        response.usage = Some(usage);
        let mut meter = Meter::new(&attempt.route.pricing);
        meter.settle(usage);
        attempt.entry.latency_ms = (now - attempt.started).num_milliseconds().max(0);
        attempt.entry.time_to_first_token_ms = Some(attempt.entry.latency_ms);
        meter.write_into(&mut attempt.entry);
        let by = ServedBy::of(&attempt);
        let rate = settle(permit, &attempt.entry);
        self.recorder().ended(attempt, now);
        Ok(Served {
            value: response,
            by,
            rate,
        })
    }

    /// A streamed chat completion: returns once a supplier's first chunk is in, so a failure
    /// before it is an ordinary error (and tried elsewhere); after it, nothing is retried. The
    /// stream meters itself and logs when it ends or is dropped (a client that went away).
    pub async fn chat_stream(
        &self,
        caller: &Caller,
        context: &CallContext,
        request: ChatRequest,
    ) -> Result<GatewayStream, DomainError> {
        let request = self.with_user_defaults(caller, request);
        let (answer, attempt, permit) = self.run(caller, context, Work::Stream(&request)).await?;
        let Answer::Stream(upstream, first) = answer else {
            return Err(DomainError::Internal("a stream call answered otherwise".to_owned()));
        };
        Ok(GatewayStream::new(
            self.recorder(),
            self.ports.clock.clone(),
            self.ports.tokenizer.clone(),
            attempt,
            request,
            first,
            upstream,
        )
        .with_permit(permit))
    }

    /// Embeddings of the inputs, in their order.
    pub async fn embed(
        &self,
        caller: &Caller,
        context: &CallContext,
        request: EmbeddingRequest,
    ) -> Result<Served<EmbeddingResponse>, DomainError> {
        let (answer, mut attempt, permit) = self.run(caller, context, Work::Embed(&request)).await?;
        let Answer::Embed(mut response) = answer else {
            return Err(DomainError::Internal("an embedding call answered otherwise".to_owned()));
        };
        let now = self.ports.clock.now();
        attempt.settle(Ok(()), now);
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
        attempt.entry.latency_ms = (now - attempt.started).num_milliseconds().max(0);
        meter.write_into(&mut attempt.entry);
        let by = ServedBy::of(&attempt);
        let rate = settle(permit, &attempt.entry);
        self.recorder().ended(attempt, now);
        Ok(Served {
            value: response,
            by,
            rate,
        })
    }

    /// Probes the keys out of rotation whose probe is due (a cheap request each, one at a
    /// time per key); says how each went.
    pub async fn probe_due(&self) -> Vec<ProbeReport> {
        let snapshot = self.snapshot.load_full();
        let now = self.ports.clock.now();
        let mut reports = Vec::new();
        for supplier in snapshot.pools() {
            for key in &supplier.pool.keys {
                let Some(claim) = key.health.claim_probe(millis(now)) else {
                    continue;
                };
                let call = UpstreamCall {
                    protocol: supplier.protocol,
                    supplier: supplier.name.clone(),
                    base_url: supplier.base_url.clone(),
                    api_key: Some(key.secret.clone()),
                    upstream_model: String::new(),
                    api_version: None,
                    max_output_tokens: None,
                    request_id: format!("probe-{}", uuid::Uuid::now_v7()),
                    timeouts: self.timeouts(&supplier.name),
                    guarded: false,
                };
                let sent = self.ports.clock.now();
                let outcome = self.ports.provider.probe(&call).await;
                let done = self.ports.clock.now();
                let outcome = match outcome {
                    Ok(()) => Outcome::Success {
                        latency: (done - sent).to_std().unwrap_or_default(),
                    },
                    Err(error) => Outcome::of(&error),
                };
                claim.done(&outcome, millis(done), &self.settings.health);
                reports.push(ProbeReport {
                    key_id: key.id,
                    supplier: supplier.name.clone(),
                    back: key.health.availability(millis(done)) != Availability::Out,
                    outcome,
                });
            }
        }
        reports
    }

    /// A key's health now, when it is in a pool of the snapshot.
    pub fn key_health(&self, id: uuid::Uuid) -> Option<HealthView> {
        let snapshot = self.snapshot.load();
        snapshot
            .key_health(id)
            .map(|health| health.view(millis(self.ports.clock.now())))
    }

    /// A key's calls (from the log) and its health now (`None` when it is in no pool: inactive,
    /// removed, or its supplier is off).
    pub async fn key_stats(
        &self,
        _admin: &Admin,
        id: uuid::Uuid,
    ) -> Result<(KeyCallStats, Option<HealthView>), DomainError> {
        let calls = self.ports.keys.call_stats(id).await?;
        Ok((calls, self.key_health(id)))
    }

    /// Writes every key's uses and state changes, and users' configs' last uses, since the last
    /// flush — in one transaction, so a failure writes none of it and the next flush carries it
    /// all. Returns the rows written.
    pub async fn flush_keys(&self) -> Result<usize, DomainError> {
        let snapshot = self.snapshot.load_full();
        let mut flushes: Vec<KeyFlush> = snapshot
            .pools()
            .flat_map(|supplier| supplier.pool.keys.iter())
            .filter_map(|key| key.health.take_flush(key.id))
            .collect();
        // Rows in one order, so two transactions over the same keys cannot deadlock.
        flushes.sort_by_key(|flush| flush.id);
        let taken: Vec<(&Arc<crate::gateway::routing::UserRoute>, (i64, i64))> = snapshot
            .all_user_routes()
            .filter_map(|route| route.last_use.take().map(|taken| (route, taken)))
            .collect();
        let mut used: Vec<(uuid::Uuid, chrono::DateTime<chrono::Utc>)> = taken
            .iter()
            .filter_map(|(route, (at, _))| chrono::DateTime::from_timestamp_millis(*at).map(|when| (route.id, when)))
            .collect();
        used.sort_by_key(|(id, _)| *id);
        if flushes.is_empty() && used.is_empty() {
            return Ok(0);
        }
        if let Err(error) = self.ports.keys.flush(&flushes, &used).await {
            for flush in &flushes {
                if let Some(health) = snapshot.key_health(flush.id) {
                    health.restore_flush(flush);
                }
            }
            for (route, taken) in taken {
                route.last_use.restore(taken);
            }
            return Err(error.into());
        }
        Ok(flushes.len() + used.len())
    }
}
