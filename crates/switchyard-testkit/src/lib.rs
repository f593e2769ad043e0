//! A fake LLM upstream on 127.0.0.1 for the gateway's tests and benchmarks.
//!
//! It speaks the five wire protocols the gateway's provider clients talk (OpenAI, Azure OpenAI,
//! Anthropic, Gemini, Replicate) the way the real suppliers do wherever the gateway's
//! translation depends on it (usage fields, finish words, stream framing, error shapes), answers
//! what a [`Scenario`] scripts (text, reasoning, tool calls, usage, pacing, failures), and
//! records every request, so a test can assert on what the gateway sent.
//!
//! ```no_run
//! # async fn example() {
//! use switchyard_testkit::{FakeUpstream, Protocol, Scenario};
//!
//! let fake = FakeUpstream::start().await;
//! fake.set(Scenario::text("Bonjour"));
//! let base_url = fake.base_url(Protocol::Anthropic);
//! // … point the gateway at `base_url` with `FakeUpstream::KEY`, call it, then:
//! let sent = fake.last_request();
//! # }
//! ```

mod anthropic;
mod errors;
mod exchange;
mod gemini;
mod openai;
mod replicate;
mod scenario;
mod sse;
mod state;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};

pub use scenario::{Failure, FakeFinish, FakeToolCall, FakeUsage, Scenario};
pub use state::Recorded;
use state::Shared;

/// Worker threads of the server: two keep a benchmark's fake from being the bottleneck on a
/// two-core machine without crowding the gateway.
const WORKERS: usize = 2;
/// The largest request body read (images inline in a chat are large).
const MAX_REQUEST_BODY: usize = 64 * 1024 * 1024;
/// Between two looks at a condition awaited.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// A wire protocol the fake upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// OpenAI's chat completions and embeddings (and every OpenAI-compatible server).
    OpenAi,
    /// Azure OpenAI: OpenAI's wire format at a deployment's URL, with content-filter results.
    AzureOpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini API.
    Gemini,
    /// Replicate's predictions.
    Replicate,
}

impl Protocol {
    /// Every protocol, for tests that run the same case against each.
    pub const ALL: [Protocol; 5] = [
        Protocol::OpenAi,
        Protocol::AzureOpenAi,
        Protocol::Anthropic,
        Protocol::Gemini,
        Protocol::Replicate,
    ];

    /// The protocol's name as the gateway's catalog spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::OpenAi => "openai",
            Protocol::AzureOpenAi => "azure_openai",
            Protocol::Anthropic => "anthropic",
            Protocol::Gemini => "gemini",
            Protocol::Replicate => "replicate",
        }
    }

    /// The path of the protocol's base URL, with the version part a real base URL has.
    pub(crate) const fn base_path(self) -> &'static str {
        match self {
            Protocol::OpenAi => "/openai/v1",
            Protocol::AzureOpenAi => "/azure",
            Protocol::Anthropic => "/anthropic/v1",
            Protocol::Gemini => "/gemini/v1beta",
            Protocol::Replicate => "/replicate/v1",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A running fake upstream. Dropping it stops the server.
pub struct FakeUpstream {
    address: SocketAddr,
    shared: Arc<Shared>,
    handle: ServerHandle,
}

impl fmt::Debug for FakeUpstream {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("FakeUpstream")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl FakeUpstream {
    /// The key the fake upstream accepts in every protocol; keys that extend it with `-` and
    /// more (`fake-upstream-key-2`, see [`FakeUpstream::pool_key`]) are accepted too, for pools.
    pub const KEY: &'static str = "fake-upstream-key";

    /// The `n`th key of a pool the fake accepts.
    pub fn pool_key(n: usize) -> String {
        format!("{}-{n}", Self::KEY)
    }

    /// Whether the fake accepts `key`.
    pub fn accepts(key: &str) -> bool {
        key == Self::KEY || key.strip_prefix(Self::KEY).is_some_and(|rest| rest.starts_with('-'))
    }

    /// The scenario of every exchange (and probe) that carries `key`, ahead of the queue and
    /// the default; `None` clears it.
    pub fn set_for_key(&self, key: &str, scenario: Option<Scenario>) {
        self.shared.set_for_key(key, scenario);
    }

    /// Starts a fake upstream on a free port of 127.0.0.1, served inside the caller's tokio
    /// runtime; it is listening when this returns.
    ///
    /// # Panics
    /// When no port can be bound (see [`FakeUpstream::try_start`] to handle that).
    pub async fn start() -> FakeUpstream {
        match Self::try_start().await {
            Ok(fake) => fake,
            Err(error) => panic!("the fake upstream cannot listen on 127.0.0.1: {error}"),
        }
    }

    /// Starts a fake upstream, or says why it cannot listen.
    pub async fn try_start() -> io::Result<FakeUpstream> {
        let shared = Arc::new(Shared::default());
        let data = web::Data::from(Arc::clone(&shared));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(MAX_REQUEST_BODY))
                .configure(routes)
                .default_service(web::to(exchange::unknown))
        })
        .workers(WORKERS)
        .disable_signals()
        .shutdown_timeout(0)
        .backlog(1024)
        .bind(("127.0.0.1", 0))?;
        let address = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| io::Error::other("the server bound no address"))?;
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(FakeUpstream {
            address,
            shared,
            handle,
        })
    }

    /// Where the server listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The base URL to configure for a supplier of `protocol`, as a real one is configured
    /// (`http://ADDR/openai/v1`, `http://ADDR/azure`, `http://ADDR/anthropic/v1`,
    /// `http://ADDR/gemini/v1beta`, `http://ADDR/replicate/v1`).
    pub fn base_url(&self, protocol: Protocol) -> String {
        format!("http://{}{}", self.address, protocol.base_path())
    }

    /// The scenario of every following exchange (until set again).
    pub fn set(&self, scenario: Scenario) {
        self.shared.set(scenario);
    }

    /// A scenario for the next exchange only; several queue up in order, then the default
    /// applies again. An exchange is one chat or embedding request, or one Replicate
    /// prediction (its create, polls, stream and cancel share the scenario taken at the create).
    pub fn push(&self, scenario: Scenario) {
        self.shared.push(scenario);
    }

    /// Every request received (since the last [`FakeUpstream::clear`]), in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests()
    }

    /// The last request received.
    pub fn last_request(&self) -> Option<Recorded> {
        self.shared.last_request()
    }

    /// Forgets the requests received, the stream counts and the cancelled predictions (the
    /// scenarios stay).
    pub fn clear(&self) {
        self.shared.clear();
    }

    /// Whether requests are recorded (on by default): a long benchmark turns it off so memory
    /// does not grow with every request.
    pub fn set_recording(&self, enabled: bool) {
        self.shared.set_recording(enabled);
    }

    /// Streamed bodies sent to their end.
    pub fn streams_completed(&self) -> usize {
        self.shared.streams_completed()
    }

    /// Streamed bodies dropped before their end because the client went away (a scripted
    /// [`Failure::DisconnectMidStream`] counts as neither completed nor cancelled).
    pub fn streams_cancelled(&self) -> usize {
        self.shared.streams_cancelled()
    }

    /// Waits until at least `n` streams were cancelled; `false` when `timeout` passes first.
    pub async fn wait_for_cancelled(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |fake| fake.streams_cancelled() >= n).await
    }

    /// Waits until `condition` holds, looking every 10 ms; `false` when `timeout` passes first.
    /// For what happens after the answer (a cancel the gateway sends in the background).
    pub async fn wait_until(&self, timeout: Duration, condition: impl Fn(&FakeUpstream) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if condition(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The Replicate predictions cancelled through `POST …/predictions/{id}/cancel`, in order.
    pub fn cancelled_predictions(&self) -> Vec<String> {
        self.shared.cancelled_predictions()
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        // The stop command is sent at once; the future only waits for it to be done, which a
        // drop cannot do.
        let stopping = self.handle.stop(false);
        drop(stopping);
    }
}

/// Every route, at the paths the real suppliers use under their base URLs.
fn routes(config: &mut web::ServiceConfig) {
    config
        .service(resource("/openai/v1/chat/completions", web::post().to(openai::chat)))
        .service(resource("/openai/v1/embeddings", web::post().to(openai::embeddings)))
        .service(resource(
            "/azure/openai/deployments/{deployment}/chat/completions",
            web::post().to(openai::azure_chat),
        ))
        .service(resource(
            "/azure/openai/deployments/{deployment}/embeddings",
            web::post().to(openai::azure_embeddings),
        ))
        .service(resource("/anthropic/v1/messages", web::post().to(anthropic::messages)))
        .service(resource("/gemini/v1beta/models/{call}", web::post().to(gemini::models)))
        .service(resource(
            "/replicate/v1/models/{owner}/{name}/predictions",
            web::post().to(replicate::create_for_model),
        ))
        .service(resource(
            "/replicate/v1/predictions",
            web::post().to(replicate::create_for_version),
        ))
        .service(resource(
            "/replicate/v1/predictions/{id}/cancel",
            web::post().to(replicate::cancel),
        ))
        .service(resource(
            "/replicate/v1/predictions/{id}",
            web::get().to(replicate::get),
        ))
        .service(resource("/replicate/v1/streams/{id}", web::get().to(replicate::stream)))
        .service(probe_resource("/openai/v1/models", Protocol::OpenAi))
        .service(probe_resource("/azure/openai/models", Protocol::AzureOpenAi))
        .service(probe_resource("/anthropic/v1/models", Protocol::Anthropic))
        .service(probe_resource("/gemini/v1beta/models", Protocol::Gemini))
        .service(probe_resource("/replicate/v1/account", Protocol::Replicate));
}

/// A probe's route (`GET`), answered by [`exchange::probe`].
fn probe_resource(path: &str, protocol: Protocol) -> actix_web::Resource {
    resource(
        path,
        web::get().to(move |request, shared| exchange::probe(protocol, request, shared)),
    )
}

/// A route at `path`; its other methods fall to the default service, so they are recorded too.
fn resource(path: &str, route: actix_web::Route) -> actix_web::Resource {
    web::resource(path)
        .route(route)
        .default_service(web::to(exchange::unknown))
}
