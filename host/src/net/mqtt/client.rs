//! Protocol core of `sandnet:net/mqtt`: an MQTT 3.1.1 session (rumqttc's packet codec) over a stream the guard dialed, with keep-alive, acknowledgements, the per-message receive check and reconnects. Knows nothing of the WIT bindings.
//!
//! rumqttc's own event loop resolves and dials by itself, so it cannot be
//! told to use a vetted, pinned connection; its packet types
//! (`rumqttc::mqttbytes::v4`) are used instead over the guarded socket. Every
//! dial, first or reconnect, goes through `Guard::check_request` and
//! `Guard::connect`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{
    ConnAck, Connect, ConnectReturnCode, Login, Packet, PubAck, Publish, Subscribe,
    SubscribeReasonCode, Unsubscribe,
};
use rumqttc::mqttbytes::{Error as WireError, QoS};
use sandnet_policy::{Scheme, Target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::audit::{ClosedBy, Ongoing};
use crate::error::{NetError, TimeoutKind, find_net_error};
use crate::guard::{ConnectionPermit, Guard};
use crate::net::common::inbox::{AbortOnDrop, Inbox};
use crate::net::common::tls::{self, Io};

/// Messages held for the guest before the session stops reading.
const INBOX_CAPACITY: usize = 256;
/// The longest topic plus MQTT framing a received PUBLISH may add to its payload.
const PACKET_OVERHEAD: usize = 65_535 + 16;
/// First wait before a reconnect; doubles per failed attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A message the broker delivered and the policy let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The concrete topic.
    pub topic: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// QoS 1 (`true`) or 0.
    pub at_least_once: bool,
    /// Sent as a retained message.
    pub retain: bool,
}

/// How the session connects; already checked and clamped by the binding.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The client identifier.
    pub client_id: String,
    /// Seconds between pings (0: none).
    pub keep_alive: u16,
    /// Start a fresh session.
    pub clean_session: bool,
    /// Reconnects in a row before giving up.
    pub max_reconnects: u32,
    /// User name and password.
    pub login: Option<(String, String)>,
    /// TCP, TLS and CONNACK together.
    pub connect_timeout: Duration,
    /// `max_mqtt_message_bytes`.
    pub max_payload: usize,
}

/// What the guest asks the session to do; `done` gets the outcome.
enum Command {
    Publish(Publish, oneshot::Sender<Result<(), NetError>>),
    Subscribe(String, QoS, oneshot::Sender<Result<(), NetError>>),
    Unsubscribe(String, oneshot::Sender<Result<(), NetError>>),
}

/// A live MQTT client: the guest's handle on the session task.
#[derive(Debug)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    /// Messages delivered, in order.
    pub inbox: Inbox<Received>,
    /// The broker it was granted (what every topic check is made against).
    pub broker: Target,
    /// Whether the broker kept a session for this client id.
    pub session_present: bool,
    _task: AbortOnDrop,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Publish(..) => "Publish",
            Command::Subscribe(..) => "Subscribe",
            Command::Unsubscribe(..) => "Unsubscribe",
        })
    }
}

/// Parses `mqtt://host[:port]` or `mqtts://host[:port]` (nothing else).
pub fn parse_broker(url: &str) -> Result<Target, NetError> {
    let target = Target::parse(url).map_err(|e| NetError::InvalidArgument(e.to_string()))?;
    if !matches!(target.scheme, Scheme::Mqtt | Scheme::Mqtts) {
        return Err(NetError::InvalidArgument(format!(
            "mqtt connect takes mqtt:// or mqtts:// brokers, not {url:?}"
        )));
    }
    if target.scheme == Scheme::Mqtts {
        tls::server_name(&target)?;
    }
    Ok(target)
}

/// One connection to the broker: the stream, its slot, read buffer, and the
/// bytes it moved (taken into the session's `close` event).
struct Link {
    stream: Box<dyn Io>,
    _permit: ConnectionPermit,
    buf: BytesMut,
    bytes_in: u64,
    bytes_out: u64,
}

/// Dials the broker through the guard (policy, vetted addresses, TLS) and
/// completes the MQTT handshake. Returns the link and `session_present`.
async fn dial(
    guard: &Arc<Guard>,
    tls_config: &Arc<rustls::ClientConfig>,
    broker: &Target,
    settings: &Settings,
) -> Result<(Link, bool), NetError> {
    let granted = guard.check_request(broker)?;
    let deadline = tokio::time::Instant::now() + settings.connect_timeout;
    let guarded = guard.connect(&granted, settings.connect_timeout).await?;
    let stream: Box<dyn Io> = if broker.scheme == Scheme::Mqtts {
        let handshake = tls::connect(tls_config, broker, guarded.stream);
        match tokio::time::timeout_at(deadline, handshake).await {
            Err(_) => return Err(NetError::Timeout(TimeoutKind::Connect)),
            Ok(result) => Box::new(result?),
        }
    } else {
        Box::new(guarded.stream)
    };
    let mut link = Link {
        stream,
        _permit: guarded.permit,
        buf: BytesMut::with_capacity(4096),
        bytes_in: 0,
        bytes_out: 0,
    };
    let mut connect = Connect::new(settings.client_id.clone());
    connect.keep_alive = settings.keep_alive;
    connect.clean_session = settings.clean_session;
    connect.login = settings
        .login
        .as_ref()
        .map(|(user, password)| Login::new(user.clone(), password.clone()));
    let handshake = async {
        link.send(guard, &Packet::Connect(connect)).await?;
        match link.receive(guard, settings.max_payload).await? {
            Packet::ConnAck(ConnAck {
                code: ConnectReturnCode::Success,
                session_present,
            }) => Ok(session_present),
            Packet::ConnAck(ConnAck { code, .. }) => Err(NetError::Connect(format!(
                "{broker}: the broker refused the connection ({code:?})"
            ))),
            other => Err(NetError::Protocol(format!(
                "{broker}: expected CONNACK, got {:?}",
                packet_name(&other)
            ))),
        }
    };
    match tokio::time::timeout_at(deadline, handshake).await {
        Err(_) => Err(NetError::Timeout(TimeoutKind::Connect)),
        Ok(Ok(present)) => Ok((link, present)),
        Ok(Err(err)) => Err(err),
    }
}

fn packet_name(packet: &Packet) -> &'static str {
    match packet {
        Packet::Connect(_) => "CONNECT",
        Packet::ConnAck(_) => "CONNACK",
        Packet::Publish(_) => "PUBLISH",
        Packet::PubAck(_) => "PUBACK",
        Packet::PubRec(_) => "PUBREC",
        Packet::PubRel(_) => "PUBREL",
        Packet::PubComp(_) => "PUBCOMP",
        Packet::Subscribe(_) => "SUBSCRIBE",
        Packet::SubAck(_) => "SUBACK",
        Packet::Unsubscribe(_) => "UNSUBSCRIBE",
        Packet::UnsubAck(_) => "UNSUBACK",
        Packet::PingReq => "PINGREQ",
        Packet::PingResp => "PINGRESP",
        Packet::Disconnect => "DISCONNECT",
    }
}

fn wire_error(err: &WireError, max_payload: usize) -> NetError {
    match err {
        WireError::PayloadSizeLimitExceeded(_) => NetError::limit(
            sandnet_policy::Limit::MaxMqttMessageBytes,
            u64::try_from(max_payload).unwrap_or(u64::MAX),
        ),
        other => NetError::Protocol(format!("MQTT: {other}")),
    }
}

/// A failed read or write of the broker connection: the reload's `denied`
/// when one revoked it, `closed` otherwise.
fn link_error(err: &std::io::Error) -> NetError {
    find_net_error(err)
        .unwrap_or_else(|| NetError::Closed(format!("MQTT broker connection: {err}")))
}

impl Link {
    /// Writes one packet (counted against the guest's byte quota).
    async fn send(&mut self, guard: &Guard, packet: &Packet) -> Result<(), NetError> {
        let mut out = BytesMut::new();
        packet
            .write(&mut out, usize::MAX)
            .map_err(|e| NetError::InvalidArgument(format!("MQTT: {e}")))?;
        guard.count_out(out.len() as u64)?;
        self.stream
            .write_all(&out)
            .await
            .map_err(|e| link_error(&e))?;
        self.bytes_out += out.len() as u64;
        self.stream.flush().await.map_err(|e| link_error(&e))
    }

    /// A complete packet already in the buffer, if any.
    fn parse(&mut self, max_payload: usize) -> Result<Option<Packet>, NetError> {
        match Packet::read(&mut self.buf, max_payload.saturating_add(PACKET_OVERHEAD)) {
            Ok(packet) => Ok(Some(packet)),
            Err(WireError::InsufficientBytes(_)) => Ok(None),
            Err(err) => Err(wire_error(&err, max_payload)),
        }
    }

    /// Reads more bytes into the buffer (cancel-safe).
    async fn fill(&mut self, guard: &Guard) -> Result<(), NetError> {
        let n = self
            .stream
            .read_buf(&mut self.buf)
            .await
            .map_err(|e| link_error(&e))?;
        if n == 0 {
            return Err(NetError::Closed(
                "the MQTT broker closed the connection".into(),
            ));
        }
        self.bytes_in += n as u64;
        guard.count_in(n as u64)
    }

    /// Waits for the next packet.
    async fn receive(&mut self, guard: &Guard, max_payload: usize) -> Result<Packet, NetError> {
        loop {
            if let Some(packet) = self.parse(max_payload)? {
                return Ok(packet);
            }
            self.fill(guard).await?;
        }
    }
}

impl Client {
    /// Connects to `broker` (already parsed) and starts the session task.
    pub async fn connect(
        guard: Arc<Guard>,
        tls_config: Arc<rustls::ClientConfig>,
        broker: Target,
        settings: Settings,
    ) -> Result<Client, NetError> {
        let started = std::time::Instant::now();
        let (link, session_present) = dial(&guard, &tls_config, &broker, &settings).await?;
        let log = close_event(&guard, &broker, started);
        let (commands, rx) = mpsc::channel(16);
        let (tx, inbox) = Inbox::channel(INBOX_CAPACITY, "MQTT client");
        let session = Session {
            guard,
            tls: tls_config,
            broker: broker.clone(),
            settings,
            link,
            next_pkid: 0,
            waiting: HashMap::new(),
            filters: VecDeque::new(),
            tx,
            log,
            ended: None,
        };
        let task = tokio::spawn(session.run(rx));
        Ok(Client {
            commands,
            inbox,
            broker,
            session_present,
            _task: AbortOnDrop(task),
        })
    }

    async fn ask(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<(), NetError>>) -> Command,
    ) -> Result<(), NetError> {
        let (done, outcome) = oneshot::channel();
        let closed = || NetError::Closed("the MQTT client is closed".into());
        self.commands.send(make(done)).await.map_err(|_| closed())?;
        outcome.await.map_err(|_| closed())?
    }

    /// Publishes a checked topic; QoS 1 waits for PUBACK.
    pub async fn publish(
        &self,
        topic: String,
        payload: Vec<u8>,
        at_least_once: bool,
        retain: bool,
    ) -> Result<(), NetError> {
        let qos = if at_least_once {
            QoS::AtLeastOnce
        } else {
            QoS::AtMostOnce
        };
        let mut publish = Publish::new(topic, qos, payload);
        publish.retain = retain;
        self.ask(|done| Command::Publish(publish, done)).await
    }

    /// Subscribes to a checked filter; waits for SUBACK.
    pub async fn subscribe(&self, filter: String, at_least_once: bool) -> Result<(), NetError> {
        let qos = if at_least_once {
            QoS::AtLeastOnce
        } else {
            QoS::AtMostOnce
        };
        self.ask(|done| Command::Subscribe(filter, qos, done)).await
    }

    /// Ends a subscription; waits for UNSUBACK.
    pub async fn unsubscribe(&self, filter: String) -> Result<(), NetError> {
        self.ask(|done| Command::Unsubscribe(filter, done)).await
    }
}

type Done = oneshot::Sender<Result<(), NetError>>;

/// The session task's state.
struct Session {
    guard: Arc<Guard>,
    tls: Arc<rustls::ClientConfig>,
    broker: Target,
    settings: Settings,
    link: Link,
    next_pkid: u16,
    /// Acknowledgements awaited, by packet id (with what to do on SUBACK).
    waiting: HashMap<u16, (Done, Option<(String, QoS)>)>,
    /// Live subscriptions, made again after a reconnect without a session.
    filters: VecDeque<(String, QoS)>,
    tx: mpsc::Sender<Result<Received, NetError>>,
    /// The session's `close` audit event (written when the session ends,
    /// the guest's drop included).
    log: Option<Ongoing>,
    /// Who ended the session and with what error, when it was not the guest.
    ended: Option<(ClosedBy, NetError)>,
}

/// The session's `close` audit event, open for its life with its counters
/// at 0; `None` when the log is off.
fn close_event(guard: &Guard, broker: &Target, started: std::time::Instant) -> Option<Ongoing> {
    let log = guard.ongoing(
        broker.scheme.as_str(),
        "close",
        || broker.to_string(),
        started,
    )?;
    Some(log.counting(true))
}

impl Session {
    /// Moves the bytes the current link moved into the `close` event.
    fn tally(&mut self) {
        let (bytes_in, bytes_out) = (
            std::mem::take(&mut self.link.bytes_in),
            std::mem::take(&mut self.link.bytes_out),
        );
        if let Some(log) = &mut self.log {
            log.add_in(bytes_in, 0);
            log.add_out(bytes_out, 0);
        }
    }

    /// Counts one message sent or delivered in the `close` event.
    fn count_message(&mut self, delivered: bool) {
        if let Some(log) = &mut self.log {
            let ev = log.event();
            let count = if delivered {
                &mut ev.messages_in
            } else {
                &mut ev.messages_out
            };
            *count.get_or_insert(0) += 1;
        }
    }

    fn pkid(&mut self) -> u16 {
        // Packet ids are 1..=65535.
        self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
        self.next_pkid
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut attempts = 0;
        loop {
            let ended = self.serve(&mut commands).await;
            let err = match ended {
                None => return,
                Some(err) => err,
            };
            for (_, (done, _)) in self.waiting.drain() {
                let _ = done.send(Err(err.clone()));
            }
            // Until a reconnect succeeds, what ended this connection ended the session.
            let by = ClosedBy::after(&err);
            self.ended = Some((by, err.clone()));
            let recoverable = matches!(err, NetError::Closed(_) | NetError::Timeout(_));
            if !recoverable || attempts >= self.settings.max_reconnects {
                let _ = self.tx.send(Err(err)).await;
                return;
            }
            match self.reconnect(&mut attempts).await {
                Ok(()) => {
                    attempts = 0;
                    self.ended = None;
                }
                Err(err) => {
                    // A reload that no longer grants the broker is the host's doing.
                    let by = if matches!(err, NetError::Denied(_)) {
                        ClosedBy::Host
                    } else {
                        by
                    };
                    self.ended = Some((by, err.clone()));
                    let _ = self.tx.send(Err(err)).await;
                    return;
                }
            }
        }
    }

    /// Dials again with backoff, up to the attempts left; re-subscribes
    /// when the broker kept no session.
    async fn reconnect(&mut self, attempts: &mut u32) -> Result<(), NetError> {
        let mut backoff = FIRST_BACKOFF;
        loop {
            *attempts += 1;
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            match dial(&self.guard, &self.tls, &self.broker, &self.settings).await {
                Ok((link, present)) => {
                    self.tally();
                    self.link = link;
                    if !present && !self.filters.is_empty() {
                        let filters = self.filters.iter().cloned();
                        let mut subscribe = Subscribe::new_many(
                            filters.map(|(f, q)| rumqttc::SubscribeFilter::new(f, q)),
                        );
                        subscribe.pkid = self.pkid();
                        self.link
                            .send(&self.guard, &Packet::Subscribe(subscribe))
                            .await?;
                    }
                    return Ok(());
                }
                Err(err @ (NetError::Denied(_) | NetError::InvalidArgument(_))) => {
                    return Err(err);
                }
                Err(err) if *attempts >= self.settings.max_reconnects => return Err(err),
                Err(err) => {
                    tracing::debug!(broker = %self.broker, %err, "MQTT reconnect failed");
                }
            }
        }
    }

    /// Serves one connection until the guest drops the client (`None`) or
    /// the connection fails (`Some(error)`).
    async fn serve(&mut self, commands: &mut mpsc::Receiver<Command>) -> Option<NetError> {
        let keep_alive = Duration::from_secs(u64::from(self.settings.keep_alive));
        let mut ping = tokio::time::interval(if keep_alive.is_zero() {
            Duration::from_secs(u64::from(u32::MAX))
        } else {
            keep_alive
        });
        ping.reset();
        let mut ping_unanswered = false;
        loop {
            match self.link.parse(self.settings.max_payload) {
                Ok(Some(packet)) => {
                    if matches!(packet, Packet::PingResp) {
                        ping_unanswered = false;
                    }
                    if let Err(err) = self.incoming(packet).await {
                        return Some(err);
                    }
                    continue;
                }
                Ok(None) => {}
                Err(err) => return Some(err),
            }
            tokio::select! {
                filled = self.link.fill(&self.guard) => {
                    if let Err(err) = filled {
                        return Some(err);
                    }
                }
                command = commands.recv() => {
                    let Some(command) = command else {
                        let _ = self.link.send(&self.guard, &Packet::Disconnect).await;
                        return None;
                    };
                    if let Err(err) = self.command(command).await {
                        return Some(err);
                    }
                }
                _ = ping.tick(), if !keep_alive.is_zero() => {
                    if ping_unanswered {
                        return Some(NetError::Timeout(TimeoutKind::Idle));
                    }
                    ping_unanswered = true;
                    if let Err(err) = self.link.send(&self.guard, &Packet::PingReq).await {
                        return Some(err);
                    }
                }
            }
        }
    }

    async fn command(&mut self, command: Command) -> Result<(), NetError> {
        match command {
            Command::Publish(mut publish, done) => {
                if publish.qos == QoS::AtMostOnce {
                    let sent = self.link.send(&self.guard, &Packet::Publish(publish)).await;
                    if sent.is_ok() {
                        self.count_message(false);
                    }
                    let _ = done.send(sent.clone());
                    return sent;
                }
                publish.pkid = self.pkid();
                self.waiting.insert(publish.pkid, (done, None));
                self.link
                    .send(&self.guard, &Packet::Publish(publish))
                    .await
                    .inspect(|()| self.count_message(false))
            }
            Command::Subscribe(filter, qos, done) => {
                let mut subscribe = Subscribe::new(filter.clone(), qos);
                subscribe.pkid = self.pkid();
                self.waiting
                    .insert(subscribe.pkid, (done, Some((filter, qos))));
                self.link
                    .send(&self.guard, &Packet::Subscribe(subscribe))
                    .await
            }
            Command::Unsubscribe(filter, done) => {
                self.filters.retain(|(f, _)| *f != filter);
                let mut unsubscribe = Unsubscribe::new(filter);
                unsubscribe.pkid = self.pkid();
                self.waiting.insert(unsubscribe.pkid, (done, None));
                self.link
                    .send(&self.guard, &Packet::Unsubscribe(unsubscribe))
                    .await
            }
        }
    }

    fn acknowledged(&mut self, pkid: u16, outcome: Result<(), NetError>) {
        if let Some((done, _)) = self.waiting.remove(&pkid) {
            let _ = done.send(outcome);
        }
    }

    async fn incoming(&mut self, packet: Packet) -> Result<(), NetError> {
        match packet {
            Packet::Publish(publish) => self.deliver(publish).await,
            Packet::PubAck(PubAck { pkid }) | Packet::UnsubAck(rumqttc::UnsubAck { pkid }) => {
                self.acknowledged(pkid, Ok(()));
                Ok(())
            }
            Packet::SubAck(ack) => {
                let refused = ack
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, SubscribeReasonCode::Failure));
                if let Some((done, filter)) = self.waiting.remove(&ack.pkid) {
                    let outcome = if refused {
                        Err(NetError::Protocol(format!(
                            "{}: the broker refused the subscription",
                            self.broker
                        )))
                    } else {
                        if let Some(filter) = filter {
                            self.filters.push_back(filter);
                        }
                        Ok(())
                    };
                    let _ = done.send(outcome);
                }
                Ok(())
            }
            Packet::PingResp => Ok(()),
            other => Err(NetError::Protocol(format!(
                "{}: unexpected {} from the broker",
                self.broker,
                packet_name(&other)
            ))),
        }
    }

    /// Hands a received message to the guest if its policy lets it see the
    /// topic (dropped and audited otherwise), and acknowledges QoS 1.
    async fn deliver(&mut self, publish: Publish) -> Result<(), NetError> {
        if publish.qos == QoS::AtLeastOnce {
            let ack = Packet::PubAck(PubAck::new(publish.pkid));
            self.link.send(&self.guard, &ack).await?;
        }
        if publish.payload.len() > self.settings.max_payload {
            return Err(wire_error(
                &WireError::PayloadSizeLimitExceeded(publish.payload.len()),
                self.settings.max_payload,
            ));
        }
        if !self.guard.may_receive_mqtt(&self.broker, &publish.topic) {
            return Ok(());
        }
        let received = Received {
            topic: publish.topic,
            payload: publish.payload.to_vec(),
            at_least_once: publish.qos != QoS::AtMostOnce,
            retain: publish.retain,
        };
        // A guest that stops reading stops this session reading, which is
        // TCP back-pressure on the broker (keep-alive then ends it).
        if self.tx.send(Ok(received)).await.is_ok() {
            self.count_message(true);
        }
        Ok(())
    }
}

impl Drop for Session {
    /// Completes the `close` event (written as `log` drops next): the bytes
    /// of the last link, and who ended the session (the guest, unless a
    /// failure did first).
    fn drop(&mut self) {
        self.tally();
        if let Some(log) = &mut self.log {
            match self.ended.take() {
                Some((by, err)) => log.event().set_ended(by, Some(&err)),
                None => log.event().set_ended(ClosedBy::Guest, None),
            }
        }
    }
}
