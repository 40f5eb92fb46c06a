//! `sandnet:net/udp` end to end: the `udp-echo` and `discovery` guests (Rust
//! and Python) against loopback UDP peers started here, loopback multicast
//! between two guests, and the socket core through the library.
//!
//! Multicast runs on the loopback interface: `discovery` joins its group on
//! 127.0.0.1, which also makes 127.0.0.1 its outgoing multicast interface, so
//! no datagram leaves the machine (Linux delivers loopback multicast without
//! `ip link set lo multicast on`; see docs/udp.md).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use sandnet::audit::Audit;
use sandnet::error::NetError;
use sandnet::guard::{Guard, GuardConfig, SystemResolver};
use sandnet::net::udp::sock::{DatagramRate, Socket};
use support::{
    AuditBuffer, Background, PolicyFile, check, for_each_lang, guest_policy, policy, run_cli,
};

/// A UDP echo peer on 127.0.0.1:0 (a thread; ends with the test process).
/// With `spoof`, each datagram is first answered from another socket (a
/// sender the guest's policy does not grant), then from the echo socket.
fn echo_peer(spoof: bool) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            if spoof {
                let _ = other.send_to(b"spoofed", from);
            }
            let _ = socket.send_to(&buf[..n], from);
        }
    });
    addr
}

/// A free UDP port on this machine (bound and released; the kernel does not
/// hand it out again right away).
fn free_udp_port() -> u16 {
    UdpSocket::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn listening_addr(bg: &mut Background) -> SocketAddr {
    let line = bg.line();
    line.strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------------------
// udp-echo

for_each_lang!("udp-echo":
    client_round_trip,
    client_ignores_replies_from_ungranted_senders,
    client_denied_without_grant,
    client_datagram_size_cap,
    server_round_trip_and_drops_ungranted_senders,
);

fn client_round_trip(guest: &str) {
    let peer = echo_peer(false);
    let target = format!("udp://{peer}");
    let p = policy(&format!("allow = [\"{target}\"]"));
    let out = run_cli(guest, &p, &[], &["client", &target, "ping", "pong"]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "ping\npong\n", out);
}

fn client_ignores_replies_from_ungranted_senders(guest: &str) {
    let peer = echo_peer(true);
    let target = format!("udp://{peer}");
    let p = policy(&format!("allow = [\"{target}\"]"));
    let audit = p.dir.path().join("audit.jsonl");
    let audit_arg = audit.display().to_string();
    let out = run_cli(
        guest,
        &p,
        &["--audit", &audit_arg],
        &["client", &target, "one", "two"],
    );
    check!(out.code == Some(0), out);
    check!(
        out.stdout == "one\ntwo\n",
        out,
        "the spoofed datagrams are dropped"
    );
    let log = std::fs::read_to_string(&audit).unwrap();
    let drops: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "drop")
        .collect();
    let last = drops
        .last()
        .unwrap_or_else(|| panic!("no drop event in\n{log}"));
    assert_eq!(last["dropped"], 2, "{log}");
    assert_eq!(last["decision"], "deny");
    assert!(
        drops[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("udp://127.0.0.1:")),
        "{log}"
    );
}

fn client_denied_without_grant(guest: &str) {
    let peer = echo_peer(false);
    let target = format!("udp://{peer}");
    let p = policy("allow = [\"udp://127.0.0.1:9\"]");
    let out = run_cli(guest, &p, &[], &["client", &target, "x"]);
    check!(out.code == Some(1), out);
    check!(out.stderr.starts_with("udp-echo: denied: "), out);
    check!(out.stderr.contains(&format!("\"{target}\"")), out);
}

fn client_datagram_size_cap(guest: &str) {
    let peer = echo_peer(false);
    let target = format!("udp://{peer}");
    let p = policy(&format!(
        "allow = [\"{target}\"]\n[guest.t.limits]\nmax_datagram_bytes = 4"
    ));
    let out = run_cli(guest, &p, &[], &["client", &target, "four", "fives"]);
    check!(out.code == Some(1), out);
    check!(out.stdout == "four\n", out);
    check!(
        out.stderr.trim_end() == "udp-echo: limit-exceeded: max_datagram_bytes (4)",
        out
    );
}

fn server_round_trip_and_drops_ungranted_senders(guest: &str) {
    let p = policy(
        "allow = [\n  { rule = \"udp-bind://127.0.0.1:0\", peers = [\"127.0.0.1\"] },\n  \"udp://127.0.0.1:1-65535\",\n]",
    );
    let audit = p.dir.path().join("audit.jsonl");
    let audit_arg = audit.display().to_string();
    let mut bg = Background::start(
        guest,
        &p,
        &["--audit", &audit_arg],
        &["server", "udp-bind://127.0.0.1:0", "1"],
    );
    let server = listening_addr(&mut bg);
    let stranger = UdpSocket::bind("127.0.0.2:0").unwrap();
    stranger.send_to(b"not for you", server).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    client.send_to(b"hello", server).unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    assert_eq!(from, server);
    let (code, rest, stderr) = bg.finish();
    assert_eq!(code, Some(0), "{rest:?}\n{stderr}");
    assert_eq!(
        rest,
        [format!(
            "echoed 5 bytes to {}",
            client.local_addr().unwrap()
        )],
        "the stranger's datagram never reached the guest"
    );
    let log = std::fs::read_to_string(&audit).unwrap();
    let drop = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["event"] == "drop")
        .unwrap_or_else(|| panic!("no drop event in\n{log}"));
    assert_eq!(drop["dropped"], 1, "{log}");
    assert!(
        drop["connected"]
            .as_str()
            .is_some_and(|c| c.starts_with("127.0.0.2:")),
        "{log}"
    );
}

// ---------------------------------------------------------------------------
// discovery: two guests find each other over loopback multicast

const GROUP: &str = "239.255.77.1";

fn discovery_policy(port: u16) -> PolicyFile {
    policy(&format!(
        "allow = [\n  \"udp-multicast://{GROUP}\",\n  \"udp://{GROUP}:{port}\",\n  {{ rule = \"udp-bind://0.0.0.0:{port}\", peers = [\"127.0.0.0/8\"] }},\n]"
    ))
}

fn discover_pair(first: &str, second: &str) {
    let port = free_udp_port();
    let p = discovery_policy(port);
    let target = format!("udp://{GROUP}:{port}");
    let a = Background::start(first, &p, &[], &["alpha", &target, "127.0.0.1"]);
    let b = Background::start(second, &p, &[], &["beta", &target, "127.0.0.1"]);
    let (code_a, out_a, err_a) = a.finish();
    let (code_b, out_b, err_b) = b.finish();
    assert_eq!(code_a, Some(0), "{first}: {out_a:?}\n{err_a}");
    assert_eq!(code_b, Some(0), "{second}: {out_b:?}\n{err_b}");
    assert_eq!(out_a, [format!("found beta at 127.0.0.1:{port}")]);
    assert_eq!(out_b, [format!("found alpha at 127.0.0.1:{port}")]);
}

#[test]
fn discovery_rust_pair() {
    discover_pair("rust-discovery", "rust-discovery");
}

#[test]
fn discovery_python_pair() {
    discover_pair("python-discovery", "python-discovery");
}

#[test]
fn discovery_rust_and_python() {
    discover_pair("rust-discovery", "python-discovery");
}

for_each_lang!("discovery": discovery_without_multicast_grant_denied);

fn discovery_without_multicast_grant_denied(guest: &str) {
    let port = free_udp_port();
    let p = policy(&format!(
        "allow = [\"udp://{GROUP}:{port}\", \"udp-bind://0.0.0.0:{port}\"]"
    ));
    let target = format!("udp://{GROUP}:{port}");
    let out = run_cli(guest, &p, &[], &["alpha", &target, "127.0.0.1"]);
    check!(out.code == Some(1), out);
    check!(out.stderr.starts_with("discovery: denied: "), out);
    check!(
        out.stderr
            .contains(&format!("\"udp-multicast://{GROUP}:{port}\"")),
        out
    );
}

// ---------------------------------------------------------------------------
// The socket core through the library

fn lib_guard(policy: &str, names: &[(&str, IpAddr)], audit: Audit) -> Arc<Guard> {
    let resolver =
        SystemResolver::with_overrides(names.iter().map(|(n, ip)| ((*n).to_owned(), *ip)));
    Arc::new(Guard::new(
        guest_policy(&format!("[guest.t]\n{policy}\n")),
        GuardConfig {
            resolver: Arc::new(resolver),
            audit,
            ..GuardConfig::default()
        },
    ))
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn lib_names_resolving_to_ungranted_addresses_are_not_sent_to() {
    let peer = echo_peer(false);
    let port = peer.port();
    let private = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let audit = AuditBuffer::default();
    let guard = lib_guard(
        &format!(
            "allow = [\"udp://private.test:{port}\", {{ rule = \"udp://mixed.test:{port}\", addresses = [\"127.0.0.1\"] }}]"
        ),
        &[
            ("private.test", private),
            ("mixed.test", private),
            ("mixed.test", loopback),
        ],
        audit.audit(),
    );
    block_on(async {
        let mut socket = Socket::bind(&guard, None).unwrap();
        let err = socket
            .send_to(&format!("udp://private.test:{port}"), b"x", None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, NetError::Denied(d) if d.reason.contains("10.1.2.3")),
            "{err}"
        );
        // A name with a granted and a refused address: only the granted one is used.
        socket
            .send_to(&format!("udp://mixed.test:{port}"), b"mixed", None)
            .await
            .unwrap();
        let got = socket.receive(Duration::from_secs(10)).await.unwrap();
        assert_eq!(got.data, b"mixed");
        assert_eq!(got.sender, peer);
    });
    let events = audit.events();
    let resolves: Vec<_> = events.iter().filter(|e| e["event"] == "resolve").collect();
    assert_eq!(resolves.len(), 2, "{events:?}");
    assert_eq!(resolves[0]["decision"], "deny");
    assert_eq!(resolves[1]["decision"], "allow");
}

#[test]
fn lib_broadcast_needs_a_grant() {
    block_on(async {
        let guard = lib_guard("allow = [\"udp://192.168.1.255:9\"]", &[], Audit::off());
        let mut socket = Socket::bind(&guard, None).unwrap();
        socket.set_broadcast(true).unwrap();
        // A range covering a broadcast address is not a broadcast grant.
        let guard = lib_guard("allow = [\"udp://10.0.0.0/8:9\"]", &[], Audit::off());
        let mut socket = Socket::bind(&guard, None).unwrap();
        let err = socket.set_broadcast(true).unwrap_err();
        assert!(
            matches!(&err, NetError::Denied(d) if d.suggestion.as_deref().is_some_and(|s| s.starts_with("\"udp://255.255.255.255:"))),
            "{err}"
        );
        socket.set_broadcast(false).unwrap();
        // Sending to the limited broadcast address needs it granted explicitly.
        let err = socket
            .send_to("udp://255.255.255.255:9", b"x", None)
            .await
            .unwrap_err();
        assert!(matches!(err, NetError::Denied(_)), "{err}");
    });
}

#[test]
fn lib_datagram_rate_limit() {
    let peer = echo_peer(false);
    let guard = lib_guard(&format!("allow = [\"udp://{peer}\"]"), &[], Audit::off());
    block_on(async {
        let mut socket = Socket::bind(&guard, None).unwrap();
        let mut rate = DatagramRate::new(3);
        let target = format!("udp://{peer}");
        for _ in 0..3 {
            socket
                .send_to(&target, b"x", Some(&mut rate))
                .await
                .unwrap();
        }
        let err = socket
            .send_to(&target, b"x", Some(&mut rate))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                NetError::LimitExceeded {
                    name: "datagrams_per_second",
                    ..
                }
            ),
            "{err}"
        );
    });
}

#[test]
fn lib_bind_needs_a_grant_and_ephemeral_does_not() {
    block_on(async {
        let guard = lib_guard("allow = []", &[], Audit::off());
        let err = Socket::bind(&guard, Some("udp-bind://127.0.0.1:0")).unwrap_err();
        assert!(
            matches!(&err, NetError::Denied(d) if d.suggestion.as_deref() == Some("\"udp-bind://127.0.0.1:0\"")),
            "{err}"
        );
        let socket = Socket::bind(&guard, None).unwrap();
        assert!(socket.local().ip().is_unspecified());
        let err = Socket::bind(&guard, Some("udp://127.0.0.1:5")).unwrap_err();
        assert!(matches!(err, NetError::InvalidArgument(_)), "{err}");
    });
}
