//! Standard `wasi:sockets` under the policy: a Python guest using only the
//! `socket` module reaches a granted TCP address and is refused elsewhere; name
//! lookups resolve only host names a tcp/udp rule grants.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{Output, check, policy, run_cli};

const GUEST: &str = "python-socket-client";

/// A loopback line server answering `echo: LINE` per line; counts connections.
struct LineServer {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl LineServer {
    fn start() -> LineServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    for line in BufReader::new(stream).lines() {
                        let Ok(line) = line else { return };
                        if writeln!(writer, "echo: {line}").is_err() {
                            return;
                        }
                    }
                });
            }
        });
        LineServer { port, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn assert_refused(out: &Output) {
    check!(out.code == Some(1), out);
    check!(out.stdout.is_empty(), out);
    check!(out.stderr.contains("socket-client: "), out);
}

#[test]
fn granted_address_round_trip() {
    let srv = LineServer::start();
    let p = policy(&format!("allow = [\"tcp://127.0.0.1:{}\"]", srv.port));
    let out = run_cli(
        GUEST,
        &p,
        &[],
        &["127.0.0.1", &srv.port.to_string(), "hello", "world"],
    );
    check!(out.code == Some(0), out);
    check!(out.stdout == "echo: hello\necho: world\n", out);
    check!(srv.connections() == 1, out);
}

#[test]
fn other_port_is_refused_with_the_line_to_add() {
    let srv = LineServer::start();
    let other = LineServer::start();
    let p = policy(&format!("allow = [\"tcp://127.0.0.1:{}\"]", srv.port));
    let out = run_cli(
        GUEST,
        &p,
        &[],
        &["127.0.0.1", &other.port.to_string(), "hi"],
    );
    assert_refused(&out);
    check!(out.stderr.contains("wasi:sockets use of"), out);
    check!(
        out.stderr
            .contains(&format!("\"tcp://127.0.0.1:{}\"", other.port)),
        out
    );
    check!(other.connections() == 0, out);
}

#[test]
fn lookup_of_a_name_no_rule_grants_is_refused() {
    let srv = LineServer::start();
    let p = policy(&format!("allow = [\"tcp://127.0.0.1:{}\"]", srv.port));
    let out = run_cli(
        GUEST,
        &p,
        &["--resolve=db.test=127.0.0.1"],
        &["db.test", &srv.port.to_string(), "hi"],
    );
    assert_refused(&out);
    check!(out.stderr.contains("lookup of \"db.test\" refused"), out);
    check!(srv.connections() == 0, out);
}

#[test]
fn granted_name_needs_an_address_grant_for_loopback() {
    let srv = LineServer::start();
    let rule = format!("tcp://db.test:{}", srv.port);
    let resolve = "--resolve=db.test=127.0.0.1";
    let args = ["db.test".to_owned(), srv.port.to_string(), "hi".to_owned()];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let p = policy(&format!("allow = [\"{rule}\"]"));
    let out = run_cli(GUEST, &p, &[resolve], &args);
    assert_refused(&out);
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
    let srv = LineServer::start();
    let p = policy("allow = [\"https://example.com\"]");
    let out = run_cli(GUEST, &p, &[], &["127.0.0.1", &srv.port.to_string(), "hi"]);
    assert_refused(&out);
    check!(srv.connections() == 0, out);
}
