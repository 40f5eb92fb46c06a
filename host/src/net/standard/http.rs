//! Gate for the standard `wasi:http/outgoing-handler`: components built against
//! the standard interfaces (JavaScript `fetch()`, Rust wasi:http clients) send
//! through the same guard, limits and audit log as `sandnet:net/http`.
//!
//! The guest sees only the standard error codes (`HTTP-request-denied`, ...);
//! the reason and the policy line that would allow the request go to the audit
//! log and to stderr through `tracing`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::error::{NetError, TimeoutKind};
use crate::guard::Guard;
use crate::net::common::options::tighten;
use crate::net::http::client::{HttpClient, Settings, StandardResponse, body_error};
use crate::net::http::completion::StandardLog;

/// The hooks wasmtime-wasi-http calls; `send_request` is the gate.
pub struct StandardHttpGate {
    client: HttpClient,
}

impl std::fmt::Debug for StandardHttpGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandardHttpGate").finish_non_exhaustive()
    }
}

impl StandardHttpGate {
    /// A gate sending through the guest's own pooled, guarded client.
    pub fn new(client: HttpClient) -> Self {
        StandardHttpGate { client }
    }
}

type ResponseFuture = Box<
    dyn std::future::Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn std::future::Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for StandardHttpGate {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn std::future::Future<Output = Result<(), HttpError>> + Send>,
    ) -> ResponseFuture {
        let client = self.client.clone();
        Box::new(async move {
            let guard = Arc::clone(client.guard());
            let settings = settings(&guard, options.as_ref());
            let request = request.map(|body| {
                let body = body
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
                    .boxed_unsync();
                DrainOnDrop {
                    body: Some(body),
                    ended: false,
                    limit: settings.total,
                }
                .boxed_unsync()
            });
            let uri = request.uri().to_string();
            match client.send_standard(request, settings).await {
                Ok(StandardResponse { response, log }) => {
                    let response = response.map(|body| {
                        CountingBody {
                            body,
                            guard,
                            received: 0,
                            log,
                        }
                        .boxed_unsync()
                    });
                    let io: Box<dyn std::future::Future<Output = Result<(), HttpError>> + Send> =
                        Box::new(async { Ok(()) });
                    Ok((response, io))
                }
                Err(err) => {
                    report(&uri, &err);
                    Err(to_wasi_error(&err))
                }
            }
        })
    }
}

/// Per-request settings: the standard options may only tighten the policy's limits.
fn settings(guard: &Guard, options: Option<&RequestOptions>) -> Settings {
    let limits = &guard.policy().limits;
    let connect = tighten(
        options.and_then(|o| o.connect_timeout),
        limits.connect_timeout,
    );
    let first_byte = tighten(
        options.and_then(|o| o.first_byte_timeout),
        limits.first_byte_timeout,
    );
    let idle = tighten(
        options.and_then(|o| o.between_bytes_timeout),
        limits.read_timeout,
    );
    Settings {
        connect,
        first_byte,
        idle,
        deadline: Instant::now() + limits.request_timeout,
        total: limits.request_timeout,
        max_redirects: 0,
        max_body: limits.max_body_bytes,
        retry: crate::net::http::retry::Retry::NEVER,
        decode: false,
    }
}

/// Puts the reason (and the line that would allow the request) where the
/// operator sees it: the guest only gets a standard error code.
fn report(uri: &str, err: &NetError) {
    match err {
        NetError::Denied(denial) => match &denial.suggestion {
            Some(line) => tracing::warn!(
                "wasi:http request to {uri} denied: {}; to allow it, add {line} to the guest's allow list",
                denial.reason
            ),
            None => tracing::warn!("wasi:http request to {uri} denied: {}", denial.reason),
        },
        NetError::LimitExceeded { name, value } => tracing::warn!(
            "wasi:http request to {uri} stopped: limit {name} ({value}) reached; raise limits.{name} in the guest's policy"
        ),
        other => tracing::info!("wasi:http request to {uri} failed: {other}"),
    }
}

/// The standard error code closest to a [`NetError`].
pub fn to_wasi_error(err: &NetError) -> HttpError {
    match err {
        NetError::Denied(_) => HttpError::HttpRequestDenied,
        NetError::Dns(_) => HttpError::DnsError {
            rcode: None,
            info_code: None,
        },
        NetError::Connect(_) => HttpError::ConnectionRefused,
        NetError::Tls(_) => HttpError::TlsCertificateError,
        NetError::Timeout(TimeoutKind::Connect) => HttpError::ConnectionTimeout,
        NetError::Timeout(_) => HttpError::ConnectionReadTimeout,
        NetError::Closed(_) => HttpError::ConnectionTerminated,
        NetError::LimitExceeded {
            name: "max_connections",
            ..
        } => HttpError::ConnectionLimitReached,
        NetError::LimitExceeded { name, value } => {
            HttpError::InternalError(Some(format!("sandnet limit {name} ({value}) exceeded")))
        }
        NetError::Protocol(_) => HttpError::HttpProtocolError,
        NetError::InvalidArgument(_) => HttpError::HttpRequestUriInvalid,
    }
}

/// A response body counted against the guest's `bytes_in_total` quota; its
/// exchange's `response` audit event is written when it ends, fails or is
/// dropped.
struct CountingBody {
    body: Incoming,
    guard: Arc<Guard>,
    received: u64,
    log: Option<StandardLog>,
}

impl CountingBody {
    /// Writes the `response` event (once), failed with `err` if given.
    fn end_log(&mut self, err: Option<&NetError>) {
        if let Some(log) = self.log.take() {
            log.end(self.received, err);
        }
    }
}

impl Drop for CountingBody {
    fn drop(&mut self) {
        self.end_log(None);
    }
}

impl Body for CountingBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if let Err(err) = self.guard.count_in(len) {
                        self.end_log(Some(&err));
                        return Poll::Ready(Some(Err(to_wasi_error(&err))));
                    }
                    self.received += len;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => {
                if self.log.is_some() {
                    self.end_log(Some(&body_error(&err)));
                }
                Poll::Ready(Some(Err(HttpError::Hyper(err))))
            }
            Poll::Ready(None) => {
                self.end_log(None);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that, if the connection stops reading it early (the server
/// answered before the body ended), keeps draining the guest's remaining writes
/// on a task, for at most `limit`: a standard guest writes its body after the
/// request has started and would otherwise see its writes fail even though
/// the response is fine.
struct DrainOnDrop {
    body: Option<crate::net::http::client::RequestBody>,
    ended: bool,
    limit: std::time::Duration,
}

impl Body for DrainOnDrop {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.body.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(SizeHint::default, Body::size_hint)
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        if let Some(mut body) = self.body.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let limit = self.limit;
            runtime.spawn(async move {
                let _ = tokio::time::timeout(limit, async move {
                    while let Some(Ok(_)) = body.frame().await {}
                })
                .await;
            });
        }
    }
}
