//! `wasi:io` input-stream reads linked by hand, so what a standard stream
//! (a `wasi:http` body, a `wasi:sockets` stream, stdin) hands over is lowered
//! into guest memory straight from its `Bytes`: wasmtime-wasi's own `read` and
//! `blocking-read` turn them into a `Vec<u8>` first, one more copy of every
//! byte. Same streams, same limits; only that copy is gone.

use bytes::Bytes;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::io::streams::{Host as _, StreamError as WitStreamError};
use wasmtime_wasi::p2::{DynInputStream, StreamResult};

use crate::net::NetHost;

/// The `wasi:io/streams` instance wasmtime-wasi links (its WIT's version).
const STREAMS: &str = "wasi:io/streams@0.2.12";

/// What a read returns to the guest: the bytes, or `closed` / a failure.
type ReadOutcome = Result<Bytes, WitStreamError>;

/// Replaces `input-stream.read` and `input-stream.blocking-read`; call after
/// `wasmtime_wasi::p2::add_to_linker_async`, with shadowing allowed.
pub fn add_to_linker<T: NetHost>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    let mut streams = linker.instance(STREAMS)?;
    streams.func_wrap(
        "[method]input-stream.read",
        |mut store: StoreContextMut<'_, T>, (this, len): (Resource<DynInputStream>, u64)| {
            let table = store.data_mut().net_view().table;
            let read = table.get_mut(&this)?.read(clamp(len));
            Ok((outcome(table, read)?,))
        },
    )?;
    streams.func_wrap_async(
        "[method]input-stream.blocking-read",
        |mut store: StoreContextMut<'_, T>, (this, len): (Resource<DynInputStream>, u64)| {
            Box::new(async move {
                let table = store.data_mut().net_view().table;
                let read = table.get_mut(&this)?.blocking_read(clamp(len)).await;
                Ok((outcome(table, read)?,))
            })
        },
    )
}

/// The guest's `len` as a host size (a stream hands over at most what it has).
fn clamp(len: u64) -> usize {
    usize::try_from(len).unwrap_or(usize::MAX)
}

/// A stream error as the guest's `stream-error` (a trap stays a trap).
fn outcome(table: &mut ResourceTable, read: StreamResult<Bytes>) -> wasmtime::Result<ReadOutcome> {
    match read {
        Ok(bytes) => Ok(Ok(bytes)),
        Err(err) => Ok(Err(table.convert_stream_error(err)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::STREAMS;

    /// wasmtime-wasi links `wasi:io` at the version of the WASI WIT sandnet
    /// ships (guests are built against it); naming another version here would
    /// add a new instance instead of replacing the reads.
    #[test]
    fn the_shadowed_streams_are_the_shipped_wasi_io_version() {
        let (_, io) = crate::wit::WIT_DEPS
            .iter()
            .find(|(name, _)| *name == "io")
            .copied()
            .unwrap_or_default();
        let version = STREAMS.rsplit('@').next().unwrap_or_default();
        let package = format!("package wasi:io@{version};");
        assert_eq!(io.lines().next(), Some(package.as_str()));
    }
}
