//! Protocol core of `sandnet:net/tcp`: guarded connect (plain or host-terminated
//! TLS), a buffered connection with `read-until`, and a listener that filters
//! accepted peers by policy. Knows nothing of the WIT bindings.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use sandnet_policy::{Scheme, Target};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpListener;
use tokio_rustls::client::TlsStream;

use crate::audit::{AuditEvent, ClosedBy, Verdict};
use crate::error::{NetError, TimeoutKind, find_net_error};
use crate::guard::{ConnectionPermit, Guard, GuardedSocket};
use crate::net::common::tls;

/// Most bytes one `read` hands the guest (1 MiB); larger requests are clamped.
pub const MAX_READ_CHUNK: u32 = 1 << 20;
/// Most bytes one `read-until` may return, delimiter included (1 MiB); a
/// larger `max-bytes` is clamped to it.
pub const MAX_READ_UNTIL_BYTES: u32 = 1 << 20;
/// The name `read-until` reports in `limit-exceeded` when its `max-bytes`
/// (the argument, after clamping) was reached without the delimiter.
pub const READ_UNTIL_LIMIT: &str = "max-bytes";
/// Bytes asked from the socket per read. The buffer holds at most
/// `MAX_READ_UNTIL_BYTES + READ_CHUNK` bytes.
const READ_CHUNK: usize = 16 * 1024;
/// Largest slice handed to one socket write, so the idle timeout measures progress.
const WRITE_CHUNK: usize = 64 * 1024;

/// The per-connection deadlines, already clamped to the policy.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP connect plus, for TLS, the handshake.
    pub connect: Duration,
    /// Longest wait for progress of a read or write.
    pub idle: Duration,
}

/// The socket under a [`Connection`]: plain TCP or TLS terminated by the host.
#[derive(Debug)]
enum Transport {
    Plain(GuardedSocket),
    Tls(Box<TlsStream<GuardedSocket>>),
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// One open TCP (or TLS) connection of a guest, with a read buffer.
///
/// Holds its `max_connections` slot; dropping it closes the socket, frees the
/// slot and writes a `close` audit event with the bytes moved and who ended it.
pub struct Connection {
    transport: Transport,
    buf: BytesMut,
    eof: bool,
    error: Option<NetError>,
    write_closed: bool,
    peer: SocketAddr,
    local: SocketAddr,
    idle: Duration,
    guard: Arc<Guard>,
    target: Target,
    bytes_in: u64,
    bytes_out: u64,
    opened: Instant,
    /// What ended the connection, first cause wins: the peer's end of stream
    /// or an error (with the error), or a quota (`closed_by` of the `close`
    /// event; the guest when nothing did before it let go).
    ended: Option<(ClosedBy, Option<NetError>)>,
    /// The last read or write hit the idle timeout (cleared by progress).
    stalled: bool,
    /// The slot, and the lease a policy reload revokes.
    permit: ConnectionPermit,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("target", &self.target.to_string())
            .field("peer", &self.peer)
            .field("buffered", &self.buf.len())
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

fn parse_target(url: &str, want: &[Scheme], what: &str) -> Result<Target, NetError> {
    let target = Target::parse(url).map_err(|e| NetError::InvalidArgument(e.to_string()))?;
    if !want.contains(&target.scheme) {
        let names: Vec<String> = want.iter().map(|s| format!("{s}://")).collect();
        return Err(NetError::InvalidArgument(format!(
            "{what} takes {} targets, not {url:?}",
            names.join(" or ")
        )));
    }
    Ok(target)
}

fn io_error(what: &str, err: &io::Error) -> NetError {
    if let Some(revoked) = find_net_error(err) {
        return revoked;
    }
    match err.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => NetError::Closed(format!("{what}: {err}")),
        io::ErrorKind::InvalidData => NetError::Tls(format!("{what}: {err}")),
        _ => NetError::Connect(format!("{what}: {err}")),
    }
}

/// Connects to `url` (`tcp://host:port` or `tls://host:port`) through the guard:
/// request check, host-side resolution, every address vetted, TLS with
/// SNI = host. The connect timeout covers TCP and TLS together.
pub async fn connect(
    guard: &Arc<Guard>,
    tls: &Arc<rustls::ClientConfig>,
    url: &str,
    timeouts: Timeouts,
) -> Result<Connection, NetError> {
    let target = parse_target(url, &[Scheme::Tcp, Scheme::Tls], "tcp connect")?;
    let wants_tls = target.scheme == Scheme::Tls;
    if wants_tls {
        // Refuse a name TLS cannot carry before anything is dialled.
        tls::server_name(&target)?;
    }
    let granted = guard.check_request(&target)?;
    let deadline = tokio::time::Instant::now() + timeouts.connect;
    let guarded = guard.connect(&granted, timeouts.connect).await?;
    let local = guarded
        .stream
        .local_addr()
        .map_err(|e| io_error("local address", &e))?;
    let transport = match wants_tls {
        false => Transport::Plain(guarded.stream),
        true => {
            let handshake = tls::connect(tls, &target, guarded.stream);
            match tokio::time::timeout_at(deadline, handshake).await {
                Err(_) => return Err(NetError::Timeout(TimeoutKind::Connect)),
                Ok(Err(err)) => return Err(err),
                Ok(Ok(stream)) => Transport::Tls(Box::new(stream)),
            }
        }
    };
    Ok(Connection::new(
        transport,
        guarded.peer,
        local,
        timeouts.idle,
        Arc::clone(guard),
        target,
        guarded.permit,
    ))
}

impl Connection {
    fn new(
        transport: Transport,
        peer: SocketAddr,
        local: SocketAddr,
        idle: Duration,
        guard: Arc<Guard>,
        target: Target,
        permit: ConnectionPermit,
    ) -> Self {
        Connection {
            transport,
            buf: BytesMut::new(),
            eof: false,
            error: None,
            write_closed: false,
            peer,
            local,
            idle,
            guard,
            target,
            bytes_in: 0,
            bytes_out: 0,
            opened: Instant::now(),
            ended: None,
            stalled: false,
            permit,
        }
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The local address.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// Reads once from the socket into the buffer, unless the stream already
    /// ended or failed. Cancel-safe: a cancelled read loses no bytes.
    async fn fill(&mut self) {
        if self.eof || self.error.is_some() {
            return;
        }
        self.buf.reserve(READ_CHUNK);
        match self.transport.read_buf(&mut self.buf).await {
            Ok(0) => {
                self.eof = true;
                self.ended_by(ClosedBy::Peer, None);
            }
            Ok(n) => {
                self.bytes_in += n as u64;
                self.stalled = false;
                if let Err(err) = self.guard.count_in(n as u64) {
                    self.error = Some(self.failed(err));
                }
            }
            Err(err) => {
                let err = io_error(&format!("reading from {}", self.peer), &err);
                self.error = Some(self.failed(err));
            }
        }
    }

    /// Notes that `by` ended the connection (with `err`), unless something
    /// ended it already.
    fn ended_by(&mut self, by: ClosedBy, err: Option<&NetError>) {
        if self.ended.is_none() {
            self.ended = Some((by, err.cloned()));
        }
    }

    /// `err`, after noting that it ended the connection (an idle timeout
    /// only stalls it: the guest may try again).
    fn failed(&mut self, err: NetError) -> NetError {
        if matches!(err, NetError::Timeout(TimeoutKind::Idle)) {
            self.stalled = true;
        } else {
            self.ended_by(ClosedBy::after(&err), Some(&err));
        }
        err
    }

    /// Ready when a read would not wait: bytes buffered, end of stream, or an error.
    pub async fn readable(&mut self) {
        if self.buf.is_empty() {
            self.fill().await;
        }
    }

    async fn fill_within_idle(&mut self) -> Result<(), NetError> {
        match tokio::time::timeout(self.idle, self.fill()).await {
            Ok(()) => Ok(()),
            Err(_) => Err(self.failed(NetError::Timeout(TimeoutKind::Idle))),
        }
    }

    /// A quota error takes precedence over buffered bytes.
    fn quota_error(&self) -> Result<(), NetError> {
        match &self.error {
            Some(err @ NetError::LimitExceeded { .. }) => Err(err.clone()),
            _ => Ok(()),
        }
    }

    /// Up to `max` bytes (clamped to 1..=[`MAX_READ_CHUNK`]), waiting for at
    /// least one; empty at end of stream.
    pub async fn read(&mut self, max: u32) -> Result<Bytes, NetError> {
        let max = max.clamp(1, MAX_READ_CHUNK) as usize;
        self.permit.check()?;
        loop {
            self.quota_error()?;
            if !self.buf.is_empty() {
                let n = max.min(self.buf.len());
                return Ok(self.buf.split_to(n).freeze());
            }
            if let Some(err) = &self.error {
                return Err(err.clone());
            }
            if self.eof {
                return Ok(Bytes::new());
            }
            self.fill_within_idle().await?;
        }
    }

    /// Bytes through the first `delimiter` (included), at most `max` of them
    /// (clamped to [`MAX_READ_UNTIL_BYTES`]); see the WIT for end of stream.
    pub async fn read_until(&mut self, delimiter: &[u8], max: u32) -> Result<Bytes, NetError> {
        if delimiter.is_empty() {
            return Err(NetError::InvalidArgument(
                "read-until needs a non-empty delimiter".to_owned(),
            ));
        }
        self.permit.check()?;
        let max = max.clamp(1, MAX_READ_UNTIL_BYTES);
        let limit = max as usize;
        let mut scanned = 0;
        loop {
            self.quota_error()?;
            if let Some(at) = find(&self.buf[scanned..], delimiter) {
                let end = scanned + at + delimiter.len();
                if end > limit {
                    return Err(NetError::LimitExceeded {
                        name: READ_UNTIL_LIMIT,
                        value: u64::from(max),
                    });
                }
                return Ok(self.buf.split_to(end).freeze());
            }
            if self.buf.len() >= limit {
                return Err(NetError::LimitExceeded {
                    name: READ_UNTIL_LIMIT,
                    value: u64::from(max),
                });
            }
            scanned = self.buf.len().saturating_sub(delimiter.len() - 1);
            if let Some(err) = &self.error {
                return Err(err.clone());
            }
            if self.eof {
                return Ok(self.buf.split().freeze());
            }
            self.fill_within_idle().await?;
        }
    }

    /// Writes all of `data`; each chunk must make progress within the idle timeout.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), NetError> {
        if self.write_closed {
            return Err(NetError::Closed(
                "the stream's write half was shut down".to_owned(),
            ));
        }
        self.permit.check()?;
        if let Err(err) = self.guard.count_out(data.len() as u64) {
            return Err(self.failed(err));
        }
        let what = format!("writing to {}", self.peer);
        for chunk in data.chunks(WRITE_CHUNK) {
            match tokio::time::timeout(self.idle, self.transport.write_all(chunk)).await {
                Err(_) => return Err(self.failed(NetError::Timeout(TimeoutKind::Idle))),
                Ok(Err(err)) => return Err(self.failed(io_error(&what, &err))),
                Ok(Ok(())) => {
                    self.bytes_out += chunk.len() as u64;
                    self.stalled = false;
                }
            }
        }
        match tokio::time::timeout(self.idle, self.transport.flush()).await {
            Err(_) => Err(self.failed(NetError::Timeout(TimeoutKind::Idle))),
            Ok(Err(err)) => Err(self.failed(io_error(&what, &err))),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Closes the write half (TLS: after `close_notify`). Idempotent.
    pub async fn shutdown(&mut self) -> Result<(), NetError> {
        if self.write_closed {
            return Ok(());
        }
        self.write_closed = true;
        match tokio::time::timeout(self.idle, self.transport.shutdown()).await {
            Err(_) => Err(self.failed(NetError::Timeout(TimeoutKind::Idle))),
            Ok(Err(err)) if err.kind() == io::ErrorKind::NotConnected => Ok(()),
            Ok(Err(err)) => {
                let err = io_error(&format!("shutting down {}", self.peer), &err);
                Err(self.failed(err))
            }
            Ok(Ok(())) => Ok(()),
        }
    }
}

impl Connection {
    /// Who ended the connection, and the error if it failed: the first cause
    /// noted, else a policy reload that revoked it, else an idle timeout the
    /// guest gave up on, else the guest.
    fn ending(&self) -> (ClosedBy, Option<NetError>) {
        if let Some(ended) = &self.ended {
            return ended.clone();
        }
        if let Err(revoked) = self.permit.check() {
            return (ClosedBy::Host, Some(revoked));
        }
        if self.stalled {
            return (ClosedBy::Host, Some(NetError::Timeout(TimeoutKind::Idle)));
        }
        (ClosedBy::Guest, None)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let audit = self.guard.audit();
        if audit.enabled() {
            let mut ev = AuditEvent::new(
                &self.guard.policy().name,
                self.target.scheme.as_str(),
                "close",
                self.target.to_string(),
                Verdict::Allow,
            );
            ev.connected = Some(self.peer);
            ev.bytes_in = Some(self.bytes_in);
            ev.bytes_out = Some(self.bytes_out);
            let (by, err) = self.ending();
            ev.set_ended(by, err.as_ref());
            audit.emit(&ev.took(self.opened.elapsed()));
        }
    }
}

/// The first position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() == 1 {
        return haystack.iter().position(|b| *b == needle[0]);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A guest's listening socket; hands out connections from peers the policy accepts.
pub struct Acceptor {
    listener: TcpListener,
    target: Target,
    local: SocketAddr,
    idle: Duration,
    guard: Arc<Guard>,
    next: Option<Result<(tokio::net::TcpStream, SocketAddr), NetError>>,
    /// The slot, and the lease a policy reload revokes.
    permit: ConnectionPermit,
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptor")
            .field("target", &self.target.to_string())
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl Acceptor {
    /// Binds `tcp-listen://ADDR:PORT` after the guard's listen check; takes one
    /// `max_connections` slot. Accepted connections idle out after `idle`.
    pub async fn bind(guard: &Arc<Guard>, address: &str, idle: Duration) -> Result<Self, NetError> {
        let target = parse_target(address, &[Scheme::TcpListen], "tcp listener bind")?;
        let grant = guard.check_listen(&target)?;
        let (listener, local, permit) = guard.listen_tcp(&grant).await?;
        Ok(Acceptor {
            listener,
            target,
            local,
            idle,
            guard: Arc::clone(guard),
            next: None,
            permit,
        })
    }

    /// The bound address.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// Waits until a connection from an accepted peer (or an accept error) is
    /// ready; peers the policy refuses are closed and audited. Cancel-safe.
    pub async fn ready(&mut self) {
        while self.next.is_none() {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                err = self.permit.revoked() => {
                    self.next = Some(Err(err));
                    return;
                }
            };
            match accepted {
                Ok((stream, peer)) => {
                    if self.guard.check_peer(&self.target, peer).is_ok() {
                        self.next = Some(Ok((stream, peer)));
                    }
                    // else: dropped here, which closes it; check_peer audited it.
                }
                Err(err) => {
                    self.next = Some(Err(io_error(&format!("accepting on {}", self.local), &err)));
                }
            }
        }
    }

    /// The next connection from a peer the policy accepts.
    pub async fn accept(&mut self) -> Result<Connection, NetError> {
        self.permit.check()?;
        self.ready().await;
        let (stream, peer) = match self.next.take() {
            Some(next) => next?,
            None => return Err(NetError::Closed("listener has no connection".to_owned())),
        };
        let local = stream.local_addr().unwrap_or(self.local);
        // On refusal `stream` drops: closed.
        let guarded = self.guard.accepted(&self.target, stream, peer)?;
        let _ = guarded.stream.set_nodelay(true);
        let audit = self.guard.audit();
        if audit.enabled() {
            let mut ev = AuditEvent::new(
                &self.guard.policy().name,
                self.target.scheme.as_str(),
                "accept",
                self.target.to_string(),
                Verdict::Allow,
            );
            ev.connected = Some(peer);
            audit.emit(&ev);
        }
        Ok(Connection::new(
            Transport::Plain(guarded.stream),
            peer,
            local,
            self.idle,
            Arc::clone(&self.guard),
            self.target.clone(),
            guarded.permit,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn find_delimiters() {
        let cases: [(&[u8], &[u8], Option<usize>); 6] = [
            (b"abc\r\nrest", b"\r\n", Some(3)),
            (b"abc\n", b"\n", Some(3)),
            (b"abc", b"\n", None),
            (b"", b"\r\n", None),
            (b"\r", b"\r\n", None),
            (b"a--b--", b"--", Some(1)),
        ];
        for (hay, needle, want) in cases {
            assert_eq!(find(hay, needle), want, "{hay:?} {needle:?}");
        }
    }
}
