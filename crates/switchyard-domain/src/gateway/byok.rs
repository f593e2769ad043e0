//! Bring your own key: a user's own configuration of a model — their key (encrypted, write-only),
//! an optional endpoint of their own, and defaults for `max_tokens` and `temperature`. The
//! gateway tries a caller's enabled configs for the model first, and logs those calls as theirs.
//!
//! A custom endpoint is a request the server makes on a user's behalf, so it must not reach the
//! server's own network: it must be https and its host must not be, or resolve to, a loopback,
//! private, link-local, unique-local, carrier-grade NAT or cloud-metadata address — checked when
//! it is saved and again when each connection is made (so a name that changes its answer after
//! the check, DNS rebinding, is refused too) — unless an admin setting allows the host by name.

// `core::net`: addresses are values here; resolving them is the `HostResolver` port's.
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalog::ids::ModelId;
use crate::kernel::crypto::SecretSlot;
use crate::kernel::error::{DomainError, StoreError};
use crate::kernel::ids::UserId;
use crate::kernel::page::{Page, PageRequest};

/// The highest temperature a config may default to (the model's own range still applies).
pub const MAX_TEMPERATURE: f64 = 2.0;

/// Whether connecting to `ip` could reach the server's own network or a cloud's metadata.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7, unique local (AWS's metadata fd00:ec2::254 among them).
                || (first & 0xfe00) == 0xfc00
                // fe80::/10, link local; fec0::/10, the deprecated site local.
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                // 2001::/32, Teredo: a tunnel to an address it hides.
                || (first == 0x2001 && v6.segments()[1] == 0)
                // 64:ff9b:1::/48, local-use NAT64 (RFC 8215): translated inside the network.
                || v6.segments()[..3] == [0x64, 0xff9b, 1]
                // Forms that carry an IPv4 address in their last 32 bits: judge that address.
                // 64:ff9b::/96 (NAT64), ::/96 (IPv4-compatible, `::a.b.c.d`) and
                // ::ffff:0:0/96 (IPv4-translated, `::ffff:0:a.b.c.d`).
                || (embeds_v4(v6) && internal_v4(last_v4(v6)))
                // 2002::/16 (6to4) carries one in bits 16 to 48.
                || (first == 0x2002 && internal_v4(six_to_four(v6)))
        }
    }
}

fn embeds_v4(v6: Ipv6Addr) -> bool {
    matches!(
        v6.segments()[..6],
        [0x64, 0xff9b, 0, 0, 0, 0] | [0, 0, 0, 0, 0, 0] | [0, 0, 0, 0, 0xffff, 0]
    )
}

fn last_v4(v6: Ipv6Addr) -> Ipv4Addr {
    let octets = v6.octets();
    Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15])
}

fn six_to_four(v6: Ipv6Addr) -> Ipv4Addr {
    let octets = v6.octets();
    Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5])
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        // 169.254.0.0/16: link local, and the metadata service of most clouds (169.254.169.254).
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT (Alibaba Cloud's metadata is 100.100.100.200).
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24, IETF protocol assignments (192.0.0.192 is Oracle Cloud's metadata).
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        // 198.18.0.0/15, benchmarking; 240.0.0.0/4, reserved.
        || (a == 198 && (18..20).contains(&b))
        || a >= 240
}

/// Hosts an admin allows as custom endpoints whatever they resolve to (an internal Ollama or
/// vLLM); they may also use plain http. An entry is `host` (its scheme's default port only) or
/// `host:port`; an IPv6 address is written in brackets (`[fd00::1]:8000`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointPolicy {
    pub allowed_hosts: Vec<String>,
}

impl EndpointPolicy {
    /// The entries as (host, port); `None` = the scheme's default port. Malformed ones allow
    /// nothing (and stop the server at start-up: [`EndpointPolicy::malformed`]).
    fn entries(&self) -> impl Iterator<Item = (&str, Option<u16>)> {
        self.allowed_hosts.iter().filter_map(|entry| parse_entry(entry))
    }

    /// The entries that are not `host` or `host:port` (a scheme, a path, a wildcard, a port
    /// that is not 1 to 65535): the server refuses to start with them rather than allow
    /// nothing in silence.
    pub fn malformed(&self) -> Vec<&str> {
        self.allowed_hosts
            .iter()
            .map(String::as_str)
            .filter(|entry| parse_entry(entry).is_none())
            .collect()
    }

    /// Whether some entry names the host (on any port): the resolver, which sees no port,
    /// lets such a name resolve to an internal address; the URL's port is checked apart.
    pub fn names(&self, host: &str) -> bool {
        let host = unbracket(host);
        self.entries().any(|(allowed, _)| allowed.eq_ignore_ascii_case(host))
    }

    /// Whether `url`'s host and port are allowed.
    pub fn allows(&self, url: &url::Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = unbracket(host);
        let port = url.port_or_known_default();
        let default = url.port().is_none() || port == default_port(url.scheme());
        self.entries().any(|(allowed, allowed_port)| {
            allowed.eq_ignore_ascii_case(host)
                && match allowed_port {
                    Some(allowed_port) => port == Some(allowed_port),
                    None => default,
                }
        })
    }
}

/// `host`, `host:port` or `[v6]:port` (a bare IPv6 address is a host); `None` when malformed.
fn parse_entry(entry: &str) -> Option<(&str, Option<u16>)> {
    let entry = entry.trim();
    let (host, port) = match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
            (host, Some(port.parse::<u16>().ok().filter(|port| *port > 0)?))
        }
        _ => (entry, None),
    };
    let brackets_balanced = host.starts_with('[') == host.ends_with(']');
    let bad = host.is_empty()
        || !brackets_balanced
        || host
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '/' | '@' | '?' | '#' | '*'));
    (!bad).then(|| (unbracket(host), port))
}

fn unbracket(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    }
}

/// Resolves host names (the system's resolver in the server; a script in tests).
#[async_trait]
pub trait HostResolver: Send + Sync + std::fmt::Debug {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String>;
}

fn endpoint_error(message: impl Into<String>) -> DomainError {
    DomainError::validation("custom_endpoint", "endpoint_not_allowed", message)
}

/// Checks a custom endpoint: an https URL (or an allowed host) whose host is, and resolves to,
/// no internal address. Returns it trimmed of a trailing `/`.
pub async fn check_endpoint(
    raw: &str,
    policy: &EndpointPolicy,
    resolver: &dyn HostResolver,
) -> Result<String, DomainError> {
    let trimmed = raw.trim().trim_end_matches('/');
    if trimmed.len() > 500 {
        return Err(DomainError::validation(
            "custom_endpoint",
            "too_long",
            "at most 500 characters",
        ));
    }
    let url = url::Url::parse(trimmed).map_err(|error| endpoint_error(format!("is not a URL: {error}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| endpoint_error("must name a host"))?
        .to_owned();
    if !url.username().is_empty() || url.password().is_some() {
        return Err(endpoint_error("must not carry credentials; the key goes in api_key"));
    }
    if policy.allows(&url) {
        return match url.scheme() {
            "https" | "http" => Ok(trimmed.to_owned()),
            _ => Err(endpoint_error("must be an http or https URL")),
        };
    }
    // Said as an internal address is: which hosts an admin allowed is not the caller's to learn.
    if policy.names(&host) {
        return Err(internal_endpoint());
    }
    if url.scheme() != "https" {
        return Err(endpoint_error("must be an https URL"));
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(url::Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        _ => resolver
            .resolve(&host, port)
            .await
            .map_err(|_| endpoint_error(format!("its host {host} does not resolve")))?,
    };
    if addresses.is_empty() {
        return Err(endpoint_error(format!("its host {host} resolves to no address")));
    }
    // The address is not named: what an internal name resolves to is not the caller's to learn.
    if addresses.into_iter().any(is_internal) {
        return Err(internal_endpoint());
    }
    Ok(trimmed.to_owned())
}

fn internal_endpoint() -> DomainError {
    endpoint_error(
        "its host is or resolves to an internal address (or a port not allowed); an admin can allow host:port in gateway.byok.allowed_hosts",
    )
}

/// A user's config of a model, as stored, without its key.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub id: Uuid,
    pub user_id: UserId,
    pub model_id: ModelId,
    pub spec: ModelConfigSpec,
    pub key_last4: String,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The writable fields of a config, checked (the endpoint is checked apart: it needs the
/// network).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfigSpec {
    pub model_id: ModelId,
    pub is_enabled: bool,
    pub custom_endpoint: Option<String>,
    pub max_tokens: Option<i64>,
    pub temperature: Option<f64>,
    /// Lower first, among the user's configs of one model.
    pub priority: i32,
}

/// The writable fields, as a caller sends them.
#[derive(Debug, Clone, Default)]
pub struct ModelConfigInput {
    pub model_id: Uuid,
    pub is_enabled: Option<bool>,
    pub custom_endpoint: Option<String>,
    pub max_tokens: Option<i64>,
    pub temperature: Option<f64>,
    pub priority: Option<i32>,
}

impl ModelConfigSpec {
    /// Checks the fields; `endpoint` is the checked custom endpoint.
    pub fn parse(input: ModelConfigInput, endpoint: Option<String>) -> Result<Self, DomainError> {
        if let Some(max_tokens) = input.max_tokens
            && !(1..=10_000_000).contains(&max_tokens)
        {
            return Err(DomainError::validation(
                "max_tokens",
                "out_of_range",
                "must be 1 to 10000000",
            ));
        }
        if let Some(temperature) = input.temperature
            && !(0.0..=MAX_TEMPERATURE).contains(&temperature)
        {
            return Err(DomainError::validation(
                "temperature",
                "out_of_range",
                format!("must be 0 to {MAX_TEMPERATURE}"),
            ));
        }
        let priority = input.priority.unwrap_or(0);
        if !(0..=1000).contains(&priority) {
            return Err(DomainError::validation("priority", "out_of_range", "must be 0 to 1000"));
        }
        Ok(Self {
            model_id: ModelId(input.model_id),
            is_enabled: input.is_enabled.unwrap_or(true),
            custom_endpoint: endpoint,
            max_tokens: input.max_tokens,
            temperature: input.temperature,
            priority,
        })
    }
}

/// A config's key, sealed for its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedUserKey {
    pub ciphertext: String,
    pub last4: String,
}

/// Why a config write failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigWriteError {
    #[error("the model is not a live model")]
    ModelMissing,
    #[error("no such config")]
    Missing,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The users' model configs. Every call is scoped to its owner: another user's config is missing.
#[async_trait]
pub trait ModelConfigRepo: Send + Sync + std::fmt::Debug {
    async fn create(
        &self,
        id: Uuid,
        owner: UserId,
        spec: &ModelConfigSpec,
        key: &SealedUserKey,
        now: DateTime<Utc>,
    ) -> Result<ModelConfig, ConfigWriteError>;
    async fn get(&self, owner: UserId, id: Uuid) -> Result<Option<ModelConfig>, StoreError>;
    async fn list(&self, owner: UserId, page: PageRequest) -> Result<Page<ModelConfig>, StoreError>;
    /// Replaces the fields (and the key when `key` is given).
    async fn update(
        &self,
        owner: UserId,
        id: Uuid,
        spec: &ModelConfigSpec,
        key: Option<&SealedUserKey>,
        now: DateTime<Utc>,
    ) -> Result<ModelConfig, ConfigWriteError>;
    async fn delete(&self, owner: UserId, id: Uuid) -> Result<(), ConfigWriteError>;
}

/// An enabled config, its key still encrypted: what the routing snapshot is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredModelConfig {
    pub id: Uuid,
    pub user_id: UserId,
    pub model_id: ModelId,
    pub ciphertext: String,
    pub custom_endpoint: Option<String>,
    pub max_tokens: Option<i64>,
    pub temperature: Option<f64>,
    pub priority: i32,
}

/// The cipher slot a config's key is bound to (its row).
pub fn user_key_slot(config_id: &str) -> SecretSlot<'_> {
    SecretSlot {
        table: "user_model_configs",
        column: "api_key",
        row_id: config_id,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[derive(Debug)]
    struct Names(HashMap<&'static str, IpAddr>);

    #[async_trait]
    impl HostResolver for Names {
        async fn resolve(&self, host: &str, _port: u16) -> Result<Vec<IpAddr>, String> {
            self.0
                .get(host)
                .map(|ip| vec![*ip])
                .ok_or_else(|| "unknown host".to_owned())
        }
    }

    fn names() -> Names {
        Names(HashMap::from([
            ("api.example.com", "93.184.216.34".parse().expect("an address")),
            ("inside.example.com", "10.1.2.3".parse().expect("an address")),
            ("ollama.internal", "192.168.1.20".parse().expect("an address")),
        ]))
    }

    #[test]
    fn internal_addresses_are_known_in_both_families() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.0.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "::127.0.0.1",
            "::10.0.0.1",
            "::ffff:0:127.0.0.1",
            "::ffff:0:a9fe:a9fe",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "fec0::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "64:ff9b:1::a00:1",
        ] {
            assert!(is_internal(ip.parse().expect("an address")), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:4700::1111",
            "8.8.8.8",
            "::8.8.8.8",
            "2002:5db8:d822::1",
        ] {
            assert!(!is_internal(ip.parse().expect("an address")), "{ip}");
        }
    }

    #[tokio::test]
    async fn endpoints_must_be_https_and_reach_no_internal_address_unless_allowed() {
        let policy = EndpointPolicy {
            allowed_hosts: vec!["ollama.internal:11434".into(), "vllm.internal".into()],
        };
        let check = async |raw: &str| check_endpoint(raw, &policy, &names()).await;
        assert_eq!(
            check("https://api.example.com/v1/").await,
            Ok("https://api.example.com/v1".to_owned())
        );
        for refused in [
            "https://127.0.0.1/v1",
            "https://[::1]/v1",
            "https://10.0.0.1/v1",
            "https://169.254.169.254/latest",
            "https://inside.example.com/v1",
            "http://api.example.com/v1",
            "https://user:pw@api.example.com/v1",
            "https://nowhere.example.com/v1",
            "ftp://api.example.com",
            // An allowed host, on a port it is not allowed on.
            "http://ollama.internal:22/v1",
            "https://vllm.internal:8443/v1",
        ] {
            assert!(check(refused).await.is_err(), "{refused}");
        }
        for allowed in [
            "http://ollama.internal:11434/v1",
            "https://vllm.internal/v1",
            "http://vllm.internal:80/v1",
        ] {
            assert_eq!(check(allowed).await, Ok(allowed.to_owned()));
        }
    }

    #[test]
    fn allowed_hosts_must_read_as_host_or_host_and_port() {
        let policy = EndpointPolicy {
            allowed_hosts: [
                "ollama.internal",
                "vllm:8000",
                "[fd00::1]:8000",
                "fd00::1",
                "http://x:1",
                "h:abc",
                "h/v1",
                "*.corp",
                "[fd00::1",
                "h:0",
            ]
            .map(str::to_owned)
            .to_vec(),
        };
        assert_eq!(
            policy.malformed(),
            vec!["http://x:1", "h:abc", "h/v1", "*.corp", "[fd00::1", "h:0"]
        );
    }

    #[tokio::test]
    async fn a_refused_endpoint_does_not_say_what_an_internal_name_resolves_to() {
        let refused = check_endpoint("https://inside.example.com/v1", &EndpointPolicy::default(), &names())
            .await
            .expect_err("an internal address");
        let message = refused.to_string();
        assert!(message.contains("internal address"), "{message}");
        assert!(!message.contains("10.1.2.3"), "the address leaked: {message}");
    }
}
