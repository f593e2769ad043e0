//! Streamed answers: a protocol's events made one at a time and sent as they are made (never the
//! whole answer buffered), paced by the scenario, with its mid-stream failure injected, inside a
//! guard that counts the stream as completed when it reaches its end and as cancelled when it is
//! dropped before (the client went away).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::web::Bytes;
use futures_util::Stream;
use serde_json::Value;

use crate::scenario::{Failure, Scenario};
use crate::state::Shared;

/// How long a scripted disconnect waits before cutting: actix drops what is still in its write
/// buffer when a body fails, so the events before the cut must leave first.
const FLUSH_BEFORE_CUT: Duration = Duration::from_millis(20);

/// One server-sent event, ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    text: String,
    /// Whether it carries a piece of the answer (text, reasoning, a tool call): the events a
    /// mid-stream failure's `after` counts.
    content: bool,
}

impl Frame {
    /// `data: <json>` alone (OpenAI, Gemini).
    pub(crate) fn data(json: &Value) -> Self {
        Self::raw(format!("data: {json}\n\n"))
    }

    /// `event: <name>` with `data: <json>` (Anthropic, Replicate).
    pub(crate) fn event(name: &str, json: &Value) -> Self {
        Self::raw(format!("event: {name}\ndata: {json}\n\n"))
    }

    /// Text already in SSE form (ending with the blank line).
    pub(crate) fn raw(text: String) -> Self {
        Self { text, content: false }
    }

    /// The same event, counted as a piece of the answer.
    pub(crate) fn content(mut self) -> Self {
        self.content = true;
        self
    }
}

/// A protocol's stream of events, made lazily.
pub(crate) trait Events: 'static {
    /// The next event, or `None` at the end of the answer.
    fn next_frame(&mut self) -> Option<Frame>;
    /// How many content events the whole answer has.
    fn content_total(&self) -> usize;
    /// The protocol's error event (for [`Failure::ErrorMidStream`]).
    fn error_frame(&self) -> Frame;
}

/// A stream of one event (a malformed answer).
#[derive(Debug)]
pub(crate) struct Once(pub(crate) Option<Frame>);

impl Events for Once {
    fn next_frame(&mut self) -> Option<Frame> {
        self.0.take()
    }

    fn content_total(&self) -> usize {
        0
    }

    fn error_frame(&self) -> Frame {
        Frame::raw(String::new())
    }
}

/// A failure inside a stream that began well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MidStream {
    Stall { after: usize, duration: Duration },
    Disconnect { after: usize },
    Error { after: usize },
}

impl MidStream {
    fn of(failure: Option<&Failure>) -> Option<Self> {
        match failure? {
            Failure::StallMidStream { after, duration } => Some(Self::Stall {
                after: *after,
                duration: *duration,
            }),
            Failure::DisconnectMidStream { after } => Some(Self::Disconnect { after: *after }),
            Failure::ErrorMidStream { after } => Some(Self::Error { after: *after }),
            _ => None,
        }
    }

    fn after(self) -> usize {
        match self {
            Self::Stall { after, .. } | Self::Disconnect { after } | Self::Error { after } => after,
        }
    }
}

/// How a stream is paced and how it fails, from its scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pacing {
    interval: Duration,
    failure: Option<MidStream>,
}

impl Pacing {
    pub(crate) fn of(scenario: &Scenario) -> Self {
        Self {
            interval: scenario.chunk_interval,
            failure: MidStream::of(scenario.failure.as_ref()),
        }
    }
}

/// Counts the stream once: completed at its end, cancelled when dropped before it. A stream the
/// fake cuts on purpose is neither.
#[derive(Debug)]
struct Guard {
    shared: Arc<Shared>,
    ended: bool,
}

impl Guard {
    fn complete(&mut self) {
        if !self.ended {
            self.ended = true;
            self.shared.stream_completed();
        }
    }

    fn cut(&mut self) {
        self.ended = true;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.ended {
            self.shared.stream_cancelled();
        }
    }
}

/// The state of one streamed body.
struct Body {
    events: Box<dyn Events>,
    pacing: Pacing,
    /// Content events sent so far.
    sent: usize,
    started: bool,
    finished: bool,
    guard: Guard,
}

/// A 200 `text/event-stream` answer that sends `events` as they are made.
pub(crate) fn respond(events: impl Events, pacing: Pacing, shared: Arc<Shared>) -> HttpResponse {
    let body = Body {
        events: Box::new(events),
        pacing,
        sent: 0,
        started: false,
        finished: false,
        guard: Guard { shared, ended: false },
    };
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .streaming(stream(body))
}

fn stream(body: Body) -> impl Stream<Item = Result<Bytes, io::Error>> {
    futures_util::stream::unfold(body, |mut body| async move {
        let item = body.step().await?;
        Some((item, body))
    })
}

impl Body {
    /// The next piece of the body: an event, the scripted cut, or `None` at the end.
    async fn step(&mut self) -> Option<Result<Bytes, io::Error>> {
        if self.finished {
            self.guard.complete();
            return None;
        }
        let frame = self.events.next_frame();
        if frame.is_some() && self.started && !self.pacing.interval.is_zero() {
            tokio::time::sleep(self.pacing.interval).await;
        }
        self.started = true;
        match self.due(frame.as_ref()) {
            Some(MidStream::Stall { duration, .. }) => tokio::time::sleep(duration).await,
            Some(MidStream::Disconnect { .. }) => {
                tokio::time::sleep(FLUSH_BEFORE_CUT).await;
                self.guard.cut();
                self.finished = true;
                return Some(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the fake upstream cuts the stream as scripted",
                )));
            }
            Some(MidStream::Error { .. }) => {
                self.finished = true;
                return Some(Ok(Bytes::from(self.events.error_frame().text)));
            }
            None => {}
        }
        match frame {
            None => {
                self.guard.complete();
                None
            }
            Some(frame) => {
                if frame.content {
                    self.sent += 1;
                }
                Some(Ok(Bytes::from(frame.text)))
            }
        }
    }

    /// The failure, once `after` content events are out and the next event is content (or no
    /// content is left to send); `after` beyond the answer's content means "after all of it".
    fn due(&mut self, next: Option<&Frame>) -> Option<MidStream> {
        let total = self.events.content_total();
        let after = self.pacing.failure?.after().min(total);
        let at_content = next.is_some_and(|frame| frame.content);
        if self.sent >= after && (at_content || self.sent >= total) {
            return self.pacing.failure.take();
        }
        None
    }
}
