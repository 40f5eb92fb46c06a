//! The guard's MQTT checks: topic syntax, publish and subscribe grants on a granted broker, payload size, the per-message receive filter, and their audit events.

use sandnet_policy::{Decision, Denial, DenialDetail, Limit, Target, TopicFilter};

use super::Guard;
use crate::audit::{AuditEvent, Verdict};
use crate::error::NetError;

impl Guard {
    /// Checks publishing `len` payload bytes on `topic` at `broker`: a
    /// concrete topic, a publish grant for that broker and topic, the size
    /// limit. Audited; a denial names the line to add.
    pub fn check_mqtt_publish(
        &self,
        broker: &Target,
        topic: &str,
        len: usize,
    ) -> Result<TopicFilter, NetError> {
        let parsed = self.mqtt_topic("publish", broker, topic, TopicFilter::topic)?;
        let policy = self.policy.load();
        let max = policy.limits.max_mqtt_message_bytes;
        if u64::try_from(len).unwrap_or(u64::MAX) > max {
            let err = NetError::limit(Limit::MaxMqttMessageBytes, max);
            self.record_mqtt("publish", broker, topic, Verdict::Error, |ev| {
                ev.reason = Some(err.to_string());
                ev.limit = Some(Limit::MaxMqttMessageBytes.name());
            });
            return Err(err);
        }
        let decision = policy.check_mqtt_publish(broker, &parsed);
        self.mqtt_decided("publish", broker, topic, decision, len)?;
        Ok(parsed)
    }

    /// Checks subscribing to `filter` at `broker`: valid syntax, inside a
    /// subscribe grant for that broker.
    pub fn check_mqtt_subscribe(
        &self,
        broker: &Target,
        filter: &str,
    ) -> Result<TopicFilter, NetError> {
        let parsed = self.mqtt_topic("subscribe", broker, filter, TopicFilter::filter)?;
        let decision = self.policy.load().check_mqtt_subscribe(broker, &parsed);
        self.mqtt_decided("subscribe", broker, filter, decision, 0)?;
        Ok(parsed)
    }

    /// Whether a message on `topic` from `broker` may reach the guest (its
    /// policy in force now); a refused one is audited as `receive` denied.
    pub fn may_receive_mqtt(&self, broker: &Target, topic: &str) -> bool {
        let allowed = TopicFilter::topic(topic)
            .is_ok_and(|t| self.policy.load().may_receive_mqtt(broker, &t));
        if !allowed {
            self.record_mqtt("receive", broker, topic, Verdict::Deny, |ev| {
                ev.reason = Some("no subscribe grant matches the topic (message dropped)".into());
            });
        }
        allowed
    }

    fn mqtt_topic(
        &self,
        event: &'static str,
        broker: &Target,
        text: &str,
        parse: fn(&str) -> Result<TopicFilter, sandnet_policy::TopicError>,
    ) -> Result<TopicFilter, NetError> {
        parse(text).map_err(|e| {
            self.record_mqtt(event, broker, text, Verdict::Error, |ev| {
                ev.reason = Some(e.to_string())
            });
            NetError::InvalidArgument(e.to_string())
        })
    }

    fn mqtt_decided(
        &self,
        event: &'static str,
        broker: &Target,
        topic: &str,
        decision: Decision,
        len: usize,
    ) -> Result<(), NetError> {
        match decision {
            Decision::Allow(rule) => {
                self.record_mqtt(event, broker, topic, Verdict::Allow, |ev| {
                    ev.rule = Some(format!("{}: {}", rule.line, rule.text));
                    ev.bytes_out = u64::try_from(len).ok().filter(|n| *n > 0);
                });
                Ok(())
            }
            Decision::Deny(denial) => {
                let policy = self.policy.load();
                tracing::info!(guest = %policy.name, topic, reason = %denial.reason, "mqtt {event} denied");
                self.record_mqtt(event, broker, topic, Verdict::Deny, |ev| {
                    ev.reason = Some(denial.reason.clone());
                    ev.rule = denial
                        .rule
                        .as_ref()
                        .map(|r| format!("{}: {}", r.line, r.text));
                });
                Err(NetError::Denied(match policy.denial_detail {
                    DenialDetail::Full => denial,
                    DenialDetail::Minimal => Denial {
                        reason: format!(
                            "the sandbox policy does not allow MQTT {event} on \"{topic}\""
                        ),
                        suggestion: None,
                        rule: None,
                    },
                }))
            }
        }
    }

    fn record_mqtt(
        &self,
        event: &'static str,
        broker: &Target,
        topic: &str,
        verdict: Verdict,
        fill: impl FnOnce(&mut AuditEvent),
    ) {
        self.emit("mqtt", event, || format!("{broker}/{topic}"), verdict, fill);
    }
}
