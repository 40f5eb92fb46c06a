//! `sandnet:net/udp` end to end: the `udp-echo` and `discovery` guests (Rust
//! and Python) against loopback UDP peers started here, loopback multicast
//! between two guests, and the socket core through the library.
//!
//! Multicast runs on the loopback interface: `discovery` joins its group on
//! 127.0.0.1, which also makes 127.0.0.1 its outgoing multicast interface, so
//! no datagram leaves the machine (Linux delivers loopback multicast without
//! `ip link set lo multicast on`; see docs/udp.md).

use std::net::{IpAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use sandnet::audit::Audit;
use sandnet::error::NetError;
use sandnet::guard::{Guard, GuardConfig, SystemResolver};
use sandnet::net::udp::socket::Socket;

use crate::support::assertions::{Denial, assert_denied, check};
use crate::support::guests::{Background, for_each_lang, run_cli};
use crate::support::policy::{PolicyFile, guest_policy, guest_section, policy};
use crate::support::recording::{AuditBuffer, LOOPBACK, PRIVATE, audit_events};
use crate::support::servers::{UdpEchoPeer, free_udp_port};

// ---------------------------------------------------------------------------
// udp-echo

// The same contract holds for the JavaScript udp-echo guest.
for_each_lang!([rust, python, js] "udp-echo":
    client_round_trip,
    client_denied_without_grant,
    server_round_trip_and_drops_ungranted_senders,
);

for_each_lang!("udp-echo":
    client_ignores_replies_from_ungranted_senders,
    client_datagram_size_cap,
);

fn client_round_trip(guest: &str) {
    let target = UdpEchoPeer::start(false).target();
    let p = policy(&format!("allow = [\"{target}\"]"));
    let out = run_cli(guest, &p, &[], &["client", &target, "ping", "pong ü"]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "ping\npong ü\n", out);
}

fn client_ignores_replies_from_ungranted_senders(guest: &str) {
    let target = UdpEchoPeer::start(true).target();
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
    let drops: Vec<serde_json::Value> = audit_events(&log)
        .into_iter()
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
    let peer = UdpEchoPeer::start(false);
    let target = peer.target();
    let p = policy("allow = [\"udp://127.0.0.1:9\"]");
    let out = run_cli(guest, &p, &[], &["client", &target, "x"]);
    assert_denied(
        &out,
        Denial::Guest("udp-echo"),
        Some(&format!("\"{target}\"")),
    );
    check!(
        peer.received() == 0,
        out,
        "a denied datagram must not reach the peer"
    );
}

fn client_datagram_size_cap(guest: &str) {
    let target = UdpEchoPeer::start(false).target();
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
    let server = bg.listening_on();
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
    let drop = audit_events(&log)
        .into_iter()
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
    assert_denied(
        &out,
        Denial::Guest("discovery"),
        Some(&format!("\"udp-multicast://{GROUP}:{port}\"")),
    );
}

// ---------------------------------------------------------------------------
// The socket core through the library

fn lib_guard(policy: &str, names: &[(&str, IpAddr)], audit: Audit) -> Arc<Guard> {
    let resolver =
        SystemResolver::with_overrides(names.iter().map(|(n, ip)| ((*n).to_owned(), *ip)));
    Arc::new(Guard::new(
        guest_policy(&guest_section(policy)),
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
    let peer = UdpEchoPeer::start(false).addr;
    let port = peer.port();
    let audit = AuditBuffer::default();
    let guard = lib_guard(
        &format!(
            "allow = [\"udp://private.test:{port}\", {{ rule = \"udp://mixed.test:{port}\", addresses = [\"127.0.0.1\"] }}]"
        ),
        &[
            ("private.test", PRIVATE),
            ("mixed.test", PRIVATE),
            ("mixed.test", LOOPBACK),
        ],
        audit.audit(),
    );
    block_on(async {
        let mut socket = Socket::bind(&guard, None).unwrap();
        let err = socket
            .send_to(&format!("udp://private.test:{port}"), b"x")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, NetError::Denied(d) if d.reason.contains("private.test resolved to an address the policy does not grant")),
            "{err}"
        );
        assert!(
            !err.to_string().contains("10.1.2.3"),
            "the guest must not learn the address: {err}"
        );
        // A name with a granted and a refused address: only the granted one is used.
        socket
            .send_to(&format!("udp://mixed.test:{port}"), b"mixed")
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
            .send_to("udp://255.255.255.255:9", b"x")
            .await
            .unwrap_err();
        assert!(matches!(err, NetError::Denied(_)), "{err}");
    });
}

#[test]
fn lib_datagram_rate_limit() {
    let peer = UdpEchoPeer::start(false).addr;
    let guard = lib_guard(
        &format!("allow = [\"udp://{peer}\"]\n[guest.t.limits]\ndatagrams_per_second = 3"),
        &[],
        Audit::off(),
    );
    block_on(async {
        // Two sockets share the guest's one bucket.
        let mut first = Socket::bind(&guard, None).unwrap();
        let mut second = Socket::bind(&guard, None).unwrap();
        let target = format!("udp://{peer}");
        first.send_to(&target, b"x").await.unwrap();
        second.send_to(&target, b"x").await.unwrap();
        first.send_to(&target, b"x").await.unwrap();
        let err = second.send_to(&target, b"x").await.unwrap_err();
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
