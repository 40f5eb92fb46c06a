//! The policy workflow end to end: `--report-only` runs, `sandnet policy
//! suggest` on their audit log, `policy diff` and `policy check --within`
//! (docs/policy-workflow.md).

use std::net::{IpAddr, Ipv4Addr};

use sandnet::policy::Enforcement;

use crate::support::assertions::check;
use crate::support::guests::{Cli, LibRun, guest, run_cli};
use crate::support::policy::{guest_section, policy, write_policy};
use crate::support::recording::{
    AuditBuffer, DialMode, METADATA, RecordingDialer, audit_events, run_recorded_in,
};
use crate::support::servers::Server;

const GUEST: &str = "rust-http-get";

/// A public address (never dialled: the recording dialer stands a loopback
/// server in for it).
const PUBLIC: IpAddr = IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34));

/// Runs the http-get guest through the library in `mode`, `names` answered
/// by the test, every dial recorded (see [`run_recorded_in`]).
fn run_in(
    mode: Enforcement,
    policy_text: &str,
    names: &[(&str, IpAddr)],
    dialer: &RecordingDialer,
    args: &[&str],
) -> (LibRun, AuditBuffer) {
    run_recorded_in(mode, GUEST, policy_text, names, dialer, args)
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

/// The done-when, end to end: runs in report-only mode, `policy
/// suggest` on their audit log, the same runs under the suggested policy
/// with no denial; `policy diff` against a broader policy prints a witness
/// host, and `policy check --within` fails on the broader one.
#[test]
fn report_only_then_suggest_then_diff_and_within() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::Redirect(srv.addr()));
    let names = [("api.example.com", PUBLIC), ("cdn.example.net", PUBLIC)];
    let port = srv.port();
    let start = guest_section(&format!("allow = [\"http://api.example.com:{port}/ok\"]"));
    let runs: Vec<Vec<String>> = vec![
        vec![format!("http://api.example.com:{port}/ok")],
        vec![
            format!("http://api.example.com:{port}/v1/items/1"),
            "POST".into(),
            "x".into(),
        ],
        vec![
            format!("http://api.example.com:{port}/v1/items/2"),
            "DELETE".into(),
        ],
        vec![format!("http://cdn.example.net:{port}/lib.js")],
    ];
    let mut log = String::new();
    for args in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (run, audit) = run_in(Enforcement::ReportOnly, &start, &names, &dialer, &args);
        check!(run.outcome.status.code() == 0, run);
        for ev in audit.events() {
            log.push_str(&ev.to_string());
            log.push('\n');
        }
    }
    assert!(log.contains("\"would-deny\""), "{log}");
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("audit.jsonl");
    std::fs::write(&log_path, &log).expect("write log");

    let out = Cli::new(["policy", "suggest", "--guest", "t", path_arg(&log_path)]).output();
    check!(out.code == Some(0), out);
    let want = format!(
        "[guest.t]\nallow = [\n  \"GET http://api.example.com:{port}/ok\",\n  \"POST http://api.example.com:{port}/v1/items/1\",\n  \"DELETE http://api.example.com:{port}/v1/items/2\",\n  \"GET http://cdn.example.net:{port}/lib.js\",\n]\n"
    );
    assert_eq!(out.stdout, want);

    // The same runs, enforced under the suggestion: nothing is denied.
    for args in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (run, audit) = run_in(Enforcement::Enforce, &out.stdout, &names, &dialer, &args);
        check!(run.outcome.status.code() == 0, run);
        let events = audit.events();
        assert!(
            events.iter().all(|e| e["decision"] == "allow"),
            "{events:?}"
        );
    }

    // Review a broader policy against it.
    let suggested = dir.path().join("suggested.toml");
    std::fs::write(&suggested, &out.stdout).expect("write");
    let broader = dir.path().join("broader.toml");
    let wider = out
        .stdout
        .replace("allow = [\n", "allow = [\n  \"https://*.example.com\",\n");
    std::fs::write(&broader, wider).expect("write");
    let (s, b) = (path_arg(&suggested), path_arg(&broader));

    let out = Cli::new(["policy", "diff", s, b]).output();
    check!(out.code == Some(1), out);
    check!(
        out.stdout
            .contains("+ https://sandnet-witness.example.com/ via 8.8.8.8"),
        out
    );
    check!(out.stdout.contains("https://*.example.com"), out);

    let out = Cli::new(["policy", "diff", "--format", "json", s, b]).output();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(doc["same"], false, "{doc}");
    assert_eq!(
        doc["guests"][0]["added"][0]["target"], "https://sandnet-witness.example.com/",
        "{doc}"
    );

    let out = Cli::new(["policy", "check", "--within", s, b]).output();
    check!(out.code == Some(1), out);
    check!(out.stdout.contains("sandnet-witness.example.com"), out);
    let out = Cli::new(["policy", "check", "--within", b, s]).output();
    check!(out.code == Some(0), out);
    check!(out.stdout.contains("within"), out);
}

fn path_arg(path: &std::path::Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

#[test]
fn up_in_report_only_mode_lets_a_fleet_guest_through_and_logs_would_deny() {
    let srv = Server::http();
    let url = srv.url("/ok");
    let text = format!(
        "[guest.poller]\ncomponent = {:?}\nargs = [{url:?}]\nrestart = \"never\"\nallow = []\n",
        guest(GUEST).display().to_string()
    );
    let p = write_policy(&text);
    let log = p.dir.path().join("audit.jsonl");
    let mut up = Cli::up(&p, &["--report-only=all", "--audit", path_arg(&log)]).background();
    let limit = std::time::Duration::from_secs(60);
    up.line_with("poller       | [sandnet] guest exited with status 0", limit);
    up.signal("TERM");
    let (code, rest, stderr) = up.finish_within(std::time::Duration::from_secs(30));
    check!(code == Some(0), format!("{rest:?}\n{stderr}"));
    check!(stderr.contains("sandnet: REPORT-ONLY mode (all)"), stderr);
    check!(srv.requests() == 1, stderr);
    let events = audit_events(&std::fs::read_to_string(&log).expect("audit log"));
    assert!(
        events
            .iter()
            .any(|e| e["decision"] == "would-deny" && e["guest"] == "poller" && e["target"] == url),
        "{events:?}"
    );
}
