//! Live-connection registrations: what each long-lived connection was granted,
//! so a policy reload can re-check it and revoke it.
//!
//! A [`Lease`] is made by the guard together with the connection (connect,
//! listen, accept, UDP bind) and held by the connection's slot and socket; the
//! last holder dropping it takes it out of the guard's [`Leases`], so nothing
//! leaks. Revoking a lease wakes every pending read, write or accept on it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::Context;

use futures::task::AtomicWaker;
use sandnet_policy::{Host, Scheme, Target};
use tokio::sync::Notify;

use crate::error::NetError;

/// What a live connection was granted: the question a reload asks again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// An outgoing connection to `target`, connected to the vetted `peer`.
    Connect {
        /// The checked target.
        target: Target,
        /// The vetted address it is connected to.
        peer: SocketAddr,
    },
    /// A listening or bound socket under a `tcp-listen`, `ws-listen` or
    /// `udp-bind` grant.
    Listen {
        /// The listening rule's target.
        target: Target,
    },
    /// A connection accepted from `peer` on a socket granted by `listen`.
    Accepted {
        /// The listening rule's target.
        listen: Target,
        /// The accepted peer.
        peer: SocketAddr,
    },
    /// A standard `wasi:sockets` TCP connection (checked by address, as
    /// standard sockets are).
    Socket {
        /// The address's target, `tcp://IP:PORT`.
        target: Target,
    },
    /// A connection a standard `wasi:sockets` listener accepted.
    SocketAccepted {
        /// The peer's target, `tcp-listen://IP:PORT`.
        target: Target,
    },
}

impl Grant {
    /// The target the grant is about (for messages and the audit log).
    pub fn target(&self) -> &Target {
        match self {
            Grant::Connect { target, .. }
            | Grant::Listen { target }
            | Grant::Socket { target }
            | Grant::SocketAccepted { target } => target,
            Grant::Accepted { listen, .. } => listen,
        }
    }

    /// The remote address, when there is one.
    pub fn peer(&self) -> Option<SocketAddr> {
        match self {
            Grant::Connect { peer, .. } | Grant::Accepted { peer, .. } => Some(*peer),
            Grant::Socket { target } | Grant::SocketAccepted { target } => match target.host {
                Host::Ip(ip) => Some(SocketAddr::new(ip, target.port)),
                Host::Name(_) => None,
            },
            Grant::Listen { .. } => None,
        }
    }

    /// A standard socket's TCP connection to `addr`.
    pub fn socket(addr: SocketAddr) -> Grant {
        Grant::Socket {
            target: Target::socket(Scheme::Tcp, addr),
        }
    }

    /// A connection a standard socket's listener accepted from `peer`.
    pub fn socket_accepted(peer: SocketAddr) -> Grant {
        Grant::SocketAccepted {
            target: Target::socket(Scheme::TcpListen, peer),
        }
    }
}

/// One live connection's registration with its guard.
#[derive(Debug)]
pub struct Lease {
    id: u64,
    grant: Grant,
    leases: Weak<Leases>,
    /// The error every later operation gets, once revoked.
    revoked: OnceLock<NetError>,
    read: AtomicWaker,
    write: AtomicWaker,
    waiters: Notify,
}

impl Lease {
    /// What the connection was granted.
    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    /// `Err` with the revocation's `denied` error once the lease is revoked.
    pub fn check(&self) -> Result<(), NetError> {
        match self.revoked.get() {
            Some(err) => Err(err.clone()),
            None => Ok(()),
        }
    }

    /// Waits until the lease is revoked and returns the guest's error.
    /// Cancel-safe.
    pub async fn revoked(&self) -> NetError {
        loop {
            let notified = self.waiters.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(err) = self.revoked.get() {
                return err.clone();
            }
            notified.await;
        }
    }

    /// For a socket's `poll_read`: the revocation error, or `None` after
    /// registering `cx` to be woken by a revocation.
    pub(crate) fn poll_read_revoked(&self, cx: &Context<'_>) -> Option<NetError> {
        Self::poll_revoked(&self.revoked, &self.read, cx)
    }

    /// For a socket's `poll_write`: as [`Lease::poll_read_revoked`].
    pub(crate) fn poll_write_revoked(&self, cx: &Context<'_>) -> Option<NetError> {
        Self::poll_revoked(&self.revoked, &self.write, cx)
    }

    fn poll_revoked(
        revoked: &OnceLock<NetError>,
        waker: &AtomicWaker,
        cx: &Context<'_>,
    ) -> Option<NetError> {
        if let Some(err) = revoked.get() {
            return Some(err.clone());
        }
        waker.register(cx.waker());
        revoked.get().cloned()
    }

    /// Revokes the lease: `err` for every pending and later operation.
    /// Returns false when it was already revoked.
    fn revoke(&self, err: NetError) -> bool {
        if self.revoked.set(err).is_err() {
            return false;
        }
        self.read.wake();
        self.write.wake();
        self.waiters.notify_waiters();
        true
    }

    /// Whether the lease has been revoked.
    pub fn is_revoked(&self) -> bool {
        self.revoked.get().is_some()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(leases) = self.leases.upgrade() {
            leases.remove(self.id);
        }
    }
}

/// The live leases of one guard.
#[derive(Debug, Default)]
pub struct Leases {
    next: AtomicU64,
    live: Mutex<HashMap<u64, Weak<Lease>>>,
}

impl Leases {
    /// Registers a connection granted `grant`; the registration ends when the
    /// returned lease (and every clone of the `Arc`) drops.
    pub fn register(self: &Arc<Self>, grant: Grant) -> Arc<Lease> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let lease = Arc::new(Lease {
            id,
            grant,
            leases: Arc::downgrade(self),
            revoked: OnceLock::new(),
            read: AtomicWaker::new(),
            write: AtomicWaker::new(),
            waiters: Notify::new(),
        });
        self.lock().insert(id, Arc::downgrade(&lease));
        lease
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Weak<Lease>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live leases, in registration order.
    pub fn snapshot(&self) -> Vec<Arc<Lease>> {
        let mut live: Vec<Arc<Lease>> = self.lock().values().filter_map(Weak::upgrade).collect();
        live.sort_by_key(|l| l.id);
        live
    }

    /// How many connections are registered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Revokes `lease` with `err`; false when it already was.
    pub fn revoke(lease: &Lease, err: NetError) -> bool {
        lease.revoke(err)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant::Listen {
            target: Target::parse("tcp-listen://127.0.0.1:9").unwrap(),
        }
    }

    #[test]
    fn a_dropped_lease_deregisters() {
        let leases = Arc::new(Leases::default());
        let a = leases.register(grant());
        let b = leases.register(grant());
        assert_eq!(leases.len(), 2);
        let held = Arc::clone(&a);
        drop(a);
        assert_eq!(leases.len(), 2, "a clone still holds it");
        drop(held);
        assert_eq!(leases.len(), 1);
        drop(b);
        assert_eq!(leases.len(), 0);
    }

    #[tokio::test]
    async fn revoking_wakes_waiters_and_fails_later_checks() {
        let leases = Arc::new(Leases::default());
        let lease = leases.register(grant());
        assert!(lease.check().is_ok());
        let waiting = {
            let lease = Arc::clone(&lease);
            tokio::spawn(async move { lease.revoked().await })
        };
        tokio::task::yield_now().await;
        assert!(Leases::revoke(&lease, NetError::Closed("gone".into())));
        assert!(
            !Leases::revoke(&lease, NetError::Closed("again".into())),
            "once only"
        );
        let err = waiting.await.unwrap();
        assert_eq!(err.to_string(), "closed: gone");
        assert_eq!(lease.check().unwrap_err().to_string(), "closed: gone");
    }
}
