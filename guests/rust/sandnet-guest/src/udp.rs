//! UDP over `sandnet:net/udp`: [`UdpSocket`] with destinations checked by the
//! host, senders filtered by policy, multicast and broadcast with grants.
//!
//! ```no_run
//! use sandnet_guest::udp::UdpSocket;
//!
//! # fn main() -> sandnet_guest::Result<()> {
//! let socket = UdpSocket::ephemeral()?; // a pure sender needs no bind grant
//! socket.send_to("udp://127.0.0.1:9999", b"ping")?;
//! let reply = socket.receive(Some(2_000))?;
//! println!("{} from {}", String::from_utf8_lossy(&reply.data), reply.sender);
//! # Ok(())
//! # }
//! ```

use crate::Result;
use crate::bindings::sandnet::net::udp as wit;
use crate::poll::Pollable;

pub use wit::Datagram;

/// A UDP socket through the host. Dropping it closes the socket.
#[derive(Debug)]
pub struct UdpSocket {
    raw: wit::Socket,
}

impl UdpSocket {
    /// Binds `udp-bind://ADDR:PORT` (needs that grant).
    pub fn bind(address: &str) -> Result<UdpSocket> {
        Ok(UdpSocket {
            raw: wit::Socket::bind(Some(address))?,
        })
    }

    /// Binds an ephemeral port on 0.0.0.0 (no grant needed): for sending and
    /// reading replies from the granted destinations.
    pub fn ephemeral() -> Result<UdpSocket> {
        Ok(UdpSocket {
            raw: wit::Socket::bind(None)?,
        })
    }

    /// The bound address as `IP:PORT`.
    pub fn local_address(&self) -> String {
        self.raw.local_address()
    }

    /// Sends one datagram to `udp://host:port`.
    pub fn send_to(&self, target: &str, data: &[u8]) -> Result<()> {
        Ok(self.raw.send_to(target, data)?)
    }

    /// The next datagram from an accepted sender, waiting at most `timeout_ms`
    /// (default and maximum: the policy's `read_timeout`).
    pub fn receive(&self, timeout_ms: Option<u32>) -> Result<Datagram> {
        Ok(self.raw.receive(timeout_ms)?)
    }

    /// The next datagram from a granted sender, without blocking (under
    /// [`crate::rt`]); combine with [`crate::rt::sleep`] for a timeout.
    pub async fn receive_async(&self) -> Result<Datagram> {
        crate::rt::ready(self.subscribe()).await;
        self.receive(None)
    }

    /// Joins multicast `group` on the interface with IPv4 address `interface`
    /// (default: the kernel's choice); needs `udp-multicast://GROUP`.
    pub fn join_multicast(&self, group: &str, interface: Option<&str>) -> Result<()> {
        Ok(self.raw.join_multicast(group, interface)?)
    }

    /// Leaves a group joined with [`join_multicast`](UdpSocket::join_multicast).
    pub fn leave_multicast(&self, group: &str, interface: Option<&str>) -> Result<()> {
        Ok(self.raw.leave_multicast(group, interface)?)
    }

    /// Allows sending to broadcast addresses (needs a broadcast grant).
    pub fn set_broadcast(&self, enabled: bool) -> Result<()> {
        Ok(self.raw.set_broadcast(enabled)?)
    }

    /// Ready when [`receive`](UdpSocket::receive) would not wait.
    pub fn subscribe(&self) -> Pollable {
        self.raw.subscribe()
    }
}
