//! The limits a guest's store enforces: linear memory and table growth (the
//! policy's `memory`), the wall-clock deadline (`wall_time`) and the CPU budget
//! (`cpu_time`), both checked at every epoch tick, where the guest also yields
//! so that one guest never holds a worker thread for longer than a tick.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
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
    /// The largest linear memory granted so far, in bytes (for status and metrics).
    pub size: Arc<AtomicU64>,
}

impl MemoryLimiter {
    /// A limiter capping each memory at `max_bytes`.
    pub fn new(max_bytes: usize) -> Self {
        MemoryLimiter {
            max_bytes,
            hit: false,
            size: Arc::default(),
        }
    }
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
        self.size.fetch_max(
            u64::try_from(desired).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
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

/// Marker trap for the CPU budget.
#[derive(Debug, thiserror::Error)]
#[error("CPU budget spent")]
pub(super) struct CpuTimeReached;

/// The CPU time a guest has consumed: the thread CPU clock is read at the start
/// and end of every poll of the guest's future, so time spent waiting for the
/// network costs nothing and time spent in its own code (and in the host calls
/// it makes, on its behalf) counts, on whichever worker thread polled it.
#[derive(Debug, Clone, Default)]
pub struct CpuClock {
    inner: Arc<CpuClockInner>,
}

#[derive(Debug, Default)]
struct CpuClockInner {
    /// Nanoseconds consumed by finished polls.
    used_ns: AtomicU64,
    /// The polling thread's CPU clock when the current poll began (0: not polling).
    poll_started_ns: AtomicU64,
}

impl CpuClock {
    /// CPU time consumed by finished polls.
    pub fn used(&self) -> Duration {
        Duration::from_nanos(self.inner.used_ns.load(Ordering::Relaxed))
    }

    /// CPU time consumed including the poll in progress; call only from
    /// inside that poll (the epoch callback), where the thread clock matches.
    fn used_in_poll(&self) -> Duration {
        let started = self.inner.poll_started_ns.load(Ordering::Relaxed);
        let current = match started {
            0 => 0,
            started => thread_cpu_ns().saturating_sub(started),
        };
        self.used() + Duration::from_nanos(current)
    }

    /// Wraps `future` so that every poll of it is charged to this clock.
    pub fn meter<F: Future>(&self, future: F) -> Metered<F> {
        Metered {
            clock: self.clone(),
            future: Box::pin(future),
        }
    }
}

/// A future whose polls are charged to a [`CpuClock`].
pub struct Metered<F> {
    clock: CpuClock,
    future: Pin<Box<F>>,
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let started = thread_cpu_ns().max(1);
        let inner = &self.clock.inner;
        inner.poll_started_ns.store(started, Ordering::Relaxed);
        let result = self.future.as_mut().poll(cx);
        let spent = thread_cpu_ns().saturating_sub(started);
        let inner = &self.clock.inner;
        inner.poll_started_ns.store(0, Ordering::Relaxed);
        inner.used_ns.fetch_add(spent, Ordering::Relaxed);
        result
    }
}

/// The calling thread's CPU clock, in nanoseconds.
#[allow(
    unsafe_code,
    reason = "clock_gettime fills the timespec we pass; see SAFETY"
)]
fn thread_cpu_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the duration of the call,
    // and CLOCK_THREAD_CPUTIME_ID is supported on every Linux sandnet runs on.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut now) };
    if rc != 0 {
        return 0;
    }
    let secs = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// Arms the per-tick checks on `store`: at every epoch tick the guest yields
/// to the async runtime; once `wall_time` from now has passed it traps with
/// [`WallTimeReached`], once `clock` shows more than `cpu_time` it traps with
/// [`CpuTimeReached`]. Returns the wall-clock deadline, for the async side of
/// the run to time out on as well (a guest waiting on the network runs no code).
pub(super) fn arm_deadlines<T>(
    store: &mut Store<T>,
    wall_time: Option<Duration>,
    cpu_time: Option<Duration>,
    clock: CpuClock,
) -> Option<Instant> {
    let deadline = wall_time.and_then(|w| Instant::now().checked_add(w));
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(wasmtime::Error::new(WallTimeReached));
        }
        if cpu_time.is_some_and(|budget| clock.used_in_poll() > budget) {
            return Err(wasmtime::Error::new(CpuTimeReached));
        }
        Ok(UpdateDeadline::Yield(1))
    });
    deadline
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_charges_busy_polls_and_not_waiting() {
        let clock = CpuClock::default();
        // Spin until this thread has used 30 ms of CPU (however long that
        // takes on a loaded machine); the clock must have charged about that.
        let busy = clock.meter(async {
            let start = thread_cpu_ns();
            let mut x = 0u64;
            while thread_cpu_ns().saturating_sub(start) < 30_000_000 {
                x = x.wrapping_add(std::hint::black_box(1));
            }
            x
        });
        let _ = block_on(busy);
        let used = clock.used();
        assert!(used >= Duration::from_millis(30), "{used:?}");
        assert!(used < Duration::from_millis(500), "{used:?}");

        let idle = CpuClock::default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build();
        let rt = rt.unwrap_or_else(|e| panic!("{e}"));
        let waiting = idle.clone();
        rt.block_on(async move {
            waiting
                .meter(tokio::time::sleep(Duration::from_millis(50)))
                .await;
        });
        assert!(idle.used() < Duration::from_millis(20), "{:?}", idle.used());
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread().build();
        rt.unwrap_or_else(|e| panic!("{e}")).block_on(f)
    }
}
