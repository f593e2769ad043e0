//! Azure OpenAI: OpenAI's wire format at a deployment's URL
//! (`{base}/openai/deployments/{deployment}/…?api-version=…`), the key in an `api-key` header.
//! Content-filter results in answers and the filter notice that opens a stream are tolerated
//! (they carry no choices).

use async_trait::async_trait;
use secrecy::ExposeSecret;
use switchyard_domain::gateway::{
    ChatProvider, ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, EmbeddingResponse, ProviderError,
    UpstreamCall,
};

use crate::errors::openai_error;
use crate::http::{Http, chunks, events, read_json};
use crate::openai::{ChunkDecoder, WireEmbeddings, WireResponse, chat_body, embedding_body};

/// The API version used when the model names none.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

#[derive(Debug, Clone)]
pub struct AzureOpenAi {
    http: std::sync::Arc<Http>,
}

impl AzureOpenAi {
    pub fn new(http: std::sync::Arc<Http>) -> Self {
        Self { http }
    }
}

fn url(call: &UpstreamCall, operation: &str) -> String {
    let version = call.api_version.as_deref().unwrap_or(DEFAULT_API_VERSION);
    format!(
        "{}/openai/deployments/{}/{operation}?api-version={version}",
        call.base_url.trim_end_matches('/'),
        call.upstream_model
    )
}

fn keyed(request: reqwest::RequestBuilder, call: &UpstreamCall) -> reqwest::RequestBuilder {
    match &call.api_key {
        Some(key) => request.header("api-key", key.expose_secret()),
        None => request,
    }
}

#[async_trait]
impl ChatProvider for AzureOpenAi {
    async fn complete(&self, call: &UpstreamCall, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let body = chat_body(request, &call.upstream_model, false);
        let url = url(call, "chat/completions");
        let (response, started) = self
            .http
            .send(call, openai_error, |client| keyed(client.post(url), call).json(&body))
            .await?;
        let wire: WireResponse = read_json(response, started, call.timeouts).await?;
        Ok(wire.into_domain())
    }

    async fn stream(&self, call: &UpstreamCall, request: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let body = chat_body(request, &call.upstream_model, true);
        let url = url(call, "chat/completions");
        let (response, started) = self
            .http
            .send(call, openai_error, |client| {
                keyed(client.post(url), call)
                    .header("accept", "text/event-stream")
                    .json(&body)
            })
            .await?;
        let decoder = ChunkDecoder {
            key: call.api_key.clone(),
        };
        Ok(chunks(events(response, started, call.timeouts), decoder))
    }

    async fn embed(&self, call: &UpstreamCall, request: &EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        let body = embedding_body(request, &call.upstream_model);
        let url = url(call, "embeddings");
        let (response, started) = self
            .http
            .send(call, openai_error, |client| keyed(client.post(url), call).json(&body))
            .await?;
        let wire: WireEmbeddings = read_json(response, started, call.timeouts).await?;
        wire.into_domain()
    }
}
