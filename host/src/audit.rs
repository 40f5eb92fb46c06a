//! Structured audit log: one JSON line per network decision (`--audit FILE|-`),
//! and the feed of a guest's network metrics ([`Audit::metered`]).

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::error::NetError;
use crate::metrics::{Direction, GuestMeter};

/// Where audit lines go, and which guest meter counts them. Cloning shares the
/// sink and the meter; `Audit::off()` drops every event.
#[derive(Clone, Default)]
pub struct Audit {
    sink: Option<Arc<Mutex<Box<dyn Write + Send>>>>,
    meter: Option<GuestMeter>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("sink", &self.sink.is_some())
            .field("meter", &self.meter)
            .finish()
    }
}

impl Audit {
    /// An audit log that records nothing.
    pub fn off() -> Self {
        Audit {
            sink: None,
            meter: None,
        }
    }

    /// An audit log writing JSON lines to `writer`.
    pub fn to_writer(writer: Box<dyn Write + Send>) -> Self {
        Audit {
            sink: Some(Arc::new(Mutex::new(writer))),
            meter: None,
        }
    }

    /// This log, also counting every event and byte in `meter`'s
    /// `sandnet_net_*` and `sandnet_limit_hits_total` series (with or without
    /// a JSON sink).
    pub fn metered(mut self, meter: GuestMeter) -> Self {
        self.meter = Some(meter);
        self
    }

    /// The meter events are counted in, if any.
    pub fn meter(&self) -> Option<&GuestMeter> {
        self.meter.as_ref()
    }

    /// Whether events are recorded at all, as JSON lines or as metrics (lets
    /// callers skip building them).
    pub fn enabled(&self) -> bool {
        self.sink.is_some() || self.meter.is_some()
    }

    /// Counts `n` bytes the guard let through in `direction` (a no-op without a
    /// meter) and passes on the quota check's `counted` result, counting a
    /// limit hit when the quota refused them.
    pub fn count_bytes(
        &self,
        direction: Direction,
        n: u64,
        counted: Result<(), NetError>,
    ) -> Result<(), NetError> {
        if let Some(meter) = &self.meter {
            meter.add_bytes(direction, n);
            if let Err(NetError::LimitExceeded { name, .. }) = &counted {
                meter.limit_hit(name);
            }
        }
        counted
    }

    /// Counts one event in the meter and writes it as a JSON line to the sink.
    /// Audit I/O failures are reported through `tracing` and never fail the
    /// guest's call.
    pub fn emit(&self, event: &AuditEvent) {
        if let Some(meter) = &self.meter {
            meter.record(event);
        }
        let Some(sink) = &self.sink else { return };
        let line = match serde_json::to_string(event) {
            Ok(line) => line,
            Err(err) => {
                tracing::error!(%err, "cannot serialise audit event");
                return;
            }
        };
        let mut guard = match sink.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Err(err) = writeln!(guard, "{line}").and_then(|()| guard.flush()) {
            tracing::error!(%err, "cannot write audit log");
        }
    }
}

/// The outcome recorded for an event.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The policy allowed it.
    Allow,
    /// The policy refused it.
    Deny,
    /// Allowed, but it failed (timeout, limit, peer error).
    Error,
    /// The policy refused it, but report-only mode (`--report-only`) let it
    /// through; `suggestion` holds the allow-list element that would grant it.
    WouldDeny,
}

impl Verdict {
    /// The value as the log and the `decision` metric label write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
            Verdict::Error => "error",
            Verdict::WouldDeny => "would-deny",
        }
    }
}

/// One audit line.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    /// Seconds since the Unix epoch, with milliseconds.
    pub time: f64,
    /// The guest's name in the policy.
    pub guest: String,
    /// `http`, `https`, ...
    pub protocol: String,
    /// What happened: `request`, `connect`, `response`.
    pub event: &'static str,
    /// The target as the guest named it (canonical form).
    pub target: String,
    /// The decision.
    pub decision: Verdict,
    /// The rule that decided, as `LINE: TEXT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Why it was denied or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The HTTP method of a request (uppercase), when the guest gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The allow-list element that would grant a denied or would-deny target,
    /// as typed in TOML (quotes included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
    /// Addresses the name resolved to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<IpAddr>,
    /// The address actually connected to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected: Option<SocketAddr>,
    /// HTTP status of a response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Bytes sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_out: Option<u64>,
    /// Bytes received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_in: Option<u64>,
    /// Duration in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// The limit that was hit, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<&'static str>,
    /// Names of the secret headers the host added (never their values).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secret: Vec<String>,
    /// Datagrams dropped (UDP: from senders the policy does not grant).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
}

impl AuditEvent {
    /// A new event stamped now; fill in the optional fields afterwards.
    pub fn new(
        guest: &str,
        protocol: &str,
        event: &'static str,
        target: String,
        decision: Verdict,
    ) -> Self {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        AuditEvent {
            time: (time * 1000.0).round() / 1000.0,
            guest: guest.to_owned(),
            protocol: protocol.to_owned(),
            event,
            target,
            decision,
            rule: None,
            reason: None,
            method: None,
            suggestion: None,
            resolved: Vec::new(),
            connected: None,
            status: None,
            bytes_out: None,
            bytes_in: None,
            duration_ms: None,
            limit: None,
            secret: Vec::new(),
            dropped: None,
        }
    }

    /// Sets the duration from a measured [`Duration`].
    pub fn took(mut self, elapsed: Duration) -> Self {
        self.set_took(elapsed);
        self
    }

    /// Sets the duration from a measured [`Duration`] (in place).
    pub fn set_took(&mut self, elapsed: Duration) {
        self.duration_ms = Some((elapsed.as_secs_f64() * 1e6).round() / 1e3);
    }
}
