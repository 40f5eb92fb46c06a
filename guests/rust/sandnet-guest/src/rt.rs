//! A small async runtime for guests: [`block_on`] drives a future to
//! completion, [`spawn`] runs more tasks beside it, and every wait — a
//! response head, body bytes, a WebSocket message, a timer — is a host
//! pollable. When no task can make progress, the runtime makes one
//! `wasi:io/poll` call over every pollable a task is waiting on (timers
//! included), so several requests and sockets proceed at once on the guest's
//! single thread.
//!
//! The `_async` methods of this crate ([`crate::http::Request::fetch_async`],
//! [`crate::websocket::Connection::receive_async`], ...) work with any
//! executor whose wakers are woken from this runtime's poll, i.e. under
//! [`block_on`]; combinators such as `futures::join!` work as usual.
//!
//! ```no_run
//! use sandnet_guest::http::Request;
//! use sandnet_guest::rt;
//!
//! fn main() -> sandnet_guest::Result<()> {
//!     rt::block_on(async {
//!         let a = rt::spawn(Request::get("https://a.example/slow").fetch_async());
//!         let b = Request::get("https://b.example/slow").fetch_async().await?;
//!         let a = a.await?;
//!         println!("{} {}", a.status(), b.status()); // in the time of the slower one
//!         Ok(())
//!     })
//! }
//! ```

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crate::bindings::wasi::clocks::monotonic_clock;
use crate::bindings::wasi::io::poll;
use crate::poll::Pollable;

/// A wake-up flag: set by a waker, taken by the executor before it polls.
#[derive(Default)]
struct Flag(AtomicBool);

impl Flag {
    fn woken() -> Arc<Flag> {
        Arc::new(Flag(AtomicBool::new(true)))
    }

    fn take(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }

    fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

/// One registered wait: the pollable, who to wake, and whether it fired.
struct Waiting {
    id: u64,
    pollable: Pollable,
    waker: Waker,
    fired: Rc<Cell<bool>>,
}

type Task = Pin<Box<dyn Future<Output = ()>>>;

#[derive(Default)]
struct Runtime {
    waiting: Vec<Waiting>,
    next_id: u64,
    /// Spawned tasks not yet finished, each with its wake-up flag.
    tasks: Vec<(Arc<Flag>, Task)>,
    /// Tasks spawned while the others were being polled.
    spawned: Vec<(Arc<Flag>, Task)>,
}

thread_local! {
    static RUNTIME: RefCell<Runtime> = RefCell::new(Runtime::default());
}

/// Runs `future` to completion, with the tasks [`spawn`]ed meanwhile; returns
/// its output (spawned tasks still pending then are dropped).
///
/// # Panics
/// If the future and every task wait while nothing is registered to wake them
/// (a future that is pending without a host pollable would wait forever).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let main = Flag::woken();
    let main_waker = Waker::from(Arc::clone(&main));
    loop {
        if main.take()
            && let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&main_waker))
        {
            // Taken out first: dropping a task drops its waits, which
            // unregister themselves from the runtime.
            let leftovers = RUNTIME.with(|rt| std::mem::take(&mut *rt.borrow_mut()));
            drop(leftovers);
            return output;
        }
        run_tasks();
        let runnable = main.is_set()
            || RUNTIME.with(|rt| rt.borrow().tasks.iter().any(|(flag, _)| flag.is_set()));
        if !runnable {
            wait_for_pollables();
        }
    }
}

/// Polls every spawned task whose flag is set, once.
fn run_tasks() {
    let mut tasks = RUNTIME.with(|rt| std::mem::take(&mut rt.borrow_mut().tasks));
    tasks.retain_mut(|(flag, task)| {
        if !flag.take() {
            return true;
        }
        let waker = Waker::from(Arc::clone(flag));
        task.as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    });
    RUNTIME.with(|rt| {
        let mut rt = rt.borrow_mut();
        let spawned = std::mem::take(&mut rt.spawned);
        tasks.extend(spawned);
        rt.tasks = tasks;
    });
}

/// One `wasi:io/poll` over every registered pollable; wakes the ready ones.
fn wait_for_pollables() {
    let waiting = RUNTIME.with(|rt| std::mem::take(&mut rt.borrow_mut().waiting));
    assert!(
        !waiting.is_empty(),
        "sandnet_guest::rt: every task is waiting but nothing can wake them \
         (a future pending without a host pollable)"
    );
    let ready = {
        let pollables: Vec<&Pollable> = waiting.iter().map(|w| &w.pollable).collect();
        poll::poll(&pollables)
    };
    let mut still = Vec::with_capacity(waiting.len());
    for (index, entry) in waiting.into_iter().enumerate() {
        if ready.contains(&(index as u32)) {
            entry.fired.set(true);
            entry.waker.wake();
        } else {
            still.push(entry);
        }
    }
    RUNTIME.with(|rt| rt.borrow_mut().waiting.extend(still));
}

/// A task started by [`spawn`]; awaiting it gives the task's output.
pub struct JoinHandle<T> {
    slot: Rc<RefCell<(Option<T>, Option<Waker>)>>,
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = self.slot.borrow_mut();
        match slot.0.take() {
            Some(value) => Poll::Ready(value),
            None => {
                slot.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Starts `future` as a task beside the one [`block_on`] drives; it runs
/// whether or not the handle is awaited (until `block_on` returns).
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    let slot = Rc::new(RefCell::new((None, None::<Waker>)));
    let filled = Rc::clone(&slot);
    let task: Task = Box::pin(async move {
        let output = future.await;
        let waker = {
            let mut slot = filled.borrow_mut();
            slot.0 = Some(output);
            slot.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    });
    RUNTIME.with(|rt| rt.borrow_mut().spawned.push((Flag::woken(), task)));
    JoinHandle { slot }
}

/// The future of [`ready`].
struct Ready {
    pollable: Option<Pollable>,
    id: Option<u64>,
    fired: Rc<Cell<bool>>,
}

impl Future for Ready {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.fired.get() {
            self.id = None;
            return Poll::Ready(());
        }
        if let Some(pollable) = self.pollable.take() {
            if pollable.ready() {
                return Poll::Ready(());
            }
            let fired = Rc::clone(&self.fired);
            let id = RUNTIME.with(|rt| {
                let mut rt = rt.borrow_mut();
                rt.next_id += 1;
                let id = rt.next_id;
                rt.waiting.push(Waiting {
                    id,
                    pollable,
                    waker: cx.waker().clone(),
                    fired,
                });
                id
            });
            self.id = Some(id);
        } else if let Some(id) = self.id {
            // Polled again before firing: keep the newest waker.
            RUNTIME.with(|rt| {
                if let Some(entry) = rt.borrow_mut().waiting.iter_mut().find(|w| w.id == id) {
                    entry.waker = cx.waker().clone();
                }
            });
        }
        Poll::Pending
    }
}

impl Drop for Ready {
    /// A cancelled wait releases its pollable at once (it is a child of its
    /// resource, which may be dropped next).
    fn drop(&mut self) {
        if let Some(id) = self.id {
            RUNTIME.with(|rt| rt.borrow_mut().waiting.retain(|w| w.id != id));
        }
    }
}

/// Waits until `pollable` is ready, letting other tasks run meanwhile.
pub fn ready(pollable: Pollable) -> impl Future<Output = ()> {
    Ready {
        pollable: Some(pollable),
        id: None,
        fired: Rc::new(Cell::new(false)),
    }
}

/// Waits `duration` (a host timer), letting other tasks run meanwhile.
pub fn sleep(duration: Duration) -> impl Future<Output = ()> {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    ready(monotonic_clock::subscribe_duration(nanos))
}
