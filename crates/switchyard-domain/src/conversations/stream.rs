//! A turn's streamed answer: the gateway's chunks pass through as they arrive while the
//! answer's text is kept; when the stream ends the answer is stored `complete` (before the
//! stream says it is over, so a client that saw the end finds it stored), when the supplier
//! fails it is stored `failed` with what had arrived, and when the client goes away it is
//! stored `incomplete` in the background.

use std::future::ready;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::StreamExt;

use crate::conversations::message::MessageStatus;
use crate::conversations::pending::{Answer, Pending, failure_summary};
use crate::conversations::ports::{Spawner, Task};
use crate::gateway::attempt::upstream_failure;
use crate::gateway::chat::ChatChunk;
use crate::gateway::ports::ProviderError;
use crate::gateway::stream::GatewayStream;

/// The streamed answer of a turn.
pub struct TurnStream {
    /// `None` once the gateway's stream has ended.
    inner: Option<GatewayStream>,
    /// `None` once the answer is being stored.
    pending: Option<Pending>,
    answer: Answer,
    /// The answer being stored, and the supplier's failure to pass on after it.
    storing: Option<(Task, Option<ProviderError>)>,
    spawner: Arc<dyn Spawner>,
}

impl std::fmt::Debug for TurnStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnStream")
            .field("streaming", &self.inner.is_some())
            .field("storing", &self.storing.is_some())
            .finish_non_exhaustive()
    }
}

impl TurnStream {
    pub(crate) fn new(inner: GatewayStream, pending: Pending) -> Self {
        let served = inner.served();
        let answer = Answer {
            model: Some(served.model.clone()),
            supplier: Some(served.supplier.clone()),
            ..Answer::default()
        };
        Self {
            spawner: pending.spawner.clone(),
            inner: Some(inner),
            pending: Some(pending),
            answer,
            storing: None,
        }
    }

    /// What served the answer (for the `x-switchyard-*` headers).
    pub fn served(&self) -> Option<&crate::gateway::attempt::ServedBy> {
        self.inner.as_ref().map(GatewayStream::served)
    }

    fn observe(&mut self, chunk: &ChatChunk) {
        if let Some(usage) = &chunk.usage {
            self.answer.completion_tokens = Some(usage.completion_tokens);
        }
        for choice in chunk.choices.iter().filter(|choice| choice.index == 0) {
            if let Some(text) = &choice.delta.content {
                self.answer.text.push_str(text);
            }
            if let Some(reasoning) = &choice.delta.reasoning_content {
                self.answer.reasoning.push_str(reasoning);
            }
            if let Some(reason) = choice.finish_reason {
                self.answer.finish_reason = Some(reason.as_str().to_owned());
            }
        }
    }

    /// The task that stores the answer as it is now.
    fn store(&mut self, status: MessageStatus) -> Option<Task> {
        let mut pending = self.pending.take()?;
        let answer = std::mem::take(&mut self.answer);
        if let Some(job) = pending.title.as_mut() {
            job.answer = answer.text.clone();
        }
        Some(Box::pin(async move { pending.store(answer, status).await.map(|_| ()) }))
    }
}

impl Stream for TurnStream {
    type Item = Result<ChatChunk, ProviderError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some((task, _)) = this.storing.as_mut() {
                let stored = match task.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(stored) => stored,
                };
                let failure = this.storing.take().and_then(|(_, failure)| failure);
                if let Err(error) = stored {
                    // Reported (logged) by the spawner, as a background task's failure is.
                    this.spawner.spawn(Box::pin(ready(Err(error))));
                }
                return Poll::Ready(failure.map(Err));
            }
            let Some(inner) = this.inner.as_mut() else {
                return Poll::Ready(None);
            };
            match inner.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    this.observe(&chunk);
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Poll::Ready(Some(Err(error))) => {
                    this.inner = None;
                    let failure = upstream_failure(&error).into_domain(&error, false);
                    this.answer.error = Some(failure_summary(&failure));
                    match this.store(MessageStatus::Failed) {
                        Some(task) => this.storing = Some((task, Some(error))),
                        None => return Poll::Ready(Some(Err(error))),
                    }
                }
                Poll::Ready(None) => {
                    this.inner = None;
                    match this.store(MessageStatus::Complete) {
                        Some(task) => this.storing = Some((task, None)),
                        None => return Poll::Ready(None),
                    }
                }
            }
        }
    }
}

impl Drop for TurnStream {
    fn drop(&mut self) {
        // The gateway's stream is dropped with this: the upstream call is cancelled and logged.
        if let Some((task, _)) = self.storing.take() {
            // Being stored already: the storing goes on in the background.
            self.spawner.spawn(task);
        } else if let Some(task) = self.store(MessageStatus::Incomplete) {
            self.spawner.spawn(task);
        }
    }
}
