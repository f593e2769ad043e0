//! Unit tests of the gateway's use cases over fakes: routing from the snapshot, refusals,
//! usage and cost in the call log, estimates, and streams that end, fail or are dropped.

use std::sync::Arc;
use std::task::{Context, Poll};

use chrono::{TimeZone, Utc};
use futures_core::Stream;
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::catalog::supplier::Protocol;
use crate::catalog::suppliers::upstream_key_slot;
use crate::gateway::chat::{
    AssistantMessage, ChatChunk, ChatMessage, ChatRequest, ChatResponse, Choice, ChunkChoice, Delta, MessageContent,
};
use crate::gateway::fakes::{
    ClockWaiter, KeptFlushes, KeptLabels, Rows, Scripted, ScriptedProvider, WordTokenizer, log, model, supplier,
};
use crate::gateway::ports::{ProviderError, RoutingRows, StoredUpstreamKey};
use crate::gateway::service::{CallContext, Caller, Gateway, GatewayPorts, GatewaySettings};
use crate::gateway::stream::{CLIENT_CLOSED, GatewayStream};
use crate::gateway::usage::Usage;
use crate::kernel::clock::ManualClock;
use crate::kernel::crypto::{MasterKey, SecretCipher};
use crate::kernel::error::{DomainError, Refusal, UpstreamFailure};
use crate::kernel::ids::UserId;
use crate::kernel::ports::Clock;

struct World {
    gateway: Gateway,
    clock: Arc<ManualClock>,
    provider: Arc<ScriptedProvider>,
    log: Arc<crate::gateway::fakes::KeptLog>,
    labels: Arc<KeptLabels>,
    caller: Caller,
    context: CallContext,
    keys: Arc<KeptFlushes>,
    rows: Arc<Rows>,
    cipher: SecretCipher,
}

impl World {
    /// A gateway over this world's ports with other settings, its snapshot built.
    async fn gateway_with(&self, settings: GatewaySettings, ports: GatewayPorts) -> Gateway {
        let gateway = Gateway::new(ports, self.cipher.clone(), settings);
        gateway.refresh().await.expect("a snapshot");
        gateway
    }

    /// Gives the caller their own key for `model` and refreshes the snapshot; returns the
    /// config's id.
    async fn own_key(&self, model: &str) -> Uuid {
        let id = Uuid::now_v7();
        {
            let mut rows = self.rows.0.lock().expect("the rows");
            let model_id = rows
                .models
                .iter()
                .find(|detail| detail.model.spec.name == model)
                .expect("the model")
                .model
                .id;
            rows.configs.push(crate::gateway::byok::StoredModelConfig {
                id,
                user_id: self.caller.user_id,
                model_id,
                ciphertext: self
                    .cipher
                    .encrypt("sk-users-own", crate::gateway::byok::user_key_slot(&id.to_string()))
                    .expect("encrypted"),
                custom_endpoint: None,
                max_tokens: None,
                temperature: None,
                priority: 0,
            });
        }
        self.gateway.refresh().await.expect("a snapshot");
        id
    }
}

async fn world() -> World {
    let start = Utc
        .with_ymd_and_hms(2026, 11, 22, 8, 0, 0)
        .single()
        .expect("a valid instant");
    let cipher = SecretCipher::new(MasterKey::from_base64(&MasterKey::generate_base64()).expect("a key"));
    let openai = supplier("openai", Protocol::OpenAi, start);
    let keyless = supplier("keyless", Protocol::OpenAi, start);
    let key_id = Uuid::now_v7();
    let key = StoredUpstreamKey {
        id: key_id,
        supplier_id: openai.id,
        ciphertext: cipher
            .encrypt("sk-upstream", upstream_key_slot(&key_id.to_string()))
            .expect("encrypted"),
        weight: 1,
        error: false,
        status_reason: None,
        cooldown_until: None,
        updated_at: start,
    };
    let broken = StoredUpstreamKey {
        id: Uuid::now_v7(),
        supplier_id: openai.id,
        ciphertext: "v1:deadbeef:AAAA:AAAA".to_owned(),
        weight: 1,
        error: false,
        status_reason: None,
        cooldown_until: None,
        updated_at: start,
    };
    let mut inactive = model("gpt-old", &openai, start);
    inactive.model.spec.is_active = false;
    let mut embedding = model("embed-small", &openai, start);
    embedding.model.spec.model_type = crate::catalog::model::ModelType::Embedding;
    embedding.model.spec.sub_type = crate::catalog::model::SubType::Embedding;
    let rows = RoutingRows {
        models: vec![
            model("gpt-4o", &openai, start),
            model("local", &keyless, start),
            inactive,
            embedding,
        ],
        suppliers: vec![openai, keyless],
        keys: vec![key, broken],
        configs: Vec::new(),
    };
    let provider = Arc::new(ScriptedProvider::default());
    let rows = Arc::new(Rows(std::sync::Mutex::new(rows)));
    let keys = Arc::new(KeptFlushes::default());
    let log = log();
    let labels = Arc::new(KeptLabels::default());
    let clock = Arc::new(ManualClock::new(start));
    let ports = GatewayPorts {
        provider: provider.clone(),
        routing: rows.clone(),
        log: log.clone(),
        observer: labels.clone(),
        tokenizer: Arc::new(WordTokenizer),
        clock: clock.clone(),
        keys: keys.clone(),
        waiter: Arc::new(ClockWaiter {
            clock: clock.clone(),
            waits: std::sync::Mutex::default(),
        }),
        governor: None,
    };
    let gateway = Gateway::new(ports, cipher.clone(), GatewaySettings::default());
    let (count, problems) = gateway.refresh().await.expect("a snapshot");
    assert_eq!(count, 3, "the inactive model is not routable");
    assert_eq!(
        problems.len(),
        1,
        "the key that does not decrypt is reported: {problems:?}"
    );
    World {
        gateway,
        clock,
        provider,
        log,
        labels,
        caller: Caller {
            user_id: UserId::new(),
            key_id: None,
            allowed_models: vec![],
            key_limits: Default::default(),
        },
        context: CallContext {
            request_id: "req-1".to_owned(),
            client_ip: Some("203.0.113.7".to_owned()),
        },
        keys,
        rows,
        cipher,
    }
}

fn request(model: &str, stream: bool) -> ChatRequest {
    ChatRequest {
        model: model.to_owned(),
        messages: vec![ChatMessage {
            content: MessageContent::Text("say three words please".to_owned()),
            ..ChatMessage::default()
        }],
        stream,
        ..ChatRequest::default()
    }
}

fn answer(text: &str, usage: Option<Usage>) -> ChatResponse {
    ChatResponse {
        id: "chatcmpl-1".to_owned(),
        created: 1,
        choices: vec![Choice {
            message: AssistantMessage {
                content: Some(text.to_owned()),
                ..AssistantMessage::default()
            },
            ..Choice::default()
        }],
        usage,
        system_fingerprint: None,
    }
}

fn chunk(text: &str, usage: Option<Usage>) -> ChatChunk {
    ChatChunk {
        id: "chatcmpl-1".to_owned(),
        created: 1,
        choices: vec![ChunkChoice {
            delta: Delta {
                content: Some(text.to_owned()),
                ..Delta::default()
            },
            ..ChunkChoice::default()
        }],
        usage,
    }
}

fn usage(prompt: i64, completion: i64, cached: i64) -> Usage {
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        cached_input_tokens: cached,
        ..Usage::default()
    }
}

/// Polls a stream to its end (its items are all ready).
fn drain(stream: &mut GatewayStream) -> Vec<Result<ChatChunk, ProviderError>> {
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut items = Vec::new();
    while let Poll::Ready(Some(item)) = std::pin::Pin::new(&mut *stream).poll_next(&mut cx) {
        items.push(item);
    }
    items
}

#[tokio::test]
async fn a_call_goes_through_the_primary_route_with_its_key_and_is_logged_with_its_cost() {
    let world = world().await;
    world.provider.then(Scripted::Complete(Ok(answer(
        "one two three",
        Some(usage(1000, 500, 400)),
    ))));
    let response = world
        .gateway
        .chat(&world.caller, &world.context, request("gpt-4o", false))
        .await
        .expect("an answer");
    assert_eq!(response.value.usage, Some(usage(1000, 500, 400)));
    let calls = world.provider.calls.lock().expect("calls").clone();
    assert_eq!(calls[0].upstream_model, "gpt-4o-upstream");
    assert_eq!(
        calls[0]
            .api_key
            .as_ref()
            .map(|key| key.expose_secret().to_owned())
            .as_deref(),
        Some("sk-upstream")
    );
    assert_eq!(calls[0].request_id, "req-1");
    let entry = &world.log.entries()[0];
    assert_eq!((entry.status_code, entry.error_code.as_deref()), (200, None));
    // 600 uncached at 2, 400 cached at 1, 500 out at 8 (micro-units per million): nano-units.
    assert_eq!(
        entry.cost_nanos,
        (600 * 2_000_000 + 400 * 1_000_000 + 500 * 8_000_000) / 1000
    );
    assert_eq!(
        (entry.currency.as_deref(), entry.client_ip.as_deref()),
        (Some("USD"), Some("203.0.113.7"))
    );
}

#[tokio::test]
async fn unknown_forbidden_and_keyless_calls_are_refused_and_logged() {
    let world = world().await;
    let unknown = world
        .gateway
        .chat(&world.caller, &world.context, request("gpt-9", false))
        .await;
    assert_eq!(unknown.err(), Some(DomainError::UnknownModel { model: "gpt-9".into() }));
    let inactive = world
        .gateway
        .chat(&world.caller, &world.context, request("gpt-old", false))
        .await;
    assert!(matches!(inactive, Err(DomainError::UnknownModel { .. })));
    let limited = Caller {
        allowed_models: vec!["local".to_owned()],
        ..world.caller.clone()
    };
    let refused = world
        .gateway
        .chat(&limited, &world.context, request("gpt-4o", false))
        .await;
    assert_eq!(refused.err(), Some(DomainError::Forbidden(Refusal::ModelNotAllowed)));
    assert_eq!(world.gateway.models(&limited).len(), 1);
    let keyless = world
        .gateway
        .chat(&world.caller, &world.context, request("local", false))
        .await;
    assert!(matches!(
        keyless,
        Err(DomainError::Upstream {
            failure: UpstreamFailure::Failed,
            ..
        })
    ));
    let codes: Vec<(u16, Option<String>)> = world
        .log
        .entries()
        .into_iter()
        .map(|e| (e.status_code, e.error_code))
        .collect();
    assert_eq!(
        codes,
        [
            (404, Some("model_not_found".into())),
            (404, Some("model_not_found".into())),
            (403, Some("model_not_allowed".into())),
            (502, Some("upstream_error".into()))
        ]
    );
    // Metrics name only models the catalog has (a client cannot grow the label set).
    let labels = world.labels.calls.lock().expect("labels").clone();
    let pair = |model: &str, supplier: &str| (model.to_owned(), supplier.to_owned());
    assert_eq!(
        labels,
        [
            pair("unknown", "none"),
            pair("unknown", "none"),
            pair("gpt-4o", "none"),
            pair("local", "keyless")
        ]
    );
    assert!(
        world.provider.calls.lock().expect("calls").is_empty(),
        "nothing went upstream"
    );
}

#[tokio::test]
async fn a_supplier_without_usage_figures_gets_an_estimate_marked_as_such() {
    let world = world().await;
    world
        .provider
        .then(Scripted::Complete(Ok(answer("one two three", None))));
    let response = world
        .gateway
        .chat(&world.caller, &world.context, request("gpt-4o", false))
        .await
        .expect("an answer");
    let usage = response.value.usage.expect("an estimate");
    // 4 words in the prompt + 4 per message + 3 to prime; 3 words out.
    assert_eq!(
        (usage.prompt_tokens, usage.completion_tokens, usage.estimated),
        (4 + 4 + 3, 3, true)
    );
    assert!(world.log.entries()[0].usage.estimated);
}

#[tokio::test]
async fn supplier_errors_become_the_gateway_s_with_retry_after() {
    let world = world().await;
    let retry_after = Some(std::time::Duration::from_secs(7));
    world.provider.then(Scripted::Complete(Err(ProviderError::RateLimited {
        retry_after,
        message: "slow down".into(),
    })));
    let limited = world
        .gateway
        .chat(&world.caller, &world.context, request("gpt-4o", false))
        .await;
    match limited {
        Err(DomainError::Upstream {
            failure: UpstreamFailure::RateLimited,
            retry_after_seconds,
            ..
        }) => {
            assert_eq!(retry_after_seconds, Some(7));
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    assert_eq!(world.log.entries()[0].status_code, 429);
}

#[tokio::test]
async fn a_stream_passes_chunks_and_sends_the_usage_once_at_the_end_when_asked() {
    let world = world().await;
    let items = vec![
        Ok(chunk("one", None)),
        Ok(chunk("two", Some(usage(20, 2, 0)))),
        Ok(ChatChunk {
            usage: Some(usage(0, 3, 0)),
            ..ChatChunk::default()
        }),
    ];
    world.provider.then(Scripted::Stream(Ok(items.clone())));
    let mut asked = request("gpt-4o", true);
    asked.include_usage = true;
    let mut stream = world
        .gateway
        .chat_stream(&world.caller, &world.context, asked)
        .await
        .expect("a stream");
    let got: Vec<ChatChunk> = drain(&mut stream)
        .into_iter()
        .map(|item| item.expect("a chunk"))
        .collect();
    assert_eq!(got.len(), 3, "two chunks, then the usage");
    assert!(got[..2].iter().all(|chunk| chunk.usage.is_none()));
    assert_eq!(
        got[2].usage,
        Some(usage(20, 3, 0)),
        "the usage on a chunk with choices is not lost"
    );
    assert!(got[2].choices.is_empty());
    drop(stream);
    let entries = world.log.entries();
    assert_eq!(entries.len(), 1, "logged once");
    assert_eq!(
        (entries[0].usage.completion_tokens, entries[0].error_code.as_deref()),
        (3, None)
    );

    // Not asked: no usage chunk.
    world.provider.then(Scripted::Stream(Ok(items)));
    let mut stream = world
        .gateway
        .chat_stream(&world.caller, &world.context, request("gpt-4o", true))
        .await
        .expect("a stream");
    let got = drain(&mut stream);
    assert_eq!(got.len(), 2);
}

#[tokio::test]
async fn a_stream_the_client_drops_is_logged_with_what_was_streamed() {
    let world = world().await;
    let items = vec![Ok(chunk("one two", None)), Ok(chunk("three", None))];
    world.provider.then(Scripted::Stream(Ok(items)));
    let mut stream = world
        .gateway
        .chat_stream(&world.caller, &world.context, request("gpt-4o", true))
        .await
        .expect("a stream");
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    assert!(matches!(
        std::pin::Pin::new(&mut stream).poll_next(&mut cx),
        Poll::Ready(Some(Ok(_)))
    ));
    drop(stream);
    let entry = &world.log.entries()[0];
    assert_eq!(entry.error_code.as_deref(), Some(CLIENT_CLOSED));
    assert_eq!(
        (entry.usage.completion_tokens, entry.usage.estimated),
        (2, true),
        "what was streamed is counted"
    );
}

#[tokio::test]
async fn an_early_stream_failure_is_an_error_and_a_late_one_ends_the_stream() {
    let world = world().await;
    world
        .provider
        .then(Scripted::Stream(Ok(vec![Err(ProviderError::Overloaded {
            retry_after: None,
            message: "busy".into(),
        })])));
    let early = world
        .gateway
        .chat_stream(&world.caller, &world.context, request("gpt-4o", true))
        .await;
    assert!(matches!(
        early,
        Err(DomainError::Upstream {
            failure: UpstreamFailure::Overloaded,
            ..
        })
    ));
    assert_eq!(world.log.entries()[0].status_code, 503);

    let cut = ProviderError::Malformed {
        message: "cut short".into(),
    };
    world
        .provider
        .then(Scripted::Stream(Ok(vec![Ok(chunk("one", None)), Err(cut)])));
    let mut stream = world
        .gateway
        .chat_stream(&world.caller, &world.context, request("gpt-4o", true))
        .await
        .expect("a stream");
    let got = drain(&mut stream);
    assert!(matches!(got.last(), Some(Err(ProviderError::Malformed { .. }))));
    drop(stream);
    let entry = &world.log.entries()[1];
    assert_eq!(
        (entry.status_code, entry.error_code.as_deref()),
        (200, Some("upstream_error"))
    );
}

#[tokio::test]
async fn embeddings_are_priced_and_estimated_when_the_supplier_counts_nothing() {
    use crate::gateway::embedding::{EmbeddingRequest, EmbeddingResponse};
    let world = world().await;
    let vectors = EmbeddingResponse {
        vectors: vec![vec![0.5, -0.25], vec![1.0, 0.0]],
        usage: Usage::default(),
    };
    world.provider.then(Scripted::Embed(Ok(vectors)));
    let request = EmbeddingRequest {
        model: "embed-small".to_owned(),
        inputs: vec!["two words".to_owned(), "three more words".to_owned()],
        ..EmbeddingRequest::default()
    };
    let response = world
        .gateway
        .embed(&world.caller, &world.context, request)
        .await
        .expect("vectors");
    assert_eq!(response.value.vectors.len(), 2);
    assert_eq!(
        (response.value.usage.prompt_tokens, response.value.usage.estimated),
        (5, true)
    );
    let entry = &world.log.entries()[0];
    assert_eq!(
        (entry.endpoint, entry.cost_nanos),
        (crate::gateway::call_log::Endpoint::Embeddings, 5 * 2_000_000 / 1000)
    );
}

#[tokio::test]
async fn a_call_dropped_before_the_supplier_answers_is_logged_as_cancelled() {
    let world = world().await;
    world.provider.then(Scripted::Hang);
    let call = world
        .gateway
        .chat(&world.caller, &world.context, request("gpt-4o", false));
    // The handler's future is dropped while it waits (the client went away, the server stopped).
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(20), call)
            .await
            .is_err()
    );
    let entries = world.log.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        (entries[0].status_code, entries[0].error_code.as_deref()),
        (499, Some("cancelled"))
    );
    assert_eq!(
        world.provider.calls.lock().expect("calls").len(),
        1,
        "it had gone upstream"
    );
}

#[tokio::test]
async fn a_refused_key_is_out_until_its_probe_and_its_use_is_flushed() {
    let world = world().await;
    world.provider.then(Scripted::Complete(Err(ProviderError::Unauthorized {
        status: 401,
        message: "invalid key".into(),
    })));
    let refused = world
        .gateway
        .chat(&world.caller, &world.context, request("gpt-4o", false))
        .await;
    assert!(refused.is_err());
    // The only key is out: the next call is refused without reaching the supplier.
    let out = world
        .gateway
        .chat(&world.caller, &world.context, request("gpt-4o", false))
        .await;
    match out {
        Err(DomainError::Upstream {
            failure: UpstreamFailure::Failed,
            message,
            ..
        }) => assert!(message.contains("credentials"), "{message}"),
        other => panic!("expected every key refused, got {other:?}"),
    }
    assert_eq!(world.provider.calls.lock().expect("calls").len(), 1);
    let key = world.provider.calls.lock().expect("calls")[0].clone();
    assert!(key.api_key.is_some());
    // Not due yet: nothing is probed.
    assert!(world.gateway.probe_due().await.is_empty());
    world.clock.advance(chrono::Duration::seconds(31));
    world.provider.then(Scripted::Probe(Ok(())));
    let reports = world.gateway.probe_due().await;
    assert_eq!(reports.len(), 1);
    assert!(reports[0].back, "{reports:?}");
    world.provider.then(Scripted::Complete(Ok(answer("back", None))));
    let served = world
        .gateway
        .chat(&world.caller, &world.context, request("gpt-4o", false))
        .await
        .expect("an answer");
    assert_eq!((served.by.model.as_str(), served.by.attempts), ("gpt-4o", 1));
    assert_eq!(world.gateway.flush_keys().await.expect("a flush"), 1);
    assert_eq!(world.gateway.flush_keys().await.expect("a flush"), 0, "nothing new");
}

/// A 429 whose `Retry-After` is `seconds`.
fn assert_rate_limited<T: std::fmt::Debug>(outcome: Result<T, DomainError>, seconds: u64) {
    match outcome {
        Err(DomainError::Upstream {
            failure: UpstreamFailure::RateLimited,
            retry_after_seconds,
            ..
        }) => assert_eq!(retry_after_seconds, Some(seconds)),
        other => panic!("expected a 429, got {other:?}"),
    }
}

/// The caller is told their own key was refused.
fn assert_own_key_refused<T: std::fmt::Debug>(outcome: Result<T, DomainError>) {
    match outcome {
        Err(DomainError::Upstream { message, .. }) => {
            assert!(message.contains("your own key"), "{message}");
        }
        other => panic!("expected the own key's refusal, got {other:?}"),
    }
}

fn refused_key() -> ProviderError {
    ProviderError::Unauthorized {
        status: 401,
        message: "invalid api key".into(),
    }
}

#[tokio::test]
async fn a_failed_flush_loses_nothing_and_a_refresh_keeps_configs_last_use() {
    let world = world().await;
    let config = world.own_key("gpt-4o").await;
    // The caller's own key is refused; the pool's key answers.
    world.provider.then(Scripted::Complete(Err(refused_key())));
    world.provider.then(Scripted::Complete(Ok(answer("pool", None))));
    let served = world
        .gateway
        .chat(&world.caller, &world.context, request("gpt-4o", false))
        .await
        .expect("an answer");
    assert_eq!(served.by.attempts, 2);
    world.keys.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(world.gateway.flush_keys().await.is_err());
    world.keys.failing.store(false, std::sync::atomic::Ordering::SeqCst);
    world.gateway.refresh().await.expect("a snapshot");
    assert_eq!(world.gateway.flush_keys().await.expect("a flush"), 2);
    let flushes = world.keys.flushes.lock().expect("the flushes").clone();
    assert_eq!(flushes.iter().map(|flush| flush.uses).sum::<u64>(), 1, "{flushes:?}");
    let used = world.keys.configs_used.lock().expect("the uses").clone();
    assert_eq!(used.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![config]);
    assert_eq!(world.gateway.flush_keys().await.expect("a flush"), 0, "nothing new");
}

#[tokio::test]
async fn a_refused_own_key_says_so_unless_the_pool_is_only_cooling_down() {
    // The pool's key cools down for 30 s; the caller's own key is refused: 429, with the wait.
    let cooling = world().await;
    cooling
        .provider
        .then(Scripted::Complete(Err(ProviderError::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(30)),
            message: "slow down".into(),
        })));
    let _ = cooling
        .gateway
        .chat(&cooling.caller, &cooling.context, request("gpt-4o", false))
        .await;
    cooling.own_key("gpt-4o").await;
    cooling.provider.then(Scripted::Complete(Err(refused_key())));
    assert_rate_limited(
        cooling
            .gateway
            .chat(&cooling.caller, &cooling.context, request("gpt-4o", false))
            .await,
        30,
    );
    // The pool's key is refused too (out until a probe): the caller hears about their own key.
    let out = world().await;
    out.provider.then(Scripted::Complete(Err(refused_key())));
    let _ = out
        .gateway
        .chat(&out.caller, &out.context, request("gpt-4o", false))
        .await;
    out.own_key("gpt-4o").await;
    out.provider.then(Scripted::Complete(Err(refused_key())));
    assert_own_key_refused(
        out.gateway
            .chat(&out.caller, &out.context, request("gpt-4o", false))
            .await,
    );
}

#[tokio::test]
async fn a_deadline_past_the_calendar_does_not_panic() {
    let world = world().await;
    let mut settings = GatewaySettings::default();
    settings.retry.deadline = std::time::Duration::MAX;
    let gateway = world.gateway_with(settings, world.gateway.ports.clone()).await;
    world.provider.then(Scripted::Complete(Ok(answer("fine", None))));
    let served = gateway
        .chat(&world.caller, &world.context, request("gpt-4o", false))
        .await
        .expect("an answer");
    assert_eq!(served.by.attempts, 1);
}

#[tokio::test]
async fn a_refused_own_key_says_so_when_the_budget_ends_before_the_pool_is_tried() {
    let world = world().await;
    let now = chrono::Utc::now();
    {
        let mut rows = world.rows.0.lock().expect("the rows");
        let supplier_id = rows.keys[0].supplier_id;
        let id = Uuid::now_v7();
        // A second pool key, cooling down: the pool has a key ready and one cooling.
        rows.keys.push(StoredUpstreamKey {
            id,
            supplier_id,
            ciphertext: world
                .cipher
                .encrypt("sk-second", upstream_key_slot(&id.to_string()))
                .expect("encrypted"),
            weight: 1,
            error: false,
            status_reason: None,
            cooldown_until: Some(now + chrono::Duration::days(365 * 10)),
            updated_at: now,
        });
    }
    world.own_key("gpt-4o").await;
    let mut settings = GatewaySettings::default();
    settings.retry.max_attempts = 1;
    let gateway = world.gateway_with(settings, world.gateway.ports.clone()).await;
    world.provider.then(Scripted::Complete(Err(refused_key())));
    assert_own_key_refused(
        gateway
            .chat(&world.caller, &world.context, request("gpt-4o", false))
            .await,
    );
}

#[tokio::test]
async fn with_every_key_cooling_a_request_waits_for_the_first_back_within_the_bound() {
    let world = world().await;
    let mut settings = GatewaySettings::default();
    settings.retry.cooldown_wait = std::time::Duration::from_secs(10);
    let waiter = Arc::new(ClockWaiter {
        clock: world.clock.clone(),
        waits: std::sync::Mutex::default(),
    });
    let mut ports = world.gateway.ports.clone();
    ports.waiter = waiter.clone();
    let gateway = world.gateway_with(settings, ports).await;
    let limited = |seconds| {
        Scripted::Complete(Err(ProviderError::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(seconds)),
            message: "slow down".into(),
        }))
    };
    // The only key cools for 5 s: the next request waits 5 s (the manual clock moves) and is served.
    world.provider.then(limited(5));
    let _ = gateway
        .chat(&world.caller, &world.context, request("gpt-4o", false))
        .await;
    let before = world.clock.now();
    world.provider.then(Scripted::Complete(Ok(answer("waited", None))));
    let served = gateway
        .chat(&world.caller, &world.context, request("gpt-4o", false))
        .await
        .expect("an answer after the wait");
    assert_eq!(served.by.attempts, 1);
    assert_eq!((world.clock.now() - before).num_seconds(), 5);
    assert_eq!(waiter.waits.lock().expect("the waits").len(), 1, "one wait");
    // A cooldown longer than the bound is answered at once.
    world.provider.then(limited(60));
    let _ = gateway
        .chat(&world.caller, &world.context, request("gpt-4o", false))
        .await;
    let before = world.clock.now();
    assert_rate_limited(
        gateway
            .chat(&world.caller, &world.context, request("gpt-4o", false))
            .await,
        60,
    );
    assert_eq!(world.clock.now(), before, "no wait");
    assert_eq!(waiter.waits.lock().expect("the waits").len(), 1, "still the one wait");
}
