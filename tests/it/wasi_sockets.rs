//! Standard `wasi:sockets` under the policy: a Python guest using only the
//! `socket` module reaches a granted TCP address and is refused elsewhere; name
//! lookups resolve only host names a tcp/udp rule grants.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::assertions::{Denial, assert_denied, check, eventually};
use crate::support::guests::{Background, Output, run_cli};
use crate::support::policy::policy;
use crate::support::servers::{Behaviour, LineServer};

const GUEST: &str = "python-socket-client";

/// A loopback line server answering `echo: LINE` per line.
fn line_server() -> LineServer {
    LineServer::plain(Behaviour::Tagged)
}

/// The guest's connection or lookup was refused: the guest reports it, and
/// sandnet's stderr says `what` and, when given, the line to add.
fn assert_refused(out: &Output, what: &str, line: Option<&str>) {
    assert_denied(out, Denial::Wasi(what), line);
    check!(out.stderr.contains("socket-client: "), out);
}

#[test]
fn granted_address_round_trip() {
    let srv = line_server();
    let p = policy(&format!("allow = [\"tcp://127.0.0.1:{}\"]", srv.port()));
    let out = run_cli(
        GUEST,
        &p,
        &[],
        &["127.0.0.1", &srv.port().to_string(), "hello", "world"],
    );
    check!(out.code == Some(0), out);
    check!(out.stdout == "echo: hello\necho: world\n", out);
    check!(srv.connections() == 1, out);
}

#[test]
fn other_port_is_refused_with_the_line_to_add() {
    let srv = line_server();
    let other = line_server();
    let p = policy(&format!("allow = [\"tcp://127.0.0.1:{}\"]", srv.port()));
    let out = run_cli(
        GUEST,
        &p,
        &[],
        &["127.0.0.1", &other.port().to_string(), "hi"],
    );
    assert_refused(
        &out,
        "wasi:sockets use of",
        Some(&format!("\"tcp://127.0.0.1:{}\"", other.port())),
    );
    check!(other.connections() == 0, out);
}

#[test]
fn lookup_of_a_name_no_rule_grants_is_refused() {
    let srv = line_server();
    let p = policy(&format!("allow = [\"tcp://127.0.0.1:{}\"]", srv.port()));
    let out = run_cli(
        GUEST,
        &p,
        &["--resolve=db.test=127.0.0.1"],
        &["db.test", &srv.port().to_string(), "hi"],
    );
    assert_refused(&out, "lookup of \"db.test\" refused", None);
    check!(srv.connections() == 0, out);
}

#[test]
fn granted_name_needs_an_address_grant_for_loopback() {
    let srv = line_server();
    let rule = format!("tcp://db.test:{}", srv.port());
    let resolve = "--resolve=db.test=127.0.0.1";
    let args = [
        "db.test".to_owned(),
        srv.port().to_string(),
        "hi".to_owned(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let p = policy(&format!("allow = [\"{rule}\"]"));
    let out = run_cli(GUEST, &p, &[resolve], &args);
    assert_refused(&out, "socket-client: ", None);
    check!(srv.connections() == 0, out);

    let p = policy(&format!(
        "allow = [{{ rule = \"{rule}\", addresses = [\"127.0.0.1\"] }}]"
    ));
    let out = run_cli(GUEST, &p, &[resolve], &args);
    check!(out.code == Some(0), out);
    check!(out.stdout == "echo: hi\n", out);
    check!(srv.connections() == 1, out);
}

#[test]
fn no_tcp_grant_means_no_sockets() {
    let srv = line_server();
    let p = policy("allow = [\"https://example.com\"]");
    let out = run_cli(
        GUEST,
        &p,
        &[],
        &["127.0.0.1", &srv.port().to_string(), "hi"],
    );
    assert_refused(&out, "socket-client: ", None);
    check!(srv.connections() == 0, out);
}

// ---------------------------------------------------------------------------
// Limits: the standard sockets meet the same limits as sandnet:net/tcp and udp
// (a Rust guest using std::net, which goes through wasi:sockets).

const STD_GUEST: &str = "rust-std-sockets";

/// A loopback TCP server that reads each connection to its end, counting the
/// bytes, then writes them back and closes.
struct EchoServer {
    port: u16,
    received: Arc<AtomicUsize>,
}

impl EchoServer {
    fn start() -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || {
                    let mut data = Vec::new();
                    let _ = stream.read_to_end(&mut data);
                    counter.fetch_add(data.len(), Ordering::SeqCst);
                    let _ = stream.write_all(&data);
                });
            }
        });
        EchoServer { port, received }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

/// A loopback UDP server answering each datagram with one datagram holding
/// `scale` copies of it, then `end`; counts the datagrams it got.
struct UdpEcho {
    port: u16,
    datagrams: Arc<AtomicUsize>,
}

impl UdpEcho {
    fn start(scale: usize) -> UdpEcho {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let datagrams = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&datagrams);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while let Ok((n, peer)) = socket.recv_from(&mut buf) {
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = socket.send_to(&buf[..n].repeat(scale), peer);
                let _ = socket.send_to(b"end", peer);
            }
        });
        UdpEcho { port, datagrams }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn std_run(allow: &str, limits: &str, args: &[&str]) -> Output {
    let p = policy(&format!(
        "allow = [\"{allow}\"]\n[guest.t.limits]\n{limits}"
    ));
    let out = run_cli(STD_GUEST, &p, &[], args);
    check!(out.code == Some(0), out);
    out
}

#[test]
fn max_connections_holds_a_standard_connection_until_it_is_dropped() {
    let srv = line_server();
    let addr = format!("127.0.0.1:{}", srv.port());
    let allow = format!("tcp://{addr}");

    let out = std_run(&allow, "max_connections = 1", &["connect-twice", &addr]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    check!(lines.len() == 3, out);
    check!(lines[0] == "first: connected", out);
    check!(lines[1].starts_with("second: refused: "), out);
    check!(lines[2] == "third: connected", out);
    check!(out.stderr.contains("limits.max_connections"), out);
    check!(
        eventually(Duration::from_secs(5), || srv.connections() == 2),
        out
    );

    let out = std_run(&allow, "max_connections = 2", &["connect-twice", &addr]);
    check!(
        out.stdout == "first: connected\nsecond: connected\nthird: connected\n",
        out
    );
}

#[test]
fn max_connections_closes_a_standard_accept_past_the_limit() {
    // A standard listener is checked on the port it bound, so grant a free one.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    // The listener holds one slot, the first accepted connection the other.
    let p = policy(&format!(
        "allow = [\"tcp-listen://{addr}\"]\n[guest.t.limits]\nmax_connections = 2"
    ));
    let mut bg = Background::start(STD_GUEST, &p, &[], &["accept", &addr, "2"]);
    assert_eq!(bg.line(), format!("listening {addr}"));
    let addr = addr.as_str();
    let _first = TcpStream::connect(addr).unwrap();
    assert_eq!(bg.line(), "accepted");
    let mut second = TcpStream::connect(addr).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let closed = matches!(second.read(&mut [0u8; 1]), Ok(0) | Err(_));
    let refused = bg.line();
    let (code, rest, stderr) = bg.finish();
    assert!(
        closed,
        "the host closes the connection it refused\n{stderr}"
    );
    assert!(
        refused.starts_with("accept failed: "),
        "{refused}\n{stderr}"
    );
    assert_eq!(code, Some(0), "{rest:?}\n{stderr}");
    assert!(stderr.contains("limits.max_connections"), "{stderr}");
}

#[test]
fn bytes_out_total_stops_a_standard_tcp_stream() {
    let srv = EchoServer::start();
    let allow = format!("tcp://{}", srv.addr());
    let out = std_run(
        &allow,
        "bytes_out_total = 1000",
        &["tcp", &srv.addr(), "5000"],
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    check!(lines.len() == 3, out);
    check!(lines[1].starts_with("send failed: "), out);
    check!(out.stderr.contains("limits.bytes_out_total"), out);
    check!(
        srv.received() == 0,
        out,
        "no byte past the quota reaches the peer"
    );

    let out = std_run(
        &allow,
        "bytes_out_total = 5000",
        &["tcp", &srv.addr(), "5000"],
    );
    check!(
        out.stdout == "tcp: connected\nsent 5000\nreceived 5000\n",
        out
    );
}

#[test]
fn bytes_in_total_stops_a_standard_tcp_stream() {
    let srv = EchoServer::start();
    let allow = format!("tcp://{}", srv.addr());
    let out = std_run(
        &allow,
        "bytes_in_total = 1000",
        &["tcp", &srv.addr(), "5000"],
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    check!(lines.len() == 3, out);
    check!(lines[1] == "sent 5000", out);
    check!(lines[2].starts_with("receive failed after "), out);
    let got: usize = lines[2]["receive failed after ".len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    check!(got <= 1000, out);
    check!(out.stderr.contains("limits.bytes_in_total"), out);
}

#[test]
fn standard_udp_send_meets_the_size_cap_and_bytes_out_total() {
    let srv = UdpEcho::start(1);
    let allow = format!("udp://{}", srv.addr());
    let limits = "max_datagram_bytes = 100\nbytes_out_total = 120";
    let out = std_run(
        &allow,
        limits,
        &["udp", &srv.addr(), "50", "200", "50", "50"],
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    check!(lines.len() == 8, out);
    check!(lines[..3] == ["sent 50", "received 50", "end"], out);
    check!(lines[3].starts_with("send 200 failed: "), out);
    check!(lines[4..7] == ["sent 50", "received 50", "end"], out);
    check!(lines[7].starts_with("send 50 failed: "), out);
    check!(out.stderr.contains("limits.max_datagram_bytes"), out);
    check!(out.stderr.contains("limits.bytes_out_total"), out);
    check!(srv.datagrams.load(Ordering::SeqCst) == 2, out);
}

#[test]
fn standard_udp_receive_drops_oversized_datagrams_and_meets_bytes_in_total() {
    let doubling = UdpEcho::start(2);
    let allow = format!("udp://{}", doubling.addr());
    let out = std_run(
        &allow,
        "max_datagram_bytes = 100",
        &["udp", &doubling.addr(), "40", "60"],
    );
    check!(
        out.stdout == "sent 40\nreceived 80\nend\nsent 60\nend\n",
        out,
        "the 80-byte reply fits the cap, the 120-byte one is dropped"
    );

    let srv = UdpEcho::start(1);
    let allow = format!("udp://{}", srv.addr());
    let out = std_run(
        &allow,
        "bytes_in_total = 60",
        &["udp", &srv.addr(), "50", "50"],
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    check!(lines.len() == 5, out);
    check!(
        lines[..4] == ["sent 50", "received 50", "end", "sent 50"],
        out
    );
    check!(lines[4].starts_with("receive failed: "), out);
    check!(out.stderr.contains("limits.bytes_in_total"), out);
}
