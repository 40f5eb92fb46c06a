//! IP address canonicalisation and classification (public, loopback, private, ...).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// What kind of address an IP is, as far as reachability from a sandbox goes.
///
/// Every class but [`AddressClass::Public`] is refused for a resolved name
/// unless the policy grants that address or range explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// A globally routable unicast address.
    Public,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`) and IPv6 unique-local `fc00::/7`.
    Private,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// Cloud instance metadata: `169.254.169.254`, `fd00:ec2::254`.
    Metadata,
    /// `0.0.0.0`, `::`.
    Unspecified,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// Any other special-purpose range: `0/8`, CGNAT `100.64/10`, documentation,
    /// benchmarking, `240/4`, `2001:db8::/32`, ...
    Reserved,
}

impl AddressClass {
    /// The class as one word, e.g. `"loopback"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressClass::Public => "public",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Metadata => "cloud metadata",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Multicast => "multicast",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Reserved => "reserved",
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The canonical form of an IP: IPv4-mapped (`::ffff:a.b.c.d`) and
/// IPv4-compatible (`::a.b.c.d`, except `::` and `::1`) IPv6 addresses become IPv4.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let bits = u128::from(v6);
            if bits >> 32 == 0 && bits > 1 {
                // `to_ipv4_mapped` failed, so this is the IPv4-compatible form.
                return IpAddr::V4(Ipv4Addr::from(u32::try_from(bits).unwrap_or(0)));
            }
            ip
        }
    }
}

/// The canonical form of a network: the IPv4-mapped part of IPv6 becomes IPv4
/// (`::ffff:10.0.0.0/104` is `10.0.0.0/8`), and host bits are cleared.
pub fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net {
        let prefix = v6.prefix_len();
        if let Some(v4) = v6.network().to_ipv4_mapped()
            && prefix >= 96
            && let Ok(n) = Ipv4Net::new(v4, prefix - 96)
        {
            return IpNet::V4(n.trunc());
        }
    }
    net.trunc()
}

/// Classifies `ip` (after [`canonical_ip`]).
pub fn classify(ip: IpAddr) -> AddressClass {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u8) -> bool {
    Ipv4Net::new(Ipv4Addr::from(net), prefix).is_ok_and(|n| n.contains(&ip))
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u8) -> bool {
    Ipv6Net::new(Ipv6Addr::from(net), prefix).is_ok_and(|n| n.contains(&ip))
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if ip.is_broadcast() {
        AddressClass::Broadcast
    } else if a == 127 {
        AddressClass::Loopback
    } else if ip == Ipv4Addr::new(169, 254, 169, 254) {
        AddressClass::Metadata
    } else if a == 169 && b == 254 {
        AddressClass::LinkLocal
    } else if ip.is_private() {
        AddressClass::Private
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else if a == 0
        || a >= 240
        || in_v4(ip, [100, 64, 0, 0], 10) // shared address space (CGNAT)
        || in_v4(ip, [192, 0, 0, 0], 24) // IETF protocol assignments
        || in_v4(ip, [192, 0, 2, 0], 24) // documentation
        || in_v4(ip, [198, 51, 100, 0], 24) // documentation
        || in_v4(ip, [203, 0, 113, 0], 24) // documentation
        || in_v4(ip, [198, 18, 0, 0], 15) // benchmarking
        || in_v4(ip, [192, 88, 99, 0], 24)
    // 6to4 relay anycast (deprecated)
    {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let seg = ip.segments();
    if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        AddressClass::Metadata
    } else if in_v6(ip, [0xfc00, 0, 0, 0, 0, 0, 0, 0], 7)
        || in_v6(ip, [0xfec0, 0, 0, 0, 0, 0, 0, 0], 10)
    {
        AddressClass::Private
    } else if in_v6(ip, [0xfe80, 0, 0, 0, 0, 0, 0, 0], 10) {
        AddressClass::LinkLocal
    } else if seg[0] >> 8 == 0xff {
        AddressClass::Multicast
    } else if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        // NAT64: the embedded IPv4 address is what the translator reaches.
        embedded_v4(seg[6], seg[7])
    } else if seg[0] == 0x2002 {
        // 6to4: the embedded IPv4 address is the relay's destination.
        embedded_v4(seg[1], seg[2])
    } else if in_v6(ip, [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32)
        || in_v6(ip, [0x3fff, 0, 0, 0, 0, 0, 0, 0], 20) // documentation
        || in_v6(ip, [0x2001, 0, 0, 0, 0, 0, 0, 0], 23) // IETF protocol assignments, Teredo
        || in_v6(ip, [0x100, 0, 0, 0, 0, 0, 0, 0], 64) // discard-only
        || in_v6(ip, [0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48)
    // local-use NAT64
    {
        AddressClass::Reserved
    } else if in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        // An otherwise global address may still carry an IPv4 destination
        // (ISATAP interface ids): a non-public one makes it non-public.
        if embedded_ipv4(ip)
            .into_iter()
            .any(|v4| classify_v4(v4) != AddressClass::Public)
        {
            AddressClass::Reserved
        } else {
            AddressClass::Public
        }
    } else {
        AddressClass::Reserved
    }
}

fn embedded_v4(hi: u16, lo: u16) -> AddressClass {
    let v4 = Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match classify_v4(v4) {
        AddressClass::Public => AddressClass::Public,
        _ => AddressClass::Reserved,
    }
}

/// The IPv4 addresses an IPv6 address may carry to an IPv4 destination, by
/// the translation and tunnelling schemes that embed one:
///
/// - NAT64 well-known prefix `64:ff9b::/96` (RFC 6052): the last 32 bits;
/// - NAT64 local-use prefix `64:ff9b:1::/48` (RFC 8215): every RFC 6052 layout
///   an operator may pick within it (prefix lengths 48, 56, 64 and 96);
/// - 6to4 `2002::/16` (RFC 3056): bits 16–48;
/// - Teredo `2001::/32` (RFC 4380): the server (bits 32–64) and the
///   obfuscated client (last 32 bits, inverted);
/// - ISATAP interface ids `::0:5efe:a.b.c.d` / `::200:5efe:a.b.c.d` (RFC 5214);
/// - IPv4-translated `::ffff:0:a.b.c.d` (RFC 2765 SIIT).
///
/// IPv4-mapped and IPv4-compatible forms are not listed: [`canonical_ip`]
/// already turns them into IPv4. Deny rules naming an IPv4 address or range
/// also catch every IPv6 form embedding it; [`classify`] calls such an
/// address non-public when an embedded IPv4 is.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let b = ip.octets();
    let v4 = |at: &[u8]| match at {
        [a, b, c, d, ..] => Some(Ipv4Addr::new(*a, *b, *c, *d)),
        _ => None,
    };
    let seg = ip.segments();
    let mut out = Vec::new();
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        out.extend(v4(&b[12..]));
    } else if seg[..3] == [0x64, 0xff9b, 1] {
        // RFC 6052 layouts: the IPv4 bits follow the prefix, skipping bits 64-71.
        let mut skipped = [0u8; 15];
        skipped[..8].copy_from_slice(&b[..8]);
        skipped[8..].copy_from_slice(&b[9..]);
        for prefix_bytes in [6, 7, 8] {
            out.extend(v4(&skipped[prefix_bytes..]));
        }
        out.extend(v4(&b[12..]));
    } else if seg[0] == 0x2002 {
        out.extend(v4(&b[2..]));
    } else if seg[..2] == [0x2001, 0] {
        out.extend(v4(&b[4..]));
        out.extend(v4(&[!b[12], !b[13], !b[14], !b[15]]));
    } else if seg[..6] == [0, 0, 0, 0, 0xffff, 0] {
        out.extend(v4(&b[12..]));
    }
    if b[8] & 0xfd == 0 && b[9..12] == [0, 0x5e, 0xfe] {
        out.extend(v4(&b[12..]));
    }
    out.dedup();
    out
}

/// The host-bits-cleared form of a CIDR, for "did you mean" hints.
pub(crate) fn is_truncated(net: &IpNet) -> bool {
    net.trunc() == *net
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn classification() {
        use AddressClass::*;
        let cases = [
            ("8.8.8.8", Public),
            ("1.1.1.1", Public),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("172.32.0.1", Public),
            ("192.168.1.1", Private),
            ("169.254.1.1", LinkLocal),
            ("169.254.169.254", Metadata),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Reserved),
            ("224.0.0.1", Multicast),
            ("239.255.0.1", Multicast),
            ("255.255.255.255", Broadcast),
            ("240.0.0.1", Reserved),
            ("100.64.0.1", Reserved),
            ("100.127.255.255", Reserved),
            ("100.128.0.1", Public),
            ("192.0.2.1", Reserved),
            ("198.51.100.7", Reserved),
            ("203.0.113.9", Reserved),
            ("198.18.0.1", Reserved),
            ("192.0.0.8", Reserved),
            ("::", Unspecified),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", Metadata),
            ("::127.0.0.1", Loopback),
            ("::10.0.0.1", Private),
            ("fd00:ec2::254", Metadata),
            ("fd12:3456::1", Private),
            ("fc00::1", Private),
            ("fe80::1", LinkLocal),
            ("ff02::1", Multicast),
            ("2001:db8::1", Reserved),
            ("2606:4700:4700::1111", Public),
            ("64:ff9b::7f00:1", Reserved),
            ("64:ff9b::808:808", Public),
            ("2002:7f00:1::", Reserved),
            ("2001::1", Reserved),
            ("100::1", Reserved),
            ("4000::1", Reserved),
            // IPv4-embedding forms take the class of the IPv4 they carry.
            ("64:ff9b::a00:1", Reserved),
            ("64:ff9b::a9fe:a9fe", Reserved),
            ("64:ff9b::101:101", Public),
            ("64:ff9b:1::7f00:1", Reserved),
            ("64:ff9b:1:7f00:0:100::", Reserved),
            ("2002:a00:1::1", Reserved),
            ("2002:808:808::1", Public),
            ("2002:c0a8:101::", Reserved),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Reserved),
            ("2606:4700::5efe:7f00:1", Reserved),
            ("2606:4700::200:5efe:a00:1", Reserved),
            ("2606:4700::5efe:808:808", Public),
            ("::ffff:0:7f00:1", Reserved),
        ];
        for (input, want) in cases {
            assert_eq!(classify(ip(input)), want, "{input:?}");
        }
    }

    #[test]
    fn embedded() {
        let cases: [(&str, &[&str]); 12] = [
            ("64:ff9b::7f00:1", &["127.0.0.1"]),
            ("64:ff9b::a9fe:a9fe", &["169.254.169.254"]),
            // RFC 6052 /48 layout: 127.0 in bits 48-63, 0.1 in bits 72-87.
            (
                "64:ff9b:1:7f00:0:100::",
                &["127.0.0.1", "0.0.1.0", "0.1.0.0", "0.0.0.0"],
            ),
            ("64:ff9b:1::a00:1", &["0.0.0.0", "0.0.0.10", "10.0.0.1"]),
            ("2002:7f00:1::", &["127.0.0.1"]),
            ("2002:a9fe:a9fe:1::5", &["169.254.169.254"]),
            // Teredo: server 65.54.227.120, client 192.0.2.45 (inverted).
            (
                "2001:0:4136:e378:8000:63bf:3fff:fdd2",
                &["65.54.227.120", "192.0.2.45"],
            ),
            ("fe80::5efe:a00:1", &["10.0.0.1"]),
            ("2001:db8::200:5efe:c0a8:101", &["192.168.1.1"]),
            ("::ffff:0:a00:1", &["10.0.0.1"]),
            ("2606:4700::1111", &[]),
            ("::1", &[]),
        ];
        for (input, want) in cases {
            let v6: Ipv6Addr = input.parse().unwrap_or_else(|e| panic!("{input:?}: {e}"));
            let got: Vec<String> = embedded_ipv4(v6).iter().map(|v| v.to_string()).collect();
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn canonical() {
        let cases = [
            ("::ffff:127.0.0.1", "127.0.0.1"),
            ("::ffff:7f00:1", "127.0.0.1"),
            ("::127.0.0.1", "127.0.0.1"),
            ("::1", "::1"),
            ("::", "::"),
            ("fe80::1", "fe80::1"),
            ("10.0.0.1", "10.0.0.1"),
        ];
        for (input, want) in cases {
            assert_eq!(canonical_ip(ip(input)), ip(want), "{input:?}");
        }
        let nets = [
            ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
            ("::ffff:0.0.0.0/96", "0.0.0.0/0"),
            ("fd00::/8", "fd00::/8"),
            ("10.0.0.0/8", "10.0.0.0/8"),
        ];
        for (input, want) in nets {
            let got = canonical_net(input.parse().unwrap_or_else(|e| panic!("{input:?}: {e}")));
            assert_eq!(got.to_string(), want, "{input:?}");
        }
    }
}
