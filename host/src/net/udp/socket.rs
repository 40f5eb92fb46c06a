//! Protocol core of `sandnet:net/udp`: a guest's UDP socket with checked
//! destinations, policy-filtered senders, size cap, multicast and broadcast
//! grants, and the per-guest datagram rate. Knows nothing of the WIT bindings.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sandnet_policy::{Denial, Host, Limit, Scheme, Target, canonical_ip};
use socket2::{Domain, Protocol, SockRef, Type};
use tokio::net::UdpSocket;

use crate::audit::{AuditEvent, Ongoing, Verdict};
use crate::error::{NetError, TimeoutKind};
use crate::guard::{ConnectionPermit, Guard};

/// Largest UDP payload the host can receive at all (IPv4 limit 65507, IPv6 jumbo aside).
const MAX_UDP_PAYLOAD: usize = 65_535;
/// Destinations a socket remembers having sent to (oldest forgotten first):
/// their replies are accepted even when the guest named them by host name.
pub const MAX_REMEMBERED_DESTINATIONS: usize = 256;

/// A received datagram from an accepted sender.
#[derive(Debug)]
pub struct Datagram {
    /// Payload.
    pub data: Vec<u8>,
    /// Sender.
    pub sender: SocketAddr,
}

/// One UDP socket of a guest. Holds a `max_connections` slot; dropping it
/// closes the socket and audits how many datagrams were dropped.
pub struct Socket {
    socket: UdpSocket,
    local: SocketAddr,
    bind: Option<Target>,
    guard: Arc<Guard>,
    buf: Vec<u8>,
    max_datagram: usize,
    next: Option<Result<Datagram, NetError>>,
    dropped: u64,
    sent_to: VecDeque<SocketAddr>,
    /// The slot, and for a `udp-bind` socket the lease a policy reload revokes.
    permit: ConnectionPermit,
    /// The socket's `close` audit event (`None` when the log is off).
    log: Option<Ongoing>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("local", &self.local)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

fn os_error(what: String, err: &std::io::Error) -> NetError {
    NetError::Connect(format!("{what}: {err}"))
}

fn parse_ip(text: &str, what: &str) -> Result<IpAddr, NetError> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse::<IpAddr>()
        .map(canonical_ip)
        .map_err(|_| NetError::InvalidArgument(format!("{what} {text:?} is not an IP address")))
}

impl Socket {
    /// Binds `udp-bind://ADDR:PORT` (after the guard's listen check; the
    /// address may be shared with sockets bound the same way), or an
    /// ephemeral port on 0.0.0.0 when `address` is `None` (no grant needed).
    pub fn bind(guard: &Arc<Guard>, address: Option<&str>) -> Result<Self, NetError> {
        let (addr, bind, permit) = match address {
            None => (
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
                None,
                guard.try_permit()?,
            ),
            Some(text) => {
                let target =
                    Target::parse(text).map_err(|e| NetError::InvalidArgument(e.to_string()))?;
                if target.scheme != Scheme::UdpBind {
                    return Err(NetError::InvalidArgument(format!(
                        "udp bind takes a udp-bind://ADDR:PORT target (or none for an ephemeral port), not {text:?}"
                    )));
                }
                let grant = guard.check_listen(&target)?;
                (grant.addr(), Some(target), guard.bind_permit(&grant)?)
            }
        };
        let what = || format!("cannot bind UDP {addr}");
        let socket =
            socket2::Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
                .map_err(|e| os_error(what(), &e))?;
        if bind.is_some() {
            socket
                .set_reuse_address(true)
                .map_err(|e| os_error(what(), &e))?;
        }
        socket
            .set_nonblocking(true)
            .map_err(|e| os_error(what(), &e))?;
        socket
            .bind(&addr.into())
            .map_err(|e| os_error(what(), &e))?;
        let socket = UdpSocket::from_std(socket.into()).map_err(|e| os_error(what(), &e))?;
        let local = socket.local_addr().map_err(|e| os_error(what(), &e))?;
        let max_datagram =
            usize::try_from(guard.policy().limits.max_datagram_bytes).unwrap_or(MAX_UDP_PAYLOAD);
        let log = guard
            .ongoing(
                audit_protocol(bind.as_ref()),
                "close",
                || audit_target(bind.as_ref(), local),
                Instant::now(),
            )
            .map(|log| log.counting(true));
        Ok(Socket {
            socket,
            local,
            bind,
            guard: Arc::clone(guard),
            buf: vec![0; max_datagram.min(MAX_UDP_PAYLOAD) + 1],
            max_datagram,
            next: None,
            dropped: 0,
            sent_to: VecDeque::new(),
            permit,
            log,
        })
    }

    /// The bound address.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// Sends `data` to `target` (`udp://host:port`): size cap, request check,
    /// every resolved address vetted, the guest's datagram rate, byte quota.
    pub async fn send_to(&mut self, target: &str, data: &[u8]) -> Result<(), NetError> {
        let parsed = Target::parse(target).map_err(|e| NetError::InvalidArgument(e.to_string()))?;
        if parsed.scheme != Scheme::Udp {
            return Err(NetError::InvalidArgument(format!(
                "send-to takes a udp://host:port target, not {target:?}"
            )));
        }
        self.permit.check()?;
        let limits = &self.guard.policy().limits;
        if data.len() as u64 > limits.max_datagram_bytes {
            return Err(NetError::limit(
                Limit::MaxDatagramBytes,
                limits.max_datagram_bytes,
            ));
        }
        let granted = self.guard.check_request(&parsed)?;
        let vetted = self.guard.resolve_vetted(&granted).await?;
        let family = |a: &&SocketAddr| a.is_ipv4() == self.local.is_ipv4();
        let Some(addr) = vetted.iter().find(family).or(vetted.first()).copied() else {
            return Err(NetError::Connect(format!(
                "{parsed}: no address to send to"
            )));
        };
        self.guard.take_datagram()?;
        self.guard.count_out(data.len() as u64)?;
        self.socket
            .send_to(data, addr)
            .await
            .map_err(|e| os_error(format!("sending to {addr}"), &e))?;
        if let Some(log) = &mut self.log {
            log.add_out(data.len() as u64, 1);
        }
        if !self.sent_to.contains(&addr) {
            if self.sent_to.len() == MAX_REMEMBERED_DESTINATIONS {
                self.sent_to.pop_front();
            }
            self.sent_to.push_back(addr);
        }
        Ok(())
    }

    /// Waits until a datagram from an accepted sender (or an error) is ready;
    /// datagrams from other senders are dropped and counted. Cancel-safe.
    pub async fn ready(&mut self) {
        while self.next.is_none() {
            let received = tokio::select! {
                received = self.socket.recv_from(&mut self.buf) => received,
                err = self.permit.revoked() => {
                    self.next = Some(Err(err));
                    return;
                }
            };
            let (n, sender) = match received {
                Ok(got) => got,
                Err(err) => {
                    self.next = Some(Err(os_error(format!("receiving on {}", self.local), &err)));
                    return;
                }
            };
            let replied_to = self.sent_to.contains(&sender);
            let allowed =
                self.guard
                    .policy()
                    .check_udp_sender(self.bind.as_ref(), replied_to, sender);
            if let Err(denial) = allowed {
                self.drop_datagram(sender, &denial);
                continue;
            }
            if n > self.max_datagram {
                let limit = self.guard.policy().limits.max_datagram_bytes;
                self.next = Some(Err(NetError::limit(Limit::MaxDatagramBytes, limit)));
                return;
            }
            if let Some(log) = &mut self.log {
                log.add_in(n as u64, 1);
            }
            self.next = Some(match self.guard.count_in(n as u64) {
                Ok(()) => Ok(Datagram {
                    data: self.buf[..n].to_vec(),
                    sender,
                }),
                Err(err) => Err(err),
            });
        }
    }

    fn drop_datagram(&mut self, sender: SocketAddr, denial: &Denial) {
        self.dropped += 1;
        tracing::info!(guest = %self.guard.policy().name, local = %self.local, %sender, reason = %denial.reason, "datagram dropped");
        // The first drop is audited with its reason; the total when the socket closes.
        if self.dropped == 1 {
            self.audit_drops(Some(sender), Some(denial.reason.clone()));
        }
    }

    fn audit_drops(&self, sender: Option<SocketAddr>, reason: Option<String>) {
        let audit = self.guard.audit();
        if !audit.enabled() {
            return;
        }
        let mut ev = AuditEvent::new(
            &self.guard.policy().name,
            audit_protocol(self.bind.as_ref()),
            "drop",
            audit_target(self.bind.as_ref(), self.local),
            Verdict::Deny,
        );
        ev.connected = sender;
        ev.reason = reason;
        ev.dropped = Some(self.dropped);
        audit.emit(&ev);
    }

    /// The next datagram from an accepted sender, waiting at most `timeout`.
    pub async fn receive(&mut self, timeout: Duration) -> Result<Datagram, NetError> {
        if tokio::time::timeout(timeout, self.ready()).await.is_err() {
            return Err(NetError::Timeout(TimeoutKind::Idle));
        }
        match self.next.take() {
            Some(next) => next,
            None => Err(NetError::Closed("no datagram ready".to_owned())),
        }
    }

    /// Joins (`join = true`, needs `udp-multicast://GROUP`) or leaves a group.
    pub fn multicast(
        &mut self,
        group: &str,
        interface: Option<&str>,
        join: bool,
    ) -> Result<(), NetError> {
        let ip = parse_ip(group, "multicast group")?;
        if !ip.is_multicast() {
            return Err(NetError::InvalidArgument(format!(
                "{group:?} is not a multicast group address (224.0.0.0/4 or ff00::/8)"
            )));
        }
        if join {
            let target = Target {
                scheme: Scheme::UdpMulticast,
                host: Host::Ip(ip),
                port: self.local.port(),
                path: String::new(),
                method: None,
            };
            self.guard.check_request(&target)?;
        }
        let verb = if join { "join" } else { "leave" };
        let what = || format!("cannot {verb} multicast group {ip} on {}", self.local);
        match (ip, interface) {
            (IpAddr::V4(group), interface) => {
                let iface = match interface {
                    Some(text) => match parse_ip(text, "interface address")? {
                        IpAddr::V4(v4) => v4,
                        IpAddr::V6(_) => {
                            return Err(NetError::InvalidArgument(format!(
                                "interface {text:?} of an IPv4 group must be an IPv4 address"
                            )));
                        }
                    },
                    None => Ipv4Addr::UNSPECIFIED,
                };
                if join {
                    self.socket
                        .join_multicast_v4(group, iface)
                        .map_err(|e| os_error(what(), &e))?;
                    if interface.is_some() {
                        SockRef::from(&self.socket)
                            .set_multicast_if_v4(&iface)
                            .map_err(|e| os_error(what(), &e))?;
                    }
                } else {
                    self.socket
                        .leave_multicast_v4(group, iface)
                        .map_err(|e| os_error(what(), &e))?;
                }
            }
            (IpAddr::V6(group), None) => {
                let result = if join {
                    self.socket.join_multicast_v6(&group, 0)
                } else {
                    self.socket.leave_multicast_v6(&group, 0)
                };
                result.map_err(|e| os_error(what(), &e))?;
            }
            (IpAddr::V6(_), Some(_)) => {
                return Err(NetError::InvalidArgument(
                    "IPv6 multicast groups take no interface address".to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Sets `SO_BROADCAST`; enabling needs a broadcast grant
    /// ([`GuestPolicy::grants_broadcast`](sandnet_policy::GuestPolicy::grants_broadcast)).
    pub fn set_broadcast(&mut self, enabled: bool) -> Result<(), NetError> {
        let policy = self.guard.policy();
        if enabled && !policy.grants_broadcast() {
            let denial = Denial {
                reason: format!(
                    "guest \"{}\" in {} has no broadcast grant: enabling broadcast needs a udp rule naming the limited broadcast address or a subnet broadcast address (one IPv4 address ending in .255)",
                    policy.name, policy.source
                ),
                suggestion: Some(format!("\"udp://255.255.255.255:{}\"", self.local.port())),
                rule: None,
            };
            return Err(NetError::Denied(denial));
        }
        self.socket
            .set_broadcast(enabled)
            .map_err(|e| os_error(format!("cannot set broadcast on {}", self.local), &e))
    }
}

/// The protocol a socket's audit events name: its `udp-bind` grant's, or `udp`.
fn audit_protocol(bind: Option<&Target>) -> &'static str {
    bind.map_or(Scheme::Udp, |t| t.scheme).as_str()
}

/// The target a socket's audit events name: its `udp-bind` grant, or the
/// ephemeral address it was bound to.
fn audit_target(bind: Option<&Target>, local: SocketAddr) -> String {
    bind.map_or_else(|| format!("udp-bind://{local}"), Target::to_string)
}

impl Drop for Socket {
    fn drop(&mut self) {
        if let Some(log) = &mut self.log {
            log.event().dropped = Some(self.dropped);
        }
        if self.dropped > 0 {
            tracing::info!(guest = %self.guard.policy().name, local = %self.local, dropped = self.dropped, "UDP socket closed");
            self.audit_drops(
                None,
                Some(format!(
                    "{} datagram(s) from senders the policy does not grant were dropped",
                    self.dropped
                )),
            );
        }
    }
}
