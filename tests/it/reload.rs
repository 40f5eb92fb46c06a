//! Live policy reload (`Guard::reload`): new requests follow the new policy and
//! limits at once, live connections it no longer grants fail with `denied` on
//! their next operation, the ones it still grants keep working. Driven through
//! the library (a guard, the protocol cores, a real guest) against loopback
//! servers started here.

use std::sync::Arc;
use std::time::Duration;

use sandnet::error::NetError;
use sandnet::guard::{Guard, GuardConfig, ReloadReport};
use sandnet::net::http::client::{HttpClient, RequestSpec};
use sandnet::net::sse::stream::{self as sse, SseSettings, SseSpec};
use sandnet::net::tcp::conn::{self, Acceptor, Timeouts};
use sandnet::net::udp::socket::Socket;
use sandnet::net::websocket::session::{self, ClientSpec, Settings as WsSettings, WsMessage};
use sandnet::policy::GuestPolicy;
use sandnet::{ExitStatus, RunRequest, Runtime, RuntimeConfig};

use crate::support::guests::{guest, lib_http_settings, shared_cache_dir};
use crate::support::policy::{guest_policy, guest_section};
use crate::support::recording::AuditBuffer;
use crate::support::servers::{
    Behaviour, LineServer, Server, SseServer, WsServer, free_port, free_udp_port,
};

/// The guest's part of a revocation's `denied` reason.
const RELOADED: &str = "the policy was reloaded and no longer grants";

/// `[guest.t]` + `body`, parsed.
fn policy(body: &str) -> Arc<GuestPolicy> {
    guest_policy(&guest_section(body))
}

/// A guard for `body` with the system resolver and an audit buffer.
fn guard(body: &str) -> (Arc<Guard>, AuditBuffer) {
    let audit = AuditBuffer::default();
    let config = GuardConfig {
        audit: audit.audit(),
        ..GuardConfig::default()
    };
    (Arc::new(Guard::new(policy(body), config)), audit)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let out = tokio.block_on(async { tokio::time::timeout(Duration::from_secs(30), f).await });
    tokio.shutdown_background();
    out.expect("test timed out")
}

fn tls() -> Arc<rustls::ClientConfig> {
    Arc::new(sandnet::net::common::tls::client_config(None).unwrap())
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        idle: Duration::from_secs(10),
    }
}

/// Asserts `err` is a revocation of `target`, with the line that would allow it.
#[track_caller]
fn assert_revoked(err: &NetError, target: &str) {
    let NetError::Denied(denial) = err else {
        panic!("want denied, got {err:?}");
    };
    assert!(
        denial.reason.starts_with(&format!("{RELOADED} {target}")),
        "{denial:?}"
    );
    assert!(denial.suggestion.is_some(), "the hint line: {denial:?}");
}

/// The `revoke` audit events.
fn revocations(audit: &AuditBuffer) -> Vec<serde_json::Value> {
    audit
        .events()
        .into_iter()
        .filter(|e| e["event"] == "revoke")
        .collect()
}

#[test]
fn a_request_denied_before_a_reload_is_allowed_after_it() {
    let srv = Server::http();
    let (guard, _audit) = guard(&format!("allow = [\"{}\"]", srv.url("/echo")));
    let client = HttpClient::new(
        Arc::clone(&guard),
        sandnet::net::common::tls::client_config(None).unwrap(),
    );
    block_on(async {
        let get = || RequestSpec::new("GET", &srv.url("/ok"), &[], None).unwrap();
        let err = client.send(get(), lib_http_settings()).await.unwrap_err();
        assert!(matches!(err, NetError::Denied(_)), "{err}");
        let report = guard.reload(policy(&format!("allow = [\"{}\"]", srv.url("/ok"))));
        assert_eq!(report, ReloadReport::default(), "nothing was open");
        let mut exchange = client.send(get(), lib_http_settings()).await.unwrap();
        assert_eq!(exchange.status, 200);
        let body = exchange
            .body
            .read_all(1024, sandnet::policy::Limit::MaxBodyBytes)
            .await
            .unwrap();
        assert_eq!(body, b"hello");
    });
    assert_eq!(srv.requests(), 1, "only the request after the reload left");
}

#[test]
fn a_pooled_connection_the_new_policy_refuses_is_not_reused() {
    let srv = Server::http();
    let origin = format!("http://127.0.0.1:{}", srv.port());
    let (guard, audit) = guard(&format!("allow = [\"{origin}/ok\", \"{origin}/echo\"]"));
    let client = HttpClient::new(
        Arc::clone(&guard),
        sandnet::net::common::tls::client_config(None).unwrap(),
    );
    block_on(async {
        let spec = RequestSpec::new("GET", &srv.url("/ok"), &[], None).unwrap();
        let mut first = client.send(spec, lib_http_settings()).await.unwrap();
        first
            .body
            .read_all(1024, sandnet::policy::Limit::MaxBodyBytes)
            .await
            .unwrap();
        drop(first);
        // The idle pooled connection was made for GET /ok, which B refuses.
        let report = guard.reload(policy(&format!("allow = [\"{origin}/echo\"]")));
        assert_eq!(report.revoked.len(), 1, "{report:?}");
        assert_eq!(report.revoked[0].target, format!("{origin}/ok"));
        let spec = RequestSpec::new("POST", &srv.url("/echo"), &[], Some(b"x".to_vec())).unwrap();
        let exchange = client.send(spec, lib_http_settings()).await.unwrap();
        assert_eq!(exchange.status, 200);
    });
    assert_eq!(srv.requests(), 2);
    assert_eq!(
        srv.connections(),
        2,
        "the revoked pooled connection was not reused"
    );
    assert_eq!(revocations(&audit).len(), 1, "{:?}", audit.events());
}

/// Runs the guest `name` under `text` with `args` through a guard kept here;
/// once the guest holds a registered connection, reloads the guard with
/// `[guest.t]` + `reloaded`. Returns how the guest ended, the reload's report
/// and the guard (with its audit log).
fn run_and_reload(
    name: &str,
    text: &str,
    args: &[String],
    reloaded: &str,
) -> (sandnet::RunOutcome, ReloadReport, Arc<Guard>, AuditBuffer) {
    let audit = AuditBuffer::default();
    let config = GuardConfig {
        audit: audit.audit(),
        ..GuardConfig::default()
    };
    let guard = Arc::new(Guard::new(guest_policy(text), config));
    let component = guest(name);
    let (outcome, report) = block_on(async {
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(shared_cache_dir()),
        })
        .unwrap();
        let request = RunRequest {
            component,
            policy: guest_policy(text),
            args: args.to_vec(),
            capture_output: true,
            guard: GuardConfig::default(),
        };
        let run = tokio::spawn({
            let guard = Arc::clone(&guard);
            async move { runtime.run_guarded(request, guard).await }
        });
        while guard.live_connections() == 0 {
            assert!(!run.is_finished(), "the guest ended before connecting");
            tokio::time::sleep(Duration::from_millis(5)).await; // polling interval
        }
        let report = guard.reload(policy(reloaded));
        (run.await.unwrap().unwrap(), report)
    });
    (outcome, report, guard, audit)
}

#[test]
fn an_open_tcp_connection_the_new_policy_refuses_fails_the_guests_next_read() {
    let srv = LineServer::plain(Behaviour::Silent);
    let url = format!("tcp://127.0.0.1:{}", srv.port());
    let text = guest_section(&format!(
        "allow = [\"{url}\"]\nenv = {{ TCP_CLIENT_LINES = \"1\" }}"
    ));
    // The guest holds its connection open, waiting for a reply line.
    let other = format!("tcp://127.0.0.1:{}", srv.port() ^ 1);
    let (outcome, report, guard, audit) = run_and_reload(
        "rust-tcp-client",
        &text,
        &[url.clone(), "hello".to_owned()],
        &format!("allow = [\"{other}\"]"),
    );
    let stderr = String::from_utf8_lossy(&outcome.stderr);
    assert_eq!(outcome.status, ExitStatus::Exited(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("tcp-client: denied: {RELOADED} {url}")),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("\"{url}\"")), "the hint: {stderr}");
    assert_eq!(report.kept, 0);
    assert_eq!(report.revoked.len(), 1, "{report:?}");
    assert_eq!(report.revoked[0].target, url);
    assert_eq!(report.revoked[0].peer, Some(srv.addr()));
    let revoked = revocations(&audit);
    assert_eq!(revoked.len(), 1, "{:?}", audit.events());
    assert_eq!(revoked[0]["decision"], "deny");
    assert_eq!(revoked[0]["target"], url.as_str());
    assert!(
        revoked[0]["reason"].as_str().unwrap().starts_with(RELOADED),
        "{revoked:?}"
    );
    assert_eq!(guard.live_connections(), 0, "the registration went with it");
}

/// A TCP server that accepts and holds every connection open, never
/// answering or closing (its thread lives as long as the test process).
struct Holder {
    port: u16,
    _thread: std::thread::JoinHandle<()>,
}

impl Holder {
    fn start() -> Holder {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                match stream {
                    Ok(stream) => held.push(stream),
                    Err(_) => return,
                }
            }
        });
        Holder {
            port,
            _thread: thread,
        }
    }
}

#[test]
fn an_open_standard_socket_the_new_policy_refuses_fails_the_guests_next_read() {
    let srv = Holder::start();
    let addr = format!("127.0.0.1:{}", srv.port);
    let text = guest_section(&format!("allow = [\"tcp://{addr}\"]"));
    let (outcome, report, guard, _audit) = run_and_reload(
        "rust-std-sockets",
        &text,
        &["tcp".to_owned(), addr.clone(), "1".to_owned()],
        &format!("allow = [\"tcp://127.0.0.1:{}\"]", srv.port ^ 1),
    );
    let stdout = String::from_utf8_lossy(&outcome.stdout);
    assert_eq!(outcome.status, ExitStatus::Exited(0), "{stdout}");
    assert_eq!(report.revoked.len(), 1, "{report:?}");
    assert_eq!(report.revoked[0].target, format!("tcp://{addr}"));
    // Revoked while sending or while waiting for the reply that never comes
    // (wasi-libc reports the `access-denied` stream error as EIO).
    assert!(
        stdout.contains("send failed: ") || stdout.contains("receive failed after 0: "),
        "{stdout}"
    );
    assert_eq!(guard.live_connections(), 0);
}

fn ws_settings() -> WsSettings {
    WsSettings {
        max_message: 1 << 20,
        max_frame: 1 << 20,
        heartbeat: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(5),
        reconnect: None,
    }
}

#[test]
fn an_open_websocket_the_new_policy_refuses_fails_its_next_receive_and_send() {
    let srv = WsServer::plain();
    let url = srv.url("ws", "/chat");
    let (guard, _audit) = guard(&format!("allow = [\"{}\"]", srv.url("ws", "")));
    block_on(async {
        let spec = ClientSpec::new(&url, &[], &[]).unwrap();
        let mut ws = session::connect(Arc::clone(&guard), tls(), spec, ws_settings())
            .await
            .unwrap();
        ws.send_text("one".to_owned()).await.unwrap();
        assert_eq!(
            ws.inbox.next().await.unwrap(),
            WsMessage::Text("one".into())
        );
        let report = guard.reload(policy(r#"allow = ["ws://127.0.0.1:1"]"#));
        assert_eq!(report.revoked.len(), 1, "{report:?}");
        let err = ws.inbox.next().await.unwrap_err();
        assert_revoked(&err, &srv.url("ws", "/chat"));
        let err = ws.send_text("two".to_owned()).await.unwrap_err();
        assert_revoked(&err, &srv.url("ws", "/chat"));
    });
    assert!(
        !srv.log().iter().any(|l| l.contains("text two")),
        "{:?}",
        srv.log()
    );
}

#[test]
fn a_connection_the_new_policy_still_grants_keeps_working() {
    let srv = LineServer::plain(Behaviour::Upper);
    let url = format!("tcp://127.0.0.1:{}", srv.port());
    let (guard, audit) = guard(&format!("allow = [\"{url}\"]"));
    block_on(async {
        let mut conn = conn::connect(&guard, &tls(), &url, timeouts())
            .await
            .unwrap();
        conn.write(b"a\n").await.unwrap();
        assert_eq!(&conn.read_until(b"\n", 100).await.unwrap()[..], b"A\n");
        // B adds a rule, lowers a limit and keeps the grant.
        let report = guard.reload(policy(&format!(
            "allow = [\"{url}\", \"tcp://127.0.0.1:1\"]\n[guest.t.limits]\nrequests_per_second = 5"
        )));
        assert_eq!(
            report,
            ReloadReport {
                kept: 1,
                revoked: vec![]
            }
        );
        conn.write(b"b\n").await.unwrap();
        assert_eq!(&conn.read_until(b"\n", 100).await.unwrap()[..], b"B\n");
    });
    assert!(revocations(&audit).is_empty());
}

#[test]
fn a_lowered_request_rate_applies_from_the_reload_on() {
    let (guard, _audit) =
        guard("allow = [\"http://127.0.0.1:1\"]\n[guest.t.limits]\nrequests_per_second = 1000");
    let target = sandnet::policy::Target::parse("http://127.0.0.1:1/").unwrap();
    for _ in 0..5 {
        guard.check_request(&target).unwrap();
    }
    guard.reload(policy(
        "allow = [\"http://127.0.0.1:1\"]\n[guest.t.limits]\nrequests_per_second = 1",
    ));
    // At most the one token of the new rate is left.
    let refused = (0..3).find_map(|_| guard.check_request(&target).err());
    assert!(
        matches!(
            refused,
            Some(NetError::LimitExceeded {
                name: "requests_per_second",
                value: 1
            })
        ),
        "{refused:?}"
    );
}

#[test]
fn a_lowered_connection_cap_keeps_open_connections_and_refuses_new_ones() {
    let srv = LineServer::plain(Behaviour::Upper);
    let url = format!("tcp://127.0.0.1:{}", srv.port());
    let (guard, _audit) = guard(&format!(
        "allow = [\"{url}\"]\n[guest.t.limits]\nmax_connections = 4"
    ));
    block_on(async {
        let first = conn::connect(&guard, &tls(), &url, timeouts())
            .await
            .unwrap();
        let second = conn::connect(&guard, &tls(), &url, timeouts())
            .await
            .unwrap();
        let report = guard.reload(policy(&format!(
            "allow = [\"{url}\"]\n[guest.t.limits]\nmax_connections = 1"
        )));
        assert_eq!(report.kept, 2);
        let err = conn::connect(&guard, &tls(), &url, timeouts())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                NetError::LimitExceeded {
                    name: "max_connections",
                    value: 1
                }
            ),
            "{err}"
        );
        drop((first, second));
        conn::connect(&guard, &tls(), &url, timeouts())
            .await
            .unwrap();
    });
}

#[test]
fn a_listener_the_new_policy_refuses_fails_its_next_accept() {
    let port = free_port();
    let listen = format!("tcp-listen://127.0.0.1:{port}");
    let (guard, _audit) = guard(&format!("allow = [\"{listen}\"]"));
    block_on(async {
        let mut acceptor = Acceptor::bind(&guard, &listen, Duration::from_secs(5))
            .await
            .unwrap();
        let pending = tokio::spawn(async move { acceptor.accept().await.map(|_| ()) });
        let report = guard.reload(policy("allow = []"));
        assert_eq!(report.revoked.len(), 1, "{report:?}");
        let err = pending.await.unwrap().unwrap_err();
        assert_revoked(&err, &listen);
    });
}

#[test]
fn a_bound_udp_socket_the_new_policy_refuses_fails_its_next_receive_and_send() {
    let port = free_udp_port();
    let bind = format!("udp-bind://127.0.0.1:{port}");
    let (guard, _audit) = guard(&format!("allow = [\"{bind}\", \"udp://127.0.0.1:{port}\"]"));
    block_on(async {
        let mut socket = Socket::bind(&guard, Some(&bind)).unwrap();
        let report = guard.reload(policy(&format!("allow = [\"udp://127.0.0.1:{port}\"]")));
        assert_eq!(report.revoked.len(), 1, "{report:?}");
        let err = socket.receive(Duration::from_secs(5)).await.unwrap_err();
        assert_revoked(&err, &bind);
        let err = socket
            .send_to(&format!("udp://127.0.0.1:{port}"), b"x")
            .await
            .unwrap_err();
        assert_revoked(&err, &bind);
    });
}

#[test]
fn an_open_event_stream_the_new_policy_refuses_ends_with_denied_and_no_reconnect() {
    let srv = SseServer::serving("retry: 10\ndata: one\n\n");
    let url = srv.url("/events");
    let (guard, _audit) = guard(&format!("allow = [\"sse+{url}\"]"));
    block_on(async {
        let settings = SseSettings {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_secs(5),
            idle: Duration::from_secs(10),
            max_event: 1024,
        };
        let spec = SseSpec::new(&url, &[]).unwrap();
        let mut stream = sse::open(Arc::clone(&guard), tls(), spec, settings)
            .await
            .unwrap();
        assert_eq!(stream.inbox.next().await.unwrap().data, "one");
        let report = guard.reload(policy("allow = []"));
        assert_eq!(report.revoked.len(), 1, "{report:?}");
        let err = stream.inbox.next().await.unwrap_err();
        assert_revoked(&err, &format!("sse+{url}"));
    });
    assert_eq!(srv.connections(), 1, "a revoked stream does not reconnect");
}

#[test]
fn a_response_body_streaming_when_its_connection_is_revoked_fails_with_denied() {
    const SIZE: usize = 64 << 20; // far more than socket buffers and hyper hold
    let srv = Server::http();
    let url = srv.url(&format!("/big?n={SIZE}"));
    let (guard, _audit) = guard(&format!("allow = [\"{}\"]", srv.url("/big")));
    let client = HttpClient::new(
        Arc::clone(&guard),
        sandnet::net::common::tls::client_config(None).unwrap(),
    );
    let received = block_on(async {
        let spec = RequestSpec::new("GET", &url, &[], None).unwrap();
        let mut exchange = client.send(spec, lib_http_settings()).await.unwrap();
        assert_eq!(exchange.status, 200);
        let mut received = exchange.body.read(1 << 16).await.unwrap().unwrap().len();
        let report = guard.reload(policy("allow = []"));
        assert_eq!(report.revoked.len(), 1, "{report:?}");
        loop {
            match exchange.body.read(1 << 20).await {
                Ok(Some(chunk)) => received += chunk.len(),
                Ok(None) => panic!("the whole body arrived after the revocation"),
                Err(err) => {
                    assert_revoked(&err, &format!("GET {}", srv.url("/big")));
                    return received;
                }
            }
        }
    });
    assert!(received < SIZE, "{received}");
}

#[test]
fn a_websocket_client_accepted_from_a_peer_the_new_policy_refuses_is_revoked() {
    use futures::{SinkExt, StreamExt};
    let port = free_port();
    let listen = format!("ws-listen://127.0.0.1:{port}");
    let (guard, _audit) = guard(&format!("allow = [\"{listen}\"]"));
    block_on(async {
        let mut server = session::bind(Arc::clone(&guard), &listen, ws_settings())
            .await
            .unwrap();
        let (mut client, _) = tokio_tungstenite::client_async(
            format!("ws://127.0.0.1:{port}/"),
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap(),
        )
        .await
        .unwrap();
        let mut accepted = server.inbox.next().await.unwrap().handle;
        client
            .send(tokio_tungstenite::tungstenite::Message::text("hi"))
            .await
            .unwrap();
        assert_eq!(
            accepted.inbox.next().await.unwrap(),
            WsMessage::Text("hi".into())
        );
        // The listener stays granted; its rule now takes one other peer only.
        let report = guard.reload(policy(&format!(
            "allow = [{{ rule = \"{listen}\", peers = [\"10.0.0.5\"] }}]"
        )));
        assert_eq!((report.kept, report.revoked.len()), (1, 1), "{report:?}");
        assert_eq!(
            report.revoked[0]
                .peer
                .map(|p| p.ip().to_string())
                .as_deref(),
            Some("127.0.0.1")
        );
        let err = accepted.inbox.next().await.unwrap_err();
        assert_revoked(&err, &listen);
        let err = accepted.send_text("bye".to_owned()).await.unwrap_err();
        assert_revoked(&err, &listen);
        // The client sees its connection end.
        while let Some(Ok(_)) = client.next().await {}
    });
}
