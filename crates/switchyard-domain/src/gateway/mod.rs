//! The gateway: the OpenAI-compatible entry points' use cases over every supplier protocol.
//! Requests and answers in Switchyard's own terms (`chat.rs`, `embedding.rs`), the supplier
//! port and its errors (`ports.rs`), the in-memory routing snapshot (`routing.rs`), usage and
//! its cost (`usage.rs`, `metering.rs`), streamed answers (`stream.rs`) and the call log
//! (`call_log.rs`) and its browsing (`logs.rs`). Reads the catalog; nothing depends on the gateway.

pub mod attempt;
pub mod byok;
pub mod call_log;
pub mod chat;
pub mod embedding;
#[cfg(test)]
mod fakes;
pub mod health;
pub mod logs;
pub mod metering;
pub mod model_configs;
pub mod pool;
pub mod ports;
mod recorder;
pub mod requirements;
pub mod routing;
pub mod service;
pub mod stream;
#[cfg(test)]
mod tests;
pub mod usage;

pub use call_log::{CallLogEntry, CallLogFilter, Endpoint};
pub use chat::{
    AssistantMessage, ChatChunk, ChatMessage, ChatRequest, ChatResponse, ChatRole, Choice, ChunkChoice, ContentPart,
    Delta, FinishReason, ImageSource, MessageContent, ResponseFormat, Tool, ToolCall, ToolCallDelta, ToolChoice,
};
pub use embedding::{EmbeddingRequest, EmbeddingResponse};
pub use health::{Condition, HealthSettings, HealthView, KeyFlush};
pub use logs::CallLogs;
pub use pool::Strategy;
pub use ports::{
    CallLogCounts, CallLogReader, CallLogSink, CallObserver, ChatProvider, ChatStream, FinishedCall, ProviderError,
    RoutingRows, RoutingSource, StoredUpstreamKey, TimeoutPhase, Timeouts, Tokenizer, UpstreamCall,
};
pub use routing::{KeySelection, RoutableModel, RouteTarget, RoutingSnapshot};
pub use service::{
    CallContext, Caller, Gateway, GatewayPorts, GatewaySettings, ProbeReport, RetrySettings, Served, ServedBy,
};
pub use stream::GatewayStream;
pub use usage::{Usage, cost_nanos};
