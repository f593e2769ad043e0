//! The conversations' use cases: a user's conversations and their messages (owner only: another
//! user's conversation is as missing as one that never was), and exports. Turns (sending a
//! message, regenerating an answer) are in `turn.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use futures_util::lock::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::conversations::conversation::{
    Conversation, ConversationFilter, ConversationId, ConversationPatch, ConversationSpec, NewConversation,
};
use crate::conversations::files::Files;
use crate::conversations::message::{Message, MessageId, Order};
use crate::conversations::ports::{ConversationRepo, Spawner};
use crate::gateway::ports::Tokenizer;
use crate::gateway::service::Gateway;
use crate::kernel::error::{ConflictKind, DomainError};
use crate::kernel::page::{Page, PageRequest};
use crate::kernel::patch::replace;
use crate::kernel::ports::Clock;
use crate::kernel::principal::Principal;

/// Settings from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSettings {
    /// The small model that titles a conversation after its first exchange; `None` = off.
    pub title_model: Option<String>,
    /// The window assumed for a model whose catalog entry gives none.
    pub default_context_window: i64,
    /// The reply's budget for a model whose catalog entry gives no most output tokens.
    pub default_reply_tokens: i64,
}

impl Default for ConversationSettings {
    fn default() -> Self {
        Self {
            title_model: None,
            default_context_window: 16_384,
            default_reply_tokens: 1024,
        }
    }
}

/// What the conversations' use cases need.
#[derive(Debug, Clone)]
pub struct ConversationPorts {
    pub repo: Arc<dyn ConversationRepo>,
    pub gateway: Arc<Gateway>,
    pub tokenizer: Arc<dyn Tokenizer>,
    pub clock: Arc<dyn Clock>,
    pub spawner: Arc<dyn Spawner>,
    /// Uploads, for the files messages hold.
    pub files: Arc<Files>,
}

/// One lock per conversation with a turn in flight, so two sends into it are serialised: the
/// second waits for the first's answer to be stored and then sees it in its context.
#[derive(Debug, Default)]
pub(crate) struct TurnLocks(Mutex<HashMap<ConversationId, Weak<AsyncMutex<()>>>>);

impl TurnLocks {
    /// Entries kept before the map is swept of locks nobody holds.
    const SWEEP_AT: usize = 1024;

    pub(crate) async fn lock(&self, id: ConversationId) -> OwnedMutexGuard<()> {
        let mutex = {
            let mut locks = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if locks.len() >= Self::SWEEP_AT {
                locks.retain(|_, lock| lock.strong_count() > 0);
            }
            match locks.get(&id).and_then(Weak::upgrade) {
                Some(mutex) => mutex,
                None => {
                    let mutex = Arc::new(AsyncMutex::new(()));
                    locks.insert(id, Arc::downgrade(&mutex));
                    mutex
                }
            }
        };
        mutex.lock_owned().await
    }
}

/// The conversations' use cases.
#[derive(Debug)]
pub struct Conversations {
    pub(crate) ports: ConversationPorts,
    pub(crate) settings: ConversationSettings,
    pub(crate) turns: TurnLocks,
}

fn not_found() -> DomainError {
    DomainError::NotFound { entity: "conversation" }
}

pub(crate) fn deleted() -> DomainError {
    DomainError::Conflict {
        kind: ConflictKind::ConversationDeleted,
        message: "the conversation is deleted; restore it first".to_owned(),
    }
}

impl Conversations {
    pub fn new(ports: ConversationPorts, settings: ConversationSettings) -> Self {
        Self {
            ports,
            settings,
            turns: TurnLocks::default(),
        }
    }

    pub async fn create(&self, user: &Principal, spec: ConversationSpec) -> Result<Conversation, DomainError> {
        let conversation = NewConversation {
            id: ConversationId::new(),
            user_id: user.user_id(),
            spec,
            now: self.ports.clock.now(),
        };
        Ok(self.ports.repo.create(&conversation).await?)
    }

    pub async fn list(
        &self,
        user: &Principal,
        filter: &ConversationFilter,
        page: PageRequest,
    ) -> Result<Page<Conversation>, DomainError> {
        Ok(self.ports.repo.list(user.user_id(), filter, page).await?)
    }

    /// One of the caller's conversations, soft-deleted ones included.
    pub async fn get(&self, user: &Principal, id: ConversationId) -> Result<Conversation, DomainError> {
        self.ports.repo.get(user.user_id(), id).await?.ok_or_else(not_found)
    }

    /// Patches a live conversation.
    pub async fn patch(
        &self,
        user: &Principal,
        id: ConversationId,
        patch: ConversationPatch,
    ) -> Result<Conversation, DomainError> {
        self.live(user, id).await?;
        let revise = move |current: &ConversationSpec| patch.apply(current);
        self.ports
            .repo
            .revise(user.user_id(), id, &revise, self.ports.clock.now())
            .await?
            .ok_or_else(not_found)
    }

    /// Replaces a live conversation's writable fields.
    pub async fn replace(
        &self,
        user: &Principal,
        id: ConversationId,
        spec: ConversationSpec,
    ) -> Result<Conversation, DomainError> {
        self.live(user, id).await?;
        let revise = replace(spec);
        self.ports
            .repo
            .revise(user.user_id(), id, &revise, self.ports.clock.now())
            .await?
            .ok_or_else(not_found)
    }

    pub async fn set_archived(
        &self,
        user: &Principal,
        id: ConversationId,
        archived: bool,
    ) -> Result<Conversation, DomainError> {
        self.live(user, id).await?;
        self.ports
            .repo
            .set_archived(user.user_id(), id, archived, self.ports.clock.now())
            .await?
            .ok_or_else(not_found)
    }

    /// Soft-deletes (the conversation is kept, listed with `deleted=true`, and can be restored).
    pub async fn delete(&self, user: &Principal, id: ConversationId) -> Result<Conversation, DomainError> {
        let now = self.ports.clock.now();
        let conversation = self.get(user, id).await?;
        if conversation.is_deleted() {
            return Ok(conversation);
        }
        self.ports
            .repo
            .set_deleted(user.user_id(), id, Some(now), now)
            .await?
            .ok_or_else(not_found)
    }

    pub async fn restore(&self, user: &Principal, id: ConversationId) -> Result<Conversation, DomainError> {
        let now = self.ports.clock.now();
        self.ports
            .repo
            .set_deleted(user.user_id(), id, None, now)
            .await?
            .ok_or_else(not_found)
    }

    /// Removes the conversation and its messages for good, and the files they held that no
    /// other message holds. Waits for a turn in flight, so its answer is not written into a
    /// conversation that is gone.
    pub async fn purge(&self, user: &Principal, id: ConversationId) -> Result<(), DomainError> {
        self.get(user, id).await?;
        let _turn = self.turns.lock(id).await;
        let released = self.ports.repo.purge(user.user_id(), id).await?.ok_or_else(not_found)?;
        self.ports.files.release(&released).await;
        Ok(())
    }

    pub async fn messages(
        &self,
        user: &Principal,
        id: ConversationId,
        order: Order,
        page: PageRequest,
    ) -> Result<Page<Message>, DomainError> {
        self.ports
            .repo
            .messages(user.user_id(), id, order, page)
            .await?
            .ok_or_else(not_found)
    }

    /// Soft-deletes one message of a live conversation: it leaves the listing, later contexts
    /// and the counters.
    pub async fn delete_message(
        &self,
        user: &Principal,
        id: ConversationId,
        message: MessageId,
    ) -> Result<(), DomainError> {
        self.live(user, id).await?;
        let _turn = self.turns.lock(id).await;
        let now = self.ports.clock.now();
        if !self.ports.repo.delete_message(user.user_id(), id, message, now).await? {
            return Err(DomainError::NotFound { entity: "message" });
        }
        Ok(())
    }

    /// The conversation and all its messages that are not deleted, oldest first.
    pub async fn export(
        &self,
        user: &Principal,
        id: ConversationId,
    ) -> Result<(Conversation, Vec<Message>), DomainError> {
        let conversation = self.get(user, id).await?;
        let mut messages = Vec::with_capacity(usize::try_from(conversation.message_count).unwrap_or(0));
        let mut page = PageRequest::new(Some(PageRequest::MAX_LIMIT), None)?;
        loop {
            let read = self
                .ports
                .repo
                .messages(user.user_id(), id, Order::Ascending, page)
                .await?
                .ok_or_else(not_found)?;
            messages.extend(read.items);
            match read.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
        Ok((conversation, messages))
    }

    /// The caller's live conversation, or why not.
    pub(crate) async fn live(&self, user: &Principal, id: ConversationId) -> Result<Conversation, DomainError> {
        let conversation = self.get(user, id).await?;
        if conversation.is_deleted() {
            return Err(deleted());
        }
        Ok(conversation)
    }
}
