//! Which addresses an outbound fetch may connect to. Every address a name
//! resolves to is checked here after DNS resolution (and every IP written
//! in a URL before any connection), so a link, a redirect or a DNS answer
//! cannot point Chorus at its own network: loopback, private, link-local
//! (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast,
//! unspecified, documentation and other special-purpose ranges (IANA's
//! special-purpose registries), IPv6 unique-local and link-local, and IPv4
//! written inside IPv6 (mapped, NAT64) when that IPv4 is refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use ipnet::IpNet;
use url::{Host, Url};

/// IPv4 networks that are not globally reachable.
const NON_GLOBAL_V4: [&str; 16] = [
    "0.0.0.0/8",          // "this network", unspecified
    "10.0.0.0/8",         // private
    "100.64.0.0/10",      // carrier-grade NAT
    "127.0.0.0/8",        // loopback
    "169.254.0.0/16",     // link-local (cloud metadata)
    "172.16.0.0/12",      // private
    "192.0.0.0/24",       // IETF protocol assignments
    "192.0.2.0/24",       // documentation
    "192.88.99.0/24",     // 6to4 relay anycast (deprecated)
    "192.168.0.0/16",     // private
    "198.18.0.0/15",      // benchmarking
    "198.51.100.0/24",    // documentation
    "203.0.113.0/24",     // documentation
    "224.0.0.0/4",        // multicast
    "240.0.0.0/4",        // reserved, and 255.255.255.255 broadcast
    "255.255.255.255/32", // broadcast
];

/// IPv6 networks inside global unicast (2000::/3) that are not globally
/// reachable or that tunnel to an address not checked here.
const NON_GLOBAL_V6: [&str; 4] = [
    "2001::/23",     // IETF protocol assignments: Teredo, ORCHID, benchmarking
    "2001:db8::/32", // documentation
    "2002::/16",     // 6to4: reaches the IPv4 address inside it
    "3fff::/20",     // documentation
];

fn networks(list: &[&str]) -> Vec<IpNet> {
    list.iter()
        .map(|net| net.parse().expect("the built-in networks parse"))
        .collect()
}

fn non_global_v4() -> &'static [IpNet] {
    static NETS: OnceLock<Vec<IpNet>> = OnceLock::new();
    NETS.get_or_init(|| networks(&NON_GLOBAL_V4))
}

fn non_global_v6() -> &'static [IpNet] {
    static NETS: OnceLock<Vec<IpNet>> = OnceLock::new();
    NETS.get_or_init(|| networks(&NON_GLOBAL_V6))
}

fn global_v4(ip: Ipv4Addr) -> bool {
    !non_global_v4()
        .iter()
        .any(|net| net.contains(&IpAddr::V4(ip)))
}

fn global_v6(ip: Ipv6Addr) -> bool {
    // IPv4 inside IPv6: IPv4-mapped (::ffff:a.b.c.d) and NAT64's
    // well-known prefix (64:ff9b::a.b.c.d) reach that IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return global_v4(v4);
    }
    let segments = ip.segments();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., a, b, c, d] = ip.octets();
        return global_v4(Ipv4Addr::new(a, b, c, d));
    }
    // Everything else outside global unicast 2000::/3 is refused:
    // unspecified, loopback, IPv4-compatible, multicast, unique-local
    // (fc00::/7), link-local (fe80::/10), site-local, discard-only.
    let global_unicast = segments[0] & 0xe000 == 0x2000;
    global_unicast
        && !non_global_v6()
            .iter()
            .any(|net| net.contains(&IpAddr::V6(ip)))
}

/// Whether the address is globally reachable, so a fetch may go there
/// without an allowance.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => global_v4(v4),
        IpAddr::V6(v6) => global_v6(v6),
    }
}

/// Why [`PrivateAllowance::screen`] turned a URL away.
#[derive(Debug, PartialEq, Eq)]
pub enum UrlRefusal {
    /// Not a full `http://` or `https://` address.
    NotHttp,
    /// An address written in the URL that the rules refuse.
    Refused { host: String, address: String },
}

/// Which non-global addresses the operator allows fetches to
/// (CHORUS_ALLOW_PRIVATE_FETCH): none, all, or some networks (an intranet).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PrivateAllowance {
    #[default]
    None,
    All,
    Networks(Vec<IpNet>),
}

impl PrivateAllowance {
    /// Empty: none; `all`: every address; otherwise addresses or networks
    /// separated by commas (`10.0.0.0/8, fd00::/8, 192.168.1.20`).
    pub fn parse(setting: &str) -> Result<PrivateAllowance, String> {
        let setting = setting.trim();
        if setting.is_empty() || setting.eq_ignore_ascii_case("none") {
            return Ok(PrivateAllowance::None);
        }
        if setting.eq_ignore_ascii_case("all") {
            return Ok(PrivateAllowance::All);
        }
        let mut nets = Vec::new();
        for entry in setting.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let net = match entry.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => entry
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| format!("{entry:?} is not an IP address or network"))?,
            };
            nets.push(net);
        }
        Ok(PrivateAllowance::Networks(nets))
    }

    /// Checks what a URL says by itself before any request: the scheme,
    /// and an address written in it (names are checked by the resolver).
    pub fn screen(&self, url: &Url) -> Result<(), UrlRefusal> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(UrlRefusal::NotHttp);
        }
        let ip = match url.host() {
            None => return Err(UrlRefusal::NotHttp),
            Some(Host::Domain(_)) => return Ok(()),
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        };
        if self.permits(ip) {
            Ok(())
        } else {
            Err(UrlRefusal::Refused {
                host: url.host_str().unwrap_or_default().to_string(),
                address: ip.to_string(),
            })
        }
    }

    /// Whether a fetch may connect to this address.
    pub fn permits(&self, ip: IpAddr) -> bool {
        if is_global(ip) {
            return true;
        }
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match self {
            PrivateAllowance::None => false,
            PrivateAllowance::All => true,
            PrivateAllowance::Networks(nets) => nets.iter().any(|net| net.contains(&ip)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(text: &str) -> bool {
        is_global(text.parse().unwrap())
    }

    #[test]
    fn public_addresses_are_global() {
        for ip in [
            "93.184.215.14",
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:93.184.215.14",
            "64:ff9b::808:808",
        ] {
            assert!(global(ip), "{ip} is public");
        }
    }

    #[test]
    fn the_network_of_the_server_is_refused() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "2002:7f00:1::1",
            "100::1",
        ] {
            assert!(!global(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn an_allowance_opens_only_what_it_names() {
        let none = PrivateAllowance::parse("").unwrap();
        let all = PrivateAllowance::parse("all").unwrap();
        let intranet = PrivateAllowance::parse("10.0.0.0/8, 127.0.0.1").unwrap();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let other_loopback: IpAddr = "127.0.0.2".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.9.8.7".parse().unwrap();
        let metadata: IpAddr = "169.254.169.254".parse().unwrap();
        let public: IpAddr = "1.1.1.1".parse().unwrap();
        assert!(!none.permits(loopback));
        assert!(none.permits(public));
        assert!(all.permits(loopback) && all.permits(metadata));
        assert!(intranet.permits(loopback));
        assert!(intranet.permits(mapped));
        assert!(!intranet.permits(other_loopback));
        assert!(!intranet.permits(metadata));
        assert!(intranet.permits(public));
        assert!(PrivateAllowance::parse("10.0.0.0/33").is_err());
        assert!(PrivateAllowance::parse("intranet").is_err());
    }
}
