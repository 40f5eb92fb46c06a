//! Host side of `sandnet:net/types`: converting [`HostError`] into the WIT `net-error`.

use crate::bindings::types::{self as wit, Host};
use crate::error::{HostError, NetError, TimeoutKind};
use crate::net::NetView;

impl Host for NetView<'_> {
    fn convert_net_error(&mut self, err: HostError) -> wasmtime::Result<wit::NetError> {
        match err {
            HostError::Net(net) => Ok(to_wit(net)),
            HostError::Trap(trap) => Err(trap),
        }
    }
}

/// The WIT value for a [`NetError`].
pub fn to_wit(err: NetError) -> wit::NetError {
    match err {
        NetError::Denied(d) => wit::NetError::Denied(wit::Denial {
            reason: d.reason,
            suggestion: d.suggestion,
            rule_line: d.rule.map(|r| r.line),
        }),
        NetError::Dns(m) => wit::NetError::Dns(m),
        NetError::Connect(m) => wit::NetError::Connect(m),
        NetError::Tls(m) => wit::NetError::Tls(m),
        NetError::Timeout(kind) => wit::NetError::Timeout(match kind {
            TimeoutKind::Connect => wit::TimeoutKind::Connect,
            TimeoutKind::FirstByte => wit::TimeoutKind::FirstByte,
            TimeoutKind::Total => wit::TimeoutKind::Total,
            TimeoutKind::Idle => wit::TimeoutKind::Idle,
        }),
        NetError::Closed(m) => wit::NetError::Closed(m),
        NetError::LimitExceeded { name, value } => wit::NetError::LimitExceeded(wit::LimitHit {
            name: name.to_owned(),
            value,
        }),
        NetError::Protocol(m) => wit::NetError::Protocol(m),
        NetError::InvalidArgument(m) => wit::NetError::InvalidArgument(m),
    }
}
