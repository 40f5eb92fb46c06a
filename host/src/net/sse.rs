//! Host side of `sandnet:net/sse`: not implemented yet, so the runtime links
//! traps for it (see [`crate::runtime`]); its issue replaces this file.

use wasmtime::component::Linker;

use crate::state::State;

/// Whether the runtime links this interface (otherwise its calls trap).
pub const IMPLEMENTED: bool = false;

/// Per-guest state of this protocol.
#[derive(Debug, Default)]
pub struct ProtocolState {}

/// Host state behind the WIT resource of the same name.
#[derive(Debug)]
pub struct EventStream;

/// Adds the interface to the linker (nothing while unimplemented).
pub fn add_to_linker(_linker: &mut Linker<State>) -> wasmtime::Result<()> {
    Ok(())
}
