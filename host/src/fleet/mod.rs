//! Many long-lived guests in one process (`sandnet up`, and the embedding API
//! behind it): each instance in its own store with its own guard, supervised
//! and restarted per its `restart`, stopped with a grace period, re-scoped or
//! restarted when a new policy is applied, reporting what happens as [`Event`]s.
//!
//! Threads: guests run where [`FleetConfig::guests`] puts them. `sandnet up`
//! uses [`GuestThreads`]: each guest on one of several single-threaded
//! runtimes, with the connection tasks it starts on the same thread, so its
//! calls cost what they cost under `sandnet run`. Each guest yields at every
//! epoch tick. Supervisors, output forwarding and the caller's own work run on
//! the runtime that calls [`Fleet::apply`] (the `up` command uses a separate
//! control thread, so a busy guest never delays a signal).
//!
//! - `plan`: which guests a new policy starts, stops, restarts or re-scopes (pure).
//! - `instance`: one instance's supervisor loop.
//! - `output`: guest stdout/stderr as line events.
//! - `event`: what a fleet reports.
//! - `threads`: the guest threads, and where a new guest goes.

mod event;
mod instance;
mod output;
mod plan;
mod threads;

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use sandnet_policy::{GuestPolicy, Policy};
use tokio::sync::{Mutex, mpsc};

pub use event::{Event, EventKind, Stream};
pub use output::MAX_LINE_BYTES;
pub use plan::{Change, plan};
pub use threads::{EVENT_INTERVAL, GuestThreads, Guests, THREADS_PER_CORE};

use crate::guard::GuardConfig;
use crate::metrics::{GuestState, Metrics};
use crate::runtime::{RunStats, Runtime};

/// How many events wait for the reader before guests' output waits too.
pub const EVENT_BACKLOG: usize = 1024;

/// What a fleet needs: the engine, how guards resolve, dial and audit, and
/// where guests run.
pub struct FleetConfig {
    /// The wasmtime engine and compile cache.
    pub runtime: Runtime,
    /// Resolver, dialer, audit sink and bus broker shared by every guest's guard (each
    /// guard keeps its own policy, limits, counters and `guest` audit identity).
    pub guard: GuardConfig,
    /// Where guests run: [`GuestThreads`] (as `sandnet up` does) or a runtime.
    pub guests: Guests,
    /// Where per-guest series go (`sandnet up --metrics`); `None` keeps none.
    pub metrics: Option<Metrics>,
}

/// Where an instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    /// Loading and instantiating.
    Starting,
    /// Running its `wasi:cli/run`.
    Running,
    /// Ended; waiting out the backoff before the next start.
    Backoff,
    /// Ended with status 0 and not restarted.
    Exited,
    /// Ended with a failure and not restarted.
    Failed,
    /// Stopped by the host.
    Stopped,
}

impl InstanceState {
    /// The state the `sandnet_guest_state` series shows.
    pub fn metric(self) -> GuestState {
        match self {
            InstanceState::Starting => GuestState::Starting,
            InstanceState::Running => GuestState::Running,
            InstanceState::Backoff => GuestState::Backoff,
            InstanceState::Exited | InstanceState::Stopped => GuestState::Stopped,
            InstanceState::Failed => GuestState::Failed,
        }
    }

    /// Lower-case name, as logs and status print it.
    pub fn name(self) -> &'static str {
        match self {
            InstanceState::Starting => "starting",
            InstanceState::Running => "running",
            InstanceState::Backoff => "backoff",
            InstanceState::Exited => "exited",
            InstanceState::Failed => "failed",
            InstanceState::Stopped => "stopped",
        }
    }
}

/// A snapshot of one instance.
#[derive(Debug, Clone)]
pub struct InstanceStatus {
    /// The guest's name.
    pub guest: String,
    /// Which instance.
    pub instance: u32,
    /// Where it is.
    pub state: InstanceState,
    /// How many times it was restarted.
    pub restarts: u32,
    /// How its last run ended.
    pub last_exit: Option<String>,
    /// Live CPU and memory figures while it runs.
    pub stats: Option<RunStats>,
    /// When this status began (state changes do not reset it).
    pub since: Instant,
}

impl InstanceStatus {
    fn new(guest: &str, instance: u32) -> Self {
        InstanceStatus {
            guest: guest.to_owned(),
            instance,
            state: InstanceState::Starting,
            restarts: 0,
            last_exit: None,
            stats: None,
            since: Instant::now(),
        }
    }
}

/// State shared by every supervisor of a fleet.
struct Shared {
    runtime: Runtime,
    guard: GuardConfig,
    guests: Guests,
    events: mpsc::Sender<Event>,
    metrics: Option<Metrics>,
}

/// The guests of one policy file that name a component, running.
struct Running {
    instances: Vec<instance::Handle>,
}

/// Many guests in one host. Create with [`Fleet::new`], take the events
/// with [`Fleet::events`], then [`Fleet::apply`] a policy (again to reload),
/// and [`Fleet::shutdown`] at the end.
pub struct Fleet {
    shared: Arc<Shared>,
    running: Mutex<HashMap<String, Running>>,
    order: Mutex<Vec<GuestPolicy>>,
    events: std::sync::Mutex<Option<mpsc::Receiver<Event>>>,
}

impl Fleet {
    /// An empty fleet.
    pub fn new(config: FleetConfig) -> Fleet {
        let (events, receiver) = mpsc::channel(EVENT_BACKLOG);
        Fleet {
            shared: Arc::new(Shared {
                runtime: config.runtime,
                guard: config.guard,
                guests: config.guests,
                events,
                metrics: config.metrics,
            }),
            running: Mutex::new(HashMap::new()),
            order: Mutex::new(Vec::new()),
            events: std::sync::Mutex::new(Some(receiver)),
        }
    }

    /// The stream of events (once; later calls get `None`). Read it: when
    /// [`EVENT_BACKLOG`] events wait, guests' writes to stdout wait too.
    pub fn events(&self) -> Option<mpsc::Receiver<Event>> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Makes the running guests those of `policy` that name a component:
    /// starts new ones, stops removed ones (each with `grace`), restarts those
    /// whose program changed and re-scopes the others in place. Returns what
    /// it did, per guest.
    pub async fn apply(&self, policy: &Policy, grace: Duration) -> Vec<Change> {
        let mut order = self.order.lock().await;
        let changes = plan(&order, policy.guests());
        let mut running = self.running.lock().await;
        for change in &changes {
            let name = change.guest();
            let new = policy.guests().iter().find(|g| g.name == name);
            match change {
                Change::Stop(_) => {
                    if let Some(old) = running.remove(name) {
                        stop_all(&old.instances, "removed from the policy", grace).await;
                    }
                }
                Change::Restart(_) => {
                    if let Some(old) = running.remove(name) {
                        stop_all(&old.instances, "its program changed", grace).await;
                    }
                    if let Some(new) = new {
                        running.insert(name.to_owned(), self.start(new));
                    }
                }
                Change::Start(_) => {
                    if let Some(new) = new {
                        running.insert(name.to_owned(), self.start(new));
                    }
                }
                Change::Rescope(_) => {
                    if let (Some(entry), Some(new)) = (running.get_mut(name), new) {
                        let policy = Arc::new(new.clone());
                        for handle in &entry.instances {
                            let revoked = handle.rescope(Arc::clone(&policy)).await;
                            let instance = handle.status.lock().map_or(0, |s| s.instance);
                            let event = Event {
                                guest: name.to_owned(),
                                instance,
                                kind: EventKind::Rescoped { revoked },
                            };
                            let _ = self.shared.events.send(event).await;
                        }
                    }
                }
                Change::Keep(_) => {}
            }
        }
        *order = policy.guests().to_vec();
        changes
    }

    /// Reports that a new policy was refused (the old one stays in force).
    pub async fn refuse_reload(&self, error: String) {
        let event = Event {
            guest: String::new(),
            instance: 0,
            kind: EventKind::ReloadRefused { error },
        };
        let _ = self.shared.events.send(event).await;
    }

    /// Stops every guest (ending their stdin at once, waiting up to `grace`
    /// for them to end, then stopping them) and waits until all have ended.
    pub async fn shutdown(&self, grace: Duration) {
        let mut running = self.running.lock().await;
        let all: Vec<instance::Handle> = running.drain().flat_map(|(_, r)| r.instances).collect();
        stop_all(&all, "the host is shutting down", grace).await;
        self.order.lock().await.clear();
    }

    /// A snapshot of every instance, in policy order.
    pub async fn status(&self) -> Vec<InstanceStatus> {
        let order = self.order.lock().await;
        let running = self.running.lock().await;
        order
            .iter()
            .filter_map(|g| running.get(&g.name))
            .flat_map(|r| r.instances.iter())
            .map(|h| {
                h.status
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            })
            .collect()
    }

    fn start(&self, guest: &GuestPolicy) -> Running {
        let policy = Arc::new(guest.clone());
        let count = guest.program.as_ref().map_or(0, |p| p.instances);
        let meter = instance::Meter::new(self.shared.metrics.as_ref(), &guest.name);
        let instances = (0..count)
            .map(|i| {
                let shared = Arc::clone(&self.shared);
                instance::Handle::spawn(shared, Arc::clone(&policy), i, meter.clone())
            })
            .collect();
        Running { instances }
    }
}

async fn stop_all(instances: &[instance::Handle], why: &str, grace: Duration) {
    let stops = instances.iter().map(|h| h.stop(why, grace));
    futures::future::join_all(stops).await;
}
