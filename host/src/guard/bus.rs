//! The guard's bus checks: topic syntax, publish and subscribe grants, message size and rate, the per-message delivery filter, and their audit events.

use std::sync::{Arc, Weak};

use sandnet_policy::{Denial, DenialDetail, Judged, Limit, Subject};

use super::Guard;
use crate::audit::{AuditEvent, Verdict};
use crate::error::NetError;
use crate::net::bus::broker::{Bus, Filter};

impl Guard {
    /// The bus this guest publishes on and subscribes to.
    pub fn bus(&self) -> &Bus {
        &self.config.bus
    }

    /// Checks publishing `len` payload bytes on `topic` (`event`: `publish`,
    /// `request` or `reply`): a concrete topic, a publish grant, the size
    /// and rate limits. Audited; a denial names the line to add.
    pub fn check_bus_publish(
        &self,
        event: &'static str,
        topic: &str,
        len: usize,
    ) -> Result<Subject, NetError> {
        let subject = self.bus_subject(event, topic, Subject::topic)?;
        let policy = self.policy.load();
        match self.judge(policy.check_bus_publish(&subject), None) {
            Judged::Allow(rule) => {
                self.take_bus_message(event, topic, len)?;
                self.record_bus(event, topic, Verdict::Allow, |ev| {
                    ev.rule = Some(format!("{}: {}", rule.line, rule.text));
                    ev.bytes_out = u64::try_from(len).ok();
                });
                Ok(subject)
            }
            Judged::WouldDeny(denial) => {
                self.take_bus_message(event, topic, len)?;
                let target = bus_target(event, topic);
                self.report_would_deny("bus", event, target, None, None, &denial);
                Ok(subject)
            }
            Judged::Deny(denial) => Err(self.refuse_bus(event, topic, &denial)),
        }
    }

    /// Checks a reply on an inbox the host issued for a request this guest
    /// received: no grant needed, the size and rate limits still apply.
    pub fn check_bus_inbox_reply(&self, topic: &str, len: usize) -> Result<Subject, NetError> {
        let subject = self.bus_subject("reply", topic, Subject::topic)?;
        self.take_bus_message("reply", topic, len)?;
        self.record_bus("reply", topic, Verdict::Allow, |ev| {
            ev.rule = Some("reply to a request this guest received".into());
            ev.bytes_out = u64::try_from(len).ok();
        });
        Ok(subject)
    }

    /// Checks subscribing to `pattern`: valid syntax, inside a subscribe grant.
    pub fn check_bus_subscribe(&self, pattern: &str) -> Result<Subject, NetError> {
        let subject = self.bus_subject("subscribe", pattern, Subject::pattern)?;
        let policy = self.policy.load();
        match self.judge(policy.check_bus_subscribe(&subject), None) {
            Judged::Allow(rule) => {
                self.record_bus("subscribe", pattern, Verdict::Allow, |ev| {
                    ev.rule = Some(format!("{}: {}", rule.line, rule.text));
                });
                Ok(subject)
            }
            Judged::WouldDeny(denial) => {
                let target = bus_target("subscribe", pattern);
                self.report_would_deny("bus", "subscribe", target, None, None, &denial);
                Ok(subject)
            }
            Judged::Deny(denial) => Err(self.refuse_bus("subscribe", pattern, &denial)),
        }
    }

    /// The delivery filter of this guest's subscriptions: the topic must be
    /// one the policy in force lets it subscribe to (so a reload narrows
    /// live subscriptions at once), unless report-only mode let the
    /// subscription itself through.
    pub fn bus_filter(self: &Arc<Self>) -> Filter {
        let guard: Weak<Guard> = Arc::downgrade(self);
        Arc::new(move |topic: &Subject| {
            guard.upgrade().is_some_and(|g| {
                g.policy.load().may_receive_bus(topic) || g.enforcement().lets_through(None)
            })
        })
    }

    /// Audits messages a subscription's `drop-oldest` rule dropped.
    pub fn record_bus_drops(&self, pattern: &str, dropped: u64) {
        tracing::info!(guest = %self.policy.load().name, pattern, dropped, "bus subscription dropped messages");
        self.record_bus("overflow", pattern, Verdict::Error, |ev| {
            ev.dropped = Some(dropped);
            ev.reason = Some("subscription queue full (drop-oldest)".into());
        });
    }

    fn bus_subject(
        &self,
        event: &'static str,
        text: &str,
        parse: fn(&str) -> Result<Subject, sandnet_policy::SubjectError>,
    ) -> Result<Subject, NetError> {
        parse(text).map_err(|e| {
            let err = NetError::InvalidArgument(e.to_string());
            self.record_bus(event, text, Verdict::Error, |ev| {
                ev.reason = Some(e.to_string())
            });
            err
        })
    }

    fn take_bus_message(
        &self,
        event: &'static str,
        topic: &str,
        len: usize,
    ) -> Result<(), NetError> {
        let max = self.policy.load().limits.max_bus_message_bytes;
        let result = if u64::try_from(len).unwrap_or(u64::MAX) > max {
            Err(NetError::limit(Limit::MaxBusMessageBytes, max))
        } else {
            Self::take(&self.bus_messages, Limit::BusMessagesPerSecond)
        };
        if let Err(err) = &result {
            self.record_bus(event, topic, Verdict::Error, |ev| {
                ev.reason = Some(err.to_string());
                if let NetError::LimitExceeded { name, .. } = err {
                    ev.limit = Some(name);
                }
            });
        }
        result
    }

    /// The guest's copy of a bus denial (audited and logged in full).
    fn refuse_bus(&self, event: &'static str, subject: &str, denial: &Denial) -> NetError {
        let policy = self.policy.load();
        tracing::info!(guest = %policy.name, subject, reason = %denial.reason, "bus {event} denied");
        self.record_bus(event, subject, Verdict::Deny, |ev| {
            ev.reason = Some(denial.reason.clone());
            ev.rule = denial
                .rule
                .as_ref()
                .map(|r| format!("{}: {}", r.line, r.text));
        });
        NetError::Denied(match policy.denial_detail {
            DenialDetail::Full => denial.clone(),
            DenialDetail::Minimal => Denial {
                reason: format!("the sandbox policy does not allow bus {event} on \"{subject}\""),
                suggestion: None,
                rule: None,
            },
        })
    }

    fn record_bus(
        &self,
        event: &'static str,
        subject: &str,
        verdict: Verdict,
        fill: impl FnOnce(&mut AuditEvent),
    ) {
        self.emit("bus", event, || bus_target(event, subject), verdict, fill);
    }
}

/// The audit target of a bus `event` on `subject`: `bus-subscribe://PATTERN`
/// for subscriptions, `bus-publish://TOPIC` for the rest.
fn bus_target(event: &str, subject: &str) -> String {
    let scheme = if event == "subscribe" || event == "overflow" {
        "bus-subscribe"
    } else {
        "bus-publish"
    };
    format!("{scheme}://{subject}")
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use sandnet_policy::Policy;

    use super::*;
    use crate::audit::Audit;
    use crate::guard::GuardConfig;
    use crate::net::bus::broker::{Message, QueueOptions};

    /// An audit sink the test reads back.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
        }
    }

    fn guard(text: &str, bus: &Bus) -> (Arc<Guard>, Lines) {
        let policy = Policy::parse(text, "test.toml").unwrap_or_else(|e| panic!("{e}"));
        let guest = policy.guest(None).unwrap_or_else(|e| panic!("{e}")).clone();
        let lines = Lines::default();
        let config = GuardConfig {
            audit: Audit::to_writer(Box::new(lines.clone())),
            bus: bus.clone(),
            ..GuardConfig::default()
        };
        (Arc::new(Guard::new(Arc::new(guest), config)), lines)
    }

    #[test]
    fn publish_checks_grant_size_and_rate_and_audits() {
        let bus = Bus::new();
        let (guard, audit) = guard(
            "allow = [\"bus-publish://t.>\"]\n[limits]\nmax_bus_message_bytes = 4\nbus_messages_per_second = 2\n",
            &bus,
        );
        let denied = guard.check_bus_publish("publish", "other.x", 1);
        let Err(NetError::Denied(denial)) = denied else {
            panic!("{denied:?}");
        };
        assert_eq!(
            denial.suggestion.as_deref(),
            Some("\"bus-publish://other.x\"")
        );
        let bad = guard.check_bus_publish("publish", "t.*", 1);
        assert!(
            matches!(bad, Err(NetError::InvalidArgument(ref m)) if m.contains("\"t.*\"")),
            "{bad:?}"
        );
        let big = guard.check_bus_publish("publish", "t.a", 5);
        assert!(
            matches!(
                big,
                Err(NetError::LimitExceeded {
                    name: "max_bus_message_bytes",
                    value: 4
                })
            ),
            "{big:?}"
        );
        assert!(guard.check_bus_publish("publish", "t.a", 4).is_ok());
        assert!(guard.check_bus_publish("publish", "t.a", 4).is_ok());
        let rate = guard.check_bus_publish("publish", "t.a", 4);
        assert!(
            matches!(
                rate,
                Err(NetError::LimitExceeded {
                    name: "bus_messages_per_second",
                    ..
                })
            ),
            "{rate:?}"
        );
        let log = audit.text();
        assert!(log.contains("\"protocol\":\"bus\""), "{log}");
        assert!(log.contains("bus-publish://other.x"), "{log}");
        assert!(log.contains("\"decision\":\"deny\""), "{log}");
    }

    #[test]
    fn minimal_denial_detail_hides_the_policy() {
        let bus = Bus::new();
        let (guard, _) = guard("denial_detail = \"minimal\"\nallow = []\n", &bus);
        let Err(NetError::Denied(denial)) = guard.check_bus_subscribe("a.>") else {
            panic!("allowed");
        };
        assert_eq!(denial.suggestion, None);
        assert!(!denial.reason.contains("test.toml"), "{}", denial.reason);
    }

    #[tokio::test]
    async fn the_filter_follows_the_receivers_policy_and_drops_are_audited() {
        let bus = Bus::new();
        let (receiver, audit) = guard(
            "allow = [\"bus-subscribe://a.>\"]\ndeny = [\"bus-subscribe://a.secret\"]\n",
            &bus,
        );
        let pattern = receiver
            .check_bus_subscribe("a.*")
            .unwrap_or_else(|e| panic!("{e}"));
        let options = QueueOptions {
            capacity: 1,
            ..QueueOptions::default()
        };
        let sub = bus
            .subscribe(pattern, options, Some(receiver.bus_filter()))
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        for topic in ["a.secret", "a.one", "a.two"] {
            let subject = Subject::topic(topic).unwrap_or_else(|e| panic!("{e}"));
            let message = Message {
                topic: topic.into(),
                payload: Vec::new(),
                headers: Vec::new(),
                reply_to: None,
                no_responders: false,
            };
            let sent = bus
                .publish(&subject, message, std::time::Duration::from_millis(10))
                .await;
            assert!(sent.is_ok());
        }
        assert_eq!(
            sub.try_next().map(|m| m.topic.clone()).as_deref(),
            Some("a.two")
        );
        assert_eq!(sub.dropped(), 1, "a.one was dropped; a.secret never queued");
        receiver.record_bus_drops("a.*", sub.dropped());
        let log = audit.text();
        assert!(
            log.contains("\"event\":\"overflow\"") && log.contains("\"dropped\":1"),
            "{log}"
        );
        // A reload that revokes the grant stops deliveries to the live subscription.
        let narrower = Policy::parse("allow = []", "test.toml").unwrap_or_else(|e| panic!("{e}"));
        let narrower = narrower
            .guest(None)
            .unwrap_or_else(|e| panic!("{e}"))
            .clone();
        receiver.reload(Arc::new(narrower));
        let subject = Subject::topic("a.one").unwrap_or_else(|e| panic!("{e}"));
        let message = Message {
            topic: "a.one".into(),
            payload: Vec::new(),
            headers: Vec::new(),
            reply_to: None,
            no_responders: false,
        };
        let delivery = bus
            .publish(&subject, message, std::time::Duration::from_millis(10))
            .await;
        assert_eq!(delivery.map(|d| d.filtered).ok(), Some(1));
        assert!(sub.try_next().is_none());
    }
}
