//! Conversations kept on the server: a user's chat history over any model, each turn sent
//! through the gateway's own use cases (the same routing, checks, call log and usage as `/v1`).
//! `conversation.rs` and `message.rs` hold the types and their rules, `ports.rs` the store,
//! `service.rs` the owner's use cases, `turn.rs` a turn (send, regenerate), `pending.rs` an
//! answer to store, `stream.rs` a streamed answer, `context.rs` how a turn's context is
//! assembled, `title.rs` the generated title, `export.rs` the Markdown export; uploads:
//! `file.rs` (kinds, names, limits), `files.rs` (their use cases), `attachments.rs` (files
//! loaded into a turn's context).

mod attachments;
pub mod context;
pub mod conversation;
pub mod export;
pub mod file;
pub mod files;
pub mod message;
mod pending;
pub mod ports;
pub mod service;
pub mod stream;
mod title;
pub mod turn;

pub use conversation::{
    Conversation, ConversationFilter, ConversationId, ConversationInput, ConversationPatch, ConversationSpec,
    NewConversation,
};
pub use file::{FileId, FileLimits, MediaType, StoredFile};
pub use files::{FilePorts, Files};
pub use message::{
    Loaded, Message, MessageId, MessageInput, MessageRole, MessageStatus, NewMessage, Order, Part, Question,
};
pub use ports::{BlobError, BlobStore, ByteStream, ConversationRepo, FileRepo, ReviseError, Spawner, Task};
pub use service::{ConversationPorts, ConversationSettings, Conversations};
pub use stream::TurnStream;
pub use turn::{Exchange, OneShot, Reply, StreamedReply, TurnOptions};
