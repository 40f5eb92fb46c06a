//! Host implementations of the `sandnet:net` interfaces, one module per WIT interface.
//!
//! Each `<protocol>.rs` translates between the generated bindings and the protocol
//! core beside it (`http_client.rs` for http); cores never touch the bindings.

pub mod common;
pub mod http;
pub mod http_client;
pub mod inbox;
pub mod sse;
pub mod sse_parser;
pub mod sse_stream;
pub mod tcp;
pub mod types;
pub mod udp;
pub mod wasi_http;
pub mod wasi_sockets;
pub mod wasi_sockets_limits;
pub mod websocket;
pub mod websocket_core;

use std::sync::Arc;

use wasmtime::component::{HasData, ResourceTable};

use crate::guard::Guard;

/// Per-guest network state: the guard and the protocol clients built on it.
#[derive(Debug)]
pub struct NetCtx {
    /// The guest's guard (policy, limits, audit).
    pub guard: Arc<Guard>,
    /// The guest's HTTP client (one connection pool per guest).
    pub http: http_client::HttpClient,
    /// TLS client configuration (webpki roots + the policy's CA bundle).
    pub tls: Arc<rustls::ClientConfig>,
    /// WebSocket state.
    pub websocket: websocket::ProtocolState,
    /// SSE state.
    pub sse: sse::ProtocolState,
    /// TCP state.
    pub tcp: tcp::ProtocolState,
    /// UDP state.
    pub udp: udp::ProtocolState,
    /// Limit state of the standard `wasi:sockets` (connection slots).
    pub standard_sockets: wasi_sockets_limits::ProtocolState,
}

/// The borrowed view every `sandnet:net` host trait is implemented on.
pub struct NetView<'a> {
    /// Network state.
    pub ctx: &'a mut NetCtx,
    /// The store's resource table.
    pub table: &'a mut ResourceTable,
}

/// Marker tying [`NetView`] to the linker (`HasData`).
pub struct NetData;

impl HasData for NetData {
    type Data<'a> = NetView<'a>;
}
