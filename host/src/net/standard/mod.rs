//! The standard WASI network interfaces under the same policy and limits as
//! `sandnet:net`: `wasi:http/outgoing-handler` ([`http`]), and `wasi:sockets`
//! (the address gate and guarded name lookup in [`sockets`], connection slots,
//! byte quotas and datagram limits in [`sockets_limits`]); and `wasi:io`
//! stream reads that lower their bytes without a copy ([`streams`]).

pub mod http;
pub mod sockets;
pub mod sockets_limits;
pub mod streams;
