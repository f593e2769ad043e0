//! Switchyard's supplier clients: one module per wire protocol, each translating the
//! gateway's requests to its supplier's format and the answers back. [`Providers`] holds one of
//! each over one pooled HTTP client and dispatches on the call's protocol, so the set of
//! protocols is visible in one place. Wire types stay private to their module.

mod azure;
mod errors;
mod http;
mod openai;
mod tokenizer;

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
            azure: azure::AzureOpenAi::new(http),
        }
    }

    /// The client of a protocol, or why there is none yet.
    fn client(&self, protocol: Protocol) -> Result<&dyn ChatProvider, ProviderError> {
        match protocol {
            Protocol::OpenAi => Ok(&self.openai),
            Protocol::AzureOpenAi => Ok(&self.azure),
            Protocol::Anthropic | Protocol::Gemini | Protocol::Replicate => Err(ProviderError::Unsupported {
                message: format!("the {} protocol is not available in this build", protocol.as_str()),
            }),
        }
    }
}

#[async_trait]
impl ChatProvider for Providers {
    async fn complete(&self, call: &UpstreamCall, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        self.client(call.protocol)?.complete(call, request).await
    }

    async fn stream(&self, call: &UpstreamCall, request: &ChatRequest) -> Result<ChatStream, ProviderError> {
        self.client(call.protocol)?.stream(call, request).await
    }

    async fn embed(&self, call: &UpstreamCall, request: &EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        self.client(call.protocol)?.embed(call, request).await
    }
}
