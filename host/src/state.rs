//! The data each guest's `Store` holds: WASI context, resource table, network state, limiter.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::net::standard::http::StandardHttpGate;
use crate::net::{NetCtx, NetView};

/// Largest table (funcref/externref) a guest may grow, in elements.
pub const MAX_TABLE_ELEMENTS: usize = 1_000_000;

/// Refuses linear-memory growth past the policy's `memory` limit and remembers
/// that it did, so the run ends with a distinct status.
#[derive(Debug)]
pub struct MemoryLimiter {
    /// The cap in bytes (per memory).
    pub max_bytes: usize,
    /// Set once a growth was refused.
    pub hit: bool,
}

/// The trap raised when a guest outgrows its memory limit.
#[derive(Debug, thiserror::Error)]
#[error("guest exceeded its memory limit of {0} bytes")]
pub struct MemoryLimitExceeded(pub usize);

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            return Err(wasmtime::Error::new(MemoryLimitExceeded(self.max_bytes)));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

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
