//! Host side of `sandnet:net/tcp`: translates the WIT calls and resources to the
//! protocol core in [`conn`] (guarded connect, TLS, buffered reads, listener).

pub mod conn;

use bytes::Bytes;
use sandnet_policy::Limits;
use wasmtime::component::Resource;
use wasmtime_wasi::p2::Pollable;

use crate::bindings::tcp::{self as wit, Host, HostListener, HostStream};
use crate::error::HostError;
use crate::net::NetView;
use crate::net::common::bytes_out::ReadFuture;
use crate::net::common::options::tighten_ms;
use crate::net::common::pollable_resource_methods;

pub use conn::{Acceptor as Listener, Connection as Stream};

#[wasmtime_wasi::async_trait]
impl Pollable for Stream {
    async fn ready(&mut self) {
        self.readable().await;
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Listener {
    async fn ready(&mut self) {
        Listener::ready(self).await;
    }
}

/// `stream.read`: up to `max_bytes` (clamped to 1..=1 MiB), waiting for at
/// least one; empty at the end. Linked by
/// [`link_read`](crate::net::common::bytes_out::link_read).
pub fn read<'a>(
    view: &'a mut NetView<'_>,
    this: Resource<Stream>,
    max_bytes: u32,
) -> ReadFuture<'a, Bytes> {
    Box::pin(async move { Ok(view.table.get_mut(&this)?.read(max_bytes).await?) })
}

/// The connection's deadlines: the guest's options may only tighten the policy's.
fn timeouts(limits: &Limits, options: Option<&wit::ConnectOptions>) -> conn::Timeouts {
    conn::Timeouts {
        connect: tighten_ms(
            options.and_then(|o| o.connect_timeout_ms),
            limits.connect_timeout,
        ),
        idle: tighten_ms(options.and_then(|o| o.read_timeout_ms), limits.read_timeout),
    }
}

impl Host for NetView<'_> {}

impl HostStream for NetView<'_> {
    async fn connect(
        &mut self,
        url: String,
        options: Option<wit::ConnectOptions>,
    ) -> Result<Resource<Stream>, HostError> {
        let timeouts = timeouts(&self.ctx.guard.policy().limits, options.as_ref());
        let stream = conn::connect(&self.ctx.guard, &self.ctx.tls, &url, timeouts).await?;
        Ok(self.table.push(stream)?)
    }

    async fn peer_address(&mut self, this: Resource<Stream>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.peer().to_string())
    }

    async fn local_address(&mut self, this: Resource<Stream>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.local().to_string())
    }

    /// Shadowed at link time by [`read`], which lowers the bytes without
    /// this copy.
    async fn read(&mut self, this: Resource<Stream>, max_bytes: u32) -> Result<Vec<u8>, HostError> {
        Ok(read(self, this, max_bytes).await?.into())
    }

    async fn read_until(
        &mut self,
        this: Resource<Stream>,
        delimiter: Vec<u8>,
        max_bytes: u32,
    ) -> Result<Vec<u8>, HostError> {
        let stream = self.table.get_mut(&this)?;
        Ok(stream.read_until(&delimiter, max_bytes).await?.to_vec())
    }

    async fn write(&mut self, this: Resource<Stream>, data: Vec<u8>) -> Result<(), HostError> {
        let stream = self.table.get_mut(&this)?;
        Ok(stream.write(&data).await?)
    }

    async fn shutdown(&mut self, this: Resource<Stream>) -> Result<(), HostError> {
        let stream = self.table.get_mut(&this)?;
        Ok(stream.shutdown().await?)
    }

    pollable_resource_methods!(Stream);
}

impl HostListener for NetView<'_> {
    async fn bind(&mut self, address: String) -> Result<Resource<Listener>, HostError> {
        let idle = self.ctx.guard.policy().limits.read_timeout;
        let listener = Listener::bind(&self.ctx.guard, &address, idle).await?;
        Ok(self.table.push(listener)?)
    }

    async fn local_address(&mut self, this: Resource<Listener>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.local().to_string())
    }

    async fn accept(&mut self, this: Resource<Listener>) -> Result<Resource<Stream>, HostError> {
        let listener = self.table.get_mut(&this)?;
        let stream = listener.accept().await?;
        Ok(self.table.push(stream)?)
    }

    pollable_resource_methods!(Listener);
}
