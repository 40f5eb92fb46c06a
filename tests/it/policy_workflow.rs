//! The policy workflow end to end: `--report-only` runs, `sandnet policy
//! suggest` on their audit log, `policy diff` and `policy check --within`
//! (docs/policy-workflow.md).

use std::net::{IpAddr, Ipv4Addr};

use sandnet::policy::Enforcement;

use crate::support::assertions::check;
use crate::support::guests::run_cli;
use crate::support::guests::{LibRun, run_lib};
use crate::support::policy::{guest_section, policy};
use crate::support::recording::{
    AuditBuffer, DialMode, METADATA, RecordingDialer, audit_events, guard_with,
};
use crate::support::servers::Server;

const GUEST: &str = "rust-http-get";

/// A public address (never dialled: the recording dialer stands a loopback
/// server in for it).
const PUBLIC: IpAddr = IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34));

/// Runs the http-get guest through the library in `mode`, `names` answered
/// by the test, every dial recorded (and redirected to `dial` when given).
fn run_in(
    mode: Enforcement,
    policy_text: &str,
    names: &[(&str, IpAddr)],
    dialer: &RecordingDialer,
    args: &[&str],
) -> (LibRun, AuditBuffer) {
    let audit = AuditBuffer::default();
    let mut guard = guard_with(names, dialer, audit.audit());
    guard.enforcement = mode;
    (run_lib(GUEST, policy_text, args, guard), audit)
}

#[test]
fn report_only_lets_a_denied_request_through_and_logs_would_deny() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::Redirect(srv.addr()));
    let names = [("api.example.com", PUBLIC)];
    let text = guest_section(&format!(
        "allow = [\"http://api.example.com:{}/ok\"]",
        srv.port()
    ));
    let url = format!("http://api.example.com:{}/other", srv.port());

    // Enforced: refused before any dial.
    let (run, audit) = run_in(Enforcement::Enforce, &text, &names, &dialer, &[&url]);
    check!(run.outcome.status.code() == 1, run);
    check!(dialer.dialed().is_empty(), run);
    let denied = audit.events();
    assert!(
        denied
            .iter()
            .any(|e| e["decision"] == "deny" && e["event"] == "request"),
        "{denied:?}"
    );

    // Report-only: the same request goes through and is logged as would-deny.
    let (run, audit) = run_in(Enforcement::ReportOnly, &text, &names, &dialer, &[&url]);
    check!(run.outcome.status.code() == 0, run);
    check!(run.stdout.starts_with("404\n"), run);
    assert_eq!(srv.seen(), ["GET /other"]);
    assert_eq!(
        dialer.dialed(),
        [std::net::SocketAddr::new(PUBLIC, srv.port())]
    );
    let events = audit.events();
    let would = events
        .iter()
        .find(|e| e["decision"] == "would-deny" && e["event"] == "request")
        .unwrap_or_else(|| panic!("no would-deny request in {events:?}"));
    assert_eq!(would["target"], url, "{would}");
    assert_eq!(would["suggestion"], format!("\"{url}\""), "{would}");
    assert!(
        !events.iter().any(|e| e["decision"] == "deny"),
        "nothing is denied in report-only mode: {events:?}"
    );
}

#[test]
fn report_only_keeps_a_name_resolving_to_metadata_refused_unless_all() {
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let names = [("app.example.com", METADATA)];
    let text = guest_section("allow = [\"http://app.example.com\"]");
    let url = "http://app.example.com/latest/meta-data/";

    let (run, audit) = run_in(Enforcement::ReportOnly, &text, &names, &dialer, &[url]);
    check!(run.outcome.status.code() == 1, run);
    check!(run.stderr.contains("denied"), run);
    check!(dialer.dialed().is_empty(), run, "metadata is never dialled");
    let events = audit.events();
    assert!(
        events
            .iter()
            .any(|e| e["decision"] == "deny" && e["event"] == "connect"),
        "{events:?}"
    );

    // With =all it is let through to the dialer (which refuses it without a packet).
    let (run, audit) = run_in(Enforcement::ReportOnlyAll, &text, &names, &dialer, &[url]);
    check!(run.outcome.status.code() == 1, run);
    assert_eq!(dialer.dialed(), [std::net::SocketAddr::new(METADATA, 80)]);
    let events = audit.events();
    let would = events
        .iter()
        .find(|e| e["decision"] == "would-deny" && e["event"] == "connect")
        .unwrap_or_else(|| panic!("no would-deny connect in {events:?}"));
    assert_eq!(would["resolved"][0], "169.254.169.254", "{would}");
}

#[test]
fn report_only_keeps_an_ungranted_loopback_target_refused_unless_all() {
    let srv = Server::http();
    let p = policy("allow = []");
    let log = p.dir.path().join("audit.jsonl");
    let log_arg = log.display().to_string();
    let url = srv.url("/ok");

    let out = run_cli(GUEST, &p, &["--report-only", "--audit", &log_arg], &[&url]);
    check!(out.code == Some(1), out);
    check!(srv.requests() == 0, out, "loopback stays refused");
    check!(out.stderr.starts_with("sandnet: REPORT-ONLY mode:"), out);

    let out = run_cli(
        GUEST,
        &p,
        &["--report-only=all", "--audit", &log_arg],
        &[&url],
    );
    check!(out.code == Some(0), out);
    check!(out.stdout == "200\nhello", out);
    check!(srv.requests() == 1, out);
    check!(
        out.stderr.starts_with("sandnet: REPORT-ONLY mode (all):"),
        out
    );
    check!(
        out.stderr.contains(&format!(
            "report-only: guest \"t\" would be denied request of {url}"
        )),
        out
    );
    check!(out.stderr.contains(&format!("suggested: \"{url}\"")), out);
    let events = audit_events(&std::fs::read_to_string(&log).expect("audit log"));
    let first: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "request")
        .map(|e| e["decision"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(first, ["deny", "would-deny"], "{events:?}");

    let out = run_cli(GUEST, &p, &["--report-only=none"], &[&url]);
    check!(out.code == Some(2), out);
    check!(
        out.stderr.contains("invalid --report-only value \"none\""),
        out
    );
}
