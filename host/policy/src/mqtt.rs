//! MQTT topics and their grants: topic filters (`a/b`, `+` one level, `#` the rest), pure containment, and the publish/subscribe/receive checks of `mqtt://`, `mqtts://`, `mqtt-publish://` and `mqtt-subscribe://` rules.
//!
//! A rule names a broker AND a filter: `mqtt://broker:1883/sensors/#` grants
//! connecting to that broker and publishing and subscribing within
//! `sensors/#`. The broker part is an ordinary rule (host, ports, address
//! allowance), so connecting is checked like any connection; the filter is
//! [`Rule::topics`](crate::Rule::topics).

use std::fmt;

use crate::decision::{Decision, Denial, RuleList};
use crate::guest::{GuestPolicy, quote, rule_ref};
use crate::rule::Rule;
use crate::scheme::Scheme;
use crate::target::Target;

/// The longest topic or filter accepted, in bytes (MQTT's own limit).
pub const MAX_TOPIC_BYTES: usize = 65_535;

/// Why a topic or filter is not valid MQTT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Empty text.
    #[error("empty MQTT topic (write levels separated by '/', like \"sensors/kitchen/temp\")")]
    Empty,
    /// Longer than [`MAX_TOPIC_BYTES`].
    #[error("MQTT topic \"{0}...\" is longer than {MAX_TOPIC_BYTES} bytes")]
    TooLong(String),
    /// A NUL or other control character.
    #[error("MQTT topic \"{0}\" contains a control character")]
    Control(String),
    /// `+` or `#` inside a level (`a+`, `b#`).
    #[error(
        "MQTT filter \"{0}\" uses a wildcard inside a level (\"+\" and \"#\" must be whole levels, like \"a/+/c\" or \"a/#\")"
    )]
    PartialWildcard(String),
    /// `#` not in last position.
    #[error(
        "MQTT filter \"{0}\" has \"#\" before its last level (\"#\" matches the rest, so it must come last)"
    )]
    RestNotLast(String),
    /// A wildcard where a concrete topic is needed.
    #[error(
        "MQTT topic \"{0}\" contains a wildcard; publish on a concrete topic like \"sensors/kitchen\""
    )]
    Wildcard(String),
}

/// One level of a filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Level {
    /// A literal level (may be empty: `a//b` has three levels).
    Lit(String),
    /// `+`: exactly one level.
    One,
    /// `#`: this level and every one below, including none (`a/#` matches `a`).
    Rest,
}

/// A validated MQTT topic filter (a topic name is a filter without wildcards).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopicFilter {
    text: String,
    levels: Vec<Level>,
}

impl TopicFilter {
    /// Parses a filter (`+` and `#` allowed).
    pub fn filter(text: &str) -> Result<TopicFilter, TopicError> {
        if text.is_empty() {
            return Err(TopicError::Empty);
        }
        if text.len() > MAX_TOPIC_BYTES {
            let mut end = 64;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            return Err(TopicError::TooLong(text[..end].to_string()));
        }
        if text.chars().any(char::is_control) {
            return Err(TopicError::Control(text.escape_debug().to_string()));
        }
        let parts: Vec<&str> = text.split('/').collect();
        let mut levels = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            levels.push(match *part {
                "+" => Level::One,
                "#" if i + 1 == parts.len() => Level::Rest,
                "#" => return Err(TopicError::RestNotLast(text.to_string())),
                p if p.contains(['+', '#']) => {
                    return Err(TopicError::PartialWildcard(text.to_string()));
                }
                p => Level::Lit(p.to_string()),
            });
        }
        Ok(TopicFilter {
            text: text.to_string(),
            levels,
        })
    }

    /// Parses a concrete topic name (no wildcards).
    pub fn topic(text: &str) -> Result<TopicFilter, TopicError> {
        let topic = TopicFilter::filter(text)?;
        if topic.has_wildcard() {
            return Err(TopicError::Wildcard(text.to_string()));
        }
        Ok(topic)
    }

    /// The filter as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it holds `+` or `#`.
    pub fn has_wildcard(&self) -> bool {
        self.levels.iter().any(|l| !matches!(l, Level::Lit(_)))
    }

    /// Whether it is the bare `#` (every topic).
    pub fn is_everything(&self) -> bool {
        self.levels == [Level::Rest]
    }

    /// Whether this filter matches the concrete `topic`. As MQTT says, a
    /// filter starting with a wildcard does not match topics starting
    /// with `$` (`$SYS/...`).
    pub fn matches(&self, topic: &TopicFilter) -> bool {
        !topic.has_wildcard() && self.contains(topic)
    }

    /// Whether every topic `inner` matches is matched by this filter.
    pub fn contains(&self, inner: &TopicFilter) -> bool {
        let dollar = |l: Option<&Level>| matches!(l, Some(Level::Lit(s)) if s.starts_with('$'));
        let wild = |l: Option<&Level>| matches!(l, Some(Level::One | Level::Rest));
        if wild(self.levels.first()) && dollar(inner.levels.first()) {
            return false;
        }
        contains_from(&self.levels, &inner.levels, Prefix::Start)
    }
}

/// What the levels consumed so far are: a topic is never the empty
/// string, so before enough levels `#` matches at least one more level
/// instead of none.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prefix {
    /// None yet.
    Start,
    /// One empty level: not a topic yet.
    OneEmpty,
    /// Enough to be a topic.
    Topic,
}

fn contains_from(outer: &[Level], inner: &[Level], prefix: Prefix) -> bool {
    let next = |level: &Level| match (prefix, level) {
        (Prefix::Start, Level::Lit(l)) if l.is_empty() => Prefix::OneEmpty,
        _ => Prefix::Topic,
    };
    match (outer.split_first(), inner.split_first()) {
        (Some((Level::Rest, _)), _) => true,
        (None, None) => true,
        (None, Some(_)) | (Some(_), None) => false,
        (Some((Level::One, o)), Some((Level::Rest, _))) => {
            prefix != Prefix::Topic && o == [Level::Rest]
        }
        (Some((Level::One, o)), Some((l @ (Level::Lit(_) | Level::One), i))) => {
            contains_from(o, i, next(l))
        }
        (Some((Level::Lit(a), o)), Some((l @ Level::Lit(b), i))) if a == b => {
            contains_from(o, i, next(l))
        }
        _ => false,
    }
}

impl fmt::Display for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A direction of MQTT traffic a rule may grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MqttAction {
    /// Publishing on a topic.
    Publish,
    /// Subscribing to a filter and receiving what matches it.
    Subscribe,
}

impl MqttAction {
    fn scheme(self) -> Scheme {
        match self {
            MqttAction::Publish => Scheme::MqttPublish,
            MqttAction::Subscribe => Scheme::MqttSubscribe,
        }
    }
}

impl Scheme {
    /// Whether a rule of this scheme grants `action` (`mqtt`/`mqtts` both,
    /// `mqtt-publish`/`mqtt-subscribe` one each).
    pub fn grants_mqtt(self, action: MqttAction) -> bool {
        matches!(
            (self, action),
            (Scheme::Mqtt | Scheme::Mqtts, _)
                | (Scheme::MqttPublish, MqttAction::Publish)
                | (Scheme::MqttSubscribe, MqttAction::Subscribe)
        )
    }
}

impl GuestPolicy {
    /// Whether the guest, connected to `broker` (an `mqtt://` or `mqtts://`
    /// target it was granted), may publish on the concrete `topic`.
    pub fn check_mqtt_publish(&self, broker: &Target, topic: &TopicFilter) -> Decision {
        self.check_mqtt(broker, MqttAction::Publish, topic)
    }

    /// Whether the guest may subscribe to `filter` on `broker`: it must lie
    /// entirely inside one granted filter, and not entirely inside a deny
    /// rule's. A deny rule covering only part of it applies per message
    /// ([`GuestPolicy::may_receive_mqtt`]).
    pub fn check_mqtt_subscribe(&self, broker: &Target, filter: &TopicFilter) -> Decision {
        self.check_mqtt(broker, MqttAction::Subscribe, filter)
    }

    /// Whether a message on the concrete `topic` from `broker` may reach the
    /// guest: a subscribe grant matches it and no deny rule does.
    pub fn may_receive_mqtt(&self, broker: &Target, topic: &TopicFilter) -> bool {
        let action = MqttAction::Subscribe;
        !self
            .deny
            .iter()
            .any(|r| mqtt_rule_covers(r, RuleList::Deny, broker, action, topic))
            && self
                .allow
                .iter()
                .any(|r| mqtt_rule_covers(r, RuleList::Allow, broker, action, topic))
    }

    fn check_mqtt(&self, broker: &Target, action: MqttAction, filter: &TopicFilter) -> Decision {
        let what = match action {
            MqttAction::Publish => format!(
                "publishing on MQTT topic \"{filter}\" at {}",
                broker.describe()
            ),
            MqttAction::Subscribe => format!(
                "subscribing to MQTT filter \"{filter}\" at {}",
                broker.describe()
            ),
        };
        if let Some(rule) = self
            .deny
            .iter()
            .find(|r| mqtt_rule_covers(r, RuleList::Deny, broker, action, filter))
        {
            return Decision::Deny(Denial {
                reason: format!(
                    "{what} is denied by the deny rule at {}:{} (\"{}\"); deny rules always win",
                    self.source, rule.line, rule.text
                ),
                suggestion: None,
                rule: Some(rule_ref(rule, RuleList::Deny)),
            });
        }
        if let Some(rule) = self
            .allow
            .iter()
            .find(|r| mqtt_rule_covers(r, RuleList::Allow, broker, action, filter))
        {
            return Decision::Allow(rule_ref(rule, RuleList::Allow));
        }
        let authority = match broker.host.ip() {
            Some(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{}", broker.port),
            _ => format!("{}:{}", broker.host, broker.port),
        };
        Decision::Deny(Denial {
            reason: format!(
                "no allow rule of guest \"{}\" in {} grants {what}",
                self.name, self.source
            ),
            suggestion: Some(quote(&format!(
                "{}://{authority}/{filter}",
                action.scheme()
            ))),
            rule: None,
        })
    }
}

/// Whether `rule`, in `list`, decides `action` on `filter` at `broker`: the
/// direction, the broker endpoint, and a filter containing `filter`. An
/// allow rule without a filter grants connecting only; a deny rule without
/// one takes every topic of the broker. For a subscription, a deny rule
/// containing the whole filter refuses it; one overlapping part of it is
/// applied per message ([`GuestPolicy::may_receive_mqtt`]).
fn mqtt_rule_covers(
    rule: &Rule,
    list: RuleList,
    broker: &Target,
    action: MqttAction,
    filter: &TopicFilter,
) -> bool {
    let endpoint = match list {
        RuleList::Allow => rule.matches_endpoint(broker),
        RuleList::Deny => rule.catches_broker(broker),
    };
    rule.scheme.grants_mqtt(action)
        && endpoint
        && rule
            .topics
            .as_ref()
            .map_or(list == RuleList::Deny, |t| t.contains(filter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    fn f(text: &str) -> TopicFilter {
        TopicFilter::filter(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parsing_names_the_offending_filter() {
        let bad = [
            ("", TopicError::Empty),
            ("a/b#", TopicError::PartialWildcard("a/b#".into())),
            ("a+/b", TopicError::PartialWildcard("a+/b".into())),
            ("a/#/b", TopicError::RestNotLast("a/#/b".into())),
            ("a\0b", TopicError::Control("a\\0b".into())),
        ];
        for (text, want) in bad {
            assert_eq!(TopicFilter::filter(text), Err(want), "{text:?}");
        }
        assert_eq!(
            TopicFilter::topic("a/+"),
            Err(TopicError::Wildcard("a/+".into()))
        );
        assert!(TopicFilter::topic("a//b").is_ok(), "empty levels are MQTT");
        assert!(TopicFilter::topic("/leading").is_ok());
        let long = "a".repeat(MAX_TOPIC_BYTES + 1);
        assert!(matches!(
            TopicFilter::filter(&long),
            Err(TopicError::TooLong(_))
        ));
    }

    #[test]
    fn matching() {
        let cases = [
            ("sensors/#", "sensors", true),
            ("sensors/#", "sensors/a/b", true),
            ("sensors/+", "sensors/a", true),
            ("sensors/+", "sensors/a/b", false),
            ("sensors/+", "sensors", false),
            ("+/+", "/a", true),
            ("#", "a/b", true),
            ("#", "$SYS/x", false),
            ("+/x", "$SYS/x", false),
            ("$SYS/#", "$SYS/x", true),
            ("a/b", "a/b", true),
            ("a/b", "a/b/", false),
        ];
        for (filter, topic, want) in cases {
            assert_eq!(f(filter).matches(&f(topic)), want, "{filter} ~ {topic}");
        }
    }

    #[test]
    fn containment() {
        let cases = [
            ("sensors/#", "sensors/+/temp", true),
            ("sensors/#", "sensors/#", true),
            ("sensors/#", "sensors", true),
            ("sensors/#", "#", false),
            ("sensors/+", "sensors/#", false),
            ("+/#", "#", true),
            ("a/+/#", "a/#", false),
            ("/+/#", "/#", true),
            ("//+/#", "//#", false),
            ("#", "$SYS/#", false),
            ("+/+", "a/+", true),
            ("a/+", "a/b", true),
            ("a/b", "a/+", false),
        ];
        for (outer, inner, want) in cases {
            assert_eq!(f(outer).contains(&f(inner)), want, "{outer} ⊇ {inner}");
        }
    }

    const POLICY: &str = r#"
[guest.app]
allow = [
  "mqtt://broker.example:1883/sensors/#",
  "mqtt-publish://broker.example/alerts/+",
  "mqtt-subscribe://broker.example/commands/+",
  "mqtts://secure.example/s/#",
]
deny = ["mqtt://broker.example:1883/sensors/secret/#"]
"#;

    fn guest() -> GuestPolicy {
        let policy = Policy::parse(POLICY, "p.toml").unwrap_or_else(|e| panic!("{e}"));
        policy
            .guest(Some("app"))
            .unwrap_or_else(|e| panic!("{e}"))
            .clone()
    }

    fn broker(url: &str) -> Target {
        Target::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn grants_scope_broker_direction_and_topics() {
        let g = guest();
        let plain = broker("mqtt://broker.example");
        assert_eq!(plain.port, 1883, "default port");
        assert!(g.check(&plain).is_allowed(), "connecting is granted");
        assert!(!g.check(&broker("mqtt://other.example")).is_allowed());
        assert!(
            !g.check(&broker("mqtts://broker.example")).is_allowed(),
            "mqtt does not grant mqtts"
        );
        assert!(g.check(&broker("mqtts://secure.example")).is_allowed());
        assert_eq!(broker("mqtts://secure.example").port, 8883);
        let cases = [
            (MqttAction::Publish, "sensors/kitchen", true),
            (MqttAction::Subscribe, "sensors/+/temp", true),
            (MqttAction::Subscribe, "sensors/#", true),
            (MqttAction::Subscribe, "#", false),
            (MqttAction::Publish, "alerts/disk", true),
            (MqttAction::Subscribe, "alerts/+", false),
            (MqttAction::Subscribe, "commands/+", true),
            (MqttAction::Publish, "commands/x", false),
            (MqttAction::Publish, "sensors/secret/x", false),
            (MqttAction::Subscribe, "sensors/secret/#", false),
        ];
        for (action, topic, want) in cases {
            let got = g.check_mqtt(&plain, action, &f(topic)).is_allowed();
            assert_eq!(got, want, "{action:?} {topic}");
        }
        let other_port = broker("mqtt://broker.example:1884");
        assert!(
            !g.check_mqtt_publish(&other_port, &f("sensors/a"))
                .is_allowed()
        );
        assert!(g.may_receive_mqtt(&plain, &f("sensors/a")));
        assert!(
            !g.may_receive_mqtt(&plain, &f("sensors/secret/a")),
            "deny applies per message"
        );
        assert!(!g.may_receive_mqtt(&plain, &f("alerts/a")), "publish-only");
    }

    #[test]
    fn denials_name_the_line_to_add_and_deny_rules_on_topics_leave_the_broker() {
        let g = guest();
        let plain = broker("mqtt://broker.example");
        let d = g.check_mqtt_publish(&plain, &f("lights/on"));
        let denial = d.denial().cloned().unwrap_or_else(|| panic!("allowed"));
        assert!(denial.reason.contains("\"lights/on\""), "{}", denial.reason);
        assert_eq!(
            denial.suggestion.as_deref(),
            Some("\"mqtt-publish://broker.example:1883/lights/on\"")
        );
        let d = g.check_mqtt_subscribe(&plain, &f("sensors/secret/+"));
        let denial = d.denial().cloned().unwrap_or_else(|| panic!("allowed"));
        assert_eq!(denial.rule.map(|r| r.line), Some(9));
        let ip = broker("mqtt://[::1]:1883");
        let d = g.check_mqtt_subscribe(&ip, &f("a/#"));
        assert_eq!(
            d.denial().and_then(|d| d.suggestion.clone()).as_deref(),
            Some("\"mqtt-subscribe://[::1]:1883/a/#\"")
        );
    }

    #[test]
    fn rule_syntax() {
        for (text, want) in [
            ("mqtt://b/a/#/c", "before its last level"),
            ("mqtt://b/a+", "inside a level"),
            ("mqtt-publish://b:1883/", "empty MQTT topic"),
            ("mqtt://u@b/a", "user"),
        ] {
            let err = Policy::parse(&format!("allow = [{text:?}]"), "p.toml").err();
            let msg = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(msg.contains(want), "{text}: {msg}");
        }
        let policy = Policy::parse("allow = [\"mqtt://b\", \"mqtt://b:1883/x/?y\"]", "p.toml")
            .unwrap_or_else(|e| panic!("{e}"));
        let g = policy.guest(None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(g.allow[0].topics, None, "no filter: connecting only");
        assert_eq!(
            g.allow[1].topics.as_ref().map(TopicFilter::as_str),
            Some("x/?y")
        );
        assert!(
            !g.check_mqtt_publish(&broker("mqtt://b"), &f("x"))
                .is_allowed()
        );
    }
}
