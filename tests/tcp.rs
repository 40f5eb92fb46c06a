//! `sandnet:net/tcp` end to end: the `tcp-client`, `redis-ping` and
//! `tcp-echo-server` guests (Rust and Python) against loopback TCP and TLS
//! servers started here, a real `redis-server`, and through the library with a
//! recording dialer so that no packet can leave the machine.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use sandnet::ExitStatus;
use support::{
    AuditBuffer, Background, DialMode, LibRun, RecordingDialer, check, for_each_lang, guard_with,
    policy, run_cli, run_lib,
};

/// The cloud metadata address; only ever handed to a [`RecordingDialer`].
const METADATA: IpAddr = IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254));
/// A private address; only ever handed to a [`RecordingDialer`].
const PRIVATE: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

// ---------------------------------------------------------------------------
// Loopback servers (std threads; each stops when its listener is dropped)

/// What a line server does with each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Answers each line with it uppercased; closes at end of input.
    Upper,
    /// Sends one line of `n` bytes (plus `\n`), then echoes like `Upper`.
    LongLine(usize),
    /// Reads and never answers (for read timeouts).
    Silent,
}

/// A plain or TLS line server on 127.0.0.1:0.
struct LineServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl LineServer {
    fn start(behaviour: Behaviour, tls: Option<Arc<rustls::ServerConfig>>) -> LineServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&connections);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let tls = tls.clone();
                thread::spawn(move || match tls {
                    None => drop(serve_lines(stream, behaviour)),
                    Some(config) => {
                        let conn = rustls::ServerConnection::new(config).unwrap();
                        let mut tls =
                            serve_lines(rustls::StreamOwned::new(conn, stream), behaviour);
                        tls.conn.send_close_notify();
                        let _ = tls.flush();
                    }
                });
            }
        });
        LineServer { addr, connections }
    }

    fn plain(behaviour: Behaviour) -> LineServer {
        LineServer::start(behaviour, None)
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Serves one connection; returns the stream once the client's input ended.
fn serve_lines<S: Read + Write>(stream: S, behaviour: Behaviour) -> S {
    let mut reader = BufReader::new(stream);
    if let Behaviour::LongLine(n) = behaviour {
        let mut line = vec![b'x'; n];
        line.push(b'\n');
        if reader.get_mut().write_all(&line).is_err() {
            return reader.into_inner();
        }
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if behaviour == Behaviour::Silent {
            continue;
        }
        let upper = line.to_ascii_uppercase();
        if reader.get_mut().write_all(&upper).is_err() {
            break;
        }
        let _ = reader.get_mut().flush();
    }
    reader.into_inner()
}

/// A CA made here and a server certificate for 127.0.0.1 and localhost.
struct TlsFixture {
    _dir: tempfile::TempDir,
    ca_pem: String,
    config: Arc<rustls::ServerConfig>,
}

fn tls_fixture() -> TlsFixture {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "sandnet tcp test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &*ca).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    TlsFixture {
        _dir: dir,
        ca_pem: ca_pem.display().to_string(),
        config: Arc::new(config),
    }
}

// ---------------------------------------------------------------------------
// tcp-client against plain and TLS line servers

for_each_lang!("tcp-client":
    line_server_round_trip,
    tls_line_server_with_ca_bundle,
    tls_without_ca_bundle_is_a_tls_error,
    denied_without_grant_names_the_line,
    name_resolving_to_loopback_needs_an_allowance,
    read_until_over_the_cap,
    slow_server_read_timeout,
);

fn line_server_round_trip(guest: &str) {
    let srv = LineServer::plain(Behaviour::Upper);
    let p = policy(&format!("allow = [\"tcp://127.0.0.1:{}\"]", srv.port()));
    let url = format!("tcp://127.0.0.1:{}", srv.port());
    let out = run_cli(guest, &p, &[], &[&url, "hello", "über world"]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "HELLO\nüBER WORLD\n", out);
    assert_eq!(srv.connections(), 1);
}

fn tls_line_server_with_ca_bundle(guest: &str) {
    let fx = tls_fixture();
    let srv = LineServer::start(Behaviour::Upper, Some(Arc::clone(&fx.config)));
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("tls://{host}:{}", srv.port());
        let p = policy(&format!(
            "allow = [\"{url}\"]\nca_bundle = \"{}\"",
            fx.ca_pem
        ));
        let out = run_cli(guest, &p, &[], &[&url, "secret"]);
        check!(out.code == Some(0), out, "{url}");
        check!(out.stdout == "SECRET\n", out);
    }
}

fn tls_without_ca_bundle_is_a_tls_error(guest: &str) {
    let fx = tls_fixture();
    let srv = LineServer::start(Behaviour::Upper, Some(Arc::clone(&fx.config)));
    let url = format!("tls://127.0.0.1:{}", srv.port());
    let p = policy(&format!("allow = [\"{url}\"]"));
    let out = run_cli(guest, &p, &[], &[&url, "secret"]);
    check!(out.code == Some(1), out);
    check!(out.stderr.starts_with("tcp-client: tls: "), out);
    check!(out.stdout.is_empty(), out);
}

fn denied_without_grant_names_the_line(guest: &str) {
    let srv = LineServer::plain(Behaviour::Upper);
    let p = policy(&format!("allow = [\"tcp://127.0.0.1:{}\"]", srv.port() ^ 1));
    let url = format!("tcp://127.0.0.1:{}", srv.port());
    let out = run_cli(guest, &p, &[], &[&url, "x"]);
    check!(out.code == Some(1), out);
    check!(out.stderr.starts_with("tcp-client: denied: "), out);
    check!(
        out.stderr
            .contains(&format!("hint: add to the policy's allow list: \"{url}\"")),
        out
    );
    // tls:// is its own scheme: a tcp:// grant does not cover it.
    let p = policy(&format!("allow = [\"{url}\"]"));
    let tls = format!("tls://127.0.0.1:{}", srv.port());
    let out = run_cli(guest, &p, &[], &[&tls, "x"]);
    check!(out.stderr.contains(&format!("\"{tls}\"")), out);
    assert_eq!(
        srv.connections(),
        0,
        "a denied connect must not reach the server"
    );
}

fn name_resolving_to_loopback_needs_an_allowance(guest: &str) {
    let srv = LineServer::plain(Behaviour::Upper);
    let url = format!("tcp://app.test:{}", srv.port());
    let resolve = ["--resolve", "app.test=127.0.0.1"];
    let p = policy(&format!("allow = [\"{url}\"]"));
    let out = run_cli(guest, &p, &resolve, &[&url, "x"]);
    check!(out.code == Some(1), out);
    check!(out.stderr.contains("resolved to 127.0.0.1"), out);
    check!(
        out.stderr.contains(&format!(
            "{{ rule = \"{url}\", addresses = [\"127.0.0.1\"] }}"
        )),
        out
    );
    assert_eq!(srv.connections(), 0);

    let p = policy(&format!(
        "allow = [{{ rule = \"{url}\", addresses = [\"127.0.0.1\"] }}]"
    ));
    let out = run_cli(guest, &p, &resolve, &[&url, "x"]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "X\n", out);
}

fn read_until_over_the_cap(guest: &str) {
    let srv = LineServer::plain(Behaviour::LongLine(100));
    let url = format!("tcp://127.0.0.1:{}", srv.port());
    let p = policy(&format!(
        "allow = [\"{url}\"]\nenv = {{ TCP_CLIENT_MAX_LINE = \"16\", TCP_CLIENT_LINES = \"1\" }}"
    ));
    let out = run_cli(guest, &p, &[], &[&url]);
    check!(out.code == Some(1), out);
    check!(
        out.stderr.trim_end() == "tcp-client: limit-exceeded: max-bytes (16)",
        out
    );
    let p = policy(&format!(
        "allow = [\"{url}\"]\nenv = {{ TCP_CLIENT_MAX_LINE = \"101\", TCP_CLIENT_LINES = \"1\" }}"
    ));
    let out = run_cli(guest, &p, &[], &[&url]);
    check!(
        out.code == Some(0),
        out,
        "101 bytes hold the line and its newline"
    );
    check!(out.stdout == format!("{}\n", "x".repeat(100)), out);
}

fn slow_server_read_timeout(guest: &str) {
    let srv = LineServer::plain(Behaviour::Silent);
    let url = format!("tcp://127.0.0.1:{}", srv.port());
    let p = policy(&format!(
        "allow = [\"{url}\"]\nenv = {{ TCP_CLIENT_LINES = \"1\" }}\n[guest.t.limits]\nread_timeout = \"1s\""
    ));
    let out = run_cli(guest, &p, &[], &[&url, "anyone there?"]);
    check!(out.code == Some(1), out);
    check!(out.stderr.trim_end() == "tcp-client: timeout: idle", out);
    check!(out.elapsed >= Duration::from_secs(1), out);
    check!(out.elapsed < Duration::from_secs(20), out);
}

// ---------------------------------------------------------------------------
// Through the library: a recording dialer, so no packet can leave

fn lib_run(
    guest: &str,
    policy_text: &str,
    names: &[(&str, IpAddr)],
    dialer: &RecordingDialer,
    args: &[&str],
) -> (LibRun, AuditBuffer) {
    let audit = AuditBuffer::default();
    let run = run_lib(
        guest,
        &format!("[guest.t]\n{policy_text}\n"),
        args,
        guard_with(names, dialer, audit.audit()),
    );
    (run, audit)
}

for_each_lang!("tcp-client":
    lib_connect_timeout,
    lib_name_resolving_to_private_refused,
    lib_name_resolving_to_metadata_and_loopback,
);

fn lib_connect_timeout(guest: &str) {
    let dialer = RecordingDialer::new(DialMode::Hang);
    let text = "allow = [\"tcp://127.0.0.1:9\"]\n[guest.t.limits]\nconnect_timeout = \"1s\"";
    let (run, _) = lib_run(guest, text, &[], &dialer, &["tcp://127.0.0.1:9", "x"]);
    check!(run.outcome.status == ExitStatus::Exited(1), run);
    check!(run.stderr.trim_end() == "tcp-client: timeout: connect", run);
    check!(run.elapsed < Duration::from_secs(20), run);
    assert_eq!(dialer.dialed(), [SocketAddr::new(LOOPBACK, 9)]);
}

fn lib_name_resolving_to_private_refused(guest: &str) {
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let url = "tcp://db.test:5432";
    let (run, audit) = lib_run(
        guest,
        &format!("allow = [\"{url}\"]"),
        &[("db.test", PRIVATE)],
        &dialer,
        &[url, "x"],
    );
    check!(run.outcome.status == ExitStatus::Exited(1), run);
    check!(run.stderr.starts_with("tcp-client: denied: "), run);
    check!(
        run.stderr.contains(&format!(
            "{{ rule = \"{url}\", addresses = [\"10.1.2.3\"] }}"
        )),
        run
    );
    assert!(dialer.dialed().is_empty(), "dialled {:?}", dialer.dialed());
    let events = audit.events();
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "connect" && e["decision"] == "deny"),
        "{events:?}"
    );
}

fn lib_name_resolving_to_metadata_and_loopback(guest: &str) {
    let srv = LineServer::plain(Behaviour::Upper);
    let url = format!("tcp://mixed.test:{}", srv.port());
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let text = format!("allow = [{{ rule = \"{url}\", addresses = [\"127.0.0.1\"] }}]");
    let names = [("mixed.test", METADATA), ("mixed.test", LOOPBACK)];
    let (run, audit) = lib_run(guest, &text, &names, &dialer, &[&url, "mixed"]);
    check!(run.outcome.status == ExitStatus::Exited(0), run);
    check!(run.stdout == "MIXED\n", run);
    assert_eq!(
        dialer.dialed(),
        [srv.addr],
        "only the granted address may be dialled"
    );
    let events = audit.events();
    let close = events
        .iter()
        .find(|e| e["event"] == "close")
        .unwrap_or_else(|| panic!("no close event in {events:?}"));
    assert_eq!(close["bytes_out"], 6);
    assert_eq!(close["bytes_in"], 6);
}

// ---------------------------------------------------------------------------
// redis-ping against a real redis-server

/// A `redis-server` on a free loopback port; killed when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts redis-server, or returns `None` after a loud message when the
/// binary is missing (set `SANDNET_REQUIRE_REDIS=1` to fail instead).
fn start_redis() -> Option<Redis> {
    let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file());
    let Some(binary) = binary else {
        let message = "redis-server is not installed (scripts/setup.sh installs it: apt-get install redis-server)";
        assert!(
            std::env::var_os("SANDNET_REQUIRE_REDIS").is_none(),
            "{message}"
        );
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPED: {message}\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return None;
    };
    // Ask the kernel for a free port, then hand it to redis (it takes no port 0).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let redis = Redis { child, port };
    let up = support::eventually(Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "redis-server did not start listening on port {port}");
    Some(redis)
}

for_each_lang!("redis-ping": redis_ping_set_get, redis_outside_policy_refused);

fn redis_ping_set_get(guest: &str) {
    let Some(redis) = start_redis() else { return };
    let p = policy(&format!("allow = [\"tcp://127.0.0.1:{}\"]", redis.port));
    let addr = format!("127.0.0.1:{}", redis.port);
    let value = format!("stored by {guest}");
    let out = run_cli(guest, &p, &[], &[&addr, guest, &value]);
    check!(out.code == Some(0), out);
    check!(out.stdout == format!("PONG\nOK\n{value}\n"), out);
}

fn redis_outside_policy_refused(guest: &str) {
    let Some(redis) = start_redis() else { return };
    let p = policy("allow = [\"tcp://127.0.0.1:6379\"]");
    let addr = format!("127.0.0.1:{}", redis.port);
    let out = run_cli(guest, &p, &[], &[&addr]);
    check!(out.code == Some(1), out);
    check!(out.stderr.starts_with("redis-ping: denied: "), out);
    check!(
        out.stderr.contains(&format!("\"tcp://{addr}\"")),
        out,
        "names the line to add"
    );
}

// ---------------------------------------------------------------------------
// tcp-echo-server: a guest serving several connections at once

for_each_lang!("tcp-echo-server":
    echo_server_two_concurrent_clients,
    echo_server_refuses_peers_outside_the_rule,
    echo_server_without_grant_denied,
);

fn listening_port(bg: &mut Background) -> u16 {
    let line = bg.line();
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    addr.parse::<SocketAddr>().unwrap().port()
}

fn echo(stream: &mut TcpStream, text: &str) -> String {
    stream.write_all(text.as_bytes()).unwrap();
    let mut buf = vec![0; text.len()];
    stream.read_exact(&mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

fn echo_server_two_concurrent_clients(guest: &str) {
    let p = policy(
        "allow = [{ rule = \"tcp-listen://127.0.0.1:0\", peers = [\"127.0.0.1\"] }]\n[guest.t.limits]\nmax_connections = 3",
    );
    let mut bg = Background::start(guest, &p, &[], &["tcp-listen://127.0.0.1:0", "2"]);
    let port = listening_port(&mut bg);
    let timeout = Some(Duration::from_secs(30));
    let mut a = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut b = TcpStream::connect(("127.0.0.1", port)).unwrap();
    for s in [&a, &b] {
        s.set_read_timeout(timeout).unwrap();
    }
    // Interleaved: b is served while a stays open, so the guest waits on both.
    assert_eq!(echo(&mut a, "a1\n"), "a1\n");
    assert_eq!(echo(&mut b, "b1\n"), "b1\n");
    assert_eq!(echo(&mut a, "a2\n"), "a2\n");
    let big = "z".repeat(200_000);
    assert_eq!(
        echo(&mut b, &big),
        big,
        "large writes go through back-pressure"
    );
    a.shutdown(Shutdown::Write).unwrap();
    b.shutdown(Shutdown::Write).unwrap();
    let (code, rest, stderr) = bg.finish();
    let all = rest.join("\n");
    assert_eq!(code, Some(0), "{all}\n{stderr}");
    assert_eq!(all.matches("accepted 127.0.0.1:").count(), 2, "{all}");
    assert_eq!(all.matches("closed 127.0.0.1:").count(), 2, "{all}");
}

fn echo_server_refuses_peers_outside_the_rule(guest: &str) {
    let p = policy("allow = [{ rule = \"tcp-listen://0.0.0.0:0\", peers = [\"127.0.0.2\"] }]");
    let mut bg = Background::start(guest, &p, &[], &["tcp-listen://0.0.0.0:0", "1"]);
    let port = listening_port(&mut bg);
    // From 127.0.0.1: closed by the host without the guest seeing it.
    let mut refused = TcpStream::connect(("127.0.0.1", port)).unwrap();
    refused
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let _ = refused.write_all(b"hello\n");
    let mut buf = [0u8; 16];
    let got = refused.read(&mut buf);
    assert!(
        matches!(got, Ok(0) | Err(_)),
        "a refused peer must be closed, got {got:?}"
    );
    // From 127.0.0.2 (granted): served.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into())
        .unwrap();
    socket
        .connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())
        .unwrap();
    let mut granted: TcpStream = socket.into();
    granted
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    assert_eq!(echo(&mut granted, "ok\n"), "ok\n");
    granted.shutdown(Shutdown::Write).unwrap();
    let (code, rest, stderr) = bg.finish();
    assert_eq!(code, Some(0), "{rest:?}\n{stderr}");
    assert_eq!(
        rest.iter().filter(|l| l.starts_with("accepted")).count(),
        1,
        "{rest:?}"
    );
    assert!(
        rest.iter().any(|l| l.starts_with("accepted 127.0.0.2:")),
        "{rest:?}"
    );
}

fn echo_server_without_grant_denied(guest: &str) {
    let p = policy("allow = [\"tcp-listen://127.0.0.1:7007\"]");
    let out = run_cli(guest, &p, &[], &["tcp-listen://127.0.0.1:0", "1"]);
    check!(out.code == Some(1), out);
    check!(out.stderr.starts_with("tcp-echo-server: denied: "), out);
    check!(out.stderr.contains("\"tcp-listen://127.0.0.1:0\""), out);
}
