//! The audit log (`--audit FILE`) end to end: real guests through the CLI
//! against loopback servers, every line validated against
//! `docs/audit.schema.json` (which refuses fields it does not describe), and
//! the values of the fields that describe each exchange asserted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::support::assertions::check;
use crate::support::daemons::Daemon;
use crate::support::guests::{Background, Output, repo_root, run_cli};
use crate::support::policy::{PolicyFile, allow_only, policy};
use crate::support::recording::audit_events;
use crate::support::servers::{
    Behaviour, LineServer, Reply, Server, SseServer, UdpEchoPeer, WsServer,
};

/// The published schema, compiled once (draft 2020-12, formats checked).
fn schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = repo_root().join("docs/audit.schema.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
        jsonschema::draft202012::meta::validate(&schema)
            .unwrap_or_else(|e| panic!("the schema is no valid draft 2020-12 schema: {e}"));
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("the schema does not compile: {e}"))
    })
}

/// Panics with every violation if `event` does not fit the schema.
#[track_caller]
fn assert_valid(event: &Value) {
    let errors: Vec<String> = schema()
        .iter_errors(event)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "audit line does not fit docs/audit.schema.json:\n{event}\n{}",
        errors.join("\n")
    );
}

/// Runs `guest` with `--audit` into a file beside the policy; returns the
/// run and the log's events, each validated against the schema.
fn audited(guest: &str, p: &PolicyFile, extra: &[&str], args: &[&str]) -> (Output, Vec<Value>) {
    let (log, arg) = audit_log(p);
    let mut cli = vec![arg.as_str()];
    cli.extend_from_slice(extra);
    let out = run_cli(guest, p, &cli, args);
    (out, logged(&log))
}

/// A fresh audit log file beside the policy, and the `--audit` argument
/// that writes it.
fn audit_log(p: &PolicyFile) -> (std::path::PathBuf, String) {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let log = p.dir.path().join(format!("audit-{run}.jsonl"));
    let arg = format!("--audit={}", log.display());
    (log, arg)
}

/// The events in the audit log at `log`, each validated against the schema.
fn logged(log: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let events = audit_events(&text);
    for event in &events {
        assert_valid(event);
    }
    events
}

/// The events named `event`.
fn named<'a>(events: &'a [Value], event: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == event).collect()
}

/// The one event named `event`.
#[track_caller]
fn only<'a>(events: &'a [Value], event: &str) -> &'a Value {
    let found = named(events, event);
    assert_eq!(found.len(), 1, "one {event} event expected in {events:#?}");
    found[0]
}

#[test]
fn the_schema_knows_every_field_the_host_writes() {
    use sandnet::audit::{AuditEvent, CacheOutcome, ClosedBy, Verdict};
    let mut ev = AuditEvent::new(
        "t",
        "https",
        "response",
        "https://a.test/x".into(),
        Verdict::Allow,
    );
    ev.rule = Some("2: https://a.test/*".into());
    ev.reason = Some("why".into());
    ev.method = Some("GET".into());
    ev.suggestion = Some("\"https://a.test/x\"".into());
    ev.resolved = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    ev.connected = Some("127.0.0.1:443".parse().unwrap());
    ev.status = Some(200);
    ev.bytes_out = Some(1);
    ev.bytes_in = Some(2);
    ev.set_took(std::time::Duration::from_millis(3));
    ev.limit = Some("bytes_in_total");
    ev.secret = vec!["authorization".into()];
    ev.dropped = Some(4);
    ev.attempt = Some(1);
    ev.cache = Some(CacheOutcome::Revalidated);
    ev.messages_in = Some(5);
    ev.messages_out = Some(6);
    ev.reconnects = Some(7);
    ev.set_close(ClosedBy::Peer, Some(4000), "requested");
    let line = serde_json::to_value(&ev).unwrap();
    let written = line.as_object().unwrap().len();
    let described = schema_properties();
    assert_eq!(
        written,
        described.len(),
        "every field set: the line has them all"
    );
    assert_valid(&line);
    // And a field the schema lacks is refused.
    let mut extra = line.clone();
    extra["new_field"] = Value::from(1);
    assert!(!schema().is_valid(&extra), "additionalProperties is false");
}

/// The property names the schema file describes.
fn schema_properties() -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join("docs/audit.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    schema["properties"]
        .as_object()
        .unwrap()
        .iter()
        .inspect(|(name, prop)| {
            assert!(
                prop["description"].as_str().is_some_and(|d| !d.is_empty()),
                "property {name} has no description"
            );
        })
        .map(|(name, _)| name.clone())
        .collect()
}

// ---------------------------------------------------------------------------
// HTTP: sandnet:net/http

#[test]
fn an_allowed_get_and_post_end_with_one_response_event_each() {
    let srv = Server::http();
    let p = policy(&format!(
        "allow = [\"{}\", \"POST {}\"]",
        srv.url("/ok"),
        srv.url("/echo")
    ));
    let (out, events) = audited("rust-http-get", &p, &[], &[&srv.url("/ok")]);
    check!(out.code == Some(0) && out.stdout == "200\nhello", out);
    let response = only(&events, "response");
    assert_eq!(response["target"], srv.url("/ok"), "{events:#?}");
    assert_eq!(response["protocol"], "http");
    assert_eq!(response["decision"], "allow");
    assert_eq!(response["method"], "GET");
    assert_eq!(response["status"], 200);
    assert_eq!(response["bytes_in"], "hello".len());
    assert_eq!(response["bytes_out"], 0);
    assert_eq!(response["attempt"], 1);
    assert!(response["duration_ms"].as_f64().is_some_and(|d| d > 0.0));
    assert!(response.get("cache").is_none(), "no cache in this policy");
    assert_eq!(only(&events, "request")["method"], "GET");
    let connected = only(&events, "connect")["time"].as_f64().unwrap();
    assert!(
        response["time"].as_f64().unwrap() >= connected,
        "an end event is stamped when it ends: {events:#?}"
    );

    let (out, events) = audited(
        "rust-http-get",
        &p,
        &[],
        &[&srv.url("/echo"), "POST", "ping"],
    );
    check!(out.code == Some(0) && out.stdout == "200\nPOST ping", out);
    let response = only(&events, "response");
    assert_eq!(response["method"], "POST");
    assert_eq!(response["status"], 200);
    assert_eq!(response["bytes_out"], "ping".len());
    assert_eq!(response["bytes_in"], "POST ping".len());
}

#[test]
fn a_body_the_guest_drops_unread_still_ends_its_response_event_once() {
    const BIG: usize = 2_000_000;
    let srv = Server::http();
    let p = allow_only(&srv.url("/*"));
    let big = srv.url(&format!("/big?n={BIG}"));
    // `race` takes both heads and drops each response without reading its body.
    let (out, events) = audited(
        "rust-http-stream",
        &p,
        &[],
        &["race", &srv.url("/slow?ms=200"), &big],
    );
    check!(out.code == Some(0), out);
    let responses = named(&events, "response");
    assert_eq!(responses.len(), 2, "{events:#?}");
    let dropped = responses
        .iter()
        .find(|r| r["target"] == srv.url("/big"))
        .unwrap_or_else(|| panic!("no response event for /big in {events:#?}"));
    assert_eq!(dropped["status"], 200);
    assert_eq!(dropped["decision"], "allow");
    let received = dropped["bytes_in"].as_u64().unwrap();
    assert!(
        received < BIG as u64,
        "the guest dropped it unread: {dropped}"
    );
}

#[test]
fn a_denied_request_keeps_its_request_event_and_has_no_response() {
    let srv = Server::http();
    let p = allow_only(&srv.url("/ok"));
    let (out, events) = audited("rust-http-get", &p, &[], &[&srv.url("/nope")]);
    check!(out.code == Some(1), out);
    let request = only(&events, "request");
    assert_eq!(request["decision"], "deny");
    assert_eq!(request["method"], "GET");
    assert!(named(&events, "response").is_empty(), "{events:#?}");
    assert_eq!(srv.requests(), 0);
}

#[test]
fn every_retried_attempt_has_its_own_response_event() {
    let srv = Server::http();
    let p = allow_only(&srv.url("/flaky"));
    let url = srv.url("/flaky?fail=1");
    let (out, events) = audited("rust-http-get", &p, &[], &["--retries", "2", &url]);
    check!(
        out.code == Some(0) && out.stdout.starts_with("200 9\n"),
        out
    );
    let responses = named(&events, "response");
    let seen: Vec<(Value, Value)> = responses
        .iter()
        .map(|r| (r["attempt"].clone(), r["status"].clone()))
        .collect();
    assert_eq!(
        seen,
        [(1.into(), 503.into()), (2.into(), 200.into())],
        "{events:#?}"
    );
    assert_eq!(responses[1]["bytes_in"], "recovered".len());
    assert_eq!(
        named(&events, "request").len(),
        2,
        "each attempt is checked"
    );
}

#[test]
fn a_cached_answer_says_hit_after_the_first_miss() {
    let srv = Server::http();
    let p = policy(&format!(
        "allow = [\"{}\"]\ncache = \"memory\"",
        srv.url("/cached")
    ));
    let url = srv.url("/cached?max-age=60");
    let (out, events) = audited("rust-http-get", &p, &[], &[&url, &url]);
    check!(
        out.code == Some(0) && out.stdout.starts_with("200 11\n200 11\n"),
        out
    );
    let responses = named(&events, "response");
    let cache: Vec<&Value> = responses.iter().map(|r| &r["cache"]).collect();
    assert_eq!(cache, ["miss", "hit"], "{events:#?}");
    for response in responses {
        assert_eq!(response["status"], 200);
        assert_eq!(response["bytes_in"], "cached body".len());
    }
    assert_eq!(srv.requests(), 1, "the second answer came from the cache");
}

#[test]
fn report_only_lets_a_would_deny_through_and_its_response_is_logged() {
    let srv = Server::http();
    let p = allow_only(&srv.url("/ok"));
    let (out, events) = audited(
        "rust-http-get",
        &p,
        &["--report-only=all"],
        &[&srv.url("/echo")],
    );
    check!(out.code == Some(0) && out.stdout == "200\nGET ", out);
    let would = named(&events, "request")
        .into_iter()
        .find(|e| e["decision"] == "would-deny")
        .unwrap_or_else(|| panic!("no would-deny in {events:#?}"));
    assert_eq!(would["method"], "GET");
    assert!(would["suggestion"].as_str().is_some(), "{would}");
    let response = only(&events, "response");
    assert_eq!(response["status"], 200);
    assert_eq!(response["bytes_in"], "GET ".len());
}

// ---------------------------------------------------------------------------
// HTTP: standard wasi:http

#[test]
fn a_standard_wasi_http_exchange_ends_with_the_same_response_event() {
    let srv = Server::http();
    let p = policy(&format!(
        "allow = [\"{}\", \"POST {}\"]",
        srv.url("/ok"),
        srv.url("/echo")
    ));
    let (out, events) = audited("rust-wasi-http-get", &p, &[], &[&srv.url("/ok")]);
    check!(out.code == Some(0), out);
    let response = only(&events, "response");
    assert_eq!(response["method"], "GET");
    assert_eq!(response["status"], 200);
    assert_eq!(response["bytes_in"], "hello".len());
    assert_eq!(response["attempt"], 1);

    let (out, events) = audited(
        "rust-wasi-http-get",
        &p,
        &[],
        &[&srv.url("/echo"), "POST", "ping"],
    );
    check!(out.code == Some(0), out);
    let response = only(&events, "response");
    assert_eq!(response["method"], "POST");
    assert_eq!(response["bytes_out"], "ping".len());
    assert_eq!(response["bytes_in"], "POST ping".len());
}

// ---------------------------------------------------------------------------
// WebSocket

#[test]
fn a_websocket_close_counts_reconnects_and_carries_the_peers_close_code() {
    let srv = WsServer::plain();
    let p = policy(&format!(
        "allow = [\"{}\"]\nenv = {{ WS_CLIENT_RECONNECT = \"3,50,400\" }}",
        srv.url("ws", "/")
    ));
    // `drop` ends connection 1; connection 2 greets, echoes, then closes 4000.
    let (out, events) = audited(
        "rust-ws-client",
        &p,
        &[],
        &[&srv.url("ws", "/"), "drop", "hello", "close-me"],
    );
    check!(
        out.code == Some(0) && out.stdout == "welcome 2\nhello\nclose 4000 requested\n",
        out
    );
    let reconnect = only(&events, "reconnect");
    assert_eq!(reconnect["reconnects"], 1);
    assert!(reconnect["reason"].as_str().is_some(), "{reconnect}");
    let close = only(&events, "close");
    assert_eq!(close["protocol"], "ws");
    assert_eq!(close["close_code"], 4000);
    assert_eq!(close["close_reason"], "requested");
    assert_eq!(close["closed_by"], "peer");
    assert_eq!(close["reconnects"], 1);
    assert_eq!(close["messages_out"], 3);
    assert_eq!(
        close["bytes_out"],
        "drop".len() + "hello".len() + "close-me".len()
    );
    assert_eq!(close["messages_in"], 2);
    assert_eq!(close["bytes_in"], "welcome 2".len() + "hello".len());
    assert!(close["duration_ms"].as_f64().is_some_and(|d| d > 0.0));
}

#[test]
fn a_websocket_the_guest_closes_says_so() {
    let srv = WsServer::plain();
    let p = allow_only(&srv.url("ws", "/chat"));
    let (out, events) = audited("rust-ws-client", &p, &[], &[&srv.url("ws", "/chat"), "hi"]);
    check!(out.code == Some(0), out);
    let close = only(&events, "close");
    assert_eq!(close["close_code"], 1000);
    assert_eq!(close["close_reason"], "bye");
    assert_eq!(close["closed_by"], "guest");
    assert_eq!(close["reconnects"], 0);
    assert_eq!(
        (close["messages_in"].clone(), close["bytes_in"].clone()),
        (1.into(), 2.into())
    );
}

// ---------------------------------------------------------------------------
// SSE, TCP, UDP

#[test]
fn an_event_stream_close_counts_events_bytes_and_reconnects() {
    const FIRST: &str = "retry: 50\nid: 1\ndata: one\n\n";
    const SECOND: &str = "id: 2\ndata: two\n\n";
    let srv = SseServer::start(Arc::new(|n, _| match n {
        1 => Reply::events(FIRST),
        _ => Reply::events(SECOND).held(),
    }));
    let p = policy(&format!("allow = [\"sse+{}\"]", srv.url("/events")));
    let (out, events) = audited("rust-sse-watch", &p, &[], &[&srv.url("/events"), "2"]);
    check!(
        out.code == Some(0) && out.stdout == "message 1 one\nmessage 2 two\n",
        out
    );
    assert_eq!(only(&events, "reconnect")["reconnects"], 1);
    let close = only(&events, "close");
    assert_eq!(close["protocol"], "sse+http");
    assert_eq!(close["messages_in"], 2);
    assert_eq!(close["bytes_in"], FIRST.len() + SECOND.len());
    assert_eq!(close["reconnects"], 1);
    assert_eq!(close["closed_by"], "guest");
}

#[test]
fn a_tcp_close_carries_bytes_and_duration() {
    let srv = LineServer::plain(Behaviour::Upper);
    let url = format!("tcp://127.0.0.1:{}", srv.port());
    let p = allow_only(&url);
    let (out, events) = audited("rust-tcp-client", &p, &[], &[&url, "hello"]);
    check!(out.code == Some(0) && out.stdout == "HELLO\n", out);
    let close = only(&events, "close");
    assert_eq!(close["bytes_out"], "hello\n".len());
    assert_eq!(close["bytes_in"], "HELLO\n".len());
    assert!(close["duration_ms"].as_f64().is_some_and(|d| d > 0.0));
    // The guest shut its write half and read until the server closed.
    assert_eq!(close["closed_by"], "peer", "{close}");
    assert_eq!(close["decision"], "allow", "{close}");
}

#[test]
fn a_tcp_stream_the_guest_drops_while_the_server_waits_is_closed_by_the_guest() {
    let srv = LineServer::plain(Behaviour::Upper);
    let url = format!("tcp://127.0.0.1:{}", srv.port());
    // One reply line read, the write half still open: the server waits for more.
    let p = policy(&format!(
        "allow = [\"{url}\"]\nenv = {{ TCP_CLIENT_LINES = \"1\" }}"
    ));
    let (out, events) = audited("rust-tcp-client", &p, &[], &[&url, "hello"]);
    check!(out.code == Some(0) && out.stdout == "HELLO\n", out);
    let close = only(&events, "close");
    assert_eq!(close["closed_by"], "guest", "{close}");
    assert_eq!(close["decision"], "allow", "{close}");
    assert!(close.get("reason").is_none(), "{close}");
}

#[test]
fn a_tcp_read_that_times_out_is_closed_by_the_host_with_the_reason() {
    let srv = LineServer::plain(Behaviour::Silent);
    let url = format!("tcp://127.0.0.1:{}", srv.port());
    let p = policy(&format!(
        "allow = [\"{url}\"]\nenv = {{ TCP_CLIENT_LINES = \"1\", TCP_CLIENT_TIMEOUT_MS = \"300\" }}"
    ));
    let (out, events) = audited("rust-tcp-client", &p, &[], &[&url, "hello"]);
    check!(out.code == Some(1), out);
    let close = only(&events, "close");
    assert_eq!(close["closed_by"], "host", "{close}");
    assert_eq!(close["decision"], "error", "{close}");
    assert!(
        close["reason"].as_str().is_some_and(|r| r.contains("idle")),
        "{close}"
    );
}

#[test]
fn a_tcp_stream_accepted_by_a_guest_listener_is_closed_by_the_peer_that_hung_up() {
    use std::io::{Read, Write};
    let p = policy("allow = [{ rule = \"tcp-listen://127.0.0.1:0\", peers = [\"127.0.0.1\"] }]");
    let (log, arg) = audit_log(&p);
    let mut bg = Background::start(
        "rust-tcp-echo-server",
        &p,
        &[&arg],
        &["tcp-listen://127.0.0.1:0", "1"],
    );
    let port = bg.listening_on().port();
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    client
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    client.write_all(b"ping").unwrap();
    let mut echoed = [0; 4];
    client.read_exact(&mut echoed).unwrap();
    let me = client.local_addr().unwrap();
    drop(client);
    let (code, rest, stderr) = bg.finish();
    assert_eq!(code, Some(0), "{rest:?} {stderr}");
    let events = logged(&log);
    let close = only(&events, "close");
    assert_eq!(close["protocol"], "tcp-listen");
    assert_eq!(close["connected"], me.to_string());
    assert_eq!(close["closed_by"], "peer", "{close}");
    assert_eq!(
        (close["bytes_in"].clone(), close["bytes_out"].clone()),
        (4.into(), 4.into())
    );
}

#[test]
fn a_standard_wasi_sockets_connection_ends_with_a_close_event_with_its_bytes() {
    let srv = LineServer::plain(Behaviour::WholeEcho);
    let addr = format!("127.0.0.1:{}", srv.port());
    let p = allow_only(&format!("tcp://{addr}"));
    let (out, events) = audited("rust-std-sockets", &p, &[], &["tcp", &addr, "1000"]);
    check!(
        out.code == Some(0) && out.stdout == "tcp: connected\nsent 1000\nreceived 1000\n",
        out
    );
    let socket = events
        .iter()
        .find(|e| e["event"] == "wasi-socket" && e["decision"] == "allow")
        .unwrap_or_else(|| panic!("no wasi-socket event in {events:#?}"));
    let close = only(&events, "close");
    assert_eq!(close["target"], socket["target"]);
    assert_eq!(close["protocol"], "tcp");
    assert_eq!(close["connected"], addr);
    assert_eq!(
        (close["bytes_out"].clone(), close["bytes_in"].clone()),
        (1000.into(), 1000.into())
    );
    // The guest shut its write half and read until the server closed.
    assert_eq!(close["closed_by"], "peer", "{close}");
    assert!(close["duration_ms"].as_f64().is_some_and(|d| d > 0.0));
}

#[test]
fn a_standard_wasi_sockets_udp_socket_ends_with_a_close_event_counting_datagrams() {
    // Answers each datagram with itself, then `end` (what the guest waits for).
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, peer)) = server.recv_from(&mut buf) {
            let _ = server.send_to(&buf[..n], peer);
            let _ = server.send_to(b"end", peer);
        }
    });
    let p = allow_only(&format!("udp://{addr}"));
    let (out, events) = audited("rust-std-sockets", &p, &[], &["udp", &addr, "50", "60"]);
    check!(
        out.code == Some(0)
            && out.stdout == "sent 50\nreceived 50\nend\nsent 60\nreceived 60\nend\n",
        out
    );
    // An ephemeral port, as sandnet:net/udp names one: the bound address.
    let close = only(&events, "close");
    assert_eq!(close["protocol"], "udp");
    let target = close["target"].as_str().unwrap_or_default();
    check!(
        target.starts_with("udp-bind://0.0.0.0:") && !target.ends_with(":0"),
        out
    );
    assert_eq!(
        (close["messages_out"].clone(), close["bytes_out"].clone()),
        (2.into(), 110.into())
    );
    assert_eq!(
        (close["messages_in"].clone(), close["bytes_in"].clone()),
        (4.into(), (50 + 60 + 2 * "end".len()).into())
    );
    assert!(close["duration_ms"].as_f64().is_some_and(|d| d > 0.0));
}

#[test]
fn a_udp_socket_close_counts_datagrams_and_bytes() {
    let peer = UdpEchoPeer::start(false);
    let target = peer.target();
    let p = allow_only(&target);
    let (out, events) = audited(
        "rust-udp-echo",
        &p,
        &[],
        &["client", &target, "ping", "pong"],
    );
    check!(out.code == Some(0) && out.stdout == "ping\npong\n", out);
    let close = only(&events, "close");
    assert_eq!(close["protocol"], "udp");
    assert_eq!(
        (close["messages_out"].clone(), close["bytes_out"].clone()),
        (2.into(), 8.into())
    );
    assert_eq!(
        (close["messages_in"].clone(), close["bytes_in"].clone()),
        (2.into(), 8.into())
    );
    assert_eq!(close["dropped"], 0);
    assert!(close["duration_ms"].as_f64().is_some_and(|d| d > 0.0));
}

// ---------------------------------------------------------------------------
// MQTT

#[test]
fn an_mqtt_session_ends_with_a_close_event_for_its_broker() {
    let Some(broker) = Daemon::mosquitto() else {
        return;
    };
    let p = policy(&format!(
        "allow = [\"mqtt-publish://127.0.0.1:{}/sensors/#\"]\nenv = {{ MQTT_QOS = \"1\" }}",
        broker.port()
    ));
    let url = broker.url("mqtt");
    let (out, events) = audited(
        "rust-mqtt-pub",
        &p,
        &[],
        &[&url, "sensors/kitchen", "21.5", "22"],
    );
    check!(out.code == Some(0) && out.stdout == "published 2\n", out);
    let connect = only(&events, "connect");
    let close = only(&events, "close");
    assert_eq!(close["protocol"], "mqtt");
    assert_eq!(close["target"], connect["target"]);
    assert_eq!(close["decision"], "allow", "{close}");
    assert_eq!(close["closed_by"], "guest", "{close}");
    assert_eq!(close["messages_out"], 2, "{close}");
    assert_eq!(close["messages_in"], 0, "{close}");
    // CONNECT and two PUBLISHes at least, their payloads included; CONNACK
    // and two PUBACKs back.
    let sent = close["bytes_out"].as_u64().unwrap_or(0);
    let received = close["bytes_in"].as_u64().unwrap_or(0);
    let topics = 2 * "sensors/kitchen".len() as u64;
    assert!(
        sent > topics + ("21.5".len() + "22".len()) as u64,
        "{close}"
    );
    assert!(received >= 4 * 3, "{close}");
    assert!(close["duration_ms"].as_f64().is_some_and(|d| d > 0.0));
}
