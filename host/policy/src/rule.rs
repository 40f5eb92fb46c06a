//! One allow or deny rule: `[METHODS ]scheme://host[:ports][/path[*]]`, plus an optional address allowance.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::addr::canonical_ip;
use crate::error::RuleError;
use crate::host::{HostPattern, parse_cidr};
use crate::mqtt::TopicFilter;
use crate::path::PathPattern;
use crate::pin::Pin;
use crate::ports::PortPattern;
use crate::scheme::Scheme;
use crate::secret::SecretHeader;
use crate::target::Target;

/// One parsed rule of an `allow` or `deny` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The line of the policy file it is on (1-based; 0 when not from a file).
    pub line: u32,
    /// The rule text as written (the `rule` string of an inline table).
    pub text: String,
    /// Allowed HTTP methods (uppercase); `None` for any.
    pub methods: Option<Vec<String>>,
    /// The scheme; an `http(s)` rule also covers `sse+http(s)` targets.
    pub scheme: Scheme,
    /// The host part.
    pub host: HostPattern,
    /// The port part (the scheme default when omitted).
    pub ports: PortPattern,
    /// The path part (URL schemes only).
    pub path: PathPattern,
    /// Non-public addresses the rule's host name may resolve to (`addresses = [...]`).
    pub addresses: Vec<IpNet>,
    /// For listening rules: the only peers whose connections or datagrams are
    /// accepted (`peers = [...]`); empty accepts any peer that can reach the socket.
    pub peers: Vec<IpNet>,
    /// For MQTT rules: the topic filter after the broker
    /// (`mqtt://broker/sensors/#`); `None` grants (or denies) the broker
    /// connection only — or, on a deny rule, every topic.
    pub topics: Option<TopicFilter>,
    /// Headers the host adds to requests this rule allows (`headers = {...}`),
    /// with values the guest never sees.
    pub secrets: Vec<SecretHeader>,
    /// SPKI pins (`pins = [...]`): a TLS connection this rule allows must
    /// present a chain holding one of them. Empty: no pinning.
    pub pins: Vec<Pin>,
}

impl Rule {
    /// Parses a rule string. `line` is recorded for messages.
    pub fn parse(text: &str, line: u32) -> Result<Rule, RuleError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(RuleError::Empty);
        }
        let (methods, url) = match trimmed.split_once(char::is_whitespace) {
            Some((methods, url)) => (Some(methods), url.trim_start()),
            None => (None, trimmed),
        };
        if url.contains(char::is_whitespace) || methods.is_some_and(|m| m.contains("://")) {
            return Err(RuleError::Whitespace(trimmed.to_string()));
        }
        let Some((scheme_text, rest)) = url.split_once("://") else {
            return Err(RuleError::MissingScheme(url.to_string()));
        };
        let scheme = Scheme::parse(scheme_text)
            .ok_or_else(|| RuleError::UnknownScheme(scheme_text.to_string()))?;
        let methods = methods.map(|m| parse_methods(m, scheme)).transpose()?;
        let (host_text, ports_text, path_text) = if scheme.is_mqtt() {
            // The topic filter may hold '#' and '?'; only the broker part may not.
            let parts = split_authority(rest)?;
            let broker = format!("{}:{}", parts.0, parts.1.unwrap_or_default());
            if let Some(i) = broker.find(['?', '#']) {
                return Err(RuleError::QueryNotAllowed(broker[i..].to_string()));
            }
            parts
        } else {
            if let Some(i) = rest.find(['?', '#']) {
                return Err(RuleError::QueryNotAllowed(rest[i..].to_string()));
            }
            split_authority(rest)?
        };
        let (path_text, topics) = match path_text.strip_prefix('/') {
            Some(filter) if scheme.is_mqtt() => ("", Some(TopicFilter::filter(filter)?)),
            _ => (path_text, None),
        };
        let host = HostPattern::parse(host_text)?;
        let ports = match ports_text {
            Some(p) => PortPattern::parse(p)?,
            None => match scheme.default_port() {
                Some(p) => PortPattern::single(p),
                None if scheme == Scheme::UdpMulticast => PortPattern::Any,
                None => return Err(RuleError::MissingPort(scheme)),
            },
        };
        if !scheme.has_path() && !path_text.is_empty() {
            return Err(RuleError::PathNotAllowed {
                scheme,
                path: path_text.to_string(),
            });
        }
        let path = PathPattern::parse(path_text)?;
        if scheme == Scheme::UdpMulticast && !is_multicast_pattern(&host) {
            return Err(RuleError::NotMulticast(host_text.to_string()));
        }
        Ok(Rule {
            line,
            text: text.to_string(),
            methods,
            scheme,
            host,
            ports,
            path,
            addresses: Vec::new(),
            peers: Vec::new(),
            topics,
            secrets: Vec::new(),
            pins: Vec::new(),
        })
    }

    /// Restricts a listening rule to these peers (`peers = ["127.0.0.1", "10.0.0.0/8"]`).
    pub fn with_peers<S: AsRef<str>>(mut self, peers: &[S]) -> Result<Rule, RuleError> {
        if !self.scheme.listens() {
            return Err(RuleError::PeersNeedListen(self.scheme));
        }
        for a in peers {
            let a = a.as_ref();
            let bare = a
                .strip_prefix('[')
                .and_then(|x| x.strip_suffix(']'))
                .unwrap_or(a);
            let net = parse_cidr(bare).map_err(|e| RuleError::InvalidPeer {
                address: a.to_string(),
                reason: match e {
                    RuleError::InvalidCidr { reason, .. } => reason,
                    other => other.to_string(),
                },
            })?;
            self.peers.push(net);
        }
        Ok(self)
    }

    /// Attaches headers the host injects (`headers = {...}`); only rules of
    /// the HTTP family and WebSocket clients send headers.
    pub fn with_secrets(mut self, secrets: Vec<SecretHeader>) -> Result<Rule, RuleError> {
        if !self.scheme.has_path() {
            return Err(RuleError::HeadersNeedHttp(self.scheme));
        }
        self.secrets = secrets;
        Ok(self)
    }

    /// Attaches SPKI pins (`pins = ["sha256/..."]`); only rules whose
    /// connections use TLS (https, wss, sse+https, tls) take them.
    pub fn with_pins<S: AsRef<str>>(mut self, pins: &[S]) -> Result<Rule, RuleError> {
        if !self.scheme.uses_tls() {
            return Err(RuleError::PinsNeedTls(self.scheme));
        }
        for pin in pins {
            self.pins
                .push(Pin::parse(pin.as_ref()).map_err(RuleError::InvalidPin)?);
        }
        Ok(self)
    }

    /// Whether a listening rule accepts a connection or datagram from `ip`.
    pub fn accepts_peer(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        self.peers.is_empty() || self.peers.iter().any(|net| net.contains(&ip))
    }

    /// Attaches an address allowance (`addresses = ["10.0.0.0/8", "fd00::/8"]`).
    pub fn with_addresses<S: AsRef<str>>(mut self, addresses: &[S]) -> Result<Rule, RuleError> {
        if !addresses.is_empty() && matches!(self.host, HostPattern::Net(_)) {
            return Err(RuleError::AddressesNeedName(self.host.to_string()));
        }
        for a in addresses {
            let a = a.as_ref();
            let bare = a
                .strip_prefix('[')
                .and_then(|x| x.strip_suffix(']'))
                .unwrap_or(a);
            let net = parse_cidr(bare).map_err(|e| RuleError::InvalidAddress {
                address: a.to_string(),
                reason: match e {
                    RuleError::InvalidCidr { reason, .. } => reason,
                    other => other.to_string(),
                },
            })?;
            self.addresses.push(net);
        }
        Ok(self)
    }

    /// Scheme, host and port match (path and method ignored): the rule is
    /// about this endpoint. For a listening rule, port 0 (any port the OS
    /// picks) needs a rule port of `*` or exactly `0` (see [`PortPattern::matches_bind`]).
    pub fn matches_endpoint(&self, target: &Target) -> bool {
        self.scheme.covers(target.scheme)
            && self.host.matches(&target.host)
            && self.admits_port(target.port)
    }

    /// As an allow rule, whether the port is granted (bind semantics for listening rules).
    pub(crate) fn admits_port(&self, port: u16) -> bool {
        if self.scheme.listens() {
            self.ports.matches_bind(port)
        } else {
            self.ports.matches(port)
        }
    }

    /// As a deny rule: scheme, host (or an IPv4 address the target's IPv6
    /// address embeds) and port match.
    fn catches_endpoint(&self, target: &Target) -> bool {
        self.scheme.covers(target.scheme)
            && self.host.catches(&target.host)
            && self.ports.matches(target.port)
    }

    fn method_matches(&self, target: &Target) -> bool {
        self.methods
            .as_ref()
            .is_none_or(|m| m.iter().any(|m| m == target.effective_method()))
    }

    /// As an allow rule: endpoint, every reading of the path, and the method match.
    pub fn allows(&self, target: &Target) -> bool {
        self.matches_endpoint(target)
            && self.path.allows(&target.path)
            && self.method_matches(target)
    }

    /// As an allow rule, ignoring the method.
    pub(crate) fn allows_url(&self, target: &Target) -> bool {
        self.matches_endpoint(target) && self.path.allows(&target.path)
    }

    /// As a deny rule for an MQTT broker's topics: scheme, host and port
    /// match (see [`crate::mqtt`]).
    pub(crate) fn catches_broker(&self, broker: &Target) -> bool {
        self.catches_endpoint(broker)
    }

    /// As a deny rule: endpoint, some reading of the path, and the method
    /// match. An MQTT deny rule with a topic filter denies those topics, not
    /// the broker connection.
    pub fn catches(&self, target: &Target) -> bool {
        self.topics.is_none()
            && self.catches_endpoint(target)
            && self.path.catches(&target.path)
            && self.method_matches(target)
    }

    /// As a deny rule at connection level: the rule has no path or method
    /// restriction, scheme and port match, and its host matches the target's
    /// host or names `ip` (or an IPv4 address `ip` embeds).
    pub fn catches_address(&self, target: &Target, ip: IpAddr) -> bool {
        self.methods.is_none()
            && self.topics.is_none()
            && self.path == PathPattern::Any
            && self.scheme.covers(target.scheme)
            && self.ports.matches(target.port)
            && (self.host.catches(&target.host) || self.host.names_ip(ip))
    }

    /// Whether the address allowance names `ip`.
    pub fn allowance_grants(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        self.addresses.iter().any(|net| net.contains(&ip))
    }
}

fn parse_methods(text: &str, scheme: Scheme) -> Result<Vec<String>, RuleError> {
    if !scheme.takes_methods() {
        return Err(RuleError::MethodsNotAllowed(scheme));
    }
    text.split(',').map(known_method).collect()
}

/// Methods a rule may name: RFC 9110's (but `CONNECT`, which no guest may
/// send), `PATCH`, and WebDAV's. Any other token is far likelier a typo that
/// would silently never match than a method some server understands.
pub const KNOWN_METHODS: [&str; 18] = [
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "OPTIONS",
    "TRACE",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "REPORT",
    "SEARCH",
    "QUERY",
];

/// One method of a rule's list, which must be a known method in upper case.
fn known_method(method: &str) -> Result<String, RuleError> {
    if !crate::target::is_token(method) {
        return Err(RuleError::InvalidMethod(method.to_string()));
    }
    let upper = method.to_ascii_uppercase();
    if KNOWN_METHODS.contains(&upper.as_str()) {
        if upper != method {
            return Err(RuleError::MethodCase {
                method: method.to_string(),
                upper,
            });
        }
        return Ok(upper);
    }
    let near = KNOWN_METHODS
        .iter()
        .map(|m| (crate::file::edit_distance(&upper, m), *m))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d);
    let hint = match near {
        Some((_, m)) => format!("did you mean \"{m}\"?"),
        None => format!("expected one of {}", KNOWN_METHODS.join(", ")),
    };
    Err(RuleError::UnknownMethod {
        method: method.to_string(),
        hint,
    })
}

/// Splits what follows `scheme://` into host, optional ports and path.
///
/// An IPv4 address followed by `/N` (N ≤ 32, then `:`, `/` or the end) is a
/// CIDR range: `tcp://10.0.0.0/8:5432`. IPv6 addresses and ranges go in
/// brackets: `[::1]`, `[fd00::/8]`.
fn split_authority(rest: &str) -> Result<(&str, Option<&str>, &str), RuleError> {
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(at) = authority.rfind('@') {
        return Err(RuleError::Userinfo(authority[..at].to_string()));
    }
    let host_end = if rest.starts_with('[') {
        rest.find(']')
            .map(|i| i + 1)
            .ok_or_else(|| RuleError::InvalidHost {
                host: rest.to_string(),
                reason: "missing \"]\" after the IPv6 address".into(),
            })?
    } else {
        let end = rest.find([':', '/']).unwrap_or(rest.len());
        cidr_end(rest, end).unwrap_or(end)
    };
    let (host, after) = rest.split_at(host_end);
    let (ports, path) = match after.strip_prefix(':') {
        Some(p) => {
            let end = p.find('/').unwrap_or(p.len());
            (Some(&p[..end]), &p[end..])
        }
        None if after.is_empty() || after.starts_with('/') => (None, after),
        None => {
            return Err(RuleError::InvalidHost {
                host: rest.to_string(),
                reason: format!("unexpected \"{after}\" after the host"),
            });
        }
    };
    Ok((host, ports, path))
}

/// If `rest[..end]` is a dotted IPv4 address followed by `/N` (N ≤ 32) and then
/// `:`, `/` or the end, the end of the CIDR.
fn cidr_end(rest: &str, end: usize) -> Option<usize> {
    rest[..end].parse::<std::net::Ipv4Addr>().ok()?;
    let after = rest[end..].strip_prefix('/')?;
    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
    let n: u8 = after[..digits].parse().ok()?;
    let next = after[digits..].chars().next();
    (digits > 0 && n <= 32 && matches!(next, None | Some(':') | Some('/')))
        .then_some(end + 1 + digits)
}

fn is_multicast_pattern(host: &HostPattern) -> bool {
    match host {
        HostPattern::Net(net) => {
            crate::addr::classify(net.network()) == crate::AddressClass::Multicast
                && crate::addr::classify(net.broadcast()) == crate::AddressClass::Multicast
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> Rule {
        Rule::parse(text, 1).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn target(url: &str) -> Target {
        Target::parse(url).unwrap_or_else(|e| panic!("{url:?}: {e}"))
    }

    #[test]
    fn parts() {
        // (rule, methods, scheme, host, ports, path)
        let cases = [
            (
                "https://api.example.com/v1/*",
                "",
                "https",
                "api.example.com",
                "443",
                "/v1/*",
            ),
            (
                "GET,HEAD https://status.example.com/",
                "GET,HEAD",
                "https",
                "status.example.com",
                "443",
                "/",
            ),
            (
                "wss://chat.example.com",
                "",
                "wss",
                "chat.example.com",
                "443",
                "",
            ),
            (
                "http://127.0.0.1:1000-2000",
                "",
                "http",
                "127.0.0.1",
                "1000-2000",
                "",
            ),
            ("http://host:80,8080", "", "http", "host", "80,8080", ""),
            ("tcp://*.internal:5432", "", "tcp", "*.internal", "5432", ""),
            ("tcp://10.0.0.0/8:5432", "", "tcp", "10.0.0.0/8", "5432", ""),
            ("http://10.0.0.0/8", "", "http", "10.0.0.0/8", "80", ""),
            (
                "http://10.0.0.0/8/api/*",
                "",
                "http",
                "10.0.0.0/8",
                "80",
                "/api/*",
            ),
            (
                "http://10.0.0.1:80/24/*",
                "",
                "http",
                "10.0.0.1",
                "80",
                "/24/*",
            ),
            ("http://10.0.0.1/v1", "", "http", "10.0.0.1", "80", "/v1"),
            ("http://[::1]:8080", "", "http", "[::1]", "8080", ""),
            ("http://[fd00::/8]:80", "", "http", "[fd00::/8]", "80", ""),
            (
                "http://[::ffff:127.0.0.1]",
                "",
                "http",
                "127.0.0.1",
                "80",
                "",
            ),
            (
                "sse+https://stream.example.com/events",
                "",
                "sse+https",
                "stream.example.com",
                "443",
                "/events",
            ),
            (
                "tcp-listen://127.0.0.1:8080",
                "",
                "tcp-listen",
                "127.0.0.1",
                "8080",
                "",
            ),
            (
                "udp-bind://0.0.0.0:45454",
                "",
                "udp-bind",
                "0.0.0.0",
                "45454",
                "",
            ),
            (
                "udp-multicast://239.255.0.1",
                "",
                "udp-multicast",
                "239.255.0.1",
                "*",
                "",
            ),
            (
                "udp-multicast://[ff02::fb]:5353",
                "",
                "udp-multicast",
                "[ff02::fb]",
                "5353",
                "",
            ),
            ("https://*:*", "", "https", "*", "*", ""),
            (
                "HTTPS://BÜCHER.example/",
                "",
                "https",
                "xn--bcher-kva.example",
                "443",
                "/",
            ),
            (
                "https://x.example/a/../b/*",
                "",
                "https",
                "x.example",
                "443",
                "/b/*",
            ),
        ];
        for (input, methods, scheme, host, ports, path) in cases {
            let r = rule(input);
            let got = (
                r.methods.map(|m| m.join(",")).unwrap_or_default(),
                r.scheme.as_str(),
                r.host.to_string(),
                r.ports.to_string(),
                r.path.to_string(),
            );
            assert_eq!(
                got,
                (
                    methods.to_string(),
                    scheme,
                    host.to_string(),
                    ports.to_string(),
                    path.to_string()
                ),
                "{input:?}"
            );
        }
    }

    #[test]
    fn rejects() {
        let cases = [
            (
                "",
                "the rule is empty (expected e.g. \"https://api.example.com/v1/*\")",
            ),
            (
                "api.example.com",
                "missing \"scheme://\" (did you mean \"https://api.example.com\"?)",
            ),
            (
                "htp://x",
                "unknown scheme \"htp\" (expected one of http, https, ws, wss, sse+http, sse+https, tcp, tls, tcp-listen, ws-listen, udp, udp-bind, udp-multicast, mqtt, mqtts, mqtt-publish, mqtt-subscribe, bus, bus-publish, bus-subscribe)",
            ),
            ("https://", "missing host (write \"*\" to allow any host)"),
            (
                "tcp://db.internal",
                "tcp rules need a port, e.g. \"tcp://db.internal:5432\" (or \":*\" for any port)",
            ),
            (
                "udp://10.0.0.1",
                "udp rules need a port, e.g. \"udp://db.internal:5432\" (or \":*\" for any port)",
            ),
            ("tcp://db:5432/x", "tcp rules take no path; remove \"/x\""),
            (
                "https://x.example/a?b=1",
                "rules match paths only; remove \"?b=1\"",
            ),
            (
                "https://x.example/#top",
                "rules match paths only; remove \"#top\"",
            ),
            (
                "https://user@x.example/",
                "rules take no user info; remove \"user@\"",
            ),
            (
                "https://x.example@evil.com/",
                "rules take no user info; remove \"x.example@\"",
            ),
            (
                "https://user:pw@x.example:443/",
                "rules take no user info; remove \"user:pw@\"",
            ),
            (
                "GET wss://chat.example.com",
                "methods apply only to http and https rules, not wss",
            ),
            (
                "GET tcp://db:1",
                "methods apply only to http and https rules, not tcp",
            ),
            (
                "GET,,POST https://x.example/",
                "invalid method \"\" (expected a comma-separated list like \"GET,HEAD\" before the URL)",
            ),
            (
                "GET https://x.example/ extra",
                "unexpected space in \"GET https://x.example/ extra\" (write methods, one space, then the URL)",
            ),
            (
                "https://x.example:99999",
                "invalid port \"99999\": expected a port, a list like 80,8080, an inclusive range like 1000-2000, or *",
            ),
            (
                "https://x.example:2000-1000",
                "invalid port \"2000-1000\": the range 2000-1000 is backwards (write 1000-2000)",
            ),
            (
                "https://x.example/a*b",
                "invalid path \"/a*b\": \"*\" may only end a path, as a prefix wildcard (e.g. /v1/*)",
            ),
            (
                "https://*.*.example",
                "invalid wildcard host \"*.*.example\": \"*\" may only stand alone or as the whole first label, as in \"*.example.com\"",
            ),
            (
                "https://ex*.com",
                "invalid wildcard host \"ex*.com\": \"*\" may only stand alone or as the whole first label, as in \"*.example.com\"",
            ),
            (
                "tcp://10.0.0.1/8:5432",
                "invalid CIDR \"10.0.0.1/8\": host bits are set (did you mean 10.0.0.0/8?)",
            ),
            (
                "http://[::1",
                "invalid host \"[::1\": missing \"]\" after the IPv6 address",
            ),
            (
                "http://[::1]x",
                "invalid host \"[::1]x\": unexpected \"x\" after the host",
            ),
            (
                "udp-multicast://10.0.0.1",
                "udp-multicast rules need a multicast group address or range (224.0.0.0/4 or ff00::/8), not \"10.0.0.1\"",
            ),
            (
                "udp-multicast://*",
                "udp-multicast rules need a multicast group address or range (224.0.0.0/4 or ff00::/8), not \"*\"",
            ),
            (
                "https://a b.example",
                "unexpected space in \"https://a b.example\" (write methods, one space, then the URL)",
            ),
        ];
        for (input, want) in cases {
            let got = Rule::parse(input, 1).map_err(|e| e.to_string());
            assert_eq!(got, Err(want.to_string()), "{input:?}");
        }
    }

    #[test]
    fn allows() {
        let cases = [
            (
                "https://api.example.com/v1/*",
                "https://api.example.com/v1/data",
                None,
                true,
            ),
            (
                "https://api.example.com/v1/*",
                "https://api.example.com/v2/data",
                None,
                false,
            ),
            (
                "https://api.example.com/v1/*",
                "https://api.example.com/v1/../admin",
                None,
                false,
            ),
            (
                "https://api.example.com/v1/*",
                "https://api.example.com:8443/v1/x",
                None,
                false,
            ),
            (
                "https://api.example.com/v1/*",
                "http://api.example.com/v1/x",
                None,
                false,
            ),
            (
                "https://api.example.com/v1/*",
                "https://API.EXAMPLE.COM./v1/x",
                None,
                true,
            ),
            (
                "https://api.example.com/v1/*",
                "https://api.example.com@evil.com/v1/x",
                None,
                false,
            ),
            (
                "https://api.example.com/v1/*",
                "https://evil.com@api.example.com/v1/x",
                None,
                true,
            ),
            (
                "https://api.example.com",
                "sse+https://api.example.com/events",
                None,
                true,
            ),
            (
                "http://api.example.com",
                "sse+http://api.example.com/events",
                None,
                true,
            ),
            (
                "sse+https://api.example.com",
                "https://api.example.com/events",
                None,
                false,
            ),
            (
                "https://api.example.com",
                "wss://api.example.com/",
                None,
                false,
            ),
            (
                "GET,HEAD https://status.example.com/",
                "https://status.example.com/",
                Some("head"),
                true,
            ),
            (
                "GET,HEAD https://status.example.com/",
                "https://status.example.com/",
                Some("POST"),
                false,
            ),
            (
                "GET,HEAD https://status.example.com/",
                "https://status.example.com/",
                None,
                true,
            ),
            (
                "POST https://api.example.com/",
                "sse+https://api.example.com/",
                None,
                false,
            ),
            (
                "http://127.0.0.1:1000-2000",
                "http://127.0.0.1:1500/",
                None,
                true,
            ),
            (
                "http://127.0.0.1:1000-2000",
                "http://127.1:2000/",
                None,
                true,
            ),
            (
                "http://127.0.0.1:1000-2000",
                "http://2130706433:1999/",
                None,
                true,
            ),
            (
                "http://127.0.0.1:1000-2000",
                "http://0x7f000001:1000/",
                None,
                true,
            ),
            (
                "http://127.0.0.1:1000-2000",
                "http://0177.0.0.1:1000/",
                None,
                true,
            ),
            (
                "http://127.0.0.1:1000-2000",
                "http://[::ffff:127.0.0.1]:1000/",
                None,
                true,
            ),
            (
                "http://127.0.0.1:1000-2000",
                "http://127.0.0.1:2001/",
                None,
                false,
            ),
            (
                "http://127.0.0.1:1000-2000",
                "http://localhost:1500/",
                None,
                false,
            ),
            (
                "http://localhost:8080",
                "http://localhost:8080/",
                None,
                true,
            ),
            (
                "http://localhost:8080",
                "http://127.0.0.1:8080/",
                None,
                false,
            ),
            (
                "tcp://*.internal:5432",
                "tcp://db.internal:5432",
                None,
                true,
            ),
            ("tcp://*.internal:5432", "tcp://internal:5432", None, false),
            (
                "tcp://*.internal:5432",
                "tls://db.internal:5432",
                None,
                false,
            ),
            ("tcp://10.0.0.0/8:5432", "tcp://10.1.2.3:5432", None, true),
            (
                "tcp://10.0.0.0/8:5432",
                "tcp://[::ffff:10.1.2.3]:5432",
                None,
                true,
            ),
            (
                "tcp://10.0.0.0/8:5432",
                "tcp://db.internal:5432",
                None,
                false,
            ),
            ("http://[fd00::/8]:80", "http://[fd12::1]/", None, true),
            ("http://[::1]:8080", "http://[::1]:8080/", None, true),
            ("http://[fe80::1]", "http://[fe80::1%eth0]/", None, true),
            (
                "https://bücher.example/",
                "https://xn--bcher-kva.example/",
                None,
                true,
            ),
            (
                "https://xn--bcher-kva.example/",
                "https://BÜCHER.example/",
                None,
                true,
            ),
            ("https://*", "https://anything.example/x", None, true),
            ("https://*:*", "https://anything.example:1/x", None, true),
            (
                "wss://chat.example.com",
                "wss://chat.example.com/any/path",
                None,
                true,
            ),
            (
                "udp-multicast://239.255.0.1",
                "udp-multicast://239.255.0.1:45454",
                None,
                true,
            ),
            (
                "udp-multicast://239.255.0.1:45454",
                "udp-multicast://239.255.0.1",
                None,
                false,
            ),
            (
                "udp-multicast://239.0.0.0/8",
                "udp-multicast://239.255.0.1",
                None,
                true,
            ),
        ];
        for (rule_text, url, method, want) in cases {
            let mut t = target(url);
            if let Some(m) = method {
                t = t.with_method(m);
            }
            assert_eq!(
                rule(rule_text).allows(&t),
                want,
                "{rule_text:?} vs {url:?} {method:?}"
            );
        }
    }

    #[test]
    fn addresses() {
        let r = rule("tcp://db.internal:5432").with_addresses(&[
            "10.0.0.0/8",
            "[fd00::/8]",
            "192.168.1.5",
        ]);
        let r = r.unwrap_or_else(|e| panic!("{e}"));
        let cases = [
            ("10.1.1.1", true),
            ("::ffff:10.1.1.1", true),
            ("fd00::5", true),
            ("192.168.1.5", true),
            ("192.168.1.6", false),
            ("127.0.0.1", false),
        ];
        for (ip, want) in cases {
            let parsed: IpAddr = ip.parse().unwrap_or_else(|e| panic!("{ip:?}: {e}"));
            assert_eq!(r.allowance_grants(parsed), want, "{ip:?}");
        }
        let rejects = [
            (
                "tcp://db.internal:5432",
                "nope",
                "invalid address \"nope\" in addresses: expected an IP address or a CIDR range such as 10.0.0.0/8 or fd00::/8",
            ),
            (
                "tcp://db.internal:5432",
                "10.0.0.1/8",
                "invalid address \"10.0.0.1/8\" in addresses: host bits are set (did you mean 10.0.0.0/8?)",
            ),
            (
                "tcp://10.0.0.0/8:5432",
                "10.0.0.0/8",
                "addresses apply only to rules with a host name; \"10.0.0.0/8\" already names addresses",
            ),
        ];
        for (rule_text, addr, want) in rejects {
            let got = rule(rule_text)
                .with_addresses(&[addr])
                .map_err(|e| e.to_string());
            assert_eq!(got, Err(want.to_string()), "{rule_text:?} {addr:?}");
        }
    }
}
