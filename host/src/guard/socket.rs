//! The socket every guarded TCP connection runs on: a `TcpStream` that fails
//! every read and write with the `denied` error once its lease is revoked by a
//! policy reload (pending reads and writes are woken to see it).
//!
//! The error travels as an `io::Error` of kind `PermissionDenied` carrying the
//! [`NetError`], so it survives TLS, hyper and tungstenite; protocol cores get
//! it back with [`crate::error::find_net_error`].

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::lease::Lease;
use crate::error::NetError;

/// A TCP socket registered with the guard (see the module docs).
#[derive(Debug)]
pub struct GuardedSocket {
    inner: TcpStream,
    lease: Arc<Lease>,
}

impl GuardedSocket {
    pub(super) fn new(inner: TcpStream, lease: Arc<Lease>) -> Self {
        GuardedSocket { inner, lease }
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Sets `TCP_NODELAY`.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.inner.set_nodelay(on)
    }

    /// The registration (for `denied` checks outside I/O).
    pub fn lease(&self) -> &Arc<Lease> {
        &self.lease
    }
}

/// A revocation as an I/O error (see the module docs).
pub fn revoked_io(err: NetError) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, err)
}

impl AsyncRead for GuardedSocket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(err) = self.lease.poll_read_revoked(cx) {
            return Poll::Ready(Err(revoked_io(err)));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for GuardedSocket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(err) = self.lease.poll_write_revoked(cx) {
            return Poll::Ready(Err(revoked_io(err)));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(err) = self.lease.poll_write_revoked(cx) {
            return Poll::Ready(Err(revoked_io(err)));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(err) = self.lease.poll_write_revoked(cx) {
            return Poll::Ready(Err(revoked_io(err)));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    /// Shutting down stays possible after a revocation: it only closes.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
