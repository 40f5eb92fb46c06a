//! [`PendingResponse`] and [`IncomingResponse`]: the streaming-response
//! resources of `sandnet:net/http`.

use std::io;

use super::find_header;
use crate::Result;
use crate::bindings::sandnet::net::http as wit;
use crate::poll::Pollable;

/// Largest chunk the host hands out per `read` (1 MiB, per the WIT contract).
pub const MAX_READ_CHUNK: u32 = 1 << 20;

/// A request in flight, from [`Request::send_pending`](super::Request::send_pending).
/// Dropping it cancels the request.
#[derive(Debug)]
pub struct PendingResponse {
    raw: wit::PendingResponse,
}

impl PendingResponse {
    /// Waits for the response head.
    pub fn wait(self) -> Result<IncomingResponse> {
        loop {
            if let Some(outcome) = self.raw.get() {
                return Ok(outcome?.into());
            }
            self.raw.subscribe().block();
        }
    }

    /// The response head if it has arrived, without waiting.
    ///
    /// Returns `Ok(None)` while waiting. The outcome is handed out once:
    /// after `Some`, later calls fail with `invalid-argument`.
    pub fn try_get(&self) -> Result<Option<IncomingResponse>> {
        match self.raw.get() {
            None => Ok(None),
            Some(outcome) => Ok(Some(outcome?.into())),
        }
    }

    /// Ready when [`try_get`](PendingResponse::try_get) would not return `None`;
    /// combine with other pollables in [`crate::poll::wait_any`].
    pub fn subscribe(&self) -> Pollable {
        self.raw.subscribe()
    }
}

impl From<wit::PendingResponse> for PendingResponse {
    fn from(raw: wit::PendingResponse) -> Self {
        PendingResponse { raw }
    }
}

/// A response whose body is read incrementally, in bounded chunks.
/// Dropping it cancels the request and releases the connection.
///
/// Implements [`io::Read`], so `std::io::copy(&mut response, &mut file)` works.
///
/// ```no_run
/// use sandnet_guest::http::Request;
///
/// let mut response = Request::get("https://example.com/big.iso").send()?;
/// let mut total = 0;
/// while let Some(chunk) = response.read(64 * 1024)? {
///     total += chunk.len();
/// }
/// println!("{} bytes", total);
/// # Ok::<(), sandnet_guest::Error>(())
/// ```
#[derive(Debug)]
pub struct IncomingResponse {
    raw: wit::IncomingResponse,
    /// Bytes the host returned that an `io::Read` caller had no room for yet.
    leftover: Vec<u8>,
    /// Read position in `leftover`.
    leftover_at: usize,
}

impl IncomingResponse {
    /// Status code.
    pub fn status(&self) -> u16 {
        self.raw.status()
    }

    /// Reason phrase.
    pub fn reason(&self) -> String {
        self.raw.reason()
    }

    /// Response headers in the order received.
    pub fn headers(&self) -> Vec<(String, String)> {
        self.raw.headers()
    }

    /// The first value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        find_header(&self.raw.headers(), name).map(str::to_owned)
    }

    /// The URL that produced this response.
    pub fn url(&self) -> String {
        self.raw.url()
    }

    /// Attempts made (1 unless [`Request::retries`](super::Request::retries) retried it).
    pub fn attempts(&self) -> u32 {
        self.raw.attempts()
    }

    /// Reads up to `max_bytes` body bytes (the host caps a chunk at
    /// [`MAX_READ_CHUNK`]), waiting until some are available.
    /// Returns `Ok(None)` once the body has ended.
    pub fn read(&mut self, max_bytes: u32) -> Result<Option<Vec<u8>>> {
        if self.leftover_at < self.leftover.len() {
            let end = self
                .leftover
                .len()
                .min(self.leftover_at.saturating_add(max_bytes as usize));
            let chunk = self.leftover[self.leftover_at..end].to_vec();
            self.leftover_at = end;
            return Ok(Some(chunk));
        }
        Ok(self.raw.read(max_bytes.min(MAX_READ_CHUNK))?)
    }

    /// Reads the rest of the body into memory.
    pub fn bytes(mut self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        while let Some(chunk) = self.read(MAX_READ_CHUNK)? {
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Ready when [`read`](IncomingResponse::read) would not wait.
    pub fn subscribe(&self) -> Pollable {
        self.raw.subscribe()
    }
}

impl io::Read for IncomingResponse {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.leftover_at < self.leftover.len() {
                let available = &self.leftover[self.leftover_at..];
                let n = available.len().min(buf.len());
                buf[..n].copy_from_slice(&available[..n]);
                self.leftover_at += n;
                return Ok(n);
            }
            let want = u32::try_from(buf.len()).unwrap_or(MAX_READ_CHUNK);
            match self
                .raw
                .read(want.min(MAX_READ_CHUNK))
                .map_err(crate::Error::from)?
            {
                None => return Ok(0),
                // An empty chunk is not the end; ask again.
                Some(chunk) => {
                    self.leftover = chunk;
                    self.leftover_at = 0;
                }
            }
        }
    }
}

impl From<wit::IncomingResponse> for IncomingResponse {
    fn from(raw: wit::IncomingResponse) -> Self {
        IncomingResponse {
            raw,
            leftover: Vec::new(),
            leftover_at: 0,
        }
    }
}
