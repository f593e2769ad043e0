//! Probes: the cheapest request each protocol has that needs a valid key (its model list, or
//! Replicate's account), so a key out of rotation can be tried without spending tokens.

use secrecy::ExposeSecret;
use switchyard_domain::catalog::Protocol;
use switchyard_domain::gateway::{ProviderError, UpstreamCall};

use crate::errors::{ErrorReader, google_error, openai_error, replicate_error};
use crate::http::Http;

/// Azure's `api-version` of a probe when the model names none.
const AZURE_API_VERSION: &str = "2024-10-21";
/// Anthropic's API version of a probe.
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Sends the probe of `call`'s key; `Ok` when the supplier accepts it.
pub async fn probe(http: &Http, call: &UpstreamCall) -> Result<(), ProviderError> {
    let base = call.base_url.trim_end_matches('/');
    let key = call.api_key.as_ref().map(|key| key.expose_secret().to_owned());
    let (url, reader): (String, ErrorReader) = match call.protocol {
        Protocol::OpenAi | Protocol::Anthropic => (format!("{base}/models"), openai_error),
        Protocol::AzureOpenAi => (
            format!(
                "{base}/openai/models?api-version={}",
                call.api_version.as_deref().unwrap_or(AZURE_API_VERSION)
            ),
            openai_error,
        ),
        Protocol::Gemini => (format!("{base}/models"), google_error),
        Protocol::Replicate => (format!("{base}/account"), replicate_error),
    };
    let (response, _) = http
        .send(call, reader, |client| {
            let request = client.get(&url);
            match (call.protocol, key.as_deref()) {
                (_, None) => request,
                (Protocol::OpenAi | Protocol::Replicate, Some(key)) => request.bearer_auth(key),
                (Protocol::AzureOpenAi, Some(key)) => request.header("api-key", key),
                (Protocol::Anthropic, Some(key)) => request
                    .header("x-api-key", key)
                    .header("anthropic-version", ANTHROPIC_VERSION),
                (Protocol::Gemini, Some(key)) => request.header("x-goog-api-key", key),
            }
        })
        .await?;
    // The body is not needed; dropping the response returns the connection to the pool once read.
    drop(response);
    Ok(())
}
