//! `sandnet:net/http` end to end: both `http-get` guests (Rust and Python) against
//! loopback HTTP(S) servers, through the CLI and through the library.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sandnet::ExitStatus;
use sandnet::audit::Audit;
use sandnet::guard::Guard;
use sandnet::net::http::client::{HttpClient, RequestSpec};

mod caching;
mod decoding;
mod example_guests;
mod h2;
mod multipart;
mod retries;
mod tus;
mod waiting;

use crate::support::assertions::{
    Denial, assert_address_withheld, assert_denied, assert_denied_unreached, check,
};
use crate::support::guests::{
    Cli, for_each_lang, guest, lib_http_settings as lib_settings, run_cli,
};
use crate::support::policy::{allow_only, guest_policy, line_of, policy};
use crate::support::recording::{
    DialMode, LOOPBACK, METADATA, PRIVATE, RecordingDialer, guard_with, run_recorded,
};
use crate::support::servers::Server;
use crate::support::tls::TestCa;

/// How the http-get guests sign a denial.
const DENIED: Denial<'static> = Denial::Guest("http-get");

// ---------------------------------------------------------------------------
// Allowed requests

// The same contract holds for the http-get guest in every language.
for_each_lang!(every "http-get":
    allowed_get,
    allowed_post_echoes_body,
    status_codes_pass_through,
);

for_each_lang!("http-get":
    denied_by_scheme,
    denied_by_host,
    denied_by_port,
    denied_by_path,
    denied_by_method,
    denied_by_deny_rule,
    redirects_off_by_default,
    redirect_to_granted_path_followed,
    redirect_to_ungranted_host_refused,
    name_resolving_to_loopback_needs_allowance,
    localhost_means_loopback,
    https_with_test_ca,
    https_without_ca_bundle_is_tls_error,
    body_cap,
    first_byte_timeout,
    total_timeout_from_guest_option,
    audit_log_records_decisions,
    explain_agrees_with_run,
    lib_allowed_get,
    lib_name_resolving_to_metadata_refused,
    lib_name_resolving_to_private_needs_allowance,
    lib_only_vetted_addresses_dialled,
    lib_redirect_to_metadata_refused,
    lib_connect_timeout,
);

fn allowed_get(guest: &str) {
    let srv = Server::http();
    let p = allow_only(&srv.url("/ok"));
    let out = run_cli(guest, &p, &[], &[&srv.url("/ok")]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "200\nhello", out);
    assert_eq!(srv.seen(), ["GET /ok"]);
}

fn allowed_post_echoes_body(guest: &str) {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"POST {}\"]", srv.url("/echo")));
    let out = run_cli(guest, &p, &[], &[&srv.url("/echo"), "POST", "ping pong ü"]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "200\nPOST ping pong ü", out);
    assert_eq!(srv.seen(), ["POST /echo"]);
}

fn status_codes_pass_through(guest: &str) {
    let srv = Server::http();
    let p = allow_only(&srv.url("/status/*"));
    let out = run_cli(guest, &p, &[], &[&srv.url("/status/503")]);
    check!(out.code == Some(0), out, "any HTTP response exits 0");
    check!(out.stdout == "503\nstatus 503", out);
}

// ---------------------------------------------------------------------------
// Denials: each names the reason and the line to add; the server sees nothing

fn denied_by_scheme(guest: &str) {
    let srv = Server::http();
    let p = policy(&format!(
        "allow = [\"https://127.0.0.1:{}/ok\"]",
        srv.port()
    ));
    let out = run_cli(guest, &p, &[], &[&srv.url("/ok")]);
    assert_denied(
        &out,
        DENIED,
        Some(&format!("\"http://127.0.0.1:{}/ok\"", srv.port())),
    );
    check!(out.stderr.contains("no allow rule"), out);
    check!(
        srv.connections() == 0,
        out,
        "a denied request must not reach the server"
    );
}

fn denied_by_host(guest: &str) {
    let srv = Server::http();
    let p = allow_only(&srv.url("/ok"));
    let url = format!("http://app.test:{}/ok", srv.port());
    let out = run_cli(guest, &p, &["--resolve", "app.test=127.0.0.1"], &[&url]);
    assert_denied_unreached(&out, DENIED, &url, srv.connections());
}

fn denied_by_port(guest: &str) {
    let granted = Server::http();
    let other = Server::http();
    let p = allow_only(&granted.url("/ok"));
    let out = run_cli(guest, &p, &[], &[&other.url("/ok")]);
    assert_denied(&out, DENIED, Some(&format!("\"{}\"", other.url("/ok"))));
    check!(granted.connections() + other.connections() == 0, out);
}

fn denied_by_path(guest: &str) {
    let srv = Server::http();
    let p = allow_only(&srv.url("/ok"));
    let out = run_cli(guest, &p, &[], &[&srv.url("/other")]);
    assert_denied(&out, DENIED, Some(&format!("\"{}\"", srv.url("/other"))));
    check!(srv.connections() == 0, out);
}

fn denied_by_method(guest: &str) {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"GET {}\"]", srv.url("/echo")));
    let out = run_cli(guest, &p, &[], &[&srv.url("/echo"), "PUT", "x"]);
    assert_denied(&out, DENIED, Some(&format!("\"PUT {}\"", srv.url("/echo"))));
    check!(out.stderr.contains("allows only GET"), out);
    check!(srv.connections() == 0, out);
}

fn denied_by_deny_rule(guest: &str) {
    let srv = Server::http();
    let p = policy(&format!(
        "allow = [\"{}\"]\ndeny = [\"{}\"]",
        srv.url("/ok/*"),
        srv.url("/ok/secret*")
    ));
    let deny_line = line_of(&p.text, "deny = ");

    let out = run_cli(guest, &p, &[], &[&srv.url("/ok/secret/key")]);
    assert_denied(&out, DENIED, None);
    check!(out.stderr.contains("deny rule"), out);
    check!(
        out.stderr.contains(&format!("policy.toml:{deny_line}")),
        out,
        "names the deny rule's line"
    );
    check!(
        !out.stderr.contains("hint"),
        out,
        "no allow line can beat a deny rule, so no hint"
    );
    check!(srv.connections() == 0, out);

    let out = run_cli(guest, &p, &[], &[&srv.url("/ok/public")]);
    check!(
        out.stdout == "200\nhello",
        out,
        "the allow rule still works beside the deny rule"
    );
    assert_eq!(srv.seen(), ["GET /ok/public"]);
}

// ---------------------------------------------------------------------------
// Redirects

fn redirects_off_by_default(guest: &str) {
    let srv = Server::http();
    let p = policy(&format!(
        "allow = [\"{}\", \"{}\"]",
        srv.url("/redirect"),
        srv.url("/ok")
    ));
    let url = format!("{}?to={}", srv.url("/redirect"), srv.url("/ok"));
    let out = run_cli(guest, &p, &[], &[&url]);
    check!(out.code == Some(0), out);
    check!(
        out.stdout.starts_with("302\n"),
        out,
        "the 3xx is returned as is"
    );
    check!(srv.requests() == 1, out);
}

fn redirect_to_granted_path_followed(guest: &str) {
    let srv = Server::http();
    let p = policy(&format!(
        "allow = [\"{}\", \"{}\"]\nenv = {{ HTTP_GET_MAX_REDIRECTS = \"3\" }}",
        srv.url("/redirect"),
        srv.url("/ok")
    ));
    let url = format!("{}?to={}", srv.url("/redirect"), srv.url("/ok"));
    let out = run_cli(guest, &p, &[], &[&url]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "200\nhello", out);
    assert_eq!(
        srv.seen(),
        [
            format!("GET /redirect?to={}", srv.url("/ok")),
            "GET /ok".to_owned()
        ]
    );
}

fn redirect_to_ungranted_host_refused(guest: &str) {
    let srv = Server::http();
    let elsewhere = Server::http();
    let p = policy(&format!(
        "allow = [\"{}\"]\nenv = {{ HTTP_GET_MAX_REDIRECTS = \"3\" }}",
        srv.url("/redirect")
    ));
    let url = format!("{}?to={}", srv.url("/redirect"), elsewhere.url("/ok"));
    let out = run_cli(guest, &p, &[], &[&url]);
    assert_denied(&out, DENIED, Some(&format!("\"{}\"", elsewhere.url("/ok"))));
    check!(srv.requests() == 1, out, "the first hop was allowed");
    check!(
        elsewhere.connections() == 0,
        out,
        "the redirect target must not be contacted"
    );
}

// ---------------------------------------------------------------------------
// Names and addresses

fn name_resolving_to_loopback_needs_allowance(guest: &str) {
    let srv = Server::http();
    let url = format!("http://app.test:{}/ok", srv.port());
    let resolve = ["--resolve", "app.test=127.0.0.1"];

    let name_only = policy(&format!("allow = [\"{url}\"]"));
    let out = run_cli(guest, &name_only, &resolve, &[&url]);
    // The guest learns the name was refused; the operator's log on the same
    // stderr names the address and the allowance that would grant it.
    assert_address_withheld(&out, "http-get", "app.test", "127.0.0.1");
    check!(
        out.stderr.contains(&format!(
            "add {{ rule = \"{url}\", addresses = [\"127.0.0.1\"] }}"
        )),
        out,
        "the operator's log names the allowance to add"
    );
    check!(
        srv.connections() == 0,
        out,
        "a granted name alone must not unlock loopback"
    );

    let with_address = policy(&format!(
        "allow = [{{ rule = \"http://app.test:{}/*\", addresses = [\"127.0.0.1\"] }}]",
        srv.port()
    ));
    let out = run_cli(guest, &with_address, &resolve, &[&url]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "200\nhello", out);
    check!(srv.requests() == 1, out);

    // The request still names the host the guest asked for, not the address.
    let headers = format!("http://app.test:{}/headers", srv.port());
    let out = run_cli(guest, &with_address, &resolve, &[&headers]);
    check!(out.code == Some(0), out);
    check!(
        out.stdout
            .contains(&format!("\nhost: app.test:{}\n", srv.port())),
        out
    );
}

/// `localhost` is the one name that means loopback: granted by name, it may
/// resolve (through the system resolver, i.e. /etc/hosts) to a loopback address.
fn localhost_means_loopback(guest: &str) {
    let srv = Server::http();
    let url = format!("http://localhost:{}/ok", srv.port());
    let p = policy(&format!("allow = [\"{url}\"]"));
    let out = run_cli(guest, &p, &[], &[&url]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "200\nhello", out);
    assert_eq!(srv.seen(), ["GET /ok"]);
}

// ---------------------------------------------------------------------------
// TLS

fn https_with_test_ca(guest: &str) {
    let ca = TestCa::new();
    let srv = Server::https(&ca);
    let p = policy(&format!(
        "allow = [\"{}\"]\nca_bundle = \"{}\"",
        srv.url("/ok"),
        ca.ca_pem_str()
    ));
    let out = run_cli(guest, &p, &[], &[&srv.url("/ok")]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "200\nhello", out);
    assert_eq!(srv.seen(), ["GET /ok"]);
}

fn https_without_ca_bundle_is_tls_error(guest: &str) {
    let ca = TestCa::new();
    let srv = Server::https(&ca);
    let p = allow_only(&srv.url("/ok"));
    let out = run_cli(guest, &p, &[], &[&srv.url("/ok")]);
    check!(out.code == Some(1), out);
    check!(out.stderr.starts_with("http-get: tls: "), out);
    check!(
        srv.requests() == 0,
        out,
        "no request may be sent over an untrusted connection"
    );
}

// ---------------------------------------------------------------------------
// Limits and timeouts

fn body_cap(guest: &str) {
    let srv = Server::http();
    let p = policy(&format!(
        "allow = [\"{}\"]\n[guest.t.limits]\nmax_body_bytes = \"1 KiB\"",
        srv.url("/big")
    ));

    let out = run_cli(guest, &p, &[], &[&format!("{}?n=4096", srv.url("/big"))]);
    check!(out.code == Some(1), out);
    check!(
        out.stderr.contains("limit-exceeded: max_body_bytes (1024)"),
        out
    );

    let out = run_cli(guest, &p, &[], &[&format!("{}?n=1024", srv.url("/big"))]);
    check!(
        out.code == Some(0),
        out,
        "a body of exactly the cap is allowed"
    );
    check!(out.stdout == format!("200\n{}", "x".repeat(1024)), out);
}

/// A request to a server that accepts and never answers ends with
/// `timeout: KIND`, well within 10 s, after exactly one connection; `extra`
/// (policy lines after `allow`) sets the deadline.
fn assert_times_out(guest: &str, extra: &str, kind: &str) {
    let hole = Server::black_hole();
    let p = policy(&format!("allow = [\"{}\"]\n{extra}", hole.url("/ok")));
    let out = run_cli(guest, &p, &[], &[&hole.url("/ok")]);
    check!(out.code == Some(1), out);
    check!(out.stderr.contains(&format!("timeout: {kind}")), out);
    check!(
        hole.connections() == 1,
        out,
        "the connection was made; the answer never came"
    );
    check!(
        out.elapsed < Duration::from_secs(10),
        out,
        "the deadline set by {extra:?} must end the run quickly (not the policy's 15 s default)"
    );
}

fn first_byte_timeout(guest: &str) {
    assert_times_out(
        guest,
        "[guest.t.limits]\nfirst_byte_timeout = \"1s\"",
        "first-byte",
    );
}

/// A guest's own timeout (here `HTTP_GET_TIMEOUT_MS`, the `total-timeout-ms`
/// request option) can tighten the policy's limits.
fn total_timeout_from_guest_option(guest: &str) {
    assert_times_out(guest, "env = { HTTP_GET_TIMEOUT_MS = \"300\" }", "total");
}

// ---------------------------------------------------------------------------
// Audit log and explain

fn audit_log_records_decisions(guest: &str) {
    let srv = Server::http();
    let p = allow_only(&srv.url("/ok"));
    let log = p.dir.path().join("audit.jsonl");
    let log_arg = log.display().to_string();

    let out = run_cli(guest, &p, &["--audit", &log_arg], &[&srv.url("/ok")]);
    check!(out.code == Some(0), out);
    let out = run_cli(guest, &p, &["--audit", &log_arg], &[&srv.url("/nope")]);
    check!(out.code == Some(1), out);

    let text = std::fs::read_to_string(&log).expect("audit log written");
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit lines are JSON"))
        .collect();
    let find = |event: &str, decision: &str, target: &str| {
        events
            .iter()
            .find(|e| e["event"] == event && e["decision"] == decision && e["target"] == target)
    };
    let allowed = find("request", "allow", &srv.url("/ok"))
        .unwrap_or_else(|| panic!("no allow event in\n{text}"));
    assert_eq!(allowed["guest"], "t");
    assert_eq!(allowed["rule"], format!("2: {}", srv.url("/ok")), "{text}");
    let connect = events
        .iter()
        .find(|e| e["event"] == "connect" && e["decision"] == "allow")
        .unwrap_or_else(|| panic!("no connect event in\n{text}"));
    assert_eq!(connect["connected"], srv.addr().to_string(), "{text}");
    let denied = find("request", "deny", &srv.url("/nope"))
        .unwrap_or_else(|| panic!("no deny event in\n{text}"));
    assert!(
        denied["reason"]
            .as_str()
            .unwrap_or("")
            .contains("no allow rule"),
        "{text}"
    );
}

/// For each target, `sandnet explain` and `sandnet run` agree; a denial's
/// suggested line is the hint the guest printed.
fn explain_agrees_with_run(guest: &str) {
    let srv = Server::http();
    let p = policy(&format!(
        "allow = [\"{}\", \"POST {}\", \"{}\"]\ndeny = [\"{}\"]",
        srv.url("/ok"),
        srv.url("/echo"),
        srv.url("/status/*"),
        srv.url("/status/5*")
    ));
    let cases: [(&str, String, bool); 6] = [
        ("GET", srv.url("/ok"), true),
        ("POST", srv.url("/echo"), true),
        ("GET", srv.url("/status/201"), true),
        ("GET", srv.url("/status/500"), false),
        ("PUT", srv.url("/echo"), false),
        ("GET", srv.url("/elsewhere"), false),
    ];
    for (method, url, allowed) in cases {
        let target = format!("{method} {url}");
        let explain = Cli::new(["explain", "--policy", p.arg(), target.as_str()]).output();
        let run = run_cli(guest, &p, &[], &[&url, method, "body"]);
        check!(
            explain.code == Some(if allowed { 0 } else { 1 }),
            explain,
            "explain {target}"
        );
        check!(
            run.code == Some(if allowed { 0 } else { 1 }),
            run,
            "run {target}"
        );
        if allowed {
            check!(
                explain.stdout.starts_with(&format!("allowed: {target}")),
                explain
            );
        } else {
            check!(
                explain.stdout.starts_with(&format!("denied: {target}")),
                explain
            );
            // The line explain suggests (if any) is the one the guest was told to add.
            let suggestion = explain
                .stdout
                .lines()
                .skip_while(|l| !l.contains("to allow it, add"))
                .nth(1);
            match suggestion {
                Some(line) => check!(
                    run.stderr.contains(line.trim()),
                    run,
                    "explain suggested {line:?}"
                ),
                None => check!(
                    !run.stderr.contains("hint"),
                    run,
                    "explain suggested nothing"
                ),
            }
        }
    }
    assert_eq!(
        srv.requests(),
        3,
        "only the allowed targets reached the server: {:?}",
        srv.seen()
    );
}

// ---------------------------------------------------------------------------
// Through the library, with a dialer that records every address and only
// connects to loopback, so no packet can leave even if the guard were wrong.

fn lib_allowed_get(guest: &str) {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let text = format!("[guest.t]\nallow = [\"{}\"]", srv.url("/ok"));
    let (run, _) = run_recorded(guest, &text, &[], &dialer, &[&srv.url("/ok")]);
    check!(run.outcome.status == ExitStatus::Exited(0), run);
    check!(run.stdout == "200\nhello", run);
    assert_eq!(dialer.dialed(), [srv.addr()]);
}

fn lib_name_resolving_to_metadata_refused(guest: &str) {
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let text = "[guest.t]\nallow = [\"http://metadata.test/latest/*\"]";
    let (run, audit) = run_recorded(
        guest,
        text,
        &[("metadata.test", METADATA)],
        &dialer,
        &["http://metadata.test/latest/meta-data/"],
    );
    assert_address_withheld(&run, "http-get", "metadata.test", "169.254.169.254");
    check!(
        dialer.dialed().is_empty(),
        run,
        "dialled {:?}",
        dialer.dialed()
    );
    let events = audit.events();
    let refused = events
        .iter()
        .find(|e| e["event"] == "connect" && e["decision"] == "deny")
        .unwrap_or_else(|| panic!("no connect deny event in {events:?}"));
    assert_eq!(refused["resolved"], serde_json::json!(["169.254.169.254"]));
}

fn lib_name_resolving_to_private_needs_allowance(guest: &str) {
    let names = [("db.test", PRIVATE)];
    let url = "http://db.test:8080/x";

    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let text = format!("[guest.t]\nallow = [\"{url}\"]");
    let (run, audit) = run_recorded(guest, &text, &names, &dialer, &[url]);
    assert_address_withheld(&run, "http-get", "db.test", "10.1.2.3");
    let events = audit.events();
    check!(
        events.iter().any(
            |e| e["reason"].as_str().is_some_and(|r| r.contains(&format!(
                "{{ rule = \"{url}\", addresses = [\"10.1.2.3\"] }}"
            )))
        ),
        run,
        "the audit log names the allowance to add: {events:?}"
    );
    check!(
        dialer.dialed().is_empty(),
        run,
        "dialled {:?}",
        dialer.dialed()
    );

    // With the range granted the guard dials it (the test dialer then refuses,
    // so the guest sees a connect error and nothing leaves the machine).
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let text = format!("[guest.t]\nallow = [{{ rule = \"{url}\", addresses = [\"10.0.0.0/8\"] }}]");
    let (run, _) = run_recorded(guest, &text, &names, &dialer, &[url]);
    check!(run.outcome.status == ExitStatus::Exited(1), run);
    check!(run.stderr.starts_with("http-get: connect: "), run);
    assert_eq!(dialer.dialed(), [SocketAddr::new(PRIVATE, 8080)]);
}

fn lib_only_vetted_addresses_dialled(guest: &str) {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let url = format!("http://mixed.test:{}/ok", srv.port());
    let text = format!("[guest.t]\nallow = [{{ rule = \"{url}\", addresses = [\"127.0.0.1\"] }}]");
    let names = [("mixed.test", METADATA), ("mixed.test", LOOPBACK)];
    let (run, _) = run_recorded(guest, &text, &names, &dialer, &[&url]);
    check!(run.outcome.status == ExitStatus::Exited(0), run);
    check!(run.stdout == "200\nhello", run);
    assert_eq!(
        dialer.dialed(),
        [srv.addr()],
        "only the granted address may be dialled"
    );
}

fn lib_redirect_to_metadata_refused(guest: &str) {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let text = format!(
        "[guest.t]\nallow = [\"{}\"]\nenv = {{ HTTP_GET_MAX_REDIRECTS = \"3\" }}",
        srv.url("/redirect")
    );
    let url = format!(
        "{}?to=http://169.254.169.254/latest/meta-data/",
        srv.url("/redirect")
    );
    let (run, _) = run_recorded(guest, &text, &[], &dialer, &[&url]);
    assert_denied(&run, DENIED, None);
    check!(run.stderr.contains("169.254.169.254"), run);
    assert_eq!(
        dialer.dialed(),
        [srv.addr()],
        "only the first hop may be dialled"
    );
    assert_eq!(srv.requests(), 1);
}

fn lib_connect_timeout(guest: &str) {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::Hang);
    let text = format!(
        "[guest.t]\nallow = [\"{}\"]\n[guest.t.limits]\nconnect_timeout = \"1s\"",
        srv.url("/ok")
    );
    let (run, _) = run_recorded(guest, &text, &[], &dialer, &[&srv.url("/ok")]);
    check!(run.outcome.status == ExitStatus::Exited(1), run);
    check!(run.stderr.contains("timeout: connect"), run);
    check!(
        run.elapsed < Duration::from_secs(10),
        run,
        "a 1 s connect timeout must end the run quickly"
    );
    assert_eq!(dialer.dialed(), [srv.addr()]);
    assert_eq!(srv.connections(), 0, "the hanging dialer never connects");
}

// ---------------------------------------------------------------------------
// Connection reuse. The http-get guests make one request per run, so this drives
// the guest's HTTP client (one pool per guest) directly, as the http host does.

/// A guest's HTTP client through a recording dialer, as a library user builds it.
fn lib_client(policy: Arc<sandnet::policy::GuestPolicy>, dialer: &RecordingDialer) -> HttpClient {
    let guard = Arc::new(Guard::new(policy, guard_with(&[], dialer, Audit::off())));
    HttpClient::new(
        guard,
        sandnet::net::common::tls::client_config(None).unwrap(),
    )
}

/// Runs `fut` on the runtime `sandnet run` uses (one thread for the guest
/// and its connections), then drops that runtime.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = tokio.block_on(fut);
    tokio.shutdown_background();
    out
}

/// Asserts `err` is `limit-exceeded` of the limit `name` (at `value`, if given).
#[track_caller]
fn assert_limit(err: Option<&sandnet::error::NetError>, name: &str, value: Option<u64>) {
    let hit = match err {
        Some(sandnet::error::NetError::LimitExceeded { name: n, value: v }) => {
            *n == name && value.is_none_or(|want| want == *v)
        }
        _ => false,
    };
    assert!(hit, "expected limit-exceeded {name} {value:?}, got {err:?}");
}

/// A GET of `url` as a validated request.
fn get(url: &str) -> RequestSpec {
    RequestSpec::new("GET", url, &[], None).unwrap()
}

#[test]
fn connection_reused_within_a_guest() {
    const REQUESTS: usize = 5;
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let policy = guest_policy(&format!("[guest.t]\nallow = [\"{}\"]", srv.url("/ok")));
    // The runtime `sandnet run` uses: one thread for the guest and its connections.
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(async {
        let client = lib_client(policy, &dialer);
        for i in 0..REQUESTS {
            let settings = lib_settings();
            let spec = RequestSpec::new("GET", &srv.url("/ok"), &[], None).unwrap();
            let mut exchange = client
                .send(spec, settings)
                .await
                .unwrap_or_else(|e| panic!("request {i}: {e}"));
            assert_eq!(exchange.status, 200);
            assert_eq!(
                exchange
                    .body
                    .read_all(1024, sandnet::policy::Limit::MaxBodyBytes)
                    .await
                    .unwrap(),
                b"hello"
            );
        }
    });
    tokio.shutdown_background();
    assert_eq!(srv.requests(), REQUESTS);
    // hyper returns a finished connection to the pool from a background task;
    // the body reader lets that task run before the next request checks one
    // out, so a strictly sequential loop never dials a second connection.
    let connections = srv.connections();
    assert_eq!(
        connections, 1,
        "{REQUESTS} sequential requests should share one connection, used {connections}"
    );
    let dialed = dialer.dialed();
    assert_eq!(dialed.len(), 1, "{dialed:?}");
    assert!(dialed.iter().all(|a| *a == srv.addr()), "{dialed:?}");
}

#[test]
fn missing_guest_fails_with_build_hint() {
    let result = std::panic::catch_unwind(|| guest("no-such-guest"));
    let err = result.expect_err("a missing guest must fail the test, not skip it");
    let message = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    assert!(
        message.contains("run scripts/build-guests.sh first"),
        "{message}"
    );
}

/// A guest's repeated requests share one pooled keep-alive connection
/// (the `http-bench` guest loops `fetch` N times; see
/// connection_reused_within_a_guest on how the pool gets it back in time).
#[test]
fn guest_requests_reuse_one_connection() {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"GET {}\"]", srv.url("/ok")));
    let out = run_cli("rust-http-bench", &p, &[], &[&srv.url("/ok"), "5"]);
    check!(out.code == Some(0), out);
    let fields: Vec<&str> = out.stdout.split_whitespace().collect();
    check!(
        fields.len() == 3 && fields[0] == "5" && fields[1] == "25",
        out,
        "5 requests of the 5-byte body"
    );
    check!(srv.requests() == 5, out);
    check!(
        srv.connections() == 1,
        out,
        "five sequential requests should share one connection"
    );
}

/// A body far larger than `max_body_bytes` streams through `send` + `read` in
/// chunks no larger than the guest asked for.
#[test]
fn streamed_download_in_bounded_chunks() {
    let srv = Server::http();
    let p = policy(&format!(
        "allow = [\"GET {}\"]\n[guest.t.limits]\nmax_body_bytes = \"1 KiB\"",
        srv.url("/big")
    ));
    let url = format!("{}?n=3000000", srv.url("/big"));
    let out = run_cli("rust-http-stream", &p, &[], &["download", &url, "65536"]);
    check!(out.code == Some(0), out);
    let fields: Vec<u64> = out
        .stdout
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    check!(fields.len() == 4, out);
    check!(fields[0] == 200 && fields[1] == 3_000_000, out);
    check!(
        fields[3] <= 65_536,
        out,
        "no read may return more than asked"
    );
    check!(fields[2] >= 3_000_000 / 65_536, out);

    // The same body through `fetch` is refused by the cap.
    let out = run_cli("rust-http-get", &p, &[], &[&url]);
    check!(out.code == Some(1), out);
    check!(out.stderr.contains("max_body_bytes"), out);
}

/// A streamed upload reports progress and the server receives every byte.
#[test]
fn streamed_upload_with_progress() {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"POST {}\"]", srv.url("/echo")));
    let out = run_cli(
        "rust-http-stream",
        &p,
        &[],
        &["upload", &srv.url("/echo"), "200000", "65536"],
    );
    check!(out.code == Some(0), out);
    let lines: Vec<&str> = out.stdout.lines().collect();
    check!(lines.len() == 5, out, "four progress lines and the result");
    let mut last = 0u64;
    for line in &lines[..4] {
        let (sent, total) = line
            .strip_prefix("progress ")
            .unwrap()
            .split_once('/')
            .unwrap();
        let sent: u64 = sent.parse().unwrap();
        check!(total == "200000", out);
        check!(
            sent >= last && sent <= 200_000,
            out,
            "progress must grow and stay within the total"
        );
        last = sent;
    }
    check!(
        lines[4] == "200 200005",
        out,
        "`POST ` plus the 200000 bytes echoed"
    );
}

/// Two requests in flight, awaited together with wasi:io/poll: the fast one is
/// reported while the slow one is still waiting (then times out).
#[test]
fn two_requests_awaited_together() {
    let fast = Server::http();
    let slow = Server::black_hole();
    let p = policy(&format!(
        "allow = [\"GET {}\", \"GET {}\"]\n[guest.t.limits]\nfirst_byte_timeout = \"1s\"\nconnect_timeout = \"1s\"",
        fast.url("/ok"),
        slow.url("/")
    ));
    let out = run_cli(
        "rust-http-stream",
        &p,
        &[],
        &["race", &slow.url("/"), &fast.url("/ok")],
    );
    check!(
        out.stdout
            .starts_with(&format!("first 200 {}", fast.url("/ok"))),
        out
    );
    check!(out.code == Some(1), out);
    check!(out.stderr.contains("timeout"), out);
}

#[test]
fn request_body_over_max_body_bytes_is_refused_before_sending() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let policy = guest_policy(&format!(
        "[guest.t]\nallow = [\"POST {}\"]\n[guest.t.limits]\nmax_body_bytes = 1024",
        srv.url("/echo")
    ));
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = tokio.block_on(async {
        let client = lib_client(policy, &dialer);
        let settings = lib_settings();
        let spec =
            RequestSpec::new("POST", &srv.url("/echo"), &[], Some(vec![b'x'; 2048])).unwrap();
        client.send(spec, settings).await.err()
    });
    let err = err.expect("a 2 KiB body under a 1 KiB cap must be refused");
    assert!(
        matches!(
            err,
            sandnet::error::NetError::LimitExceeded {
                name: "max_body_bytes",
                value: 1024
            }
        ),
        "{err}"
    );
    assert!(
        dialer.dialed().is_empty(),
        "nothing may be sent: {:?}",
        dialer.dialed()
    );
    assert_eq!(srv.connections(), 0);
}

/// A chain longer than the guest's max-redirects is an error naming the cap
/// and the next hop, not the last 3xx handed back as the answer.
#[test]
fn going_past_max_redirects_is_an_error_naming_the_cap_and_the_next_hop() {
    let srv = Server::http();
    let p = policy(&format!(
        "allow = [\"{}\", \"{}\"]\nenv = {{ HTTP_GET_MAX_REDIRECTS = \"1\" }}",
        srv.url("/redirect"),
        srv.url("/ok")
    ));
    // /redirect → /redirect → /ok: two hops, one allowed.
    let inner = format!("{}?to={}", srv.url("/redirect"), srv.url("/ok"));
    let url = format!("{}?to={}", srv.url("/redirect"), inner);
    let out = run_cli("rust-http-get", &p, &[], &[&url]);
    check!(out.code == Some(1), out);
    check!(
        out.stderr
            .contains("too many redirects: followed 1 (max-redirects 1)"),
        out
    );
    check!(
        out.stderr
            .contains(&format!("the next hop is {}", srv.url("/ok"))),
        out
    );
    check!(
        srv.seen().len() == 2,
        out,
        "the third request was never sent"
    );
}
