//! Host implementations of the `sandnet:net` interfaces and the gates for the
//! standard WASI ones: one folder per protocol.
//!
//! Each `<protocol>/mod.rs` translates between the generated bindings and the
//! protocol core in the files beside it (`http/client.rs`, `sse/stream.rs`, ...);
//! cores never touch the bindings. Shared pieces live in [`common`]; the
//! standard `wasi:http` and `wasi:sockets` gates in [`standard`].
//!
//! Registering a protocol: a [`Protocol`] variant (the compiler then asks for
//! its WIT name and its linker call below), and, if it keeps per-guest state, a
//! field of [`NetCtx`].

pub mod bus;
pub mod common;
pub mod http;
pub mod mqtt;
pub mod sse;
pub mod standard;
pub mod tcp;
pub mod types;
pub mod udp;
pub mod websocket;

use std::sync::Arc;

use wasmtime::component::{HasData, Linker, ResourceTable};

use crate::guard::Guard;

/// Every `sandnet:net` protocol interface this host implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `sandnet:net/http`.
    Http,
    /// `sandnet:net/websocket`.
    Websocket,
    /// `sandnet:net/sse`.
    Sse,
    /// `sandnet:net/tcp`.
    Tcp,
    /// `sandnet:net/udp`.
    Udp,
    /// `sandnet:net/bus`.
    Bus,
    /// `sandnet:net/mqtt`.
    Mqtt,
}

impl Protocol {
    /// Every protocol, in the order the WIT package lists them.
    pub const ALL: [Protocol; 7] = [
        Protocol::Http,
        Protocol::Websocket,
        Protocol::Sse,
        Protocol::Tcp,
        Protocol::Udp,
        Protocol::Bus,
        Protocol::Mqtt,
    ];

    /// The interface name in the WIT package (`sandnet:net/<name>`).
    pub fn wit_name(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Websocket => "websocket",
            Protocol::Sse => "sse",
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Bus => "bus",
            Protocol::Mqtt => "mqtt",
        }
    }

    /// The protocol of a `sandnet:net` interface name.
    pub fn from_wit_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.wit_name() == name)
    }

    fn add_to_linker<T: NetHost>(self, linker: &mut Linker<T>) -> wasmtime::Result<()> {
        use crate::bindings as b;
        let view = T::net_view;
        match self {
            Protocol::Http => {
                b::http::add_to_linker::<T, NetData>(linker, view)?;
                common::bytes_out::link_read(linker, self, "incoming-response", http::read_body)
            }
            Protocol::Websocket => b::websocket::add_to_linker::<T, NetData>(linker, view),
            Protocol::Sse => b::sse::add_to_linker::<T, NetData>(linker, view),
            Protocol::Tcp => {
                b::tcp::add_to_linker::<T, NetData>(linker, view)?;
                common::bytes_out::link_read(linker, self, "stream", tcp::read)
            }
            Protocol::Udp => b::udp::add_to_linker::<T, NetData>(linker, view),
            Protocol::Bus => b::bus::add_to_linker::<T, NetData>(linker, view),
            Protocol::Mqtt => b::mqtt::add_to_linker::<T, NetData>(linker, view),
        }
    }
}

/// Links every `sandnet:net` interface (`types` and each [`Protocol`]) and
/// replaces wasmtime-wasi's `wasi:sockets` name lookup, TCP and UDP with the
/// guarded, limited ones, and its `wasi:io` stream reads with copy-free ones.
/// Call after `wasmtime_wasi::p2::add_to_linker_async`.
pub fn add_to_linker<T: NetHost>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    crate::bindings::ip_name_lookup::add_to_linker::<T, NetData>(linker, T::net_view)?;
    standard::sockets_limits::add_to_linker(linker)?;
    standard::streams::add_to_linker(linker)?;
    linker.allow_shadowing(false);
    crate::bindings::types::add_to_linker::<T, NetData>(linker, T::net_view)?;
    for protocol in Protocol::ALL {
        protocol.add_to_linker(linker)?;
    }
    Ok(())
}

/// What a store's data offers so the network interfaces can be linked over it:
/// the view every `sandnet:net` trait is implemented on, and the view of the
/// standard sockets (wasmtime-wasi's plus the guest's limit state). The
/// runtime's store data implements it; `net` never names that type.
pub trait NetHost: Send + 'static {
    /// The `sandnet:net` view.
    fn net_view(&mut self) -> NetView<'_>;
    /// The standard `wasi:sockets` view, with limits.
    fn sockets_view(&mut self) -> standard::sockets_limits::LimitedSocketsView<'_>;
}

/// Per-guest network state: the guard and the protocol clients built on it.
#[derive(Debug)]
pub struct NetCtx {
    /// The guest's guard (policy, limits, audit).
    pub guard: Arc<Guard>,
    /// The guest's HTTP client (one connection pool per guest), shared with
    /// the standard `wasi:http` gate.
    pub http: http::client::HttpClient,
    /// TLS client configuration (webpki roots + the policy's CA bundle).
    pub tls: Arc<rustls::ClientConfig>,
    /// Connection slots held by the guest's standard `wasi:sockets`.
    pub standard_sockets: standard::sockets_limits::SocketSlots,
    /// Reply-to inboxes of requests this guest received and may answer.
    pub bus: bus::BusCtx,
}

impl NetCtx {
    /// The network state of a guest guarded by `guard`, trusting `tls`.
    pub fn new(guard: Arc<Guard>, tls: Arc<rustls::ClientConfig>) -> NetCtx {
        let http = http::client::HttpClient::new(Arc::clone(&guard), (*tls).clone());
        NetCtx {
            guard,
            http,
            tls,
            standard_sockets: Default::default(),
            bus: Default::default(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_protocol_has_a_wit_interface_and_back() {
        let wit_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
        for protocol in Protocol::ALL {
            let file = wit_dir.join(format!("{}.wit", protocol.wit_name()));
            assert!(file.exists(), "{protocol:?}: no {}", file.display());
            assert_eq!(Protocol::from_wit_name(protocol.wit_name()), Some(protocol));
        }
        assert_eq!(
            Protocol::from_wit_name("types"),
            None,
            "types is not a protocol"
        );
    }
}
