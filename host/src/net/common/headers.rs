//! Rules for headers a guest supplies (HTTP requests, WebSocket and SSE handshakes).
//!
//! The host frames every message itself. A guest header that a server or proxy
//! could read as framing or connection management (`transfer-encoding`,
//! `content-length`, `connection`, `upgrade`, ...) would let a guest smuggle a
//! second request past the policy, so it is refused in every protocol alike.

use http::header::{HeaderName, HeaderValue};

use crate::error::NetError;

/// Headers no guest may set, in any protocol: the host writes them.
pub const FRAMING_HEADERS: [&str; 11] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "http2-settings",
    "expect",
];

/// Whether `name` (lowercase, as [`HeaderName`] keeps it) is a framing header.
pub fn is_framing(name: &HeaderName) -> bool {
    FRAMING_HEADERS.contains(&name.as_str())
}

/// Header value text → bytes: chars up to U+00FF are one byte each (Latin-1),
/// so values read from a response round-trip exactly; anything else is UTF-8.
pub fn latin1_to_bytes(value: &str) -> Vec<u8> {
    if value.chars().all(|c| u32::from(c) <= 0xff) {
        value
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect()
    } else {
        value.as_bytes().to_vec()
    }
}

/// Validates one guest header: a valid name that is not a framing header and not
/// in `managed` (headers this protocol sets itself), and a valid value. `hint`
/// ends the message for a managed header (what to use instead).
pub fn guest_header(
    name: &str,
    value: &str,
    managed: &[&str],
    hint: &str,
) -> Result<(HeaderName, HeaderValue), NetError> {
    let parsed = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| NetError::InvalidArgument(format!("invalid header name {name:?}")))?;
    if is_framing(&parsed) || managed.contains(&parsed.as_str()) {
        return Err(NetError::InvalidArgument(format!(
            "header {parsed:?} is set by the host; {hint}"
        )));
    }
    let value = HeaderValue::from_bytes(&latin1_to_bytes(value)).map_err(|_| {
        NetError::InvalidArgument(format!("invalid value for header {parsed:?}: {value:?}"))
    })?;
    Ok((parsed, value))
}

/// Validates every guest header with [`guest_header`], in order.
pub fn guest_headers(
    headers: &[(String, String)],
    managed: &[&str],
    hint: &str,
) -> Result<Vec<(HeaderName, HeaderValue)>, NetError> {
    headers
        .iter()
        .map(|(name, value)| guest_header(name, value, managed, hint))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_headers_are_refused_in_any_case() {
        for name in [
            "Transfer-Encoding",
            "CONTENT-LENGTH",
            "Connection",
            "upgrade",
            "Host",
            "TE",
        ] {
            let err = guest_header(name, "x", &[], "remove it").unwrap_err();
            assert!(
                err.to_string().contains("set by the host"),
                "{name:?}: {err}"
            );
        }
    }

    #[test]
    fn managed_headers_name_the_hint_and_values_are_validated() {
        let err = guest_header(
            "sec-websocket-key",
            "x",
            &["sec-websocket-key"],
            "use options",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid argument: header \"sec-websocket-key\" is set by the host; use options"
        );
        let err = guest_header("x-a", "a\r\nb: c", &[], "").unwrap_err();
        assert!(err.to_string().contains("invalid value"), "{err}");
        let (name, value) = guest_header("X-Ok", "caf\u{e9}", &[], "").unwrap();
        assert_eq!((name.as_str(), value.as_bytes()), ("x-ok", &b"caf\xe9"[..]));
    }
}

/// Properties of header intake (more cases: `PROPTEST_CASES=100000 cargo test
/// --release -p sandnet --lib props`).
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    /// Any capitalisation of a framing header name.
    fn framing_name() -> impl Strategy<Value = String> {
        (0..FRAMING_HEADERS.len(), any::<u64>()).prop_map(|(i, mask)| {
            FRAMING_HEADERS[i]
                .chars()
                .enumerate()
                .map(|(n, c)| {
                    if mask >> (n % 64) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect()
        })
    }

    proptest! {
        /// A framing header is refused in every spelling, whatever its value.
        #[test]
        fn framing_headers_are_refused_in_every_spelling(name in framing_name(), value in ".*") {
            prop_assert!(guest_header(&name, &value, &[], "").is_err());
        }

        /// What is accepted can never end the header line or start another.
        #[test]
        fn accepted_headers_cannot_split_the_message(name in "[ -~]{0,12}", value in "[\\x00-\\x7f\\u{80}-\\u{2000}]{0,24}") {
            if let Ok((name, value)) = guest_header(&name, &value, &[], "") {
                prop_assert!(!is_framing(&name));
                prop_assert!(!value.as_bytes().iter().any(|b| matches!(b, b'\r' | b'\n' | 0)), "{value:?}");
                prop_assert!(!name.as_str().bytes().any(|b| b.is_ascii_whitespace() || b == b':'));
            }
        }
    }
}
