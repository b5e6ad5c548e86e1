//! The client address a request's limits are counted against: the peer of
//! the TCP connection, or, when that peer is a trusted proxy
//! (`--trusted-proxies`), the address the proxy says it forwarded for
//! (`--trusted-proxy-header`: `X-Forwarded-For` by default, or
//! `Forwarded: for=…`; never both, since a client can pass either through a
//! proxy that only sets the other). Headers from anyone else are ignored,
//! so a client cannot choose its own address; their arrival is logged once.

use std::{
    net::IpAddr,
    sync::atomic::{AtomicBool, Ordering},
};

use ipnet::IpNet;
use poem::http::HeaderMap;

/// Which header the trusted proxies set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProxyHeader {
    #[default]
    XForwardedFor,
    Forwarded,
}

impl ProxyHeader {
    /// From `--trusted-proxy-header`'s value.
    pub fn parse(name: &str) -> Option<ProxyHeader> {
        match name.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Some(ProxyHeader::XForwardedFor),
            "forwarded" => Some(ProxyHeader::Forwarded),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ProxyHeader::XForwardedFor => "x-forwarded-for",
            ProxyHeader::Forwarded => "forwarded",
        }
    }

    fn other(self) -> ProxyHeader {
        match self {
            ProxyHeader::XForwardedFor => ProxyHeader::Forwarded,
            ProxyHeader::Forwarded => ProxyHeader::XForwardedFor,
        }
    }
}

/// Proxies whose forwarding header is believed, and which header that is.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    pub nets: Vec<IpNet>,
    pub header: ProxyHeader,
}

/// Set once a warning about a forwarding header was logged (one each).
static WARNED_UNTRUSTED: AtomicBool = AtomicBool::new(false);
static WARNED_OTHER_HEADER: AtomicBool = AtomicBool::new(false);

fn warn_once(flag: &AtomicBool, message: &str, peer: IpAddr) {
    if !flag.swap(true, Ordering::Relaxed) {
        tracing::warn!(%peer, "{message} (logged once)");
    }
}

impl TrustedProxies {
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client's address. Forwarded chains are read from the right (the
    /// hop nearest to this server), skipping trusted proxies: the first
    /// untrusted hop is the client. A malformed entry stops the walk at the
    /// last hop that was understood.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            if headers.contains_key("forwarded") || headers.contains_key("x-forwarded-for") {
                warn_once(
                    &WARNED_UNTRUSTED,
                    "a forwarding header arrived from a peer that is not in --trusted-proxies: \
                     ignored, limits count the peer itself; if a proxy sits in front, trust it",
                    peer,
                );
            }
            return peer;
        }
        if headers.contains_key(self.header.other().name()) {
            warn_once(
                &WARNED_OTHER_HEADER,
                "a trusted proxy passed a forwarding header other than --trusted-proxy-header: \
                 ignored (a client can send it through the proxy)",
                peer,
            );
        }
        let hops = forwarded_for(headers, self.header);
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = hop else { break };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// The hops of the configured header, in order: `for=` of `Forwarded` (RFC
/// 7239; an element without one counts as a hop that is not understood), or
/// the entries of `X-Forwarded-For`; `None` for an entry that is not an
/// address (`unknown`, an obfuscated name, garbage), which stops the walk.
fn forwarded_for(headers: &HeaderMap, header: ProxyHeader) -> Vec<Option<IpAddr>> {
    let elements = headers
        .get_all(header.name())
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .flat_map(|v| v.split(','));
    match header {
        ProxyHeader::Forwarded => elements
            .map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| parse_node(value))
                })?
            })
            .collect(),
        ProxyHeader::XForwardedFor => elements.map(parse_node).collect(),
    }
}

/// `192.0.2.1`, `192.0.2.1:80`, `"[2001:db8::1]:443"`, `2001:db8::1`.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let node = raw.trim().trim_matches('"');
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    node.rsplit_once(':')?.0.parse().ok()
}

pub use crate::model::limit_key;

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_are_their_own_address() {
        let none = TrustedProxies::default();
        let forged_forwarded = headers(&[("forwarded", "for=127.0.0.1")]);
        assert_eq!(
            none.client(ip("198.51.100.7"), &forged_forwarded),
            ip("198.51.100.7")
        );
        let forged = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(none.client(ip("198.51.100.7"), &forged), ip("198.51.100.7"));
    }

    #[test]
    fn trusted_proxies_are_skipped_from_the_right() {
        let trusted = TrustedProxies {
            nets: vec!["10.0.0.0/8".parse().unwrap()],
            header: ProxyHeader::XForwardedFor,
        };
        let chain = headers(&[("x-forwarded-for", "203.0.113.9, 198.51.100.1, 10.0.0.2")]);
        // The client can prepend anything; the hop the proxy saw is believed.
        assert_eq!(trusted.client(ip("10.0.0.1"), &chain), ip("198.51.100.1"));
        // A client's own `Forwarded` passed through a proxy that sets
        // X-Forwarded-For is not believed.
        let both = headers(&[
            ("forwarded", "for=127.0.0.1"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &both), ip("203.0.113.9"));
        let rfc7239 = TrustedProxies {
            header: ProxyHeader::Forwarded,
            ..trusted.clone()
        };
        let forwarded = headers(&[
            ("forwarded", "for=\"[2001:db8::1]:4711\";proto=https"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            rfc7239.client(ip("10.0.0.1"), &forwarded),
            ip("2001:db8::1")
        );
        // `unknown` stops the walk at the proxy itself.
        let unknown = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(rfc7239.client(ip("10.0.0.1"), &unknown), ip("10.0.0.1"));
        let mapped = headers(&[("x-forwarded-for", "192.0.2.5:1234")]);
        assert_eq!(
            trusted.client(ip("::ffff:10.0.0.1"), &mapped),
            ip("192.0.2.5")
        );
        let garbage = headers(&[("x-forwarded-for", "nonsense")]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &garbage), ip("10.0.0.1"));
    }

    #[test]
    fn ipv6_is_limited_by_its_64() {
        assert_eq!(limit_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(limit_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }
}
