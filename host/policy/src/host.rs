//! Host names and IP literals: normalisation of targets and the host patterns of rules.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;

use crate::addr::{canonical_ip, canonical_net, embedded_ipv4};
use crate::error::RuleError;

/// The host of a [`Target`](crate::Target), normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name: lowercase, IDNA-mapped to ASCII (punycode), no trailing dot.
    Name(String),
    /// An IP literal, canonical: IPv4-mapped/compatible IPv6 become IPv4, zone ids stripped.
    Ip(IpAddr),
}

impl Host {
    /// Parses a host as it appears in a URL authority: a name (percent-encoded
    /// and internationalised names allowed), an IPv4 literal in any WHATWG form
    /// (`127.1`, `0x7f000001`, `2130706433`, `0177.0.0.1`), or `[IPv6]` with an
    /// optional zone id. The error is a short reason.
    pub fn parse(text: &str) -> Result<Host, String> {
        if text.is_empty() {
            return Err("the host is empty".into());
        }
        if let Some(inner) = text.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or_else(|| "missing \"]\" after the IPv6 address".to_string())?;
            return parse_v6(inner).map(|ip| Host::Ip(canonical_ip(IpAddr::V6(ip))));
        }
        if text.contains(':') && text.parse::<Ipv6Addr>().is_ok() {
            return Err("IPv6 addresses must be written in brackets, e.g. [::1]".into());
        }
        match url::Host::parse(text) {
            Ok(url::Host::Domain(name)) => normalise_name(&name).map(Host::Name),
            Ok(url::Host::Ipv4(ip)) => Ok(Host::Ip(IpAddr::V4(ip))),
            Ok(url::Host::Ipv6(ip)) => Ok(Host::Ip(canonical_ip(IpAddr::V6(ip)))),
            Err(e) => Err(url_error(e)),
        }
    }

    /// The name, if this host is one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Host::Name(n) => Some(n),
            Host::Ip(_) => None,
        }
    }

    /// The IP, if this host is a literal.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Name(_) => None,
            Host::Ip(ip) => Some(*ip),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

/// A short reason for a URL/host parse error.
pub(crate) fn url_error(e: url::ParseError) -> String {
    match e {
        url::ParseError::EmptyHost => "the host is empty".into(),
        url::ParseError::IdnaError | url::ParseError::InvalidDomainCharacter => {
            "not a valid host name".into()
        }
        url::ParseError::InvalidIpv4Address => "not a valid IPv4 address".into(),
        url::ParseError::InvalidIpv6Address => "not a valid IPv6 address".into(),
        url::ParseError::InvalidPort => "invalid port (expected a number 0-65535)".into(),
        other => other.to_string(),
    }
}

/// Parses the inside of `[...]`, dropping a zone id (`fe80::1%eth0`, `fe80::1%25eth0`).
fn parse_v6(inner: &str) -> Result<Ipv6Addr, String> {
    let addr = inner.split_once('%').map_or(inner, |(a, _zone)| a);
    addr.parse::<Ipv6Addr>()
        .map_err(|_| format!("invalid IPv6 address \"{addr}\""))
}

/// A name from the `url` host parser (already lowercase ASCII): drops one
/// trailing dot and refuses empty labels and `*` (a target names one host).
fn normalise_name(name: &str) -> Result<String, String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return Err("the host name has an empty label".into());
    }
    if name.contains('*') {
        return Err("\"*\" is not allowed in a host name here".into());
    }
    Ok(name.to_string())
}

/// The host part of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// `*`: any host, name or IP.
    Any,
    /// One name, e.g. `api.example.com`. `localhost` only matches `localhost`.
    Exact(String),
    /// `*.example.com`: every name strictly under the apex, never the apex itself.
    /// Holds the apex (`example.com`).
    Subdomains(String),
    /// An IP literal (as a /32 or /128) or a CIDR range; matches IP targets and resolved addresses.
    Net(IpNet),
}

impl HostPattern {
    /// Parses the host part of a rule (`*`, `*.example.com`, `api.example.com`,
    /// `10.0.0.1`, `10.0.0.0/8`, `[::1]`, `[fd00::/8]`).
    pub fn parse(text: &str) -> Result<HostPattern, RuleError> {
        let invalid = |reason: String| RuleError::InvalidHost {
            host: text.to_string(),
            reason,
        };
        if text.is_empty() {
            return Err(RuleError::MissingHost);
        }
        if text == "*" {
            return Ok(HostPattern::Any);
        }
        if let Some(apex) = text.strip_prefix("*.") {
            if apex.contains('*') {
                return Err(RuleError::BadWildcard {
                    host: text.to_string(),
                });
            }
            return match Host::parse(apex).map_err(invalid)? {
                Host::Name(apex) => Ok(HostPattern::Subdomains(apex)),
                Host::Ip(_) => Err(RuleError::BadWildcard {
                    host: text.to_string(),
                }),
            };
        }
        if text.contains('*') {
            return Err(RuleError::BadWildcard {
                host: text.to_string(),
            });
        }
        let bracketed = text.strip_prefix('[').and_then(|t| t.strip_suffix(']'));
        let cidr = bracketed.unwrap_or(text);
        if cidr.contains('/') {
            return parse_cidr(cidr).map(HostPattern::Net);
        }
        match Host::parse(text).map_err(invalid)? {
            Host::Name(name) => Ok(HostPattern::Exact(name)),
            Host::Ip(ip) => Ok(HostPattern::Net(IpNet::from(ip))),
        }
    }

    /// Whether a target host matches (names against names, IPs against ranges).
    pub fn matches(&self, host: &Host) -> bool {
        match (self, host) {
            (HostPattern::Any, _) => true,
            (HostPattern::Exact(n), Host::Name(h)) => n == h,
            (HostPattern::Subdomains(apex), Host::Name(h)) => h
                .strip_suffix(apex.as_str())
                .and_then(|label| label.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty()),
            (HostPattern::Net(net), Host::Ip(ip)) => net.contains(&canonical_ip(*ip)),
            _ => false,
        }
    }

    /// Whether this pattern names `ip` explicitly (an IP literal or CIDR containing it).
    pub fn grants_ip(&self, ip: IpAddr) -> bool {
        matches!(self, HostPattern::Net(net) if net.contains(&canonical_ip(ip)))
    }

    /// For deny rules: whether this pattern names `ip` or an IPv4 address that
    /// `ip` embeds (NAT64, 6to4, Teredo, ISATAP, SIIT; see
    /// [`embedded_ipv4`](crate::embedded_ipv4)), so that a deny rule naming
    /// `127.0.0.1` also refuses `64:ff9b::7f00:1`.
    pub fn names_ip(&self, ip: IpAddr) -> bool {
        let HostPattern::Net(net) = self else {
            return false;
        };
        match canonical_ip(ip) {
            ip @ IpAddr::V4(_) => net.contains(&ip),
            IpAddr::V6(v6) => {
                net.contains(&IpAddr::V6(v6))
                    || embedded_ipv4(v6)
                        .into_iter()
                        .any(|v4| net.contains(&IpAddr::V4(v4)))
            }
        }
    }

    /// For deny rules: [`HostPattern::matches`], and for an IP host also
    /// [`HostPattern::names_ip`].
    pub fn catches(&self, host: &Host) -> bool {
        self.matches(host) || host.ip().is_some_and(|ip| self.names_ip(ip))
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Any => f.write_str("*"),
            HostPattern::Exact(n) => f.write_str(n),
            HostPattern::Subdomains(apex) => write!(f, "*.{apex}"),
            HostPattern::Net(net) if net.prefix_len() == net.max_prefix_len() => {
                write!(f, "{}", Host::Ip(net.addr()))
            }
            HostPattern::Net(IpNet::V4(net)) => write!(f, "{net}"),
            HostPattern::Net(IpNet::V6(net)) => write!(f, "[{net}]"),
        }
    }
}

/// Parses an IP address or CIDR range (`10.0.0.0/8`, `fd00::/8`,
/// `::ffff:10.0.0.0/104`) into a canonical network, refusing set host bits.
pub(crate) fn parse_cidr(text: &str) -> Result<IpNet, RuleError> {
    let invalid = |reason: String| RuleError::InvalidCidr {
        cidr: text.to_string(),
        reason,
    };
    if !text.contains('/') {
        let ip: IpAddr = text.parse().map_err(|_| {
            invalid("expected an IP address or a CIDR range such as 10.0.0.0/8 or fd00::/8".into())
        })?;
        return Ok(IpNet::from(canonical_ip(ip)));
    }
    let net: IpNet = text.parse().map_err(|_| {
        invalid("expected an address and a prefix length such as 10.0.0.0/8 or fd00::/8".into())
    })?;
    if !crate::addr::is_truncated(&net) {
        return Err(invalid(format!(
            "host bits are set (did you mean {}?)",
            net.trunc()
        )));
    }
    Ok(canonical_net(net))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_normalisation() {
        let cases = [
            ("API.Example.COM", "api.example.com"),
            ("api.example.com.", "api.example.com"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("BÜCHER.example", "xn--bcher-kva.example"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("%61pi.example.com", "api.example.com"),
            ("api%2Eexample.com", "api.example.com"),
            ("localhost", "localhost"),
            ("LOCALHOST.", "localhost"),
            ("127.0.0.1", "127.0.0.1"),
            ("127.1", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("0x7f000001", "127.0.0.1"),
            ("0x7f.1", "127.0.0.1"),
            ("0177.0.0.1", "127.0.0.1"),
            ("127.0.0.1.", "127.0.0.1"),
            ("[::1]", "[::1]"),
            ("[::ffff:127.0.0.1]", "127.0.0.1"),
            ("[::ffff:7f00:1]", "127.0.0.1"),
            ("[::127.0.0.1]", "127.0.0.1"),
            ("[fe80::1%eth0]", "[fe80::1]"),
            ("[fe80::1%25eth0]", "[fe80::1]"),
            ("[FD00:EC2::254]", "[fd00:ec2::254]"),
        ];
        for (input, want) in cases {
            let got = Host::parse(input).map(|h| h.to_string());
            assert_eq!(got.as_deref(), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn host_rejects() {
        let cases = [
            ("", "the host is empty"),
            ("a..b", "the host name has an empty label"),
            ("*.example.com", "\"*\" is not allowed in a host name here"),
            (
                "%2A.example.com",
                "\"*\" is not allowed in a host name here",
            ),
            (
                "::1",
                "IPv6 addresses must be written in brackets, e.g. [::1]",
            ),
            ("[::1", "missing \"]\" after the IPv6 address"),
            ("[nope]", "invalid IPv6 address \"nope\""),
            ("256.0.0.1", "not a valid IPv4 address"),
            ("a b", "not a valid host name"),
            ("ex%40ample.com", "not a valid host name"),
        ];
        for (input, want) in cases {
            assert_eq!(Host::parse(input), Err(want.to_string()), "{input:?}");
        }
    }

    #[test]
    fn patterns() {
        let name = |s: &str| Host::Name(s.into());
        let ip = |s: &str| Host::Ip(s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}")));
        let cases = [
            ("*", name("anything.example"), true),
            ("*", ip("10.0.0.1"), true),
            ("*.example.com", name("api.example.com"), true),
            ("*.example.com", name("a.b.example.com"), true),
            ("*.example.com", name("example.com"), false),
            ("*.example.com", name("badexample.com"), false),
            ("*.example.com", name("example.com.evil.net"), false),
            ("*.Example.COM.", name("api.example.com"), true),
            ("api.example.com", name("api.example.com"), true),
            ("api.example.com", name("x.api.example.com"), false),
            ("bücher.example", name("xn--bcher-kva.example"), true),
            ("localhost", name("localhost"), true),
            ("localhost", ip("127.0.0.1"), false),
            ("127.0.0.1", ip("127.0.0.1"), true),
            ("127.0.0.1", name("localhost"), false),
            ("10.0.0.0/8", ip("10.20.30.40"), true),
            ("10.0.0.0/8", ip("11.0.0.1"), false),
            ("[10.0.0.0/8]", ip("10.1.1.1"), true),
            ("[::1]", ip("::1"), true),
            ("[fd00::/8]", ip("fd12::1"), true),
            ("[fd00::/8]", ip("fe80::1"), false),
            ("[::ffff:10.0.0.0/104]", ip("10.9.9.9"), true),
            ("0x7f.1", ip("127.0.0.1"), true),
        ];
        for (pattern, host, want) in cases {
            let p = HostPattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern:?}: {e}"));
            assert_eq!(p.matches(&host), want, "{pattern:?} vs {host:?}");
        }
    }

    #[test]
    fn pattern_rejects() {
        let cases = [
            ("", "missing host (write \"*\" to allow any host)"),
            (
                "api.*.com",
                "invalid wildcard host \"api.*.com\": \"*\" may only stand alone or as the whole first label, as in \"*.example.com\"",
            ),
            (
                "*api.example.com",
                "invalid wildcard host \"*api.example.com\": \"*\" may only stand alone or as the whole first label, as in \"*.example.com\"",
            ),
            (
                "*.10.0.0.1",
                "invalid wildcard host \"*.10.0.0.1\": \"*\" may only stand alone or as the whole first label, as in \"*.example.com\"",
            ),
            (
                "10.0.0.1/8",
                "invalid CIDR \"10.0.0.1/8\": host bits are set (did you mean 10.0.0.0/8?)",
            ),
            (
                "10.0.0.0/33",
                "invalid CIDR \"10.0.0.0/33\": expected an address and a prefix length such as 10.0.0.0/8 or fd00::/8",
            ),
            (
                "[fd00::1/8]",
                "invalid CIDR \"fd00::1/8\": host bits are set (did you mean fd00::/8?)",
            ),
            ("a_b c", "invalid host \"a_b c\": not a valid host name"),
        ];
        for (input, want) in cases {
            let got = HostPattern::parse(input).map_err(|e| e.to_string());
            assert_eq!(got, Err(want.to_string()), "{input:?}");
        }
    }
}
