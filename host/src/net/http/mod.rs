//! Host side of `sandnet:net/http`: translates the WIT calls and resources to the
//! client core in [`client`].

pub mod cache;
pub mod client;
pub mod completion;
pub mod decode;
pub mod retry;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sandnet_policy::{Limit, Limits};
use tokio::task::JoinHandle;
use wasmtime::component::Resource;
use wasmtime_wasi::p2::Pollable;

use crate::bindings::http::{
    self as wit, Host, HostIncomingResponse, HostOutgoingBody, HostPendingResponse,
};
use crate::bindings::types::Headers;
use crate::error::{HostError, NetError, TimeoutKind};
use crate::net::common::bytes_out::ReadFuture;
use crate::net::common::options::{opt_in, tighten, tighten_ms};
use crate::net::common::pollable_resource_methods;
use client::{
    BodyReader, Exchange, MAX_READ_CHUNK, RequestSpec, Settings, UploadSender, header_text,
};
use retry::Retry;

use crate::net::NetView;

/// A response whose body the guest reads in chunks (`incoming-response`).
#[derive(Debug)]
pub struct IncomingResponse {
    status: u16,
    reason: String,
    headers: Headers,
    url: String,
    attempts: u32,
    body: BodyReader,
}

impl From<Exchange> for IncomingResponse {
    fn from(ex: Exchange) -> Self {
        IncomingResponse {
            status: ex.status.as_u16(),
            reason: ex.reason,
            headers: wit_headers(&ex.headers),
            url: ex.url.to_string(),
            attempts: ex.attempts,
            body: ex.body,
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for IncomingResponse {
    async fn ready(&mut self) {
        self.body.fill().await;
    }
}

/// A host task carrying one exchange; aborted when dropped, so dropping the
/// guest's resource cancels the request.
#[derive(Debug)]
pub struct ExchangeTask(JoinHandle<Result<Exchange, NetError>>);

impl Drop for ExchangeTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A request in flight (`pending-response`). Dropping it aborts the request.
#[derive(Debug)]
pub enum PendingResponse {
    /// Still running on the host.
    Running(ExchangeTask),
    /// Finished; the outcome waits for `get`.
    Done(Box<Result<Exchange, NetError>>),
    /// The outcome was handed to the guest.
    Taken,
}

impl PendingResponse {
    async fn wait(&mut self) {
        if let PendingResponse::Running(task) = self {
            let outcome = match (&mut task.0).await {
                Ok(outcome) => outcome,
                Err(err) => Err(NetError::Closed(format!("request task ended: {err}"))),
            };
            *self = PendingResponse::Done(Box::new(outcome));
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for PendingResponse {
    async fn ready(&mut self) {
        self.wait().await;
    }
}

/// A streamed request body (`outgoing-body`).
#[derive(Debug)]
pub struct OutgoingBody {
    sender: Option<UploadSender>,
    task: Option<ExchangeTask>,
    written: u64,
    total: Option<u64>,
    /// `max_body_bytes` (or the guest's tighter option): the upload's cap.
    max: u64,
    idle: Duration,
    deadline: Instant,
}

impl OutgoingBody {
    /// The request's own error when the channel closed under us, else `closed`.
    async fn failure(&mut self) -> NetError {
        match self.task.take() {
            Some(mut task) => match (&mut task.0).await {
                Ok(Err(err)) => err,
                Ok(Ok(ex)) => NetError::Closed(format!(
                    "server answered {} before the body was complete",
                    ex.status
                )),
                Err(err) => NetError::Closed(format!("request task ended: {err}")),
            },
            None => NetError::Closed("upload already failed".to_owned()),
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for OutgoingBody {
    async fn ready(&mut self) {
        if let Some(sender) = &self.sender {
            // A reserved slot is released on drop; this only waits for room.
            let _ = sender.tx.reserve().await;
        }
    }
}

fn wit_headers(headers: &http::HeaderMap) -> Headers {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), header_text(value)))
        .collect()
}

fn method_str(method: &wit::Method) -> &str {
    match method {
        wit::Method::Get => "GET",
        wit::Method::Head => "HEAD",
        wit::Method::Post => "POST",
        wit::Method::Put => "PUT",
        wit::Method::Patch => "PATCH",
        wit::Method::Delete => "DELETE",
        wit::Method::Options => "OPTIONS",
        wit::Method::Trace => "TRACE",
        wit::Method::Connect => "CONNECT",
        wit::Method::Other(other) => other,
    }
}

/// Per-request settings: the guest's options may only tighten the policy's limits.
fn settings(limits: &Limits, options: Option<&wit::RequestOptions>) -> Settings {
    let o = options.cloned().unwrap_or(wit::RequestOptions {
        connect_timeout_ms: None,
        first_byte_timeout_ms: None,
        total_timeout_ms: None,
        max_redirects: None,
        max_body_bytes: None,
        retries: None,
        retry_backoff_ms: None,
        retry_non_idempotent: None,
        decode: None,
    });
    let total = tighten_ms(o.total_timeout_ms, limits.request_timeout);
    Settings {
        connect: tighten_ms(o.connect_timeout_ms, limits.connect_timeout),
        first_byte: tighten_ms(o.first_byte_timeout_ms, limits.first_byte_timeout),
        idle: limits.read_timeout.min(total),
        deadline: Instant::now() + total,
        total,
        max_redirects: opt_in(o.max_redirects, limits.max_redirects),
        max_body: tighten(o.max_body_bytes, limits.max_body_bytes),
        retry: Retry::new(
            o.retries.unwrap_or(0),
            o.retry_backoff_ms,
            o.retry_non_idempotent.unwrap_or(false),
        ),
        decode: o.decode.unwrap_or(false),
    }
}

fn spec(req: wit::Request) -> Result<RequestSpec, NetError> {
    RequestSpec::new(method_str(&req.method), &req.url, &req.headers, req.body)
}

impl Host for NetView<'_> {
    async fn fetch(
        &mut self,
        req: wit::Request,
        options: Option<wit::RequestOptions>,
    ) -> Result<wit::Response, HostError> {
        let settings = settings(&self.ctx.guard.policy().limits, options.as_ref());
        let spec = spec(req)?;
        let mut ex = self.ctx.http.send(spec, settings).await?;
        let body = ex
            .body
            .read_all(settings.max_body, Limit::MaxBodyBytes)
            .await?;
        Ok(wit::Response {
            status: ex.status.as_u16(),
            reason: ex.reason,
            headers: wit_headers(&ex.headers),
            body,
            url: ex.url.to_string(),
            attempts: ex.attempts,
        })
    }

    async fn send(
        &mut self,
        req: wit::Request,
        options: Option<wit::RequestOptions>,
    ) -> Result<Resource<PendingResponse>, HostError> {
        let settings = settings(&self.ctx.guard.policy().limits, options.as_ref());
        let spec = spec(req)?;
        let client = self.ctx.http.clone();
        let task = tokio::spawn(async move { client.send(spec, settings).await });
        Ok(self
            .table
            .push(PendingResponse::Running(ExchangeTask(task)))?)
    }

    async fn upload(
        &mut self,
        req: wit::Request,
        total_bytes: Option<u64>,
        options: Option<wit::RequestOptions>,
    ) -> Result<Resource<OutgoingBody>, HostError> {
        if req.body.is_some() {
            return Err(NetError::InvalidArgument(
                "upload takes its body through outgoing-body.write; pass body: none".to_owned(),
            )
            .into());
        }
        let settings = settings(&self.ctx.guard.policy().limits, options.as_ref());
        let spec = spec(req)?;
        let (sender, task) = self.ctx.http.upload(spec, total_bytes, settings)?;
        let body = OutgoingBody {
            sender: Some(sender),
            task: Some(ExchangeTask(task)),
            written: 0,
            total: total_bytes,
            max: settings.max_body,
            idle: settings.idle,
            deadline: settings.deadline,
        };
        Ok(self.table.push(body)?)
    }
}

/// `incoming-response.read`: up to `max_bytes` (clamped to 1..=1 MiB) of the
/// body, as [`BodyReader::read`] hands them over; linked by
/// [`link_read`](crate::net::common::bytes_out::link_read).
pub fn read_body<'a>(
    view: &'a mut NetView<'_>,
    this: Resource<IncomingResponse>,
    max_bytes: u32,
) -> ReadFuture<'a, Option<Bytes>> {
    Box::pin(async move {
        let response = view.table.get_mut(&this)?;
        let max = max_bytes.clamp(1, MAX_READ_CHUNK) as usize;
        Ok(response.body.read(max).await?)
    })
}

impl HostIncomingResponse for NetView<'_> {
    async fn status(&mut self, this: Resource<IncomingResponse>) -> wasmtime::Result<u16> {
        Ok(self.table.get(&this)?.status)
    }

    async fn reason(&mut self, this: Resource<IncomingResponse>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.reason.clone())
    }

    async fn headers(&mut self, this: Resource<IncomingResponse>) -> wasmtime::Result<Headers> {
        Ok(self.table.get(&this)?.headers.clone())
    }

    async fn url(&mut self, this: Resource<IncomingResponse>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.url.clone())
    }

    async fn attempts(&mut self, this: Resource<IncomingResponse>) -> wasmtime::Result<u32> {
        Ok(self.table.get(&this)?.attempts)
    }

    /// Shadowed at link time by [`read_body`], which lowers the bytes
    /// without this copy.
    async fn read(
        &mut self,
        this: Resource<IncomingResponse>,
        max_bytes: u32,
    ) -> Result<Option<Vec<u8>>, HostError> {
        Ok(read_body(self, this, max_bytes).await?.map(Vec::from))
    }

    pollable_resource_methods!(IncomingResponse);
}

impl HostPendingResponse for NetView<'_> {
    async fn get(
        &mut self,
        this: Resource<PendingResponse>,
    ) -> wasmtime::Result<Option<Result<Resource<IncomingResponse>, wit::NetError>>> {
        let pending = self.table.get_mut(&this)?;
        if let PendingResponse::Running(task) = pending {
            if !task.0.is_finished() {
                return Ok(None);
            }
            pending.wait().await;
        }
        let outcome = match std::mem::replace(pending, PendingResponse::Taken) {
            PendingResponse::Done(outcome) => *outcome,
            PendingResponse::Taken => Err(NetError::InvalidArgument(
                "pending-response.get already returned its outcome".to_owned(),
            )),
            PendingResponse::Running(_) => return Ok(None),
        };
        Ok(Some(match outcome {
            Ok(ex) => Ok(self.table.push(IncomingResponse::from(ex))?),
            Err(err) => Err(super::types::to_wit(err)),
        }))
    }

    pollable_resource_methods!(PendingResponse);
}

impl HostOutgoingBody for NetView<'_> {
    async fn write(
        &mut self,
        this: Resource<OutgoingBody>,
        chunk: Vec<u8>,
    ) -> Result<(), HostError> {
        let guard = Arc::clone(&self.ctx.guard);
        let body = self.table.get_mut(&this)?;
        let len = chunk.len() as u64;
        if let Some(total) = body.total
            && body.written + len > total
        {
            return Err(NetError::InvalidArgument(format!(
                "upload announced {total} bytes; writing {len} more after {} exceeds it",
                body.written
            ))
            .into());
        }
        if body.written + len > body.max {
            return Err(NetError::limit(Limit::MaxBodyBytes, body.max).into());
        }
        guard.count_out(len)?;
        let Some(sender) = &body.sender else {
            return Err(
                NetError::InvalidArgument("outgoing-body already finished".to_owned()).into(),
            );
        };
        let until = (Instant::now() + body.idle).min(body.deadline);
        let kind = if until == body.deadline {
            TimeoutKind::Total
        } else {
            TimeoutKind::Idle
        };
        match tokio::time::timeout_at(until.into(), sender.tx.send(Bytes::from(chunk))).await {
            Err(_) => Err(NetError::Timeout(kind).into()),
            Ok(Err(_closed)) => {
                body.sender = None;
                Err(body.failure().await.into())
            }
            Ok(Ok(())) => {
                body.written += len;
                Ok(())
            }
        }
    }

    async fn progress(&mut self, this: Resource<OutgoingBody>) -> wasmtime::Result<wit::Progress> {
        let body = self.table.get(&this)?;
        let sent = body
            .sender
            .as_ref()
            .map_or(body.written, |s| s.sent.load(Ordering::Relaxed));
        Ok(wit::Progress {
            sent,
            total: body.total,
        })
    }

    async fn finish(
        &mut self,
        this: Resource<OutgoingBody>,
    ) -> Result<Resource<PendingResponse>, HostError> {
        let mut body = self.table.delete(this)?;
        if let Some(total) = body.total
            && body.written != total
        {
            return Err(NetError::InvalidArgument(format!(
                "upload announced {total} bytes but only {} were written",
                body.written
            ))
            .into());
        }
        body.sender = None; // ends the request body
        let Some(task) = body.task.take() else {
            return Err(NetError::Closed("upload already failed".to_owned()).into());
        };
        Ok(self.table.push(PendingResponse::Running(task))?)
    }

    pollable_resource_methods!(OutgoingBody);
}
