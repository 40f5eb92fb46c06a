//! Structured audit log: one JSON line per network decision (`--audit FILE|-`),
//! and the feed of a guest's network metrics ([`Audit::metered`]).

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// How the guest's HTTP cache took part in an exchange (`cache` field; only
/// when the policy turns the cache on).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CacheOutcome {
    /// Answered from the cache without asking the server.
    Hit,
    /// The server confirmed a stored answer (`304 Not Modified`).
    Revalidated,
    /// The cache had nothing usable: the server answered.
    Miss,
}

/// Who ended a connection (`closed_by` field of `close` events).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ClosedBy {
    /// The guest closed it or dropped its resource.
    Guest,
    /// The peer closed it or the connection was lost.
    Peer,
    /// The host ended it: a limit, a protocol violation, a missed heartbeat
    /// or a policy reload that revoked it.
    Host,
}

impl ClosedBy {
    /// Who ended a connection that failed with `err`: the host for a
    /// revocation (`denied`), a limit, a timeout or a protocol violation, the
    /// peer for anything else (reset, lost, bad TLS).
    pub fn after(err: &NetError) -> ClosedBy {
        match err {
            NetError::Denied(_)
            | NetError::LimitExceeded { .. }
            | NetError::Timeout(_)
            | NetError::Protocol(_) => ClosedBy::Host,
            _ => ClosedBy::Peer,
        }
    }
}

/// One audit line. `docs/audit.schema.json` describes it field by field; a
/// field added here must be added there (the `audit` integration test
/// validates real output against it).
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
    /// Which attempt of a retried HTTP request this `response` is (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// How the guest's HTTP cache took part (only when it is on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheOutcome>,
    /// Messages received: WebSocket messages, SSE events, UDP datagrams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_in: Option<u64>,
    /// Messages sent: WebSocket messages, UDP datagrams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_out: Option<u64>,
    /// Reconnections of a WebSocket or SSE stream so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconnects: Option<u32>,
    /// The WebSocket close code (1005: the close frame had none; 1006: the
    /// connection ended without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_code: Option<u16>,
    /// The WebSocket close reason, at most [`MAX_CLOSE_REASON_BYTES`] bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<String>,
    /// Who ended the connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<ClosedBy>,
}

/// Longest `close_reason` written, in bytes (what fits in a close frame).
pub const MAX_CLOSE_REASON_BYTES: usize = 123;

impl AuditEvent {
    /// A new event stamped now; fill in the optional fields afterwards.
    pub fn new(
        guest: &str,
        protocol: &str,
        event: &'static str,
        target: String,
        decision: Verdict,
    ) -> Self {
        AuditEvent {
            time: unix_now(),
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
            attempt: None,
            cache: None,
            messages_in: None,
            messages_out: None,
            reconnects: None,
            close_code: None,
            close_reason: None,
            closed_by: None,
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

    /// Marks the event failed with `err` (decision `error` or, for a
    /// revocation, `deny`; the reason as the operator sees it).
    pub fn fail(&mut self, err: &NetError) {
        self.decision = if matches!(err, NetError::Denied(_)) {
            Verdict::Deny
        } else {
            Verdict::Error
        };
        self.reason = Some(operator_reason(err));
    }

    /// Records who ended a connection and, when it failed, why (see
    /// [`AuditEvent::fail`]).
    pub fn set_ended(&mut self, by: ClosedBy, err: Option<&NetError>) {
        self.closed_by = Some(by);
        if let Some(err) = err {
            self.fail(err);
        }
    }

    /// Records how a connection was closed: who closed it, and for a
    /// WebSocket the close code and reason (cut to [`MAX_CLOSE_REASON_BYTES`]
    /// at a character boundary; an empty reason is left out).
    pub fn set_close(&mut self, by: ClosedBy, code: Option<u16>, reason: &str) {
        self.closed_by = Some(by);
        self.close_code = code;
        self.close_reason = (!reason.is_empty()).then(|| cut(reason, MAX_CLOSE_REASON_BYTES));
    }
}

/// Seconds since the Unix epoch, to the millisecond.
fn unix_now() -> f64 {
    let time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    (time * 1000.0).round() / 1000.0
}

/// An error as the operator's audit log records it: a denial with the line that
/// would allow it.
pub fn operator_reason(err: &NetError) -> String {
    match err {
        NetError::Denied(denial) => format!("denied: {denial}"),
        other => other.to_string(),
    }
}

/// `text` cut to at most `max` bytes at a character boundary.
fn cut(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// An event written once, when what it describes ends: at [`Ongoing::end`]
/// or, failing that, when it is dropped (a body or stream the guest let go
/// of early). The duration runs from `started` to the end. Build one only
/// when [`Audit::enabled`] says the log is on.
#[derive(Debug)]
pub struct Ongoing {
    audit: Audit,
    /// Boxed: an `Option<Ongoing>` rides in every HTTP exchange and
    /// connection task, and is moved with them, log on or off.
    event: Box<AuditEvent>,
    started: Instant,
    ended: bool,
}

impl Ongoing {
    /// `event`, to be written to `audit` when it ends.
    pub fn new(audit: &Audit, event: AuditEvent, started: Instant) -> Self {
        Ongoing {
            audit: audit.clone(),
            event: Box::new(event),
            started,
            ended: false,
        }
    }

    /// The event, to fill in as things happen.
    pub fn event(&mut self) -> &mut AuditEvent {
        &mut self.event
    }

    /// Starts the byte counters both ways at 0 (and the message counters,
    /// with `messages`), so a connection that moved nothing says so.
    pub fn counting(mut self, messages: bool) -> Self {
        self.add_in(0, 0);
        self.add_out(0, 0);
        if messages {
            self.event.messages_in = Some(0);
            self.event.messages_out = Some(0);
        }
        self
    }

    /// Counts `bytes` and `messages` received.
    pub fn add_in(&mut self, bytes: u64, messages: u64) {
        *self.event.bytes_in.get_or_insert(0) += bytes;
        if messages > 0 {
            *self.event.messages_in.get_or_insert(0) += messages;
        }
    }

    /// Counts `bytes` and `messages` sent.
    pub fn add_out(&mut self, bytes: u64, messages: u64) {
        *self.event.bytes_out.get_or_insert(0) += bytes;
        if messages > 0 {
            *self.event.messages_out.get_or_insert(0) += messages;
        }
    }

    /// Counts one reconnection and returns its `reconnect` event (same guest,
    /// protocol and target, the count so far, `why` the previous connection
    /// ended as its reason), timed from `dropped_at`; it is written when dropped.
    pub fn reconnected(&mut self, why: Option<String>, dropped_at: Instant) -> Ongoing {
        let reconnects = self.event.reconnects.unwrap_or(0) + 1;
        self.event.reconnects = Some(reconnects);
        let mut ev = AuditEvent::new(
            &self.event.guest,
            &self.event.protocol,
            "reconnect",
            self.event.target.clone(),
            Verdict::Allow,
        );
        ev.reconnects = Some(reconnects);
        ev.reason = why;
        Ongoing::new(&self.audit, ev, dropped_at)
    }

    /// Marks the event failed with `err` (decision `error` or, for a
    /// revocation, `deny`; the reason as the operator sees it).
    pub fn fail(&mut self, err: &NetError) {
        self.event.fail(err);
    }

    /// Writes the event now, stamped with the time (now) and the duration
    /// since `started`; later calls (and the drop) write nothing more.
    pub fn end(&mut self) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        self.event.time = unix_now();
        self.event.set_took(self.started.elapsed());
        self.audit.emit(&self.event);
    }
}

impl Drop for Ongoing {
    fn drop(&mut self) {
        self.end();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    /// A sink tests can read back.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn events(lines: &Lines) -> Vec<serde_json::Value> {
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn ongoing(lines: &Lines) -> Ongoing {
        let audit = Audit::to_writer(Box::new(lines.clone()));
        let event = AuditEvent::new("g", "ws", "close", "ws://a.test/".into(), Verdict::Allow);
        Ongoing::new(&audit, event, Instant::now())
    }

    #[test]
    fn an_ongoing_event_is_written_once_whether_ended_dropped_or_both() {
        let lines = Lines::default();
        let mut ended = ongoing(&lines);
        ended.add_in(5, 1);
        ended.add_in(7, 1);
        ended.add_out(3, 0);
        ended.end();
        ended.end();
        drop(ended);
        drop(ongoing(&lines));
        let events = events(&lines);
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0]["bytes_in"], 12);
        assert_eq!(events[0]["messages_in"], 2);
        assert_eq!(events[0]["bytes_out"], 3);
        assert!(events[0].get("messages_out").is_none(), "{events:?}");
        assert!(events[1]["duration_ms"].is_number(), "{events:?}");
        assert!(events[1].get("bytes_in").is_none(), "{events:?}");
    }

    #[test]
    fn a_failed_ongoing_event_says_error_or_deny_with_the_reason() {
        let lines = Lines::default();
        let mut timed_out = ongoing(&lines);
        timed_out.fail(&NetError::Timeout(crate::error::TimeoutKind::Idle));
        drop(timed_out);
        let events = events(&lines);
        assert_eq!(events[0]["decision"], "error");
        assert!(
            events[0]["reason"].as_str().unwrap().contains("idle"),
            "{events:?}"
        );
    }

    #[test]
    fn a_limit_timeout_violation_or_revocation_is_the_hosts_doing_anything_else_the_peers() {
        use crate::error::TimeoutKind;
        let cases = [
            (NetError::Timeout(TimeoutKind::Idle), ClosedBy::Host),
            (
                NetError::limit(sandnet_policy::Limit::BytesInTotal, 10),
                ClosedBy::Host,
            ),
            (NetError::Protocol("bad frame".into()), ClosedBy::Host),
            (NetError::Closed("reset".into()), ClosedBy::Peer),
            (NetError::Connect("refused".into()), ClosedBy::Peer),
            (NetError::Tls("bad record".into()), ClosedBy::Peer),
        ];
        for (err, want) in cases {
            assert_eq!(ClosedBy::after(&err), want, "{err}");
        }
        let mut ev = AuditEvent::new("g", "tcp", "close", "tcp://a.test:1".into(), Verdict::Allow);
        ev.set_ended(ClosedBy::Host, Some(&NetError::Timeout(TimeoutKind::Idle)));
        assert_eq!(
            (ev.closed_by, ev.decision, ev.reason.as_deref()),
            (Some(ClosedBy::Host), Verdict::Error, Some("timeout: idle"))
        );
    }

    #[test]
    fn close_reasons_are_cut_at_a_character_boundary_within_the_frame_limit() {
        let mut ev = AuditEvent::new("g", "ws", "close", "ws://a.test/".into(), Verdict::Allow);
        let long = format!("{}é", "x".repeat(MAX_CLOSE_REASON_BYTES - 1));
        ev.set_close(ClosedBy::Peer, Some(4000), &long);
        assert_eq!(
            ev.close_reason.as_deref(),
            Some(&long[..MAX_CLOSE_REASON_BYTES - 1])
        );
        ev.set_close(ClosedBy::Guest, Some(1000), "");
        assert_eq!(ev.close_reason, None);
        assert_eq!(ev.closed_by, Some(ClosedBy::Guest));
    }
}
