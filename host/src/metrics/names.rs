//! The metric and label names sandnet exports, defined once (docs/metrics.md
//! describes each).

/// Gauge `{guest, state}`: 1 for the guest's current [`GuestState`], 0 for the others.
///
/// [`GuestState`]: super::GuestState
pub const GUEST_STATE: &str = "sandnet_guest_state";
pub(crate) const GUEST_STATE_HELP: &str = "1 for the guest's current state (starting, running, backoff, stopped, failed), 0 for the others";

/// Counter `{guest, reason}`: restarts of the guest by the supervisor.
pub const GUEST_RESTARTS: &str = "sandnet_guest_restarts_total";
pub(crate) const GUEST_RESTARTS_HELP: &str =
    "Times the guest was restarted, by the reason its previous run ended";

/// Counter `{guest}`: CPU time the guest consumed, in seconds.
pub const GUEST_CPU: &str = "sandnet_guest_cpu_seconds_total";
pub(crate) const GUEST_CPU_HELP: &str = "CPU time the guest consumed, in seconds";

/// Gauge `{guest}`: the guest's linear memory, in bytes.
pub const GUEST_MEMORY: &str = "sandnet_guest_memory_bytes";
pub(crate) const GUEST_MEMORY_HELP: &str =
    "Linear memory the guest's running instances hold, in bytes";

/// Gauge `{guest}`: instances of the guest running now.
pub const GUEST_INSTANCES: &str = "sandnet_guest_instances";
pub(crate) const GUEST_INSTANCES_HELP: &str = "Instances of the guest running now";

/// Counter `{guest, protocol, event, decision}`: network decisions, one per audit event.
pub const NET_EVENTS: &str = "sandnet_net_events_total";
pub(crate) const NET_EVENTS_HELP: &str = "Network events the guard recorded (request, connect, resolve, accept, close, ...), by protocol and decision (allow, deny, error, would-deny)";

/// Counter `{guest, direction}`: bytes the guest sent (`out`) and received (`in`).
pub const NET_BYTES: &str = "sandnet_net_bytes_total";
pub(crate) const NET_BYTES_HELP: &str =
    "Bytes the guest sent (out) or received (in) over the network, every protocol";

/// Counter `{guest, limit}`: times a policy limit refused something.
pub const LIMIT_HITS: &str = "sandnet_limit_hits_total";
pub(crate) const LIMIT_HITS_HELP: &str =
    "Times a policy limit refused the guest something, by the limit's policy key";

/// Label: the guest's name in the policy.
pub const GUEST: &str = "guest";
/// Label of [`GUEST_STATE`].
pub const STATE: &str = "state";
/// Label of [`GUEST_RESTARTS`].
pub const REASON: &str = "reason";
/// Label of [`NET_EVENTS`]: the scheme (`http`, `https`, `wss`, `tcp`, `udp`, ...).
pub const PROTOCOL: &str = "protocol";
/// Label of [`NET_EVENTS`]: what happened (`request`, `connect`, ...).
pub const EVENT: &str = "event";
/// Label of [`NET_EVENTS`]: `allow`, `deny` or `error`.
pub const DECISION: &str = "decision";
/// Label of [`NET_BYTES`]: `in` or `out`.
pub const DIRECTION: &str = "direction";
/// Label of [`LIMIT_HITS`]: the limit's policy key (`requests_per_second`, ...).
pub const LIMIT: &str = "limit";
