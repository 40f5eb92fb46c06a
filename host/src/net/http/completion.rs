//! The `response` audit event that ends every HTTP exchange, for
//! `sandnet:net/http` and standard `wasi:http` alike: method, status, bytes
//! each way, cache outcome, attempt and the time from the request's start to
//! the end of its body (or the moment the guest dropped it).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use http::{Method, StatusCode};
use sandnet_policy::Target;

use crate::audit::{CacheOutcome, Ongoing, Verdict};
use crate::error::NetError;
use crate::guard::Guard;

/// The `response` event of one attempt while it runs: opened when the guard
/// grants the first hop (never when the audit log is off), following
/// redirects, and handed to the body once an answer came. If the attempt is
/// dropped before that (the guest let go of the pending response) the event
/// is written as cancelled.
#[derive(Debug)]
pub struct Trail {
    ongoing: Option<Ongoing>,
    attempt: u32,
    /// When the attempt started (`None` when the log is off: no clock read).
    started: Option<Instant>,
    /// Request body bytes sent, all hops together.
    pub sent: u64,
    /// How the guest's cache took part (`None`: no cache for this request).
    pub cache: Option<CacheOutcome>,
}

impl Trail {
    /// The trail of attempt `attempt` (1-based) of a request through
    /// `guard`, starting now.
    pub fn new(guard: &Guard, attempt: u32) -> Self {
        Trail {
            ongoing: None,
            attempt,
            started: guard.audit().enabled().then(Instant::now),
            sent: 0,
            cache: None,
        }
    }

    /// Notes that the guard granted `target`, about to be sent with `method`
    /// (a redirect hop replaces the previous one).
    pub fn granted(&mut self, guard: &Guard, target: &Target, method: &Method) {
        if let Some(ongoing) = &mut self.ongoing {
            let ev = ongoing.event();
            ev.protocol = target.scheme.as_str().to_owned();
            ev.target = target.to_string();
            ev.method = Some(method.to_string());
            return;
        }
        let Some(started) = self.started else { return };
        self.ongoing =
            response_event(guard, target, method, self.attempt, started).map(|mut ongoing| {
                ongoing.fail(&NetError::Closed(
                    "cancelled: the guest dropped the request before the response came".to_owned(),
                ));
                ongoing
            });
    }

    /// The attempt's `response` event, open until the body ends: `status`
    /// came back for the last granted hop. `None` when the log is off.
    pub fn answered(mut self, status: StatusCode) -> Option<Ongoing> {
        let mut ongoing = self.ongoing.take()?;
        let ev = ongoing.event();
        ev.decision = Verdict::Allow;
        ev.reason = None;
        ev.status = Some(status.as_u16());
        ev.bytes_out = Some(self.sent);
        ev.bytes_in = Some(0);
        ev.cache = self.cache;
        Some(ongoing)
    }

    /// Writes the attempt's `response` event for a request that was granted
    /// and then failed with `err` (a request the policy check refused has its
    /// `request` event already, and gets none).
    pub fn failed(mut self, err: &NetError) {
        if let Some(mut ongoing) = self.ongoing.take() {
            ongoing.event().bytes_out = Some(self.sent);
            ongoing.event().cache = self.cache;
            ongoing.fail(err);
        }
    }
}

/// A `response` event of attempt `attempt` about `target`, open until it
/// ends; `None` when the audit log is off.
fn response_event(
    guard: &Guard,
    target: &Target,
    method: &Method,
    attempt: u32,
    started: Instant,
) -> Option<Ongoing> {
    let mut ongoing = guard.ongoing(
        target.scheme.as_str(),
        "response",
        || target.to_string(),
        started,
    )?;
    let ev = ongoing.event();
    ev.method = Some(method.to_string());
    ev.attempt = Some(attempt);
    Some(ongoing)
}

/// The open `response` event of a standard `wasi:http` exchange, and the
/// count of request body bytes the connection has taken (the guest may still
/// be streaming its body when the answer comes).
#[derive(Debug)]
pub struct StandardLog {
    ongoing: Ongoing,
    sent: Arc<AtomicU64>,
}

impl StandardLog {
    /// `ongoing`, whose `bytes_out` is read from `sent` when it ends.
    pub fn new(ongoing: Ongoing, sent: Arc<AtomicU64>) -> Self {
        StandardLog { ongoing, sent }
    }

    /// Writes the event: `received` response body bytes, `err` if the body
    /// failed.
    pub fn end(mut self, received: u64, err: Option<&NetError>) {
        let ev = self.ongoing.event();
        ev.bytes_in = Some(received);
        ev.bytes_out = Some(self.sent.load(Ordering::Relaxed));
        if let Some(err) = err {
            self.ongoing.fail(err);
        }
        self.ongoing.end();
    }
}
