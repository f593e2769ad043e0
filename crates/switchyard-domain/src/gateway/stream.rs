//! A streamed answer on its way to the client: chunks pass through as they arrive (nothing of
//! the answer is kept, only running counts), the supplier's usage is taken off the chunks that
//! carry it and sent once at the end when the client asked for it, and the call is logged when
//! the stream ends, fails, or is dropped because the client went away.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use chrono::{DateTime, Utc};
use futures_core::Stream;

use crate::gateway::attempt::{Attempt, ServedBy, upstream_failure};
use crate::gateway::call_log::CallLogEntry;
use crate::gateway::chat::{ChatChunk, ChatRequest};
use crate::gateway::metering::{Meter, delta_text, estimate_prompt, settle};
use crate::gateway::ports::{ChatStream, ProviderError, Tokenizer};
use crate::gateway::recorder::Recorder;
use crate::gateway::usage::Usage;
use crate::kernel::ports::Clock;
use crate::kernel::rate::RateHeaders;
use crate::usage::governor::Permit;

/// The code logged for a stream the client closed before its end.
pub const CLIENT_CLOSED: &str = "client_closed";

/// The most bytes of a streamed answer's text held before they are counted.
const UNCOUNTED_MOST: usize = 16 * 1024;

/// The gateway's side of a streamed answer.
pub struct GatewayStream {
    upstream: ChatStream,
    /// The first chunk, read before the answer started, not yet passed on.
    pending: Option<ChatChunk>,
    include_usage: bool,
    recorder: Recorder,
    clock: Arc<dyn Clock>,
    tokenizer: Arc<dyn Tokenizer>,
    /// `None` once the call is logged.
    attempt: Option<Attempt>,
    request: ChatRequest,
    /// The supplier's usage so far.
    reported: Option<Usage>,
    /// The answer's tokens counted so far, and its text not counted yet (counted in pieces of
    /// [`UNCOUNTED_MOST`] bytes, or at the end, and only while the supplier reports no usage:
    /// most do, and then nothing is tokenized).
    estimated_completion: i64,
    uncounted: String,
    first_token_at: Option<DateTime<Utc>>,
    /// The id and time of the last chunk, for the usage chunk at the end.
    last: (String, i64),
    /// The upstream ended; the usage chunk may still be due.
    ended: bool,
    served: ServedBy,
    /// What the call took of the caller's limits, settled when the stream is logged.
    permit: Option<Permit>,
    rate: RateHeaders,
}

impl std::fmt::Debug for GatewayStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayStream")
            .field("model", &self.request.model)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl GatewayStream {
    pub(super) fn new(
        recorder: Recorder,
        clock: Arc<dyn Clock>,
        tokenizer: Arc<dyn Tokenizer>,
        attempt: Attempt,
        request: ChatRequest,
        first: ChatChunk,
        upstream: ChatStream,
    ) -> Self {
        Self {
            rate: RateHeaders::default(),
            permit: None,
            served: ServedBy::of(&attempt),
            upstream,
            last: (first.id.clone(), first.created),
            pending: Some(first),
            include_usage: request.include_usage,
            recorder,
            clock,
            tokenizer,
            attempt: Some(attempt),
            request,
            reported: None,
            estimated_completion: 0,
            uncounted: String::new(),
            first_token_at: None,
            ended: false,
        }
    }

    /// The model the stream answers for, as the client named it.
    pub fn model(&self) -> &str {
        &self.request.model
    }

    fn observe(&mut self, chunk: &mut ChatChunk) {
        if let Some(usage) = chunk.usage.take() {
            self.reported = Some(self.reported.map_or(usage, |earlier| earlier.merge(usage)));
        }
        let before = self.uncounted.len();
        for choice in &chunk.choices {
            delta_text(&choice.delta, &mut self.uncounted);
        }
        if self.uncounted.len() > before && self.first_token_at.is_none() {
            self.first_token_at = Some(self.clock.now());
        }
        if self.reported.is_some() {
            self.uncounted.clear();
        } else if self.uncounted.len() > UNCOUNTED_MOST {
            self.estimated_completion += self.tokenizer.count(&self.uncounted);
            self.uncounted.clear();
        }
        self.last = (chunk.id.clone(), chunk.created);
    }

    fn usage(&self) -> Usage {
        self.reported.unwrap_or_else(|| Usage {
            prompt_tokens: estimate_prompt(self.tokenizer.as_ref(), &self.request),
            completion_tokens: self.estimated_completion + self.tokenizer.count(&self.uncounted),
            estimated: true,
            ..Usage::default()
        })
    }

    /// What the call took of the caller's limits: settled when the stream is logged.
    pub(super) fn with_permit(mut self, permit: Permit) -> Self {
        self.rate = permit.headers();
        self.permit = Some(permit);
        self
    }

    /// The caller's rate limits after the call was taken (for the `x-ratelimit-*` headers).
    pub fn rate(&self) -> RateHeaders {
        self.rate
    }

    /// What served the stream (for the `x-switchyard-*` headers).
    pub fn served(&self) -> &ServedBy {
        &self.served
    }

    /// Logs the call once: how it ended, and what was streamed until then.
    fn finish(&mut self, error: Option<(&str, String)>) {
        let Some(mut attempt) = self.attempt.take() else {
            return;
        };
        let now = self.clock.now();
        if error.is_none() {
            attempt.settle(Ok(()), now);
        }
        let started = attempt.started;
        let entry: &mut CallLogEntry = &mut attempt.entry;
        entry.latency_ms = (now - started).num_milliseconds().max(0);
        entry.time_to_first_token_ms = self.first_token_at.map(|at| (at - started).num_milliseconds().max(0));
        if let Some((code, summary)) = error {
            entry.error_code = Some(code.to_owned());
            entry.error_summary = Some(CallLogEntry::summary(&summary));
        }
        let mut meter = Meter::new(&attempt.route.pricing);
        meter.settle(self.usage());
        meter.write_into(entry);
        if let Some(permit) = self.permit.take() {
            settle(permit, &attempt.entry);
        }
        self.recorder.ended(attempt, now);
    }
}

impl Stream for GatewayStream {
    type Item = Result<ChatChunk, ProviderError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.ended {
                if this.include_usage && this.attempt.is_some() {
                    let usage = this.usage();
                    this.finish(None);
                    let (id, created) = this.last.clone();
                    return Poll::Ready(Some(Ok(ChatChunk {
                        id,
                        created,
                        choices: Vec::new(),
                        usage: Some(usage),
                    })));
                }
                this.finish(None);
                return Poll::Ready(None);
            }
            let next = match this.pending.take() {
                Some(chunk) => Poll::Ready(Some(Ok(chunk))),
                None => this.upstream.as_mut().poll_next(cx),
            };
            match next {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => this.ended = true,
                Poll::Ready(Some(Err(error))) => {
                    if let Some(attempt) = this.attempt.as_mut() {
                        attempt.settle(Err(&error), this.clock.now());
                    }
                    let code = upstream_failure(&error).code();
                    this.finish(Some((code, error.to_string())));
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Ready(Some(Ok(mut chunk))) => {
                    this.observe(&mut chunk);
                    // A chunk that only carried usage has nothing left for the client.
                    if !chunk.choices.is_empty() {
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                }
            }
        }
    }
}

impl Drop for GatewayStream {
    fn drop(&mut self) {
        // The client went away before the end: the upstream request is cancelled with
        // `upstream` (dropped with this), and what was streamed is logged and counted.
        self.finish(Some((CLIENT_CLOSED, "the client closed the stream".to_owned())));
    }
}
