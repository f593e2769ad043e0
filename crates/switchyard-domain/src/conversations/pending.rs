//! An answer still to be stored: what it was when it ended, and the turn's lock it holds until
//! it is stored (with its conversation's counters, in one transaction).

use std::sync::Arc;

use futures_util::lock::OwnedMutexGuard;

use crate::conversations::conversation::ConversationId;
use crate::conversations::message::{
    MAX_ERROR_CHARS, Message, MessageId, MessageRole, MessageStatus, NewMessage, Part,
};
use crate::conversations::ports::{ConversationRepo, Spawner};
use crate::conversations::title::TitleJob;
use crate::gateway::ports::Tokenizer;
use crate::kernel::error::DomainError;
use crate::kernel::ports::Clock;

/// What an answer was when it ended, to be stored.
#[derive(Debug, Clone, Default)]
pub(crate) struct Answer {
    pub text: String,
    pub reasoning: String,
    /// The supplier's completion tokens, when known (else they are counted).
    pub completion_tokens: Option<i64>,
    pub model: Option<String>,
    pub supplier: Option<String>,
    pub error: Option<String>,
    pub finish_reason: Option<String>,
}

/// An answer still to be stored, holding its conversation's turn until it is.
#[derive(Debug)]
pub(crate) struct Pending {
    pub repo: Arc<dyn ConversationRepo>,
    pub clock: Arc<dyn Clock>,
    pub tokenizer: Arc<dyn Tokenizer>,
    pub spawner: Arc<dyn Spawner>,
    pub conversation_id: ConversationId,
    pub answer_id: MessageId,
    pub request_id: String,
    pub supersedes: Option<MessageId>,
    /// Titles the conversation once the answer is stored complete.
    pub title: Option<TitleJob>,
    pub turn: OwnedMutexGuard<()>,
}

impl Pending {
    pub(crate) async fn store(self, mut answer: Answer, status: MessageStatus) -> Result<Message, DomainError> {
        let now = self.clock.now();
        // A model's NUL character would make PostgreSQL refuse the whole answer.
        for text in [&mut answer.text, &mut answer.reasoning] {
            if text.contains('\0') {
                *text = text.replace('\0', "");
            }
        }
        answer.error = answer.error.map(|error| error.replace('\0', ""));
        let tokens = answer
            .completion_tokens
            .unwrap_or_else(|| self.tokenizer.count(&answer.text) + self.tokenizer.count(&answer.reasoning));
        let parts = if answer.text.is_empty() {
            Vec::new()
        } else {
            vec![Part::Text(answer.text)]
        };
        let message = Message {
            id: self.answer_id,
            conversation_id: self.conversation_id,
            role: MessageRole::Assistant,
            parts,
            reasoning: Some(answer.reasoning).filter(|reasoning| !reasoning.is_empty()),
            tokens,
            model: answer.model,
            supplier: answer.supplier,
            status,
            error: answer.error.map(|error| error.chars().take(MAX_ERROR_CHARS).collect()),
            finish_reason: answer.finish_reason,
            request_id: Some(self.request_id.clone()).filter(|id| !id.is_empty()),
            superseded: false,
            deleted_at: None,
            created_at: now,
        };
        let stored = self
            .repo
            .add_message(
                &NewMessage {
                    message,
                    supersedes: self.supersedes,
                },
                now,
            )
            .await?;
        drop(self.turn);
        if status == MessageStatus::Complete
            && let Some(job) = self.title
        {
            self.spawner.spawn(Box::pin(job.run()));
        }
        Ok(stored)
    }
}

/// What a failed call tells the user (never an internal detail).
pub(crate) fn failure_summary(error: &DomainError) -> String {
    match error {
        DomainError::Upstream { message, .. } => message.clone(),
        DomainError::RateLimited { .. } => "the supplier is rate limiting; try again later".to_owned(),
        DomainError::Unavailable { dependency, .. } => format!("{dependency} is unavailable"),
        DomainError::Internal(_) => "the answer failed".to_owned(),
        other => other.to_string(),
    }
}
