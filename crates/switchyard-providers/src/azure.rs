//! Azure OpenAI: OpenAI's wire format at a deployment's URL
//! (`{base}/openai/deployments/{deployment}/…?api-version=…`), the key in an `api-key` header.
//! Content-filter results in answers and the filter notice that opens a stream are tolerated
//! (they carry no choices); the rest is the OpenAI client's.

use secrecy::ExposeSecret;
use switchyard_domain::gateway::UpstreamCall;

use crate::openai::Dialect;

/// The API version used when the model names none.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// Azure's layout.
pub const DIALECT: Dialect = Dialect { url, authorize: keyed };

/// The deployment (the model's upstream name) and the model's `api_version`.
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
