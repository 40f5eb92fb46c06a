//! The async twins of the HTTP calls, for guests driven by [`crate::rt`]:
//! each waits on the host's pollable instead of blocking, so other tasks run
//! meanwhile.

use super::{IncomingResponse, MAX_READ_CHUNK, PendingResponse, Request, Response};
use crate::Result;
use crate::rt;

impl Request {
    /// [`Request::send`] without blocking: resolves once the response head is in.
    pub async fn send_async(self) -> Result<IncomingResponse> {
        self.send_pending()?.wait_async().await
    }

    /// [`Request::fetch`] without blocking: the whole response, its body read
    /// through the streaming path (so `bytes_in_total` applies, and memory is
    /// the guest's own limit).
    pub async fn fetch_async(self) -> Result<Response> {
        let incoming = self.send_async().await?;
        let (status, reason, headers, url, attempts) = (
            incoming.status(),
            incoming.reason(),
            incoming.headers(),
            incoming.url(),
            incoming.attempts(),
        );
        let body = incoming.bytes_async().await?;
        Ok(Response::from_parts(
            status, reason, headers, body, url, attempts,
        ))
    }
}

impl PendingResponse {
    /// [`PendingResponse::wait`] without blocking.
    pub async fn wait_async(self) -> Result<IncomingResponse> {
        loop {
            if let Some(incoming) = self.try_get()? {
                return Ok(incoming);
            }
            rt::ready(self.subscribe()).await;
        }
    }
}

impl IncomingResponse {
    /// [`IncomingResponse::read`] without blocking.
    pub async fn read_async(&mut self, max_bytes: u32) -> Result<Option<Vec<u8>>> {
        rt::ready(self.subscribe()).await;
        self.read(max_bytes)
    }

    /// [`IncomingResponse::bytes`] without blocking.
    pub async fn bytes_async(mut self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        while let Some(chunk) = self.read_async(MAX_READ_CHUNK).await? {
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
