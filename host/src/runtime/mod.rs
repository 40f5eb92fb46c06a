//! Runs one guest: engine configuration, compiled-component cache, store limits,
//! epoch-based wall-clock deadline, instantiation and the guest's `wasi:cli/run`.
//!
//! One file per concern: `engine` (the wasmtime engine shared by every run, its
//! epoch ticker, component loading), `compile_cache` (the on-disk cache of
//! compiled components and its size budget), `limits` (memory, tables, wall time and
//! CPU time, as the store enforces them), `linker` (the imports a guest is linked
//! against), `run` (one run, from building the store to how the guest ended) and
//! `stdout` (the host's stdout for a guest, ending it quietly when the pipe closes).

pub mod compile_cache;
mod engine;
pub(crate) mod limits;
mod linker;
mod run;
mod stdout;

pub use compile_cache::default_cache_dir;
pub use engine::{EPOCH_TICK, Runtime, RuntimeConfig};
pub use limits::{CpuClock, MAX_TABLE_ELEMENTS, MemoryLimitExceeded, MemoryLimiter, Metered};
pub use linker::implements;
pub use run::{
    ExitStatus, GuestIo, MAX_CAPTURED_OUTPUT, PIPE_BUDGET, PreparedRun, RunOutcome, RunRequest,
    RunStats,
};
