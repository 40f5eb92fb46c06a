//! `sandnet:net/bus` under `sandnet up`: guests publish, subscribe and
//! request through the fleet's one broker, scoped by their policies.

use std::time::Duration;

use crate::support::assertions::check;
use crate::support::daemons::Daemon;
use crate::support::guests::{Background, Cli, guest, run_cli};
use crate::support::policy::write_policy;

/// A `[guest.NAME]` table running the Rust guest `program` with `args` and
/// `extra` keys (allow, deny, restart).
fn table(name: &str, program: &str, args: &[&str], extra: &str) -> String {
    table_of(name, &format!("rust-{program}"), args, extra)
}

/// [`table`] for the guest component `component` (`python-bus-sub`, ...).
fn table_of(name: &str, component: &str, args: &[&str], extra: &str) -> String {
    let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "[guest.{name}]\ncomponent = {:?}\nargs = [{}]\n{extra}\n\n",
        guest(component).display().to_string(),
        args.join(", ")
    )
}

const LIMIT: Duration = Duration::from_secs(60);

/// Waits until a line containing each needle has been seen, in any order.
fn seen_all(up: &mut Background, needles: &[&str]) {
    for needle in needles {
        if !up.seen().iter().any(|l| l.contains(needle)) {
            up.line_with(needle, LIMIT);
        }
    }
}

/// The first line starting with `prefix`, waiting for it if not seen yet.
fn seen_line(up: &mut Background, prefix: &str) -> String {
    seen_all(up, &[prefix]);
    up.seen()
        .iter()
        .find(|l| l.starts_with(prefix))
        .cloned()
        .unwrap_or_default()
}

#[test]
fn a_subscriber_gets_granted_topics_only_and_a_denied_publish_names_the_line_to_add() {
    let text = [
        table(
            "sub",
            "bus-sub",
            &["chat.*", "2"],
            "allow = [\"bus-subscribe://chat.*\"]\ndeny = [\"bus-subscribe://chat.secret\"]",
        ),
        // Every run publishes on the topic the subscriber may not see first,
        // then on the one it may: with order per publisher kept, a leak
        // would show as a `chat.secret` line before the second `chat.room`.
        table(
            "pub",
            "bus-pub",
            &["chat.secret", "hidden", "@chat.room", "visible"],
            "allow = [\"bus-publish://chat.>\"]\nrestart = \"always\"",
        ),
        table(
            "rogue",
            "bus-pub",
            &["admin.shutdown", "now"],
            "allow = [\"bus-publish://chat.>\"]",
        ),
    ]
    .concat();
    let policy = write_policy(&text);
    let mut up = Cli::up(&policy, &[]).background();
    let first = up.line_with("sub          | chat.", LIMIT);
    let second = up.line_with("sub          | chat.", LIMIT);
    for line in [&first, &second] {
        check!(line == "sub          | chat.room visible", line);
    }
    seen_all(
        &mut up,
        &[
            "sub          | [sandnet] guest exited with status 0",
            "rogue        | [sandnet] guest exited with status 1",
        ],
    );
    let seen = up.seen();
    let rogue = |needle: &str| {
        seen.iter()
            .find(|l| l.starts_with("rogue") && l.contains(needle))
            .cloned()
            .unwrap_or_default()
    };
    let denied = rogue("denied");
    check!(
        denied.contains("\"admin.shutdown\""),
        denied,
        "names the topic"
    );
    let hint = rogue("hint:");
    check!(
        hint.contains("\"bus-publish://admin.shutdown\""),
        hint,
        "the denied publish names the line to add"
    );
    up.signal("TERM");
    let (code, rest, stderr) = up.finish_within(Duration::from_secs(30));
    check!(code.is_some(), format!("{rest:?}\n{stderr}"));
    check!(
        !rest.iter().any(|l| l.contains("hidden")),
        format!("{rest:?}")
    );
}

#[test]
fn a_request_is_answered_through_an_inbox_without_extra_grants() {
    let text = [
        // The echo may subscribe to echo.> but publish nowhere: its reply
        // goes to the inbox the host issued for the request it received.
        table(
            "echo",
            "bus-echo",
            &["echo.>", "1"],
            "allow = [\"bus-subscribe://echo.>\"]",
        ),
        // The requester may only publish on echo.>; the reply reaches it
        // anyway. Until the echo subscribes there is no responder (closed),
        // so it restarts.
        table(
            "asker",
            "bus-request",
            &["echo.hi", "ping"],
            "allow = [\"bus-publish://echo.>\"]\nrestart = \"on-failure\"",
        ),
    ]
    .concat();
    let policy = write_policy(&text);
    let mut up = Cli::up(&policy, &[]).background();
    let reply = up.line_with("asker        | _INBOX.", LIMIT);
    check!(reply.ends_with(" ping"), reply);
    // The two guests' lines come through separate pipes: the echo's may
    // arrive before or after the asker's.
    let answered = "echo         | answered echo.hi";
    if !up.seen().iter().any(|l| l == answered) {
        let line = up.line_with("echo         | answered", LIMIT);
        check!(line == answered, format!("{:?}", up.seen()));
    }
    up.signal("TERM");
    let (code, rest, stderr) = up.finish_within(Duration::from_secs(30));
    check!(code.is_some(), format!("{rest:?}\n{stderr}"));
}

#[test]
fn a_subscription_outside_the_grant_is_refused_with_the_line_to_add() {
    let text = table(
        "sub",
        "bus-sub",
        &["chat.>"],
        "allow = [\"bus-subscribe://chat.*\"]",
    );
    let policy = write_policy(&text);
    let mut up = Cli::up(&policy, &[]).background();
    let hint = up.line_with("sub          | hint:", LIMIT);
    check!(hint.contains("\"bus-subscribe://chat.>\""), hint);
    up.line_with("sub          | [sandnet] guest exited with status 1", LIMIT);
    check!(
        !up.seen().iter().any(|l| l.contains("subscribed")),
        format!("{:?}", up.seen())
    );
    up.signal("TERM");
    let (code, rest, stderr) = up.finish_within(Duration::from_secs(30));
    check!(code.is_some(), format!("{rest:?}\n{stderr}"));
}

#[test]
fn explain_answers_bus_actions_and_check_lints_a_bare_rest() {
    let policy = write_policy(
        "[guest.app]\nallow = [\"bus-publish://telemetry.>\", \"bus-subscribe://>\"]\ndeny = [\"bus-publish://telemetry.secret\"]\n",
    );
    let explain = |target: &str| Cli::new(["explain", "--policy", policy.arg(), target]).output();
    let out = explain("bus-publish://telemetry.cpu");
    check!(out.code == Some(0), out);
    check!(
        out.stdout.contains("bus-publish://telemetry.>"),
        out,
        "names the rule"
    );
    let out = explain("bus-publish://telemetry.secret");
    check!(out.code == Some(1), out);
    check!(out.stdout.contains("deny rules always win"), out);
    let out = explain("bus-publish://alerts.disk");
    check!(out.code == Some(1), out);
    check!(
        out.stdout.contains("\"bus-publish://alerts.disk\""),
        out,
        "the line to add"
    );
    let out = explain("bus-publish://alerts.*");
    check!(out.code == Some(2), out);
    check!(out.stderr.contains("\"alerts.*\" contains a wildcard"), out);
    let out = Cli::new(["check", policy.arg()]).output();
    check!(out.code == Some(0), out);
    check!(out.stdout.contains("grants every bus topic"), out);
}

#[test]
fn python_guests_share_the_bus_with_rust_guests_under_the_same_rules() {
    let text = [
        table_of(
            "pysub",
            "python-bus-sub",
            &["chat.*", "1"],
            "allow = [\"bus-subscribe://chat.*\"]\ndeny = [\"bus-subscribe://chat.secret\"]",
        ),
        table(
            "pub",
            "bus-pub",
            &["chat.secret", "hidden", "@chat.room", "visible"],
            "allow = [\"bus-publish://chat.>\"]\nrestart = \"always\"",
        ),
        table_of(
            "pyrogue",
            "python-bus-pub",
            &["admin.x", "now"],
            "allow = [\"bus-publish://chat.>\"]",
        ),
    ]
    .concat();
    let policy = write_policy(&text);
    let mut up = Cli::up(&policy, &[]).background();
    let got = up.line_with("pysub        | chat.", LIMIT);
    check!(got == "pysub        | chat.room visible", got);
    seen_all(&mut up, &["pyrogue      | hint:"]);
    let hint = up
        .seen()
        .iter()
        .find(|l| l.starts_with("pyrogue      | hint:"))
        .cloned()
        .unwrap_or_default();
    check!(hint.contains("\"bus-publish://admin.x\""), hint);
    up.signal("TERM");
    let (code, rest, stderr) = up.finish_within(Duration::from_secs(30));
    check!(code.is_some(), format!("{rest:?}\n{stderr}"));
}

#[test]
fn a_reply_to_an_inbox_the_guest_was_not_handed_needs_a_publish_grant() {
    // Under `sandnet run` the guest has a private bus: the forged reply
    // would reach nobody, but the check comes first and must refuse it.
    let policy = write_policy("allow = [\"bus-subscribe://echo.>\"]\n");
    let out = run_cli(
        "rust-hostile",
        &policy,
        &[],
        &["bus-reply", "_INBOX.0123456789abcdef"],
    );
    check!(out.code == Some(1), out);
    check!(out.stderr.contains("denied"), out);
    check!(
        out.stderr
            .contains("\"bus-publish://_INBOX.0123456789abcdef\""),
        out,
        "the line to add"
    );
    let granted = write_policy("allow = [\"bus-publish://_INBOX.>\"]\n");
    let out = run_cli(
        "rust-hostile",
        &granted,
        &[],
        &["bus-reply", "_INBOX.0123456789abcdef"],
    );
    check!(out.code == Some(0) && out.stdout.contains("replied"), out);
}

// ---------------------------------------------------------------------------
// Across hosts: two `sandnet up` processes joined by one real nats-server

/// `sandnet up POLICY --bus nats://...` on `nats`.
fn up_on_nats(nats: &Daemon, text: &str) -> (Background, crate::support::policy::PolicyFile) {
    let policy = write_policy(text);
    let up = Cli::up(&policy, &["--bus", &nats.url("nats"), "--bus-prefix", "it"]).background();
    (up, policy)
}

#[test]
fn guests_in_two_hosts_talk_over_nats_under_each_hosts_policy() {
    let Some(nats) = Daemon::nats() else { return };
    // Host A: the subscriber may see chat.* but not chat.secret (checked
    // at delivery, on host A), and an echo that answers requests.
    let (mut a, _pa) = up_on_nats(
        &nats,
        &[
            table(
                "sub",
                "bus-sub",
                &["chat.*", "2"],
                "allow = [\"bus-subscribe://chat.*\"]\ndeny = [\"bus-subscribe://chat.secret\"]",
            ),
            table(
                "echo",
                "bus-echo",
                &["echo.>", "1"],
                "allow = [\"bus-subscribe://echo.>\"]",
            ),
        ]
        .concat(),
    );
    seen_all(
        &mut a,
        &[
            "sub          | subscribed chat.*",
            "echo         | serving echo.>",
        ],
    );
    // Host B: the publisher sends the secret topic first, then the visible
    // one, again and again; the requester may only publish on echo.>.
    let (mut b, _pb) = up_on_nats(
        &nats,
        &[
            table(
                "pub",
                "bus-pub",
                &["chat.secret", "hidden", "@chat.room", "visible"],
                "allow = [\"bus-publish://chat.>\"]\nrestart = \"always\"",
            ),
            table(
                "asker",
                "bus-request",
                &["echo.hi", "ping"],
                "allow = [\"bus-publish://echo.>\"]\nrestart = \"on-failure\"",
            ),
            table(
                "rogue",
                "bus-pub",
                &["admin.shutdown", "now"],
                "allow = [\"bus-publish://chat.>\"]",
            ),
        ]
        .concat(),
    );
    let first = a.line_with("sub          | chat.", LIMIT);
    let second = a.line_with("sub          | chat.", LIMIT);
    for line in [&first, &second] {
        check!(line == "sub          | chat.room visible", line);
    }
    let reply = seen_line(&mut b, "asker        | _INBOX.");
    check!(reply.ends_with(" ping"), reply, "the reply crossed back");
    let hint = seen_line(&mut b, "rogue        | hint:");
    check!(hint.contains("\"bus-publish://admin.shutdown\""), hint);
    seen_all(&mut a, &["echo         | answered echo.hi"]);
    b.signal("TERM");
    a.signal("TERM");
    let mut all = a.seen().to_vec();
    let (code, rest, stderr) = a.finish_within(Duration::from_secs(30));
    check!(code.is_some(), format!("{rest:?}\n{stderr}"));
    all.extend(rest);
    check!(
        !all.iter()
            .any(|l| l.contains("hidden") || l.contains("chat.secret")),
        format!("{all:?}"),
        "host A never delivered the denied topic"
    );
    let (code, rest, stderr) = b.finish_within(Duration::from_secs(30));
    check!(code.is_some(), format!("{rest:?}\n{stderr}"));
}

#[test]
fn an_unreachable_nats_server_or_a_url_with_credentials_is_refused_at_start() {
    let policy = write_policy(&table(
        "sub",
        "bus-sub",
        &["a.b"],
        "allow = [\"bus-subscribe://a.b\"]",
    ));
    let port = crate::support::servers::free_port();
    let out = Cli::up(&policy, &["--bus", &format!("nats://127.0.0.1:{port}")])
        .output_within(Duration::from_secs(30));
    check!(out.code.is_some_and(|c| c != 0), out);
    check!(
        out.stderr.contains(&format!(
            "cannot connect to the NATS server nats://127.0.0.1:{port}"
        )),
        out
    );
    let out = Cli::up(&policy, &["--bus", "nats://me:secret@127.0.0.1:4222"])
        .output_within(Duration::from_secs(30));
    check!(out.code.is_some_and(|c| c != 0), out);
    check!(
        out.stderr.contains("SANDNET_BUS_USER") && !out.stderr.contains("secret"),
        out
    );
}
