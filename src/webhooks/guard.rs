//! The SSRF guard: webhook targets must be public addresses.
//!
//! Checked at registration and again at delivery, inside the HTTP client's own
//! DNS resolver, so that the address that was checked is the address that is
//! dialed (a name that re-resolves to 127.0.0.1 after registration is caught).

use std::net::{IpAddr, SocketAddr};

use reqwest::{
    Url,
    dns::{Addrs, Name, Resolve, Resolving},
};

/// Why a target was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Loopback, private, link-local, multicast, unspecified and other
/// non-public ranges, for IPv4, IPv6 and IPv4-mapped IPv6.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                // Carrier-grade NAT, 100.64.0.0/10.
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_forbidden(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local fc00::/7 and link-local fe80::/10.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

fn check_addresses(host: &str, addrs: &[SocketAddr]) -> Result<(), Refused> {
    if addrs.is_empty() {
        return Err(Refused(format!("{host} does not resolve")));
    }
    match addrs.iter().find(|a| is_forbidden(a.ip())) {
        Some(bad) => Err(Refused(format!(
            "{host} resolves to {}, a loopback, private or link-local address; \
             start the server with --allow-private-webhooks to allow it",
            bad.ip()
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
    match bare.parse::<IpAddr>() {
        Ok(ip) if !allow_private && is_forbidden(ip) => Err(Refused(format!(
            "{ip} is a loopback, private or link-local address"
        ))),
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
        ] {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "93.184.216.34", "2606:4700::1111", "100.128.0.1"] {
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
