//! WebSocket core behind `sandnet:net/websocket`: guarded dialling (`ws://`,
//! `wss://`), the guest's listener (`ws-listen://`), and one host task per
//! connection that reads the socket (heartbeat, size caps, close handshake,
//! reconnection). A guest's send writes the socket's write half from the
//! calling task itself while the connection is open (no hop through the
//! connection task); everything else goes through the task.
//! `websocket.rs` only translates these types to the bindings.
//!
//! RFC 6455 work is tungstenite's: it reassembles fragments (with control
//! frames between them), answers pings, rejects invalid UTF-8 in text and
//! replies to a close. This file adds the policy: every dial and redial goes
//! through [`Guard::check_request`] and [`Guard::connect`], every accepted peer
//! through [`Guard::check_peer`], and every connection holds a
//! `max_connections` slot for its life.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use http::header::{HeaderName, HeaderValue};
use sandnet_policy::{Limit, Scheme, Target};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use url::Url;

use crate::audit::{ClosedBy, Ongoing};
use crate::error::{NetError, TimeoutKind, find_net_error};
use crate::guard::{ConnectionPermit, Guard, Lease};
use crate::net::common::headers::guest_headers;
use crate::net::common::inbox::{AbortOnDrop, Inbox};
use crate::net::common::tls::{self, Io};
use crate::net::common::url::intake;
use crate::net::common::wire;

/// Messages a connection may hold for the guest before it stops reading
/// (memory per connection is at most this many times `max_ws_message_bytes`).
pub const INCOMING_QUEUE: usize = 16;
/// Guest commands (sends, close) queued ahead of the connection task.
pub const COMMAND_QUEUE: usize = 16;
/// Accepted clients a listener holds for the guest before it stops accepting.
pub const ACCEPT_QUEUE: usize = 8;
/// How long the close handshake may take before the socket is dropped.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Shortest heartbeat interval a guest may ask for.
pub const MIN_HEARTBEAT: Duration = Duration::from_millis(50);
/// Shortest reconnect backoff (a guest asking for 0 gets this).
pub const MIN_BACKOFF: Duration = Duration::from_millis(10);
/// Longest close reason RFC 6455 allows, in bytes.
pub const MAX_CLOSE_REASON_BYTES: usize = 123;
/// Close codes after which a reconnecting connection redials: going away,
/// abnormal closure, internal error, service restart, try again later.
pub const RECONNECT_CLOSE_CODES: [u16; 5] = [1001, 1006, 1011, 1012, 1013];
/// Most bytes one socket read asks for. tungstenite zero-fills this much of
/// its buffer before every read, including reads that find nothing (128 KiB
/// by default: at 64-byte messages that fill was the biggest single cost per
/// message); a larger message still arrives whole, in more reads.
pub const READ_CHUNK: usize = 16 * 1024;
/// Handshake headers the host sets itself (besides the framing headers every
/// protocol refuses, [`crate::net::common::headers::FRAMING_HEADERS`]).
const MANAGED_HEADERS: [&str; 4] = [
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-protocol",
];
type Ws = WebSocketStream<Box<dyn Io>>;
/// The write half of an open connection.
type WsSink = SplitSink<Ws, Message>;
/// The read half of an open connection.
type WsStream = SplitStream<Ws>;

/// One complete message, or the peer's close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Binary(Vec<u8>),
    /// The peer's close frame (1005 when it carried no code).
    Close {
        /// Close code.
        code: u16,
        /// Reason text.
        reason: String,
    },
}

/// Connection state (mirrors the WIT `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ConnState {
    /// Connecting or reconnecting.
    Connecting = 0,
    /// Open.
    Open = 1,
    /// Close frame sent or received.
    Closing = 2,
    /// Closed for good.
    Closed = 3,
}

/// Reconnection after a drop: exponential backoff, bounded attempts.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Consecutive failed attempts before giving up.
    pub max_attempts: u32,
    /// First delay; doubled per attempt.
    pub initial: Duration,
    /// Upper bound on the delay.
    pub max: Duration,
}

impl Backoff {
    /// The delay before attempt `n` (1-based).
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.initial
            .checked_mul(factor)
            .unwrap_or(self.max)
            .min(self.max)
            .max(MIN_BACKOFF)
    }
}

/// Per-connection settings, already clamped to the policy.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `max_ws_message_bytes`.
    pub max_message: usize,
    /// `max_ws_frame_bytes`.
    pub max_frame: usize,
    /// Ping interval; one silent interval after a ping means a dead peer.
    pub heartbeat: Duration,
    /// Dial + TLS + handshake deadline.
    pub connect_timeout: Duration,
    /// Reconnection, when the guest asked for it.
    pub reconnect: Option<Backoff>,
}

impl Settings {
    fn config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .max_message_size(Some(self.max_message))
            .max_frame_size(Some(self.max_frame))
            .read_buffer_size(READ_CHUNK)
    }
}

/// A client connection's destination, validated.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// The `ws://` or `wss://` URL.
    pub url: Url,
    /// Its policy target.
    pub target: Target,
    /// Extra handshake headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Subprotocols to offer.
    pub subprotocols: Vec<String>,
}

impl ClientSpec {
    /// Validates the guest's URL, headers and subprotocols.
    pub fn new(
        url: &str,
        headers: &[(String, String)],
        subprotocols: &[String],
    ) -> Result<Self, NetError> {
        let parsed = intake(url, "websocket", &["ws", "wss"])?;
        if parsed.fragment().is_some() {
            return Err(NetError::InvalidArgument(format!(
                "URL {url:?} has a fragment; WebSocket URLs cannot"
            )));
        }
        let target = Target::parse(parsed.as_str())
            .map_err(|e| NetError::InvalidArgument(format!("invalid URL {url:?}: {e}")))?;
        let checked = guest_headers(
            headers,
            &MANAGED_HEADERS,
            "use connect-options.subprotocols for subprotocols",
        )?;
        for proto in subprotocols {
            let is_token = !proto.is_empty()
                && proto
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
            if !is_token {
                return Err(NetError::InvalidArgument(format!(
                    "subprotocol {proto:?} is not an HTTP token"
                )));
            }
        }
        Ok(ClientSpec {
            url: parsed,
            target,
            headers: checked,
            subprotocols: subprotocols.to_vec(),
        })
    }
}

/// Checks a close code a guest wants to send (RFC 6455 §7.4).
pub fn check_close(code: u16, reason: &str) -> Result<(), NetError> {
    if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
        return Err(NetError::InvalidArgument(format!(
            "close code {code} cannot be sent; use 1000 (normal), 1001-1003, 1007-1014 or 3000-4999"
        )));
    }
    if reason.len() > MAX_CLOSE_REASON_BYTES {
        return Err(NetError::InvalidArgument(format!(
            "close reason is {} bytes; at most {MAX_CLOSE_REASON_BYTES} fit in a close frame",
            reason.len()
        )));
    }
    Ok(())
}

/// State both the guest's resource and the connection task see.
struct Shared {
    state: AtomicU8,
    subprotocol: Mutex<Option<String>>,
    /// Why the connection ended, once it has (for sends after the end).
    error: Mutex<Option<NetError>>,
    /// The open connection's write half; `None` while (re)connecting and
    /// after the end. The guest's sends and the task's pings and closes take
    /// turns on it.
    sink: tokio::sync::Mutex<Option<WsSink>>,
    /// Messages and bytes the guest sent through `sink` (the task adds them
    /// to the `close` audit event).
    sent_messages: AtomicU64,
    sent_bytes: AtomicU64,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("state", &self.state)
            .field("subprotocol", &self.subprotocol)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn set(&self, state: ConnState) {
        self.state.store(state as u8, Ordering::Release);
    }

    fn count_sent(&self, len: usize) {
        self.sent_messages.fetch_add(1, Ordering::Relaxed);
        self.sent_bytes.fetch_add(len as u64, Ordering::Relaxed);
    }
}

enum Command {
    /// A send made while the connection was not open (queued until the
    /// redial, or answered with the reason it ended).
    Send(Message, oneshot::Sender<Result<(), NetError>>),
    Close(CloseFrame, oneshot::Sender<Result<(), NetError>>),
    /// A send on the write half failed: the connection is gone.
    SendFailed(NetError),
}

/// The guest's side of one WebSocket connection. Dropping it ends the
/// connection: the task sends a close (1001) and finishes the handshake.
#[derive(Debug)]
pub struct Handle {
    /// Messages from the peer.
    pub inbox: Inbox<WsMessage>,
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    guard: Arc<Guard>,
    max_message: usize,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Send(..) => "Send",
            Command::Close(..) => "Close",
            Command::SendFailed(..) => "SendFailed",
        })
    }
}

impl Handle {
    /// Current state.
    pub fn state(&self) -> ConnState {
        match self.shared.state.load(Ordering::Acquire) {
            0 => ConnState::Connecting,
            1 => ConnState::Open,
            2 => ConnState::Closing,
            _ => ConnState::Closed,
        }
    }

    /// The subprotocol the server chose.
    pub fn subprotocol(&self) -> Option<String> {
        self.shared
            .subprotocol
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: String) -> Result<(), NetError> {
        self.check_size(text.len())?;
        self.send(Message::Text(Utf8Bytes::from(text))).await
    }

    /// Sends a binary message.
    pub async fn send_binary(&mut self, data: Vec<u8>) -> Result<(), NetError> {
        self.check_size(data.len())?;
        self.send(Message::Binary(data.into())).await
    }

    fn check_size(&self, len: usize) -> Result<(), NetError> {
        if len > self.max_message {
            return Err(NetError::limit(
                Limit::MaxWsMessageBytes,
                self.max_message as u64,
            ));
        }
        self.guard.count_out(len as u64)
    }

    /// Writes `message` from the calling task while the connection is open;
    /// otherwise hands it to the connection task (which sends it after a
    /// redial, or answers with why the connection ended).
    async fn send(&mut self, message: Message) -> Result<(), NetError> {
        if self.state() == ConnState::Open {
            let mut sink = self.shared.sink.lock().await;
            if let Some(sink) = sink.as_mut() {
                let len = message.len();
                return match sink.send(message).await {
                    Ok(()) => {
                        self.shared.count_sent(len);
                        Ok(())
                    }
                    Err(err) => {
                        let err = send_error(&err);
                        // The task stops reading a connection that cannot write.
                        let _ = self.commands.try_send(Command::SendFailed(err.clone()));
                        Err(err)
                    }
                };
            }
        }
        let (ack, done) = oneshot::channel();
        self.command(Command::Send(message, ack), done).await
    }

    /// Starts the close handshake.
    pub async fn close(&mut self, code: u16, reason: String) -> Result<(), NetError> {
        check_close(code, &reason)?;
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: Utf8Bytes::from(reason),
        };
        let (ack, done) = oneshot::channel();
        self.command(Command::Close(frame, ack), done).await
    }

    async fn command(
        &mut self,
        command: Command,
        done: oneshot::Receiver<Result<(), NetError>>,
    ) -> Result<(), NetError> {
        let sent = match self.commands.send(command).await {
            Ok(()) => done.await.ok(),
            Err(_) => None,
        };
        match sent {
            Some(result) => result,
            // The task ended: the reason it left says why.
            None => Err(self
                .shared
                .error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .unwrap_or_else(|| NetError::Closed("the connection is closed".to_owned()))),
        }
    }
}

/// Dials `spec` through the guard and returns the open connection's handle;
/// its task redials per `settings.reconnect`.
pub async fn connect(
    guard: Arc<Guard>,
    tls: Arc<rustls::ClientConfig>,
    spec: ClientSpec,
    settings: Settings,
) -> Result<Handle, NetError> {
    let (ws, permit, subprotocol) = dial(&guard, &tls, &spec, &settings).await?;
    let log = close_event(&guard, &spec.target, None);
    let redial = Redial { tls, spec };
    Ok(start(
        guard,
        ws,
        permit,
        subprotocol,
        settings,
        Some(redial),
        log,
    ))
}

/// The `close` audit event of a connection to or from `target` (`peer`: an
/// accepted client), open for the connection's life with its counters at 0;
/// `None` when the log is off.
fn close_event(guard: &Guard, target: &Target, peer: Option<SocketAddr>) -> Option<Ongoing> {
    let log = guard.ongoing(
        target.scheme.as_str(),
        "close",
        || target.to_string(),
        std::time::Instant::now(),
    )?;
    let mut log = log.counting(true);
    let ev = log.event();
    ev.connected = peer;
    ev.reconnects = Some(0);
    Some(log)
}

/// What a client connection needs to dial again.
struct Redial {
    tls: Arc<rustls::ClientConfig>,
    spec: ClientSpec,
}

/// One guarded dial: request check, vetted connect, TLS for `wss`, handshake.
async fn dial(
    guard: &Guard,
    tls: &Arc<rustls::ClientConfig>,
    spec: &ClientSpec,
    settings: &Settings,
) -> Result<(Ws, ConnectionPermit, Option<String>), NetError> {
    let granted = guard.check_request(&spec.target)?;
    // The handshake's request line and Host come from the checked target; it
    // is built (secrets included) before anything is dialled.
    let mut request = wire::absolute_uri(&spec.target, spec.url.query())?
        .into_client_request()
        .map_err(|e| NetError::InvalidArgument(format!("{}: {e}", spec.url)))?;
    let headers = request.headers_mut();
    for (name, value) in &spec.headers {
        headers.append(name.clone(), value.clone());
    }
    granted.credentials().inject(headers)?;
    if !spec.subprotocols.is_empty() {
        let offer = HeaderValue::from_str(&spec.subprotocols.join(", "))
            .map_err(|e| NetError::InvalidArgument(format!("subprotocols: {e}")))?;
        headers.insert("sec-websocket-protocol", offer);
    }
    let attempt = async {
        let conn = guard.connect(&granted, settings.connect_timeout).await?;
        let io: Box<dyn Io> = if spec.target.scheme == Scheme::Wss {
            Box::new(tls::connect(tls, &spec.target, conn.stream).await?)
        } else {
            Box::new(conn.stream)
        };
        let (ws, response) =
            tokio_tungstenite::client_async_with_config(request, io, Some(settings.config()))
                .await
                .map_err(|e| handshake_error(&spec.url, e))?;
        let subprotocol = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok((ws, conn.permit, subprotocol))
    };
    match tokio::time::timeout(settings.connect_timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(NetError::Timeout(TimeoutKind::Connect)),
    }
}

fn handshake_error(url: &Url, err: WsError) -> NetError {
    match err {
        WsError::Http(response) => NetError::Protocol(format!(
            "{url} answered HTTP {} instead of switching to WebSocket",
            response.status()
        )),
        WsError::Io(io) => NetError::Closed(format!("{url}: during the handshake: {io}")),
        other => NetError::Protocol(format!("{url}: WebSocket handshake: {other}")),
    }
}

/// Starts the task of an open connection.
fn start(
    guard: Arc<Guard>,
    ws: Ws,
    permit: ConnectionPermit,
    subprotocol: Option<String>,
    settings: Settings,
    redial: Option<Redial>,
    log: Option<Ongoing>,
) -> Handle {
    let shared = Arc::new(Shared {
        state: AtomicU8::new(ConnState::Open as u8),
        subprotocol: Mutex::new(subprotocol),
        error: Mutex::new(None),
        sink: tokio::sync::Mutex::new(None),
        sent_messages: AtomicU64::new(0),
        sent_bytes: AtomicU64::new(0),
    });
    let (tx, inbox) = Inbox::channel(INCOMING_QUEUE, "WebSocket connection");
    let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
    let task = Task {
        guard: Arc::clone(&guard),
        settings,
        shared: Arc::clone(&shared),
        tx,
        commands: command_rx,
        redial,
        log,
    };
    tokio::spawn(task.run(ws, permit));
    Handle {
        inbox,
        commands,
        shared,
        guard,
        max_message: settings.max_message,
    }
}

/// How a session ended.
enum End {
    /// Nothing more to do (the guest was told, or is gone).
    Done,
    /// The connection dropped; redial if the guest asked for it, else report `err`.
    Dropped(NetError),
}

struct Task {
    guard: Arc<Guard>,
    settings: Settings,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Result<WsMessage, NetError>>,
    commands: mpsc::Receiver<Command>,
    redial: Option<Redial>,
    /// The connection's `close` audit event (written when the task ends).
    log: Option<Ongoing>,
}

impl Drop for Task {
    fn drop(&mut self) {
        // Before the `close` event is written (when `log` drops after this).
        if let Some(log) = &mut self.log {
            log.add_out(
                self.shared.sent_bytes.load(Ordering::Relaxed),
                self.shared.sent_messages.load(Ordering::Relaxed),
            );
        }
    }
}

impl Task {
    async fn run(mut self, mut ws: Ws, mut permit: ConnectionPermit) {
        loop {
            let (sink, mut stream) = ws.split();
            *self.shared.sink.lock().await = Some(sink);
            let end = self.session(&mut stream).await;
            // Both halves dropped: the socket closes.
            self.shared.sink.lock().await.take();
            drop(stream);
            drop(permit);
            let End::Dropped(err) = end else {
                self.shared.set(ConnState::Closed);
                return;
            };
            let dropped_at = std::time::Instant::now();
            let why = self.log.is_some().then(|| err.to_string());
            match self.reconnect(err).await {
                Ok((next, next_permit, subprotocol)) => {
                    self.log_reconnect(why, dropped_at);
                    *self
                        .shared
                        .subprotocol
                        .lock()
                        .unwrap_or_else(|p| p.into_inner()) = subprotocol;
                    self.shared.set(ConnState::Open);
                    ws = next;
                    permit = next_permit;
                }
                Err(err) => {
                    let by = if matches!(err, NetError::Denied(_)) {
                        ClosedBy::Host // a policy reload revoked it
                    } else {
                        ClosedBy::Peer
                    };
                    self.closed(by, Some(1006), "");
                    self.finish(err).await;
                    return;
                }
            }
        }
    }

    /// Notes who closed the connection and how, unless that is known already
    /// (the first close wins: a guest's close the peer answers stays the
    /// guest's).
    fn closed(&mut self, by: ClosedBy, code: Option<u16>, reason: &str) {
        if let Some(log) = &mut self.log
            && log.event().closed_by.is_none()
        {
            log.event().set_close(by, code, reason);
        }
    }

    /// Writes a `reconnect` event after a successful redial (`why`: what
    /// ended the previous connection; timed from `dropped_at`), carrying that
    /// connection's close; the `close` event keeps the count.
    fn log_reconnect(&mut self, why: Option<String>, dropped_at: std::time::Instant) {
        let Some(log) = &mut self.log else { return };
        let mut reconnect = log.reconnected(why, dropped_at);
        let (closing, closed) = (log.event(), reconnect.event());
        closed.close_code = closing.close_code.take();
        closed.close_reason = closing.close_reason.take();
        closed.closed_by = closing.closed_by.take();
    }

    /// Counts a message of `len` bytes received.
    fn note_in(&mut self, len: usize) {
        if let Some(log) = &mut self.log {
            log.add_in(len as u64, 1);
        }
    }

    /// Redials after a drop, or returns the error the guest should see.
    async fn reconnect(
        &mut self,
        err: NetError,
    ) -> Result<(Ws, ConnectionPermit, Option<String>), NetError> {
        let (Some(redial), Some(backoff)) = (&self.redial, self.settings.reconnect) else {
            return Err(err);
        };
        if matches!(err, NetError::Denied(_)) {
            return Err(err); // revoked by a policy reload: a redial would be refused too
        }
        self.shared.set(ConnState::Connecting);
        let mut last = err;
        for attempt in 1..=backoff.max_attempts {
            let delay = backoff.delay(attempt);
            tracing::debug!(url = %redial.spec.url, attempt, ?delay, reason = %last, "reconnecting");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.tx.closed() => return Err(last),
            }
            match dial(&self.guard, &redial.tls, &redial.spec, &self.settings).await {
                Ok(conn) => return Ok(conn),
                Err(err @ (NetError::Denied(_) | NetError::LimitExceeded { .. })) => {
                    return Err(err);
                }
                Err(err) => last = err,
            }
        }
        Err(NetError::Closed(format!(
            "gave up reconnecting to {} after {} attempts; last error: {last}",
            redial.spec.url, backoff.max_attempts
        )))
    }

    /// Runs one open connection until it ends.
    async fn session(&mut self, ws: &mut WsStream) -> End {
        let heartbeat = self.settings.heartbeat;
        let mut ticker = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heard_since_ping = true;
        let mut closing_since: Option<Instant> = None;
        loop {
            let close_by = closing_since.map(|t| t + CLOSE_TIMEOUT);
            tokio::select! {
                frame = ws.next() => {
                    heard_since_ping = true;
                    match frame {
                        None => return self.dropped("the peer closed the connection without a close frame"),
                        Some(Err(err)) => return self.failed(err).await,
                        Some(Ok(message)) => {
                            if let Some(end) = self.incoming(ws, message, closing_since.is_some()).await {
                                return end;
                            }
                        }
                    }
                }
                command = self.commands.recv(), if closing_since.is_none() => {
                    match command {
                        Some(Command::Send(message, ack)) => {
                            let len = message.len();
                            let sent = self.write(message).await;
                            if sent.is_ok() {
                                self.shared.count_sent(len);
                            }
                            let failed = sent.as_ref().err().map(send_error);
                            let _ = ack.send(sent.map_err(|e| send_error(&e)));
                            if let Some(err) = failed {
                                return self.send_failed(err);
                            }
                        }
                        Some(Command::SendFailed(err)) => return self.send_failed(err),
                        Some(Command::Close(frame, ack)) => {
                            self.closed(ClosedBy::Guest, Some(u16::from(frame.code)), frame.reason.as_str());
                            let sent = self.write(Message::Close(Some(frame))).await;
                            let _ = ack.send(sent.map_err(|e| NetError::Closed(format!("close failed: {e}"))));
                            self.shared.set(ConnState::Closing);
                            closing_since = Some(Instant::now());
                        }
                        None => {
                            // The guest dropped the resource: say goodbye.
                            self.closed(ClosedBy::Guest, Some(1001), "");
                            let frame = CloseFrame { code: CloseCode::Away, reason: Utf8Bytes::from_static("") };
                            let _ = self.write(Message::Close(Some(frame))).await;
                            self.shared.set(ConnState::Closing);
                            closing_since = Some(Instant::now());
                        }
                    }
                }
                _ = ticker.tick(), if closing_since.is_none() => {
                    if !heard_since_ping {
                        tracing::debug!(?heartbeat, "WebSocket peer missed its heartbeat");
                        self.closed(ClosedBy::Host, Some(1006), "");
                        return End::Dropped(NetError::Timeout(TimeoutKind::Idle));
                    }
                    heard_since_ping = false;
                    if self.write(Message::Ping(Default::default())).await.is_err() {
                        return self.dropped("the connection failed while sending a ping");
                    }
                }
                () = sleep_until_opt(close_by) => {
                    tracing::debug!("close handshake timed out");
                    return End::Done;
                }
            }
        }
    }

    fn dropped(&self, why: &str) -> End {
        End::Dropped(NetError::Closed(why.to_owned()))
    }

    /// A send failed with `err` (from [`send_error`]): a revocation ends the
    /// connection as `denied`, anything else drops it.
    fn send_failed(&self, err: NetError) -> End {
        match err {
            NetError::Denied(_) => End::Dropped(err),
            _ => self.dropped("the connection failed while sending"),
        }
    }

    /// Writes `message` (a ping, a close, a queued send) on the write half.
    async fn write(&self, message: Message) -> Result<(), WsError> {
        match self.shared.sink.lock().await.as_mut() {
            Some(sink) => sink.send(message).await,
            None => Err(WsError::AlreadyClosed),
        }
    }

    /// Handles one message from the peer; `Some` ends the session.
    async fn incoming(
        &mut self,
        ws: &mut WsStream,
        message: Message,
        closing: bool,
    ) -> Option<End> {
        let delivered = match message {
            Message::Text(text) => {
                if let Err(err) = self.guard.count_in(text.len() as u64) {
                    return Some(self.fatal(err, CloseCode::Policy).await);
                }
                self.note_in(text.len());
                WsMessage::Text(text.as_str().to_owned())
            }
            Message::Binary(data) => {
                if let Err(err) = self.guard.count_in(data.len() as u64) {
                    return Some(self.fatal(err, CloseCode::Policy).await);
                }
                self.note_in(data.len());
                WsMessage::Binary(data.to_vec())
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return None,
            Message::Close(frame) => {
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.as_str().to_owned())
                });
                self.closed(ClosedBy::Peer, Some(code), &reason);
                self.shared.set(ConnState::Closing);
                // Let tungstenite send its reply and see the end of the stream.
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
                    while let Some(Ok(_)) = ws.next().await {}
                })
                .await;
                let reconnect = !closing
                    && self.settings.reconnect.is_some()
                    && self.redial.is_some()
                    && RECONNECT_CLOSE_CODES.contains(&code);
                if reconnect {
                    return Some(End::Dropped(NetError::Closed(format!(
                        "the peer closed with {code} {reason:?}"
                    ))));
                }
                // A later send or close says who closed and how, and the
                // close frame stays queued for `receive`: the guest learns the
                // peer's code and reason even if it had not read yet.
                *self.shared.error.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(NetError::Closed(format!(
                        "the peer closed the connection with {code} {reason:?}"
                    )));
                self.shared.set(ConnState::Closed);
                let _ = self.tx.send(Ok(WsMessage::Close { code, reason })).await;
                return Some(End::Done);
            }
        };
        if self.tx.send(Ok(delivered)).await.is_err() {
            return Some(End::Done); // the guest dropped the connection
        }
        None
    }

    /// A read error: size caps and protocol violations end the connection
    /// for good (closing with the matching code); transport errors drop it.
    async fn failed(&mut self, err: WsError) -> End {
        match err {
            WsError::Capacity(CapacityError::MessageTooLong { max_size, .. }) => {
                let s = &self.settings;
                let limit = if max_size == s.max_frame && s.max_frame < s.max_message {
                    NetError::limit(Limit::MaxWsFrameBytes, s.max_frame as u64)
                } else {
                    NetError::limit(Limit::MaxWsMessageBytes, s.max_message as u64)
                };
                self.fatal(limit, CloseCode::Size).await
            }
            WsError::Capacity(other) => {
                self.fatal(NetError::Protocol(other.to_string()), CloseCode::Protocol)
                    .await
            }
            WsError::Utf8(detail) => {
                let err = NetError::Protocol(format!("invalid UTF-8 in a text message: {detail}"));
                self.fatal(err, CloseCode::Invalid).await
            }
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                self.dropped("the peer reset the connection without a close frame")
            }
            WsError::Protocol(p) => {
                let err = NetError::Protocol(format!("WebSocket protocol violation: {p}"));
                self.fatal(err, CloseCode::Protocol).await
            }
            WsError::ConnectionClosed | WsError::AlreadyClosed => {
                self.dropped("the connection is closed")
            }
            WsError::Io(io) => End::Dropped(
                find_net_error(&io)
                    .unwrap_or_else(|| NetError::Closed(format!("connection lost: {io}"))),
            ),
            other => End::Dropped(NetError::Closed(format!("connection lost: {other}"))),
        }
    }

    /// Closes with `code` (best effort, bounded) and reports `err` to the guest.
    async fn fatal(&mut self, err: NetError, code: CloseCode) -> End {
        self.shared.set(ConnState::Closing);
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from(truncate(&err.to_string(), MAX_CLOSE_REASON_BYTES)),
        };
        self.closed(ClosedBy::Host, Some(u16::from(code)), frame.reason.as_str());
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.write(Message::Close(Some(frame)))).await;
        self.finish(err).await;
        End::Done
    }

    /// Ends the connection with `err`: kept for later sends, queued for
    /// `receive`, and in the `close` audit event.
    async fn finish(&mut self, err: NetError) {
        if let Some(log) = &mut self.log {
            log.fail(&err);
        }
        self.shared.set(ConnState::Closed);
        *self.shared.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(err.clone());
        let _ = self.tx.send(Err(err)).await;
    }
}

/// What the guest sees when a send fails: `denied` for a socket a policy
/// reload revoked, `closed` otherwise.
fn send_error(err: &WsError) -> NetError {
    let revoked = match err {
        WsError::Io(io) => find_net_error(io),
        _ => None,
    };
    revoked.unwrap_or_else(|| NetError::Closed(format!("send failed: {err}")))
}

fn truncate(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

async fn sleep_until_opt(when: Option<Instant>) {
    match when {
        Some(when) => tokio::time::sleep_until(when).await,
        None => futures::future::pending().await,
    }
}

/// An accepted client, handshake done.
#[derive(Debug)]
pub struct Accepted {
    /// Its connection.
    pub handle: Handle,
    /// Its address.
    pub peer: SocketAddr,
}

/// A bound `ws-listen://` socket; its accept task stops when this drops.
#[derive(Debug)]
pub struct ListenerHandle {
    /// Clients accepted, checked and handshaken, waiting for the guest.
    pub inbox: Inbox<Accepted>,
    /// The bound address.
    pub local: SocketAddr,
    _task: AbortOnDrop,
    _permit: ConnectionPermit,
}

/// Binds `address` (`ws-listen://IP:PORT`) under the guest's listen grant.
pub async fn bind(
    guard: Arc<Guard>,
    address: &str,
    settings: Settings,
) -> Result<ListenerHandle, NetError> {
    let target = Target::parse(address).map_err(|e| {
        NetError::InvalidArgument(format!(
            "invalid listen address {address:?}: {e}; write ws-listen://IP:PORT"
        ))
    })?;
    if target.scheme != Scheme::WsListen {
        return Err(NetError::InvalidArgument(format!(
            "listen address {address:?} has scheme {}; write ws-listen://IP:PORT",
            target.scheme
        )));
    }
    let grant = guard.check_listen(&target)?;
    let (listener, local, permit) = guard.listen_tcp(&grant).await?;
    let (tx, inbox) = Inbox::channel(ACCEPT_QUEUE, "WebSocket listener");
    let lease = permit.lease().cloned();
    let task = tokio::spawn(accept_loop(guard, listener, target, settings, tx, lease));
    Ok(ListenerHandle {
        inbox,
        local,
        _task: AbortOnDrop(task),
        _permit: permit,
    })
}

async fn accept_loop(
    guard: Arc<Guard>,
    listener: TcpListener,
    target: Target,
    settings: Settings,
    tx: mpsc::Sender<Result<Accepted, NetError>>,
    lease: Option<Arc<Lease>>,
) {
    let revoked = async {
        match &lease {
            Some(lease) => lease.revoked().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(revoked);
    loop {
        let (stream, peer) = tokio::select! {
            err = &mut revoked => {
                // A policy reload withdrew the listen grant: the guest's next
                // accept gets `denied`, and no client is taken any more.
                let _ = tx.send(Err(err)).await;
                return;
            },
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    // Out of descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(MIN_BACKOFF).await;
                    continue;
                }
            },
            () = tx.closed() => return,
        };
        if guard.check_peer(&target, peer).is_err() {
            continue; // refused peers are dropped unseen
        }
        let (stream, permit) = match guard.accepted(&target, stream, peer) {
            Ok(accepted) => (accepted.stream, accepted.permit),
            Err(err) => {
                if tx.send(Err(err)).await.is_err() {
                    return;
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let guard = Arc::clone(&guard);
        let tx = tx.clone();
        let log_target = guard.audit().enabled().then(|| target.clone());
        // Each handshake on its own task, so a slow client cannot stall the rest.
        tokio::spawn(async move {
            let io: Box<dyn Io> = Box::new(stream);
            let handshake =
                tokio_tungstenite::accept_async_with_config(io, Some(settings.config()));
            match tokio::time::timeout(settings.connect_timeout, handshake).await {
                Ok(Ok(ws)) => {
                    let log = log_target.and_then(|t| close_event(&guard, &t, Some(peer)));
                    let handle = start(guard, ws, permit, None, settings, None, log);
                    let _ = tx.send(Ok(Accepted { handle, peer })).await;
                }
                Ok(Err(err)) => tracing::debug!(%peer, %err, "WebSocket handshake failed"),
                Err(_) => tracing::debug!(%peer, "WebSocket handshake timed out"),
            }
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            max_attempts: 10,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(500),
        };
        let delays: Vec<u128> = (1..=5).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 500, 500]);
        assert_eq!(b.delay(200), Duration::from_millis(500));
        let zero = Backoff {
            max_attempts: 1,
            initial: Duration::ZERO,
            max: Duration::ZERO,
        };
        assert_eq!(zero.delay(1), MIN_BACKOFF);
    }

    #[test]
    fn close_codes_and_reasons() {
        for ok in [1000, 1001, 1003, 1007, 1014, 3000, 4999] {
            assert!(check_close(ok, "").is_ok(), "{ok}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 2000, 2999, 5000] {
            let err = check_close(bad, "").unwrap_err();
            assert!(err.to_string().contains(&bad.to_string()), "{bad}: {err}");
        }
        assert!(check_close(1000, &"x".repeat(123)).is_ok());
        assert!(check_close(1000, &"x".repeat(124)).is_err());
    }

    #[test]
    fn client_spec_validation() {
        let cases = [
            ("http://a.test/", "scheme \"http\""),
            ("ws://u:p@a.test/", "credentials"),
            ("ws://a.test/#x", "fragment"),
            ("not a url", "invalid URL"),
        ];
        for (url, want) in cases {
            let err = ClientSpec::new(url, &[], &[]).unwrap_err();
            assert!(err.to_string().contains(want), "{url:?}: {err}");
        }
        let managed = vec![("Sec-WebSocket-Key".to_owned(), "x".to_owned())];
        assert!(ClientSpec::new("ws://a.test/", &managed, &[]).is_err());
        assert!(ClientSpec::new("ws://a.test/", &[], &["a b".to_owned()]).is_err());
        let ok = ClientSpec::new(
            "wss://a.test/chat?x=1",
            &[("authorization".to_owned(), "Bearer t".to_owned())],
            &["chat.v1".to_owned()],
        )
        .unwrap();
        assert_eq!(ok.target.scheme, Scheme::Wss);
        assert_eq!(ok.target.port, 443);
    }
}
