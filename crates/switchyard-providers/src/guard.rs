//! The guard on users' own endpoints (bring your own key): every connection's addresses are
//! checked when the connection is made — the name is resolved through the guard, so a name that
//! answered with a public address when the endpoint was saved and an internal one now (DNS
//! rebinding) is refused — and a host written as an address never reaches a resolver, so it is
//! checked apart. Redirects are never followed (see `http.rs`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use switchyard_domain::gateway::ProviderError;
use switchyard_domain::gateway::byok::{EndpointPolicy, HostResolver, is_internal};

/// The operating system's resolver.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl HostResolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        let addresses = tokio::net::lookup_host((host, port))
            .await
            .map_err(|error| error.to_string())?;
        Ok(addresses.map(|address| address.ip()).collect())
    }
}

/// A connection the guard refused. Its message does not name the address (what an internal
/// name resolves to is not the user's to learn); the server's log does.
#[derive(Debug, thiserror::Error)]
#[error(
    "the endpoint's host is or resolves to an internal address (or a port not allowed): a user's endpoint may not reach it"
)]
pub struct InternalAddress {
    host: String,
    ip: Option<IpAddr>,
}

impl InternalAddress {
    fn new(host: &str, ip: Option<IpAddr>) -> Self {
        tracing::warn!(host, ip = ?ip, "a user's endpoint was refused: an internal address or a port not allowed");
        Self {
            host: host.to_owned(),
            ip,
        }
    }
}

/// Resolves names for guarded clients, refusing internal addresses unless the host is allowed.
#[derive(Debug, Clone)]
pub struct Guard {
    resolver: Arc<dyn HostResolver>,
    policy: EndpointPolicy,
}

impl Guard {
    pub fn new(resolver: Arc<dyn HostResolver>, policy: EndpointPolicy) -> Self {
        Self { resolver, policy }
    }

    /// Refuses a URL whose host is an internal address written out (no resolver sees those),
    /// and an allowed host on a port it is not allowed on (the resolver, which sees no port,
    /// lets an allowed name through).
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), ProviderError> {
        let host = url.host_str().unwrap_or_default();
        if self.policy.allows(url) {
            return Ok(());
        }
        if self.policy.names(host) {
            return Err(refused(&InternalAddress::new(host, None)));
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        if is_internal(ip) {
            return Err(refused(&InternalAddress::new(host, Some(ip))));
        }
        Ok(())
    }
}

fn refused(error: &InternalAddress) -> ProviderError {
    ProviderError::Connection {
        message: format!("refused: {error}"),
    }
}

/// The guard's refusal inside a transport error, if that is what it is.
pub fn refusal(error: &reqwest::Error) -> Option<ProviderError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(current) = source {
        if let Some(internal) = current.downcast_ref::<InternalAddress>() {
            return Some(refused(internal));
        }
        source = current.source();
    }
    None
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let resolver = self.resolver.clone();
        let allowed = self.policy.names(&host);
        Box::pin(async move {
            let ips = resolver
                .resolve(&host, 0)
                .await
                .map_err(|error| Box::new(std::io::Error::other(error)) as Box<dyn std::error::Error + Send + Sync>)?;
            if !allowed && let Some(ip) = ips.iter().copied().find(|ip| is_internal(*ip)) {
                return Err(Box::new(InternalAddress::new(&host, Some(ip))) as Box<dyn std::error::Error + Send + Sync>);
            }
            let addresses: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addresses)
        })
    }
}
