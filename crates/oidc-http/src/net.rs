//! Network addresses: CIDR blocks, the client address behind trusted reverse
//! proxies, and which addresses are public (for outbound fetches).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hyper::header::HeaderMap;

/// An address block such as `10.0.0.0/8` or `2001:db8::/32`; a bare address is
/// a block of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr/prefix` or a bare address; IPv4-mapped IPv6 blocks are
    /// stored as IPv4 so that they match either spelling.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let bad = || format!("'{s}' is not an IP address or an address block like 10.0.0.0/8");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(match canonical(addr) {
            IpAddr::V4(v4) if addr.is_ipv6() => Cidr { net: IpAddr::V4(v4), prefix: prefix.saturating_sub(96) },
            a => Cidr { net: a, prefix },
        })
    }

    /// Whether `ip` is inside the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Cidr {
    Cidr { net: IpAddr::V4(Ipv4Addr::new(a, b, c, d)), prefix }
}

#[allow(clippy::too_many_arguments)]
const fn v6(s0: u16, s1: u16, s2: u16, s3: u16, s4: u16, s5: u16, s6: u16, s7: u16, prefix: u8) -> Cidr {
    Cidr { net: IpAddr::V6(Ipv6Addr::new(s0, s1, s2, s3, s4, s5, s6, s7)), prefix }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a[..full] != b[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[full] & mask) == (b[full] & mask)
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it is.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The blocks of the IANA IPv4 and IPv6 Special-Purpose Address Registries
/// (RFC 6890 and its updates) that are not globally reachable, plus multicast
/// and the IPv6 blocks that embed IPv4 addresses (NAT64, 6to4, IPv4-compatible,
/// Teredo), which could reach a private IPv4 host through a translator.
const NOT_PUBLIC: &[Cidr] = &[
    v4(0, 0, 0, 0, 8),                       // "this network" (RFC 791)
    v4(10, 0, 0, 0, 8),                      // private (RFC 1918)
    v4(100, 64, 0, 0, 10),                   // shared address space (RFC 6598)
    v4(127, 0, 0, 0, 8),                     // loopback (RFC 1122)
    v4(169, 254, 0, 0, 16),                  // link local (RFC 3927)
    v4(172, 16, 0, 0, 12),                   // private (RFC 1918)
    v4(192, 0, 0, 0, 24),                    // IETF protocol assignments (RFC 6890)
    v4(192, 0, 2, 0, 24),                    // documentation TEST-NET-1 (RFC 5737)
    v4(192, 31, 196, 0, 24),                 // AS112-v4 (RFC 7535)
    v4(192, 52, 193, 0, 24),                 // AMT (RFC 7450)
    v4(192, 88, 99, 0, 24),                  // deprecated 6to4 relay anycast (RFC 7526)
    v4(192, 168, 0, 0, 16),                  // private (RFC 1918)
    v4(192, 175, 48, 0, 24),                 // direct delegation AS112 (RFC 7534)
    v4(198, 18, 0, 0, 15),                   // benchmarking (RFC 2544)
    v4(198, 51, 100, 0, 24),                 // documentation TEST-NET-2 (RFC 5737)
    v4(203, 0, 113, 0, 24),                  // documentation TEST-NET-3 (RFC 5737)
    v4(224, 0, 0, 0, 4),                     // multicast (RFC 5771)
    v4(240, 0, 0, 0, 4),                     // reserved (RFC 1112), including broadcast
    v6(0, 0, 0, 0, 0, 0, 0, 0, 96),          // unspecified, loopback, IPv4-compatible (RFC 4291)
    v6(0x64, 0xff9b, 0, 0, 0, 0, 0, 0, 96),  // NAT64 well-known prefix (RFC 6052)
    v6(0x64, 0xff9b, 1, 0, 0, 0, 0, 0, 48),  // local-use NAT64 (RFC 8215)
    v6(0x100, 0, 0, 0, 0, 0, 0, 0, 64),      // discard-only (RFC 6666)
    v6(0x2001, 0, 0, 0, 0, 0, 0, 0, 23),     // IETF protocol assignments (RFC 2928), incl. Teredo 2001::/32
    v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0, 32), // documentation (RFC 3849)
    v6(0x2002, 0, 0, 0, 0, 0, 0, 0, 16),     // 6to4 (RFC 3056)
    v6(0x3fff, 0, 0, 0, 0, 0, 0, 0, 20),     // documentation (RFC 9637)
    v6(0x5f00, 0, 0, 0, 0, 0, 0, 0, 16),     // segment routing SIDs (RFC 9602)
    v6(0xfc00, 0, 0, 0, 0, 0, 0, 0, 7),      // unique local (RFC 4193)
    v6(0xfe80, 0, 0, 0, 0, 0, 0, 0, 10),     // link local (RFC 4291)
    v6(0xfec0, 0, 0, 0, 0, 0, 0, 0, 10),     // site local, deprecated (RFC 3879)
    v6(0xff00, 0, 0, 0, 0, 0, 0, 0, 8),      // multicast (RFC 4291)
];

/// Whether `ip` is a globally reachable unicast address: not in any block of
/// [`NOT_PUBLIC`] (IPv4-mapped addresses are judged as the IPv4 address).
pub(crate) fn is_public(ip: IpAddr) -> bool {
    let ip = canonical(ip);
    !NOT_PUBLIC.iter().any(|c| c.contains(ip))
}

/// The address of the client that sent a request: the TCP peer, unless the peer
/// is one of the `trusted` reverse proxies, in which case the rightmost address
/// in `Forwarded` (RFC 7239 §5.2, `for=`) or, without it, `X-Forwarded-For`
/// that is not itself a trusted proxy. Headers from any other peer are ignored:
/// anyone can send them. A malformed entry stops the walk at the last proxy.
pub(crate) fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return canonical(peer);
    }
    let forwarded: Vec<&str> = headers.get_all("forwarded").iter().filter_map(|v| v.to_str().ok()).collect();
    let hops: Vec<Option<IpAddr>> = if forwarded.is_empty() {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|h| parse_node(h.trim()))
            .collect()
    } else {
        forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| parse_node(v.trim().trim_matches('"')))
            })
            .collect()
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) => {
                client = *ip;
                if !is_trusted(*ip) {
                    break;
                }
            }
            None => break,
        }
    }
    canonical(client)
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711` or a bare IPv6 address; anything else (`unknown`, an
/// obfuscated identifier) is `None`.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']').and_then(|(a, _)| a.parse().ok());
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    s.rsplit_once(':').and_then(|(a, port)| port.parse::<u16>().ok().and(a.parse::<Ipv4Addr>().ok()).map(IpAddr::V4))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_blocks_match_by_prefix() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains(ip("10.255.1.2")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped addresses match IPv4 blocks");
        let one = Cidr::parse("192.0.2.7").unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6 = Cidr::parse("2001:db8::/33").unwrap();
        assert!(v6.contains(ip("2001:db8:7fff::1")) && !v6.contains(ip("2001:db8:8000::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        for bad in ["10.0.0.0/33", "10.0.0/8", "example.com", "::/129", ""] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn special_purpose_addresses_are_not_public() {
        for a in [
            "0.0.0.0",
            "10.1.1.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "172.31.255.255",
            "192.0.0.8",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2001::1",
            "2001:db8::1",
            "2002:a00:1::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(!is_public(ip(a)), "{a} must not count as public");
        }
        for a in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:93.184.216.34", "192.0.3.1", "198.20.0.1"] {
            assert!(is_public(ip(a)), "{a} is public");
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
        let xff = headers(&[("x-forwarded-for", "203.0.113.9, 10.0.0.5")]);
        // From an untrusted peer the header is ignored: anyone can send it.
        assert_eq!(client_addr(ip("198.51.100.1"), &xff, &trusted), ip("198.51.100.1"));
        // Through two trusted proxies: the rightmost untrusted hop.
        assert_eq!(client_addr(ip("10.0.0.1"), &xff, &trusted), ip("203.0.113.9"));
        // A client that forges a left part cannot choose its address.
        let forged = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9")]);
        assert_eq!(client_addr(ip("10.0.0.1"), &forged, &trusted), ip("203.0.113.9"));
        // Forwarded (RFC 7239) wins over X-Forwarded-For, with quoted IPv6 and ports.
        let fwd = headers(&[
            ("forwarded", "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\""),
            ("x-forwarded-for", "1.1.1.1"),
        ]);
        assert_eq!(client_addr(ip("10.0.0.1"), &fwd, &trusted), ip("2001:db8:cafe::17"));
        // Unknown or garbage stops at the proxy itself.
        let unknown = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(client_addr(ip("10.0.0.1"), &unknown, &trusted), ip("10.0.0.1"));
        assert_eq!(client_addr(ip("10.0.0.1"), &headers(&[]), &trusted), ip("10.0.0.1"));
        let port = headers(&[("x-forwarded-for", "203.0.113.9:5555")]);
        assert_eq!(client_addr(ip("10.0.0.1"), &port, &trusted), ip("203.0.113.9"));
    }
}
