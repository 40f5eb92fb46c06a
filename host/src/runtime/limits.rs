//! The limits a guest's store enforces: linear memory and table growth (the
//! policy's `memory`), and the wall-clock deadline (its `wall_time`), checked at
//! every epoch tick.

use std::time::{Duration, Instant};

use wasmtime::{ResourceLimiter, Store, UpdateDeadline};

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

/// Marker trap for the wall-clock deadline.
#[derive(Debug, thiserror::Error)]
#[error("wall-clock deadline reached")]
pub(super) struct WallTimeReached;

/// Arms the wall-clock deadline on `store`: at every epoch tick the guest yields
/// and, once `wall_time` from now has passed, traps with [`WallTimeReached`].
/// Returns the deadline, for the async side of the run to time out on as well.
pub(super) fn arm_wall_time<T>(store: &mut Store<T>, wall_time: Duration) -> Instant {
    let deadline = Instant::now() + wall_time;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Err(wasmtime::Error::new(WallTimeReached))
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    deadline
}
