//! Host side of `sandnet:net/udp`: translates the WIT calls and resources to the
//! protocol core in [`socket`] (checked destinations, filtered senders, grants).

pub mod socket;

use wasmtime::component::Resource;
use wasmtime_wasi::p2::Pollable;

use crate::bindings::udp::{self as wit, Host, HostSocket};
use crate::error::HostError;
use crate::net::NetView;
use crate::net::common::options::tighten_ms;
use crate::net::common::pollable_resource_methods;

pub use socket::Socket;

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
        let socket = self.table.get_mut(&this)?;
        Ok(socket.send_to(&target, &data).await?)
    }

    async fn receive(
        &mut self,
        this: Resource<Socket>,
        timeout_ms: Option<u32>,
    ) -> Result<wit::Datagram, HostError> {
        let policy = self.ctx.guard.policy().limits.read_timeout;
        let timeout = tighten_ms(timeout_ms, policy);
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

    pollable_resource_methods!(Socket);
}
