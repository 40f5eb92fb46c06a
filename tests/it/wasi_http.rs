//! Standard `wasi:http/outgoing-handler` under the policy: a Rust component built
//! only against wasi:http (via wstd) is allowed to a granted URL and refused
//! elsewhere, with the reason and the line to add on sandnet's stderr.

use crate::support::assertions::{Denial, assert_denied, check};
use crate::support::guests::{Output, run_cli};
use crate::support::policy::{allow_only, policy};
use crate::support::servers::Server;

const GUEST: &str = "rust-wasi-http-get";

/// sandnet refused the guest's request to `url`; `line` is the line to add.
fn assert_refused(out: &Output, url: &str, line: &str) {
    let what = format!("wasi:http request to {url} denied: ");
    assert_denied(out, Denial::Wasi(&what), Some(line));
}

#[test]
fn granted_url_is_fetched() {
    let srv = Server::http();
    let p = allow_only(&srv.url("/ok"));
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

/// Requests outside the grant are refused before any connection, each with
/// the line that would allow it: (case, granted rule, URL, method, line to add).
#[test]
fn requests_outside_the_grant_are_refused_before_any_connection() {
    let srv = Server::http();
    let other = Server::http();
    let cases = [
        (
            "other path",
            srv.url("/ok"),
            srv.url("/other"),
            None,
            format!("\"{}\"", srv.url("/other")),
        ),
        (
            "other port",
            srv.url("/ok"),
            other.url("/ok"),
            None,
            format!("\"{}\"", other.url("/ok")),
        ),
        (
            "method outside the rule",
            format!("GET {}", srv.url("/echo")),
            srv.url("/echo"),
            Some("DELETE"),
            format!("\"DELETE {}\"", srv.url("/echo")),
        ),
    ];
    for (case, rule, url, method, line) in cases {
        let p = policy(&format!("allow = [\"{rule}\"]"));
        let args: Vec<&str> = [url.as_str()].into_iter().chain(method).collect();
        let out = run_cli(GUEST, &p, &[], &args);
        assert_refused(&out, &url, &line);
        check!(srv.connections() == 0, out, "{case}: no connection");
        check!(other.connections() == 0, out, "{case}: no connection");
    }
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
    let p = allow_only(&srv.url("/ok"));
    let audit = p.dir.path().join("audit.jsonl");
    let audit_arg = format!("--audit={}", audit.display());
    let out = run_cli(GUEST, &p, &[&audit_arg], &[&srv.url("/nope")]);
    check!(out.code == Some(1), out);
    let log = std::fs::read_to_string(&audit).unwrap();
    let event: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(event["decision"], "deny", "{log}");
    assert_eq!(event["target"], srv.url("/nope"), "{log}");
}

/// The request-body cap and the byte quota hold for standard `wasi:http` as for
/// `sandnet:net/http`: the guest streams its body (wstd declares no length), and
/// the host stops it at `max_body_bytes` and counts it against
/// `bytes_out_total`: the guest's request fails (the head may already be out;
/// the body never completes) and the operator is told which limit to raise.
#[test]
fn request_bodies_meet_max_body_bytes_and_bytes_out_total() {
    let body = "x".repeat(64);
    for (limit, mentions) in [
        ("max_body_bytes = 16", "max_body_bytes"),
        ("bytes_out_total = 16", "bytes_out_total"),
    ] {
        let srv = Server::http();
        let p = policy(&format!(
            "allow = [\"POST {}\"]\n[guest.t.limits]\n{limit}",
            srv.url("/echo")
        ));
        let out = run_cli(GUEST, &p, &[], &[&srv.url("/echo"), "POST", &body]);
        check!(
            out.code == Some(1),
            out,
            "{limit}: the guest's request must fail"
        );
        check!(
            out.stdout.is_empty(),
            out,
            "{limit}: no response reached the guest"
        );
        check!(
            out.stderr.contains(mentions),
            out,
            "{limit}: sandnet names the limit"
        );
    }
}

/// The `wasi-http-bench` guest (scripts/bench.sh): a loop of standard wasi:http
/// GETs shares one pooled connection, and its download modes (wstd and bare
/// `wasi:http` calls) stream a body larger than `max_body_bytes` to the end;
/// its exit mode (the start bench) exits 0.
#[test]
fn bench_guest_loops_on_one_connection_and_streams_a_download() {
    let srv = Server::http();
    let p = policy(&format!(
        "allow = [\"GET {}\", \"GET {}\"]\n[guest.t.limits]\nmax_body_bytes = \"1 KiB\"",
        srv.url("/ok"),
        srv.url("/big")
    ));
    let out = run_cli("rust-wasi-http-bench", &p, &[], &[&srv.url("/ok"), "5"]);
    check!(out.code == Some(0), out);
    let fields: Vec<&str> = out.stdout.split_whitespace().collect();
    check!(
        fields.len() == 3 && fields[0] == "5" && fields[1] == "25",
        out,
        "5 requests of the 5-byte body"
    );
    check!(srv.requests() == 5, out);
    check!(srv.connections() == 1, out, "one pooled connection");

    let url = format!("{}?n=300000", srv.url("/big"));
    for mode in ["download", "raw-download"] {
        let out = run_cli("rust-wasi-http-bench", &p, &[], &[mode, &url]);
        check!(out.code == Some(0), out, "{mode}");
        let fields: Vec<&str> = out.stdout.split_whitespace().collect();
        check!(fields.len() == 3 && fields[1] == "300000", out, "{mode}");
    }

    let out = run_cli("rust-wasi-http-bench", &p, &[], &["exit"]);
    check!(
        out.code == Some(0) && out.stdout.is_empty(),
        out,
        "exit mode (the start bench) exits 0 at once"
    );
}
