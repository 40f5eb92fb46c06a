//! `sandnet:net/sse` end to end: the `sse-watch` guest (and `ws-client`
//! waiting on a WebSocket and an event stream at once) against loopback
//! event-stream servers started here, through the CLI.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use support::{Output, PolicyFile, check, for_each_lang, policy, run_cli};

/// What the server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    path: String,
    last_event_id: Option<String>,
}

/// The server's answer to one request.
#[derive(Debug, Clone)]
struct Reply {
    /// Status line after `HTTP/1.1 `.
    status: &'static str,
    /// Extra header lines (`name: value`).
    headers: Vec<String>,
    /// The body (for 200: the event stream).
    body: String,
    /// Keep the connection open after the body (else close it).
    hold: bool,
    /// Close the connection without answering at all.
    silent: bool,
}

impl Reply {
    fn events(body: &str) -> Reply {
        Reply {
            status: "200 OK",
            headers: vec!["content-type: text/event-stream".to_owned()],
            body: body.to_owned(),
            hold: false,
            silent: false,
        }
    }

    fn held(mut self) -> Reply {
        self.hold = true;
        self
    }

    fn redirect(to: &str) -> Reply {
        Reply {
            status: "302 Found",
            headers: vec![format!("location: {to}"), "content-length: 0".to_owned()],
            body: String::new(),
            hold: false,
            silent: false,
        }
    }

    fn silent() -> Reply {
        Reply {
            silent: true,
            ..Reply::events("")
        }
    }
}

type Script = Arc<dyn Fn(usize, &Seen) -> Reply + Send + Sync>;

/// An HTTP/1.1 event-stream server on 127.0.0.1:0; `script` answers request N (from 1).
struct SseServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for SseServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl SseServer {
    fn start(script: Script) -> SseServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let (seen2, conns2) = (seen.clone(), connections.clone());
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let n = conns2.fetch_add(1, Ordering::SeqCst) + 1;
                let (seen, script) = (seen2.clone(), script.clone());
                tokio::spawn(answer(n, stream, seen, script));
            }
        });
        SseServer {
            addr,
            seen,
            connections,
            runtime: Some(runtime),
        }
    }

    /// A server answering every request with `body`, held open.
    fn serving(body: &'static str) -> SseServer {
        SseServer::start(Arc::new(move |_, _| Reply::events(body).held()))
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(n: usize, mut stream: TcpStream, seen: Arc<Mutex<Vec<Seen>>>, script: Script) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(k) => head.extend_from_slice(&buf[..k]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
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
    seen.lock().unwrap().push(request.clone());
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
    if stream.write_all(out.as_bytes()).await.is_err() {
        return;
    }
    if reply.hold {
        futures::future::pending::<()>().await;
    }
}

fn sse_watch_in(lang: &str, p: &PolicyFile, extra: &[&str], args: &[&str]) -> Output {
    run_cli(&format!("{lang}-sse-watch"), p, extra, args)
}

fn sse_watch(p: &PolicyFile, extra: &[&str], args: &[&str]) -> Output {
    sse_watch_in("rust", p, extra, args)
}

for_each_lang!(
    events_printed_filtered_and_counted,
    reconnect_sends_last_event_id_and_honours_retry,
    reconnect_redirected_to_an_ungranted_target_is_refused,
    denied_by_scheme_host_port_and_path,
    guest_waits_on_a_websocket_and_an_event_stream_together,
);

const TWO_TICKS: &str = "event: tick\nid: 1\ndata: a\n\n: a comment\nevent: other\ndata: skipped\n\n\
                         event: tick\r\ndata: line1\r\ndata: line2\r\nid: 2\r\n\r\n";

fn events_printed_filtered_and_counted(lang: &str) {
    let srv = SseServer::serving(TWO_TICKS);
    let p = policy(&format!(
        "allow = [\"sse+http://127.0.0.1:{}/events\"]",
        srv.port()
    ));
    let out = sse_watch_in(lang, &p, &[], &[&srv.url("/events"), "2", "tick"]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "tick 1 a\ntick 2 line1\\nline2\n", out);
    let out = sse_watch_in(lang, &p, &[], &[&srv.url("/events"), "3"]);
    check!(out.code == Some(0), out);
    check!(
        out.stdout == "tick 1 a\nother 1 skipped\ntick 2 line1\\nline2\n",
        out
    );
}

#[test]
fn an_http_rule_covers_the_stream_but_an_sse_rule_grants_no_http() {
    let srv = SseServer::serving("data: x\n\n");
    let p = policy(&format!("allow = [\"{}\"]", srv.url("/events")));
    let out = sse_watch(&p, &[], &[&srv.url("/events"), "1"]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "message - x\n", out);
    // The narrower sse+http rule does not grant plain HTTP requests.
    let p = policy(&format!(
        "allow = [\"sse+http://127.0.0.1:{}/events\"]",
        srv.port()
    ));
    let out = run_cli("rust-http-get", &p, &[], &[&srv.url("/events")]);
    check!(out.code == Some(1), out);
    check!(out.stderr.contains("denied"), out);
}

fn reconnect_sends_last_event_id_and_honours_retry(lang: &str) {
    let srv = SseServer::start(Arc::new(|n, _| match n {
        1 => Reply::events(
            "retry: 300\nid: 1\ndata: one\n\nid: 2\ndata: two\n\ndata: never dispatched\n",
        ),
        _ => Reply::events("id: 3\ndata: three\n\n").held(),
    }));
    let p = policy(&format!("allow = [\"sse+{}\"]", srv.url("/events")));
    let out = sse_watch_in(lang, &p, &[], &[&srv.url("/events"), "3"]);
    check!(out.code == Some(0), out);
    check!(
        out.stdout == "message 1 one\nmessage 2 two\nmessage 3 three\n",
        out
    );
    let seen = srv.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|s| s.path == "/events"), "{seen:?}");
    assert_eq!(seen[0].last_event_id, None);
    assert_eq!(seen[1].last_event_id.as_deref(), Some("2"));
    let gap = seen[1].at - seen[0].at;
    assert!(
        gap >= Duration::from_millis(300),
        "retry: 300 honoured, gap {gap:?}"
    );
    eprintln!("measured reconnect gap with retry 300 ms: {gap:?}");
}

#[test]
fn gives_up_after_max_reconnects() {
    let srv = SseServer::start(Arc::new(|n, _| match n {
        1 => Reply::events("retry: 50\ndata: one\n\n"),
        _ => Reply::silent(),
    }));
    let p = policy(&format!(
        "allow = [\"sse+{}\"]\nenv = {{ SSE_WATCH_MAX_RECONNECTS = \"2\" }}",
        srv.url("/events")
    ));
    let out = sse_watch(&p, &[], &[&srv.url("/events")]);
    check!(out.code == Some(1), out);
    check!(out.stdout == "message - one\n", out);
    check!(
        out.stderr.contains("gave up reconnecting") && out.stderr.contains("after 2 attempts"),
        out
    );
    assert_eq!(srv.connections(), 3, "one stream and two attempts");
}

fn reconnect_redirected_to_an_ungranted_target_is_refused(lang: &str) {
    let other = SseServer::serving("data: elsewhere\n\n");
    let to = other.url("/events");
    let srv = SseServer::start(Arc::new(move |n, _| match n {
        1 => Reply::events("retry: 50\nid: 1\ndata: one\n\n"),
        _ => Reply::redirect(&to),
    }));
    let p = policy(&format!(
        "allow = [\"sse+{}\"]\nenv = {{ SSE_WATCH_MAX_REDIRECTS = \"1\" }}",
        srv.url("/events")
    ));
    let out = sse_watch_in(lang, &p, &[], &[&srv.url("/events"), "5"]);
    check!(out.code == Some(1), out);
    check!(out.stdout == "message 1 one\n", out);
    check!(out.stderr.starts_with("sse-watch: denied: "), out);
    check!(
        out.stderr.contains(&format!(
            "hint: add to the policy's allow list: \"sse+http://127.0.0.1:{}/events\"",
            other.port()
        )),
        out
    );
    assert_eq!(
        other.connections(),
        0,
        "the ungranted target was never dialled"
    );
}

#[test]
fn redirects_are_not_followed_by_default_and_followed_when_granted() {
    let other = SseServer::serving("data: moved\n\n");
    let to = other.url("/events");
    let srv = SseServer::start(Arc::new(move |_, _| Reply::redirect(&to)));
    let rules = format!(
        "allow = [\"sse+{}\", \"sse+{}\"]",
        srv.url("/events"),
        other.url("/events")
    );
    let out = sse_watch(&policy(&rules), &[], &[&srv.url("/events"), "1"]);
    check!(out.code == Some(1), out);
    check!(
        out.stderr.contains("protocol: ") && out.stderr.contains("max-redirects"),
        out
    );
    assert_eq!(other.connections(), 0);
    let p = policy(&format!(
        "{rules}\nenv = {{ SSE_WATCH_MAX_REDIRECTS = \"1\" }}"
    ));
    let out = sse_watch(&p, &[], &[&srv.url("/events"), "1"]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "message - moved\n", out);
}

fn denied_by_scheme_host_port_and_path(lang: &str) {
    let srv = SseServer::serving("data: x\n\n");
    let other = SseServer::serving("data: x\n\n");
    let port = srv.port();
    let p = policy(&format!("allow = [\"sse+{}\"]", srv.url("/events")));
    let cases = [
        // Scheme: only sse+https is granted.
        (
            policy(&format!(
                "allow = [\"sse+https://127.0.0.1:{port}/events\"]"
            )),
            vec![],
            srv.url("/events"),
            format!("\"sse+http://127.0.0.1:{port}/events\""),
        ),
        // Host: a name resolving to the server.
        (
            policy(&format!("allow = [\"sse+{}\"]", srv.url("/events"))),
            vec!["--resolve", "feed.test=127.0.0.1"],
            format!("http://feed.test:{port}/events"),
            format!("\"sse+http://feed.test:{port}/events\""),
        ),
        // Port.
        (
            policy(&p.text.replace("[guest.t]\n", "")),
            vec![],
            other.url("/events"),
            format!("\"sse+http://127.0.0.1:{}/events\"", other.port()),
        ),
        // Path.
        (
            policy(&p.text.replace("[guest.t]\n", "")),
            vec![],
            srv.url("/admin"),
            format!("\"sse+http://127.0.0.1:{port}/admin\""),
        ),
    ];
    for (p, extra, url, hint) in cases {
        let out = sse_watch_in(lang, &p, &extra, &[&url, "1"]);
        check!(out.code == Some(1), out);
        check!(out.stderr.starts_with("sse-watch: denied: "), out);
        check!(
            out.stderr
                .contains(&format!("hint: add to the policy's allow list: {hint}")),
            out
        );
    }
    assert_eq!(srv.connections() + other.connections(), 0);
}

#[test]
fn event_over_the_cap_is_refused() {
    let srv =
        SseServer::serving("data: small\n\ndata: 0123456789012345678901234567890123456789\n\n");
    let p = policy(&format!(
        "allow = [\"sse+{}\"]\n[guest.t.limits]\nmax_sse_event_bytes = 16",
        srv.url("/events")
    ));
    let out = sse_watch(&p, &[], &[&srv.url("/events"), "2"]);
    check!(out.code == Some(1), out);
    check!(out.stdout == "message - small\n", out);
    check!(
        out.stderr
            .contains("limit-exceeded: max_sse_event_bytes (16)"),
        out
    );
}

#[test]
fn wrong_content_type_is_a_protocol_error() {
    let srv = SseServer::start(Arc::new(|_, _| Reply {
        headers: vec!["content-type: text/plain".to_owned()],
        ..Reply::events("data: x\n\n")
    }));
    let p = policy(&format!("allow = [\"sse+{}\"]", srv.url("/events")));
    let out = sse_watch(&p, &[], &[&srv.url("/events"), "1"]);
    check!(out.code == Some(1), out);
    check!(
        out.stderr.contains("protocol: ") && out.stderr.contains("text/plain"),
        out
    );
}

// ---------------------------------------------------------------------------
// One guest waiting on a WebSocket and an event stream together

fn guest_waits_on_a_websocket_and_an_event_stream_together(lang: &str) {
    // Order the servers impose: event "one" first; the WebSocket echo 300 ms
    // after it was sent; event "two" 300 ms after the echo. A guest blocked on
    // either resource alone would print them in another order.
    let echoed = Arc::new(Notify::new());
    let sent_one = Arc::new(Notify::new());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sse_listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let ws_listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let sse_port = sse_listener.local_addr().unwrap().port();
    let ws_port = ws_listener.local_addr().unwrap().port();
    let (echoed2, sent_one2) = (echoed.clone(), sent_one.clone());
    rt.spawn(async move {
        let (mut stream, _) = sse_listener.accept().await.unwrap();
        let mut buf = [0u8; 2048];
        let _ = stream.read(&mut buf).await;
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(b"data: one\n\n").await.unwrap();
        sent_one2.notify_one();
        echoed2.notified().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        stream.write_all(b"data: two\n\n").await.unwrap();
        futures::future::pending::<()>().await;
    });
    let (echoed3, sent_one3) = (echoed.clone(), sent_one.clone());
    rt.spawn(async move {
        let (stream, _) = ws_listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_text() {
                sent_one3.notified().await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                ws.send(msg).await.unwrap();
                echoed3.notify_one();
            }
        }
    });
    let p = policy(&format!(
        "allow = [\"ws://127.0.0.1:{ws_port}/\", \"sse+http://127.0.0.1:{sse_port}/feed\"]\n\
         env = {{ WS_CLIENT_SSE = \"http://127.0.0.1:{sse_port}/feed\", WS_CLIENT_SSE_EVENTS = \"2\" }}"
    ));
    let out = run_cli(
        &format!("{lang}-ws-client"),
        &p,
        &[],
        &[&format!("ws://127.0.0.1:{ws_port}/"), "hello"],
    );
    rt.shutdown_background();
    check!(out.code == Some(0), out);
    check!(
        out.stdout == "sse: message - one\nws: hello\nsse: message - two\n",
        out
    );
}
