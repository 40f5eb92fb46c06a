//! [`GuestMeter`]: one guest's handle on its series, with the `guest` label
//! already bound.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use prometheus::{Counter, IntCounter, IntGauge};

use super::Series;
use crate::audit::AuditEvent;

/// Where a guest stands in its supervisor's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuestState {
    /// Being compiled or instantiated.
    Starting,
    /// Running its `wasi:cli/run`.
    Running,
    /// Ended; waiting out the restart backoff before the next start.
    Backoff,
    /// Ended and not restarted (finished, stopped by the host, or removed).
    Stopped,
    /// Ended with a failure and not restarted (restart policy, or cannot start).
    Failed,
}

impl GuestState {
    /// Every state, in the order of [`GuestState::index`].
    pub const ALL: [GuestState; 5] = [
        GuestState::Starting,
        GuestState::Running,
        GuestState::Backoff,
        GuestState::Stopped,
        GuestState::Failed,
    ];

    /// The `state` label value: `starting`, `running`, `backoff`, `stopped`, `failed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            GuestState::Starting => "starting",
            GuestState::Running => "running",
            GuestState::Backoff => "backoff",
            GuestState::Stopped => "stopped",
            GuestState::Failed => "failed",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for GuestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way bytes went, as the `direction` label says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received by the guest.
    In,
    /// Sent by the guest.
    Out,
}

impl Direction {
    /// The `direction` label value: `in` or `out`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// One guest's series. Cheap to clone (three reference counts); every clone and
/// every meter [`Metrics::guest`](super::Metrics::guest) hands out for the same
/// name update the same series.
#[derive(Clone)]
pub struct GuestMeter {
    guest: Arc<str>,
    series: Arc<Series>,
    bound: Arc<Bound>,
}

/// The series whose only label is `guest` (or a fixed second one), looked up once.
struct Bound {
    states: [IntGauge; 5],
    cpu_seconds: Counter,
    memory_bytes: IntGauge,
    instances: IntGauge,
    bytes_in: IntCounter,
    bytes_out: IntCounter,
}

impl fmt::Debug for GuestMeter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuestMeter")
            .field("guest", &self.guest)
            .finish_non_exhaustive()
    }
}

impl GuestMeter {
    pub(super) fn new(guest: &str, series: Arc<Series>) -> Self {
        let states = GuestState::ALL.map(|s| series.state.with_label_values(&[guest, s.as_str()]));
        let bound = Bound {
            states,
            cpu_seconds: series.cpu_seconds.with_label_values(&[guest]),
            memory_bytes: series.memory_bytes.with_label_values(&[guest]),
            instances: series.instances.with_label_values(&[guest]),
            bytes_in: series
                .net_bytes
                .with_label_values(&[guest, Direction::In.as_str()]),
            bytes_out: series
                .net_bytes
                .with_label_values(&[guest, Direction::Out.as_str()]),
        };
        GuestMeter {
            guest: Arc::from(guest),
            series,
            bound: Arc::new(bound),
        }
    }

    /// The guest's name (the `guest` label).
    pub fn guest(&self) -> &str {
        &self.guest
    }

    /// Makes `state` the guest's current state: its `sandnet_guest_state`
    /// series reads 1, the other four 0.
    pub fn set_state(&self, state: GuestState) {
        for (i, gauge) in self.bound.states.iter().enumerate() {
            if i != state.index() {
                gauge.set(0);
            }
        }
        self.bound.states[state.index()].set(1);
    }

    /// Counts one restart; `reason` is how the previous run ended, a short fixed
    /// word (`exit`, `trap`, `cpu_time`, `memory`, `wall_time`, `reload`), not
    /// free text: each value is a series of its own.
    pub fn restarted(&self, reason: &str) {
        self.series
            .restarts
            .with_label_values(&[&*self.guest, reason])
            .inc();
    }

    /// Adds CPU time the guest consumed.
    pub fn add_cpu_time(&self, cpu: Duration) {
        self.bound.cpu_seconds.inc_by(cpu.as_secs_f64());
    }

    /// Sets the linear memory the guest holds now, in bytes.
    pub fn set_memory_bytes(&self, bytes: u64) {
        self.bound
            .memory_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Sets how many instances of the guest run now.
    pub fn instances_running(&self, n: i64) {
        self.bound.instances.set(n);
    }

    /// Counts `n` bytes sent or received.
    pub fn add_bytes(&self, direction: Direction, n: u64) {
        match direction {
            Direction::In => self.bound.bytes_in.inc_by(n),
            Direction::Out => self.bound.bytes_out.inc_by(n),
        }
    }

    /// Counts one refusal by the limit whose policy key is `limit`.
    pub fn limit_hit(&self, limit: &str) {
        self.series
            .limit_hits
            .with_label_values(&[&*self.guest, limit])
            .inc();
    }

    /// Counts one audit event: `sandnet_net_events_total` by its protocol,
    /// event and decision, and a limit hit when it names a limit. Its byte
    /// fields are not counted here: the guard counts every chunk as it passes
    /// ([`crate::audit::Audit::count_bytes`]).
    pub fn record(&self, event: &AuditEvent) {
        self.series
            .net_events
            .with_label_values(&[
                &*self.guest,
                event.protocol.as_str(),
                event.event,
                event.decision.as_str(),
            ])
            .inc();
        if let Some(limit) = event.limit {
            self.limit_hit(limit);
        }
    }
}
