//! HTTP client core behind `sandnet:net/http`: one pooled hyper client per guest
//! whose only way to the network is the guard's connector.
//!
//! This file holds the protocol state (requests, redirects, timeouts, bodies);
//! `http.rs` only translates between these types and the WIT bindings.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use sandnet_policy::{Denial, Limit, Scheme, Target};

use tokio::sync::mpsc;
use url::Url;

use crate::audit::{CacheOutcome, Ongoing};
use crate::error::{NetError, TimeoutKind, find_net_error};
use crate::guard::{ConnectionPermit, Granted, Guard, GuardedSocket};
use crate::net::common::headers::{guest_headers, is_framing};
use crate::net::common::memo::memoised;
use crate::net::common::url::intake;
use crate::net::common::wire;

use super::cache::{Lookup, Recording, ResponseCache, SharedCache, Stored};
use super::completion::{StandardLog, Trail};
use super::decode;
use super::retry::{self, Retry};

/// A response body from the wire as [`ResponseBody`].
fn boxed(body: Incoming) -> ResponseBody {
    body.map_err(|e| -> BoxError { Box::new(e) }).boxed_unsync()
}

/// Locks the guest's cache, shrugging off poisoning (entries stay consistent:
/// every update is a whole insert or remove).
fn lock(cache: &SharedCache) -> std::sync::MutexGuard<'_, ResponseCache> {
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Largest chunk one `read` call hands to the guest.
pub const MAX_READ_CHUNK: u32 = 1024 * 1024;

/// A streamed read gathers further ready frames only while it holds less than
/// this: small frames are joined (one copy, fewer calls), while a frame this
/// large (hyper reads up to about 400 KiB at once) goes to the guest alone,
/// straight from hyper's buffer. It also keeps a read's bytes within a core's
/// cache on their way into guest memory.
pub const GATHER_BELOW: usize = 256 * 1024;
/// Chunks an upload may queue ahead of the connection before `write` waits.
pub const UPLOAD_QUEUE_CHUNKS: usize = 4;
/// How long an idle pooled connection is kept for reuse.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Headers removed when a redirect leaves the original origin.
const CREDENTIAL_HEADERS: [HeaderName; 3] = [
    header::AUTHORIZATION,
    header::COOKIE,
    header::PROXY_AUTHORIZATION,
];

/// The error type of request and response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Request body type: in-memory bytes or a channel fed by the guest.
pub type RequestBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;
/// Response body type: from the wire, possibly recorded for the cache and
/// decoded, or from the cache.
pub type ResponseBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

tokio::task_local! {
    /// The request being sent on this task: its connect timeout and the guard's
    /// decision for it, read by the connector (which hyper calls without
    /// per-request context). A connection is only ever made for a request the
    /// guard granted, to that request's origin.
    static SENDING: Sending;
}

/// What the connector learns of the request it connects for.
#[derive(Debug, Clone)]
struct Sending {
    granted: Granted,
    connect_timeout: Duration,
    /// Until when a new connection may wait for a `max_connections` slot
    /// (`None`: fail at once, as standard `wasi:http` does).
    slot_until: Option<Instant>,
}

/// Per-request timing and size settings, already clamped to the policy.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// TCP + TLS connect timeout.
    pub connect: Duration,
    /// Request sent → response head.
    pub first_byte: Duration,
    /// Idle time allowed between body chunks.
    pub idle: Duration,
    /// The whole exchange must end by then.
    pub deadline: Instant,
    /// The total timeout the deadline came from (for messages).
    pub total: Duration,
    /// Redirects to follow.
    pub max_redirects: u32,
    /// Largest buffered body.
    pub max_body: u64,
    /// How failed attempts are retried.
    pub retry: Retry,
    /// Whether the host asks for compressed responses and decodes them.
    pub decode: bool,
}

/// A request as the guest described it, validated.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// Method.
    pub method: Method,
    /// Absolute http(s) URL.
    pub url: Url,
    /// Guest headers (managed ones rejected).
    pub headers: HeaderMap,
    /// In-memory body, if any.
    pub body: Option<Bytes>,
}

impl RequestSpec {
    /// Validates the guest's pieces: URL scheme, method token, header names and values.
    pub fn new(
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Self, NetError> {
        let method = canonical_method(method)?;
        let url = intake(url, "http", &["http", "https"])?;
        let mut map = HeaderMap::with_capacity(headers.len());
        for (name, value) in guest_headers(headers, &[], "remove it from the request")? {
            map.append(name, value);
        }
        Ok(RequestSpec {
            method,
            url,
            headers: map,
            body: body.map(Bytes::from),
        })
    }
}

/// The method as sent and checked: upper-cased, an RFC 9110 token, never
/// `CONNECT` (a guest cannot open tunnels). HTTP methods are case-sensitive, so a
/// server could treat `get` apart from the `GET` the policy judged; sandnet sends
/// the upper-case form it checked.
pub fn canonical_method(method: &str) -> Result<Method, NetError> {
    let upper = sandnet_policy::canonical_method(method)
        .map_err(|_| NetError::InvalidArgument(format!("invalid method {method:?}")))?;
    let parsed = Method::from_bytes(upper.as_bytes())
        .map_err(|_| NetError::InvalidArgument(format!("invalid method {method:?}")))?;
    if parsed == Method::CONNECT {
        return Err(NetError::InvalidArgument(
            "CONNECT is not supported: a guest cannot open tunnels; use tcp:// or tls:// for raw streams".to_owned(),
        ));
    }
    Ok(parsed)
}

/// Header value bytes → text: each byte one char (Latin-1), so no byte is ever lost
/// and [`latin1_to_bytes`] restores the exact bytes.
pub fn header_text(value: &HeaderValue) -> String {
    match value.to_str() {
        // Visible ASCII (the usual case) reads the same in Latin-1: one copy.
        Ok(ascii) => ascii.to_owned(),
        Err(_) => value.as_bytes().iter().map(|&b| char::from(b)).collect(),
    }
}

/// The response head plus a body still to be read.
#[derive(Debug)]
pub struct Exchange {
    /// Status code.
    pub status: StatusCode,
    /// Reason phrase.
    pub reason: String,
    /// Response headers.
    pub headers: HeaderMap,
    /// The URL that produced the response.
    pub url: Url,
    /// The body, read in bounded chunks.
    pub body: BodyReader,
    /// Attempts made for it (1 unless retried).
    pub attempts: u32,
    /// Whether the guest's cache answered (possibly after a `304` revalidation).
    pub from_cache: bool,
}

/// A response head from the wire for a standard `wasi:http` request, and its
/// open `response` audit event (`None` when the log is off).
#[derive(Debug)]
pub struct StandardResponse {
    /// Head and body.
    pub response: hyper::Response<Incoming>,
    /// The exchange's `response` event, to end with the body.
    pub log: Option<StandardLog>,
}

/// Reads a response body in bounded chunks, under the idle timeout and the
/// exchange's deadline, counting bytes against the guest's quota. Its
/// exchange's `response` audit event is written when the body ends, fails or
/// is dropped, whichever comes first.
pub struct BodyReader {
    body: ResponseBody,
    buf: Bytes,
    done: bool,
    error: Option<NetError>,
    settings: Settings,
    guard: Arc<Guard>,
    received: u64,
    audit: Option<Ongoing>,
}

impl Drop for BodyReader {
    fn drop(&mut self) {
        self.end_audit(None);
    }
}

impl std::fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyReader")
            .field("buffered", &self.buf.len())
            .field("done", &self.done)
            .finish()
    }
}

impl BodyReader {
    /// Waits until bytes, the end, or an error is available. Never fails itself:
    /// an error is kept for the next `read`.
    pub async fn fill(&mut self) {
        if !self.buf.is_empty() || self.done || self.error.is_some() {
            return;
        }
        let now = Instant::now();
        let idle_end = now + self.settings.idle;
        let (until, kind) = if idle_end < self.settings.deadline {
            (idle_end, TimeoutKind::Idle)
        } else {
            (self.settings.deadline, TimeoutKind::Total)
        };
        loop {
            match tokio::time::timeout_at(until.into(), self.body.frame()).await {
                Err(_) => {
                    self.fail(NetError::Timeout(kind));
                    return;
                }
                Ok(None) => {
                    self.done = true;
                    self.end_audit(None);
                    // Let hyper's pool task take the finished connection back
                    // before the guest's next request checks one out.
                    let_pool_take_connection_back().await;
                    return;
                }
                Ok(Some(Err(err))) => {
                    self.fail(body_error(err.as_ref()));
                    return;
                }
                Ok(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    }; // trailers: skipped
                    if data.is_empty() {
                        continue;
                    }
                    let len = data.len() as u64;
                    if let Err(err) = self.guard.count_in(len) {
                        self.fail(err);
                        return;
                    }
                    self.received += len;
                    self.buf = data;
                    return;
                }
            }
        }
    }

    /// Up to `max` bytes; `None` at the end of the body. Waits only for the
    /// first bytes, then hands over what has already arrived, up to `max`:
    /// small network frames are gathered into one piece (fewer calls), a
    /// frame of [`GATHER_BELOW`] or more is handed over as hyper read it (no
    /// copy before the one into guest memory).
    pub async fn read(&mut self, max: usize) -> Result<Option<Bytes>, NetError> {
        self.fill().await;
        if let Some(err) = self.error.take() {
            self.done = true;
            return Err(err);
        }
        if self.buf.is_empty() {
            return Ok(None);
        }
        let max = max.max(1);
        let chunks = self.take_ready(max);
        Ok(Some(join(chunks)))
    }

    /// Takes buffered bytes, then frames that have already arrived (without
    /// waiting), until `max` bytes, or [`GATHER_BELOW`], are taken. An error is
    /// kept for the next `read`; the end of the body is left for `fill` to see.
    fn take_ready(&mut self, max: usize) -> Vec<Bytes> {
        let mut chunks = Vec::new();
        let mut taken = 0;
        loop {
            let take = (max - taken).min(self.buf.len());
            chunks.push(self.buf.split_to(take));
            taken += take;
            if taken >= max.min(GATHER_BELOW) || self.error.is_some() {
                return chunks;
            }
            match self.body.frame().now_or_never() {
                None | Some(None) => return chunks,
                Some(Some(Err(err))) => {
                    self.fail(body_error(err.as_ref()));
                    return chunks;
                }
                Some(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    }; // trailers: skipped
                    let len = data.len() as u64;
                    if let Err(err) = self.guard.count_in(len) {
                        self.fail(err);
                        return chunks;
                    }
                    self.received += len;
                    self.buf = data;
                }
            }
        }
    }

    /// The whole body, refusing more than `max` bytes (`limit_name` in the error).
    pub async fn read_all(&mut self, max: u64, limit_name: Limit) -> Result<Vec<u8>, NetError> {
        let mut out = Vec::new();
        loop {
            self.fill().await;
            if let Some(err) = self.error.take() {
                self.done = true;
                return Err(err);
            }
            if self.buf.is_empty() {
                return Ok(out);
            }
            if out.len() as u64 + self.buf.len() as u64 > max {
                let err = NetError::limit(limit_name, max);
                self.end_audit(Some(&err));
                return Err(err);
            }
            out.extend_from_slice(&self.buf);
            self.buf.clear();
        }
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Keeps `err` for the next `read` and ends the audit event with it.
    fn fail(&mut self, err: NetError) {
        self.end_audit(Some(&err));
        self.error = Some(err);
    }

    /// Writes the exchange's `response` event (once): the bytes received so
    /// far, and `err` if the body failed.
    fn end_audit(&mut self, err: Option<&NetError>) {
        if let Some(mut ongoing) = self.audit.take() {
            ongoing.event().bytes_in = Some(self.received);
            if let Some(err) = err {
                ongoing.fail(err);
            }
            ongoing.end();
        }
    }
}

/// Times the guest's task goes to the back of a current-thread run queue at
/// the end of a body: the connection's task runs, wakes the pool's return
/// task, which runs before the guest's next request.
const POOL_RETURN_YIELDS: u32 = 2;

/// Lets hyper's pool task take a finished connection back before the guest's
/// next request checks one out, so a sequential loop reuses one connection.
///
/// On a current-thread runtime (`sandnet run`) the task requeues itself
/// behind every runnable task ([`POOL_RETURN_YIELDS`] times), which costs no
/// syscall. Elsewhere a self-wake would land in the worker's LIFO slot and run
/// the task again at once, so it uses `yield_now`, which defers the task until
/// the driver has been polled (one `epoll_wait` more per request).
async fn let_pool_take_connection_back() {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let current_thread =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::CurrentThread);
    if !current_thread {
        tokio::task::yield_now().await;
        return;
    }
    let mut left = POOL_RETURN_YIELDS;
    std::future::poll_fn(|cx| {
        if left == 0 {
            return Poll::Ready(());
        }
        left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// An upload body fed by the guest through a bounded channel; counts bytes as
/// the connection takes them.
struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
    sent: Arc<AtomicU64>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(chunk)) => {
                self.sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// The guest's side of a streamed upload.
#[derive(Debug)]
pub struct UploadSender {
    /// Chunks to send; dropping it ends the body.
    pub tx: mpsc::Sender<Bytes>,
    /// Bytes the connection has taken so far.
    pub sent: Arc<AtomicU64>,
}

/// A socket made by the guard, adapted to hyper's I/O traits.
pub struct GuardedIo {
    io: TokioIo<GuardedSocket>,
    _permit: ConnectionPermit,
}

impl Connection for GuardedIo {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for GuardedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for GuardedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

/// hyper's connector: every connection the client opens comes from [`Guard::connect`].
#[derive(Clone)]
struct GuardedConnector {
    guard: Arc<Guard>,
}

impl tower_service::Service<Uri> for GuardedConnector {
    type Response = GuardedIo;
    type Error = NetError;
    type Future = BoxFuture<'static, Result<GuardedIo, NetError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), NetError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let guard = Arc::clone(&self.guard);
        // Read now, while hyper runs this on the sending request's task.
        let sending = SENDING.try_with(Sending::clone);
        Box::pin(async move {
            let target = Target::parse(&uri.to_string())
                .map_err(|e| NetError::InvalidArgument(format!("cannot connect to {uri}: {e}")))?;
            let sending = sending.map_err(|_| {
                NetError::InvalidArgument(format!("no granted request to connect for ({uri})"))
            })?;
            let granted = &sending.granted;
            if !granted.target().same_endpoint(&target) {
                return Err(NetError::InvalidArgument(format!(
                    "connection to {uri} asked for while sending to {}",
                    granted.target()
                )));
            }
            let conn = guard
                .connect_with(granted, sending.connect_timeout, sending.slot_until)
                .await?;
            Ok(GuardedIo {
                io: TokioIo::new(conn.stream),
                _permit: conn.permit,
            })
        })
    }
}

/// One guest's HTTP client. Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct HttpClient {
    guard: Arc<Guard>,
    client: Client<HttpsConnector<GuardedConnector>, RequestBody>,
    /// The guest's private response cache, when its policy asks for one.
    cache: Option<SharedCache>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client whose connections go through `guard`, with TLS from `tls`.
    pub fn new(guard: Arc<Guard>, tls: rustls::ClientConfig) -> Self {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(GuardedConnector {
                guard: Arc::clone(&guard),
            });
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(
                usize::try_from(guard.policy().limits.max_connections).unwrap_or(16),
            )
            .build(https);
        let cache = guard
            .policy()
            .cache
            .map(|bytes| Arc::new(std::sync::Mutex::new(ResponseCache::new(bytes))));
        HttpClient {
            guard,
            client,
            cache,
        }
    }

    /// The guard this client connects through.
    pub fn guard(&self) -> &Arc<Guard> {
        &self.guard
    }

    /// Sends `spec`, following up to `settings.max_redirects` redirects (each hop
    /// checked again) and retrying as `settings.retry` allows, and returns the
    /// response head with its body unread.
    pub async fn send(&self, spec: RequestSpec, settings: Settings) -> Result<Exchange, NetError> {
        retry::send_with_retries(self, spec, settings).await
    }

    /// Attempt `attempt` (1-based) of [`HttpClient::send`]: redirects
    /// followed, no retries. A GET goes through the guest's cache, after the
    /// policy check. The attempt's `response` audit event is written when its
    /// body ends (or at once, if it fails).
    pub async fn send_once(
        &self,
        spec: RequestSpec,
        settings: Settings,
        attempt: u32,
    ) -> Result<Exchange, NetError> {
        let mut trail = Trail::new(&self.guard, attempt);
        match self.follow(spec, settings, &mut trail).await {
            Ok(mut ex) => {
                ex.body.audit = trail.answered(ex.status);
                Ok(ex)
            }
            Err(err) => {
                trail.failed(&err);
                Err(err)
            }
        }
    }

    /// [`HttpClient::send_once`] without the audit event's ends: each hop
    /// granted, the body bytes sent and the cache's part go to `trail`.
    async fn follow(
        &self,
        mut spec: RequestSpec,
        settings: Settings,
        trail: &mut Trail,
    ) -> Result<Exchange, NetError> {
        if settings.decode {
            decode::ask_for_encodings(&mut spec.headers);
        }
        let mut hops = 0;
        loop {
            let granted = self.check(&spec, &settings).await?;
            trail.granted(&self.guard, granted.target(), &spec.method);
            let cache = self
                .cache
                .as_ref()
                .filter(|_| ResponseCache::caches(&spec.method) && spec.body.is_none());
            let key = spec.url.to_string();
            let lookup = cache.map_or(Lookup::Miss, |c| {
                lock(c).lookup(&key, &spec.headers, SystemTime::now())
            });
            if cache.is_some() {
                trail.cache = Some(CacheOutcome::Miss);
            }
            let revalidation = match lookup {
                Lookup::Fresh(stored) => {
                    trail.cache = Some(CacheOutcome::Hit);
                    return Ok(self.cached_exchange(stored, spec, settings));
                }
                Lookup::Revalidate(headers) => Some(RequestSpec {
                    headers,
                    ..spec.clone()
                }),
                Lookup::Miss => None,
            };
            let sent = revalidation.as_ref().unwrap_or(&spec);
            let target = granted.target();
            let body_len = spec.body.as_ref().map_or(0, |b| b.len() as u64);
            request_body_fits(body_len, settings.max_body)?;
            self.guard.count_out(body_len)?;
            trail.sent += body_len;
            let body = match &spec.body {
                Some(bytes) => http_body_util::Full::new(bytes.clone())
                    .map_err(|never| match never {})
                    .boxed_unsync(),
                None => http_body_util::Empty::new()
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            };
            let response = self
                .round_trip(
                    sent,
                    &granted,
                    body,
                    settings,
                    body_len > 0 || spec.body.is_some(),
                )
                .await?;
            let status = response.status();
            if let Some(cache) = cache {
                let now = SystemTime::now();
                if revalidation.is_some()
                    && let Some(stored) = lock(cache).revalidated(
                        &key,
                        &sent.headers,
                        status,
                        response.headers(),
                        now,
                    )
                {
                    trail.cache = Some(CacheOutcome::Revalidated);
                    return Ok(self.cached_exchange(stored, spec, settings));
                }
                if !status.is_redirection()
                    && let Some(policy) = ResponseCache::storable(
                        &key,
                        &sent.headers,
                        status,
                        response.headers(),
                        now,
                    )
                {
                    let (parts, body) = response.into_parts();
                    let headers = parts.headers.clone();
                    let cache = Arc::clone(cache);
                    let store = Box::new(move |body: Bytes| {
                        lock(&cache).store(
                            &key,
                            policy,
                            Stored {
                                status,
                                headers,
                                body,
                            },
                        );
                    });
                    let body = Recording::new(boxed(body), settings.max_body, store);
                    return Ok(self.exchange(parts, body.boxed_unsync(), &spec, settings));
                }
            }
            let location = if status.is_redirection() && settings.max_redirects > 0 {
                response.headers().get(header::LOCATION).cloned()
            } else {
                None
            };
            let Some(location) = location else {
                let (parts, body) = response.into_parts();
                return Ok(self.exchange(parts, boxed(body), &spec, settings));
            };
            let next_url = redirect_target(&spec.url, &location)?;
            if hops == settings.max_redirects {
                // The guest asked to follow redirects: running out of them is
                // an error, not a 3xx handed back as if it were the answer.
                return Err(too_many_redirects(
                    hops,
                    &next_url,
                    self.guard.policy().limits.max_redirects,
                ));
            }
            hops += 1;
            tracing::debug!(from = %spec.url, to = %next_url, %target, "following redirect");
            spec = redirected(spec, status, next_url)?;
        }
    }

    /// Starts a request whose body the guest streams. Redirects are not followed.
    pub fn upload(
        &self,
        spec: RequestSpec,
        total: Option<u64>,
        settings: Settings,
    ) -> Result<
        (
            UploadSender,
            tokio::task::JoinHandle<Result<Exchange, NetError>>,
        ),
        NetError,
    > {
        let mut trail = Trail::new(&self.guard, 1);
        let granted = self.check_now(&spec)?;
        if let Some(total) = total {
            request_body_fits(total, settings.max_body)?;
        }
        trail.granted(&self.guard, granted.target(), &spec.method);
        let (tx, rx) = mpsc::channel(UPLOAD_QUEUE_CHUNKS);
        let sent = Arc::new(AtomicU64::new(0));
        let body = ChannelBody {
            rx,
            sent: Arc::clone(&sent),
        }
        .boxed_unsync();
        let mut spec = spec;
        if let Some(total) = total {
            spec.headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(total));
        }
        let client = self.clone();
        let counted = Arc::clone(&sent);
        let task = tokio::spawn(async move {
            let response = client
                .round_trip(&spec, &granted, body, settings, true)
                .await;
            trail.sent = counted.load(Ordering::Relaxed);
            let response = match response {
                Ok(response) => response,
                Err(err) => {
                    trail.failed(&err);
                    return Err(err);
                }
            };
            let (parts, body) = response.into_parts();
            let mut ex = client.exchange(parts, boxed(body), &spec, settings);
            ex.body.audit = trail.answered(ex.status);
            Ok(ex)
        });
        Ok((UploadSender { tx, sent }, task))
    }

    /// The guard's decision on `spec`, waiting (until the request's deadline)
    /// for the request rate when the policy's `limits_wait` allows.
    async fn check(&self, spec: &RequestSpec, settings: &Settings) -> Result<Granted, NetError> {
        let target = self.target(spec)?;
        self.guard.admit_request(&target, settings.deadline).await
    }

    /// The guard's decision on `spec` without waiting.
    fn check_now(&self, spec: &RequestSpec) -> Result<Granted, NetError> {
        let target = self.target(spec)?;
        self.guard.check_request(&target)
    }

    fn target(&self, spec: &RequestSpec) -> Result<Target, NetError> {
        http_target(spec.url.as_str(), &spec.method)
    }

    /// Sends one request: the request line is built from the CHECKED `target`
    /// (canonical path, the guest's query), never from the guest's raw URL.
    async fn round_trip(
        &self,
        spec: &RequestSpec,
        granted: &Granted,
        body: RequestBody,
        settings: Settings,
        has_body: bool,
    ) -> Result<hyper::Response<Incoming>, NetError> {
        let uri = wire::absolute_uri(granted.target(), spec.url.query())?;
        let mut request = hyper::Request::builder()
            .method(spec.method.clone())
            .uri(uri);
        if let Some(headers) = request.headers_mut() {
            headers.extend(spec.headers.clone());
            if !has_body && matches!(spec.method, Method::POST | Method::PUT | Method::PATCH) {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
            }
        }
        let request = request
            .body(body)
            .map_err(|e| NetError::InvalidArgument(format!("cannot build request: {e}")))?;
        self.dispatch(request, granted, settings, true).await
    }

    /// Sends a request a standard interface (`wasi:http/outgoing-handler`) built:
    /// checked by the guard like every other request (no redirects followed),
    /// connected through the guarded connector. Returns the response head with
    /// its body unread, and the exchange's open `response` audit event.
    pub async fn send_standard(
        &self,
        request: hyper::Request<RequestBody>,
        settings: Settings,
    ) -> Result<StandardResponse, NetError> {
        let mut trail = Trail::new(&self.guard, 1);
        let (mut parts, body) = request.into_parts();
        let method = canonical_method(parts.method.as_str())?;
        let uri = parts.uri.to_string();
        let target = http_target(&uri, &method)?;
        for name in parts.headers.keys() {
            if is_framing(name) && *name != header::HOST && *name != header::CONTENT_LENGTH {
                return Err(NetError::InvalidArgument(format!(
                    "header {name:?} is set by the host; remove it from the request"
                )));
            }
        }
        let granted = self.guard.check_request(&target)?;
        let declared = http_body::Body::size_hint(&body).exact().or_else(|| {
            parts
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse().ok())
        });
        if let Some(len) = declared {
            request_body_fits(len, settings.max_body)?;
        }
        // What goes out is what was checked: the method as judged, the canonical
        // path, and a Host header without user info.
        parts.uri = wire::absolute_uri(&target, parts.uri.query())?;
        parts.method = method;
        let host = HeaderValue::from_str(&wire::authority(&target))
            .map_err(|e| NetError::InvalidArgument(format!("invalid host in {uri}: {e}")))?;
        parts.headers.insert(header::HOST, host);
        trail.granted(&self.guard, granted.target(), &parts.method);
        // The body's bytes are tallied for the audit event only when it is on.
        let tally = self
            .guard
            .audit()
            .enabled()
            .then(|| Arc::new(AtomicU64::new(0)));
        let body = GuardedRequestBody {
            body,
            guard: Arc::clone(&self.guard),
            max: settings.max_body,
            sent: 0,
            tally: tally.clone(),
        }
        .boxed_unsync();
        let request = hyper::Request::from_parts(parts, body);
        match self.dispatch(request, &granted, settings, false).await {
            Ok(response) => {
                let log = trail
                    .answered(response.status())
                    .zip(tally)
                    .map(|(ongoing, sent)| StandardLog::new(ongoing, sent));
                Ok(StandardResponse { response, log })
            }
            Err(err) => {
                trail.sent = tally.map_or(0, |t| t.load(Ordering::Relaxed));
                trail.failed(&err);
                Err(err)
            }
        }
    }

    /// Sends a request the guard granted; its connection, if a new one is
    /// needed, is made for exactly that decision. With `wait_for_slot`, a new
    /// connection may wait for a `max_connections` slot until the head is due
    /// (when the policy's `limits_wait` allows).
    async fn dispatch(
        &self,
        mut request: hyper::Request<RequestBody>,
        granted: &Granted,
        settings: Settings,
        wait_for_slot: bool,
    ) -> Result<hyper::Response<Incoming>, NetError> {
        // Each hop's own grant decides its secrets: a redirect that leaves the rule drops them.
        granted.credentials().inject(request.headers_mut())?;
        let now = Instant::now();
        let head_by = now + settings.first_byte + settings.connect;
        let (until, kind) = if head_by < settings.deadline {
            (head_by, TimeoutKind::FirstByte)
        } else {
            (settings.deadline, TimeoutKind::Total)
        };
        let sending = Sending {
            granted: granted.clone(),
            connect_timeout: settings.connect,
            slot_until: wait_for_slot.then_some(until),
        };
        let fut = SENDING.scope(sending, self.client.request(request));
        match tokio::time::timeout_at(until.into(), fut).await {
            Err(_) => Err(NetError::Timeout(kind)),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(err)) => Err(classify_client_error(&err)),
        }
    }

    /// The answer to `spec` from the guest's cache.
    fn cached_exchange(&self, stored: Stored, spec: RequestSpec, settings: Settings) -> Exchange {
        let mut response = http::Response::new(());
        *response.status_mut() = stored.status;
        *response.headers_mut() = stored.headers;
        let body = http_body_util::Full::new(stored.body)
            .map_err(|never| match never {})
            .boxed_unsync();
        let mut ex = self.exchange(response.into_parts().0, body, &spec, settings);
        ex.from_cache = true;
        ex
    }

    /// The exchange for a response head and body to `spec`; the body is
    /// decoded when the guest asked for it and the response has one.
    fn exchange(
        &self,
        parts: http::response::Parts,
        body: ResponseBody,
        spec: &RequestSpec,
        settings: Settings,
    ) -> Exchange {
        let reason = parts
            .extensions
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .or_else(|| parts.status.canonical_reason().map(str::to_owned))
            .unwrap_or_default();
        let mut headers = parts.headers;
        let has_body = spec.method != Method::HEAD
            && !matches!(
                parts.status,
                StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
            );
        let body = match decode::codings(&headers) {
            Some(codings) if settings.decode && has_body => {
                decode::decode(body, &codings, &mut headers)
            }
            _ => body,
        };
        Exchange {
            status: parts.status,
            reason,
            headers,
            url: spec.url.clone(),
            attempts: 1,
            from_cache: false,
            body: BodyReader {
                body,
                buf: Bytes::new(),
                done: false,
                error: None,
                settings,
                guard: Arc::clone(&self.guard),
                received: 0,
                audit: None,
            },
        }
    }
}

/// The policy target of an http(s) `url` sent with `method` (both
/// interfaces); any other scheme is an invalid argument.
fn http_target(url: &str, method: &Method) -> Result<Target, NetError> {
    let target = parse_target(url)
        .map_err(|e| NetError::InvalidArgument(format!("invalid URL {url}: {e}")))?
        .with_method(method.as_str());
    if !matches!(target.scheme, Scheme::Http | Scheme::Https) {
        return Err(NetError::InvalidArgument(format!(
            "{url} is not an http(s) URL"
        )));
    }
    Ok(target)
}

memoised! {
    /// `Target::parse` of an http(s) URL, memoised per thread (see
    /// [`crate::net::common::memo`]); the policy check still runs per request.
    fn parse_target(text: &str) -> Result<Target, sandnet_policy::TargetError> { Target::parse(text) }
}

/// What a guest sees when the response body fails: `denied` for a
/// connection a policy reload revoked (whichever read meets it first), else
/// `protocol-error`.
pub(crate) fn body_error(err: &(dyn std::error::Error + 'static)) -> NetError {
    find_net_error(err).unwrap_or_else(|| NetError::Protocol(format!("response body: {err}")))
}

/// The bytes of `chunks` in one piece: a lone chunk as it is, several copied
/// once into a buffer allocated at their total.
fn join(mut chunks: Vec<Bytes>) -> Bytes {
    if chunks.len() == 1 {
        return chunks.remove(0);
    }
    let mut out = Vec::with_capacity(chunks.iter().map(Bytes::len).sum());
    for chunk in &chunks {
        out.extend_from_slice(chunk);
    }
    Bytes::from(out)
}

/// `limit-exceeded` (`max_body_bytes`) when a request body of `len` bytes is
/// larger than the cap; checked before anything is sent when the length is known.
fn request_body_fits(len: u64, max: u64) -> Result<(), NetError> {
    if len > max {
        return Err(NetError::limit(Limit::MaxBodyBytes, max));
    }
    Ok(())
}

/// A request body a standard guest streams, counted frame by frame against
/// `bytes_out_total` and capped at `max_body_bytes`, chunked or not: the same
/// limits as `sandnet:net/http` uploads.
struct GuardedRequestBody {
    body: RequestBody,
    guard: Arc<Guard>,
    max: u64,
    sent: u64,
    /// Bytes taken, for the audit event (only when the log is on).
    tally: Option<Arc<AtomicU64>>,
}

impl Body for GuardedRequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let len = data.len() as u64;
            self.sent = self.sent.saturating_add(len);
            let checked =
                request_body_fits(self.sent, self.max).and_then(|()| self.guard.count_out(len));
            if let Err(err) = checked {
                return Poll::Ready(Some(Err(Box::new(err))));
            }
            if let Some(tally) = &self.tally {
                tally.fetch_add(len, Ordering::Relaxed);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Resolves a `Location` header against the current URL.
/// The error for a redirect chain longer than the guest's `max-redirects`
/// (`followed` hops already taken), naming the cap and the next hop.
fn too_many_redirects(followed: u32, next: &Url, policy_cap: u32) -> NetError {
    NetError::Protocol(format!(
        "too many redirects: followed {followed} (max-redirects {followed}) and the next hop is {next}; ask for more max-redirects (the policy allows up to {policy_cap}, limits.max_redirects)"
    ))
}

fn redirect_target(current: &Url, location: &HeaderValue) -> Result<Url, NetError> {
    let text = std::str::from_utf8(location.as_bytes()).map_err(|_| {
        NetError::Protocol(format!("redirect from {current} has a non-UTF-8 Location"))
    })?;
    current.join(text).map_err(|e| {
        NetError::Protocol(format!(
            "redirect from {current} to invalid Location {text:?}: {e}"
        ))
    })
}

/// The request for the next hop: method and body per the status code,
/// https→http refused, credentials dropped when the origin changes.
fn redirected(
    mut spec: RequestSpec,
    status: StatusCode,
    next: Url,
) -> Result<RequestSpec, NetError> {
    if !next.username().is_empty() || next.password().is_some() {
        return Err(NetError::Protocol(format!(
            "redirect from {} to a URL carrying credentials refused",
            spec.url
        )));
    }
    if spec.url.scheme() == "https" && next.scheme() != "https" {
        return Err(NetError::Denied(Denial {
            reason: format!(
                "redirect from {} to {next} refused: https to http downgrade",
                spec.url
            ),
            suggestion: None,
            rule: None,
        }));
    }
    if spec.url.origin() != next.origin() {
        for name in &CREDENTIAL_HEADERS {
            spec.headers.remove(name);
        }
    }
    let keeps_method = matches!(
        status,
        StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
    );
    if !(keeps_method || spec.method == Method::GET || spec.method == Method::HEAD) {
        spec.method = Method::GET;
        spec.body = None;
        spec.headers.remove(header::CONTENT_TYPE);
    }
    spec.url = next;
    Ok(spec)
}

/// Maps hyper's client error to what the guest can act on: the guard's own
/// error if it made one, else TLS, connect or protocol.
fn classify_client_error(err: &hyper_util::client::legacy::Error) -> NetError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(net) = e.downcast_ref::<NetError>() {
            return net.clone();
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return NetError::Tls(crate::net::common::tls::describe_tls_error(tls));
        }
        // hyper-rustls wraps tokio-rustls's io::Error in another io::Error:
        // step down through every layer.
        let mut io = e.downcast_ref::<std::io::Error>();
        while let Some(inner) = io.and_then(std::io::Error::get_ref) {
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return NetError::Tls(crate::net::common::tls::describe_tls_error(tls));
            }
            if let Some(net) = inner.downcast_ref::<NetError>() {
                return net.clone();
            }
            io = inner.downcast_ref::<std::io::Error>();
        }
        cur = e.source();
    }
    let detail = error_chain(err);
    if err.is_connect() {
        NetError::Connect(detail)
    } else {
        NetError::Protocol(detail)
    }
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cur = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::common::headers::latin1_to_bytes;

    fn spec(method: &str, url: &str, headers: &[(&str, &str)]) -> RequestSpec {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        RequestSpec::new(method, url, &headers, Some(b"x".to_vec())).unwrap()
    }

    #[test]
    fn redirect_drops_credentials_across_origins_only() {
        let s = spec(
            "GET",
            "http://a.test/x",
            &[("authorization", "t"), ("cookie", "c"), ("x-other", "o")],
        );
        let same = redirected(
            s.clone(),
            StatusCode::FOUND,
            Url::parse("http://a.test/y").unwrap(),
        )
        .unwrap();
        assert!(same.headers.contains_key("authorization"));
        let other =
            redirected(s, StatusCode::FOUND, Url::parse("http://b.test/y").unwrap()).unwrap();
        assert!(!other.headers.contains_key("authorization"));
        assert!(!other.headers.contains_key("cookie"));
        assert!(other.headers.contains_key("x-other"));
    }

    #[test]
    fn redirect_refuses_credentials_in_location() {
        let s = spec("GET", "http://a.test/x", &[]);
        let err = redirected(
            s,
            StatusCode::FOUND,
            Url::parse("http://u:p@a.test/y").unwrap(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("credentials"), "{err}");
    }

    #[test]
    fn redirect_refuses_https_to_http() {
        let s = spec("GET", "https://a.test/x", &[]);
        let err =
            redirected(s, StatusCode::FOUND, Url::parse("http://a.test/y").unwrap()).unwrap_err();
        assert!(
            matches!(&err, NetError::Denied(d) if d.reason.contains("https to http")),
            "{err}"
        );
    }

    #[test]
    fn redirect_method_rules() {
        let post = spec("POST", "http://a.test/x", &[]);
        let r303 = redirected(
            post.clone(),
            StatusCode::SEE_OTHER,
            Url::parse("http://a.test/y").unwrap(),
        )
        .unwrap();
        assert_eq!((r303.method, r303.body), (Method::GET, None));
        let r307 = redirected(
            post,
            StatusCode::TEMPORARY_REDIRECT,
            Url::parse("http://a.test/y").unwrap(),
        )
        .unwrap();
        assert_eq!(r307.method, Method::POST);
        assert!(r307.body.is_some());
    }

    #[test]
    fn managed_and_invalid_headers_rejected() {
        for (name, value) in [
            ("host", "x"),
            ("Content-Length", "1"),
            ("bad name", "v"),
            ("x", "a\nb"),
        ] {
            let headers = vec![(name.to_owned(), value.to_owned())];
            let err = RequestSpec::new("GET", "http://a.test/", &headers, None).unwrap_err();
            assert!(
                matches!(err, NetError::InvalidArgument(_)),
                "{name:?}: {err}"
            );
        }
        let err = RequestSpec::new("GET", "http://user:secret@a.test/", &[], None).unwrap_err();
        assert!(
            err.to_string().contains("authorization header") && !err.to_string().contains("secret"),
            "{err}"
        );
        let err = RequestSpec::new("CONNECT", "http://a.test/", &[], None).unwrap_err();
        assert!(matches!(err, NetError::InvalidArgument(_)), "{err}");
        let err = RequestSpec::new("GET", "ftp://a.test/", &[], None).unwrap_err();
        assert!(err.to_string().contains("\"ftp\""), "{err}");
    }

    #[test]
    fn header_values_round_trip_latin1() {
        let value = HeaderValue::from_bytes(&[b'a', 0xe9, 0xff]).unwrap();
        let text = header_text(&value);
        assert_eq!(latin1_to_bytes(&text), vec![b'a', 0xe9, 0xff]);
        let ascii = HeaderValue::from_static("text/html;\tq=0.9");
        assert_eq!(header_text(&ascii), "text/html;\tq=0.9");
        assert_eq!(latin1_to_bytes(&header_text(&ascii)), ascii.as_bytes());
    }
}
