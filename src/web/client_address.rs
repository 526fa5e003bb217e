//! The client's address, for the per-address login throttle. Behind a
//! reverse proxy every connection comes from the proxy, so the address is
//! read from `X-Forwarded-For`, but only when the connection comes from a
//! trusted proxy (CHORUS_TRUSTED_PROXIES): anyone else could write any
//! address into that header.

use std::net::IpAddr;

use actix_web::HttpRequest;

/// Addresses or networks (`10.0.0.0/8`, `fd00::/8`, `127.0.0.1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// A comma-separated list; an error names the entry that is not one.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (address, prefix) = match entry.split_once('/') {
                Some((address, prefix)) => (address, Some(prefix)),
                None => (entry, None),
            };
            let address: IpAddr = address
                .parse()
                .map_err(|_| format!("{entry:?} is not an IP address or network"))?;
            let max = if address.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(|| format!("{entry:?} has an invalid prefix length"))?,
                None => max,
            };
            nets.push((address, prefix));
        }
        Ok(TrustedProxies(nets))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|(net, prefix)| match (canonical(*net), ip) {
                (IpAddr::V4(net), IpAddr::V4(ip)) => {
                    masked(u32::from(net).into(), *prefix, 32)
                        == masked(u32::from(ip).into(), *prefix, 32)
                }
                (IpAddr::V6(net), IpAddr::V6(ip)) => {
                    masked(u128::from(net), *prefix, 128) == masked(u128::from(ip), *prefix, 128)
                }
                _ => false,
            })
    }
}

/// IPv4 seen through an IPv6 socket (`::ffff:192.0.2.1`) is IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        bits >> (width - prefix)
    }
}

/// The client address: the TCP peer, unless `trust_forwarded` is on and
/// the peer is a trusted proxy; then the right-most `X-Forwarded-For`
/// entry that is not itself a trusted proxy (proxies append, so entries
/// further left were written by the client and prove nothing).
pub fn client_ip(req: &HttpRequest, trust_forwarded: bool, proxies: &TrustedProxies) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| canonical(a.ip()))
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    if !trust_forwarded || !proxies.contains(peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|entry| entry.trim().parse::<IpAddr>().map(canonical))
        .collect::<Result<_, _>>()
        // A header that does not parse is not evidence of anything.
        .unwrap_or_default();
    forwarded
        .iter()
        .rev()
        .find(|ip| !proxies.contains(**ip))
        .or(forwarded.first())
        .copied()
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_contain_their_addresses_and_no_others() {
        let proxies = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8, fd00::/8").unwrap();
        assert!(proxies.contains(ip("127.0.0.1")));
        assert!(!proxies.contains(ip("127.0.0.2")));
        assert!(proxies.contains(ip("10.200.3.4")));
        assert!(!proxies.contains(ip("11.0.0.1")));
        assert!(proxies.contains(ip("fd12::1")));
        assert!(proxies.contains(ip("::ffff:10.1.1.1")), "IPv4-mapped");
        assert!(!proxies.contains(ip("2001:db8::1")));
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
        assert!(
            TrustedProxies::parse("0.0.0.0/0")
                .unwrap()
                .contains(ip("192.0.2.1"))
        );
        for bad in ["localhost", "10.0.0.0/33", "10.0.0.0/x", "::1/129"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy_and_from_the_right() {
        let proxies = TrustedProxies::parse("127.0.0.1,10.0.0.0/8").unwrap();
        let from = |peer: &str, xff: Option<&str>| {
            let mut req = TestRequest::default().peer_addr(format!("{peer}:4000").parse().unwrap());
            if let Some(xff) = xff {
                req = req.insert_header(("x-forwarded-for", xff));
            }
            req.to_http_request()
        };
        // From the proxy: the address it appended (the client's own header is left of it).
        let req = from("127.0.0.1", Some("6.6.6.6, 203.0.113.9"));
        assert_eq!(client_ip(&req, true, &proxies), ip("203.0.113.9"));
        // Through two trusted proxies.
        let req = from("127.0.0.1", Some("203.0.113.9, 10.1.2.3"));
        assert_eq!(client_ip(&req, true, &proxies), ip("203.0.113.9"));
        // Not from a trusted proxy: the header is ignored.
        let req = from("198.51.100.4", Some("203.0.113.9"));
        assert_eq!(client_ip(&req, true, &proxies), ip("198.51.100.4"));
        // Setting off: the header is ignored.
        let req = from("127.0.0.1", Some("203.0.113.9"));
        assert_eq!(client_ip(&req, false, &proxies), ip("127.0.0.1"));
        // Garbage or nothing: the peer.
        let req = from("127.0.0.1", Some("not-an-address"));
        assert_eq!(client_ip(&req, true, &proxies), ip("127.0.0.1"));
        let req = from("127.0.0.1", None);
        assert_eq!(client_ip(&req, true, &proxies), ip("127.0.0.1"));
    }
}
