//! The data each guest's `Store` holds: WASI context, resource table, network state,
//! memory limiter ([`crate::runtime::MemoryLimiter`]).

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::net::standard::http::StandardHttpGate;
use crate::net::{NetCtx, NetView};
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

impl State {
    /// The view the `sandnet:net` host traits are implemented on.
    pub fn net_view(&mut self) -> NetView<'_> {
        NetView {
            ctx: &mut self.net,
            table: &mut self.table,
        }
    }
}
