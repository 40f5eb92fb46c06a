//! Differential security harness: the bytes that reach the wire are exactly
//! the bytes the policy checked.
//!
//! Every interface that carries a URL (`sandnet:net/http`, standard
//! `wasi:http`, the WebSocket handshake, server-sent events) is driven with a
//! corpus of tricky targets (dot segments, encoded separators, backslashes,
//! `;` parameters, odd IP literals, userinfo, mixed-case methods) against a
//! recording HTTP/1.1 server. For each case the harness asserts that
//!
//! - a target the policy denies produced no request at all;
//! - what arrived is allowed by the policy read strictly (the request-target
//!   as the server got it) and leniently (as a server that merges slashes,
//!   reads `\` as `/`, decodes `%2F`, removes dot segments and strips
//!   `;params` would), and by what the policy means (loopback only under
//!   `/ok/`, never `/ok/secret*`), which a buggy policy engine cannot vouch for;
//! - the request-target is the canonical path the policy checked plus the
//!   raw query, the method is the checked one in uppercase, and the Host
//!   header is the checked host, with no userinfo anywhere.
//!
//! A failure lists every offending case: interface, policy, method, raw
//! target and what the server received.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use sandnet::audit::Audit;
use sandnet::policy::{GuestPolicy, Target};
use sandnet::{RunRequest, Runtime, RuntimeConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::support::guests::{guest, shared_cache_dir};
use crate::support::policy::guest_policy;
use crate::support::recording::{DialMode, RecordingDialer, guard_with};
use crate::support::servers::{lock, read_head};

/// Longest one guest run may take; a hung case fails instead of hanging the suite.
const CASE_TIMEOUT: Duration = Duration::from_secs(30);
/// Guest runs in flight at once.
const PARALLEL_RUNS: usize = 6;
/// Where `evil.test` resolves: a documentation address (TEST-NET-3) that the
/// loopback-only dialer refuses, so nothing leaves the machine.
const EVIL: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));

/// Plain targets: when the policy grants one, it must reach the server (so a
/// host that refuses everything cannot pass). `{s}` is the URL scheme, `{p}`
/// the recording server's port.
const BASELINE: &[&str] = &[
    "{s}://127.0.0.1:{p}/ok/x",
    "{s}://127.0.0.1:{p}/ok/x?q=1&r=%2F..%2Fsecret",
];

/// The tricky targets (same placeholders).
const CORPUS: &[&str] = &[
    // Plainly denied.
    "{s}://127.0.0.1:{p}/secret",
    "{s}://127.0.0.1:{p}/ok/secret",
    // Dot segments.
    "{s}://127.0.0.1:{p}/ok/../secret",
    "{s}://127.0.0.1:{p}/ok/./secret",
    "{s}://127.0.0.1:{p}/ok/%2e%2e/secret",
    "{s}://127.0.0.1:{p}/ok/.%2E/secret",
    // Empty segments.
    "{s}://127.0.0.1:{p}//secret",
    "{s}://127.0.0.1:{p}/ok//../secret",
    // Backslashes and encoded separators.
    "{s}://127.0.0.1:{p}/ok\\..\\secret",
    "{s}://127.0.0.1:{p}/ok%2F..%2Fsecret",
    "{s}://127.0.0.1:{p}/ok%5C..%5Csecret",
    "{s}://127.0.0.1:{p}/ok/x%2F..%2F..%2Fsecret",
    // Overlong and invalid encodings.
    "{s}://127.0.0.1:{p}/ok/%c0%ae%c0%ae/secret",
    "{s}://127.0.0.1:{p}/ok/%%32%65",
    // `;` parameters.
    "{s}://127.0.0.1:{p}/ok/..;/secret",
    // IP literal forms of 127.0.0.1.
    "{s}://2130706433:{p}/ok/x",
    "{s}://0x7f.1:{p}/ok/x",
    "{s}://[::ffff:127.0.0.1]:{p}/ok/x",
    "{s}://127.1:{p}/ok/x",
    // Userinfo.
    "{s}://evil@127.0.0.1:{p}/ok/x",
    "{s}://127.0.0.1:{p}@evil.test/ok/x",
];

/// Methods tried, on the first baseline target, by the interfaces that take one.
const METHODS: &[&str] = &["get", "pOsT"];

/// An interface that carries URLs, driven by its Rust guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interface {
    /// `sandnet:net/http` (`rust-http-get URL [METHOD]`).
    SandnetHttp,
    /// Standard `wasi:http/outgoing-handler` through wstd (`rust-wasi-http-get URL [METHOD]`).
    WasiHttp,
    /// The `sandnet:net/websocket` handshake (`rust-ws-client URL hi`).
    WebSocket,
    /// `sandnet:net/sse` (`rust-sse-watch URL 1`).
    Sse,
}

impl Interface {
    fn guest(self) -> &'static str {
        match self {
            Interface::SandnetHttp => "rust-http-get",
            Interface::WasiHttp => "rust-wasi-http-get",
            Interface::WebSocket => "rust-ws-client",
            Interface::Sse => "rust-sse-watch",
        }
    }

    /// The scheme of the URL the guest is given.
    fn url_scheme(self) -> &'static str {
        match self {
            Interface::WebSocket => "ws",
            _ => "http",
        }
    }

    /// The scheme the policy checks the URL as.
    fn policy_scheme(self) -> &'static str {
        match self {
            Interface::WebSocket => "ws",
            Interface::Sse => "sse+http",
            _ => "http",
        }
    }

    fn takes_methods(self) -> bool {
        matches!(self, Interface::SandnetHttp | Interface::WasiHttp)
    }

    fn args(self, url: &str, method: Option<&str>) -> Vec<String> {
        let mut args = vec![url.to_owned()];
        match self {
            Interface::SandnetHttp | Interface::WasiHttp => args.extend(method.map(str::to_owned)),
            Interface::WebSocket => args.push("hi".to_owned()),
            Interface::Sse => args.push("1".to_owned()),
        }
        args
    }
}

/// The policy a case runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// Loopback granted under `/ok/*` only, `/ok/secret*` denied.
    Narrow,
    /// The same plus `SCHEME://*:*` rules for the rest of the world: the
    /// wildcard must not widen the path-limited loopback grant.
    Wildcard,
}

impl Variant {
    fn policy(self, port: u16) -> String {
        let ok = |scheme: &str| format!("\"{scheme}://127.0.0.1:{port}/ok/*\"");
        let mut allow = vec![ok("http"), ok("ws"), ok("sse+http")];
        if self == Variant::Wildcard {
            allow.extend(["\"http://*:*\"".into(), "\"ws://*:*\"".into()]);
        }
        format!(
            "[guest.t]\n\
             allow = [{}]\n\
             deny = [\"http://127.0.0.1:{port}/ok/secret*\", \"ws://127.0.0.1:{port}/ok/secret*\"]\n\
             env = {{ SSE_WATCH_NO_RECONNECT = \"1\" }}\n\
             [guest.t.limits]\n\
             connect_timeout = \"5s\"\n\
             first_byte_timeout = \"5s\"\n\
             wall_time = \"20s\"\n",
            allow.join(", ")
        )
    }
}

/// What the policy is meant to grant on the loopback server, whatever rules
/// spell it: paths under `/ok/`, except `/ok/secret*`.
fn intended(path: &str) -> bool {
    path.starts_with("/ok/") && !path.starts_with("/ok/secret")
}

// ---------------------------------------------------------------------------
// The recording server

/// One request as the recording server received it.
#[derive(Debug, Clone)]
struct Received {
    /// The request line, verbatim.
    line: String,
    method: String,
    /// The request-target, verbatim.
    target: String,
    /// The `Host` header's value, if any.
    host: Option<String>,
    /// Every header line, verbatim.
    headers: Vec<String>,
}

impl fmt::Display for Received {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} with headers {:?}", self.line, self.headers)
    }
}

/// How the recording server answers.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// 200 `hello`.
    Http,
    /// 101 and a WebSocket that echoes.
    WebSocket,
    /// 200 `text/event-stream` with one event, then close.
    Sse,
}

impl From<Interface> for Answer {
    fn from(interface: Interface) -> Answer {
        match interface {
            Interface::WebSocket => Answer::WebSocket,
            Interface::Sse => Answer::Sse,
            Interface::SandnetHttp | Interface::WasiHttp => Answer::Http,
        }
    }
}

type Records = Arc<Mutex<Vec<Received>>>;

/// Binds 127.0.0.1:0 on the current runtime and records every request.
async fn recording_server(answer: Answer) -> (u16, Records) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local addr").port();
    let records: Records = Arc::default();
    let log = Arc::clone(&records);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(record(stream, answer, Arc::clone(&log)));
        }
    });
    (port, records)
}

async fn record(mut stream: TcpStream, answer: Answer, log: Records) {
    let Some(head) = read_head(&mut stream).await else {
        return;
    };
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default().to_owned();
    let mut parts = line.splitn(3, ' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let headers: Vec<String> = lines
        .take_while(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .filter_map(|h| h.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    let host = header("host");
    let key = header("sec-websocket-key");
    lock(&log).push(Received {
        line,
        method,
        target,
        host,
        headers,
    });
    match answer {
        Answer::Http => {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
                )
                .await;
        }
        Answer::Sse => {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                      cache-control: no-cache\r\nconnection: close\r\n\r\ndata: one\n\n",
                )
                .await;
        }
        Answer::WebSocket => {
            let accept = derive_accept_key(key.unwrap_or_default().as_bytes());
            let head = format!(
                "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\
                 connection: Upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
            );
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let mut ws = WebSocketStream::from_raw_socket(stream, Role::Server, None).await;
            while let Some(Ok(msg)) = ws.next().await {
                if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                    return;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Readings of a received path

/// The query of a raw URL, with its `?`, as the guest wrote it (fragment dropped).
fn raw_query(url: &str) -> &str {
    let url = url.split('#').next().unwrap_or_default();
    url.find('?').map_or("", |i| &url[i..])
}

/// How a lenient server (nginx, Tomcat) reads a path: `%2F`, `%5C` and `%2E`
/// decoded, `\` as `/`, `;params` stripped from each segment, repeated
/// slashes merged, dot segments removed.
fn lenient(path: &str) -> String {
    let mut decoded = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(i) = rest.find('%') {
        decoded.push_str(&rest[..i]);
        let escape = rest.get(i..i + 3).unwrap_or("%");
        match escape.to_ascii_uppercase().as_str() {
            "%2F" => decoded.push('/'),
            "%5C" => decoded.push('/'),
            "%2E" => decoded.push('.'),
            _ => decoded.push_str(escape),
        }
        rest = &rest[i + escape.len()..];
    }
    decoded.push_str(rest);
    let decoded = decoded.replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = decoded.split('/').collect();
    let trailing = decoded.ends_with('/');
    for segment in &segments {
        let segment = segment.split(';').next().unwrap_or_default();
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            _ => out.push(segment),
        }
    }
    let mut path = format!("/{}", out.join("/"));
    if trailing && path != "/" {
        path.push('/');
    }
    path
}

// ---------------------------------------------------------------------------
// One case

/// One guest run: an interface, a policy and a raw target.
#[derive(Debug, Clone)]
struct Case {
    interface: Interface,
    variant: Variant,
    template: &'static str,
    method: Option<&'static str>,
}

/// What one case did.
struct Outcome {
    case: Case,
    url: String,
    port: u16,
    policy: Arc<GuestPolicy>,
    status: String,
    stderr: String,
    received: Vec<Received>,
}

impl Outcome {
    /// The case in one line, for failure messages.
    fn name(&self) -> String {
        let method = self.case.method.map_or(String::new(), |m| format!("{m} "));
        format!(
            "[{:?} {:?}] {method}{}",
            self.case.interface, self.case.variant, self.url
        )
    }

    /// The target the policy checks for `url` under this interface.
    fn checked(&self, url: &str) -> Result<Target, String> {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let target = Target::parse(&format!("{}://{rest}", self.case.interface.policy_scheme()))
            .map_err(|e| e.to_string())?;
        Ok(match self.case.method {
            Some(m) => target.with_method(m),
            None => target,
        })
    }

    /// Whether the policy grants `target` (and, for an IP literal, its address).
    fn grants(&self, target: &Target) -> bool {
        let address = target
            .host
            .ip()
            .is_none_or(|ip| self.policy.check_address(target, ip).is_allowed());
        self.policy.check(target).is_allowed() && address
    }

    /// Every way this case broke the principle (empty: it held).
    fn violations(&self) -> Vec<String> {
        let mut found = Vec::new();
        let checked = self.checked(&self.url);
        let denied = checked.as_ref().map_or(true, |t| !self.grants(t));
        if denied && !self.received.is_empty() {
            found.push("the policy denies this target, yet requests reached the server".to_owned());
        }
        if !denied && BASELINE.contains(&self.case.template) && self.received.is_empty() {
            found.push(
                "the policy grants this plain target, yet nothing reached the server".to_owned(),
            );
        }
        let expected_method = self.case.method.unwrap_or("GET").to_ascii_uppercase();
        for got in &self.received {
            let mut wrong = |problem: String| found.push(format!("{problem}; received {got}"));
            if got.method != expected_method {
                wrong(format!(
                    "method {:?} is not the checked {expected_method:?}",
                    got.method
                ));
            }
            if got.line.contains('@') || got.host.as_deref().is_some_and(|h| h.contains('@')) {
                wrong("userinfo reached the request line or Host header".to_owned());
            }
            if let Ok(checked) = &checked {
                let canonical = format!("{}{}", checked.path, raw_query(&self.url));
                if got.target != canonical {
                    wrong(format!(
                        "request-target {:?} is not the checked canonical {canonical:?}",
                        got.target
                    ));
                }
                let host = format!("{}:{}", checked.host, checked.port);
                if got.host.as_deref() != Some(host.as_str()) {
                    wrong(format!("Host {:?} is not the checked {host:?}", got.host));
                }
            }
            let (path, query) = got
                .target
                .split_once('?')
                .map_or((got.target.as_str(), String::new()), |(p, q)| {
                    (p, format!("?{q}"))
                });
            let readings = [
                ("strictly", got.target.clone()),
                ("leniently", format!("{}{query}", lenient(path))),
            ];
            for (how, target) in readings {
                let url = format!("http://127.0.0.1:{}{target}", self.port);
                match self.checked(&url) {
                    Ok(t) if !self.grants(&t) => {
                        wrong(format!("read {how} ({target:?}) the policy denies it"));
                    }
                    Ok(t) if !intended(&t.path) => wrong(format!(
                        "read {how} ({target:?}) it is outside what the policy means (/ok/*, not /ok/secret*)"
                    )),
                    Ok(_) => {}
                    Err(e) => wrong(format!("read {how} the target does not parse: {e}")),
                }
            }
        }
        found
            .into_iter()
            .map(|v| {
                format!(
                    "{}: {v}\n    guest {}; stderr {:?}",
                    self.name(),
                    self.status,
                    self.stderr
                )
            })
            .collect()
    }
}

/// Runs `case` against its own recording server.
async fn run_case(runtime: &Runtime, case: Case) -> Outcome {
    let (port, records) = recording_server(case.interface.into()).await;
    let url = case
        .template
        .replace("{s}", case.interface.url_scheme())
        .replace("{p}", &port.to_string());
    let policy = guest_policy(&case.variant.policy(port));
    let request = RunRequest {
        component: guest(case.interface.guest()),
        policy: Arc::clone(&policy),
        args: case.interface.args(&url, case.method),
        capture_output: true,
        guard: guard_with(
            &[("evil.test", EVIL)],
            &RecordingDialer::new(DialMode::LoopbackOnly),
            Audit::off(),
        ),
    };
    let (status, stderr) = match tokio::time::timeout(CASE_TIMEOUT, runtime.run(request)).await {
        Ok(Ok(outcome)) => (
            format!("{:?}", outcome.status),
            String::from_utf8_lossy(&outcome.stderr).into_owned(),
        ),
        Ok(Err(err)) => (format!("failed: {err:#}"), String::new()),
        Err(_) => (
            format!("still running after {CASE_TIMEOUT:?}"),
            String::new(),
        ),
    };
    let received = lock(&records).clone();
    Outcome {
        case,
        url,
        port,
        policy,
        status,
        stderr,
        received,
    }
}

/// Runs the whole corpus through `interface` under `variant`; fails listing
/// every case that broke the principle.
fn differential(interface: Interface, variant: Variant) {
    let mut cases: Vec<Case> = BASELINE
        .iter()
        .chain(CORPUS)
        .map(|&template| Case {
            interface,
            variant,
            template,
            method: None,
        })
        .collect();
    if interface.takes_methods() {
        cases.extend(METHODS.iter().map(|&m| Case {
            interface,
            variant,
            template: BASELINE[0],
            method: Some(m),
        }));
    }
    guest(interface.guest()); // compiled once, before the runs race for it
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcomes: Vec<Outcome> = tokio.block_on(async {
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(shared_cache_dir()),
        })
        .expect("wasmtime runtime");
        futures::stream::iter(cases)
            .map(|case| run_case(&runtime, case))
            .buffer_unordered(PARALLEL_RUNS)
            .collect()
            .await
    });
    tokio.shutdown_background();
    for outcome in &outcomes {
        eprintln!(
            "{} -> {}; received {:?}",
            outcome.name(),
            outcome.status,
            outcome.received.iter().map(|r| &r.line).collect::<Vec<_>>()
        );
    }
    let violations: Vec<String> = outcomes.iter().flat_map(Outcome::violations).collect();
    assert!(
        violations.is_empty(),
        "{} violation(s) of \"the bytes on the wire are the bytes the policy checked\":\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[test]
fn lenient_reading_merges_decodes_and_strips() {
    let cases = [
        ("/ok/x", "/ok/x"),
        ("/ok/../secret", "/secret"),
        ("/ok//../secret", "/secret"),
        ("/ok%2F..%2Fsecret", "/secret"),
        ("/ok%5c..%5csecret", "/secret"),
        ("/ok\\..\\secret", "/secret"),
        ("/ok/.%2E/secret", "/secret"),
        ("/ok/..;/secret", "/secret"),
        ("/ok/x;a=b/y/", "/ok/x/y/"),
        ("/ok/%c0%ae", "/ok/%c0%ae"),
    ];
    for (input, want) in cases {
        assert_eq!(lenient(input), want, "lenient({input:?})");
    }
    assert_eq!(raw_query("http://h/p?a=%2F#f"), "?a=%2F");
    assert_eq!(raw_query("http://h/p"), "");
}

#[test]
fn sandnet_http_sends_what_the_policy_checked() {
    differential(Interface::SandnetHttp, Variant::Narrow);
}

#[test]
fn sandnet_http_wildcard_does_not_widen_a_path_limited_ip_rule() {
    differential(Interface::SandnetHttp, Variant::Wildcard);
}

#[test]
fn wasi_http_sends_what_the_policy_checked() {
    differential(Interface::WasiHttp, Variant::Narrow);
}

#[test]
fn wasi_http_wildcard_does_not_widen_a_path_limited_ip_rule() {
    differential(Interface::WasiHttp, Variant::Wildcard);
}

#[test]
fn websocket_handshake_sends_what_the_policy_checked() {
    differential(Interface::WebSocket, Variant::Narrow);
}

#[test]
fn websocket_wildcard_does_not_widen_a_path_limited_ip_rule() {
    differential(Interface::WebSocket, Variant::Wildcard);
}

#[test]
fn sse_sends_what_the_policy_checked() {
    differential(Interface::Sse, Variant::Narrow);
}

#[test]
fn sse_wildcard_does_not_widen_a_path_limited_ip_rule() {
    differential(Interface::Sse, Variant::Wildcard);
}
