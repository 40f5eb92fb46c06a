//! Standard `wasi:sockets` under the policy: a Python guest using only the
//! `socket` module reaches a granted TCP address and is refused elsewhere; name
//! lookups resolve only host names a tcp/udp rule grants.

use crate::support::assertions::{Denial, assert_denied, check};
use crate::support::guests::{Output, run_cli};
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
