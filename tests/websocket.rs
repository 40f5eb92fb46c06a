//! `sandnet:net/websocket` end to end: the `ws-client` and `ws-echo-server`
//! guests against loopback WebSocket servers (plain and TLS) and native
//! clients started here, through the CLI.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::{Bytes, Message};

use support::{Output, PolicyFile, check, for_each_lang, policy, run_cli};

/// A byte stream a test server speaks WebSocket on (TCP or TLS).
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Log = Arc<Mutex<Vec<String>>>;
type Handler = Arc<dyn Fn(usize, Box<dyn Io>, Log) -> BoxFuture<'static, ()> + Send + Sync>;

/// A WebSocket server on 127.0.0.1:0 with its own runtime; `handler` gets
/// each connection (numbered from 1) before the handshake.
struct WsServer {
    addr: SocketAddr,
    log: Log,
    connections: Arc<AtomicUsize>,
    accepted_at: Arc<Mutex<Vec<Instant>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for WsServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl WsServer {
    fn start(tls: Option<Arc<rustls::ServerConfig>>, handler: Handler) -> WsServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let log: Log = Arc::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted_at: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let (log2, conns2, at2) = (log.clone(), connections.clone(), accepted_at.clone());
        runtime.spawn(async move {
            let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let n = conns2.fetch_add(1, Ordering::SeqCst) + 1;
                at2.lock().unwrap().push(Instant::now());
                let (handler, log, acceptor) = (handler.clone(), log2.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let io: Box<dyn Io> = match acceptor {
                        Some(acceptor) => match acceptor.accept(stream).await {
                            Ok(tls) => Box::new(tls),
                            Err(_) => return,
                        },
                        None => Box::new(stream),
                    };
                    handler(n, io, log).await;
                });
            }
        });
        WsServer {
            addr,
            log,
            connections,
            accepted_at,
            runtime: Some(runtime),
        }
    }

    /// The scripted server (see [`scripted`]).
    fn plain() -> WsServer {
        WsServer::start(None, Arc::new(|n, io, log| Box::pin(scripted(n, io, log))))
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.port())
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// Handshake, then per text message: `frag` → "hello world" in three
/// fragments with a ping between them; `badutf8` → a text frame of invalid
/// UTF-8; `send-big N` → N bytes binary; `close-me` → close 4000
/// "requested"; `drop` → drops the TCP connection; `mute` → never reads or
/// writes again (no pongs); anything else is echoed. Every message and close
/// received is logged as `N: text X` / `N: binary LEN` / `N: close CODE REASON`.
async fn scripted(n: usize, io: Box<dyn Io>, log: Log) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(io).await else {
        return;
    };
    if n > 1 {
        let _ = ws.send(Message::text(format!("welcome {n}"))).await;
    }
    while let Some(Ok(msg)) = ws.next().await {
        match msg {
            Message::Text(text) => {
                log.lock().unwrap().push(format!("{n}: text {text}"));
                let text = text.as_str();
                if text == "frag" {
                    let frames = [
                        Frame::message(Bytes::from("hel"), OpCode::Data(Data::Text), false),
                        Frame::message(Bytes::from("lo wor"), OpCode::Data(Data::Continue), false),
                    ];
                    for f in frames {
                        ws.send(Message::Frame(f)).await.unwrap();
                    }
                    ws.send(Message::Ping(Bytes::from("between")))
                        .await
                        .unwrap();
                    let last =
                        Frame::message(Bytes::from("ld"), OpCode::Data(Data::Continue), true);
                    ws.send(Message::Frame(last)).await.unwrap();
                } else if text == "badutf8" {
                    let bad = Frame::message(
                        Bytes::from_static(&[b'a', 0xff, 0xfe]),
                        OpCode::Data(Data::Text),
                        true,
                    );
                    ws.send(Message::Frame(bad)).await.unwrap();
                } else if let Some(len) = text.strip_prefix("send-big ") {
                    let len: usize = len.parse().unwrap();
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
                log.lock()
                    .unwrap()
                    .push(format!("{n}: binary {}", data.len()));
                let _ = ws.send(Message::Binary(data)).await;
            }
            Message::Close(frame) => {
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                });
                log.lock()
                    .unwrap()
                    .push(format!("{n}: close {code} {reason}"));
            }
            _ => {}
        }
    }
}

fn ws_client_in(lang: &str, p: &PolicyFile, extra: &[&str], args: &[&str]) -> Output {
    run_cli(&format!("{lang}-ws-client"), p, extra, args)
}

fn ws_client(p: &PolicyFile, extra: &[&str], args: &[&str]) -> Output {
    ws_client_in("rust", p, extra, args)
}

for_each_lang!(
    echo_text_and_binary_then_close_handshake,
    denied_by_scheme_host_port_and_path,
    reconnects_after_a_drop,
    echo_server_guest_serves_two_clients_at_once,
    silent_peer_is_detected_by_the_heartbeat,
);

// ---------------------------------------------------------------------------
// Client: messages

fn echo_text_and_binary_then_close_handshake(lang: &str) {
    let srv = WsServer::plain();
    let p = policy(&format!("allow = [\"{}\"]", srv.url("ws", "/chat")));
    let out = ws_client_in(
        lang,
        &p,
        &[],
        &[&srv.url("ws", "/chat"), "hello", "bin:bytes ü"],
    );
    check!(out.code == Some(0), out);
    check!(
        out.stdout == "hello\nbinary 8: bytes ü\nclose 1000 bye\n",
        out
    );
    assert_eq!(
        srv.log(),
        ["1: text hello", "1: binary 8", "1: close 1000 bye"],
        "the server saw both messages and the guest's close"
    );
}

#[test]
fn fragments_with_a_ping_between_are_one_message() {
    let srv = WsServer::plain();
    let p = policy(&format!("allow = [\"{}\"]", srv.url("ws", "/")));
    let out = ws_client(&p, &[], &[&srv.url("ws", "/"), "frag"]);
    check!(out.code == Some(0), out);
    check!(out.stdout.starts_with("hello world\n"), out);
}

#[test]
fn invalid_utf8_text_is_a_protocol_error_and_closes_1007() {
    let srv = WsServer::plain();
    let p = policy(&format!("allow = [\"{}\"]", srv.url("ws", "/")));
    let out = ws_client(&p, &[], &[&srv.url("ws", "/"), "badutf8"]);
    check!(out.code == Some(1), out);
    check!(out.stderr.contains("protocol: invalid UTF-8"), out);
    check!(
        support::eventually(Duration::from_secs(5), || srv
            .log()
            .iter()
            .any(|l| l.starts_with("1: close 1007"))),
        out,
        "the host closed with 1007: {:?}",
        srv.log()
    );
}

#[test]
fn server_close_code_and_reason_reach_the_guest() {
    let srv = WsServer::plain();
    let p = policy(&format!("allow = [\"{}\"]", srv.url("ws", "/")));
    let out = ws_client(&p, &[], &[&srv.url("ws", "/"), "close-me", "never sent"]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "close 4000 requested\n", out);
}

#[test]
fn message_over_the_cap_is_refused_both_ways() {
    let srv = WsServer::plain();
    let p = policy(&format!(
        "allow = [\"{}\"]\n[guest.t.limits]\nmax_ws_message_bytes = 1024\nmax_ws_frame_bytes = 1024",
        srv.url("ws", "/")
    ));
    // Outgoing: refused before anything is sent.
    let out = ws_client(&p, &[], &[&srv.url("ws", "/"), "big:1025"]);
    check!(out.code == Some(1), out);
    check!(
        out.stderr
            .contains("limit-exceeded: max_ws_message_bytes (1024)"),
        out
    );
    check!(
        srv.log().iter().all(|l| l.starts_with("1: close")),
        out,
        "no message reached the server (only the goodbye close): {:?}",
        srv.log()
    );
    // Incoming: the server's 2000 bytes are refused and the host closes 1009.
    let out = ws_client(
        &p,
        &[],
        &[&srv.url("ws", "/"), "big:1024", "send-big 2000", "then"],
    );
    check!(out.code == Some(1), out);
    check!(
        out.stdout
            .starts_with(&format!("welcome 2\n{}\n", "x".repeat(1024))),
        out
    );
    check!(out.stderr.contains("limit-exceeded: max_ws_"), out);
    check!(
        support::eventually(Duration::from_secs(5), || srv
            .log()
            .iter()
            .any(|l| l == "2: close 1009 limit exceeded: max_ws_message_bytes (1024)")),
        out,
        "{:?}",
        srv.log()
    );
}

#[test]
fn frame_over_the_frame_cap_names_the_frame_limit() {
    let srv = WsServer::plain();
    let p = policy(&format!(
        "allow = [\"{}\"]\n[guest.t.limits]\nmax_ws_message_bytes = 4096\nmax_ws_frame_bytes = 512",
        srv.url("ws", "/")
    ));
    let out = ws_client(&p, &[], &[&srv.url("ws", "/"), "send-big 1000"]);
    check!(out.code == Some(1), out);
    check!(
        out.stderr
            .contains("limit-exceeded: max_ws_frame_bytes (512)"),
        out
    );
}

fn silent_peer_is_detected_by_the_heartbeat(lang: &str) {
    let srv = WsServer::plain();
    let p = policy(&format!(
        "allow = [\"{}\"]\nenv = {{ WS_CLIENT_HEARTBEAT_MS = \"200\" }}",
        srv.url("ws", "/")
    ));
    let started = Instant::now();
    let out = ws_client_in(lang, &p, &[], &[&srv.url("ws", "/"), "mute"]);
    check!(out.code == Some(1), out);
    check!(out.stderr.contains("timeout: idle"), out);
    check!(
        started.elapsed() < Duration::from_secs(20),
        out,
        "detected within a few heartbeats"
    );
}

#[test]
fn answering_peer_survives_many_heartbeats() {
    // A server that answers pings but replies slowly outlives many heartbeats.
    let srv = WsServer::start(
        None,
        Arc::new(|_, io, _| {
            Box::pin(async move {
                let ws = tokio_tungstenite::accept_async(io).await.unwrap();
                let (mut sink, mut stream) = ws.split();
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                // Replies go out 300 ms late (six heartbeats) while reading
                // (and so answering pings) goes on.
                tokio::spawn(async move {
                    while let Some(msg) = rx.recv().await {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        if sink.send(msg).await.is_err() {
                            break;
                        }
                    }
                });
                while let Some(Ok(msg)) = stream.next().await {
                    if msg.is_text() {
                        let _ = tx.send(msg);
                    }
                }
            })
        }),
    );
    let p = policy(&format!(
        "allow = [\"{}\"]\nenv = {{ WS_CLIENT_HEARTBEAT_MS = \"50\" }}",
        srv.url("ws", "/")
    ));
    let out = ws_client(&p, &[], &[&srv.url("ws", "/"), "a", "b"]);
    check!(out.code == Some(0), out);
    check!(out.stdout.starts_with("a\nb\n"), out);
}

#[test]
fn subprotocol_and_header_reach_the_server() {
    let seen: Log = Arc::default();
    let seen2 = seen.clone();
    let srv = WsServer::start(
        None,
        Arc::new(move |_, io, _| {
            let seen = seen2.clone();
            Box::pin(async move {
                #[allow(clippy::result_large_err, reason = "tungstenite's callback signature")]
                let callback = |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                                mut resp: tokio_tungstenite::tungstenite::handshake::server::Response| {
                    for (k, v) in req.headers() {
                        seen.lock()
                            .unwrap()
                            .push(format!("{k}: {}", v.to_str().unwrap_or("?")));
                    }
                    resp.headers_mut()
                        .insert("sec-websocket-protocol", "chat.v1".parse().unwrap());
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(io, callback).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() {
                        let _ = ws.send(msg).await;
                    }
                }
            })
        }),
    );
    let p = policy(&format!(
        "allow = [\"{}\"]\nenv = {{ WS_CLIENT_SUBPROTOCOL = \"chat.v1\", WS_CLIENT_HEADER = \"authorization: Bearer t0k\" }}",
        srv.url("ws", "/")
    ));
    let out = ws_client(&p, &[], &[&srv.url("ws", "/"), "hi"]);
    check!(out.code == Some(0), out);
    check!(out.stdout.starts_with("subprotocol chat.v1\nhi\n"), out);
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.contains(&"authorization: Bearer t0k".to_owned()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"sec-websocket-protocol: chat.v1".to_owned()),
        "{seen:?}"
    );
}

// ---------------------------------------------------------------------------
// Client: reconnection

fn reconnects_after_a_drop(lang: &str) {
    let srv = WsServer::plain();
    let p = policy(&format!(
        "allow = [\"{}\"]\nenv = {{ WS_CLIENT_RECONNECT = \"3,50,400\" }}",
        srv.url("ws", "/")
    ));
    let out = ws_client_in(lang, &p, &[], &[&srv.url("ws", "/"), "drop", "again"]);
    check!(out.code == Some(0), out);
    // The first message was lost with the dropped connection; the second
    // connection greets and echoes.
    check!(out.stdout == "welcome 2\nagain\nclose 1000 bye\n", out);
    assert_eq!(srv.connections(), 2);
}

#[test]
fn reconnect_backs_off_then_gives_up() {
    // Connection 1 is a WebSocket that drops on the first message; every later
    // connection is refused at the handshake with HTTP 503.
    let srv = WsServer::start(
        None,
        Arc::new(|n, mut io, log| {
            Box::pin(async move {
                if n == 1 {
                    scripted(n, io, log).await;
                    return;
                }
                let mut buf = [0u8; 2048];
                let _ = io.read(&mut buf).await;
                let _ = io
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            })
        }),
    );
    let p = policy(&format!(
        "allow = [\"{}\"]\nenv = {{ WS_CLIENT_RECONNECT = \"3,100,1000\" }}",
        srv.url("ws", "/")
    ));
    let out = ws_client(&p, &[], &[&srv.url("ws", "/"), "drop"]);
    check!(out.code == Some(1), out);
    check!(
        out.stderr.contains("closed: gave up reconnecting")
            && out.stderr.contains("after 3 attempts")
            && out.stderr.contains("503"),
        out
    );
    assert_eq!(srv.connections(), 4, "one connection and three attempts");
    let at = srv.accepted_at.lock().unwrap().clone();
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    // Backoff 100, 200, 400 ms (the first gap also holds the drop itself).
    for (gap, min) in gaps.iter().zip([100, 200, 400]) {
        assert!(
            *gap >= Duration::from_millis(min - 10),
            "gaps {gaps:?} should grow as 100, 200, 400 ms"
        );
    }
    eprintln!("measured reconnect gaps: {gaps:?}");
}

// ---------------------------------------------------------------------------
// Client: TLS

/// A CA and a server config for 127.0.0.1 signed by it (PEM path for the policy).
fn test_tls() -> (tempfile::TempDir, String, Arc<rustls::ServerConfig>) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "sandnet ws test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &*ca)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ca.pem");
    std::fs::write(&pem, ca.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .unwrap();
    let pem = pem.display().to_string();
    (dir, pem, Arc::new(config))
}

#[test]
fn wss_with_the_policy_ca() {
    let (_dir, ca_pem, config) = test_tls();
    let srv = WsServer::start(
        Some(config),
        Arc::new(|n, io, log| Box::pin(scripted(n, io, log))),
    );
    let p = policy(&format!(
        "allow = [\"{}\"]\nca_bundle = \"{ca_pem}\"",
        srv.url("wss", "/secure")
    ));
    let out = ws_client(&p, &[], &[&srv.url("wss", "/secure"), "over tls"]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "over tls\nclose 1000 bye\n", out);

    // Without the CA the certificate is not trusted.
    let p = policy(&format!("allow = [\"{}\"]", srv.url("wss", "/secure")));
    let out = ws_client(&p, &[], &[&srv.url("wss", "/secure"), "x"]);
    check!(out.code == Some(1), out);
    check!(out.stderr.contains("ws-client: tls: "), out);
}

// ---------------------------------------------------------------------------
// Client: denials (the server sees no connection)

fn assert_denied(out: &Output, hint: &str) {
    check!(out.code == Some(1), out);
    check!(out.stderr.starts_with("ws-client: denied: "), out);
    check!(
        out.stderr
            .contains(&format!("hint: add to the policy's allow list: {hint}")),
        out,
        "the hint names the line to add"
    );
}

fn denied_by_scheme_host_port_and_path(lang: &str) {
    let srv = WsServer::plain();
    let other = WsServer::plain();
    let port = srv.port();
    let p = policy(&format!(
        "allow = [\"wss://127.0.0.1:{port}/chat\", \"{}\"]",
        srv.url("ws", "/chat")
    ));
    // Scheme: ws rule for /chat, guest uses wss on another path... and plain ws on a wss-only rule.
    let p_scheme = policy(&format!("allow = [\"wss://127.0.0.1:{port}/chat\"]"));
    let out = ws_client_in(lang, &p_scheme, &[], &[&srv.url("ws", "/chat"), "x"]);
    assert_denied(&out, &format!("\"ws://127.0.0.1:{port}/chat\""));
    // Host: a name that resolves to the server.
    let url = format!("ws://app.test:{port}/chat");
    let out = ws_client_in(lang, &p, &["--resolve", "app.test=127.0.0.1"], &[&url, "x"]);
    assert_denied(&out, &format!("\"{url}\""));
    // Port.
    let out = ws_client_in(lang, &p, &[], &[&other.url("ws", "/chat"), "x"]);
    assert_denied(&out, &format!("\"{}\"", other.url("ws", "/chat")));
    // Path.
    let out = ws_client_in(lang, &p, &[], &[&srv.url("ws", "/admin"), "x"]);
    assert_denied(&out, &format!("\"{}\"", srv.url("ws", "/admin")));
    assert_eq!(
        srv.connections() + other.connections(),
        0,
        "nothing was dialled"
    );
}

#[test]
fn http_url_is_an_invalid_argument() {
    let p = policy("allow = []");
    let out = ws_client(&p, &[], &["http://127.0.0.1:1/", "x"]);
    check!(out.code == Some(1), out);
    check!(out.stderr.contains("invalid-argument"), out);
}

// ---------------------------------------------------------------------------
// Server guest

/// The `sandnet` CLI running a guest, its stdout lines arriving on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Running {
    fn start(guest: &str, p: &PolicyFile, args: &[&str]) -> Running {
        let component = support::guest(guest);
        let mut child = Command::new(env!("CARGO_BIN_EXE_sandnet"))
            .arg("run")
            .arg(&component)
            .arg("--policy")
            .arg(p.arg())
            .arg("--")
            .args(args)
            .env("SANDNET_CACHE_DIR", support::shared_cache_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut s);
            s
        });
        Running {
            child,
            lines,
            stderr: Some(stderr),
        }
    }

    fn line(&self, limit: Duration) -> String {
        self.lines
            .recv_timeout(limit)
            .unwrap_or_else(|e| panic!("no output line within {limit:?}: {e}"))
    }

    /// Waits for exit (killing after `limit`); the rest of stdout and stderr.
    fn finish(mut self, limit: Duration) -> (Option<i32>, Vec<String>, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("guest did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(5)); // polling interval
        };
        let rest: Vec<String> = self.lines.try_iter().collect();
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        (status.code(), rest, stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A native tokio-tungstenite client (the crate's `connect` feature is off).
async fn native_connect(
    port: u16,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    tokio_tungstenite::tungstenite::Error,
> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let url = format!("ws://127.0.0.1:{port}/");
    tokio_tungstenite::client_async(url, tcp)
        .await
        .map(|(ws, _)| ws)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn echo_server_guest_serves_two_clients_at_once(lang: &str) {
    let port = free_port();
    let p = policy(&format!("allow = [\"ws-listen://127.0.0.1:{port}\"]"));
    let guest = Running::start(
        &format!("{lang}-ws-echo-server"),
        &p,
        &[&format!("ws-listen://127.0.0.1:{port}"), "2"],
    );
    let first = guest.line(support::CLI_TIMEOUT);
    assert_eq!(first, format!("listening ws://127.0.0.1:{port}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut a = native_connect(port).await.unwrap();
        let mut b = native_connect(port).await.unwrap();
        // Interleaved: both connections are open at once.
        for i in 0..3 {
            a.send(Message::text(format!("a{i}"))).await.unwrap();
            b.send(Message::binary(vec![i; 3])).await.unwrap();
            let ra = tokio::time::timeout(Duration::from_secs(10), a.next())
                .await
                .unwrap();
            let rb = tokio::time::timeout(Duration::from_secs(10), b.next())
                .await
                .unwrap();
            assert_eq!(ra.unwrap().unwrap(), Message::text(format!("a{i}")));
            assert_eq!(rb.unwrap().unwrap(), Message::binary(vec![i; 3]));
        }
        a.close(None).await.unwrap();
        b.close(Some(CloseFrame {
            code: CloseCode::Away,
            reason: "".into(),
        }))
        .await
        .unwrap();
        // Each close is answered (the handshake completes).
        for ws in [&mut a, &mut b] {
            let end = tokio::time::timeout(Duration::from_secs(10), async {
                while let Some(Ok(_)) = ws.next().await {}
            })
            .await;
            assert!(end.is_ok(), "close handshake completed");
        }
    });
    let (code, rest, stderr) = guest.finish(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{rest:?}\n{stderr}");
    let connected = rest.iter().filter(|l| l.ends_with(" connected")).count();
    assert_eq!(connected, 2, "{rest:?}");
    assert!(rest.iter().any(|l| l.ends_with("closed 1005")), "{rest:?}");
    assert!(rest.iter().any(|l| l.ends_with("closed 1001")), "{rest:?}");
}

#[test]
fn echo_server_guest_needs_a_listen_grant() {
    let port = free_port();
    let p = policy(&format!("allow = [\"ws://127.0.0.1:{port}\"]"));
    let out = run_cli(
        "rust-ws-echo-server",
        &p,
        &[],
        &[&format!("ws-listen://127.0.0.1:{port}")],
    );
    check!(out.code == Some(1), out);
    check!(out.stderr.contains("denied"), out);
    check!(
        out.stderr
            .contains(&format!("\"ws-listen://127.0.0.1:{port}\"")),
        out
    );
}

#[test]
fn echo_server_guest_drops_peers_outside_the_rule() {
    let port = free_port();
    // Only 127.0.0.2 may connect; the test connects from 127.0.0.1.
    let p = policy(&format!(
        "allow = [{{ rule = \"ws-listen://127.0.0.1:{port}\", peers = [\"127.0.0.2\"] }}]"
    ));
    let guest = Running::start(
        "rust-ws-echo-server",
        &p,
        &[&format!("ws-listen://127.0.0.1:{port}"), "1"],
    );
    assert_eq!(
        guest.line(support::CLI_TIMEOUT),
        format!("listening ws://127.0.0.1:{port}")
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let refused = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), native_connect(port))
            .await
            .unwrap()
    });
    assert!(refused.is_err(), "the refused peer gets no handshake");
    assert!(
        guest
            .lines
            .recv_timeout(Duration::from_millis(300))
            .is_err(),
        "the guest never saw the refused peer"
    );
}
