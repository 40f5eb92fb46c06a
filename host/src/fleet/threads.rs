//! Where a fleet's guests run: [`GuestThreads`], a set of threads each driving
//! its own current-thread tokio runtime, so a guest and every connection task
//! it starts share one thread (a call on an open connection costs no
//! cross-thread wake-up, as under `sandnet run`); or any runtime the embedder
//! hands over ([`Guests::Runtime`]).
//!
//! A new guest goes to the thread with the fewest live guests. Guests on one
//! thread take turns: each yields at every epoch tick, and the thread checks
//! for I/O after every task it polls ([`EVENT_INTERVAL`]), so a guest that
//! wakes next to a spinning one waits at most about two ticks (the spinner's
//! current slice and, queued before it, its next one). Guests on other threads
//! are not slowed; with more threads than cores, the kernel gives a thread
//! that slept a core at once.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Guest threads per core that [`GuestThreads::per_core`] starts: more
/// threads than cores, so a guest waking next to spinning ones finds a
/// thread of its own more often.
pub const THREADS_PER_CORE: usize = 4;

/// Tasks a guest thread polls between two checks of its I/O and timers. One:
/// a spinning guest's slice (an epoch tick) is never followed by another
/// task's before a waiting guest's socket is seen.
pub const EVENT_INTERVAL: u32 = 1;

/// How long a stopping guest thread waits for blocking work (a file read
/// on tokio's blocking pool) its guests left behind.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

/// Where a fleet spawns its guests.
#[derive(Debug, Clone)]
pub enum Guests {
    /// Every guest on this runtime (an embedder's own, e.g. a test's).
    Runtime(Handle),
    /// Each guest on one of these threads (`sandnet up`).
    Threads(Arc<GuestThreads>),
}

impl Guests {
    /// Runs `guest` where this placement puts guests.
    pub fn spawn<F>(&self, guest: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Guests::Runtime(handle) => handle.spawn(guest),
            Guests::Threads(threads) => threads.spawn(guest),
        }
    }
}

impl From<Handle> for Guests {
    fn from(handle: Handle) -> Self {
        Guests::Runtime(handle)
    }
}

/// Threads, each running a current-thread tokio runtime, that guests are
/// spread over. Dropping it stops the threads (and the guests still on them).
#[derive(Debug)]
pub struct GuestThreads {
    threads: Vec<GuestThread>,
}

#[derive(Debug)]
struct GuestThread {
    handle: Handle,
    /// Guests spawned here and not yet ended.
    live: Arc<AtomicUsize>,
    /// Dropped to end the thread's `block_on`.
    stop: Option<oneshot::Sender<()>>,
    join: Option<std::thread::JoinHandle<()>>,
}

impl GuestThreads {
    /// [`THREADS_PER_CORE`] threads per available core.
    pub fn per_core() -> std::io::Result<GuestThreads> {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        GuestThreads::start(cores * THREADS_PER_CORE)
    }

    /// `count` (at least one) guest threads, named `sandnet-guest-N`.
    pub fn start(count: usize) -> std::io::Result<GuestThreads> {
        let threads = (0..count.max(1))
            .map(GuestThread::start)
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(GuestThreads { threads })
    }

    /// Runs `guest` on the thread with the fewest live guests; the tasks it
    /// spawns (its connections) run on that thread too.
    pub fn spawn<F>(&self, guest: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let thread = self.least_loaded();
        let live = LiveGuest::enter(&thread.live);
        thread.handle.spawn(async move {
            let _live = live;
            guest.await
        })
    }

    /// Live guests on each thread, in thread order.
    pub fn load(&self) -> Vec<usize> {
        self.threads
            .iter()
            .map(|t| t.live.load(Ordering::Relaxed))
            .collect()
    }

    fn least_loaded(&self) -> &GuestThread {
        let mut best = &self.threads[0];
        for thread in &self.threads[1..] {
            if thread.live.load(Ordering::Relaxed) < best.live.load(Ordering::Relaxed) {
                best = thread;
            }
        }
        best
    }
}

impl GuestThread {
    fn start(index: usize) -> std::io::Result<GuestThread> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .event_interval(EVENT_INTERVAL)
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let join = std::thread::Builder::new()
            .name(format!("sandnet-guest-{index}"))
            .spawn(move || {
                // Drives every task spawned on `handle` until told to stop,
                // then drops the tasks still on it.
                let _ = runtime.block_on(stopped);
                runtime.shutdown_timeout(SHUTDOWN_WAIT);
            })?;
        Ok(GuestThread {
            handle,
            live: Arc::new(AtomicUsize::new(0)),
            stop: Some(stop),
            join: Some(join),
        })
    }
}

impl Drop for GuestThreads {
    /// Tells every thread to stop, then waits for each (at most
    /// [`SHUTDOWN_WAIT`] for the blocking work its guests left behind).
    fn drop(&mut self) {
        for thread in &mut self.threads {
            drop(thread.stop.take());
        }
        for thread in &mut self.threads {
            if let Some(join) = thread.join.take()
                && join.thread().id() != std::thread::current().id()
            {
                let _ = join.join();
            }
        }
    }
}

/// Counts a guest as live on its thread until its task ends or is dropped.
struct LiveGuest(Arc<AtomicUsize>);

impl LiveGuest {
    fn enter(live: &Arc<AtomicUsize>) -> LiveGuest {
        live.fetch_add(1, Ordering::Relaxed);
        LiveGuest(Arc::clone(live))
    }
}

impl Drop for LiveGuest {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn a_guest_and_the_tasks_it_spawns_share_one_thread() {
        let threads = GuestThreads::start(3).unwrap();
        let guest = threads.spawn(async {
            let own = std::thread::current().id();
            let spawned = tokio::spawn(async { std::thread::current().id() });
            (own, spawned.await.unwrap())
        });
        let (own, spawned) = futures::executor::block_on(guest).unwrap();
        assert_eq!(own, spawned);
        assert_ne!(own, std::thread::current().id());
    }

    #[test]
    fn guests_go_to_the_least_loaded_thread_and_leave_it_when_they_end() {
        let threads = GuestThreads::start(3).unwrap();
        let (release, released) = tokio::sync::watch::channel(false);
        let waiting: Vec<_> = (0..4)
            .map(|_| {
                let mut released = released.clone();
                threads.spawn(async move {
                    let _ = released.wait_for(|r| *r).await;
                })
            })
            .collect();
        let mut load = threads.load();
        load.sort_unstable();
        assert_eq!(load, vec![1, 1, 2], "four guests over three threads");
        release.send(true).unwrap();
        for guest in waiting {
            futures::executor::block_on(guest).unwrap();
        }
        assert_eq!(threads.load(), vec![0, 0, 0]);
    }

    #[test]
    fn dropping_the_threads_drops_the_guests_still_running() {
        let threads = GuestThreads::start(1).unwrap();
        let guest = threads.spawn(std::future::pending::<()>());
        drop(threads);
        let ended = futures::executor::block_on(guest);
        assert!(ended.unwrap_err().is_cancelled());
    }
}
