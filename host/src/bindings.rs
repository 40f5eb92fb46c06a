//! The one `bindgen!` of the host: Rust types and traits for the `sandnet:net` WIT package.
//!
//! WASI interfaces map to `wasmtime_wasi`'s own bindings; `sandnet:net` resources map
//! to the host structs that hold their state; `net-error` is produced from
//! [`crate::error::NetError`] so host code uses one Rust error type throughout.

#![allow(missing_docs, reason = "generated code")]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "sandnet:net/host",
    imports: { default: async | trappable },
    exports: { default: async },
    trappable_error_type: {
        "sandnet:net/types.net-error" => crate::error::HostError,
    },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:cli": wasmtime_wasi::p2::bindings::cli,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:random": wasmtime_wasi::p2::bindings::random,
        "wasi:sockets/network": wasmtime_wasi::p2::bindings::sockets::network,
        "wasi:sockets/ip-name-lookup.resolve-address-stream": crate::net::standard::sockets::ResolveAddressStream,
        "sandnet:net/http.incoming-response": crate::net::http::IncomingResponse,
        "sandnet:net/http.pending-response": crate::net::http::PendingResponse,
        "sandnet:net/http.outgoing-body": crate::net::http::OutgoingBody,
        "sandnet:net/websocket.connection": crate::net::websocket::Connection,
        "sandnet:net/websocket.listener": crate::net::websocket::Listener,
        "sandnet:net/sse.event-stream": crate::net::sse::EventStream,
        "sandnet:net/tcp.stream": crate::net::tcp::Stream,
        "sandnet:net/tcp.listener": crate::net::tcp::Listener,
        "sandnet:net/udp.socket": crate::net::udp::Socket,
        "sandnet:net/bus.subscription": crate::net::bus::Subscription,
        "sandnet:net/mqtt.client": crate::net::mqtt::Client,
    },
});

pub use sandnet::net::{bus, http, mqtt, sse, tcp, types, udp, websocket};
pub use wasi::sockets::ip_name_lookup;
