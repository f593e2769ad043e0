//! Switchyard's supplier clients: one module per wire protocol, each translating the
//! gateway's requests to its supplier's format and the answers back. [`Providers`] holds one of
//! each over one pooled HTTP client and dispatches on the call's protocol, so the set of
//! protocols is visible in one place. Wire types stay private to their module.

mod anthropic;
mod azure;
mod errors;
mod gemini;
mod guard;
mod http;
mod openai;
mod probe;
mod replicate;
mod tokenizer;
mod translate;

use std::sync::Arc;

use async_trait::async_trait;
use switchyard_domain::catalog::Protocol;
use switchyard_domain::gateway::byok::{EndpointPolicy, HostResolver};
use switchyard_domain::gateway::{
    ChatProvider, ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, EmbeddingResponse, ProviderError,
    UpstreamCall,
};

pub use guard::SystemResolver;
pub use tokenizer::Tiktoken;

/// Every protocol's client.
#[derive(Debug, Clone)]
pub struct Providers {
    http: Arc<http::Http>,
    openai: openai::OpenAi,
    azure: openai::OpenAi,
    anthropic: anthropic::Anthropic,
    gemini: gemini::Gemini,
    replicate: replicate::Replicate,
}

impl Default for Providers {
    fn default() -> Self {
        Self::new(Arc::new(SystemResolver), EndpointPolicy::default())
    }
}

impl Providers {
    /// The clients; users' own endpoints resolve through `resolver` and reach no internal
    /// address unless `policy` allows their host.
    pub fn new(resolver: Arc<dyn HostResolver>, policy: EndpointPolicy) -> Self {
        let http = Arc::new(http::Http::new(guard::Guard::new(resolver, policy)));
        Self {
            http: http.clone(),
            openai: openai::OpenAi::new(http.clone(), openai::OPENAI),
            azure: openai::OpenAi::new(http.clone(), azure::DIALECT),
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

    async fn probe(&self, call: &UpstreamCall) -> Result<(), ProviderError> {
        probe::probe(&self.http, call).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use secrecy::SecretString;
    use switchyard_domain::gateway::{ChatMessage, MessageContent, Timeouts};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A server that answers every request with `response`, counting connections.
    async fn serve(response: String) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let address = listener.local_addr().expect("an address");
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                let mut buffer = vec![0u8; 16 * 1024];
                let _ = socket.read(&mut buffer).await;
                let _ = socket.write_all(response.as_bytes()).await;
            }
        });
        (format!("http://{address}"), connections)
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed_so_keys_in_custom_headers_stay_with_the_supplier() {
        let (elsewhere, visits) = serve("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_owned()).await;
        let redirect = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: {elsewhere}/v1/messages\r\ncontent-length: 0\r\n\r\n"
        );
        let (supplier, _) = serve(redirect).await;
        let call = UpstreamCall {
            protocol: Protocol::Anthropic,
            supplier: "anthropic".into(),
            base_url: format!("{supplier}/v1"),
            api_key: Some(SecretString::from("sk-ant-secret".to_owned())),
            upstream_model: "claude".into(),
            api_version: None,
            max_output_tokens: Some(16),
            request_id: "r".into(),
            timeouts: Timeouts::default(),
            guarded: false,
        };
        let request = ChatRequest {
            messages: vec![ChatMessage {
                content: MessageContent::Text("hi".into()),
                ..ChatMessage::default()
            }],
            ..ChatRequest::default()
        };
        let outcome = Providers::default().complete(&call, &request).await;
        assert!(
            matches!(outcome, Err(ProviderError::Failed { status: 307, .. })),
            "{outcome:?}"
        );
        assert_eq!(visits.load(Ordering::SeqCst), 0, "the key went to the redirect's host");
    }

    /// A resolver that answers from a table, and counts its questions.
    #[derive(Debug, Default)]
    struct Table {
        names: std::collections::HashMap<String, std::net::IpAddr>,
        asked: AtomicUsize,
    }

    #[async_trait]
    impl HostResolver for Table {
        async fn resolve(&self, host: &str, _port: u16) -> Result<Vec<std::net::IpAddr>, String> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            self.names
                .get(host)
                .map(|ip| vec![*ip])
                .ok_or_else(|| "unknown host".to_owned())
        }
    }

    /// A resolver whose `rebind.example.com` answers 127.0.0.1 now.
    fn rebinding() -> Arc<Table> {
        Arc::new(Table {
            names: [(
                "rebind.example.com".to_owned(),
                "127.0.0.1".parse().expect("an address"),
            )]
            .into(),
            ..Table::default()
        })
    }

    fn user_call(base_url: String) -> UpstreamCall {
        UpstreamCall {
            protocol: Protocol::OpenAi,
            supplier: "openai".into(),
            base_url,
            api_key: Some(SecretString::from("sk-user-own".to_owned())),
            upstream_model: "gpt-4o".into(),
            api_version: None,
            max_output_tokens: None,
            request_id: "r".into(),
            timeouts: Timeouts::default(),
            guarded: true,
        }
    }

    fn hello() -> ChatRequest {
        ChatRequest {
            messages: vec![ChatMessage {
                content: MessageContent::Text("hi".into()),
                ..ChatMessage::default()
            }],
            ..ChatRequest::default()
        }
    }

    /// Set in the child process the proxy test starts.
    const PROXY_CHILD: &str = "SWITCHYARD_TEST_PROXY_CHILD";

    /// The proxy test's half in a child process whose environment names a proxy (the
    /// environment is the process's: it cannot be set for one test here); it does nothing
    /// unless started so.
    #[tokio::test]
    async fn guarded_call_under_a_proxy() {
        if std::env::var_os(PROXY_CHILD).is_none() {
            return;
        }
        let table = rebinding();
        let providers = Providers::new(table.clone(), EndpointPolicy::default());
        for base in ["https://rebind.example.com/v1", "http://rebind.example.com/v1"] {
            let outcome = providers.complete(&user_call(base.to_owned()), &hello()).await;
            assert!(
                matches!(&outcome, Err(ProviderError::Connection { message }) if message.contains("internal address")),
                "{base}: {outcome:?}"
            );
        }
        assert_eq!(table.asked.load(Ordering::SeqCst), 2, "the guard resolved the names");
    }

    #[tokio::test]
    async fn a_proxy_in_the_environment_does_not_take_a_users_endpoint_past_the_guard() {
        let (proxy, connections) = serve("HTTP/1.1 200 Connection established\r\n\r\n".to_owned()).await;
        let binary = std::env::current_exe().expect("the test binary");
        let child = tokio::task::spawn_blocking(move || {
            std::process::Command::new(binary)
                .args(["--exact", "tests::guarded_call_under_a_proxy", "--nocapture"])
                .env(PROXY_CHILD, "1")
                .env("HTTPS_PROXY", &proxy)
                .env("HTTP_PROXY", &proxy)
                .env("ALL_PROXY", &proxy)
                .env_remove("NO_PROXY")
                .env_remove("no_proxy")
                .output()
        })
        .await
        .expect("the child's thread")
        .expect("the child test runs");
        let output = String::from_utf8_lossy(&child.stdout);
        assert!(child.status.success(), "{output}");
        assert!(output.contains("1 passed"), "{output}");
        assert_eq!(connections.load(Ordering::SeqCst), 0, "the proxy was used");
    }

    #[tokio::test]
    async fn a_users_endpoint_never_connects_to_an_internal_address_whatever_its_name_says_now() {
        let (server, visits) = serve("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_owned()).await;
        let port = server.rsplit(':').next().expect("a port").to_owned();
        // The name resolved to a public address when it was saved; it answers 127.0.0.1 now.
        let table = rebinding();
        let providers = Providers::new(table.clone(), EndpointPolicy::default());
        for base in [
            format!("http://rebind.example.com:{port}/v1"),
            format!("http://127.0.0.1:{port}/v1"),
            format!("http://[::1]:{port}/v1"),
            "http://10.0.0.1/v1".to_owned(),
            "http://169.254.169.254/latest".to_owned(),
        ] {
            let outcome = providers.complete(&user_call(base.clone()), &hello()).await;
            match outcome {
                Err(ProviderError::Connection { message }) => {
                    assert!(message.contains("internal address"), "{base}: {message}");
                }
                other => panic!("{base}: expected a refusal, got {other:?}"),
            }
        }
        assert_eq!(visits.load(Ordering::SeqCst), 0, "nothing reached the server");
        assert_eq!(
            table.asked.load(Ordering::SeqCst),
            1,
            "the name was resolved at connect time"
        );
        // An admin may allow a host by name and port: then it connects, on that port only.
        let allowed = Providers::new(
            table,
            EndpointPolicy {
                allowed_hosts: vec![format!("rebind.example.com:{port}")],
            },
        );
        let elsewhere = allowed
            .complete(&user_call("http://rebind.example.com:9/v1".to_owned()), &hello())
            .await;
        assert!(
            matches!(&elsewhere, Err(ProviderError::Connection { message }) if message.contains("internal address")),
            "{elsewhere:?}"
        );
        let outcome = allowed
            .complete(&user_call(format!("http://rebind.example.com:{port}/v1")), &hello())
            .await;
        assert!(!matches!(outcome, Err(ProviderError::Connection { .. })), "{outcome:?}");
        assert_eq!(visits.load(Ordering::SeqCst), 1);
    }
}
