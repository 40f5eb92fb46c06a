//! `sandnet::metrics` end to end: the `/metrics` server, a real guest's network
//! decisions and bytes in the scraped text, and `sandnet status` reading it.

use std::net::SocketAddr;

use sandnet::ExitStatus;
use sandnet::audit::Audit;
use sandnet::metrics::{GuestState, Metrics, Sample, names, parse, serve};

use crate::support::assertions::check;
use crate::support::guests::{Cli, run_lib};
use crate::support::recording::{DialMode, RecordingDialer, guard_with};
use crate::support::servers::{Server, free_port};

/// What the guest posts to the echo route, and what the route answers.
const BODY: &str = "ping pong ü";

/// A metrics server on 127.0.0.1:0, running on its own runtime until dropped.
struct Endpoint {
    addr: SocketAddr,
    _tokio: tokio::runtime::Runtime,
}

impl Endpoint {
    fn start(metrics: &Metrics) -> Endpoint {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let (addr, _task) = tokio
            .block_on(serve("127.0.0.1:0".parse().unwrap(), metrics.clone()))
            .expect("serve metrics");
        Endpoint {
            addr,
            _tokio: tokio,
        }
    }

    /// GET `path`: status, content type, body.
    fn get(&self, path: &str) -> (u16, String, String) {
        let url = format!("http://{}{path}", self.addr);
        let client_rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        client_rt.block_on(async {
            let res = reqwest::get(&url).await.expect("GET the metrics endpoint");
            let status = res.status().as_u16();
            let kind = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (status, kind, res.text().await.expect("body"))
        })
    }
}

/// Runs the Rust http-get guest as guest `t` with its audit metered by `metrics`:
/// one allowed POST to the echo route and one denied GET.
fn run_metered_guest(metrics: &Metrics, srv: &Server) {
    let policy = format!("[guest.t]\nallow = [\"POST {}\"]", srv.url("/echo"));
    let meter = metrics.guest("t");
    meter.set_state(GuestState::Running);
    for args in [
        vec![srv.url("/echo"), "POST".to_owned(), BODY.to_owned()],
        vec![srv.url("/ok")],
    ] {
        let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
        let audit = Audit::off().metered(meter.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = run_lib(
            "rust-http-get",
            &policy,
            &args,
            guard_with(&[], &dialer, audit),
        );
        if args.len() == 3 {
            check!(run.outcome.status == ExitStatus::Exited(0), run);
            check!(run.stdout == format!("200\nPOST {BODY}"), run);
        } else {
            check!(run.outcome.status != ExitStatus::Exited(0), run);
            check!(dialer.dialed().is_empty(), run, "the denied GET dialled");
        }
    }
    assert_eq!(srv.seen(), ["POST /echo"]);
}

/// The value of `name` with exactly `labels` among `samples`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels.iter().all(|(k, v)| s.label(k) == Some(v))
        })
        .map(|s| s.value)
}

#[test]
fn scraped_metrics_hold_a_guests_requests_denials_and_bytes() {
    let metrics = Metrics::new();
    let endpoint = Endpoint::start(&metrics);
    let srv = Server::http();
    run_metered_guest(&metrics, &srv);

    let (status, kind, text) = endpoint.get("/metrics");
    assert_eq!(status, 200, "{text}");
    assert_eq!(kind, "text/plain; version=0.0.4");
    let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let event = |event, decision| {
        [
            ("guest", "t"),
            ("protocol", "http"),
            ("event", event),
            ("decision", decision),
        ]
    };
    let events = names::NET_EVENTS;
    assert_eq!(
        value(&samples, events, &event("request", "allow")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&samples, events, &event("request", "deny")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&samples, events, &event("connect", "allow")),
        Some(1.0),
        "{text}"
    );
    // Bytes are the bodies, counted once each as the guard passes them.
    let bytes = |direction| [("guest", "t"), ("direction", direction)];
    let sent = BODY.len() as f64;
    let received = format!("POST {BODY}").len() as f64;
    assert_eq!(
        value(&samples, names::NET_BYTES, &bytes("out")),
        Some(sent),
        "{text}"
    );
    assert_eq!(
        value(&samples, names::NET_BYTES, &bytes("in")),
        Some(received),
        "{text}"
    );
    let running = [("guest", "t"), ("state", "running")];
    assert_eq!(
        value(&samples, names::GUEST_STATE, &running),
        Some(1.0),
        "{text}"
    );
}

#[test]
fn other_paths_are_not_found() {
    let endpoint = Endpoint::start(&Metrics::new());
    let (status, _, body) = endpoint.get("/");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("/metrics"), "{body}");
}

#[test]
fn status_prints_a_line_per_guest_from_a_running_endpoint() {
    let metrics = Metrics::new();
    let endpoint = Endpoint::start(&metrics);
    let srv = Server::http();
    run_metered_guest(&metrics, &srv);
    let idle = metrics.guest("idle-one");
    idle.set_state(GuestState::Backoff);
    idle.restarted("trap");
    idle.restarted("trap");

    let addr = endpoint.addr.to_string();
    let out = Cli::new(["status", "--metrics", &addr]).output();
    check!(out.code == Some(0), out);
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| {
            l.split("   ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    check!(lines.len() == 3, out, "a header and two guests");
    check!(
        lines[0]
            == [
                "GUEST",
                "STATE",
                "RESTARTS",
                "ALLOWED",
                "DENIED",
                "BYTES IN",
                "BYTES OUT",
                "CPU",
                "MEMORY"
            ],
        out
    );
    check!(
        lines[1][..4] == ["idle-one", "backoff", "2", "0"],
        out,
        "guests sorted by name"
    );
    let received = format!("{} B", format!("POST {BODY}").len());
    let sent = format!("{} B", BODY.len());
    check!(
        lines[2][..7] == ["t", "running", "0", "1", "1", &received, &sent],
        out
    );

    let json = Cli::new(["status", "--metrics", &addr, "--format", "json"]).output();
    check!(json.code == Some(0), json);
    let guests: serde_json::Value = serde_json::from_str(&json.stdout).expect("status JSON");
    check!(guests[1]["guest"] == "t", json);
    check!(guests[1]["allowed"] == 1 && guests[1]["denied"] == 1, json);
    check!(guests[1]["bytes_out"] == BODY.len(), json);
    check!(guests[0]["restarts"] == 2, json);
}

#[test]
fn status_without_a_metrics_server_names_the_address_and_a_hint() {
    let addr = format!("127.0.0.1:{}", free_port());
    let out = Cli::new(["status", "--metrics", &addr]).output();
    check!(out.code == Some(69), out);
    check!(
        out.stderr
            .contains(&format!("nothing serves metrics at {addr}")),
        out
    );
    check!(
        out.stderr
            .contains(&format!("is `sandnet up --metrics {addr}` running?")),
        out
    );
}
