//! Host side of `sandnet:net/udp`: translates the WIT calls and resources to the
//! protocol core in [`sock`] (checked destinations, filtered senders, grants).

pub mod sock;

use std::time::Duration;

use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};

use crate::bindings::udp::{self as wit, Host, HostSocket};
use crate::error::HostError;
use crate::net::{NetData, NetView};
use crate::state::State;

pub use sock::Socket;

/// Whether the runtime links this interface (otherwise its calls trap).
pub const IMPLEMENTED: bool = true;

/// Per-guest state of this protocol: the `datagrams_per_second` bucket shared
/// by all of the guest's sockets, standard `wasi:sockets` ones too (made on first use).
#[derive(Debug, Default)]
pub struct ProtocolState {
    pub(crate) rate: Option<sock::DatagramRate>,
}

/// Adds `sandnet:net/udp` to the linker.
pub fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    crate::bindings::udp::add_to_linker::<State, NetData>(linker, State::net_view)
}

#[wasmtime_wasi::async_trait]
impl Pollable for Socket {
    async fn ready(&mut self) {
        Socket::ready(self).await;
    }
}

impl Host for NetView<'_> {}

impl HostSocket for NetView<'_> {
    async fn bind(&mut self, address: Option<String>) -> Result<Resource<Socket>, HostError> {
        let socket = Socket::bind(&self.ctx.guard, address.as_deref())?;
        Ok(self.table.push(socket)?)
    }

    async fn local_address(&mut self, this: Resource<Socket>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.local().to_string())
    }

    async fn send_to(
        &mut self,
        this: Resource<Socket>,
        target: String,
        data: Vec<u8>,
    ) -> Result<(), HostError> {
        let per_second = self.ctx.guard.policy().limits.datagrams_per_second;
        let state = &mut self.ctx.udp;
        let rate = match per_second {
            Some(n) => Some(state.rate.get_or_insert_with(|| sock::DatagramRate::new(n))),
            None => None,
        };
        let socket = self.table.get_mut(&this)?;
        Ok(socket.send_to(&target, &data, rate).await?)
    }

    async fn receive(
        &mut self,
        this: Resource<Socket>,
        timeout_ms: Option<u32>,
    ) -> Result<wit::Datagram, HostError> {
        let policy = self.ctx.guard.policy().limits.read_timeout;
        let timeout = timeout_ms.map_or(policy, |ms| {
            Duration::from_millis(u64::from(ms)).min(policy)
        });
        let socket = self.table.get_mut(&this)?;
        let datagram = socket.receive(timeout).await?;
        Ok(wit::Datagram {
            data: datagram.data,
            sender: datagram.sender.to_string(),
        })
    }

    async fn join_multicast(
        &mut self,
        this: Resource<Socket>,
        group: String,
        interface: Option<String>,
    ) -> Result<(), HostError> {
        let socket = self.table.get_mut(&this)?;
        Ok(socket.multicast(&group, interface.as_deref(), true)?)
    }

    async fn leave_multicast(
        &mut self,
        this: Resource<Socket>,
        group: String,
        interface: Option<String>,
    ) -> Result<(), HostError> {
        let socket = self.table.get_mut(&this)?;
        Ok(socket.multicast(&group, interface.as_deref(), false)?)
    }

    async fn set_broadcast(
        &mut self,
        this: Resource<Socket>,
        enabled: bool,
    ) -> Result<(), HostError> {
        let socket = self.table.get_mut(&this)?;
        Ok(socket.set_broadcast(enabled)?)
    }

    async fn subscribe(
        &mut self,
        this: Resource<Socket>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table, this)
    }

    async fn drop(&mut self, this: Resource<Socket>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
