//! The SSRF guard: webhook targets must be public addresses.
//!
//! Checked at registration and again at delivery, inside the HTTP client's own
//! DNS resolver, so that the address that was checked is the address that is
//! dialed (a name that re-resolves to 127.0.0.1 after registration is caught).
//!
//! "Public" means outside every block of the IANA special-purpose registries
//! that is not globally reachable (see [`NOT_GLOBAL`]), judging IPv4 carried
//! inside IPv6 (mapped, NAT64, 6to4) by the IPv4 address.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::LazyLock,
};

use ipnet::IpNet;

use reqwest::{
    Url,
    dns::{Addrs, Name, Resolve, Resolving},
};

/// Why a target was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Address blocks that are not globally reachable: the IANA IPv4 and IPv6
/// Special-Purpose Address Registries (every block whose "Globally
/// Reachable" is False or N/A), plus multicast, reserved and deprecated
/// space. No maintained crate classifies these on stable Rust
/// (`Ipv4Addr::is_global` is unstable), hence this table. IPv4-mapped,
/// NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses are judged by the
/// IPv4 address they carry; Teredo (2001::/32) lies inside 2001::/23.
const NOT_GLOBAL: &[(&str, &str)] = &[
    ("0.0.0.0/8", "\"this network\""),
    ("10.0.0.0/8", "private-use"),
    ("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private-use"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.88.99.0/24", "deprecated 6to4 relay anycast"),
    ("192.168.0.0/16", "private-use"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("255.255.255.255/32", "limited broadcast"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/8", "reserved (including IPv4-compatible ::/96)"),
    ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation"),
    ("100::/64", "discard-only"),
    ("100:0:0:1::/64", "dummy IPv6 prefix"),
    (
        "2001::/23",
        "IETF protocol assignments (including Teredo 2001::/32)",
    ),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "segment routing (SRv6) SIDs"),
    ("fc00::/7", "unique-local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "deprecated site-local"),
    ("ff00::/8", "multicast"),
];

static NOT_GLOBAL_NETS: LazyLock<Vec<(IpNet, &'static str)>> = LazyLock::new(|| {
    NOT_GLOBAL
        .iter()
        .map(|(net, what)| (net.parse().expect("a valid CIDR in the table"), *what))
        .collect()
});

/// Why `ip` may not be a webhook target, or `None` for a public address.
pub fn forbidden_because(ip: IpAddr) -> Option<String> {
    if let IpAddr::V6(v6) = ip
        && let Some((v4, form)) = embedded_ipv4(v6)
    {
        return forbidden_because(IpAddr::V4(v4))
            .map(|why| format!("{why}, as the {form} address {v6}"));
    }
    NOT_GLOBAL_NETS
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(net, what)| format!("{ip} is a {what} address ({net})"))
}

#[cfg(test)]
fn is_forbidden(ip: IpAddr) -> bool {
    forbidden_because(ip).is_some()
}

/// The IPv4 address inside an IPv4-mapped, NAT64 well-known-prefix or 6to4
/// IPv6 address, with the name of the form.
fn embedded_ipv4(v6: Ipv6Addr) -> Option<(Ipv4Addr, &'static str)> {
    let s = v6.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(mapped) = v6.to_ipv4_mapped() {
        return Some((mapped, "IPv4-mapped"));
    }
    match s {
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some((v4(hi, lo), "NAT64")),
        [0x2002, hi, lo, ..] => Some((v4(hi, lo), "6to4")),
        _ => None,
    }
}

fn check_addresses(host: &str, addrs: &[SocketAddr]) -> Result<(), Refused> {
    if addrs.is_empty() {
        return Err(Refused(format!("{host} does not resolve")));
    }
    match addrs.iter().find_map(|a| forbidden_because(a.ip())) {
        Some(why) => Err(Refused(format!(
            "{host} resolves to an address that is not public: {why}; \
             start the server with --allow-private-webhooks to allow it"
        ))),
        None => Ok(()),
    }
}

/// Checks a URL a client wants deliveries sent to: http(s), a host, and (unless
/// `allow_private`) only public addresses.
pub async fn check_target(raw: &str, allow_private: bool) -> Result<Url, Refused> {
    let url =
        Url::parse(raw).map_err(|e| Refused(format!("url {raw:?} is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused(format!(
            "url must be http or https, not {}",
            url.scheme()
        )));
    }
    let host = url
        .host_str()
        .ok_or_else(|| Refused("url has no host".into()))?
        .to_owned();
    if allow_private {
        return Ok(url);
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| Refused(format!("{host} does not resolve: {e}")))?
            .collect(),
    };
    check_addresses(&host, &addrs)?;
    Ok(url)
}

/// Checks a URL whose host is an IP literal (which skips DNS, and so the
/// resolver below). Names pass here and are checked when resolved.
pub fn check_literal(url: &Url, allow_private: bool) -> Result<(), Refused> {
    let Some(host) = url.host_str() else {
        return Err(Refused("url has no host".into()));
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>().ok().and_then(forbidden_because) {
        Some(why) if !allow_private => Err(Refused(why)),
        _ => Ok(()),
    }
}

/// A DNS resolver for the delivery client that refuses forbidden addresses.
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private {
                check_addresses(&host, &addrs)?;
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_ranges() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            // IANA special-purpose blocks.
            "192.0.0.1",
            "192.0.0.170",
            "198.18.0.1",
            "198.19.255.255",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "192.88.99.1",
            "240.0.0.1",
            "2001:db8::1",
            "2001:2::1",
            "100::1",
            "3fff::1",
            "5f00::1",
            "fec0::1",
            "64:ff9b:1::a00:1",
            // IPv4 inside IPv6: IPv4-compatible, NAT64, 6to4, Teredo.
            "::7f00:1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::c0a8:101",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2002:c0a8:101::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ] {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700::1111",
            "100.128.0.1",
            "198.20.0.1",
            "64:ff9b::101:101",
            "2002:101:101::1",
            "::ffff:1.1.1.1",
        ] {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn targets_are_checked() {
        for url in [
            "http://127.0.0.1:9000/hook",
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:8080/",
            "http://localhost:9000/",
            "http://192.0.0.1/",
            "http://198.18.0.1/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://[2001::1]/",
            "ftp://example.com/",
            "not a url",
        ] {
            assert!(check_target(url, false).await.is_err(), "{url}");
        }
        assert!(
            check_target("http://127.0.0.1:9000/hook", true)
                .await
                .is_ok()
        );
        assert!(
            check_target("https://93.184.216.34/hook", false)
                .await
                .is_ok()
        );
    }
}
