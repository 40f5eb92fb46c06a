//! One supervised instance of a guest: start it, wait for it to end or for the
//! fleet to stop or re-scope it, restart it with backoff as its `restart` says.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sandnet_policy::{Backoff, GuestPolicy};
use tokio::sync::{mpsc, oneshot};

use super::event::{Event, EventKind, Stream};
use super::output;
use super::{InstanceState, InstanceStatus, Shared};
use crate::audit::Audit;
use crate::exit::Code;
use crate::guard::Guard;
use crate::metrics::{GuestMeter, Metrics};
use crate::runtime::{ExitStatus, GuestIo, RunRequest};

/// What the fleet asks of a running instance.
pub(super) enum Control {
    /// Stop: end its stdin at once, wait up to `grace` for it to end by
    /// itself, then stop it; answer on `done` once it has ended.
    Stop {
        why: String,
        grace: Duration,
        done: oneshot::Sender<()>,
    },
    /// Judge everything from now on by this policy; answer with how many
    /// live connections the new policy no longer grants (closed).
    Rescope {
        policy: Arc<GuestPolicy>,
        revoked: oneshot::Sender<usize>,
    },
}

/// A guest's series (shared by its instances), or nothing without `--metrics`.
#[derive(Clone)]
pub(super) struct Meter {
    meter: Option<GuestMeter>,
    running: Arc<AtomicI64>,
}

impl Meter {
    pub fn new(metrics: Option<&Metrics>, guest: &str) -> Self {
        Meter {
            meter: metrics.map(|m| m.guest(guest)),
            running: Arc::default(),
        }
    }

    /// Whether series are kept (`--metrics`).
    fn is_on(&self) -> bool {
        self.meter.is_some()
    }

    fn state(&self, state: InstanceState) {
        let Some(meter) = &self.meter else { return };
        meter.set_state(state.metric());
    }

    fn running(&self, delta: i64) {
        let now = self.running.fetch_add(delta, Ordering::Relaxed) + delta;
        if let Some(meter) = &self.meter {
            meter.instances_running(now);
        }
    }

    fn restarted(&self, reason: &str) {
        if let Some(meter) = &self.meter {
            meter.restarted(reason);
        }
    }

    fn usage(&self, cpu: Duration, memory: u64) {
        if let Some(meter) = &self.meter {
            meter.add_cpu_time(cpu);
            meter.set_memory_bytes(memory);
        }
    }

    /// The audit log the guest's guard writes to, counting into this meter.
    fn audit(&self, audit: &Audit) -> Audit {
        match &self.meter {
            Some(meter) => audit.clone().metered(meter.clone()),
            None => audit.clone(),
        }
    }
}

/// Longest wait, after an instance ended, for its last output lines to be
/// delivered before its stop is reported.
const OUTPUT_DRAIN: Duration = Duration::from_secs(2);

/// How often a running instance's CPU and memory reach its series.
const USAGE_EVERY: Duration = Duration::from_secs(1);

/// The fleet's handle on one instance.
pub(super) struct Handle {
    pub control: mpsc::Sender<Control>,
    pub status: Arc<Mutex<InstanceStatus>>,
}

impl Handle {
    /// Starts supervising instance `instance` of `policy`'s guest.
    pub fn spawn(
        shared: Arc<Shared>,
        policy: Arc<GuestPolicy>,
        instance: u32,
        meter: Meter,
    ) -> Handle {
        let (control, inbox) = mpsc::channel(8);
        let status = Arc::new(Mutex::new(InstanceStatus::new(&policy.name, instance)));
        let supervisor = Supervisor {
            shared,
            policy,
            instance,
            inbox,
            status: Arc::clone(&status),
            restarts: 0,
            meter,
        };
        tokio::spawn(supervisor.run());
        Handle { control, status }
    }

    /// Stops it (see [`Control::Stop`]) and waits until it has ended.
    pub async fn stop(&self, why: &str, grace: Duration) {
        let (done, ended) = oneshot::channel();
        let asked = self.control.send(Control::Stop {
            why: why.to_owned(),
            grace,
            done,
        });
        if asked.await.is_ok() {
            let _ = ended.await;
        }
    }

    /// Re-scopes it (see [`Control::Rescope`]); the number of connections closed.
    pub async fn rescope(&self, policy: Arc<GuestPolicy>) -> usize {
        let (revoked, answer) = oneshot::channel();
        let asked = self.control.send(Control::Rescope { policy, revoked });
        if asked.await.is_err() {
            return 0;
        }
        answer.await.unwrap_or(0)
    }
}

/// How a wait for the fleet's next request ended.
enum Next {
    /// Stop now; answer `done` when ended.
    Stop(oneshot::Sender<()>),
    /// The wait's own timer ran out (backoff over).
    Elapsed,
}

struct Supervisor {
    shared: Arc<Shared>,
    policy: Arc<GuestPolicy>,
    instance: u32,
    inbox: mpsc::Receiver<Control>,
    status: Arc<Mutex<InstanceStatus>>,
    restarts: u32,
    meter: Meter,
}

impl Supervisor {
    async fn run(mut self) {
        let mut backoff = Backoff::default();
        loop {
            let started = Instant::now();
            let (status, stopped) = self.run_once().await;
            let ran_for = started.elapsed();
            let failed = status.is_failure();
            let restart = stopped.is_none()
                && self
                    .policy
                    .program
                    .as_ref()
                    .is_some_and(|p| p.restart.restarts(failed));
            // The status says where the instance is before the event says it
            // stopped, so a reader of both never sees them disagree.
            let state = match (&stopped, restart, failed) {
                (Some(_), _, _) => InstanceState::Stopped,
                (None, true, _) => InstanceState::Backoff,
                (None, false, true) => InstanceState::Failed,
                (None, false, false) => InstanceState::Exited,
            };
            self.set(|s| {
                s.state = state;
                s.last_exit = Some(status.to_string());
                s.stats = None;
            });
            self.emit(EventKind::Stopped {
                reason: status.reason().to_owned(),
                status: status.code(),
                message: status.to_string(),
                ran_for,
            })
            .await;
            if let Some(done) = stopped {
                let _ = done.send(());
                return;
            }
            if !restart {
                if let Next::Stop(done) = self.wait(None).await {
                    let _ = done.send(());
                }
                return;
            }
            let delay = backoff.next_delay(ran_for);
            self.meter.restarted(status.reason());
            self.emit(EventKind::Restarting { delay }).await;
            if let Next::Stop(done) = self.wait(Some(delay)).await {
                self.set(|s| s.state = InstanceState::Stopped);
                self.emit(EventKind::Stopped {
                    reason: "stopped".to_owned(),
                    status: 0,
                    message: "stopped by the host while waiting to restart".to_owned(),
                    ran_for: Duration::ZERO,
                })
                .await;
                let _ = done.send(());
                return;
            }
            self.restarts += 1;
            self.set(|s| s.restarts = self.restarts);
        }
    }

    /// One run, from loading the component to its end. Returns how it ended
    /// and, when the fleet stopped it, whom to tell.
    async fn run_once(&mut self) -> (ExitStatus, Option<oneshot::Sender<()>>) {
        self.set(|s| s.state = InstanceState::Starting);
        self.emit(EventKind::Started {
            restarts: self.restarts,
        })
        .await;
        let Some(program) = self.policy.program.clone() else {
            return (ExitStatus::Stopped("no component".into()), None);
        };
        let (stdin_host, stdin_guest) = tokio::io::duplex(1024);
        let mut forwarders = Vec::new();
        let io = GuestIo::Piped {
            stdin: Box::new(stdin_guest),
            stdout: Box::new(self.pipe(Stream::Stdout, &mut forwarders)),
            stderr: Box::new(self.pipe(Stream::Stderr, &mut forwarders)),
        };
        let mut guard_config = self.shared.guard.clone();
        guard_config.audit = self.meter.audit(&guard_config.audit);
        let request = RunRequest {
            component: program.component,
            policy: Arc::clone(&self.policy),
            args: program.args,
            capture_output: false,
            guard: guard_config,
        };
        // Loading may compile (seconds for a big guest): not on a runtime thread.
        let runtime = self.shared.runtime.clone();
        let prepared = tokio::task::spawn_blocking(move || runtime.prepare(request, io)).await;
        let prepared = match prepared {
            // With --metrics, CPU time is reported whether or not the guest
            // has a cpu_time limit; without, only a limit pays for counting it.
            Ok(Ok(prepared)) if self.meter.is_on() => prepared.count_cpu(),
            Ok(Ok(prepared)) => prepared,
            Ok(Err(err)) => return (cannot_start(&format!("{err:#}")), None),
            Err(err) => return (cannot_start(&err.to_string()), None),
        };
        let guard = Arc::clone(prepared.guard());
        let stats = prepared.stats().clone();
        let live = stats.clone();
        self.set(|s| {
            s.state = InstanceState::Running;
            s.stats = Some(live);
        });
        let (force, forced) = oneshot::channel::<String>();
        let stop = async move { forced.await.unwrap_or_else(|_| "the host shut down".into()) };
        let mut run = self.shared.guests.spawn(prepared.run_until(stop));
        self.meter.running(1);
        let mut usage_tick = tokio::time::interval(USAGE_EVERY);
        let mut cpu_reported = Duration::ZERO;

        let mut stdin = Some(stdin_host);
        let mut force = Some(force);
        let mut stopping: Option<(String, Instant, oneshot::Sender<()>)> = None;
        let outcome = loop {
            let grace_over = async {
                match &stopping {
                    Some((_, deadline, _)) => tokio::time::sleep_until((*deadline).into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ended = &mut run => break ended,
                request = self.inbox.recv(), if stopping.is_none() => match request {
                    Some(Control::Rescope { policy, revoked }) => {
                        let closed = rescope_live(&guard, &policy);
                        self.policy = policy;
                        let _ = revoked.send(closed);
                    }
                    Some(Control::Stop { why, grace, done }) => {
                        stdin = None;
                        stopping = Some((why, Instant::now() + grace, done));
                    }
                    None => {
                        let (done, _) = oneshot::channel();
                        stdin = None;
                        stopping = Some(("the host shut down".into(), Instant::now(), done));
                    }
                },
                () = grace_over => {
                    if let (Some(force), Some((why, _, _))) = (force.take(), &stopping) {
                        let _ = force.send(why.clone());
                    }
                }
                _ = usage_tick.tick() => {
                    let cpu = stats.cpu.used();
                    self.meter.usage(cpu.saturating_sub(cpu_reported), stats.memory_bytes());
                    cpu_reported = cpu;
                }
            }
        };
        drop(stdin);
        // The store (and with it the guest's ends of its output pipes) is gone:
        // let the last lines through before the instance is reported stopped.
        let delivered = futures::future::join_all(forwarders);
        let _ = tokio::time::timeout(OUTPUT_DRAIN, delivered).await;
        self.meter.running(-1);
        let cpu = stats.cpu.used();
        self.meter
            .usage(cpu.saturating_sub(cpu_reported), stats.memory_bytes());
        let status = match outcome {
            Ok(outcome) => outcome.status,
            Err(err) => ExitStatus::Trapped(format!("the guest's task failed: {err}")),
        };
        (status, stopping.map(|(_, _, done)| done))
    }

    /// Waits for the fleet's next request (re-scoping as asked) or `timeout`.
    async fn wait(&mut self, timeout: Option<Duration>) -> Next {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let timer = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = timer => return Next::Elapsed,
                request = self.inbox.recv() => match request {
                    Some(Control::Stop { done, .. }) => return Next::Stop(done),
                    Some(Control::Rescope { policy, revoked }) => {
                        self.policy = policy;
                        let _ = revoked.send(0);
                    }
                    None => return Next::Stop(oneshot::channel().0),
                },
            }
        }
    }

    fn pipe(
        &self,
        stream: Stream,
        forwarders: &mut Vec<tokio::task::JoinHandle<()>>,
    ) -> tokio::io::DuplexStream {
        let events = self.shared.events.clone();
        let (end, forwarder) = output::pipe(&self.policy.name, self.instance, stream, events);
        forwarders.push(forwarder);
        end
    }

    async fn emit(&self, kind: EventKind) {
        let event = Event {
            guest: self.policy.name.clone(),
            instance: self.instance,
            kind,
        };
        let _ = self.shared.events.send(event).await;
    }

    fn set(&self, change: impl FnOnce(&mut InstanceStatus)) {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut status);
        self.meter.state(status.state);
    }
}

/// The status of an instance that could not even start (unreadable or
/// invalid component, unusable CA bundle).
fn cannot_start(why: &str) -> ExitStatus {
    ExitStatus::Trapped(format!(
        "cannot start: {why} (exit {})",
        Code::HostFailure.get()
    ))
}

/// Applies `policy` to a running instance's guard; the number of live
/// connections it no longer grants (closed, each with an audit event).
fn rescope_live(guard: &Guard, policy: &Arc<GuestPolicy>) -> usize {
    guard.reload(Arc::clone(policy)).revoked.len()
}
