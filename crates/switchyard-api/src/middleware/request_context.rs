//! The request id (a client's `x-request-id` when it is safe to echo, else a new UUIDv7) and the
//! client IP (honouring `X-Forwarded-For` only from trusted proxies).

use std::net::IpAddr;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use ipnet::IpNet;

/// The header that carries the request id in both directions.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of one request, present in every log line of it and echoed in the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The longest client-supplied id we keep.
    pub const MAX_LEN: usize = 64;

    /// Keeps a client's id when it is 1–64 characters of `[A-Za-z0-9._-]`, else makes a new one.
    pub fn from_header(value: Option<&HeaderValue>) -> Self {
        let candidate = value.and_then(|value| value.to_str().ok()).filter(|id| {
            !id.is_empty()
                && id.len() <= Self::MAX_LEN
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
        match candidate {
            Some(id) => Self(id.to_owned()),
            None => Self(uuid::Uuid::now_v7().to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The proxies whose `X-Forwarded-For` is believed (`server.trusted_proxies`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the peer, unless the peer is a trusted proxy; then the right-most
    /// `X-Forwarded-For` address (over every line of the header, in order) that is not a trusted
    /// proxy: each proxy appends the address it saw, so everything left of the first untrusted
    /// one is the client's own choice and is never read. When every address is a trusted proxy,
    /// the peer (the request came from inside; no address written by a client is believed).
    /// `None` when it cannot be known: no peer, or an entry that is not an address where the
    /// client's should be (such requests share one bucket of the attempt limits).
    pub fn client_ip<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: impl DoubleEndedIterator<Item = &'a [u8]>,
    ) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        for entry in forwarded_for.rev().flat_map(|line| line.rsplit(|byte| *byte == b',')) {
            let entry = entry.trim_ascii();
            if entry.is_empty() {
                continue;
            }
            let address = forwarded_address(entry)?;
            if !self.trusts(address) {
                return Some(address);
            }
        }
        Some(peer)
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`203.0.113.7:4711`,
/// `[2001:db8::1]:4711`), as some proxies write it. Bytes that are not text are no address.
fn forwarded_address(entry: &[u8]) -> Option<IpAddr> {
    let entry = std::str::from_utf8(entry).ok()?;
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|socket| socket.ip()))
}

/// The client's IP address as [`TrustedProxies::client_ip`] determined it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

/// When the request arrived, for the access log line.
#[derive(Debug, Clone, Copy)]
pub struct RequestStart(pub std::time::Instant);

/// Sets [`RequestId`], [`ClientIp`] and [`RequestStart`] on the request and echoes the id in the response.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, Error> {
    let request_id = RequestId::from_header(req.headers().get(&REQUEST_ID_HEADER));
    let proxies = req.app_data::<web::Data<TrustedProxies>>().cloned();
    let peer = req.peer_addr().map(|addr| addr.ip());
    // Raw bytes: a byte that is not text spoils only the entry it is in.
    let forwarded_for: Vec<&[u8]> = req
        .headers()
        .get_all("x-forwarded-for")
        .map(|value| value.as_bytes())
        .collect();
    let client_ip = match proxies {
        Some(proxies) => proxies.client_ip(peer, forwarded_for.into_iter()),
        None => peer,
    };
    let header = HeaderValue::from_str(request_id.as_str()).ok();
    req.extensions_mut().insert(request_id);
    req.extensions_mut().insert(ClientIp(client_ip));
    req.extensions_mut().insert(RequestStart(std::time::Instant::now()));
    let mut response = next.call(req).await?;
    if let Some(header) = header {
        response.headers_mut().insert(REQUEST_ID_HEADER, header);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: &str) -> String {
        let value = HeaderValue::from_str(raw).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
        RequestId::from_header(Some(&value)).0
    }

    #[test]
    fn safe_client_ids_are_kept() {
        assert_eq!(id("abc-123_X.y"), "abc-123_X.y");
        assert_eq!(id(&"a".repeat(64)), "a".repeat(64));
    }

    #[test]
    fn unsafe_or_long_client_ids_are_replaced() {
        for raw in [
            "a".repeat(65),
            "has space".to_owned(),
            "semi;colon".to_owned(),
            "ünï".to_owned(),
        ] {
            let kept = id(&raw);
            assert_ne!(kept, raw);
            assert!(uuid::Uuid::parse_str(&kept).is_ok(), "{kept}");
        }
        assert!(uuid::Uuid::parse_str(RequestId::from_header(None).as_str()).is_ok());
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = TrustedProxies(vec!["10.0.0.0/8".parse().expect("a network")]);
        let lines = |lines: &'static [&'static str]| lines.iter().map(|line| line.as_bytes());
        let chain = lines(&["203.0.113.9, 10.0.0.2"]);
        assert_eq!(
            proxies.client_ip(Some(ip("198.51.100.1")), chain.clone()),
            Some(ip("198.51.100.1"))
        );
        assert_eq!(proxies.client_ip(Some(ip("10.0.0.1")), chain), Some(ip("203.0.113.9")));
        assert_eq!(
            proxies.client_ip(Some(ip("10.0.0.1")), lines(&[])),
            Some(ip("10.0.0.1"))
        );
        // Every line counts, in order: what the client wrote on an earlier line is not believed.
        assert_eq!(
            proxies.client_ip(Some(ip("10.0.0.1")), lines(&["6.6.6.6", "203.0.113.9, 10.0.0.3"])),
            Some(ip("203.0.113.9"))
        );
        // Everything trusted: the peer, not an address a client inside could have written.
        assert_eq!(
            proxies.client_ip(Some(ip("10.0.0.1")), lines(&["10.0.0.7, 10.0.0.3"])),
            Some(ip("10.0.0.1"))
        );
        // Ports as some proxies write them.
        assert_eq!(
            proxies.client_ip(Some(ip("10.0.0.1")), lines(&["[2001:db8::1]:4711"])),
            Some(ip("2001:db8::1"))
        );
    }

    #[test]
    fn an_unreadable_entry_where_the_client_should_be_makes_the_address_unknown() {
        let proxies = TrustedProxies(vec!["10.0.0.0/8".parse().expect("a network")]);
        let peer = Some(ip("10.0.0.1"));
        let one = |line: &'static [u8]| [line].into_iter();
        assert_eq!(proxies.client_ip(peer, one(b"203.0.113.9, unknown")), None);
        assert_eq!(
            proxies.client_ip(peer, one(b"bogus, 203.0.113.9, 10.0.0.3")),
            Some(ip("203.0.113.9")),
            "left of the client's address nothing matters"
        );
        // A byte that is not text, written by the client before the proxy's entry, spoils
        // only the client's own entry.
        assert_eq!(
            proxies.client_ip(peer, one(b"\x80\xff, 203.0.113.9")),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(proxies.client_ip(None, one(b"")), None);
    }
}
