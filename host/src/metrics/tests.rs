//! Unit tests of the registry and meters: what `render` shows after each call.

use std::time::Duration;

use super::*;
use crate::audit::{Audit, AuditEvent, Verdict};
use crate::error::NetError;

/// The value of the sample `name{labels}` in `metrics`' text, exactly as written.
fn value(metrics: &Metrics, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let text = metrics.render();
    let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    samples
        .into_iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels.iter().all(|(k, v)| s.label(k) == Some(v))
        })
        .map(|s| s.value)
}

#[test]
fn a_new_guest_shows_its_series_at_zero() {
    let metrics = Metrics::new();
    let _meter = metrics.guest("feeds");
    for state in GuestState::ALL {
        assert_eq!(
            value(
                &metrics,
                names::GUEST_STATE,
                &[("guest", "feeds"), ("state", state.as_str())]
            ),
            Some(0.0),
            "{state}"
        );
    }
    for (name, labels) in [
        (names::GUEST_CPU, vec![("guest", "feeds")]),
        (names::GUEST_MEMORY, vec![("guest", "feeds")]),
        (names::GUEST_INSTANCES, vec![("guest", "feeds")]),
        (
            names::NET_BYTES,
            vec![("guest", "feeds"), ("direction", "in")],
        ),
        (
            names::NET_BYTES,
            vec![("guest", "feeds"), ("direction", "out")],
        ),
    ] {
        assert_eq!(
            value(&metrics, name, &labels),
            Some(0.0),
            "{name} {labels:?}"
        );
    }
}

#[test]
fn the_current_state_reads_one_and_the_others_zero() {
    let metrics = Metrics::new();
    let meter = metrics.guest("g");
    meter.set_state(GuestState::Running);
    meter.set_state(GuestState::Backoff);
    for state in GuestState::ALL {
        let want = if state == GuestState::Backoff {
            1.0
        } else {
            0.0
        };
        assert_eq!(
            value(
                &metrics,
                names::GUEST_STATE,
                &[("guest", "g"), ("state", state.as_str())]
            ),
            Some(want),
            "{state}"
        );
    }
}

#[test]
fn lifecycle_series_count_what_the_supervisor_reports() {
    let metrics = Metrics::new();
    let meter = metrics.guest("g");
    meter.restarted("trap");
    meter.restarted("trap");
    meter.restarted("cpu_time");
    meter.add_cpu_time(Duration::from_millis(1500));
    meter.add_cpu_time(Duration::from_millis(250));
    meter.set_memory_bytes(64 << 20);
    meter.instances_running(3);
    let g = ("guest", "g");
    assert_eq!(
        value(&metrics, names::GUEST_RESTARTS, &[g, ("reason", "trap")]),
        Some(2.0)
    );
    assert_eq!(
        value(
            &metrics,
            names::GUEST_RESTARTS,
            &[g, ("reason", "cpu_time")]
        ),
        Some(1.0)
    );
    assert_eq!(value(&metrics, names::GUEST_CPU, &[g]), Some(1.75));
    assert_eq!(
        value(&metrics, names::GUEST_MEMORY, &[g]),
        Some(f64::from(64u32 << 20))
    );
    assert_eq!(value(&metrics, names::GUEST_INSTANCES, &[g]), Some(3.0));
}

#[test]
fn meters_of_one_name_share_series_and_other_names_do_not() {
    let metrics = Metrics::new();
    metrics.guest("a").restarted("exit");
    metrics.guest("a").clone().restarted("exit");
    metrics.guest("b").add_bytes(Direction::Out, 7);
    let exit = ("reason", "exit");
    assert_eq!(
        value(&metrics, names::GUEST_RESTARTS, &[("guest", "a"), exit]),
        Some(2.0)
    );
    assert_eq!(
        value(&metrics, names::GUEST_RESTARTS, &[("guest", "b"), exit]),
        None
    );
    let out = ("direction", "out");
    assert_eq!(
        value(&metrics, names::NET_BYTES, &[("guest", "a"), out]),
        Some(0.0)
    );
    assert_eq!(
        value(&metrics, names::NET_BYTES, &[("guest", "b"), out]),
        Some(7.0)
    );
}

#[test]
fn a_metered_audit_counts_events_without_a_sink() {
    let metrics = Metrics::new();
    let audit = Audit::off().metered(metrics.guest("g"));
    assert!(audit.enabled(), "a meter needs events built");
    assert!(!Audit::off().enabled());
    let event = |decision| AuditEvent::new("g", "https", "request", "https://x/".into(), decision);
    audit.emit(&event(Verdict::Allow));
    audit.emit(&event(Verdict::Allow));
    audit.emit(&event(Verdict::Deny));
    let mut limited = AuditEvent::new("g", "tcp", "connect", "tcp://x:1".into(), Verdict::Error);
    limited.limit = Some("max_connections");
    audit.emit(&limited);

    let labels = |protocol, event, decision| {
        [
            ("guest", "g"),
            ("protocol", protocol),
            ("event", event),
            ("decision", decision),
        ]
    };
    let events = names::NET_EVENTS;
    assert_eq!(
        value(&metrics, events, &labels("https", "request", "allow")),
        Some(2.0)
    );
    assert_eq!(
        value(&metrics, events, &labels("https", "request", "deny")),
        Some(1.0)
    );
    assert_eq!(
        value(&metrics, events, &labels("tcp", "connect", "error")),
        Some(1.0)
    );
    let limit = [("guest", "g"), ("limit", "max_connections")];
    assert_eq!(value(&metrics, names::LIMIT_HITS, &limit), Some(1.0));
}

#[test]
fn counted_bytes_and_refused_quotas_reach_the_meter() {
    let metrics = Metrics::new();
    let audit = Audit::off().metered(metrics.guest("g"));
    assert!(audit.count_bytes(Direction::In, 100, Ok(())).is_ok());
    assert!(audit.count_bytes(Direction::Out, 5, Ok(())).is_ok());
    let over = NetError::limit(sandnet_policy::Limit::BytesOutTotal, 4);
    assert!(audit.count_bytes(Direction::Out, 5, Err(over)).is_err());
    let g = ("guest", "g");
    assert_eq!(
        value(&metrics, names::NET_BYTES, &[g, ("direction", "in")]),
        Some(100.0)
    );
    assert_eq!(
        value(&metrics, names::NET_BYTES, &[g, ("direction", "out")]),
        Some(10.0)
    );
    let limit = [g, ("limit", "bytes_out_total")];
    assert_eq!(value(&metrics, names::LIMIT_HITS, &limit), Some(1.0));
    // Without a meter the result passes through untouched.
    let over = NetError::limit(sandnet_policy::Limit::BytesOutTotal, 4);
    assert!(
        Audit::off()
            .count_bytes(Direction::Out, 5, Err(over))
            .is_err()
    );
}

#[test]
fn render_is_prometheus_text_with_help_and_type() {
    let metrics = Metrics::new();
    metrics.guest("g").restarted("exit");
    let text = metrics.render();
    assert!(
        text.contains("# TYPE sandnet_guest_restarts_total counter\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE sandnet_guest_state gauge\n"),
        "{text}"
    );
    assert!(
        text.contains("# HELP sandnet_guest_cpu_seconds_total "),
        "{text}"
    );
    assert!(
        text.contains("sandnet_guest_restarts_total{guest=\"g\",reason=\"exit\"} 1\n"),
        "{text}"
    );
}

#[test]
fn odd_guest_names_are_escaped_and_read_back() {
    let metrics = Metrics::new();
    let name = "we\"ird\\name\nx";
    metrics.guest(name).set_state(GuestState::Failed);
    let summary = summarise(&parse(&metrics.render()).unwrap());
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0].guest, name);
    assert_eq!(summary[0].state, "failed");
}

#[test]
fn summaries_add_up_each_guests_series() {
    let metrics = Metrics::new();
    let a = metrics.guest("a");
    a.set_state(GuestState::Running);
    a.restarted("trap");
    a.restarted("exit");
    a.add_bytes(Direction::In, 10);
    a.add_bytes(Direction::Out, 3);
    a.add_cpu_time(Duration::from_millis(500));
    a.set_memory_bytes(1024);
    a.instances_running(1);
    let audit = Audit::off().metered(a.clone());
    for (protocol, event, decision) in [
        ("http", "request", Verdict::Allow),
        ("https", "request", Verdict::Allow),
        ("http", "connect", Verdict::Allow),
        ("http", "request", Verdict::Deny),
        ("tcp", "connect", Verdict::Deny),
        ("http", "connect", Verdict::Error),
    ] {
        audit.emit(&AuditEvent::new(
            "a",
            protocol,
            event,
            String::new(),
            decision,
        ));
    }
    a.limit_hit("requests_per_second");
    metrics.guest("b");

    let summary = summarise(&parse(&metrics.render()).unwrap());
    assert_eq!(
        summary,
        [
            GuestSummary {
                guest: "a".into(),
                state: "running".into(),
                restarts: 2,
                allowed: 2,
                denied: 2,
                errors: 1,
                bytes_in: 10,
                bytes_out: 3,
                limit_hits: 1,
                cpu_seconds: 0.5,
                memory_bytes: 1024,
                instances: 1,
            },
            GuestSummary {
                guest: "b".into(),
                state: "unknown".into(),
                ..GuestSummary::default()
            },
        ]
    );
}
