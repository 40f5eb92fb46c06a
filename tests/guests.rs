//! Guests from any language: every JavaScript and C guest that
//! scripts/build-guests.sh builds, run through the CLI against loopback
//! servers, allowed and denied, holding the same output and exit contract as
//! the Rust and Python guests; and `sandnet new` for every language, each
//! scaffold built with the one command it prints and run under a policy.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{Cli, Output, Server, check, policy, repo_root, run_cli, write_policy};

/// The guest `prog` got a denial: exit 1, nothing on stdout, `prog: denied:
/// REASON` on stderr and, on the next line, `suggestion` as the hint.
fn assert_denied(out: &Output, prog: &str, suggestion: &str) {
    check!(out.code == Some(1), out);
    check!(out.stdout.is_empty(), out);
    check!(
        out.stderr.starts_with(&format!("{prog}: denied: ")),
        out,
        "the guest should print its name and the denial"
    );
    check!(
        out.stderr.contains(&format!(
            "\nhint: add to the policy's allow list: {suggestion}"
        )),
        out,
        "the hint should name the policy line {suggestion}"
    );
}

/// Generates `mod TEST { fn js(); fn c() }` calling `TEST(guest)` per guest.
macro_rules! per_guest {
    ($($test:ident: [$($lang:ident => $guest:literal),+ $(,)?];)*) => {
        $(
            mod $test {
                $(
                    #[test]
                    fn $lang() {
                        super::$test($guest);
                    }
                )+
            }
        )*
    };
}

// ---------------------------------------------------------------------------
// http-get: `http-get URL [METHOD [BODY]]`, same contract as Rust and Python
// (the allowed GET, POST and status cases run for every language in tests/http.rs)

per_guest! {
    http_large_body_verbatim: [js => "js-http-get", c => "c-http-get"];
    http_denied_names_the_line: [js => "js-http-get", c => "c-http-get"];
    http_bad_usage_exits_2: [js => "js-http-get", c => "c-http-get"];
    http_timeout_is_a_net_error: [js => "js-http-get", c => "c-http-get"];
}

/// Larger than one `blocking-write-and-flush` (4096 bytes) and one read.
fn http_large_body_verbatim(guest: &str) {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"{}\"]", srv.url("/big")));
    let out = run_cli(guest, &p, &[], &[&srv.url("/big?n=300000")]);
    check!(out.code == Some(0), out);
    let expected = format!("200\n{}", "x".repeat(300_000));
    check!(
        out.stdout == expected,
        out,
        "stdout is {} bytes",
        out.stdout.len()
    );
}

fn http_denied_names_the_line(guest: &str) {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"{}\"]", srv.url("/ok")));
    let out = run_cli(guest, &p, &[], &[&srv.url("/echo")]);
    assert_denied(&out, "http-get", &format!("\"{}\"", srv.url("/echo")));
    check!(
        srv.connections() == 0,
        out,
        "a denied request must not reach the server"
    );
}

fn http_bad_usage_exits_2(guest: &str) {
    let p = policy("allow = []");
    let out = run_cli(guest, &p, &[], &[]);
    check!(out.code == Some(2), out);
    check!(
        out.stderr
            .starts_with("http-get: usage: http-get URL [METHOD [BODY]]"),
        out
    );
}

fn http_timeout_is_a_net_error(guest: &str) {
    let srv = Server::black_hole();
    let p = policy(&format!(
        "allow = [\"{}\"]\nenv = {{ HTTP_GET_TIMEOUT_MS = \"300\" }}",
        srv.url("/ok")
    ));
    let out = run_cli(guest, &p, &[], &[&srv.url("/ok")]);
    check!(out.code == Some(1), out);
    check!(out.stderr.starts_with("http-get: timeout: "), out);
}

// ---------------------------------------------------------------------------
// fetch-get: standard `fetch()` only, through the policy-gated wasi:http

#[test]
fn fetch_get_allowed() {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"{}\"]", srv.url("/ok")));
    let out = run_cli("js-fetch-get", &p, &[], &[&srv.url("/ok")]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "200\nhello", out);
    assert_eq!(srv.seen(), ["GET /ok"]);
}

#[test]
fn fetch_get_post_echoes_body() {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"POST {}\"]", srv.url("/echo")));
    let out = run_cli(
        "js-fetch-get",
        &p,
        &[],
        &[&srv.url("/echo"), "POST", "ping"],
    );
    check!(out.code == Some(0), out);
    check!(out.stdout == "200\nPOST ping", out);
}

#[test]
fn fetch_get_denied() {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"{}\"]", srv.url("/ok")));
    let out = run_cli("js-fetch-get", &p, &[], &[&srv.url("/echo")]);
    check!(out.code == Some(1), out);
    check!(out.stdout.is_empty(), out);
    check!(out.stderr.contains("fetch-get: "), out);
    // The guest only sees the standard error code; sandnet's stderr carries
    // the policy line to add.
    check!(
        out.stderr.contains(&format!("\"{}\"", srv.url("/echo"))),
        out,
        "stderr should name the policy line that would allow the URL"
    );
    check!(
        srv.connections() == 0,
        out,
        "a denied request must not reach the server"
    );
}

// ---------------------------------------------------------------------------
// tcp-client: `tcp-client URL [MESSAGE]` against a loopback echo server

/// A TCP server on 127.0.0.1:0 that reads each connection to its end and
/// sends it all back, then closes.
struct EchoServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl EchoServer {
    fn start() -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut data = Vec::new();
                    if stream.read_to_end(&mut data).is_ok() {
                        let _ = stream.write_all(&data);
                    }
                });
            }
        });
        EchoServer { addr, connections }
    }

    fn url(&self) -> String {
        format!("tcp://{}", self.addr)
    }
}

per_guest! {
    tcp_allowed_echo: [js => "js-tcp-client", c => "c-tcp-client"];
    tcp_denied_names_the_line: [js => "js-tcp-client", c => "c-tcp-client"];
}

fn tcp_allowed_echo(guest: &str) {
    let echo = EchoServer::start();
    let p = policy(&format!("allow = [\"{}\"]", echo.url()));
    let out = run_cli(guest, &p, &[], &[&echo.url(), "ping pong ü"]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "ping pong ü", out);
    assert_eq!(echo.connections.load(Ordering::SeqCst), 1);
}

fn tcp_denied_names_the_line(guest: &str) {
    let granted = EchoServer::start();
    let other = EchoServer::start();
    let p = policy(&format!("allow = [\"{}\"]", granted.url()));
    let out = run_cli(guest, &p, &[], &[&other.url(), "ping"]);
    assert_denied(&out, "tcp-client", &format!("\"{}\"", other.url()));
    check!(
        other.connections.load(Ordering::SeqCst) == 0,
        out,
        "a denied connect must not reach the server"
    );
}

// ---------------------------------------------------------------------------
// ws-client: `ws-client URL [MESSAGE...]` against a loopback echo server

/// A WebSocket echo server on 127.0.0.1:0 with its own tokio runtime.
struct WsEchoServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl WsEchoServer {
    fn start() -> WsEchoServer {
        use futures::{SinkExt, StreamExt};
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("server runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&connections);
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                        return;
                    };
                    while let Some(Ok(msg)) = ws.next().await {
                        if msg.is_text() || msg.is_binary() {
                            if ws.send(msg).await.is_err() {
                                return;
                            }
                        } else if msg.is_close() {
                            return;
                        }
                    }
                });
            }
        });
        WsEchoServer {
            addr,
            connections,
            _runtime: runtime,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }
}

#[test]
fn ws_allowed_echo() {
    let srv = WsEchoServer::start();
    let p = policy(&format!("allow = [\"{}\"]", srv.url("/chat")));
    let out = run_cli(
        "js-ws-client",
        &p,
        &[],
        &[&srv.url("/chat"), "one", "two ü"],
    );
    check!(out.code == Some(0), out);
    check!(out.stdout == "one\ntwo ü\n", out);
    assert_eq!(srv.connections.load(Ordering::SeqCst), 1);
}

#[test]
fn ws_denied_names_the_line() {
    let srv = WsEchoServer::start();
    let p = policy(&format!("allow = [\"{}\"]", srv.url("/chat")));
    let out = run_cli("js-ws-client", &p, &[], &[&srv.url("/admin"), "one"]);
    assert_denied(&out, "ws-client", &format!("\"{}\"", srv.url("/admin")));
    check!(
        srv.connections.load(Ordering::SeqCst) == 0,
        out,
        "a denied connect must not reach the server"
    );
}

// ---------------------------------------------------------------------------
// sse-watch: `sse-watch URL [COUNT [TYPE...]]` against a loopback event stream

/// An HTTP/1.1 server on 127.0.0.1:0 answering every request with `body` as
/// `text/event-stream`, then holding the connection open until the client
/// closes it.
struct SseServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl SseServer {
    fn start(body: &'static str) -> SseServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(k) => head.extend_from_slice(&buf[..k]),
                        }
                    }
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                         cache-control: no-cache\r\nconnection: close\r\n\r\n{body}"
                    );
                    if stream.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                    // Hold the stream open until the client goes away.
                    let _ = stream.read_to_end(&mut Vec::new());
                });
            }
        });
        SseServer { addr, connections }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

const TWO_TICKS: &str = "event: tick\nid: 1\ndata: a\n\n: a comment\nevent: other\ndata: skipped\n\n\
                         event: tick\r\ndata: line1\r\ndata: line2\r\nid: 2\r\n\r\n";

#[test]
fn sse_allowed_events_printed_filtered_and_counted() {
    let srv = SseServer::start(TWO_TICKS);
    let p = policy(&format!("allow = [\"sse+{}\"]", srv.url("/events")));
    let out = run_cli("js-sse-watch", &p, &[], &[&srv.url("/events"), "2", "tick"]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "tick 1 a\ntick 2 line1\\nline2\n", out);
    let out = run_cli("js-sse-watch", &p, &[], &[&srv.url("/events"), "3"]);
    check!(out.code == Some(0), out);
    check!(
        out.stdout == "tick 1 a\nother 1 skipped\ntick 2 line1\\nline2\n",
        out
    );
    assert_eq!(srv.connections.load(Ordering::SeqCst), 2);
}

#[test]
fn sse_denied_names_the_line() {
    let srv = SseServer::start(TWO_TICKS);
    let p = policy(&format!("allow = [\"sse+{}\"]", srv.url("/events")));
    let out = run_cli("js-sse-watch", &p, &[], &[&srv.url("/admin"), "1"]);
    assert_denied(&out, "sse-watch", &format!("\"sse+{}\"", srv.url("/admin")));
    check!(
        srv.connections.load(Ordering::SeqCst) == 0,
        out,
        "a denied stream must not reach the server"
    );
}

// ---------------------------------------------------------------------------
// udp-echo: `udp-echo client udp://HOST:PORT MESSAGE...` against a loopback
// echo peer, and `udp-echo server ...` answering a loopback client

/// A UDP echo peer on 127.0.0.1:0 (a thread; ends with the test process)
/// counting the datagrams it received.
fn udp_echo_peer() -> (SocketAddr, Arc<AtomicUsize>) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = socket.local_addr().expect("local addr");
    let received = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&received);
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            count.fetch_add(1, Ordering::SeqCst);
            let _ = socket.send_to(&buf[..n], from);
        }
    });
    (addr, received)
}

#[test]
fn udp_allowed_client_round_trip() {
    let (peer, received) = udp_echo_peer();
    let target = format!("udp://{peer}");
    let p = policy(&format!("allow = [\"{target}\"]"));
    let out = run_cli(
        "js-udp-echo",
        &p,
        &[],
        &["client", &target, "ping", "pong ü"],
    );
    check!(out.code == Some(0), out);
    check!(out.stdout == "ping\npong ü\n", out);
    assert_eq!(received.load(Ordering::SeqCst), 2);
}

#[test]
fn udp_denied_names_the_line() {
    let (peer, received) = udp_echo_peer();
    let target = format!("udp://{peer}");
    let p = policy("allow = [\"udp://127.0.0.1:9\"]");
    let out = run_cli("js-udp-echo", &p, &[], &["client", &target, "x"]);
    assert_denied(&out, "udp-echo", &format!("\"{target}\""));
    check!(
        received.load(Ordering::SeqCst) == 0,
        out,
        "a denied datagram must not reach the peer"
    );
}

/// A child process killed (and reaped) when dropped, so a failed assertion
/// leaves no guest running.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn udp_allowed_server_echoes_one_datagram() {
    use std::io::BufRead;
    use std::process::Stdio;
    // wall_time bounds the run should the datagram never arrive.
    let p = policy(
        "allow = [\n  { rule = \"udp-bind://127.0.0.1:0\", peers = [\"127.0.0.1\"] },\n  \"udp://127.0.0.1:1-65535\",\n]\n[guest.t.limits]\nwall_time = \"60s\"",
    );
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_sandnet"))
            .arg("run")
            .arg(support::guest("js-udp-echo"))
            .args(["--policy", p.arg(), "--"])
            .args(["server", "udp-bind://127.0.0.1:0", "1"])
            .env("SANDNET_CACHE_DIR", support::shared_cache_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sandnet"),
    );
    let mut stdout = std::io::BufReader::new(child.0.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("read stdout");
    let server: SocketAddr = first
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .parse()
        .expect("listening address");
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    client
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("read timeout");
    client.send_to(b"hello", server).expect("send");
    let mut buf = [0u8; 64];
    let (n, from) = client.recv_from(&mut buf).expect("echo reply");
    assert_eq!(&buf[..n], b"hello");
    assert_eq!(from, server);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("read stdout");
    let status = child.0.wait().expect("wait");
    let mut stderr = String::new();
    if let Some(mut err) = child.0.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    assert_eq!(status.code(), Some(0), "{rest}\n{stderr}");
    assert_eq!(
        rest,
        format!("echoed 5 bytes to {}\n", client.local_addr().expect("addr"))
    );
}

// ---------------------------------------------------------------------------
// sandnet new

/// Runs `sandnet new --lang LANG DIR`.
fn sandnet_new(lang: &str, dir: &Path) -> Output {
    Cli::new(["new", "--lang", lang, dir.to_str().expect("UTF-8 path")]).output()
}

/// Files every scaffold has, plus each language's own.
fn expected_files(lang: &str) -> Vec<&'static str> {
    let mut files = vec![
        "policy.toml",
        ".gitignore",
        "wit/world.wit",
        "wit/http.wit",
        "wit/types.wit",
        "wit/deps/io/io.wit",
        "wit/deps/cli/cli.wit",
    ];
    files.extend(match lang {
        "rust" => &["Cargo.toml", "src/main.rs"][..],
        "python" => &["app.py", "sandnet/__init__.py", "build.sh"][..],
        "js" => &["app.js", "sandnet.js", "package.json", "build.sh"][..],
        "c" => &[
            "main.c",
            "sandnet.h",
            "sandnet.c",
            "build.sh",
            "adapter/Cargo.toml",
            "adapter/Cargo.lock",
        ][..],
        _ => unreachable!("unknown language {lang}"),
    });
    files
}

#[test]
fn new_writes_every_language() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for lang in ["rust", "python", "js", "c"] {
        let dir = tmp.path().join(format!("demo-{lang}"));
        let out = sandnet_new(lang, &dir);
        check!(out.code == Some(0), out);
        check!(out.stdout.contains("build it:"), out);
        check!(
            out.stdout
                .contains("--policy policy.toml -- http://127.0.0.1:8080/"),
            out
        );
        for file in expected_files(lang) {
            check!(dir.join(file).is_file(), out, "{lang}: {file} is missing");
        }
        let policy = std::fs::read_to_string(dir.join("policy.toml")).expect("policy");
        check!(
            policy.contains(&format!("[guest.demo-{lang}]")),
            out,
            "{policy}"
        );
        let check = Cli::new(["check", dir.join("policy.toml").to_str().expect("UTF-8")]).output();
        check!(check.code == Some(0), check, "the starter policy is valid");
    }
}

#[test]
fn new_refuses_bad_names_and_non_empty_dirs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = sandnet_new("rust", &tmp.path().join("Demo"));
    check!(out.code == Some(2), out);
    check!(
        out.stderr.contains("\"") && out.stderr.contains("Demo"),
        out
    );
    check!(out.stderr.contains("lowercase"), out);

    let taken = tmp.path().join("taken");
    std::fs::create_dir(&taken).expect("mkdir");
    std::fs::write(taken.join("keep.txt"), "mine").expect("write");
    let out = sandnet_new("c", &taken);
    check!(out.code == Some(2), out);
    check!(out.stderr.contains("already exists and is not empty"), out);
    assert_eq!(
        std::fs::read_to_string(taken.join("keep.txt")).expect("read"),
        "mine"
    );
}

/// The printed build command, component path and policy of a scaffold.
struct Scaffold {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    build: String,
    component: PathBuf,
}

/// Scaffolds `lang` with `sandnet new` and reads the build command it printed
/// (the line after "build it:", `cd DIR && COMMAND`).
fn scaffold(lang: &str) -> Scaffold {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("demo");
    let out = sandnet_new(lang, &dir);
    check!(out.code == Some(0), out);
    let mut lines = out.stdout.lines().map(str::trim);
    let build = lines
        .by_ref()
        .skip_while(|l| *l != "build it:")
        .nth(1)
        .and_then(|l| l.split_once(" && "))
        .map(|(_, cmd)| cmd.to_owned())
        .unwrap_or_else(|| panic!("no build command printed:\n{out}"));
    let component = lines
        .find_map(|l| l.strip_prefix("sandnet run "))
        .and_then(|l| l.split_whitespace().next())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no run command printed:\n{out}"));
    Scaffold {
        _tmp: tmp,
        dir,
        build,
        component,
    }
}

/// Runs the scaffold's build command in its directory.
fn build_scaffold(s: &Scaffold, env: &[(&str, &Path)]) {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(&s.build).current_dir(&s.dir);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = cmd.output().expect("run the build command");
    assert!(
        out.status.success(),
        "`{}` failed in {}:\n{}\n{}",
        s.build,
        s.dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The component the printed command built.
fn built(component: PathBuf) -> PathBuf {
    assert!(component.is_file(), "{} was not built", component.display());
    component
}

/// Runs a built scaffold: allowed by a policy granting a loopback server,
/// then denied by its own starter policy with the line to add.
fn run_scaffold(component: &Path, s: &Scaffold) {
    let srv = Server::http();
    let granted = write_policy(&format!("[guest.demo]\nallow = [\"{}\"]\n", srv.url("/ok")));
    let run = |policy: &str| {
        Cli::new([
            "run",
            component.to_str().expect("UTF-8"),
            "--policy",
            policy,
            "--",
            &srv.url("/ok"),
        ])
        .output()
    };
    let out = run(granted.arg());
    check!(out.code == Some(0), out);
    check!(out.stdout.starts_with("200\nhello"), out);

    let starter = s.dir.join("policy.toml");
    let out = run(starter.to_str().expect("UTF-8"));
    check!(out.code == Some(1), out);
    check!(out.stderr.starts_with("demo: denied: "), out);
    check!(
        out.stderr.contains(&format!(
            "hint: add to the policy's allow list: \"{}\"",
            srv.url("/ok")
        )),
        out
    );
    assert_eq!(srv.seen(), ["GET /ok"], "only the granted run reached it");
}

#[test]
fn new_rust_builds_and_runs() {
    let s = scaffold("rust");
    assert_eq!(s.build, "cargo build --release --target wasm32-wasip2");
    // A target dir kept between test runs: wit-bindgen compiles once.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffold-rust-target");
    build_scaffold(&s, &[("CARGO_TARGET_DIR", &target)]);
    let relative = s.component.strip_prefix("target").expect("under target/");
    let component = built(target.join(relative));
    run_scaffold(&component, &s);
}

#[test]
fn new_c_builds_and_runs() {
    let s = scaffold("c");
    assert_eq!(s.build, "./build.sh");
    build_scaffold(&s, &[]);
    let component = built(s.dir.join(&s.component));
    run_scaffold(&component, &s);
}

#[test]
fn new_js_builds_and_runs() {
    let s = scaffold("js");
    assert_eq!(s.build, "./build.sh");
    // The repo's pinned componentize-js (scripts/setup.sh) instead of a download.
    link(
        &repo_root().join("guests/js/node_modules"),
        &s.dir.join("node_modules"),
    );
    build_scaffold(&s, &[]);
    let component = built(s.dir.join(&s.component));
    run_scaffold(&component, &s);
}

#[test]
fn new_python_builds_and_runs() {
    let s = scaffold("python");
    assert_eq!(s.build, "./build.sh");
    // The repo's pinned componentize-py (scripts/setup.sh) instead of a download.
    link(&repo_root().join(".tools/venv"), &s.dir.join(".venv"));
    build_scaffold(&s, &[]);
    let component = built(s.dir.join(&s.component));
    run_scaffold(&component, &s);
}

fn link(target: &Path, at: &Path) {
    assert!(
        target.is_dir(),
        "{} is missing: run scripts/setup.sh first",
        target.display()
    );
    std::os::unix::fs::symlink(target, at).expect("symlink");
}
