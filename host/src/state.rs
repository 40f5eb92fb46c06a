//! The data each guest's `Store` holds: WASI context, resource table, network state,
//! memory limiter ([`crate::runtime::MemoryLimiter`]).

use wasmtime::component::ResourceTable;
use wasmtime_wasi::sockets::WasiSocketsCtxView;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::net::standard::http::StandardHttpGate;
use crate::net::standard::sockets_limits::LimitedSocketsView;
use crate::net::{NetCtx, NetHost, NetView};
use crate::runtime::limits::MemoryLimiter;

/// Store data for one guest.
pub struct State {
    /// WASI CLI context (args, env, stdio, clocks, random; no files, no sockets).
    pub wasi: WasiCtx,
    /// Resources handed to the guest.
    pub table: ResourceTable,
    /// `sandnet:net` state.
    pub net: NetCtx,
    /// Memory cap.
    pub limiter: MemoryLimiter,
    /// Standard `wasi:http` state.
    pub http_ctx: WasiHttpCtx,
    /// The policy gate behind standard `wasi:http` requests.
    pub http_gate: StandardHttpGate,
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http_ctx,
            table: &mut self.table,
            hooks: &mut self.http_gate,
        }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl NetHost for State {
    fn net_view(&mut self) -> NetView<'_> {
        NetView {
            ctx: &mut self.net,
            table: &mut self.table,
        }
    }

    fn sockets_view(&mut self) -> LimitedSocketsView<'_> {
        let net = &mut self.net;
        LimitedSocketsView {
            sockets: WasiSocketsCtxView {
                ctx: self.wasi.sockets(),
                table: &mut self.table,
            },
            guard: &net.guard,
            state: &mut net.standard_sockets,
        }
    }
}
