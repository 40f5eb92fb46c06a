//! The host's one network error type, mirrored to the guest as `sandnet:net/types.net-error`.
//!
//! Host code returns [`NetError`] for everything a guest or a peer can cause; the
//! binding layer converts it to the WIT variant. A broken host invariant is an
//! `anyhow::Error` instead and traps the guest.

use std::fmt;

use sandnet_policy::{Denial, Limit};

/// Which deadline expired (mirrors `types.timeout-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Connecting (TCP and TLS).
    Connect,
    /// Waiting for the response head.
    FirstByte,
    /// The whole exchange.
    Total,
    /// Waiting for more data on an open stream.
    Idle,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::FirstByte => "first-byte",
            TimeoutKind::Total => "total",
            TimeoutKind::Idle => "idle",
        })
    }
}

/// A network failure a guest can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NetError {
    /// The policy refused the target.
    #[error("denied: {}", .0.reason)]
    Denied(Denial),
    /// Name resolution failed.
    #[error("dns: {0}")]
    Dns(String),
    /// The connection could not be made.
    #[error("connect: {0}")]
    Connect(String),
    /// TLS failed.
    #[error("tls: {0}")]
    Tls(String),
    /// A deadline expired.
    #[error("timeout: {0}")]
    Timeout(TimeoutKind),
    /// The resource was closed.
    #[error("closed: {0}")]
    Closed(String),
    /// A named limit was exceeded.
    #[error("limit exceeded: {name} ({value})")]
    LimitExceeded {
        /// The limit's policy name.
        name: &'static str,
        /// Its value.
        value: u64,
    },
    /// The peer broke the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The guest passed something unusable.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl NetError {
    /// A `limit-exceeded` error for `limit` (its policy key is the name the
    /// guest and the audit log see).
    pub fn limit(limit: Limit, value: u64) -> Self {
        NetError::LimitExceeded {
            name: limit.name(),
            value,
        }
    }

    /// A short word for the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            NetError::Denied(_) => "denied",
            NetError::Dns(_) => "dns",
            NetError::Connect(_) => "connect",
            NetError::Tls(_) => "tls",
            NetError::Timeout(_) => "timeout",
            NetError::Closed(_) => "closed",
            NetError::LimitExceeded { .. } => "limit-exceeded",
            NetError::Protocol(_) => "protocol",
            NetError::InvalidArgument(_) => "invalid-argument",
        }
    }
}

/// Walks an error's source chain looking for a [`NetError`] put there by the guard
/// (errors from the connector come back wrapped by hyper; a revoked socket's
/// `denied` comes back inside an `io::Error`, under TLS, hyper or tungstenite).
pub fn find_net_error(err: &(dyn std::error::Error + 'static)) -> Option<NetError> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(net) = e.downcast_ref::<NetError>() {
            return Some(net.clone());
        }
        // An I/O error's `source` skips the error it carries (a revoked
        // socket's `denied`, see `guard::GuardedSocket`): step into it.
        let carried = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        cur = carried.or_else(|| e.source());
    }
    None
}

/// What a host function of `sandnet:net` returns on failure: either a
/// [`NetError`] the guest receives as a value, or a trap for a broken host
/// invariant (a stale resource handle, a crashed host task).
#[derive(Debug)]
pub enum HostError {
    /// Returned to the guest as `net-error`.
    Net(NetError),
    /// Traps the guest.
    Trap(wasmtime::Error),
}

impl From<NetError> for HostError {
    fn from(err: NetError) -> Self {
        HostError::Net(err)
    }
}

impl From<wasmtime::Error> for HostError {
    fn from(err: wasmtime::Error) -> Self {
        HostError::Trap(err)
    }
}

impl From<wasmtime::component::ResourceTableError> for HostError {
    fn from(err: wasmtime::component::ResourceTableError) -> Self {
        HostError::Trap(wasmtime::Error::new(err))
    }
}
