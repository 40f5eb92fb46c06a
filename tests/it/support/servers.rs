//! Loopback test servers, each on 127.0.0.1:0 with its own tokio runtime and
//! stopped when dropped: HTTP(S) with the test routes ([`Server`]), WebSocket
//! ([`WsServer`]), event streams ([`SseServer`]), TCP lines ([`LineServer`]),
//! all on one accept loop ([`Loopback`]); and a UDP echo peer.

use std::convert::Infallible;
use std::fmt;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};

use super::tls::TestCa;

/// Locks `m`, shrugging off poisoning (a failed test thread must not hide the log).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------
// The accept loop every server shares

/// A byte stream a test server speaks on (TCP or TLS).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What a server does with connection N (numbered from 1), after TLS.
pub type Handler = Arc<dyn Fn(usize, Box<dyn Io>) -> BoxFuture<'static, ()> + Send + Sync>;

/// A listener on 127.0.0.1:0 with its own runtime that hands each accepted
/// connection (after the TLS handshake, with `tls`) to a handler.
pub struct Loopback {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    accepted_at: Arc<Mutex<Vec<Instant>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl fmt::Debug for Loopback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loopback")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Loopback {
    /// Binds 127.0.0.1:0 and serves every connection with `handler`.
    pub fn start(tls: Option<Arc<rustls::ServerConfig>>, handler: Handler) -> Loopback {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("server runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted_at: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let (count, at) = (Arc::clone(&connections), Arc::clone(&accepted_at));
        runtime.spawn(async move {
            let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                lock(&at).push(Instant::now());
                let (handler, acceptor) = (Arc::clone(&handler), acceptor.clone());
                tokio::spawn(async move {
                    let io: Box<dyn Io> = match acceptor {
                        Some(acceptor) => match acceptor.accept(stream).await {
                            Ok(tls) => Box::new(tls),
                            Err(_) => return,
                        },
                        None => Box::new(stream),
                    };
                    handler(n, io).await;
                });
            }
        });
        Loopback {
            addr,
            connections,
            accepted_at,
            runtime: Some(runtime),
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// When each connection was accepted, in order.
    pub fn accepted_at(&self) -> Vec<Instant> {
        lock(&self.accepted_at).clone()
    }
}

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A free UDP port on this machine (bound and released; the kernel does not
/// hand it out again right away).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.local_addr())
        .expect("bind 0.0.0.0:0")
        .port()
}

// ---------------------------------------------------------------------------
// HTTP(S) with the test routes

/// A plain or TLS HTTP/1.1 server with the test routes (see [`route`]).
#[derive(Debug)]
pub struct Server {
    listener: Loopback,
    scheme: &'static str,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(scheme: &'static str, tls: Option<Arc<rustls::ServerConfig>>, answer: bool) -> Server {
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = Arc::clone(&log);
        let listener = Loopback::start(
            tls,
            Arc::new(move |_, io| {
                let log = Arc::clone(&seen);
                Box::pin(async move {
                    if !answer {
                        // A black hole: accept, never answer, never close.
                        let _held = io;
                        return futures::future::pending::<()>().await;
                    }
                    let service = service_fn(move |req| route(req, Arc::clone(&log)));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(io), service)
                        .await;
                })
            }),
        );
        Server {
            listener,
            scheme,
            log,
        }
    }

    /// A plain HTTP/1.1 server with the test routes.
    pub fn http() -> Server {
        Server::start("http", None, true)
    }

    /// An HTTPS server whose certificate (for 127.0.0.1 and localhost) `ca` signed.
    pub fn https(ca: &TestCa) -> Server {
        Server::start("https", Some(ca.https_config()), true)
    }

    /// An HTTPS server speaking HTTP/2 only (ALPN `h2`), certificate from `ca`,
    /// with the test routes.
    pub fn h2(ca: &TestCa) -> Server {
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = Arc::clone(&log);
        let listener = Loopback::start(
            Some(ca.h2_config()),
            Arc::new(move |_, io| {
                let log = Arc::clone(&seen);
                Box::pin(async move {
                    let service = service_fn(move |req| route(req, Arc::clone(&log)));
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(TokioIo::new(io), service)
                    .await;
                })
            }),
        );
        Server {
            listener,
            scheme: "https",
            log,
        }
    }

    /// Accepts connections and never sends a byte (for first-byte timeouts).
    pub fn black_hole() -> Server {
        Server::start("http", None, false)
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.listener.port()
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.listener.addr()
    }

    /// `scheme://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}://127.0.0.1:{}{path}", self.scheme, self.port())
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.listener.connections()
    }

    /// When each connection was accepted, in order.
    pub fn accepted_at(&self) -> Vec<Instant> {
        self.listener.accepted_at()
    }

    /// HTTP requests served so far.
    pub fn requests(&self) -> usize {
        lock(&self.log).len()
    }

    /// `METHOD path?query` of every request served, in order.
    pub fn seen(&self) -> Vec<String> {
        lock(&self.log).clone()
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

fn json(body: String) -> Response<Full<Bytes>> {
    let mut response = text(StatusCode::OK, body);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The barriers of `/barrier?key=K&n=N`, by key (keys are unique per test).
static BARRIERS: std::sync::LazyLock<
    Mutex<std::collections::HashMap<String, Arc<tokio::sync::Barrier>>>,
> = std::sync::LazyLock::new(Mutex::default);

/// The test routes:
/// - `/ok` (and anything under `/ok/`): 200 `hello`
/// - `/echo`: 200 `METHOD BODY`, with an `x-method` header
/// - `/status/N`: status N, body `status N`
/// - `/redirect?to=URL`: 302 to URL
/// - `/big?n=BYTES`: 200 with BYTES bytes of `x`
/// - `/headers`: 200, the request headers as `name: value` lines
/// - `/json`: 200 `{"hello":"world","n":3}` as application/json
/// - `/json-echo`: `{"n": N}` in, `{"n": N+1, "content_type": ...}` out
/// - `/reflect-header`: 200 with `x-reflected` = the request's `x-conformance`
/// - `/delay?ms=N`: 200 `late` after N ms
/// - `/count`: 200, the request body's length in bytes
/// - `/barrier?key=K&n=N`: 200 `together` once N requests for K are waiting
/// - `/slow?ms=N`: 200 `slow` after N milliseconds (the connection is
///   accepted at once), for tests that time concurrent requests
/// - `/flaky?fail=N[&after=S]`: the first N identical requests get 503 (with
///   `Retry-After: S` when given), later ones 200 `recovered`
/// - `/encoded?coding=C&n=BYTES`: BYTES zero bytes coded with C (gzip,
///   deflate, br or zstd), with `content-encoding: C`
/// - `/cached?max-age=N`: 200 `cached body` with `cache-control: max-age=N`
///   and `etag: "v1"`; 304 when the request says `if-none-match: "v1"`
/// - `/version`: 200, the request's HTTP version (`HTTP/1.1`, `HTTP/2.0`)
/// - `/multipart`: parses a `multipart/form-data` body (with `multer`) and
///   answers one line per part: `NAME FILENAME CONTENT-TYPE BYTES CHECK`
///   (`-` for absent ones; CHECK is the text of a field, spaces as `_`, else
///   what the file holds: see [`file_check`]); 400 if it does not parse
async fn route(
    req: Request<Incoming>,
    log: Arc<Mutex<Vec<String>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let entry = if query.is_empty() {
        format!("{method} {path}")
    } else {
        format!("{method} {path}?{query}")
    };
    let seen_before = {
        let mut log = lock(&log);
        let n = log.iter().filter(|e| **e == entry).count();
        log.push(entry);
        n
    };
    let version = req.version();
    let headers = req.headers().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();

    let response = if path == "/ok" || path.starts_with("/ok/") {
        text(StatusCode::OK, "hello")
    } else if path == "/echo" {
        let mut echoed = format!("{method} ").into_bytes();
        echoed.extend_from_slice(&body);
        let mut response = text(StatusCode::OK, echoed);
        response.headers_mut().insert(
            "x-method",
            method
                .as_str()
                .parse::<hyper::header::HeaderValue>()
                .expect("method is a header value"),
        );
        response
    } else if let Some(code) = path.strip_prefix("/status/") {
        match code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
        {
            Some(status) => text(status, format!("status {}", status.as_u16())),
            None => text(StatusCode::BAD_REQUEST, "bad status"),
        }
    } else if path == "/redirect" {
        match query_param(&query, "to") {
            Some(to) => {
                let mut response = text(StatusCode::FOUND, "");
                match to.parse::<hyper::header::HeaderValue>() {
                    Ok(location) => {
                        response
                            .headers_mut()
                            .insert(hyper::header::LOCATION, location);
                        response
                    }
                    Err(_) => text(StatusCode::BAD_REQUEST, "bad to"),
                }
            }
            None => text(StatusCode::BAD_REQUEST, "missing ?to="),
        }
    } else if path == "/big" {
        let n = query_param(&query, "n")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        text(StatusCode::OK, vec![b'x'; n])
    } else if path == "/json" {
        json(r#"{"hello":"world","n":3}"#.to_owned())
    } else if path == "/json-echo" {
        // {"n": N} in, {"n": N+1, "content_type": the request's} out.
        let n = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("n").and_then(serde_json::Value::as_i64));
        let content_type = headers
            .get(hyper::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        match n {
            Some(n) => {
                json(serde_json::json!({"n": n + 1, "content_type": content_type}).to_string())
            }
            None => text(StatusCode::BAD_REQUEST, "expected {\"n\": NUMBER}"),
        }
    } else if path == "/reflect-header" {
        let mut response = text(StatusCode::OK, "");
        if let Some(value) = headers.get("x-conformance") {
            response.headers_mut().insert("x-reflected", value.clone());
        }
        response
    } else if path == "/delay" {
        let ms = query_param(&query, "ms")
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        text(StatusCode::OK, "late")
    } else if path == "/barrier" {
        // Answers only once `n` requests with the same `key` are waiting
        // together: a guest that sends them one after another never gets
        // its first answer (and times out).
        let key = query_param(&query, "key").unwrap_or_default();
        let n = query_param(&query, "n")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(2);
        let barrier = {
            let mut barriers = lock(&BARRIERS);
            Arc::clone(
                barriers
                    .entry(key)
                    .or_insert_with(|| Arc::new(tokio::sync::Barrier::new(n))),
            )
        };
        barrier.wait().await;
        text(StatusCode::OK, "together")
    } else if path == "/count" {
        text(StatusCode::OK, body.len().to_string())
    } else if path == "/slow" {
        let ms = query_param(&query, "ms")
            .and_then(|ms| ms.parse::<u64>().ok())
            .unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        text(StatusCode::OK, "slow")
    } else if path == "/flaky" {
        let fail = query_param(&query, "fail")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        if seen_before < fail {
            let mut response = text(StatusCode::SERVICE_UNAVAILABLE, "try again");
            if let Some(after) = query_param(&query, "after")
                .and_then(|a| a.parse::<hyper::header::HeaderValue>().ok())
            {
                response.headers_mut().insert("retry-after", after);
            }
            response
        } else {
            text(StatusCode::OK, "recovered")
        }
    } else if path == "/encoded" {
        let n = query_param(&query, "n")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        let coding = query_param(&query, "coding").unwrap_or_default();
        match encode(&coding, &vec![0u8; n]).await {
            Some(coded) => {
                let mut response = text(StatusCode::OK, coded);
                response.headers_mut().insert(
                    "content-encoding",
                    coding.parse().expect("coding is a header value"),
                );
                response
            }
            None => text(StatusCode::BAD_REQUEST, "unknown coding"),
        }
    } else if path == "/cached" {
        let max_age = query_param(&query, "max-age").unwrap_or_else(|| "60".to_owned());
        let mut response = if headers
            .get("if-none-match")
            .is_some_and(|v| v.as_bytes() == b"\"v1\"")
        {
            text(StatusCode::NOT_MODIFIED, "")
        } else {
            text(StatusCode::OK, "cached body")
        };
        let h = response.headers_mut();
        h.insert("etag", "\"v1\"".parse().expect("etag"));
        h.insert(
            "cache-control",
            format!("max-age={max_age}").parse().expect("cache-control"),
        );
        response
    } else if path == "/multipart" {
        match parse_multipart(&headers, body).await {
            Ok(listing) => text(StatusCode::OK, listing),
            Err(err) => text(StatusCode::BAD_REQUEST, format!("bad multipart: {err}")),
        }
    } else if path == "/version" {
        text(StatusCode::OK, format!("{version:?}"))
    } else if path == "/headers" {
        let mut out = String::new();
        for (name, value) in &headers {
            out.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        text(StatusCode::OK, out)
    } else {
        text(StatusCode::NOT_FOUND, "not found")
    };
    Ok(response)
}

/// One line per part of a `multipart/form-data` body (see [`route`]).
async fn parse_multipart(headers: &hyper::HeaderMap, body: Bytes) -> Result<String, multer::Error> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multer::parse_boundary(content_type)?;
    let stream = futures::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut out = String::new();
    while let Some(field) = form.next_field().await? {
        let name = field.name().unwrap_or("-").to_owned();
        let file = field.file_name().map(str::to_owned);
        let kind = field
            .content_type()
            .map_or_else(|| "-".to_owned(), |m| m.to_string());
        let data = field.bytes().await?;
        let check = match &file {
            None => String::from_utf8_lossy(&data).replace(' ', "_"),
            Some(f) => file_check(f, &data).to_owned(),
        };
        out.push_str(&format!(
            "{name} {} {kind} {} {check}\n",
            file.as_deref().unwrap_or("-"),
            data.len()
        ));
    }
    Ok(out)
}

/// What a file part holds: `true` if every byte is the first letter of its
/// file name, `i%251` if byte i is `i % 251` (a pattern that shows a lost,
/// repeated or misplaced chunk), else `false`.
fn file_check(file_name: &str, data: &[u8]) -> &'static str {
    let first = file_name.bytes().next().unwrap_or(0);
    if data.iter().all(|&b| b == first) {
        "true"
    } else if data
        .iter()
        .enumerate()
        .all(|(i, &b)| usize::from(b) == i % 251)
    {
        "i%251"
    } else {
        "false"
    }
}

/// `data` coded with `coding` (gzip, deflate, br or zstd), by the same
/// codec library the host decodes with; `None` for another coding.
async fn encode(coding: &str, data: &[u8]) -> Option<Vec<u8>> {
    use async_compression::tokio::bufread as enc;
    let mut out = Vec::new();
    let read = match coding {
        "gzip" => enc::GzipEncoder::new(data).read_to_end(&mut out).await,
        "deflate" => enc::ZlibEncoder::new(data).read_to_end(&mut out).await,
        "br" => enc::BrotliEncoder::new(data).read_to_end(&mut out).await,
        "zstd" => enc::ZstdEncoder::new(data).read_to_end(&mut out).await,
        _ => return None,
    };
    read.ok()?;
    Some(out)
}

// ---------------------------------------------------------------------------
// WebSocket

/// Lines a WebSocket server logs as it goes.
pub type Log = Arc<Mutex<Vec<String>>>;

/// A WebSocket server; its handler gets each connection before the handshake.
#[derive(Debug)]
pub struct WsServer {
    listener: Loopback,
    log: Log,
}

impl WsServer {
    /// Serves connection N (from 1) with `handler(N, io, log)`.
    pub fn start<F>(tls: Option<Arc<rustls::ServerConfig>>, handler: F) -> WsServer
    where
        F: Fn(usize, Box<dyn Io>, Log) -> BoxFuture<'static, ()> + Send + Sync + 'static,
    {
        let log: Log = Arc::default();
        let shared = Arc::clone(&log);
        let listener = Loopback::start(
            tls,
            Arc::new(move |n, io| handler(n, io, Arc::clone(&shared))),
        );
        WsServer { listener, log }
    }

    /// The scripted server (see [`scripted`]).
    pub fn plain() -> WsServer {
        WsServer::start(None, |n, io, log| Box::pin(scripted(n, io, log)))
    }

    /// The scripted server over TLS with the test CA's certificate.
    pub fn tls(ca: &TestCa) -> WsServer {
        WsServer::start(Some(ca.server_config()), |n, io, log| {
            Box::pin(scripted(n, io, log))
        })
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.listener.port()
    }

    /// `scheme://127.0.0.1:PORT` + `path`.
    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.port())
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.listener.connections()
    }

    /// When each connection was accepted.
    pub fn accepted_at(&self) -> Vec<Instant> {
        self.listener.accepted_at()
    }

    /// What the handlers logged so far.
    pub fn log(&self) -> Vec<String> {
        lock(&self.log).clone()
    }
}

/// Handshake, then per text message: `frag` → "hello world" in three
/// fragments with a ping between them; `badutf8` → a text frame of invalid
/// UTF-8; `send-big N` → N bytes binary; `close-me` → close 4000
/// "requested"; `drop` → drops the TCP connection; `mute` → never reads or
/// writes again (no pongs); anything else is echoed. Every message and close
/// received is logged as `N: text X` / `N: binary LEN` / `N: close CODE REASON`.
/// Connections after the first are greeted with `welcome N`.
pub async fn scripted(n: usize, io: Box<dyn Io>, log: Log) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(io).await else {
        return;
    };
    if n > 1 {
        let _ = ws.send(Message::text(format!("welcome {n}"))).await;
    }
    while let Some(Ok(msg)) = ws.next().await {
        match msg {
            Message::Text(text) => {
                lock(&log).push(format!("{n}: text {text}"));
                let text = text.as_str();
                if text == "frag" {
                    let frames = [
                        Frame::message(Bytes::from("hel"), OpCode::Data(Data::Text), false),
                        Frame::message(Bytes::from("lo wor"), OpCode::Data(Data::Continue), false),
                    ];
                    for f in frames {
                        ws.send(Message::Frame(f)).await.expect("send fragment");
                    }
                    ws.send(Message::Ping(Bytes::from("between")))
                        .await
                        .expect("send ping");
                    let last =
                        Frame::message(Bytes::from("ld"), OpCode::Data(Data::Continue), true);
                    ws.send(Message::Frame(last)).await.expect("send fragment");
                } else if text == "badutf8" {
                    let bad = Frame::message(
                        Bytes::from_static(&[b'a', 0xff, 0xfe]),
                        OpCode::Data(Data::Text),
                        true,
                    );
                    ws.send(Message::Frame(bad)).await.expect("send frame");
                } else if let Some(len) = text.strip_prefix("send-big ") {
                    let len: usize = len.parse().expect("send-big LEN");
                    let _ = ws.send(Message::binary(vec![b'y'; len])).await;
                } else if text == "close-me" {
                    let frame = CloseFrame {
                        code: CloseCode::from(4000),
                        reason: "requested".into(),
                    };
                    let _ = ws.close(Some(frame)).await;
                } else if text == "drop" {
                    return;
                } else if text == "mute" {
                    futures::future::pending::<()>().await;
                } else {
                    let _ = ws.send(Message::Text(text.into())).await;
                }
            }
            Message::Binary(data) => {
                lock(&log).push(format!("{n}: binary {}", data.len()));
                let _ = ws.send(Message::Binary(data)).await;
            }
            Message::Close(frame) => {
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                });
                lock(&log).push(format!("{n}: close {code} {reason}"));
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Server-sent events

/// What an [`SseServer`] saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    /// When the request head was complete.
    pub at: Instant,
    /// The request-target.
    pub path: String,
    /// The `Last-Event-ID` header, if sent.
    pub last_event_id: Option<String>,
}

/// An [`SseServer`]'s answer to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status line after `HTTP/1.1 `.
    pub status: &'static str,
    /// Extra header lines (`name: value`).
    pub headers: Vec<String>,
    /// The body (for 200: the event stream).
    pub body: String,
    /// Keep the connection open after the body (else close it).
    pub hold: bool,
    /// Close the connection without answering at all.
    pub silent: bool,
}

impl Reply {
    /// 200 `text/event-stream` with `body`, then close.
    pub fn events(body: &str) -> Reply {
        Reply {
            status: "200 OK",
            headers: vec!["content-type: text/event-stream".to_owned()],
            body: body.to_owned(),
            hold: false,
            silent: false,
        }
    }

    /// The same, holding the connection open after the body.
    pub fn held(mut self) -> Reply {
        self.hold = true;
        self
    }

    /// 302 to `to`.
    pub fn redirect(to: &str) -> Reply {
        Reply {
            status: "302 Found",
            headers: vec![format!("location: {to}"), "content-length: 0".to_owned()],
            body: String::new(),
            hold: false,
            silent: false,
        }
    }

    /// No answer: the connection is closed.
    pub fn silent() -> Reply {
        Reply {
            silent: true,
            ..Reply::events("")
        }
    }
}

/// How an [`SseServer`] answers request N (from 1).
pub type Script = Arc<dyn Fn(usize, &Seen) -> Reply + Send + Sync>;

/// An HTTP/1.1 event-stream server.
#[derive(Debug)]
pub struct SseServer {
    listener: Loopback,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl SseServer {
    /// A server answering request N with `script(N, request)`.
    pub fn start(script: Script) -> SseServer {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let shared = Arc::clone(&seen);
        let listener = Loopback::start(
            None,
            Arc::new(move |n, io| {
                Box::pin(answer(n, io, Arc::clone(&shared), Arc::clone(&script)))
            }),
        );
        SseServer { listener, seen }
    }

    /// A server answering every request with `body`, held open.
    pub fn serving(body: &'static str) -> SseServer {
        SseServer::start(Arc::new(move |_, _| Reply::events(body).held()))
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.listener.port()
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.listener.connections()
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.seen).clone()
    }
}

/// Reads a request head (through the blank line) from `io`.
pub async fn read_head(io: &mut (impl AsyncRead + Unpin)) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match io.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(k) => head.extend_from_slice(&buf[..k]),
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

async fn answer(n: usize, mut io: Box<dyn Io>, seen: Arc<Mutex<Vec<Seen>>>, script: Script) {
    let Some(head) = read_head(&mut io).await else {
        return;
    };
    let mut lines = head.lines();
    let path = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("")
        .to_owned();
    let last_event_id = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("last-event-id"))
        .map(|(_, v)| v.trim().to_owned());
    let request = Seen {
        at: Instant::now(),
        path,
        last_event_id,
    };
    lock(&seen).push(request.clone());
    let reply = script(n, &request);
    if reply.silent {
        return;
    }
    let mut out = format!("HTTP/1.1 {}\r\n", reply.status);
    for h in &reply.headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("cache-control: no-cache\r\nconnection: close\r\n\r\n");
    out.push_str(&reply.body);
    if io.write_all(out.as_bytes()).await.is_err() {
        return;
    }
    if reply.hold {
        futures::future::pending::<()>().await;
    }
}

// ---------------------------------------------------------------------------
// TCP lines

/// What a [`LineServer`] does with each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Answers each line with it uppercased; closes at end of input.
    Upper,
    /// Sends one line of `n` bytes (plus `\n`), then answers like `Upper`.
    LongLine(usize),
    /// Reads and never answers (for read timeouts).
    Silent,
    /// Answers each line with `echo: LINE`.
    Tagged,
    /// Reads to the end of input, sends it all back, closes.
    WholeEcho,
}

/// A plain or TLS TCP server answering with a [`Behaviour`].
#[derive(Debug)]
pub struct LineServer {
    listener: Loopback,
}

impl LineServer {
    /// A server behaving as `behaviour`, over TLS when `tls` is given.
    pub fn start(behaviour: Behaviour, tls: Option<Arc<rustls::ServerConfig>>) -> LineServer {
        let listener = Loopback::start(
            tls,
            Arc::new(move |_, io| Box::pin(serve_lines(io, behaviour))),
        );
        LineServer { listener }
    }

    /// A plain TCP server behaving as `behaviour`.
    pub fn plain(behaviour: Behaviour) -> LineServer {
        LineServer::start(behaviour, None)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.listener.addr()
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.listener.port()
    }

    /// `scheme://127.0.0.1:PORT`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr())
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.listener.connections()
    }
}

/// Serves one connection until the client's input ends, then closes (with a
/// TLS close_notify over TLS).
async fn serve_lines(io: Box<dyn Io>, behaviour: Behaviour) {
    let mut reader = BufReader::new(io);
    if behaviour == Behaviour::WholeEcho {
        let mut data = Vec::new();
        if reader.read_to_end(&mut data).await.is_ok() {
            let _ = reader.get_mut().write_all(&data).await;
        }
    } else {
        if let Behaviour::LongLine(n) = behaviour {
            let mut line = vec![b'x'; n];
            line.push(b'\n');
            if reader.get_mut().write_all(&line).await.is_err() {
                return;
            }
        }
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let answer = match behaviour {
                Behaviour::Silent => continue,
                Behaviour::Tagged => {
                    let mut tagged = b"echo: ".to_vec();
                    tagged.extend_from_slice(&line);
                    if !tagged.ends_with(b"\n") {
                        tagged.push(b'\n');
                    }
                    tagged
                }
                _ => line.to_ascii_uppercase(),
            };
            if reader.get_mut().write_all(&answer).await.is_err() {
                break;
            }
        }
    }
    let _ = reader.get_mut().shutdown().await;
}

// ---------------------------------------------------------------------------
// UDP

/// A UDP echo peer on 127.0.0.1:0 (a thread; ends with the test process).
#[derive(Debug)]
pub struct UdpEchoPeer {
    /// Where it listens.
    pub addr: SocketAddr,
    received: Arc<AtomicUsize>,
}

impl UdpEchoPeer {
    /// Echoes each datagram back to its sender. With `spoof`, each is first
    /// answered from another socket (a sender the guest's policy does not
    /// grant), then from the echo socket.
    pub fn start(spoof: bool) -> UdpEchoPeer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = socket.local_addr().expect("local addr");
        let other = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let received = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&received);
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                count.fetch_add(1, Ordering::SeqCst);
                if spoof {
                    let _ = other.send_to(b"spoofed", from);
                }
                let _ = socket.send_to(&buf[..n], from);
            }
        });
        UdpEchoPeer { addr, received }
    }

    /// `udp://127.0.0.1:PORT`.
    pub fn target(&self) -> String {
        format!("udp://{}", self.addr)
    }

    /// Datagrams received so far.
    pub fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}
