//! Standard `wasi:http/outgoing-handler` under the policy: a Rust component built
//! only against wasi:http (via wstd) is allowed to a granted URL and refused
//! elsewhere, with the reason and the line to add on sandnet's stderr.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod support;

use support::{Output, Server, check, policy, run_cli};

const GUEST: &str = "rust-wasi-http-get";

fn assert_refused(out: &Output, suggestion: &str) {
    check!(out.code == Some(1), out);
    check!(out.stdout.is_empty(), out);
    check!(out.stderr.contains("wasi:http request to"), out);
    check!(out.stderr.contains("denied"), out);
    check!(
        out.stderr.contains(suggestion),
        out,
        "the line to add should be {suggestion}"
    );
}

#[test]
fn granted_url_is_fetched() {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"{}\"]", srv.url("/ok")));
    let out = run_cli(GUEST, &p, &[], &[&srv.url("/ok")]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "200\nhello", out);
    check!(srv.requests() == 1, out);
}

#[test]
fn post_body_reaches_the_server() {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"POST {}\"]", srv.url("/echo")));
    let out = run_cli(GUEST, &p, &[], &[&srv.url("/echo"), "POST", "ping"]);
    check!(out.code == Some(0), out);
    check!(out.stdout.starts_with("200\n"), out);
    check!(out.stdout.contains("ping"), out);
}

#[test]
fn other_path_is_refused_before_any_connection() {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"{}\"]", srv.url("/ok")));
    let out = run_cli(GUEST, &p, &[], &[&srv.url("/other")]);
    assert_refused(&out, &format!("\"{}\"", srv.url("/other")));
    check!(srv.connections() == 0, out);
}

#[test]
fn other_port_is_refused_before_any_connection() {
    let srv = Server::http();
    let other = Server::http();
    let p = policy(&format!("allow = [\"{}\"]", srv.url("/ok")));
    let out = run_cli(GUEST, &p, &[], &[&other.url("/ok")]);
    assert_refused(&out, &format!("\"{}\"", other.url("/ok")));
    check!(other.connections() == 0, out);
}

#[test]
fn method_outside_the_rule_is_refused() {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"GET {}\"]", srv.url("/echo")));
    let out = run_cli(GUEST, &p, &[], &[&srv.url("/echo"), "DELETE"]);
    assert_refused(&out, &format!("\"DELETE {}\"", srv.url("/echo")));
    check!(srv.connections() == 0, out);
}

#[test]
fn name_resolving_to_loopback_needs_an_address_grant() {
    let srv = Server::http();
    let url = format!("http://app.test:{}/ok", srv.port());
    let resolve = "--resolve=app.test=127.0.0.1";
    let p = policy(&format!("allow = [\"{url}\"]"));
    let out = run_cli(GUEST, &p, &[resolve], &[&url]);
    check!(out.code == Some(1), out);
    check!(out.stderr.contains("127.0.0.1"), out);
    check!(srv.connections() == 0, out);

    let p = policy(&format!(
        "allow = [{{ rule = \"{url}\", addresses = [\"127.0.0.1\"] }}]"
    ));
    let out = run_cli(GUEST, &p, &[resolve], &[&url]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "200\nhello", out);
}

#[test]
fn refusals_are_audited() {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"{}\"]", srv.url("/ok")));
    let audit = p.dir.path().join("audit.jsonl");
    let audit_arg = format!("--audit={}", audit.display());
    let out = run_cli(GUEST, &p, &[&audit_arg], &[&srv.url("/nope")]);
    check!(out.code == Some(1), out);
    let log = std::fs::read_to_string(&audit).unwrap();
    let event: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(event["decision"], "deny", "{log}");
    assert_eq!(event["target"], srv.url("/nope"), "{log}");
}
