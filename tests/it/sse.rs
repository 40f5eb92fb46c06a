//! `sandnet:net/sse` end to end: the `sse-watch` guest (and `ws-client`
//! waiting on a WebSocket and an event stream at once) against loopback
//! event-stream servers started here, through the CLI.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

use crate::support::assertions::{Denial, assert_denied, assert_denied_after, check};
use crate::support::guests::{Output, for_each_lang, run_cli};
use crate::support::policy::{PolicyFile, allow_only, policy};
use crate::support::servers::{Loopback, Reply, SseServer, read_head};

/// How the sse-watch guests sign a denial.
const DENIED: Denial<'static> = Denial::Guest("sse-watch");

fn sse_watch_in(lang: &str, p: &PolicyFile, extra: &[&str], args: &[&str]) -> Output {
    run_cli(&format!("{lang}-sse-watch"), p, extra, args)
}

fn sse_watch(p: &PolicyFile, extra: &[&str], args: &[&str]) -> Output {
    sse_watch_in("rust", p, extra, args)
}

// The same contract holds for the JavaScript sse-watch guest.
for_each_lang!([rust, python, js] "sse-watch":
    events_printed_filtered_and_counted,
    denied_by_scheme_host_port_and_path,
);

for_each_lang!(
    reconnect_sends_last_event_id_and_honours_retry,
    reconnect_redirected_to_an_ungranted_target_is_refused,
    guest_waits_on_a_websocket_and_an_event_stream_together,
);

const TWO_TICKS: &str = "event: tick\nid: 1\ndata: a\n\n: a comment\nevent: other\ndata: skipped\n\n\
                         event: tick\r\ndata: line1\r\ndata: line2\r\nid: 2\r\n\r\n";

fn events_printed_filtered_and_counted(guest: &str) {
    let srv = SseServer::serving(TWO_TICKS);
    let p = policy(&format!(
        "allow = [\"sse+http://127.0.0.1:{}/events\"]",
        srv.port()
    ));
    let out = run_cli(guest, &p, &[], &[&srv.url("/events"), "2", "tick"]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "tick 1 a\ntick 2 line1\\nline2\n", out);
    let out = run_cli(guest, &p, &[], &[&srv.url("/events"), "3"]);
    check!(out.code == Some(0), out);
    check!(
        out.stdout == "tick 1 a\nother 1 skipped\ntick 2 line1\\nline2\n",
        out
    );
    assert_eq!(srv.connections(), 2);
}

#[test]
fn an_http_rule_covers_the_stream_but_an_sse_rule_grants_no_http() {
    let srv = SseServer::serving("data: x\n\n");
    let p = allow_only(&srv.url("/events"));
    let out = sse_watch(&p, &[], &[&srv.url("/events"), "1"]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "message - x\n", out);
    // The narrower sse+http rule does not grant plain HTTP requests.
    let p = policy(&format!(
        "allow = [\"sse+http://127.0.0.1:{}/events\"]",
        srv.port()
    ));
    let out = run_cli("rust-http-get", &p, &[], &[&srv.url("/events")]);
    assert_denied(
        &out,
        Denial::Guest("http-get"),
        Some(&format!("\"{}\"", srv.url("/events"))),
    );
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
    assert_denied_after(
        &out,
        "message 1 one\n",
        DENIED,
        Some(&format!("\"sse+{}\"", other.url("/events"))),
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

fn denied_by_scheme_host_port_and_path(guest: &str) {
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
        let out = run_cli(guest, &p, &extra, &[&url, "1"]);
        assert_denied(&out, DENIED, Some(&hint));
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
    let (echoed2, sent_one2) = (Arc::clone(&echoed), Arc::clone(&sent_one));
    let sse = Loopback::start(
        None,
        Arc::new(move |_, mut io| {
            let (echoed, sent_one) = (Arc::clone(&echoed2), Arc::clone(&sent_one2));
            Box::pin(async move {
                let _ = read_head(&mut io).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
                io.write_all(head.as_bytes()).await.unwrap();
                io.write_all(b"data: one\n\n").await.unwrap();
                sent_one.notify_one();
                echoed.notified().await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                io.write_all(b"data: two\n\n").await.unwrap();
                futures::future::pending::<()>().await;
            })
        }),
    );
    let ws = Loopback::start(
        None,
        Arc::new(move |_, io| {
            let (echoed, sent_one) = (Arc::clone(&echoed), Arc::clone(&sent_one));
            Box::pin(async move {
                let mut ws = tokio_tungstenite::accept_async(io).await.unwrap();
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() {
                        sent_one.notified().await;
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        ws.send(msg).await.unwrap();
                        echoed.notify_one();
                    }
                }
            })
        }),
    );
    let (sse_port, ws_port) = (sse.port(), ws.port());
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
    check!(out.code == Some(0), out);
    check!(
        out.stdout == "sse: message - one\nws: hello\nsse: message - two\n",
        out
    );
}
