//! The wire form of a checked target: what reaches the server is exactly what the
//! policy judged.
//!
//! A guest's URL may be read in several ways (dot segments, `\`, empty segments,
//! encoded separators); the policy checks a canonical reading ([`Target::path`])
//! plus a lenient one. Sending the guest's raw text would let a server that
//! normalises differently serve a path the policy never granted, so every
//! protocol builds its request line and `Host` header from the checked
//! [`Target`] with the helpers here. The query is not judged by the policy and is
//! passed through as the URL parser left it.

use http::Uri;
use sandnet_policy::{Scheme, Target};

use crate::error::NetError;

/// `host[:port]` of a checked target, as the URI authority and `Host` header:
/// the canonical host, the port only when it is not the scheme's default, and
/// never user info.
pub fn authority(target: &Target) -> String {
    if target.scheme.default_port() == Some(target.port) {
        target.host.to_string()
    } else {
        format!("{}:{}", target.host, target.port)
    }
}

/// The origin-form request target: the canonical path the policy checked and the
/// guest's query (without `?`), if any.
pub fn path_and_query(target: &Target, query: Option<&str>) -> String {
    let path = if target.path.is_empty() {
        "/"
    } else {
        target.path.as_str()
    };
    match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    }
}

/// The absolute URI an HTTP client sends for a checked `http`/`https`/`sse+*`/
/// `ws`/`wss` target.
pub fn absolute_uri(target: &Target, query: Option<&str>) -> Result<Uri, NetError> {
    let scheme = match target.scheme {
        Scheme::Http | Scheme::SseHttp => "http",
        Scheme::Https | Scheme::SseHttps => "https",
        Scheme::Ws => "ws",
        Scheme::Wss => "wss",
        other => {
            return Err(NetError::InvalidArgument(format!(
                "{target}: {other} targets have no request URI"
            )));
        }
    };
    let text = format!(
        "{scheme}://{}{}",
        authority(target),
        path_and_query(target, query)
    );
    text.parse()
        .map_err(|e| NetError::InvalidArgument(format!("cannot send to {text}: {e}")))
}

/// An origin-form URI (`/path?query`) for clients that write the request line
/// themselves (the SSE client on its own connection).
pub fn origin_form_uri(target: &Target, query: Option<&str>) -> Result<Uri, NetError> {
    let text = path_and_query(target, query);
    text.parse()
        .map_err(|e| NetError::InvalidArgument(format!("cannot send to {text}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(raw: &str) -> String {
        let target = Target::parse(raw).unwrap();
        let query = raw
            .split_once('?')
            .map(|(_, q)| q.split('#').next().unwrap_or(""));
        absolute_uri(&target, query).unwrap().to_string()
    }

    #[test]
    fn the_wire_form_is_the_checked_form() {
        let cases = [
            ("http://h.test/ok/../secret", "http://h.test/secret"),
            ("http://h.test/ok/%2e%2e/secret", "http://h.test/secret"),
            ("http://h.test/ok\\..\\secret", "http://h.test/secret"),
            ("http://h.test//x", "http://h.test//x"),
            (
                "http://h.test/ok%2F..%2Fsecret",
                "http://h.test/ok%2F..%2Fsecret",
            ),
            (
                "http://user:pw@h.test:8080/a?b=1",
                "http://h.test:8080/a?b=1",
            ),
            ("http://2130706433:80/a", "http://127.0.0.1/a"),
            ("https://h.test:443", "https://h.test/"),
            ("http://[::ffff:127.0.0.1]:81/", "http://127.0.0.1:81/"),
            ("ws://h.test/room?x", "ws://h.test/room?x"),
            ("sse+https://h.test:443/ev", "https://h.test/ev"),
        ];
        for (raw, want) in cases {
            assert_eq!(wire(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn the_wire_form_checks_the_same_again() {
        for raw in [
            "http://h.test/ok/..;/secret",
            "http://h.test/a/%c0%ae%c0%ae/b",
            "http://h.test/%%32%65",
            "http://h.test/a b",
        ] {
            let target = Target::parse(raw).unwrap();
            let again = Target::parse(&absolute_uri(&target, None).unwrap().to_string()).unwrap();
            assert_eq!(again, target, "{raw:?}");
        }
    }

    #[test]
    fn authority_never_carries_user_info_and_drops_default_ports() {
        let t = Target::parse("sse+http://u@h.test:80/x").unwrap();
        assert_eq!(authority(&t), "h.test");
        let t = Target::parse("wss://[::1]:9443/").unwrap();
        assert_eq!(authority(&t), "[::1]:9443");
    }
}
