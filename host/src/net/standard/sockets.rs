//! Gate for the standard `wasi:sockets`: every address a component built against
//! the standard interfaces (Python's `socket`, C with wasi-libc) binds, connects,
//! accepts or sends to passes the guard's policy checks.
//!
//! Standard sockets only ever show the host an IP address, so a rule naming a
//! host (`tcp://db.example.com:5432`) matches the addresses that name resolved
//! to, on the host, during this run; wildcard-name rules cannot match.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use sandnet_policy::Scheme;
use wasmtime_wasi::sockets::SocketAddrUse;

use std::net::IpAddr;

use wasmtime::component::Resource;
use wasmtime_wasi::p2::Pollable;
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, IpAddress, Network};

use crate::bindings::ip_name_lookup;
use crate::guard::Guard;
use crate::net::NetView;
use crate::net::common::pollable_resource_methods;

/// The check wasmtime-wasi calls before every socket address use.
pub fn address_check(
    guard: Arc<Guard>,
) -> impl Fn(SocketAddr, SocketAddrUse) -> Pin<Box<dyn Future<Output = bool> + Send + Sync>>
+ Send
+ Sync
+ 'static {
    move |addr, use_| {
        let guard = Arc::clone(&guard);
        // The check runs on its own task: wasmtime wants a `Sync` future and
        // the guard's resolver future is not; a join handle is.
        let task = tokio::spawn(async move {
            let outcome = match use_ {
                SocketAddrUse::TcpConnect => guard.check_socket_addr(Scheme::Tcp, addr).await,
                SocketAddrUse::UdpSend => guard.check_socket_addr(Scheme::Udp, addr).await,
                // A datagram is let in from an address the guest may send to.
                SocketAddrUse::UdpReceive => guard.check_socket_addr(Scheme::Udp, addr).await,
                SocketAddrUse::TcpBind => guard.check_socket_bind(Scheme::TcpListen, addr, true),
                // Never the implicit-bind pass: listen() on an unbound socket
                // would otherwise open every interface.
                SocketAddrUse::TcpListen => guard.check_socket_bind(Scheme::TcpListen, addr, false),
                SocketAddrUse::UdpBind => guard.check_socket_bind(Scheme::UdpBind, addr, true),
                SocketAddrUse::TcpAccept => guard.check_socket_accept(addr),
            };
            outcome.is_ok()
        });
        Box::pin(async move { task.await.unwrap_or(false) })
    }
}

/// State of one `wasi:sockets/ip-name-lookup` lookup.
#[derive(Debug)]
pub enum ResolveAddressStream {
    /// The guard is resolving a granted name.
    Pending(tokio::task::JoinHandle<Result<Vec<IpAddr>, ErrorCode>>),
    /// Addresses still to hand out, or the lookup's error.
    Ready(Result<std::vec::IntoIter<IpAddr>, ErrorCode>),
}

impl Drop for ResolveAddressStream {
    fn drop(&mut self) {
        if let ResolveAddressStream::Pending(task) = self {
            task.abort();
        }
    }
}

impl ResolveAddressStream {
    async fn settle(&mut self) {
        if let ResolveAddressStream::Pending(task) = self {
            let outcome = task
                .await
                .unwrap_or(Err(ErrorCode::PermanentResolverFailure));
            *self = ResolveAddressStream::Ready(outcome.map(Vec::into_iter));
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for ResolveAddressStream {
    async fn ready(&mut self) {
        self.settle().await;
    }
}

/// An IP literal as the standard lookup accepts it (with or without brackets).
fn literal(name: &str) -> Option<IpAddr> {
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    bare.parse().ok()
}

impl ip_name_lookup::Host for NetView<'_> {
    async fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> wasmtime::Result<Result<Resource<ResolveAddressStream>, ErrorCode>> {
        // The network handle is the capability to look names up; check it is live.
        self.table.get(&network)?;
        let stream = if let Some(ip) = literal(&name) {
            ResolveAddressStream::Ready(Ok(vec![ip].into_iter()))
        } else {
            let domain = match url::Host::parse(&name) {
                Ok(url::Host::Domain(domain)) => domain,
                Ok(url::Host::Ipv4(ip)) => {
                    return Ok(Ok(self.table.push(ResolveAddressStream::Ready(Ok(
                        vec![IpAddr::V4(ip)].into_iter(),
                    )))?));
                }
                Ok(url::Host::Ipv6(ip)) => {
                    return Ok(Ok(self.table.push(ResolveAddressStream::Ready(Ok(
                        vec![IpAddr::V6(ip)].into_iter(),
                    )))?));
                }
                Err(_) => return Ok(Err(ErrorCode::InvalidArgument)),
            };
            let guard = Arc::clone(&self.ctx.guard);
            ResolveAddressStream::Pending(tokio::spawn(async move {
                match guard.lookup_granted_name(&domain).await {
                    None => Err(ErrorCode::AccessDenied),
                    Some(ips) if ips.is_empty() => Err(ErrorCode::NameUnresolvable),
                    Some(ips) => Ok(ips),
                }
            }))
        };
        Ok(Ok(self.table.push(stream)?))
    }
}

impl ip_name_lookup::HostResolveAddressStream for NetView<'_> {
    async fn resolve_next_address(
        &mut self,
        this: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Result<Option<IpAddress>, ErrorCode>> {
        let stream = self.table.get_mut(&this)?;
        if let ResolveAddressStream::Pending(task) = stream {
            if !task.is_finished() {
                return Ok(Err(ErrorCode::WouldBlock));
            }
            stream.settle().await;
        }
        Ok(match stream {
            ResolveAddressStream::Ready(Ok(ips)) => Ok(ips.next().map(IpAddress::from)),
            ResolveAddressStream::Ready(Err(code)) => Err(*code),
            ResolveAddressStream::Pending(_) => Err(ErrorCode::WouldBlock),
        })
    }

    pollable_resource_methods!(ResolveAddressStream);
}
