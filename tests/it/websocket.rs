//! `sandnet:net/websocket` end to end: the `ws-client` and `ws-echo-server`
//! guests against loopback WebSocket servers (plain and TLS) and native
//! clients started here, through the CLI.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::assertions::{Denial, assert_denied, check, eventually};
use crate::support::guests::{Background, Output, for_each_lang, run_cli};
use crate::support::policy::{PolicyFile, allow_only, policy};
use crate::support::servers::{Log, WsServer, free_port, lock, scripted};
use crate::support::tls::TestCa;

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
    let p = allow_only(&srv.url("ws", "/chat"));
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
    let p = allow_only(&srv.url("ws", "/"));
    let out = ws_client(&p, &[], &[&srv.url("ws", "/"), "frag"]);
    check!(out.code == Some(0), out);
    check!(out.stdout.starts_with("hello world\n"), out);
}

#[test]
fn invalid_utf8_text_is_a_protocol_error_and_closes_1007() {
    let srv = WsServer::plain();
    let p = allow_only(&srv.url("ws", "/"));
    let out = ws_client(&p, &[], &[&srv.url("ws", "/"), "badutf8"]);
    check!(out.code == Some(1), out);
    check!(out.stderr.contains("protocol: invalid UTF-8"), out);
    check!(
        eventually(Duration::from_secs(5), || srv
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
    let p = allow_only(&srv.url("ws", "/"));
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
        eventually(Duration::from_secs(5), || srv.log().iter().any(
            |l| l == "2: close 1009 limit exceeded: max_ws_message_bytes (1024)"
        )),
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
    let srv = WsServer::start(None, |_, io, _| {
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
    });
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
    let srv = WsServer::start(None, move |_, io, _| {
        let seen = seen2.clone();
        Box::pin(async move {
            #[allow(clippy::result_large_err, reason = "tungstenite's callback signature")]
                let callback = |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                                mut resp: tokio_tungstenite::tungstenite::handshake::server::Response| {
                    for (k, v) in req.headers() {
                        lock(&seen).push(format!("{k}: {}", v.to_str().unwrap_or("?")));
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
    });
    let p = policy(&format!(
        "allow = [\"{}\"]\nenv = {{ WS_CLIENT_SUBPROTOCOL = \"chat.v1\", WS_CLIENT_HEADER = \"authorization: Bearer t0k\" }}",
        srv.url("ws", "/")
    ));
    let out = ws_client(&p, &[], &[&srv.url("ws", "/"), "hi"]);
    check!(out.code == Some(0), out);
    check!(out.stdout.starts_with("subprotocol chat.v1\nhi\n"), out);
    let seen = lock(&seen).clone();
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
    let srv = WsServer::start(None, |n, mut io, log| {
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
    });
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
    let at = srv.accepted_at();
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

#[test]
fn wss_with_the_policy_ca() {
    let ca = TestCa::new();
    let srv = WsServer::tls(&ca);
    let p = policy(&format!(
        "allow = [\"{}\"]\nca_bundle = \"{}\"",
        srv.url("wss", "/secure"),
        ca.ca_pem_str()
    ));
    let out = ws_client(&p, &[], &[&srv.url("wss", "/secure"), "over tls"]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "over tls\nclose 1000 bye\n", out);

    // Without the CA the certificate is not trusted.
    let p = allow_only(&srv.url("wss", "/secure"));
    let out = ws_client(&p, &[], &[&srv.url("wss", "/secure"), "x"]);
    check!(out.code == Some(1), out);
    check!(out.stderr.contains("ws-client: tls: "), out);
}

// ---------------------------------------------------------------------------
// Client: denials (the server sees no connection)

/// How the ws-client guests sign a denial.
const DENIED: Denial<'static> = Denial::Guest("ws-client");

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
    assert_denied(
        &out,
        DENIED,
        Some(&format!("\"ws://127.0.0.1:{port}/chat\"")),
    );
    // Host: a name that resolves to the server.
    let url = format!("ws://app.test:{port}/chat");
    let out = ws_client_in(lang, &p, &["--resolve", "app.test=127.0.0.1"], &[&url, "x"]);
    assert_denied(&out, DENIED, Some(&format!("\"{url}\"")));
    // Port.
    let out = ws_client_in(lang, &p, &[], &[&other.url("ws", "/chat"), "x"]);
    assert_denied(
        &out,
        DENIED,
        Some(&format!("\"{}\"", other.url("ws", "/chat"))),
    );
    // Path.
    let out = ws_client_in(lang, &p, &[], &[&srv.url("ws", "/admin"), "x"]);
    assert_denied(
        &out,
        DENIED,
        Some(&format!("\"{}\"", srv.url("ws", "/admin"))),
    );
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

fn echo_server_guest_serves_two_clients_at_once(lang: &str) {
    let port = free_port();
    let p = policy(&format!("allow = [\"ws-listen://127.0.0.1:{port}\"]"));
    let mut guest = Background::start(
        &format!("{lang}-ws-echo-server"),
        &p,
        &[],
        &[&format!("ws-listen://127.0.0.1:{port}"), "2"],
    );
    let first = guest.line();
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
    let (code, rest, stderr) = guest.finish_within(Duration::from_secs(30));
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
    assert_denied(
        &out,
        Denial::Guest("ws-echo-server"),
        Some(&format!("\"ws-listen://127.0.0.1:{port}\"")),
    );
}

#[test]
fn echo_server_guest_drops_peers_outside_the_rule() {
    let port = free_port();
    // Only 127.0.0.2 may connect; the test connects from 127.0.0.1.
    let p = policy(&format!(
        "allow = [{{ rule = \"ws-listen://127.0.0.1:{port}\", peers = [\"127.0.0.2\"] }}]"
    ));
    let mut guest = Background::start(
        "rust-ws-echo-server",
        &p,
        &[],
        &[&format!("ws-listen://127.0.0.1:{port}"), "1"],
    );
    assert_eq!(guest.line(), format!("listening ws://127.0.0.1:{port}"));
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
        guest.quiet_for(Duration::from_millis(300)),
        "the guest never saw the refused peer"
    );
}

/// The `http-bench` guest's WebSocket mode (scripts/bench.sh): N round trips of
/// a 64-byte binary message on one connection, then a close.
#[test]
fn bench_guest_echo_loop() {
    let srv = WsServer::plain();
    let p = allow_only(&srv.url("ws", "/bench"));
    let out = run_cli(
        "rust-http-bench",
        &p,
        &[],
        &["ws", &srv.url("ws", "/bench"), "3"],
    );
    check!(out.code == Some(0), out);
    let fields: Vec<&str> = out.stdout.split_whitespace().collect();
    check!(
        fields.len() == 3 && fields[0] == "3" && fields[1] == "192",
        out,
        "three 64-byte echoes"
    );
    check!(
        srv.log()
            .iter()
            .filter(|l| l.ends_with("binary 64"))
            .count()
            == 3,
        out,
        "the server saw three messages: {:?}",
        srv.log()
    );
}
