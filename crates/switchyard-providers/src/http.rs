//! The HTTP side every protocol shares: one pooled client per connect timeout (connections are
//! reused across calls; HTTP/2 where the supplier offers it), sending with the call's timeouts
//! (connect, first byte, idle between chunks, total), reading bodies, and turning a streamed
//! body into server-sent events, then into chunks through a protocol's decoder.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventsource_stream::{Event, Eventsource};
use futures_util::{Stream, StreamExt};
use switchyard_domain::gateway::{ChatChunk, ChatStream, ProviderError, TimeoutPhase, Timeouts, UpstreamCall};
use tokio::time::Instant;

use crate::errors::{ErrorReader, from_status};
use crate::guard::Guard;

/// The most bytes of an error body read (enough for any supplier's error, not a flood).
const MAX_ERROR_BODY: usize = 64 * 1024;
/// The most bytes of a whole (non-streamed) answer read.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// Clients by connect timeout (reqwest sets that per client, and suppliers rarely differ) and
/// by whether they are guarded (users' own endpoints resolve through the [`Guard`]).
#[derive(Debug)]
pub struct Http {
    clients: Mutex<HashMap<(Duration, bool), reqwest::Client>>,
    guard: Arc<Guard>,
}

impl Http {
    pub fn new(guard: Guard) -> Self {
        Self {
            clients: Mutex::default(),
            guard: Arc::new(guard),
        }
    }

    fn client(&self, connect: Duration, guarded: bool) -> Result<reqwest::Client, ProviderError> {
        let mut clients = self.clients.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = clients.get(&(connect, guarded)) {
            return Ok(client.clone());
        }
        let mut builder = reqwest::Client::builder();
        if guarded {
            // Through a proxy (`HTTPS_PROXY` and the like) the proxy would resolve the name
            // and connect, past the guard: a user's endpoint is always reached directly.
            builder = builder.dns_resolver(self.guard.clone()).no_proxy();
        }
        let client = builder
            .connect_timeout(connect)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_keepalive(Duration::from_secs(30))
            .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
            // A redirect would carry `x-api-key`-style headers to another host: suppliers'
            // APIs do not redirect, so none is followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| ProviderError::Connection {
                message: format!("cannot build the HTTP client: {error}"),
            })?;
        clients.insert((connect, guarded), client.clone());
        Ok(client)
    }

    /// Sends the request `build` makes, with `x-request-id`, and waits for the status line and
    /// headers within the first-byte timeout (the total one when shorter). A status that is not
    /// a success is read as the supplier's error.
    pub async fn send(
        &self,
        call: &UpstreamCall,
        errors: ErrorReader,
        build: impl FnOnce(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<(reqwest::Response, Instant), ProviderError> {
        let started = Instant::now();
        let client = self.client(call.timeouts.connect, call.guarded)?;
        let request = build(&client)
            .header("x-request-id", &call.request_id)
            .build()
            .map_err(|error| ProviderError::Connection {
                message: format!("the request cannot be made: {}", error.without_url()),
            })?;
        if call.guarded {
            self.guard.check_url(request.url())?;
        }
        let wait = call.timeouts.connect + call.timeouts.first_byte.min(call.timeouts.total);
        let response = match tokio::time::timeout(wait, client.execute(request)).await {
            Err(_) => {
                return Err(ProviderError::Timeout {
                    phase: TimeoutPhase::FirstByte,
                });
            }
            Ok(Err(error)) if call.guarded && crate::guard::refusal(&error).is_some() => {
                return Err(crate::guard::refusal(&error).unwrap_or_else(|| transport(error, TimeoutPhase::FirstByte)));
            }
            Ok(Err(error)) => return Err(transport(error, TimeoutPhase::FirstByte)),
            Ok(Ok(response)) => response,
        };
        if response.status().is_success() {
            return Ok((response, started));
        }
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = read_limited(response, MAX_ERROR_BODY, deadline(started, call.timeouts))
            .await
            .unwrap_or_default();
        Err(from_status(status, &headers, &body, errors, call))
    }
}

/// When the whole call must be done.
fn deadline(started: Instant, timeouts: Timeouts) -> Instant {
    started + timeouts.total
}

/// A transport error in the words of the port.
pub fn transport(error: reqwest::Error, phase: TimeoutPhase) -> ProviderError {
    if error.is_timeout() {
        let phase = if error.is_connect() {
            TimeoutPhase::Connect
        } else {
            phase
        };
        return ProviderError::Timeout { phase };
    }
    // Without the URL: a supplier's internal host or a prediction's address is not the
    // caller's business (keys travel in headers, never in the error).
    ProviderError::Connection {
        message: error.without_url().to_string(),
    }
}

/// Reads at most `limit` bytes of a body before `deadline`.
async fn read_limited(response: reqwest::Response, limit: usize, deadline: Instant) -> Result<Vec<u8>, ProviderError> {
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    loop {
        let next = tokio::time::timeout_at(deadline, chunks.next()).await;
        match next {
            Err(_) => {
                return Err(ProviderError::Timeout {
                    phase: TimeoutPhase::Total,
                });
            }
            Ok(None) => return Ok(body),
            Ok(Some(Err(error))) => return Err(transport(error, TimeoutPhase::Total)),
            Ok(Some(Ok(bytes))) => {
                if body.len() + bytes.len() > limit {
                    return Err(ProviderError::Malformed {
                        message: format!("the answer is larger than {limit} bytes"),
                    });
                }
                body.extend_from_slice(&bytes);
            }
        }
    }
}

/// Reads a whole answer as JSON of type `T`, within the total timeout.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    started: Instant,
    timeouts: Timeouts,
) -> Result<T, ProviderError> {
    let body = read_limited(response, MAX_BODY, deadline(started, timeouts)).await?;
    // Some servers send blank lines (keep-alives) before the JSON.
    let text = String::from_utf8_lossy(&body);
    serde_json::from_str(text.trim_start()).map_err(|error| ProviderError::Malformed {
        message: format!("the answer is not the JSON expected: {error}"),
    })
}

/// Server-sent events of a streamed body, each within the idle timeout and all within the
/// total one.
pub fn events(
    response: reqwest::Response,
    started: Instant,
    timeouts: Timeouts,
) -> impl Stream<Item = Result<Event, ProviderError>> + Send + 'static {
    let end = deadline(started, timeouts);
    let events = Box::pin(response.bytes_stream().eventsource());
    futures_util::stream::unfold(Some(events), move |state| async move {
        let mut events = state?;
        let limit = (Instant::now() + timeouts.idle).min(end);
        match tokio::time::timeout_at(limit, events.next()).await {
            Err(_) => {
                let phase = if limit >= end {
                    TimeoutPhase::Total
                } else {
                    TimeoutPhase::Idle
                };
                Some((Err(ProviderError::Timeout { phase }), None))
            }
            Ok(None) => None,
            Ok(Some(Ok(event))) => Some((Ok(event), Some(events))),
            Ok(Some(Err(error))) => Some((
                Err(ProviderError::Malformed {
                    message: format!("the stream broke: {}", stream_failure(error)),
                }),
                None,
            )),
        }
    })
}

/// Why a body stopped, without the URL reqwest puts in its errors.
fn stream_failure(error: eventsource_stream::EventStreamError<reqwest::Error>) -> String {
    match error {
        eventsource_stream::EventStreamError::Transport(error) => error.without_url().to_string(),
        other => other.to_string(),
    }
}

/// What a protocol's decoder makes of one event.
pub enum Step {
    Chunks(Vec<ChatChunk>),
    /// The protocol's last event: the answer is complete.
    Done(Vec<ChatChunk>),
}

/// Turns one protocol's events into chunks.
pub trait Decoder: Send + 'static {
    fn event(&mut self, event: Event) -> Result<Step, ProviderError>;

    /// The body ended without the protocol's closing event: protocols whose streams just end
    /// (Gemini) finish the answer here; for the others the stream was cut short.
    fn end(&mut self) -> Result<Vec<ChatChunk>, ProviderError> {
        Err(ProviderError::Malformed {
            message: "the stream ended before the answer was complete".to_owned(),
        })
    }
}

/// A chat stream from events and a decoder. A body that ends before the protocol says the
/// answer is complete is a stream cut short.
pub fn chunks<D: Decoder>(
    events: impl Stream<Item = Result<Event, ProviderError>> + Send + 'static,
    decoder: D,
) -> ChatStream {
    struct State<E, D> {
        events: std::pin::Pin<Box<E>>,
        decoder: D,
        queue: VecDeque<ChatChunk>,
        finished: bool,
    }
    let state = State {
        events: Box::pin(events),
        decoder,
        queue: VecDeque::new(),
        finished: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(chunk) = state.queue.pop_front() {
                return Some((Ok(chunk), state));
            }
            if state.finished {
                return None;
            }
            match state.events.next().await {
                None => {
                    state.finished = true;
                    match state.decoder.end() {
                        Ok(chunks) => state.queue.extend(chunks),
                        Err(error) => return Some((Err(error), state)),
                    }
                }
                Some(Err(error)) => {
                    state.finished = true;
                    return Some((Err(error), state));
                }
                Some(Ok(event)) => match state.decoder.event(event) {
                    Ok(Step::Chunks(chunks)) => state.queue.extend(chunks),
                    Ok(Step::Done(chunks)) => {
                        state.queue.extend(chunks);
                        state.finished = true;
                    }
                    Err(error) => {
                        state.finished = true;
                        return Some((Err(error), state));
                    }
                },
            }
        }
    }))
}
