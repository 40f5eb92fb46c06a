//! Server-Sent Events client core behind `sandnet:net/sse`: the guarded GET,
//! redirects (off by default), reconnection with `Last-Event-ID` honouring
//! `retry`, event-type filtering, and one host task per stream feeding the
//! pure parser in [`super::parser`]. `sse.rs` only translates to the bindings.
//!
//! Policy: the request is checked as an `sse+http(s)://` target, which an
//! `sse+http(s)` rule or an `http(s)` rule grants. The stream does not go
//! through the guest's HTTP client (whose check is for `http(s)` targets), so
//! a policy can grant an event stream without granting arbitrary requests to
//! the same URL; it still dials only through [`Guard::connect`] (with the
//! `sse+` target, so address grants follow the same rule). Every request —
//! first, redirect hop, reconnection — is checked again.

use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use sandnet_policy::{Denial, Limit, Target};
use tokio::sync::mpsc;
use url::Url;

use super::parser::{Event, Parser};
use crate::audit::{ClosedBy, Ongoing};
use crate::error::{NetError, TimeoutKind, find_net_error};
use crate::guard::{Granted, Guard};
use crate::net::common::headers::guest_headers;
use crate::net::common::inbox::{AbortOnDrop, Inbox};
use crate::net::common::tls::{self, Io};
use crate::net::common::url::intake;
use crate::net::common::wire;

/// Reconnection delay when the stream never sent `retry` (the WHATWG default
/// is implementation-defined; browsers use about 3 s).
pub const DEFAULT_RETRY: Duration = Duration::from_secs(3);
/// Longest wait between reconnection attempts (the delay doubles per failure).
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// Consecutive failed reconnections before giving up, unless the guest says.
pub const DEFAULT_MAX_RECONNECTS: u32 = 5;
/// Events a stream may hold for the guest before it stops reading.
pub const EVENT_QUEUE: usize = 64;
/// Request headers the host sets itself (besides the framing headers every
/// protocol refuses, [`crate::net::common::headers::FRAMING_HEADERS`]).
const MANAGED_HEADERS: [&str; 1] = ["last-event-id"];
/// A stream request as the guest described it, validated.
#[derive(Debug, Clone)]
pub struct SseSpec {
    /// The `http://` or `https://` URL.
    pub url: Url,
    /// Extra request headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Event types to deliver (all when empty).
    pub event_types: Vec<String>,
    /// Whether to reconnect after the stream drops.
    pub reconnect: bool,
    /// Consecutive failed reconnections before giving up.
    pub max_reconnects: u32,
    /// Redirects to follow per request.
    pub max_redirects: u32,
}

impl SseSpec {
    /// Validates the guest's URL and headers; options come from the caller.
    pub fn new(url: &str, headers: &[(String, String)]) -> Result<Self, NetError> {
        let parsed = intake(url, "sse", &["http", "https"])?;
        sse_target(&parsed)?;
        let checked = guest_headers(headers, &MANAGED_HEADERS, "remove it from the options")?;
        Ok(SseSpec {
            url: parsed,
            headers: checked,
            event_types: Vec::new(),
            reconnect: true,
            max_reconnects: DEFAULT_MAX_RECONNECTS,
            max_redirects: 0,
        })
    }
}

/// Timing and size settings from the policy.
#[derive(Debug, Clone, Copy)]
pub struct SseSettings {
    /// TCP + TLS connect timeout.
    pub connect: Duration,
    /// Request sent → response head.
    pub first_byte: Duration,
    /// Longest silence on an open stream before it counts as dropped.
    pub idle: Duration,
    /// `max_sse_event_bytes`.
    pub max_event: usize,
}

/// The policy target of a stream URL: `sse+http://...` or `sse+https://...`.
pub fn sse_target(url: &Url) -> Result<Target, NetError> {
    Target::parse(&format!("sse+{url}"))
        .map_err(|e| NetError::InvalidArgument(format!("invalid URL {url}: {e}")))
}

/// The guest's side of one event stream; dropping it stops the task and the connection.
#[derive(Debug)]
pub struct StreamHandle {
    /// Events (and the final error).
    pub inbox: Inbox<Event>,
    _task: AbortOnDrop,
}

/// Opens the stream (errors of the first request are returned here) and
/// starts the task that reads and reconnects.
pub async fn open(
    guard: Arc<Guard>,
    tls: Arc<rustls::ClientConfig>,
    spec: SseSpec,
    settings: SseSettings,
) -> Result<StreamHandle, NetError> {
    let started = std::time::Instant::now();
    let live = request(&guard, &tls, &spec, &settings, None).await?;
    let (tx, inbox) = Inbox::channel(EVENT_QUEUE, "event stream");
    let log = close_event(&guard, &spec.url, started);
    let task = StreamTask {
        guard,
        tls,
        spec,
        settings,
        parser: Parser::new(settings.max_event),
        tx,
        log,
    };
    Ok(StreamHandle {
        inbox,
        _task: AbortOnDrop(tokio::spawn(task.run(live))),
    })
}

/// The stream's `close` audit event, open for its life with its counters at
/// 0 and, until the peer or the host ends it, closed by the guest (dropping
/// the stream is the guest's only way to close it); `None` when the log is off.
fn close_event(guard: &Guard, url: &Url, started: std::time::Instant) -> Option<Ongoing> {
    if !guard.audit().enabled() {
        return None;
    }
    let target = sse_target(url).ok()?;
    let mut log = guard.ongoing(
        target.scheme.as_str(),
        "close",
        || target.to_string(),
        started,
    )?;
    log.add_in(0, 0);
    let ev = log.event();
    ev.messages_in = Some(0);
    ev.reconnects = Some(0);
    ev.closed_by = Some(ClosedBy::Guest);
    Some(log)
}

/// An answered request whose body is the event stream.
struct Live {
    body: Incoming,
    _conn: AbortOnDrop,
}

/// One request, following up to `max_redirects` redirects, each hop checked.
async fn request(
    guard: &Guard,
    tls: &Arc<rustls::ClientConfig>,
    spec: &SseSpec,
    settings: &SseSettings,
    last_event_id: Option<&str>,
) -> Result<Live, NetError> {
    let mut url = spec.url.clone();
    let mut hops = 0;
    loop {
        let target = sse_target(&url)?;
        let granted = guard.check_request(&target)?;
        let exchange = round_trip(guard, tls, spec, settings, &url, &granted, last_event_id);
        let (response, conn) =
            match tokio::time::timeout(settings.connect + settings.first_byte, exchange).await {
                Ok(result) => result?,
                Err(_) => return Err(NetError::Timeout(TimeoutKind::FirstByte)),
            };
        let status = response.status();
        if status == StatusCode::OK {
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !content_type
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
            {
                return Err(NetError::Protocol(format!(
                    "{url} answered with content type {content_type:?}; an event stream is text/event-stream"
                )));
            }
            return Ok(Live {
                body: response.into_body(),
                _conn: conn,
            });
        }
        if status == StatusCode::NO_CONTENT {
            return Err(NetError::Closed(format!(
                "{url} answered 204 No Content: the server ended the stream"
            )));
        }
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match location {
            Some(location) if status.is_redirection() => {
                let next = url.join(&location).map_err(|e| {
                    NetError::Protocol(format!("{url} redirects to invalid {location:?}: {e}"))
                })?;
                if hops >= spec.max_redirects {
                    return Err(NetError::Protocol(format!(
                        "{url} answered {status} redirecting to {next}; redirects are followed only with open-options.max-redirects"
                    )));
                }
                if !next.username().is_empty() || next.password().is_some() {
                    return Err(NetError::Protocol(format!(
                        "{url} redirects to a URL carrying credentials; refused"
                    )));
                }
                if url.scheme() == "https" && next.scheme() != "https" {
                    return Err(NetError::Denied(Denial {
                        reason: format!(
                            "redirect from {url} to {next} refused: https to http downgrade"
                        ),
                        suggestion: None,
                        rule: None,
                    }));
                }
                tracing::debug!(from = %url, to = %next, "following SSE redirect");
                hops += 1;
                url = next;
            }
            _ => {
                return Err(NetError::Protocol(format!(
                    "{url} answered {status}; an event stream needs 200 with content type text/event-stream"
                )));
            }
        }
    }
}

async fn round_trip(
    guard: &Guard,
    tls: &Arc<rustls::ClientConfig>,
    spec: &SseSpec,
    settings: &SseSettings,
    url: &Url,
    granted: &Granted,
    last_event_id: Option<&str>,
) -> Result<(hyper::Response<Incoming>, AbortOnDrop), NetError> {
    let target = granted.target();
    let conn = guard.connect(granted, settings.connect).await?;
    let io: Box<dyn Io> = if url.scheme() == "https" {
        Box::new(tls::connect(tls, target, conn.stream).await?)
    } else {
        Box::new(conn.stream)
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| NetError::Protocol(format!("{url}: {e}")))?;
    let permit = conn.permit;
    let driver = AbortOnDrop(tokio::spawn(async move {
        let _slot = permit; // the connection slot lives as long as the connection
        if let Err(err) = connection.await {
            tracing::debug!(%err, "SSE connection ended");
        }
    }));
    // The request line and Host come from the checked target, not the raw URL.
    let mut builder = hyper::Request::builder()
        .method(Method::GET)
        .uri(wire::origin_form_uri(target, url.query())?)
        .header(header::HOST, wire::authority(target))
        .header(header::ACCEPT, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache");
    // Credentials go only to the origin the guest named, not to redirect targets.
    let same_origin = url.origin() == spec.url.origin();
    for (name, value) in &spec.headers {
        let credential = [
            header::AUTHORIZATION,
            header::COOKIE,
            header::PROXY_AUTHORIZATION,
        ]
        .contains(name);
        if same_origin || !credential {
            builder = builder.header(name, value);
        }
    }
    if let Some(headers) = builder.headers_mut() {
        granted.credentials().inject(headers)?;
    }
    if let Some(id) = last_event_id {
        match HeaderValue::from_str(id) {
            Ok(value) => builder = builder.header("last-event-id", value),
            Err(_) => tracing::debug!(id, "last event id is not a header value; not sent"),
        }
    }
    let request = builder
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| NetError::InvalidArgument(format!("cannot build request for {url}: {e}")))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| NetError::Closed(format!("{url}: {e}")))?;
    Ok((response, driver))
}

/// Whether a failed reconnection is worth trying again.
fn transient(err: &NetError) -> bool {
    matches!(
        err,
        NetError::Dns(_)
            | NetError::Connect(_)
            | NetError::Tls(_)
            | NetError::Timeout(_)
            | NetError::Closed(_)
    ) && !matches!(err, NetError::Closed(m) if m.contains("204 No Content"))
}

enum Stop {
    /// The guest dropped the stream.
    GuestGone,
    /// The connection ended; reconnect if allowed.
    Ended(NetError),
    /// End for good with this error.
    Fatal(NetError),
}

struct StreamTask {
    guard: Arc<Guard>,
    tls: Arc<rustls::ClientConfig>,
    spec: SseSpec,
    settings: SseSettings,
    parser: Parser,
    tx: mpsc::Sender<Result<Event, NetError>>,
    /// The stream's `close` audit event (written when the task ends or is aborted).
    log: Option<Ongoing>,
}

impl StreamTask {
    async fn run(mut self, mut live: Live) {
        loop {
            let stop = self.pump(&mut live).await;
            drop(live);
            let why = match stop {
                Stop::GuestGone => return,
                Stop::Fatal(err) => {
                    self.ended(ClosedBy::Host, &err);
                    let _ = self.tx.send(Err(err)).await;
                    return;
                }
                Stop::Ended(why) => why,
            };
            self.parser.reset_connection();
            let dropped_at = std::time::Instant::now();
            let reason = self.log.is_some().then(|| why.to_string());
            match self.reconnect(why).await {
                Ok(next) => {
                    if let Some(log) = &mut self.log {
                        log.reconnected(reason, dropped_at);
                    }
                    live = next;
                }
                Err(err) => {
                    let by = if matches!(err, NetError::Denied(_)) {
                        ClosedBy::Host
                    } else {
                        ClosedBy::Peer
                    };
                    self.ended(by, &err);
                    let _ = self.tx.send(Err(err)).await;
                    return;
                }
            }
        }
    }

    /// Notes in the `close` event that `by` ended the stream with `err`.
    fn ended(&mut self, by: ClosedBy, err: &NetError) {
        if let Some(log) = &mut self.log {
            log.event().closed_by = Some(by);
            log.fail(err);
        }
    }

    /// Reads and parses until the connection ends.
    async fn pump(&mut self, live: &mut Live) -> Stop {
        let mut events = Vec::new();
        loop {
            let frame = tokio::select! {
                frame = tokio::time::timeout(self.settings.idle, live.body.frame()) => frame,
                () = self.tx.closed() => return Stop::GuestGone,
            };
            let data = match frame {
                Err(_) => return Stop::Ended(NetError::Timeout(TimeoutKind::Idle)),
                Ok(None) => {
                    return Stop::Ended(NetError::Closed(format!(
                        "{} ended the stream",
                        self.spec.url
                    )));
                }
                Ok(Some(Err(err))) => {
                    // A reload that revoked the connection ends the stream for good.
                    if let Some(revoked) = find_net_error(&err) {
                        return Stop::Fatal(revoked);
                    }
                    return Stop::Ended(NetError::Closed(format!("{}: {err}", self.spec.url)));
                }
                Ok(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => data,
                    Err(_) => continue, // trailers
                },
            };
            if let Err(err) = self.guard.count_in(data.len() as u64) {
                return Stop::Fatal(err);
            }
            if let Some(log) = &mut self.log {
                log.add_in(data.len() as u64, 0);
            }
            // Events completed before an oversized one are still delivered.
            let parsed = self.parser.feed(&data, &mut events);
            for event in events.drain(..) {
                let wanted = self.spec.event_types.is_empty()
                    || self.spec.event_types.contains(&event.event_type);
                if wanted {
                    if self.tx.send(Ok(event)).await.is_err() {
                        return Stop::GuestGone;
                    }
                    if let Some(log) = &mut self.log {
                        log.add_in(0, 1);
                    }
                }
            }
            if let Err(too_big) = parsed {
                return Stop::Fatal(NetError::limit(Limit::MaxSseEventBytes, too_big.max as u64));
            }
        }
    }

    /// Waits `retry` (doubled per failure) and requests again, with the last
    /// event id; the error for the guest when reconnection is off or gives up.
    async fn reconnect(&mut self, why: NetError) -> Result<Live, NetError> {
        if !self.spec.reconnect {
            return Err(why);
        }
        let retry = self.parser.retry().unwrap_or(DEFAULT_RETRY);
        let mut last = why;
        for attempt in 1..=self.spec.max_reconnects {
            let factor = 1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX);
            let delay = retry
                .checked_mul(factor)
                .unwrap_or(MAX_RETRY_DELAY)
                .min(MAX_RETRY_DELAY);
            tracing::debug!(url = %self.spec.url, attempt, ?delay, reason = %last, "reconnecting");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.tx.closed() => return Err(last),
            }
            let id = self.parser.last_event_id().map(str::to_owned);
            match request(
                &self.guard,
                &self.tls,
                &self.spec,
                &self.settings,
                id.as_deref(),
            )
            .await
            {
                Ok(live) => return Ok(live),
                Err(err) if !transient(&err) => return Err(err),
                Err(err) => last = err,
            }
        }
        Err(NetError::Closed(format!(
            "gave up reconnecting to {} after {} attempts; last error: {last}",
            self.spec.url, self.spec.max_reconnects
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn targets_are_sse_schemes() {
        let t = sse_target(&Url::parse("https://a.test/events?x=1").unwrap()).unwrap();
        assert_eq!(t.to_string(), "sse+https://a.test/events");
        let t = sse_target(&Url::parse("http://127.0.0.1:8080/e").unwrap()).unwrap();
        assert_eq!(t.scheme, sandnet_policy::Scheme::SseHttp);
        assert_eq!(t.port, 8080);
    }

    #[test]
    fn spec_validation() {
        for (url, want) in [
            ("ws://a.test/", "scheme \"ws\""),
            ("https://u:p@a.test/", "credentials"),
            ("nope", "invalid URL"),
        ] {
            let err = SseSpec::new(url, &[]).unwrap_err();
            assert!(err.to_string().contains(want), "{url}: {err}");
        }
        let err = SseSpec::new(
            "https://a.test/",
            &[("Last-Event-ID".to_owned(), "1".to_owned())],
        )
        .unwrap_err();
        assert!(err.to_string().contains("set by the host"), "{err}");
    }

    #[test]
    fn reconnection_worthiness() {
        assert!(transient(&NetError::Connect("refused".into())));
        assert!(transient(&NetError::Timeout(TimeoutKind::Idle)));
        assert!(!transient(&NetError::Protocol("404".into())));
        assert!(!transient(&NetError::limit(Limit::MaxSseEventBytes, 1)));
        assert!(!transient(&NetError::Closed(
            "x answered 204 No Content: the server ended the stream".into()
        )));
    }
}
