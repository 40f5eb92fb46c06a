//! TCP over `sandnet:net/tcp`: [`TcpStream`] (plain `tcp://` or host-terminated
//! `tls://`) and [`TcpListener`] (`tcp-listen://`), every one checked by the
//! host against the guest's policy.
//!
//! ```no_run
//! use sandnet_guest::tcp::TcpStream;
//!
//! # fn main() -> sandnet_guest::Result<()> {
//! let mut redis = TcpStream::connect("tcp://127.0.0.1:6379")?;
//! redis.write_all(b"PING\r\n")?;
//! let line = redis.read_line(1024)?; // "+PONG\r\n"
//! # Ok(())
//! # }
//! ```
//!
//! To serve several connections at once, [`subscribe`](TcpStream::subscribe)
//! to each stream and the listener and wait with [`wait_any`] (the one in
//! [`crate::poll`], re-exported here).

use std::io;

use crate::Result;
use crate::bindings::sandnet::net::tcp as wit;
use crate::poll::Pollable;

pub use crate::poll::wait_any;
pub use wit::ConnectOptions;

/// Largest chunk the host hands out per `read` (1 MiB).
pub const MAX_READ_CHUNK: u32 = 1 << 20;

/// A TCP connection through the host. Dropping it closes the connection.
///
/// Implements [`io::Read`] and [`io::Write`].
#[derive(Debug)]
pub struct TcpStream {
    raw: wit::Stream,
}

impl TcpStream {
    /// Connects to `tcp://host:port` or `tls://host:port` with the policy's timeouts.
    pub fn connect(url: &str) -> Result<TcpStream> {
        Self::connect_with(url, None, None)
    }

    /// Connects with timeouts in milliseconds (each may only tighten the policy's).
    pub fn connect_with(
        url: &str,
        connect_timeout_ms: Option<u32>,
        read_timeout_ms: Option<u32>,
    ) -> Result<TcpStream> {
        let options = ConnectOptions {
            connect_timeout_ms,
            read_timeout_ms,
        };
        Ok(TcpStream {
            raw: wit::Stream::connect(url, Some(options))?,
        })
    }

    /// The peer as `IP:PORT`.
    pub fn peer_address(&self) -> String {
        self.raw.peer_address()
    }

    /// The local address as `IP:PORT`.
    pub fn local_address(&self) -> String {
        self.raw.local_address()
    }

    /// Up to `max` bytes, waiting for at least one; empty at end of stream.
    pub fn read(&mut self, max: u32) -> Result<Vec<u8>> {
        Ok(self.raw.read(max)?)
    }

    /// [`TcpStream::read`] without blocking (under [`crate::rt`]).
    pub async fn read_async(&mut self, max: u32) -> Result<Vec<u8>> {
        crate::rt::ready(self.subscribe()).await;
        self.read(max)
    }

    /// Bytes through `delimiter` (included), at most `max` of them
    /// (`limit-exceeded` `max-bytes` otherwise); the rest at end of stream.
    pub fn read_until(&mut self, delimiter: &[u8], max: u32) -> Result<Vec<u8>> {
        Ok(self.raw.read_until(delimiter, max)?)
    }

    /// One line through `\n` (kept), at most `max` bytes.
    pub fn read_line(&mut self, max: u32) -> Result<Vec<u8>> {
        self.read_until(b"\n", max)
    }

    /// Reads exactly `n` bytes; `closed` if the stream ends first.
    pub fn read_exact(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let want = u32::try_from(n - out.len()).unwrap_or(MAX_READ_CHUNK);
            let chunk = self.read(want.min(MAX_READ_CHUNK))?;
            if chunk.is_empty() {
                return Err(crate::Error::Closed(format!(
                    "stream ended after {} of {n} bytes",
                    out.len()
                )));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// Writes all of `data`.
    pub fn write_all(&mut self, data: &[u8]) -> Result<()> {
        Ok(self.raw.write(data)?)
    }

    /// Closes the write half; reading goes on.
    pub fn shutdown(&mut self) -> Result<()> {
        Ok(self.raw.shutdown()?)
    }

    /// Ready when [`read`](TcpStream::read) would not wait.
    pub fn subscribe(&self) -> Pollable {
        self.raw.subscribe()
    }
}

impl io::Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let max = u32::try_from(buf.len()).unwrap_or(MAX_READ_CHUNK);
        let chunk = TcpStream::read(self, max.min(MAX_READ_CHUNK))?;
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        Ok(n)
    }
}

impl io::Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A listening socket (`tcp-listen://ADDR:PORT` grant). Dropping it stops listening.
#[derive(Debug)]
pub struct TcpListener {
    raw: wit::Listener,
}

impl TcpListener {
    /// Binds `tcp-listen://ADDR:PORT` (port 0: a free port, see [`local_address`](TcpListener::local_address)).
    pub fn bind(address: &str) -> Result<TcpListener> {
        Ok(TcpListener {
            raw: wit::Listener::bind(address)?,
        })
    }

    /// The bound address as `IP:PORT`.
    pub fn local_address(&self) -> String {
        self.raw.local_address()
    }

    /// The next connection from a peer the policy accepts.
    pub fn accept(&self) -> Result<TcpStream> {
        Ok(TcpStream {
            raw: self.raw.accept()?,
        })
    }

    /// [`TcpListener::accept`] without blocking (under [`crate::rt`]).
    pub async fn accept_async(&self) -> Result<TcpStream> {
        crate::rt::ready(self.subscribe()).await;
        self.accept()
    }

    /// Ready when [`accept`](TcpListener::accept) would not wait.
    pub fn subscribe(&self) -> Pollable {
        self.raw.subscribe()
    }
}
