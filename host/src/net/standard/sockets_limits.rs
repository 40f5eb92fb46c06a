//! `wasi:sockets/tcp` and `wasi:sockets/udp` with the guest's limits: wasmtime-wasi's
//! implementation, which this module delegates every call to, plus the limits
//! sandnet's own `sandnet:net/tcp` and `sandnet:net/udp` apply.
//!
//! The address checks stay where they are (`socket_addr_check`, see
//! [`super::sockets`]); what this adds is, per guest:
//!
//! - `max_connections`: a TCP connection made by `start-connect` or taken by
//!   `accept`, a TCP listener (`start-listen`) and a bound UDP socket
//!   (`start-bind`) each hold one slot until the guest drops the socket resource,
//!   as the `sandnet:net` connection, listener and UDP socket do. With no slot
//!   free, `start-connect`, `start-listen` and UDP `start-bind` fail with
//!   `new-socket-limit` (the code for "a system limit on sockets", `EMFILE` to a
//!   libc guest), and `accept` closes the connection it took and fails with
//!   `new-socket-limit` (`would-block` would leave the listener ready forever).
//! - `bytes_out_total` / `bytes_in_total`: every byte written to or read from a
//!   TCP socket's streams, and every datagram sent or received, is counted.
//!   Past a quota a TCP stream fails with `last-operation-failed` (an error whose
//!   `network-error-code` is `access-denied`; wasi-libc reports `EIO`) and is
//!   closed from then on; the bytes that crossed the quota are not passed on,
//!   as in `sandnet:net/tcp`.
//!   A UDP `send` or `receive` past a quota fails with `access-denied`.
//! - `max_datagram_bytes`: a larger datagram is refused on send
//!   (`datagram-too-large`) and dropped on receive.
//! - `datagrams_per_second`: sends past the rate fail with `access-denied`; the
//!   bucket is the one `sandnet:net/udp` uses.
//!
//! - policy reload: a TCP connection made by `start-connect` or taken by
//!   `accept` is registered with the guard ([`Guard::register_socket`]); when a
//!   reload no longer grants its address (or peer), its streams fail like a
//!   quota refusal (`access-denied`) and are closed from then on, and a pending
//!   `subscribe` wakes to see it.
//!
//! - audit: a TCP connection's two streams share its `close` event (bytes each
//!   way, life, who ended it), written when the guest has dropped both; a
//!   bound UDP socket's `close` event (bytes and datagrams each way) is kept
//!   by socket, found from its datagram streams, and written when the guest
//!   drops the socket.
//!
//! Every refusal is logged with the limit's policy name and how to raise it;
//! the guest itself only ever sees the error code.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use sandnet_policy::{Limit, Scheme, Target};
use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::p2::bindings::sockets::network::{
    self, ErrorCode, IpAddressFamily, IpSocketAddress, Network,
};
use wasmtime_wasi::p2::bindings::sockets::tcp::{self, HostTcpSocket, ShutdownType};
use wasmtime_wasi::p2::bindings::sockets::udp::{
    self, HostIncomingDatagramStream, HostOutgoingDatagramStream, HostUdpSocket, IncomingDatagram,
    IncomingDatagramStream, OutgoingDatagram, OutgoingDatagramStream,
};
use wasmtime_wasi::p2::pipe::{ClosedInputStream, ClosedOutputStream};
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, DynPollable, InputStream, IoError, OutputStream, Pollable,
    SocketError, SocketResult, StreamError, StreamResult, TcpSocket, UdpSocket,
};
use wasmtime_wasi::sockets::WasiSocketsCtxView;

use crate::audit::{ClosedBy, Ongoing};
use crate::error::NetError;
use crate::guard::{ConnectionPermit, Grant, Guard, Lease};
use crate::net::NetHost;

/// Per-guest state: the `max_connections` slot each standard socket holds,
/// keyed by the socket resource's table index and released when the guest
/// drops that resource.
#[derive(Debug, Default)]
pub struct SocketSlots {
    permits: HashMap<u32, ConnectionPermit>,
    /// Each bound UDP socket's `close` audit event (only with the log on),
    /// by socket index; written when the guest drops the socket.
    udp_logs: HashMap<u32, Ongoing>,
    /// The socket each live datagram stream belongs to (only with the log on).
    udp_streams: HashMap<u32, u32>,
}

impl SocketSlots {
    /// The `close` event of the UDP socket the datagram stream `stream` belongs to.
    fn udp_log(&mut self, stream: u32) -> Option<&mut Ongoing> {
        let socket = self.udp_streams.get(&stream)?;
        self.udp_logs.get_mut(socket)
    }
}

/// The view the standard socket traits are implemented on: wasmtime-wasi's own
/// view plus the guest's guard and limit state.
pub struct LimitedSocketsView<'a> {
    /// wasmtime-wasi's sockets context and the store's resource table.
    pub sockets: WasiSocketsCtxView<'a>,
    /// The guest's guard (limits and counters).
    pub guard: &'a Arc<Guard>,
    /// The slots held by the guest's standard sockets.
    pub state: &'a mut SocketSlots,
}

/// Marker tying [`LimitedSocketsView`] to the linker (`HasData`).
pub struct LimitedSockets;

impl HasData for LimitedSockets {
    type Data<'a> = LimitedSocketsView<'a>;
}

/// Links `wasi:sockets/tcp` and `wasi:sockets/udp` with limits; call with
/// shadowing allowed, after `wasmtime_wasi::p2::add_to_linker_async`.
pub fn add_to_linker<T: NetHost>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    tcp::add_to_linker::<T, LimitedSockets>(linker, T::sockets_view)?;
    udp::add_to_linker::<T, LimitedSockets>(linker, T::sockets_view)?;
    Ok(())
}

/// Logs a refusal with the limit to raise; the guest sees only an error code.
fn log_refusal(guard: &Guard, what: &str, err: &NetError) {
    let guest = &guard.policy().name;
    match err {
        NetError::LimitExceeded { name, value } => tracing::warn!(
            %guest,
            "wasi:sockets {what} refused: limit exceeded: {name} ({value}); raise limits.{name} in the guest's policy to allow more"
        ),
        other => tracing::warn!(%guest, "wasi:sockets {what} refused: {other}"),
    }
}

/// The stream error a guest sees past a byte quota or after a reload revoked
/// the connection: `last-operation-failed` with an error whose
/// `network-error-code` is `access-denied`.
fn quota_error(err: NetError) -> StreamError {
    let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, err);
    StreamError::LastOperationFailed(wasmtime::Error::new(io))
}

impl LimitedSocketsView<'_> {
    /// Takes a slot for the socket `rep` unless it holds one already.
    fn take_permit(&mut self, rep: u32, what: &str) -> SocketResult<Option<ConnectionPermit>> {
        if self.state.permits.contains_key(&rep) {
            return Ok(None);
        }
        match self.guard.try_permit() {
            Ok(permit) => Ok(Some(permit)),
            Err(err) => {
                log_refusal(self.guard, what, &err);
                Err(ErrorCode::NewSocketLimit.into())
            }
        }
    }

    /// Keeps `permit` (if any) for `rep` when `result` is a success; otherwise
    /// it drops here and the slot frees.
    fn keep_permit<T>(
        &mut self,
        rep: u32,
        permit: Option<ConnectionPermit>,
        result: SocketResult<T>,
    ) -> SocketResult<T> {
        if let (Ok(_), Some(permit)) = (&result, permit) {
            self.state.permits.insert(rep, permit);
        }
        result
    }

    /// Replaces a TCP socket's fresh streams with ones that count their
    /// bytes and fail once a reload revokes `grant` (the connection is
    /// registered with the guard for as long as either stream lives).
    fn count_streams(
        &mut self,
        input: &Resource<DynInputStream>,
        output: &Resource<DynOutputStream>,
        grant: Option<Grant>,
    ) -> SocketResult<()> {
        let mut log = grant.as_ref().and_then(|g| CloseLog::open(self.guard, g));
        let lease = grant.map(|g| self.guard.register_socket(g));
        if let Some(log) = &mut log {
            log.lease.clone_from(&lease);
        }
        let log = log.map(Arc::new);
        let table = &mut *self.sockets.table;
        let slot = table.get_mut(input)?;
        let inner = std::mem::replace(slot, Box::new(ClosedInputStream));
        *slot = Box::new(CountedInput {
            inner,
            guard: Arc::clone(self.guard),
            failed: false,
            lease: lease.clone(),
            log: log.clone(),
        });
        let slot = table.get_mut(output)?;
        let inner = std::mem::replace(slot, Box::new(ClosedOutputStream));
        *slot = Box::new(CountedOutput {
            inner,
            guard: Arc::clone(self.guard),
            failed: false,
            lease,
            log,
        });
        Ok(())
    }

    /// The remote address of the connected socket `rep`, if it has one.
    fn remote(&mut self, rep: u32) -> Option<SocketAddr> {
        HostTcpSocket::remote_address(&mut self.sockets, Resource::new_borrow(rep))
            .ok()
            .map(SocketAddr::from)
    }
}

/// Fails a stream whose connection a reload revoked (see the module docs).
fn check_revoked(lease: Option<&Arc<Lease>>, failed: &mut bool) -> StreamResult<()> {
    match lease.map(|l| l.check()) {
        Some(Err(err)) => {
            *failed = true;
            Err(quota_error(err))
        }
        _ => Ok(()),
    }
}

/// Waits for `ready`, or for a reload to revoke `lease`.
async fn ready_or_revoked(ready: impl Future<Output = ()>, lease: Option<&Arc<Lease>>) {
    match lease {
        Some(lease) => {
            tokio::select! {
                () = ready => {}
                _ = lease.revoked() => {}
            }
        }
        None => ready.await,
    }
}

/// The `close` audit event of a standard TCP connection, shared by its two
/// streams and written when the last of them drops (the guest let go of the
/// connection): bytes each way, its life, who ended it.
struct CloseLog {
    log: Mutex<Ongoing>,
    /// The connection's registration: revoked means the host ended it.
    lease: Option<Arc<Lease>>,
}

impl CloseLog {
    /// The event for the connection `grant` describes (target and peer as
    /// its `wasi-socket` event has them), counters at 0; `None` when the log
    /// is off.
    fn open(guard: &Guard, grant: &Grant) -> Option<CloseLog> {
        let target = grant.target();
        let log = guard.ongoing(
            target.scheme.as_str(),
            "close",
            || target.to_string(),
            Instant::now(),
        )?;
        let mut log = log.counting(false);
        log.event().connected = grant.peer();
        Some(CloseLog {
            log: Mutex::new(log),
            lease: None,
        })
    }

    fn with(&self, update: impl FnOnce(&mut Ongoing)) {
        update(&mut self.log.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Notes that `by` ended the connection (with `err`) unless something did before.
    fn ended(&self, by: ClosedBy, err: Option<&NetError>) {
        self.with(|log| {
            if log.event().closed_by.is_none() {
                log.event().set_ended(by, err);
            }
        });
    }

    /// Notes the peer ended the connection when a read or write of the
    /// socket's own stream failed (end of stream, reset), and passes `result` on.
    fn peer_result<T>(log: Option<&Arc<CloseLog>>, result: StreamResult<T>) -> StreamResult<T> {
        if let (Some(log), Err(StreamError::Closed | StreamError::LastOperationFailed(_))) =
            (log, &result)
        {
            log.ended(ClosedBy::Peer, None);
        }
        result
    }
}

impl Drop for CloseLog {
    /// Who ended it, if nothing was noted: a reload's revocation, else the guest.
    fn drop(&mut self) {
        let revoked = self.lease.as_ref().and_then(|l| l.check().err());
        match revoked {
            Some(err) => self.ended(ClosedBy::Host, Some(&err)),
            None => self.ended(ClosedBy::Guest, None),
        }
    }
}

/// A TCP input stream counting what it reads against `bytes_in_total`.
struct CountedInput {
    inner: DynInputStream,
    guard: Arc<Guard>,
    /// Set once the quota refused a read; the stream is closed from then on.
    failed: bool,
    /// The connection's registration (revoked by a policy reload).
    lease: Option<Arc<Lease>>,
    /// The connection's `close` event, when the log is on.
    log: Option<Arc<CloseLog>>,
}

#[wasmtime_wasi::async_trait]
impl InputStream for CountedInput {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if self.failed {
            return Err(StreamError::Closed);
        }
        check_revoked(self.lease.as_ref(), &mut self.failed)?;
        let bytes = CloseLog::peer_result(self.log.as_ref(), self.inner.read(size))?;
        if bytes.is_empty() {
            return Ok(bytes);
        }
        let len = bytes.len() as u64;
        if let Err(err) = self.guard.count_in(len) {
            self.failed = true;
            log_refusal(&self.guard, "read", &err);
            if let Some(log) = &self.log {
                log.ended(ClosedBy::Host, Some(&err));
            }
            return Err(quota_error(err));
        }
        if let Some(log) = &self.log {
            log.with(|log| log.add_in(len, 0));
        }
        Ok(bytes)
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await;
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CountedInput {
    async fn ready(&mut self) {
        if !self.failed {
            ready_or_revoked(self.inner.ready(), self.lease.as_ref()).await;
        }
    }
}

/// A TCP output stream counting what it writes against `bytes_out_total`
/// before passing it on.
struct CountedOutput {
    inner: DynOutputStream,
    guard: Arc<Guard>,
    /// Set once the quota refused a write; the stream is closed from then on.
    failed: bool,
    /// The connection's registration (revoked by a policy reload).
    lease: Option<Arc<Lease>>,
    /// The connection's `close` event, when the log is on.
    log: Option<Arc<CloseLog>>,
}

#[wasmtime_wasi::async_trait]
impl OutputStream for CountedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        if self.failed {
            return Err(StreamError::Closed);
        }
        check_revoked(self.lease.as_ref(), &mut self.failed)?;
        let len = bytes.len() as u64;
        if let Err(err) = self.guard.count_out(len) {
            self.failed = true;
            log_refusal(&self.guard, "write", &err);
            if let Some(log) = &self.log {
                log.ended(ClosedBy::Host, Some(&err));
            }
            return Err(quota_error(err));
        }
        CloseLog::peer_result(self.log.as_ref(), self.inner.write(bytes))?;
        if let Some(log) = &self.log {
            log.with(|log| log.add_out(len, 0));
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        if self.failed {
            return Err(StreamError::Closed);
        }
        check_revoked(self.lease.as_ref(), &mut self.failed)?;
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        if self.failed {
            return Err(StreamError::Closed);
        }
        check_revoked(self.lease.as_ref(), &mut self.failed)?;
        self.inner.check_write()
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await;
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CountedOutput {
    async fn ready(&mut self) {
        if !self.failed {
            ready_or_revoked(self.inner.ready(), self.lease.as_ref()).await;
        }
    }
}

/// Needed by the tcp and udp bindings to turn errors into codes; the
/// interface itself stays linked to wasmtime-wasi.
impl network::Host for LimitedSocketsView<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        network::Host::convert_error_code(&mut self.sockets, error)
    }

    fn network_error_code(
        &mut self,
        err: Resource<IoError>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        network::Host::network_error_code(&mut self.sockets, err)
    }
}

impl network::HostNetwork for LimitedSocketsView<'_> {
    fn drop(&mut self, this: Resource<Network>) -> wasmtime::Result<()> {
        network::HostNetwork::drop(&mut self.sockets, this)
    }
}

impl tcp::Host for LimitedSocketsView<'_> {}

impl HostTcpSocket for LimitedSocketsView<'_> {
    async fn start_bind(
        &mut self,
        this: Resource<TcpSocket>,
        network: Resource<Network>,
        local_address: IpSocketAddress,
    ) -> SocketResult<()> {
        HostTcpSocket::start_bind(&mut self.sockets, this, network, local_address).await
    }

    fn finish_bind(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        HostTcpSocket::finish_bind(&mut self.sockets, this)
    }

    fn start_connect(
        &mut self,
        this: Resource<TcpSocket>,
        network: Resource<Network>,
        remote_address: IpSocketAddress,
    ) -> SocketResult<()> {
        let rep = this.rep();
        let permit = self.take_permit(rep, "connect")?;
        let result = HostTcpSocket::start_connect(&mut self.sockets, this, network, remote_address);
        self.keep_permit(rep, permit, result)
    }

    fn finish_connect(
        &mut self,
        this: Resource<TcpSocket>,
    ) -> SocketResult<(Resource<DynInputStream>, Resource<DynOutputStream>)> {
        let rep = this.rep();
        match HostTcpSocket::finish_connect(&mut self.sockets, this) {
            Ok((input, output)) => {
                let grant = self.remote(rep).map(Grant::socket);
                self.count_streams(&input, &output, grant)?;
                Ok((input, output))
            }
            Err(err) => {
                let pending = matches!(
                    err.downcast_ref(),
                    Some(ErrorCode::WouldBlock | ErrorCode::NotInProgress)
                );
                if !pending {
                    // The connect failed: the socket can never connect again.
                    self.state.permits.remove(&rep);
                }
                Err(err)
            }
        }
    }

    async fn start_listen(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        let rep = this.rep();
        let permit = self.take_permit(rep, "listen")?;
        let result = HostTcpSocket::start_listen(&mut self.sockets, this).await;
        self.keep_permit(rep, permit, result)
    }

    fn finish_listen(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        HostTcpSocket::finish_listen(&mut self.sockets, this)
    }

    fn accept(
        &mut self,
        this: Resource<TcpSocket>,
    ) -> SocketResult<(
        Resource<TcpSocket>,
        Resource<DynInputStream>,
        Resource<DynOutputStream>,
    )> {
        let (socket, input, output) = HostTcpSocket::accept(&mut self.sockets, this)?;
        match self.guard.try_permit() {
            Ok(permit) => {
                self.state.permits.insert(socket.rep(), permit);
                let grant = self.remote(socket.rep()).map(Grant::socket_accepted);
                self.count_streams(&input, &output, grant)?;
                Ok((socket, input, output))
            }
            Err(err) => {
                log_refusal(self.guard, "accept", &err);
                // Close the connection: the streams first (children of the socket).
                let table = &mut *self.sockets.table;
                drop(table.delete(input)?);
                drop(table.delete(output)?);
                drop(table.delete(socket)?);
                Err(ErrorCode::NewSocketLimit.into())
            }
        }
    }

    fn local_address(&mut self, this: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
        HostTcpSocket::local_address(&mut self.sockets, this)
    }

    fn remote_address(&mut self, this: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
        HostTcpSocket::remote_address(&mut self.sockets, this)
    }

    fn is_listening(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<bool> {
        HostTcpSocket::is_listening(&mut self.sockets, this)
    }

    fn address_family(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<IpAddressFamily> {
        HostTcpSocket::address_family(&mut self.sockets, this)
    }

    fn set_listen_backlog_size(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        HostTcpSocket::set_listen_backlog_size(&mut self.sockets, this, value)
    }

    fn keep_alive_enabled(&mut self, this: Resource<TcpSocket>) -> SocketResult<bool> {
        HostTcpSocket::keep_alive_enabled(&mut self.sockets, this)
    }

    fn set_keep_alive_enabled(
        &mut self,
        this: Resource<TcpSocket>,
        value: bool,
    ) -> SocketResult<()> {
        HostTcpSocket::set_keep_alive_enabled(&mut self.sockets, this, value)
    }

    fn keep_alive_idle_time(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        HostTcpSocket::keep_alive_idle_time(&mut self.sockets, this)
    }

    fn set_keep_alive_idle_time(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        HostTcpSocket::set_keep_alive_idle_time(&mut self.sockets, this, value)
    }

    fn keep_alive_interval(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        HostTcpSocket::keep_alive_interval(&mut self.sockets, this)
    }

    fn set_keep_alive_interval(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        HostTcpSocket::set_keep_alive_interval(&mut self.sockets, this, value)
    }

    fn keep_alive_count(&mut self, this: Resource<TcpSocket>) -> SocketResult<u32> {
        HostTcpSocket::keep_alive_count(&mut self.sockets, this)
    }

    fn set_keep_alive_count(&mut self, this: Resource<TcpSocket>, value: u32) -> SocketResult<()> {
        HostTcpSocket::set_keep_alive_count(&mut self.sockets, this, value)
    }

    fn hop_limit(&mut self, this: Resource<TcpSocket>) -> SocketResult<u8> {
        HostTcpSocket::hop_limit(&mut self.sockets, this)
    }

    fn set_hop_limit(&mut self, this: Resource<TcpSocket>, value: u8) -> SocketResult<()> {
        HostTcpSocket::set_hop_limit(&mut self.sockets, this, value)
    }

    fn receive_buffer_size(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        HostTcpSocket::receive_buffer_size(&mut self.sockets, this)
    }

    fn set_receive_buffer_size(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        HostTcpSocket::set_receive_buffer_size(&mut self.sockets, this, value)
    }

    fn send_buffer_size(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        HostTcpSocket::send_buffer_size(&mut self.sockets, this)
    }

    fn set_send_buffer_size(&mut self, this: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        HostTcpSocket::set_send_buffer_size(&mut self.sockets, this, value)
    }

    fn subscribe(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<Resource<DynPollable>> {
        HostTcpSocket::subscribe(&mut self.sockets, this)
    }

    fn shutdown(
        &mut self,
        this: Resource<TcpSocket>,
        shutdown_type: ShutdownType,
    ) -> SocketResult<()> {
        HostTcpSocket::shutdown(&mut self.sockets, this, shutdown_type)
    }

    fn drop(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<()> {
        let rep = this.rep();
        HostTcpSocket::drop(&mut self.sockets, this)?;
        self.state.permits.remove(&rep);
        Ok(())
    }
}

impl udp::Host for LimitedSocketsView<'_> {}

impl HostUdpSocket for LimitedSocketsView<'_> {
    async fn start_bind(
        &mut self,
        this: Resource<UdpSocket>,
        network: Resource<Network>,
        local_address: IpSocketAddress,
    ) -> SocketResult<()> {
        let rep = this.rep();
        let bound = SocketAddr::from(local_address);
        let permit = self.take_permit(rep, "UDP bind")?;
        let result =
            HostUdpSocket::start_bind(&mut self.sockets, this, network, local_address).await;
        let result = self.keep_permit(rep, permit, result);
        if result.is_ok() {
            // As sandnet:net/udp names it: `udp-bind` under a grant for a
            // port, `udp` when ephemeral; the target gets the bound port at
            // `finish-bind`.
            let scheme = if bound.port() == 0 {
                Scheme::Udp
            } else {
                Scheme::UdpBind
            };
            let log = self.guard.ongoing(
                scheme.as_str(),
                "close",
                || Target::socket(Scheme::UdpBind, bound).to_string(),
                Instant::now(),
            );
            if let Some(log) = log {
                self.state.udp_logs.insert(rep, log.counting(true));
            }
        }
        result
    }

    fn finish_bind(&mut self, this: Resource<UdpSocket>) -> SocketResult<()> {
        let rep = this.rep();
        HostUdpSocket::finish_bind(&mut self.sockets, this)?;
        if self.state.udp_logs.contains_key(&rep)
            && let Ok(local) =
                HostUdpSocket::local_address(&mut self.sockets, Resource::new_borrow(rep))
            && let Some(log) = self.state.udp_logs.get_mut(&rep)
        {
            let local = SocketAddr::from(local);
            log.event().target = Target::socket(Scheme::UdpBind, local).to_string();
        }
        Ok(())
    }

    async fn stream(
        &mut self,
        this: Resource<UdpSocket>,
        remote_address: Option<IpSocketAddress>,
    ) -> SocketResult<(
        Resource<IncomingDatagramStream>,
        Resource<OutgoingDatagramStream>,
    )> {
        let rep = this.rep();
        let streams = HostUdpSocket::stream(&mut self.sockets, this, remote_address).await?;
        if self.state.udp_logs.contains_key(&rep) {
            self.state.udp_streams.insert(streams.0.rep(), rep);
            self.state.udp_streams.insert(streams.1.rep(), rep);
        }
        Ok(streams)
    }

    fn local_address(&mut self, this: Resource<UdpSocket>) -> SocketResult<IpSocketAddress> {
        HostUdpSocket::local_address(&mut self.sockets, this)
    }

    fn remote_address(&mut self, this: Resource<UdpSocket>) -> SocketResult<IpSocketAddress> {
        HostUdpSocket::remote_address(&mut self.sockets, this)
    }

    fn address_family(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<IpAddressFamily> {
        HostUdpSocket::address_family(&mut self.sockets, this)
    }

    fn unicast_hop_limit(&mut self, this: Resource<UdpSocket>) -> SocketResult<u8> {
        HostUdpSocket::unicast_hop_limit(&mut self.sockets, this)
    }

    fn set_unicast_hop_limit(&mut self, this: Resource<UdpSocket>, value: u8) -> SocketResult<()> {
        HostUdpSocket::set_unicast_hop_limit(&mut self.sockets, this, value)
    }

    fn receive_buffer_size(&mut self, this: Resource<UdpSocket>) -> SocketResult<u64> {
        HostUdpSocket::receive_buffer_size(&mut self.sockets, this)
    }

    fn set_receive_buffer_size(
        &mut self,
        this: Resource<UdpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        HostUdpSocket::set_receive_buffer_size(&mut self.sockets, this, value)
    }

    fn send_buffer_size(&mut self, this: Resource<UdpSocket>) -> SocketResult<u64> {
        HostUdpSocket::send_buffer_size(&mut self.sockets, this)
    }

    fn set_send_buffer_size(&mut self, this: Resource<UdpSocket>, value: u64) -> SocketResult<()> {
        HostUdpSocket::set_send_buffer_size(&mut self.sockets, this, value)
    }

    fn subscribe(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<Resource<DynPollable>> {
        HostUdpSocket::subscribe(&mut self.sockets, this)
    }

    fn drop(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<()> {
        let rep = this.rep();
        HostUdpSocket::drop(&mut self.sockets, this)?;
        self.state.permits.remove(&rep);
        self.state.udp_logs.remove(&rep); // writes its `close` event
        Ok(())
    }
}

impl HostIncomingDatagramStream for LimitedSocketsView<'_> {
    /// wasmtime-wasi's receive, then: datagrams over `max_datagram_bytes` are
    /// dropped, the rest counted against `bytes_in_total`. Past the quota the
    /// datagrams before it are returned, or `access-denied` if there are none.
    fn receive(
        &mut self,
        this: Resource<IncomingDatagramStream>,
        max_results: u64,
    ) -> SocketResult<Vec<IncomingDatagram>> {
        let stream = this.rep();
        let received = HostIncomingDatagramStream::receive(&mut self.sockets, this, max_results)?;
        let max = self.guard.policy().limits.max_datagram_bytes;
        let mut kept = Vec::with_capacity(received.len());
        for datagram in received {
            let len = datagram.data.len() as u64;
            if len > max {
                let sender = std::net::SocketAddr::from(datagram.remote_address);
                tracing::info!(
                    guest = %self.guard.policy().name,
                    %sender,
                    "wasi:sockets datagram of {len} bytes dropped: larger than limits.max_datagram_bytes ({max})"
                );
                continue;
            }
            if let Err(err) = self.guard.count_in(len) {
                log_refusal(self.guard, "receive", &err);
                if kept.is_empty() {
                    return Err(ErrorCode::AccessDenied.into());
                }
                break;
            }
            kept.push(datagram);
        }
        if let Some(log) = self.state.udp_log(stream) {
            let bytes = kept.iter().map(|d| d.data.len() as u64).sum();
            log.add_in(bytes, kept.len() as u64);
        }
        Ok(kept)
    }

    fn subscribe(
        &mut self,
        this: Resource<IncomingDatagramStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        HostIncomingDatagramStream::subscribe(&mut self.sockets, this)
    }

    fn drop(&mut self, this: Resource<IncomingDatagramStream>) -> wasmtime::Result<()> {
        self.state.udp_streams.remove(&this.rep());
        HostIncomingDatagramStream::drop(&mut self.sockets, this)
    }
}

impl HostOutgoingDatagramStream for LimitedSocketsView<'_> {
    fn check_send(&mut self, this: Resource<OutgoingDatagramStream>) -> SocketResult<u64> {
        HostOutgoingDatagramStream::check_send(&mut self.sockets, this)
    }

    /// Sends the first datagram only (the call may send fewer than it was
    /// given; wasmtime-wasi's send starts one datagram at a time anyway), after
    /// the size cap, the rate and the byte quota, so a refused datagram is never
    /// sent and a sent one was counted exactly once.
    fn send(
        &mut self,
        this: Resource<OutgoingDatagramStream>,
        datagrams: Vec<OutgoingDatagram>,
    ) -> SocketResult<u64> {
        let Some(datagram) = datagrams.into_iter().next() else {
            return HostOutgoingDatagramStream::send(&mut self.sockets, this, Vec::new());
        };
        let limits = &self.guard.policy().limits;
        let len = datagram.data.len() as u64;
        if len > limits.max_datagram_bytes {
            let err = NetError::limit(Limit::MaxDatagramBytes, limits.max_datagram_bytes);
            log_refusal(self.guard, &format!("send of a {len}-byte datagram"), &err);
            return Err(ErrorCode::DatagramTooLarge.into());
        }
        if let Err(err) = self.guard.take_datagram() {
            log_refusal(self.guard, "send", &err);
            return Err(ErrorCode::AccessDenied.into());
        }
        if let Err(err) = self.guard.count_out(len) {
            log_refusal(self.guard, "send", &err);
            return Err(ErrorCode::AccessDenied.into());
        }
        let stream = this.rep();
        let sent = HostOutgoingDatagramStream::send(&mut self.sockets, this, vec![datagram])?;
        if sent > 0
            && let Some(log) = self.state.udp_log(stream)
        {
            log.add_out(len, 1);
        }
        Ok(sent)
    }

    fn subscribe(
        &mut self,
        this: Resource<OutgoingDatagramStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        HostOutgoingDatagramStream::subscribe(&mut self.sockets, this)
    }

    async fn drop(&mut self, this: Resource<OutgoingDatagramStream>) -> wasmtime::Result<()> {
        self.state.udp_streams.remove(&this.rep());
        HostOutgoingDatagramStream::drop(&mut self.sockets, this).await
    }
}
