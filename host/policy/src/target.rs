//! A network target a guest asks for (`https://api.example.com/v1`, `tcp://db:5432`), parsed and normalised.

use std::fmt;
use std::net::IpAddr;

use crate::AddressClass;
use crate::addr::classify;
use crate::error::TargetError;
use crate::host::Host;
use crate::path::normalize;
use crate::scheme::Scheme;

/// A target: what a guest wants to reach, normalised for matching.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The scheme.
    pub scheme: Scheme,
    /// The host, normalised (see [`Host`]).
    pub host: Host,
    /// The port (the scheme default when the URL names none; 0 for a
    /// `udp-multicast` join without a port).
    pub port: u16,
    /// The canonical path (see [`crate::path`]) for URL schemes, `""` otherwise.
    /// Query and fragment are not part of it. It is also the form to send
    /// (see [`Target::request_path`]).
    pub path: String,
    /// The HTTP method, uppercase, if any. A target without one is checked as `GET`.
    pub method: Option<String>,
}

impl Target {
    /// Parses a target URL of any [`Scheme`].
    ///
    /// `http`, `https`, `ws`, `wss` and `sse+http(s)` go through the WHATWG URL
    /// parser (so `userinfo@` never changes the host, and `http://2130706433/`
    /// is 127.0.0.1); the other schemes take `host:port` only, with the host parsed
    /// by the same host parser.
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        let invalid = |reason: String| TargetError::Invalid {
            target: url.to_string(),
            reason,
        };
        let Some((scheme_text, rest)) = url.split_once("://") else {
            return Err(TargetError::MissingScheme {
                target: url.to_string(),
            });
        };
        let scheme = Scheme::parse(scheme_text).ok_or_else(|| TargetError::UnknownScheme {
            target: url.to_string(),
            scheme: scheme_text.to_string(),
        })?;
        if let Some(special) = scheme.url_scheme() {
            return parse_url(url, scheme, special, rest);
        }
        if rest.contains('@') {
            return Err(invalid(format!(
                "{scheme} targets take no user info (\"user@\")"
            )));
        }
        if rest.contains(['/', '?', '#']) {
            return Err(invalid(format!(
                "{scheme} targets take no path, query or fragment"
            )));
        }
        let (host_text, port_text) = split_host_port(rest).map_err(invalid)?;
        let host = Host::parse(host_text)
            .map_err(|reason| invalid(format!("invalid host \"{host_text}\": {reason}")))?;
        let port = match port_text {
            Some(p) => parse_port(p).map_err(invalid)?,
            None if scheme == Scheme::UdpMulticast => 0,
            None if scheme.is_mqtt() => scheme.default_port().unwrap_or_default(),
            None => {
                return Err(TargetError::MissingPort {
                    target: url.to_string(),
                    scheme,
                    host: host_text.to_string(),
                });
            }
        };
        if scheme == Scheme::UdpMulticast
            && host
                .ip()
                .is_none_or(|ip| classify(ip) != AddressClass::Multicast)
        {
            return Err(invalid(format!(
                "udp-multicast targets need a multicast group address (224.0.0.0/4 or ff00::/8), not \"{host}\""
            )));
        }
        Ok(Target {
            scheme,
            host,
            port,
            path: String::new(),
            method: None,
        })
    }

    /// The path to put on the wire: exactly the path the policy checked, so a
    /// server cannot read a different one than the policy did. For URL
    /// schemes it starts with `/`, holds visible ASCII only (anything else
    /// percent-encoded) and is a valid HTTP request path; re-parsing
    /// `origin + request_path()` gives the same target. `""` for other schemes.
    /// The query, if any, is the caller's to append after a `?`.
    pub fn request_path(&self) -> &str {
        &self.path
    }

    /// The same target with an HTTP method (uppercased). Use
    /// [`canonical_method`] first to refuse methods that are not tokens.
    pub fn with_method(mut self, method: &str) -> Target {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// The method this target is checked with: its own, or `GET`.
    pub(crate) fn effective_method(&self) -> &str {
        self.method.as_deref().unwrap_or("GET")
    }

    /// The target as `METHOD url` when a method is set, for messages.
    pub fn describe(&self) -> String {
        match &self.method {
            Some(m) if self.scheme.takes_methods() => format!("{m} {self}"),
            _ => self.to_string(),
        }
    }

    /// The target a socket address stands for: `scheme://IP:PORT` (standard
    /// sockets and UDP senders only ever show an address, never a name).
    pub fn socket(scheme: Scheme, addr: std::net::SocketAddr) -> Target {
        Target {
            scheme,
            host: Host::Ip(addr.ip()),
            port: addr.port(),
            path: String::new(),
            method: None,
        }
    }

    /// Whether `other` names the same endpoint: scheme, host and port (path and
    /// method aside). A connection made for one serves the other.
    pub fn same_endpoint(&self, other: &Target) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port == other.port
    }

    /// `scheme://host[:port]`, the port shown only when it is not the default.
    pub(crate) fn origin(&self) -> String {
        let show_port = Some(self.port) != self.scheme.default_port()
            && !(self.scheme == Scheme::UdpMulticast && self.port == 0);
        if show_port {
            format!("{}://{}:{}", self.scheme, self.host, self.port)
        } else {
            format!("{}://{}", self.scheme, self.host)
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin(), self.path)
    }
}

/// Whether `text` is an RFC 9110 token (`tchar`s only, not empty).
pub(crate) fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The method to check and to send: `method` uppercased, refused unless it is
/// an RFC 9110 token, so the host sends exactly the method the policy checked.
///
/// ```
/// assert_eq!(sandnet_policy::canonical_method("get").as_deref(), Ok("GET"));
/// assert!(sandnet_policy::canonical_method("GET /x HTTP/1.1\r\n").is_err());
/// ```
pub fn canonical_method(method: &str) -> Result<String, TargetError> {
    if is_token(method) {
        Ok(method.to_ascii_uppercase())
    } else {
        Err(TargetError::InvalidMethod {
            method: method.to_string(),
        })
    }
}

fn parse_url(url: &str, scheme: Scheme, special: &str, rest: &str) -> Result<Target, TargetError> {
    let invalid = |reason: String| TargetError::Invalid {
        target: url.to_string(),
        reason,
    };
    let text = format!("{special}://{}", strip_zone_id(rest));
    let parsed = url::Url::parse(&text).map_err(|e| invalid(crate::host::url_error(e)))?;
    let host = match parsed.host() {
        Some(url::Host::Domain(name)) => Host::parse(name)
            .map_err(|reason| invalid(format!("invalid host \"{name}\": {reason}")))?,
        Some(url::Host::Ipv4(ip)) => Host::Ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Host::Ip(crate::addr::canonical_ip(IpAddr::V6(ip))),
        None => return Err(invalid("missing host".into())),
    };
    let port = parsed
        .port_or_known_default()
        .or(scheme.default_port())
        .ok_or_else(|| invalid("missing port".into()))?;
    Ok(Target {
        scheme,
        host,
        port,
        path: normalize(parsed.path()),
        method: None,
    })
}

/// Drops an IPv6 zone id (`[fe80::1%eth0]`, `[fe80::1%25eth0]`) from the host
/// of `rest` (everything after `scheme://`), which the URL parser would refuse.
fn strip_zone_id(rest: &str) -> std::borrow::Cow<'_, str> {
    let end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let host = &authority[host_start..];
    if host.starts_with('[')
        && let Some(pct) = host.find('%')
        && let Some(close) = host[pct..].find(']')
    {
        let cut_from = host_start + pct;
        let cut_to = host_start + pct + close;
        return format!("{}{}", &rest[..cut_from], &rest[cut_to..]).into();
    }
    rest.into()
}

/// Splits `host[:port]` / `[v6][:port]`.
fn split_host_port(text: &str) -> Result<(&str, Option<&str>), String> {
    if text.starts_with('[') {
        let close = text
            .find(']')
            .ok_or_else(|| "missing \"]\" after the IPv6 address".to_string())?;
        let (host, after) = text.split_at(close + 1);
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("unexpected \"{after}\" after the host")),
            },
        };
    }
    match text.matches(':').count() {
        0 => Ok((text, None)),
        1 => Ok(text
            .split_once(':')
            .map_or((text, None), |(h, p)| (h, Some(p)))),
        _ => Err("IPv6 addresses must be written in brackets, e.g. [::1]:5432".into()),
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    if !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && let Ok(p) = text.parse()
    {
        return Ok(p);
    }
    Err(format!(
        "invalid port \"{text}\" (expected a number 0-65535)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form() {
        let cases = [
            ("https://api.example.com", "https://api.example.com/"),
            ("HTTPS://API.Example.COM./v1", "https://api.example.com/v1"),
            (
                "https://api.example.com:443/v1",
                "https://api.example.com/v1",
            ),
            (
                "https://api.example.com:8443/v1?q=1#frag",
                "https://api.example.com:8443/v1",
            ),
            ("http://api.example.com@evil.com/", "http://evil.com/"),
            ("http://user:pw@api.example.com/", "http://api.example.com/"),
            ("http://2130706433/", "http://127.0.0.1/"),
            ("http://0x7f000001/", "http://127.0.0.1/"),
            ("http://0177.0.0.1/", "http://127.0.0.1/"),
            ("http://127.1/", "http://127.0.0.1/"),
            ("http://[::ffff:127.0.0.1]/", "http://127.0.0.1/"),
            ("http://[::127.0.0.1]/", "http://127.0.0.1/"),
            ("http://[fe80::1%eth0]:8080/", "http://[fe80::1]:8080/"),
            ("http://[fe80::1%25eth0]/x", "http://[fe80::1]/x"),
            ("http://bücher.example/", "http://xn--bcher-kva.example/"),
            ("http://%61pi.example.com/", "http://api.example.com/"),
            (
                "http://api.example.com/v1/../admin",
                "http://api.example.com/admin",
            ),
            (
                "http://api.example.com/v1/%2e%2e/admin",
                "http://api.example.com/admin",
            ),
            (
                "http://api.example.com\\v1\\x",
                "http://api.example.com/v1/x",
            ),
            ("ws://chat.example.com", "ws://chat.example.com/"),
            (
                "wss://chat.example.com:443/room",
                "wss://chat.example.com/room",
            ),
            (
                "sse+https://stream.example.com/events",
                "sse+https://stream.example.com/events",
            ),
            (
                "sse+http://stream.example.com:80",
                "sse+http://stream.example.com/",
            ),
            ("tcp://db.internal:5432", "tcp://db.internal:5432"),
            ("tcp://0x7f.1:80", "tcp://127.0.0.1:80"),
            ("TCP://DB.Internal.:5432", "tcp://db.internal:5432"),
            ("tcp://[::ffff:10.0.0.1]:5432", "tcp://10.0.0.1:5432"),
            ("tls://[fe80::1%eth0]:993", "tls://[fe80::1]:993"),
            ("udp://239.255.0.1:45454", "udp://239.255.0.1:45454"),
            ("udp-bind://0.0.0.0:45454", "udp-bind://0.0.0.0:45454"),
            ("udp-multicast://239.255.0.1", "udp-multicast://239.255.0.1"),
            (
                "udp-multicast://[ff02::fb]:5353",
                "udp-multicast://[ff02::fb]:5353",
            ),
            ("tcp-listen://127.0.0.1:0", "tcp-listen://127.0.0.1:0"),
            ("ws-listen://localhost:9000", "ws-listen://localhost:9000"),
        ];
        for (input, want) in cases {
            let got = Target::parse(input).map(|t| t.to_string());
            assert_eq!(got.as_deref(), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn parts() {
        let t = Target::parse("sse+https://x.example:8443/a?b").map(|t| t.with_method("get"));
        assert_eq!(
            t,
            Ok(Target {
                scheme: Scheme::SseHttps,
                host: Host::Name("x.example".into()),
                port: 8443,
                path: "/a".into(),
                method: Some("GET".into()),
            })
        );
        let t = Target::parse("tcp://[::1]:5432");
        assert_eq!(
            t.map(|t| (t.host, t.port, t.path)),
            Ok((
                Host::Ip("::1".parse().unwrap_or(IpAddr::from([0u8; 4]))),
                5432,
                String::new()
            ))
        );
    }

    #[test]
    fn methods() {
        let ok = [
            ("get", "GET"),
            ("GET", "GET"),
            ("Patch", "PATCH"),
            ("M-SEARCH", "M-SEARCH"),
            ("x!#$%&'*+-.^_`|~1", "X!#$%&'*+-.^_`|~1"),
        ];
        for (input, want) in ok {
            assert_eq!(canonical_method(input).as_deref(), Ok(want), "{input:?}");
        }
        let hint =
            "a method is an HTTP token of letters, digits and !#$%&'*+-.^_`|~ (e.g. \"GET\")";
        let bad = [
            ("", format!("invalid method \"\": {hint}")),
            ("GET ", format!("invalid method \"GET \": {hint}")),
            (
                "GET /admin HTTP/1.1\r\nHost: x",
                format!("invalid method \"GET /admin HTTP/1.1\\r\\nHost: x\": {hint}"),
            ),
            ("G\u{e9}T", format!("invalid method \"G\u{e9}T\": {hint}")),
            ("GET,POST", format!("invalid method \"GET,POST\": {hint}")),
            ("(GET)", format!("invalid method \"(GET)\": {hint}")),
            ("GE\0T", format!("invalid method \"GE\\0T\": {hint}")),
        ];
        for (input, want) in bad {
            let got = canonical_method(input).map_err(|e| e.to_string());
            assert_eq!(got, Err(want), "{input:?}");
        }
    }

    #[test]
    fn request_path_is_the_checked_form_and_idempotent() {
        let corpus = [
            "/a/../b",
            "/%2e%2E/x",
            "/a%2fb/..%2f..%2fc",
            "/a;b/..;/c",
            "/public/..%3b/admin",
            "//x//y",
            "/\\x\\..\\y",
            "/a%5C..%5Cb",
            "/\u{e9}t\u{e9}",
            "/%ZZ",
            "/%",
            "/%%32%46",
            "/a b",
            "/a%00b",
            "/a\tb",
            "/[x]",
            "/a?b=1",
            "/a#frag",
            "/%25%32%46",
            "/.%2e/",
            "/..%5c..%5cwin",
            "/%c0%ae%c0%ae/",
            "/{}|^`\"<>",
            "/\u{7f}",
            "/%3B",
            "/x/%2e%2e%3b/y",
            "/./././",
            "/a/b/c/../../../../..",
            "",
            "/*",
            "/%2A",
            "/~user/@x:y",
        ];
        for raw in corpus {
            for scheme in ["http", "https", "ws", "sse+https"] {
                let url = format!("{scheme}://h.example{raw}");
                let t = Target::parse(&url).unwrap_or_else(|e| panic!("{url:?}: {e}"));
                let path = t.request_path();
                assert!(path.starts_with('/'), "{url:?}: {path:?}");
                assert!(
                    path.bytes().all(|b| b.is_ascii_graphic()),
                    "{url:?}: {path:?} is not visible ASCII"
                );
                assert!(
                    path.parse::<http_path::Check>().is_ok(),
                    "{url:?}: {path:?} is not a valid request path"
                );
                assert_eq!(normalize(path), path, "{url:?}: normalize is idempotent");
                let again = format!("{}{path}", t.origin());
                assert_eq!(
                    Target::parse(&again),
                    Ok(t.clone()),
                    "{url:?} via {again:?}"
                );
            }
            assert_eq!(normalize(&normalize(raw)), normalize(raw), "{raw:?}");
        }
    }

    /// RFC 3986 `path-abempty` with percent-encoding, as an HTTP origin-form path.
    mod http_path {
        pub struct Check;
        impl std::str::FromStr for Check {
            type Err = String;
            fn from_str(s: &str) -> Result<Check, String> {
                let b = s.as_bytes();
                let mut i = 0;
                while i < b.len() {
                    let c = b[i];
                    let ok = c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&c);
                    if c == b'%' {
                        let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
                        if !(hex(i + 1) && hex(i + 2)) {
                            return Err(format!("bad escape at {i}"));
                        }
                        i += 3;
                        continue;
                    }
                    if !ok {
                        return Err(format!("byte {c:#x} at {i}"));
                    }
                    i += 1;
                }
                Ok(Check)
            }
        }
    }

    #[test]
    fn rejects() {
        let cases = [
            (
                "api.example.com",
                "invalid target \"api.example.com\": missing \"scheme://\" (e.g. \"https://api.example.com\")",
            ),
            (
                "ftp://x",
                "invalid target \"ftp://x\": unknown scheme \"ftp\" (expected one of http, https, ws, wss, sse+http, sse+https, tcp, tls, tcp-listen, ws-listen, udp, udp-bind, udp-multicast, mqtt, mqtts, mqtt-publish, mqtt-subscribe)",
            ),
            (
                "tcp://db.internal",
                "invalid target \"tcp://db.internal\": tcp targets need a port (e.g. \"tcp://db.internal:5432\")",
            ),
            (
                "udp://10.0.0.1",
                "invalid target \"udp://10.0.0.1\": udp targets need a port (e.g. \"udp://10.0.0.1:5432\")",
            ),
            (
                "tcp://db:99999",
                "invalid target \"tcp://db:99999\": invalid port \"99999\" (expected a number 0-65535)",
            ),
            (
                "tcp://db:",
                "invalid target \"tcp://db:\": invalid port \"\" (expected a number 0-65535)",
            ),
            (
                "tcp://user@db:5432",
                "invalid target \"tcp://user@db:5432\": tcp targets take no user info (\"user@\")",
            ),
            (
                "tcp://db:5432/x",
                "invalid target \"tcp://db:5432/x\": tcp targets take no path, query or fragment",
            ),
            (
                "tcp://::1:5432",
                "invalid target \"tcp://::1:5432\": IPv6 addresses must be written in brackets, e.g. [::1]:5432",
            ),
            (
                "tcp://*.internal:5432",
                "invalid target \"tcp://*.internal:5432\": invalid host \"*.internal\": \"*\" is not allowed in a host name here",
            ),
            (
                "http://*.example.com/",
                "invalid target \"http://*.example.com/\": invalid host \"*.example.com\": \"*\" is not allowed in a host name here",
            ),
            (
                "http://%2A.example.com/",
                "invalid target \"http://%2A.example.com/\": invalid host \"*.example.com\": \"*\" is not allowed in a host name here",
            ),
            (
                "http://:80/",
                "invalid target \"http://:80/\": the host is empty",
            ),
            (
                "http://ex%40ample.com/",
                "invalid target \"http://ex%40ample.com/\": not a valid host name",
            ),
            (
                "http://256.1.1.1/",
                "invalid target \"http://256.1.1.1/\": not a valid IPv4 address",
            ),
            (
                "udp-multicast://10.0.0.1",
                "invalid target \"udp-multicast://10.0.0.1\": udp-multicast targets need a multicast group address (224.0.0.0/4 or ff00::/8), not \"10.0.0.1\"",
            ),
        ];
        for (input, want) in cases {
            let got = Target::parse(input).map_err(|e| e.to_string());
            assert_eq!(got, Err(want.to_string()), "{input:?}");
        }
    }
}
