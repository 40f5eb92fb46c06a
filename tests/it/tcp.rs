//! `sandnet:net/tcp` end to end: the `tcp-client`, `redis-ping` and
//! `tcp-echo-server` guests (Rust and Python) against loopback TCP and TLS
//! servers started here, a real `redis-server`, and through the library with a
//! recording dialer so that no packet can leave the machine.

use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sandnet::ExitStatus;

use crate::support::assertions::{
    Denial, assert_address_withheld, assert_denied, check, eventually,
};
use crate::support::guests::{Background, LibRun, for_each_lang, run_cli};
use crate::support::policy::{guest_section, policy};
use crate::support::recording::{
    AuditBuffer, DialMode, LOOPBACK, METADATA, PRIVATE, RecordingDialer, run_recorded,
};
use crate::support::servers::{Behaviour, LineServer, free_port};
use crate::support::tls::TestCa;

// ---------------------------------------------------------------------------
// tcp-client against plain and TLS line servers

/// How the tcp-client guests sign a denial.
const DENIED: Denial<'static> = Denial::Guest("tcp-client");

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
    let ca = TestCa::new();
    let srv = LineServer::start(Behaviour::Upper, Some(ca.server_config()));
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("tls://{host}:{}", srv.port());
        let p = policy(&format!(
            "allow = [\"{url}\"]\nca_bundle = \"{}\"",
            ca.ca_pem_str()
        ));
        let out = run_cli(guest, &p, &[], &[&url, "secret"]);
        check!(out.code == Some(0), out, "{url}");
        check!(out.stdout == "SECRET\n", out);
    }
}

fn tls_without_ca_bundle_is_a_tls_error(guest: &str) {
    let ca = TestCa::new();
    let srv = LineServer::start(Behaviour::Upper, Some(ca.server_config()));
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
    assert_denied(&out, DENIED, Some(&format!("\"{url}\"")));
    // tls:// is its own scheme: a tcp:// grant does not cover it.
    let p = policy(&format!("allow = [\"{url}\"]"));
    let tls = format!("tls://127.0.0.1:{}", srv.port());
    let out = run_cli(guest, &p, &[], &[&tls, "x"]);
    assert_denied(&out, DENIED, Some(&format!("\"{tls}\"")));
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

/// [`run_recorded`] with `body` as guest `t`'s policy.
fn lib_run(
    guest: &str,
    body: &str,
    names: &[(&str, IpAddr)],
    dialer: &RecordingDialer,
    args: &[&str],
) -> (LibRun, AuditBuffer) {
    run_recorded(guest, &guest_section(body), names, dialer, args)
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
    assert_address_withheld(&run, "tcp-client", "db.test", "10.1.2.3");
    let events = audit.events();
    assert!(
        events.iter().any(
            |e| e["reason"].as_str().is_some_and(|r| r.contains(&format!(
                "{{ rule = \"{url}\", addresses = [\"10.1.2.3\"] }}"
            )))
        ),
        "the audit log names the allowance to add: {events:?}"
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
        [srv.addr()],
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
    let port = free_port();
    let child = Command::new(binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let redis = Redis { child, port };
    let up = eventually(Duration::from_secs(10), || {
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
    assert_denied(
        &out,
        Denial::Guest("redis-ping"),
        Some(&format!("\"tcp://{addr}\"")),
    );
}

// ---------------------------------------------------------------------------
// tcp-echo-server: a guest serving several connections at once

for_each_lang!([rust, python, js] "tcp-echo-server":
    echo_server_two_concurrent_clients,
    echo_server_refuses_peers_outside_the_rule,
    echo_server_without_grant_denied,
);

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
    let port = bg.listening_on().port();
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
    let port = bg.listening_on().port();
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
    assert_denied(
        &out,
        Denial::Guest("tcp-echo-server"),
        Some("\"tcp-listen://127.0.0.1:0\""),
    );
}
