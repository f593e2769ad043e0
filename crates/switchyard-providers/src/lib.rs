//! Switchyard's supplier clients: one module per wire protocol, each translating the
//! gateway's requests to its supplier's format and the answers back. [`Providers`] holds one of
//! each over one pooled HTTP client and dispatches on the call's protocol, so the set of
//! protocols is visible in one place. Wire types stay private to their module.

mod anthropic;
mod azure;
mod errors;
mod gemini;
mod http;
mod openai;
mod replicate;
mod tokenizer;
mod translate;

use std::sync::Arc;

use async_trait::async_trait;
use switchyard_domain::catalog::Protocol;
use switchyard_domain::gateway::{
    ChatProvider, ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, EmbeddingResponse, ProviderError,
    UpstreamCall,
};

pub use tokenizer::Tiktoken;

/// Every protocol's client.
#[derive(Debug, Clone)]
pub struct Providers {
    openai: openai::OpenAi,
    azure: azure::AzureOpenAi,
    anthropic: anthropic::Anthropic,
    gemini: gemini::Gemini,
    replicate: replicate::Replicate,
}

impl Default for Providers {
    fn default() -> Self {
        Self::new()
    }
}

impl Providers {
    pub fn new() -> Self {
        let http = Arc::new(http::Http::default());
        Self {
            openai: openai::OpenAi::new(http.clone()),
            azure: azure::AzureOpenAi::new(http.clone()),
            anthropic: anthropic::Anthropic::new(http.clone()),
            gemini: gemini::Gemini::new(http.clone()),
            replicate: replicate::Replicate::new(http),
        }
    }

    /// The client of a protocol.
    fn client(&self, protocol: Protocol) -> &dyn ChatProvider {
        match protocol {
            Protocol::OpenAi => &self.openai,
            Protocol::AzureOpenAi => &self.azure,
            Protocol::Anthropic => &self.anthropic,
            Protocol::Gemini => &self.gemini,
            Protocol::Replicate => &self.replicate,
        }
    }
}

#[async_trait]
impl ChatProvider for Providers {
    async fn complete(&self, call: &UpstreamCall, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        self.client(call.protocol).complete(call, request).await
    }

    async fn stream(&self, call: &UpstreamCall, request: &ChatRequest) -> Result<ChatStream, ProviderError> {
        self.client(call.protocol).stream(call, request).await
    }

    async fn embed(&self, call: &UpstreamCall, request: &EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        self.client(call.protocol).embed(call, request).await
    }
}
