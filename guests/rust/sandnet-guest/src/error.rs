//! [`Error`]: the `net-error` of `sandnet:net/types`, as a Rust error type.

use std::fmt;

use crate::bindings::sandnet::net::types as wit;

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a network call failed: one case per `net-error` case of the WIT package.
///
/// `Display` gives one line a user can act on, e.g.
/// `limit-exceeded: max_body_bytes (10485760)`; a denial adds a second line with
/// the policy line that would allow the target:
///
/// ```text
/// denied: GET http://example.com/ is not allowed: no rule grants host example.com
/// hint: add to the policy's allow list: "http://example.com/*"
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The policy does not grant this target (or a resolved address of it).
    Denied {
        /// Human-readable reason, naming the target and the rule (or lack of one).
        reason: String,
        /// The policy line that would allow the target; `None` when a `deny`
        /// rule matched (deny always wins, so no allow line could help).
        suggestion: Option<String>,
        /// The 1-based line of the policy file whose rule decided, if one did.
        rule_line: Option<u32>,
    },
    /// The host could not resolve the name.
    Dns(String),
    /// The connection could not be established (refused, unreachable, reset).
    Connect(String),
    /// TLS failed: untrusted certificate, name mismatch, handshake error.
    Tls(String),
    /// A deadline expired.
    Timeout(TimeoutKind),
    /// The peer or the host closed the resource.
    Closed(String),
    /// A named limit from the policy or the call's options was exceeded.
    LimitExceeded {
        /// The limit's name as written in the policy, e.g. `max_body_bytes`.
        name: String,
        /// The limit's value in its own unit (bytes, count, per second, ms).
        value: u64,
    },
    /// The peer violated the protocol.
    Protocol(String),
    /// The guest passed something unusable (bad URL, header or option).
    InvalidArgument(String),
}

/// Which deadline expired, for [`Error::Timeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    /// Establishing the connection (TCP and, where used, TLS) took too long.
    Connect,
    /// The peer accepted the request but sent nothing back in time.
    FirstByte,
    /// The whole exchange exceeded its total deadline.
    Total,
    /// No data arrived on an open stream within the idle/read timeout.
    Idle,
}

impl Error {
    /// The WIT name of this error's case, e.g. `denied` or `limit-exceeded`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Denied { .. } => "denied",
            Error::Dns(_) => "dns",
            Error::Connect(_) => "connect",
            Error::Tls(_) => "tls",
            Error::Timeout(_) => "timeout",
            Error::Closed(_) => "closed",
            Error::LimitExceeded { .. } => "limit-exceeded",
            Error::Protocol(_) => "protocol",
            Error::InvalidArgument(_) => "invalid-argument",
        }
    }

    /// Whether the policy refused the call.
    pub fn is_denied(&self) -> bool {
        matches!(self, Error::Denied { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind();
        match self {
            Error::Denied {
                reason, suggestion, ..
            } => {
                write!(f, "{kind}: {reason}")?;
                if let Some(line) = suggestion {
                    write!(f, "\nhint: add to the policy's allow list: {line}")?;
                }
                Ok(())
            }
            Error::Timeout(which) => write!(f, "{kind}: {which}"),
            Error::LimitExceeded { name, value } => write!(f, "{kind}: {name} ({value})"),
            Error::Dns(msg)
            | Error::Connect(msg)
            | Error::Tls(msg)
            | Error::Closed(msg)
            | Error::Protocol(msg)
            | Error::InvalidArgument(msg) => write!(f, "{kind}: {msg}"),
        }
    }
}

impl std::error::Error for Error {}

impl fmt::Display for TimeoutKind {
    /// The WIT name of the deadline: `connect`, `first-byte`, `total` or `idle`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::FirstByte => "first-byte",
            TimeoutKind::Total => "total",
            TimeoutKind::Idle => "idle",
        })
    }
}

impl From<wit::NetError> for Error {
    fn from(raw: wit::NetError) -> Self {
        match raw {
            wit::NetError::Denied(d) => Error::Denied {
                reason: d.reason,
                suggestion: d.suggestion,
                rule_line: d.rule_line,
            },
            wit::NetError::Dns(m) => Error::Dns(m),
            wit::NetError::Connect(m) => Error::Connect(m),
            wit::NetError::Tls(m) => Error::Tls(m),
            wit::NetError::Timeout(k) => Error::Timeout(k.into()),
            wit::NetError::Closed(m) => Error::Closed(m),
            wit::NetError::LimitExceeded(l) => Error::LimitExceeded {
                name: l.name,
                value: l.value,
            },
            wit::NetError::Protocol(m) => Error::Protocol(m),
            wit::NetError::InvalidArgument(m) => Error::InvalidArgument(m),
        }
    }
}

impl From<wit::TimeoutKind> for TimeoutKind {
    fn from(raw: wit::TimeoutKind) -> Self {
        match raw {
            wit::TimeoutKind::Connect => TimeoutKind::Connect,
            wit::TimeoutKind::FirstByte => TimeoutKind::FirstByte,
            wit::TimeoutKind::Total => TimeoutKind::Total,
            wit::TimeoutKind::Idle => TimeoutKind::Idle,
        }
    }
}

impl From<Error> for std::io::Error {
    /// Maps to the closest [`std::io::ErrorKind`], keeping the [`Error`] inside.
    fn from(err: Error) -> Self {
        use std::io::ErrorKind;
        let kind = match &err {
            Error::Denied { .. } => ErrorKind::PermissionDenied,
            Error::Connect(_) => ErrorKind::ConnectionRefused,
            Error::Timeout(_) => ErrorKind::TimedOut,
            Error::Closed(_) => ErrorKind::ConnectionAborted,
            Error::Protocol(_) => ErrorKind::InvalidData,
            Error::InvalidArgument(_) => ErrorKind::InvalidInput,
            Error::Dns(_) | Error::Tls(_) | Error::LimitExceeded { .. } => ErrorKind::Other,
        };
        std::io::Error::new(kind, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_actionable_line_plus_hint_for_denials() {
        let cases = [
            (
                Error::Denied {
                    reason: "no rule grants host example.com".into(),
                    suggestion: Some("\"http://example.com/*\"".into()),
                    rule_line: None,
                },
                "denied: no rule grants host example.com\n\
                 hint: add to the policy's allow list: \"http://example.com/*\"",
            ),
            (
                Error::Denied {
                    reason: "deny rule at line 4 matches".into(),
                    suggestion: None,
                    rule_line: Some(4),
                },
                "denied: deny rule at line 4 matches",
            ),
            (
                Error::LimitExceeded {
                    name: "max_body_bytes".into(),
                    value: 10_485_760,
                },
                "limit-exceeded: max_body_bytes (10485760)",
            ),
            (
                Error::Timeout(TimeoutKind::FirstByte),
                "timeout: first-byte",
            ),
            (Error::Dns("no such host".into()), "dns: no such host"),
            (
                Error::InvalidArgument("bad url".into()),
                "invalid-argument: bad url",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want, "{err:?}");
        }
    }
}
