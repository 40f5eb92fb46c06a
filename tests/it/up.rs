//! `sandnet up` and the fleet behind it: several guests in one process,
//! restarts with backoff, `cpu_time` stops, graceful shutdown, SIGHUP reload
//! that re-scopes without restarting, refused reloads, JSON log lines.

use std::time::{Duration, Instant};

use crate::support::assertions::check;
use crate::support::guests::{Cli, guest};
use crate::support::policy::write_policy;
use crate::support::servers::Server;

/// A `[guest.NAME]` table running `hostile ARGS...` with `extra` keys.
fn hostile(name: &str, args: &[&str], extra: &str) -> String {
    let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "[guest.{name}]\ncomponent = {:?}\nargs = [{}]\n{extra}\n",
        guest("rust-hostile").display().to_string(),
        args.join(", ")
    )
}

/// A `[guest.poller]` table running `http-get URL` with `restart = "always"`.
fn poller(url: &str, allow: &str) -> String {
    format!(
        "[guest.poller]\ncomponent = {:?}\nargs = [{url:?}]\nrestart = \"always\"\nallow = [{allow}]\n",
        guest("rust-http-get").display().to_string(),
    )
}

const WAITER_LIMITS: &str = "[guest.waiter.limits]\nwall_time = \"unlimited\"";

#[test]
fn a_spinner_is_stopped_by_cpu_time_and_restarted_while_others_run_and_sigterm_exits_0() {
    let text = format!(
        "{}{}",
        hostile(
            "spinner",
            &["spin"],
            "restart = \"on-failure\"\n[guest.spinner.limits]\ncpu_time = \"200ms\"\nwall_time = \"60s\""
        ),
        hostile("waiter", &["wait-stdin"], WAITER_LIMITS),
    );
    let policy = write_policy(&text);
    let mut up = Cli::up(&policy, &["--grace", "5s"]).background();
    let limit = Duration::from_secs(60);
    up.line_with("waiter       | ready", limit);
    let stopped = up.line_with("spinner      | [sandnet] guest stopped", limit);
    check!(stopped.contains("cpu_time limit of 200ms"), stopped);
    up.line_with("spinner      | [sandnet] restarting in 1.0s", limit);
    up.line_with("spinner      | [sandnet] started (restart 1)", limit);
    up.line_with("spinner      | [sandnet] restarting in 2.0s", limit);

    let asked = Instant::now();
    up.signal("TERM");
    let (code, rest, stderr) = up.finish_within(Duration::from_secs(30));
    check!(code == Some(0), format!("{rest:?}\n{stderr}"));
    check!(
        asked.elapsed() < Duration::from_secs(5),
        format!("{:?}", asked.elapsed()),
        "the waiter ends on stdin EOF, well within the grace period"
    );
    check!(
        rest.iter().any(|l| l == "waiter       | bye"),
        format!("{rest:?}"),
        "the waiter saw its stdin end and said goodbye"
    );
}

#[test]
fn a_guest_that_ignores_stdin_is_stopped_after_the_grace_period() {
    let text = hostile(
        "sleeper",
        &["sleep", "600000"],
        "[guest.sleeper.limits]\nwall_time = \"unlimited\"",
    );
    let policy = write_policy(&text);
    let mut up = Cli::up(&policy, &["--grace", "300ms"]).background();
    up.line_with("sleeper      | [sandnet] started", Duration::from_secs(60));
    // Give it time to get into its sleep: a line it never prints.
    check!(
        up.quiet_for(Duration::from_millis(300)),
        format!("{:?}", up.seen())
    );
    let asked = Instant::now();
    up.signal("INT");
    let (code, rest, stderr) = up.finish_within(Duration::from_secs(30));
    check!(code == Some(0), format!("{rest:?}\n{stderr}"));
    let stopped = rest
        .iter()
        .find(|l| l.contains("[sandnet] guest stopped by the host"));
    check!(stopped.is_some(), format!("{rest:?}"));
    check!(
        asked.elapsed() >= Duration::from_millis(300),
        format!("{:?}", asked.elapsed()),
        "waited out the grace period"
    );
}

#[test]
fn sighup_turns_a_denial_into_success_without_restarting_the_others() {
    let server = Server::http();
    let url = server.url("/ok");
    let before = format!(
        "{}{}",
        poller(&url, ""),
        hostile("waiter", &["wait-stdin"], WAITER_LIMITS)
    );
    let policy = write_policy(&before);
    let mut up = Cli::up(&policy, &[]).background();
    let limit = Duration::from_secs(60);
    up.line_with("waiter       | ready", limit);
    let denied = up.line_with("poller       | ", limit);
    let denied = if denied.contains("denied") {
        denied
    } else {
        up.line_with("denied", limit)
    };
    check!(denied.contains("denied"), denied);
    up.line_with("poller       | [sandnet] restarting in", limit);
    check!(
        server.requests() == 0,
        format!("{:?}", up.seen()),
        "nothing reached the server"
    );

    let after = format!(
        "{}{}",
        poller(&url, &format!("\"GET {url}\"")),
        hostile("waiter", &["wait-stdin"], WAITER_LIMITS)
    );
    std::fs::write(&policy.path, after).unwrap();
    up.signal("HUP");
    up.line_with("poller       | [sandnet] policy reloaded", limit);
    up.line_with("poller       | [sandnet] guest exited with status 0", limit);
    check!(server.requests() >= 1, format!("{:?}", up.seen()));

    // A broken policy is refused and the old one stays in force.
    std::fs::write(&policy.path, "[guest.poller\n").unwrap();
    up.signal("HUP");
    let refused = up.line_with("new policy refused", limit);
    check!(refused.contains("policy.toml:1"), refused);
    up.line_with("poller       | [sandnet] guest exited with status 0", limit);

    up.signal("TERM");
    let seen = up.seen().to_vec();
    let (code, rest, stderr) = up.finish_within(Duration::from_secs(30));
    check!(code == Some(0), format!("{rest:?}\n{stderr}"));
    let waiter_starts = rest
        .iter()
        .filter(|l| l.starts_with("waiter       | [sandnet] started"))
        .count();
    let earlier = seen
        .iter()
        .filter(|l| l.starts_with("waiter       | [sandnet] started"))
        .count();
    check!(
        waiter_starts + earlier == 1,
        format!("{seen:?} {rest:?}"),
        "the waiter started once and was never restarted by the reloads"
    );
}

#[test]
fn a_changed_program_restarts_only_that_guest_and_a_removed_guest_stops() {
    let text = format!(
        "{}{}",
        hostile(
            "a",
            &["wait-stdin"],
            "[guest.a.limits]\nwall_time = \"unlimited\""
        ),
        hostile(
            "b",
            &["wait-stdin"],
            "[guest.b.limits]\nwall_time = \"unlimited\""
        ),
    );
    let policy = write_policy(&text);
    let mut up = Cli::up(&policy, &["--watch"]).background();
    let limit = Duration::from_secs(60);
    let mut ready = (false, false);
    while ready != (true, true) {
        let line = up.line_with("| ready", limit);
        ready.0 |= line.starts_with("a ");
        ready.1 |= line.starts_with("b ");
    }
    // a gets new args; b is removed.
    let changed = hostile(
        "a",
        &["exit", "7"],
        "[guest.a.limits]\nwall_time = \"unlimited\"",
    );
    std::fs::write(&policy.path, changed).unwrap();
    let mut saw_b_bye = false;
    let mut saw_a_exit = false;
    let deadline = Instant::now() + limit;
    while !(saw_b_bye && saw_a_exit) {
        let line = up.line_within(deadline.saturating_duration_since(Instant::now()));
        saw_b_bye |= line == "b            | bye";
        saw_a_exit |= line.starts_with("a            | [sandnet] guest exited with status 7");
    }
    up.signal("TERM");
    let (code, rest, stderr) = up.finish_within(Duration::from_secs(30));
    check!(code == Some(0), format!("{rest:?}\n{stderr}"));
}

#[test]
fn json_log_lines_and_several_instances() {
    let text = hostile(
        "pair",
        &["wait-stdin"],
        "instances = 2\n[guest.pair.limits]\nwall_time = \"unlimited\"",
    );
    let policy = write_policy(&text);
    let mut up = Cli::up(&policy, &["--log-format", "json"]).background();
    let mut ready = Vec::new();
    while ready.len() < 2 {
        let line = up.line_within(Duration::from_secs(60));
        let value: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        check!(value["guest"] == "pair", line);
        check!(value["time"].is_f64(), line);
        if value["detail"]["event"] == "output" && value["detail"]["line"] == "ready" {
            ready.push(value["instance"].as_u64().unwrap());
        }
    }
    ready.sort_unstable();
    check!(ready == [0, 1], format!("{ready:?}"));
    up.signal("TERM");
    let (code, rest, _) = up.finish_within(Duration::from_secs(30));
    check!(code == Some(0), format!("{rest:?}"));
    let stops = rest
        .iter()
        .filter(|l| l.contains("\"event\":\"stopped\""))
        .count();
    check!(stops == 2, format!("{rest:?}"));
}

#[test]
fn up_without_a_component_is_a_policy_error() {
    let policy = write_policy("[guest.a]\nallow = []\n");
    let out = Cli::up(&policy, &[]).output();
    check!(out.code == Some(78), out);
    check!(out.stderr.contains("names a component"), out);
}

#[test]
fn metrics_show_every_guest_with_restarts_and_network_counters() {
    let server = Server::http();
    let url = server.url("/ok");
    let text = format!(
        "{}{}{}",
        poller(&url, &format!("\"GET {url}\"")),
        hostile(
            "spinner",
            &["spin"],
            "restart = \"always\"\n[guest.spinner.limits]\ncpu_time = \"100ms\""
        ),
        hostile("waiter", &["wait-stdin"], WAITER_LIMITS),
    );
    let policy = write_policy(&text);
    let mut up = Cli::up(&policy, &["--metrics", "127.0.0.1:0"]).background();
    let limit = Duration::from_secs(60);
    let announced = up.line_with("[sandnet] metrics at http://", limit);
    let addr = announced
        .rsplit("http://")
        .next()
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{announced}"))
        .to_owned();
    up.line_with("spinner      | [sandnet] restarting in", limit);
    up.line_with("poller       | [sandnet] restarting in", limit);
    let out = Cli::new(["status", "--metrics", &addr, "--format", "json"]).output();
    check!(out.code == Some(0), out);
    let rows: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
    let row = |name: &str| {
        rows.as_array()
            .and_then(|rows| rows.iter().find(|r| r["guest"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no row for {name}: {out}"))
    };
    check!(row("spinner")["restarts"].as_u64() >= Some(1), out);
    check!(row("poller")["allowed"].as_u64() >= Some(1), out);
    check!(row("waiter")["state"] == "running", out);
    up.signal("TERM");
    let (code, rest, stderr) = up.finish_within(Duration::from_secs(30));
    check!(code == Some(0), format!("{rest:?}\n{stderr}"));
}

/// The embedding API, as host/examples/embed.rs uses it: apply, events,
/// status, re-apply (re-scope), shutdown.
#[test]
fn the_fleet_api_runs_guests_in_process() {
    use sandnet::fleet::{Change, EventKind, Fleet, FleetConfig, InstanceState};
    use sandnet::policy::Policy;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let runtime = sandnet::Runtime::new(sandnet::RuntimeConfig {
            cache_dir: Some(crate::support::guests::shared_cache_dir()),
        })
        .unwrap();
        let fleet = Fleet::new(FleetConfig {
            runtime,
            guard: sandnet::guard::GuardConfig::default(),
            guests: tokio::runtime::Handle::current().into(),
            metrics: None,
        });
        let mut events = fleet.events().unwrap();
        check!(fleet.events().is_none(), "events are handed out once");
        let text = format!(
            "{}{}",
            hostile(
                "w",
                &["wait-stdin"],
                "instances = 2\n[guest.w.limits]\nwall_time = \"unlimited\""
            ),
            hostile("once", &["exit", "0"], ""),
        );
        let policy = Policy::parse(&text, "fleet.toml").unwrap();
        let changes = fleet.apply(&policy, Duration::from_secs(5)).await;
        check!(
            changes == vec![Change::Start("w".into()), Change::Start("once".into())],
            format!("{changes:?}")
        );

        let mut ready = 0;
        let mut once_exited = false;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while ready < 2 || !once_exited {
            let event = tokio::time::timeout_at(deadline, events.recv())
                .await
                .unwrap()
                .unwrap();
            match (&event.guest[..], &event.kind) {
                ("w", EventKind::Output { line, .. }) if line == "ready" => ready += 1,
                (
                    "once",
                    EventKind::Stopped {
                        reason, status: 0, ..
                    },
                ) if reason == "exit" => once_exited = true,
                _ => {}
            }
        }
        let status = fleet.status().await;
        let states: Vec<(String, u32, InstanceState)> = status
            .iter()
            .map(|s| (s.guest.clone(), s.instance, s.state))
            .collect();
        check!(
            states
                == vec![
                    ("w".into(), 0, InstanceState::Running),
                    ("w".into(), 1, InstanceState::Running),
                    ("once".into(), 0, InstanceState::Exited),
                ],
            format!("{states:?}")
        );

        // The same file again changes nothing; a new scope re-scopes in place.
        let again = fleet.apply(&policy, Duration::from_secs(5)).await;
        check!(
            again == vec![Change::Keep("w".into()), Change::Keep("once".into())],
            format!("{again:?}")
        );
        let rescoped = text.replace(
            "instances = 2",
            "instances = 2\nallow = [\"https://example.com/\"]",
        );
        let policy = Policy::parse(&rescoped, "fleet.toml").unwrap();
        let changes = fleet.apply(&policy, Duration::from_secs(5)).await;
        check!(
            changes[0] == Change::Rescope("w".into()),
            format!("{changes:?}")
        );

        fleet.shutdown(Duration::from_secs(5)).await;
        let left = fleet.status().await;
        check!(left.is_empty(), format!("{left:?}"));
        drop(fleet);
        // Every sender is gone once the fleet and its supervisors are: the stream ends.
        let mut byes = 0;
        while let Some(event) = tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .unwrap()
        {
            if event.guest == "w"
                && matches!(&event.kind, EventKind::Output { line, .. } if line == "bye")
            {
                byes += 1;
            }
        }
        check!(byes == 2, byes, "both instances saw their stdin end");
    });
}

#[test]
fn sighup_closes_a_live_connection_the_new_policy_no_longer_grants() {
    use crate::support::servers::{Behaviour, LineServer};

    let srv = LineServer::plain(Behaviour::Silent);
    let url = format!("tcp://127.0.0.1:{}", srv.port());
    let client = |allow: &str| {
        format!(
            "[guest.client]\ncomponent = {:?}\nargs = [{url:?}, \"hello\"]\nallow = [{allow}]\n\
             env = {{ TCP_CLIENT_LINES = \"1\" }}\n[guest.client.limits]\nread_timeout = \"10m\"\nwall_time = \"unlimited\"\n",
            guest("rust-tcp-client").display().to_string()
        )
    };
    let policy = write_policy(&client(&format!("{url:?}")));
    let mut up = Cli::up(&policy, &[]).background();
    let limit = Duration::from_secs(60);
    up.line_with("client       | [sandnet] started", limit);
    // The guest is connected and waits for a reply line that never comes.
    let deadline = Instant::now() + limit;
    while srv.connections() == 0 {
        assert!(Instant::now() < deadline, "the guest never connected");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(&policy.path, client("")).unwrap();
    up.signal("HUP");
    // The guest's denial and exit, and the reload's report, come from
    // different tasks: their order is not fixed. Read until all are in.
    let wanted = [
        "client       | [sandnet] policy reloaded",
        "tcp-client: denied",
        "client       | [sandnet] guest exited with status 1",
    ];
    let find = |seen: &[String], needle: &str| seen.iter().find(|l| l.contains(needle)).cloned();
    while wanted.iter().any(|w| find(up.seen(), w).is_none()) {
        up.line_within(limit);
    }
    let reloaded = find(up.seen(), wanted[0]).unwrap_or_default();
    check!(reloaded.contains("closed 1 connection"), reloaded);
    let denied = find(up.seen(), wanted[1]).unwrap_or_default();
    check!(denied.contains("reloaded"), denied);
    up.signal("TERM");
    let (code, rest, stderr) = up.finish_within(Duration::from_secs(30));
    check!(code == Some(0), format!("{rest:?}\n{stderr}"));
}

#[test]
fn check_warns_about_a_component_that_does_not_exist() {
    let text = format!(
        "{}[guest.ghost]\ncomponent = \"ghost.wasm\"\n",
        hostile("real", &["exit", "0"], "")
    );
    let policy = write_policy(&text);
    let out = Cli::new(["check", policy.arg()]).output();
    check!(out.code == Some(0), out);
    check!(out.stdout.contains("[guest.ghost] component"), out);
    check!(out.stdout.contains("ghost.wasm does not exist yet"), out);
    check!(!out.stdout.contains("[guest.real] component"), out);
    check!(out.stdout.contains("1 warning)"), out);
}

/// host/examples/embed.rs, the documented embedding program, runs as shown.
#[test]
fn the_embedding_example_runs() {
    let sandnet = std::path::PathBuf::from(env!("CARGO_BIN_EXE_sandnet"));
    let example = sandnet.with_file_name("examples").join("embed");
    check!(
        example.is_file(),
        example.display(),
        "cargo test builds the examples; build it with `cargo build --release -p sandnet --example embed`"
    );
    let text = format!(
        "{}{}",
        hostile(
            "w",
            &["wait-stdin"],
            "[guest.w.limits]\nwall_time = \"unlimited\""
        ),
        hostile("once", &["exit", "0"], ""),
    );
    let policy = write_policy(&text);
    let out = std::process::Command::new(&example)
        .args([policy.arg(), "1"])
        .env(
            "SANDNET_CACHE_DIR",
            crate::support::guests::shared_cache_dir(),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let both = format!("{stdout}\n{stderr}");
    check!(out.status.success(), both);
    for want in [
        "plan: Start(\"w\")",
        "[w] ready",
        "[once] (guest exited with status 0",
        "status: w.0 running restarts=0",
        "[w] bye",
        "metrics: ",
    ] {
        check!(stdout.contains(want), both, "missing {want:?}");
    }
}
