//! The conversations' ports: their store, and a way to finish work after the request that
//! started it has gone (an answer whose client went away is still stored).

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::conversations::conversation::{
    Conversation, ConversationFilter, ConversationId, ConversationSpec, NewConversation,
};
use crate::conversations::file::{FileId, StoredFile};
use crate::conversations::message::{Message, MessageId, NewMessage, Order};
use crate::kernel::error::{DomainError, StoreError};
use crate::kernel::ids::UserId;
use crate::kernel::page::{Page, PageRequest};
use crate::kernel::patch::Revise;

/// Why a conversation's revision was not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviseError {
    /// The domain refused the revised fields (a merge patch that breaks a rule).
    #[error(transparent)]
    Rejected(DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ReviseError> for DomainError {
    fn from(error: ReviseError) -> Self {
        match error {
            ReviseError::Rejected(error) => error,
            ReviseError::Store(error) => error.into(),
        }
    }
}

/// Conversations and their messages. Every method but `create` and `context_page` is scoped
/// to the owner: another user's conversation is `None`, as a missing one is.
#[async_trait]
pub trait ConversationRepo: Send + Sync + std::fmt::Debug {
    async fn create(&self, conversation: &NewConversation) -> Result<Conversation, StoreError>;
    /// Newest first by `(created_at, id)`.
    async fn list(
        &self,
        user: UserId,
        filter: &ConversationFilter,
        page: PageRequest,
    ) -> Result<Page<Conversation>, StoreError>;
    /// Soft-deleted ones included.
    async fn get(&self, user: UserId, id: ConversationId) -> Result<Option<Conversation>, StoreError>;
    /// Locks the live conversation, revises its fields and writes them, in one transaction.
    async fn revise(
        &self,
        user: UserId,
        id: ConversationId,
        revise: Revise<'_, ConversationSpec>,
        now: DateTime<Utc>,
    ) -> Result<Option<Conversation>, ReviseError>;
    /// Sets a live conversation's title only while it has none (a generated title never
    /// overwrites one the user gave meanwhile); says whether it did.
    async fn set_title_if_none(&self, id: ConversationId, title: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;
    async fn set_archived(
        &self,
        user: UserId,
        id: ConversationId,
        archived: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<Conversation>, StoreError>;
    /// Soft-deletes (`Some(now)`) or restores (`None`).
    async fn set_deleted(
        &self,
        user: UserId,
        id: ConversationId,
        deleted_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Option<Conversation>, StoreError>;
    /// Removes the conversation and its messages for good, and the records of the files its
    /// messages held that no other message holds; `None` when there was no conversation, else
    /// the files released (their bytes are the caller's to delete).
    async fn purge(&self, user: UserId, id: ConversationId) -> Result<Option<Vec<StoredFile>>, StoreError>;
    /// The conversation's messages that are not deleted, by `(created_at, id)` in `order`.
    async fn messages(
        &self,
        user: UserId,
        id: ConversationId,
        order: Order,
        page: PageRequest,
    ) -> Result<Option<Page<Message>>, StoreError>;
    /// The user's messages across their live conversations, newest first (the one-shot chat's
    /// history).
    async fn recent(&self, user: UserId, page: PageRequest) -> Result<Page<Message>, StoreError>;
    /// One page of the messages a context is made from ([`Message::in_context`]), newest first.
    async fn context_page(&self, id: ConversationId, page: PageRequest) -> Result<Page<Message>, StoreError>;
    /// The conversation's newest message that is not deleted and not superseded.
    async fn last_message(&self, id: ConversationId) -> Result<Option<Message>, StoreError>;
    /// Writes the message and adds it to its conversation's counters (and `updated_at`), in
    /// one transaction, marking the answer it replaces superseded (kept, and still counted).
    async fn add_message(&self, message: &NewMessage, now: DateTime<Utc>) -> Result<Message, StoreError>;
    /// Soft-deletes one message and takes it off the counters; says whether there was one.
    async fn delete_message(
        &self,
        user: UserId,
        id: ConversationId,
        message: MessageId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// Work that must finish even when the request that started it has gone.
pub type Task = Pin<Box<dyn Future<Output = Result<(), DomainError>> + Send + 'static>>;

/// Runs a [`Task`] in the background and reports (logs) its failure.
pub trait Spawner: Send + Sync + std::fmt::Debug {
    fn spawn(&self, task: Task);
}

/// A body of bytes arriving in pieces.
pub type ByteStream = Pin<Box<dyn futures_core::Stream<Item = Result<Vec<u8>, BlobError>> + Send>>;

/// Why object storage failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error("no such object")]
    NotFound,
    /// The body went past the limit while it was read (the upload is abandoned).
    #[error("the content is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The body's own source failed (the client's upload broke off).
    #[error("the upload broke off: {0}")]
    Interrupted(String),
    #[error("object storage is unavailable: {0}")]
    Unavailable(String),
}

impl From<BlobError> for DomainError {
    fn from(error: BlobError) -> Self {
        match error {
            BlobError::NotFound => DomainError::NotFound { entity: "file content" },
            BlobError::TooLarge { limit } => DomainError::TooLarge {
                message: format!("the file is larger than the limit of {limit} bytes"),
            },
            BlobError::Interrupted(message) => DomainError::validation("file", "upload_interrupted", message),
            BlobError::Unavailable(message) => DomainError::Unavailable {
                dependency: "object storage",
                message,
            },
        }
    }
}

/// Where files' bytes live: the local file system or S3-compatible object storage.
#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Writes the body under `key` as it arrives (never holding it whole); on any failure
    /// nothing is left under `key`.
    async fn put(&self, key: &str, body: ByteStream) -> Result<(), BlobError>;
    async fn get(&self, key: &str) -> Result<ByteStream, BlobError>;
    /// Removing a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
}

/// Uploaded files' records. Scoped to the owner: another user's file is `None`.
#[async_trait]
pub trait FileRepo: Send + Sync + std::fmt::Debug {
    async fn create(&self, file: &StoredFile) -> Result<(), StoreError>;
    /// The user's files: how many, and their bytes together.
    async fn usage(&self, user: UserId) -> Result<(u64, u64), StoreError>;
    /// Newest first.
    async fn list(&self, user: UserId, page: PageRequest) -> Result<Page<StoredFile>, StoreError>;
    async fn get(&self, user: UserId, id: FileId) -> Result<Option<StoredFile>, StoreError>;
    /// Those of `ids` that are the user's.
    async fn get_many(&self, user: UserId, ids: &[FileId]) -> Result<Vec<StoredFile>, StoreError>;
    /// Removes the record (and its links to messages); returns what it was.
    async fn delete(&self, user: UserId, id: FileId) -> Result<Option<StoredFile>, StoreError>;
}
