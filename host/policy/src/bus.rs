//! Bus topics and their grants: NATS-style subjects (`a.b.c`, `*` one token, `>` the rest), pattern containment, and `bus-publish://` / `bus-subscribe://` / `bus://` rules.
//!
//! A subject is tokens separated by `.`; a token is non-empty and holds no
//! whitespace. A pattern may use `*` for exactly one token and `>` (last token
//! only) for one or more remaining tokens. A topic a guest publishes on is
//! concrete: no wildcards.

use std::fmt;

use crate::decision::{Decision, Denial, RuleList, RuleRef};
use crate::guest::{GuestPolicy, quote};

/// The longest subject or pattern accepted, in bytes.
pub const MAX_SUBJECT_BYTES: usize = 1024;

/// Why a topic or pattern is not a valid subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// Empty text.
    #[error("empty bus subject (write tokens separated by dots, like \"telemetry.cpu\")")]
    Empty,
    /// Longer than [`MAX_SUBJECT_BYTES`].
    #[error("bus subject \"{0}...\" is longer than {MAX_SUBJECT_BYTES} bytes")]
    TooLong(String),
    /// An empty token (`a..b`, `.a`, `a.`).
    #[error(
        "bus subject \"{0}\" has an empty token (tokens are separated by single dots, like \"a.b.c\")"
    )]
    EmptyToken(String),
    /// Whitespace or a control character.
    #[error("bus subject \"{0}\" contains whitespace or a control character")]
    Whitespace(String),
    /// `*` or `>` inside a token (`a*`, `b>`).
    #[error(
        "bus subject \"{0}\" uses a wildcard inside a token (\"*\" and \">\" must be whole tokens, like \"a.*.c\" or \"a.>\")"
    )]
    PartialWildcard(String),
    /// `>` not in last position.
    #[error(
        "bus subject \"{0}\" has \">\" before its last token (\">\" matches the rest, so it must come last)"
    )]
    RestNotLast(String),
    /// A wildcard where a concrete topic is needed.
    #[error(
        "bus topic \"{0}\" contains a wildcard; publish on a concrete topic like \"telemetry.cpu\""
    )]
    Wildcard(String),
}

/// One token of a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Token {
    /// A literal token.
    Lit(String),
    /// `*`: exactly one token.
    One,
    /// `>`: one or more tokens (last position only).
    Rest,
}

/// A validated subject pattern (a concrete topic is a pattern without wildcards).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    text: String,
    tokens: Vec<Token>,
}

impl Subject {
    /// Parses a pattern (`*` and `>` allowed).
    pub fn pattern(text: &str) -> Result<Subject, SubjectError> {
        if text.is_empty() {
            return Err(SubjectError::Empty);
        }
        if text.len() > MAX_SUBJECT_BYTES {
            let mut end = 64;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            return Err(SubjectError::TooLong(text[..end].to_string()));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SubjectError::Whitespace(text.escape_debug().to_string()));
        }
        let parts: Vec<&str> = text.split('.').collect();
        let mut tokens = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let token = match *part {
                "" => return Err(SubjectError::EmptyToken(text.to_string())),
                "*" => Token::One,
                ">" if i + 1 == parts.len() => Token::Rest,
                ">" => return Err(SubjectError::RestNotLast(text.to_string())),
                p if p.contains(['*', '>']) => {
                    return Err(SubjectError::PartialWildcard(text.to_string()));
                }
                p => Token::Lit(p.to_string()),
            };
            tokens.push(token);
        }
        Ok(Subject {
            text: text.to_string(),
            tokens,
        })
    }

    /// Parses a concrete topic (no wildcards).
    pub fn topic(text: &str) -> Result<Subject, SubjectError> {
        let subject = Subject::pattern(text)?;
        if subject.has_wildcard() {
            return Err(SubjectError::Wildcard(text.to_string()));
        }
        Ok(subject)
    }

    /// The subject as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The tokens.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// Whether it holds `*` or `>`.
    pub fn has_wildcard(&self) -> bool {
        self.tokens.iter().any(|t| !matches!(t, Token::Lit(_)))
    }

    /// Whether it is the bare `>` (every subject).
    pub fn is_everything(&self) -> bool {
        self.tokens == [Token::Rest]
    }

    /// Whether this pattern matches the concrete `topic` (given as its tokens).
    pub fn matches_tokens(&self, topic: &[&str]) -> bool {
        let mut rest = topic;
        for token in &self.tokens {
            match token {
                Token::Rest => return !rest.is_empty(),
                Token::One => {}
                Token::Lit(l) => {
                    if rest.first() != Some(&l.as_str()) {
                        return false;
                    }
                }
            }
            let Some((_, tail)) = rest.split_first() else {
                return false;
            };
            rest = tail;
        }
        rest.is_empty()
    }

    /// Whether this pattern matches the concrete topic `topic`.
    pub fn matches(&self, topic: &Subject) -> bool {
        let tokens: Vec<&str> = topic
            .tokens
            .iter()
            .map(|t| match t {
                Token::Lit(l) => l.as_str(),
                Token::One => "*",
                Token::Rest => ">",
            })
            .collect();
        !topic.has_wildcard() && self.matches_tokens(&tokens)
    }

    /// Whether every topic `inner` matches is matched by this pattern.
    pub fn contains(&self, inner: &Subject) -> bool {
        contains(&self.tokens, &inner.tokens)
    }

    /// Whether some topic is matched by both patterns.
    pub fn overlaps(&self, other: &Subject) -> bool {
        overlaps(&self.tokens, &other.tokens)
    }
}

fn contains(outer: &[Token], inner: &[Token]) -> bool {
    match (outer.split_first(), inner.split_first()) {
        (None, None) => true,
        (None, Some(_)) | (Some(_), None) => false,
        (Some((Token::Rest, _)), Some(_)) => true,
        (Some((Token::One, o)), Some((Token::Lit(_) | Token::One, i))) => contains(o, i),
        (Some((Token::Lit(a), o)), Some((Token::Lit(b), i))) if a == b => contains(o, i),
        _ => false,
    }
}

fn overlaps(a: &[Token], b: &[Token]) -> bool {
    match (a.split_first(), b.split_first()) {
        (None, None) => true,
        (None, Some(_)) | (Some(_), None) => false,
        (Some((Token::Rest, _)), Some(_)) | (Some(_), Some((Token::Rest, _))) => true,
        (Some((Token::Lit(x), a)), Some((Token::Lit(y), b))) => x == y && overlaps(a, b),
        (Some((_, a)), Some((_, b))) => overlaps(a, b),
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What a bus rule grants (or denies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BusAction {
    /// `bus-publish://`: publishing (and requesting) on matching topics.
    Publish,
    /// `bus-subscribe://`: subscribing to patterns inside it, receiving matching topics.
    Subscribe,
    /// `bus://`: both.
    Both,
}

impl BusAction {
    /// The rule scheme, e.g. `"bus-publish"`.
    pub fn scheme(self) -> &'static str {
        match self {
            BusAction::Publish => "bus-publish",
            BusAction::Subscribe => "bus-subscribe",
            BusAction::Both => "bus",
        }
    }

    /// Whether a rule of this action covers `wanted` (`Publish` or `Subscribe`).
    pub fn covers(self, wanted: BusAction) -> bool {
        self == BusAction::Both || self == wanted
    }

    /// The action of a rule or target scheme, ignoring ASCII case.
    pub fn parse(scheme: &str) -> Option<BusAction> {
        [BusAction::Publish, BusAction::Subscribe, BusAction::Both]
            .into_iter()
            .find(|a| a.scheme().eq_ignore_ascii_case(scheme))
    }
}

/// One `bus-publish://PATTERN`, `bus-subscribe://PATTERN` or `bus://PATTERN` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusRule {
    /// The line of the policy file it is on (1-based; 0 when not from a file).
    pub line: u32,
    /// The rule as written.
    pub text: String,
    /// What it grants.
    pub action: BusAction,
    /// The subject pattern.
    pub pattern: Subject,
}

impl BusRule {
    /// Whether `text` names a bus scheme (`bus://`, `bus-publish://`, `bus-subscribe://`).
    pub fn is_bus_rule(text: &str) -> bool {
        text.trim()
            .split_once("://")
            .is_some_and(|(scheme, _)| BusAction::parse(scheme).is_some())
    }

    /// Parses a bus rule.
    pub fn parse(text: &str, line: u32) -> Result<BusRule, SubjectError> {
        let (action, pattern) = split_bus_url(text.trim()).ok_or(SubjectError::Empty)?;
        Ok(BusRule {
            line,
            text: text.to_string(),
            action,
            pattern: Subject::pattern(pattern)?,
        })
    }

    fn rule_ref(&self, list: RuleList) -> RuleRef {
        RuleRef {
            line: self.line,
            text: self.text.clone(),
            list,
        }
    }
}

/// Splits `bus-publish://a.b` into its action and subject text.
pub fn split_bus_url(text: &str) -> Option<(BusAction, &str)> {
    let (scheme, rest) = text.split_once("://")?;
    Some((BusAction::parse(scheme)?, rest))
}

impl GuestPolicy {
    /// Whether the guest may publish (or send a request) on the concrete `topic`.
    pub fn check_bus_publish(&self, topic: &Subject) -> Decision {
        let what = format!("publishing on bus topic \"{topic}\"");
        let covers = |r: &&BusRule| r.action.covers(BusAction::Publish);
        if let Some(rule) = self
            .bus_deny
            .iter()
            .filter(covers)
            .find(|r| r.pattern.matches(topic))
        {
            return self.bus_denied_by(rule, &what);
        }
        if let Some(rule) = self
            .bus_allow
            .iter()
            .filter(covers)
            .find(|r| r.pattern.matches(topic))
        {
            return Decision::Allow(rule.rule_ref(RuleList::Allow));
        }
        self.bus_no_rule(&what, BusAction::Publish, topic)
    }

    /// Whether the guest may subscribe to `pattern`: it must lie entirely
    /// inside one subscribe grant, and not entirely inside a deny rule. A
    /// deny rule that covers only part of it is enforced per message
    /// ([`GuestPolicy::may_receive_bus`]).
    pub fn check_bus_subscribe(&self, pattern: &Subject) -> Decision {
        let what = format!("subscribing to bus pattern \"{pattern}\"");
        let covers = |r: &&BusRule| r.action.covers(BusAction::Subscribe);
        if let Some(rule) = self
            .bus_deny
            .iter()
            .filter(covers)
            .find(|r| r.pattern.contains(pattern))
        {
            return self.bus_denied_by(rule, &what);
        }
        if let Some(rule) = self
            .bus_allow
            .iter()
            .filter(covers)
            .find(|r| r.pattern.contains(pattern))
        {
            return Decision::Allow(rule.rule_ref(RuleList::Allow));
        }
        self.bus_no_rule(&what, BusAction::Subscribe, pattern)
    }

    /// Whether a message on the concrete `topic` may be delivered to this
    /// guest: a subscribe grant matches it and no deny rule does.
    pub fn may_receive_bus(&self, topic: &Subject) -> bool {
        let covers = |r: &&BusRule| r.action.covers(BusAction::Subscribe);
        !self
            .bus_deny
            .iter()
            .filter(covers)
            .any(|r| r.pattern.matches(topic))
            && self
                .bus_allow
                .iter()
                .filter(covers)
                .any(|r| r.pattern.matches(topic))
    }

    fn bus_denied_by(&self, rule: &BusRule, what: &str) -> Decision {
        Decision::Deny(Denial {
            reason: format!(
                "{what} is denied by the deny rule at {}:{} (\"{}\"); deny rules always win",
                self.source, rule.line, rule.text
            ),
            suggestion: None,
            rule: Some(rule.rule_ref(RuleList::Deny)),
        })
    }

    fn bus_no_rule(&self, what: &str, action: BusAction, subject: &Subject) -> Decision {
        Decision::Deny(Denial {
            reason: format!(
                "no allow rule of guest \"{}\" in {} grants {what}",
                self.name, self.source
            ),
            suggestion: Some(quote(&format!("{}://{subject}", action.scheme()))),
            rule: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Subject {
        match Subject::pattern(text) {
            Ok(s) => s,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    #[test]
    fn parsing_names_the_offending_subject() {
        let bad = [
            ("", SubjectError::Empty),
            ("a..b", SubjectError::EmptyToken("a..b".into())),
            (".a", SubjectError::EmptyToken(".a".into())),
            ("a.", SubjectError::EmptyToken("a.".into())),
            ("a b", SubjectError::Whitespace("a b".into())),
            ("a*.b", SubjectError::PartialWildcard("a*.b".into())),
            ("a.>.b", SubjectError::RestNotLast("a.>.b".into())),
        ];
        for (text, want) in bad {
            assert_eq!(Subject::pattern(text), Err(want), "{text:?}");
        }
        assert_eq!(
            Subject::topic("a.*"),
            Err(SubjectError::Wildcard("a.*".into()))
        );
        assert!(Subject::topic("a.b-c_d.1").is_ok());
        let long = "a".repeat(MAX_SUBJECT_BYTES + 1);
        assert!(matches!(
            Subject::pattern(&long),
            Err(SubjectError::TooLong(_))
        ));
    }

    #[test]
    fn matching() {
        let cases = [
            ("a.b", "a.b", true),
            ("a.b", "a.c", false),
            ("a.*", "a.b", true),
            ("a.*", "a.b.c", false),
            ("a.*", "a", false),
            ("a.>", "a.b.c", true),
            ("a.>", "a", false),
            (">", "x", true),
            ("*.b.>", "a.b.c.d", true),
            ("*.b.>", "a.b", false),
        ];
        for (pattern, topic, want) in cases {
            assert_eq!(p(pattern).matches(&p(topic)), want, "{pattern} ~ {topic}");
        }
    }

    #[test]
    fn containment() {
        let cases = [
            (">", "a.*.>", true),
            ("a.>", "a.*", true),
            ("a.>", "a.>", true),
            ("a.>", ">", false),
            ("a.*", "a.>", false),
            ("*.>", ">", false),
            ("a.*", "a.b", true),
            ("a.b", "a.*", false),
            ("*.*", "a.*", true),
        ];
        for (outer, inner, want) in cases {
            assert_eq!(p(outer).contains(&p(inner)), want, "{outer} ⊇ {inner}");
        }
    }

    #[test]
    fn bus_rule_schemes() {
        assert!(BusRule::is_bus_rule("bus://a.>"));
        assert!(BusRule::is_bus_rule("BUS-PUBLISH://a"));
        assert!(!BusRule::is_bus_rule("https://a"));
        let rule = BusRule::parse("bus-subscribe://commands.*", 3).ok();
        assert_eq!(
            rule.map(|r| (r.action, r.line)),
            Some((BusAction::Subscribe, 3))
        );
        assert_eq!(
            BusRule::parse("bus://a.>.b", 1),
            Err(SubjectError::RestNotLast("a.>.b".into()))
        );
    }
}

#[cfg(test)]
mod policy_tests {
    use crate::{Decision, Policy};

    use super::Subject;

    const POLICY: &str = r#"
[guest.app]
allow = [
  "bus-publish://telemetry.>",
  "bus-subscribe://commands.*",
  "bus://chat.>",
  "https://example.com/",
]
deny = ["bus://chat.secret.>"]
"#;

    fn check(publish: bool, subject: &str) -> Decision {
        let policy = Policy::parse(POLICY, "p.toml").unwrap_or_else(|e| panic!("{e}"));
        let guest = policy.guest(Some("app")).unwrap_or_else(|e| panic!("{e}"));
        let s = Subject::pattern(subject).unwrap_or_else(|e| panic!("{e}"));
        if publish {
            guest.check_bus_publish(&s)
        } else {
            guest.check_bus_subscribe(&s)
        }
    }

    #[test]
    fn publish_and_subscribe_grants() {
        assert!(check(true, "telemetry.cpu").is_allowed());
        assert!(check(true, "chat.room").is_allowed());
        assert!(!check(false, "telemetry.cpu").is_allowed(), "publish-only");
        assert!(check(false, "commands.*").is_allowed());
        assert!(check(false, "commands.restart").is_allowed());
        assert!(
            !check(false, "commands.>").is_allowed(),
            "wider than the grant"
        );
        assert!(
            !check(true, "commands.restart").is_allowed(),
            "subscribe-only"
        );
    }

    #[test]
    fn denials_name_the_topic_and_the_line_to_add() {
        let d = check(true, "alerts.disk");
        let denial = d.denial().cloned().unwrap_or_else(|| panic!("allowed"));
        assert!(
            denial.reason.contains("\"alerts.disk\""),
            "{}",
            denial.reason
        );
        assert_eq!(
            denial.suggestion.as_deref(),
            Some("\"bus-publish://alerts.disk\"")
        );
        let d = check(false, "alerts.*");
        assert_eq!(
            d.denial().and_then(|d| d.suggestion.clone()).as_deref(),
            Some("\"bus-subscribe://alerts.*\"")
        );
    }

    #[test]
    fn deny_wins() {
        let d = check(true, "chat.secret.x");
        let denial = d.denial().cloned().unwrap_or_else(|| panic!("allowed"));
        assert_eq!(denial.suggestion, None);
        assert_eq!(denial.rule.map(|r| r.line), Some(9));
        assert!(!check(false, "chat.secret.>").is_allowed());
        // Overlapping a deny rule: granted, and the deny applies per message.
        assert!(check(false, "chat.>").is_allowed());
        let policy = Policy::parse(POLICY, "p.toml").unwrap_or_else(|e| panic!("{e}"));
        let guest = policy.guest(Some("app")).unwrap_or_else(|e| panic!("{e}"));
        let topic = |t: &str| Subject::topic(t).unwrap_or_else(|e| panic!("{e}"));
        assert!(guest.may_receive_bus(&topic("chat.room")));
        assert!(!guest.may_receive_bus(&topic("chat.secret.x")));
        assert!(!guest.may_receive_bus(&topic("telemetry.cpu")));
    }

    #[test]
    fn invalid_bus_rules_and_lint() {
        let err = Policy::parse("allow = [\"bus://a.>.b\"]", "p.toml").err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.contains("a.>.b") && text.contains("last token"),
            "{text}"
        );
        let err = Policy::parse("allow = [{ rule = \"bus://a\" }]", "p.toml").err();
        assert!(err.is_some());
        let policy = Policy::parse("allow = [\"bus://>\", \"bus://a.>\"]", "p.toml")
            .unwrap_or_else(|e| panic!("{e}"));
        let lints = policy.lint();
        assert_eq!(lints.len(), 1, "{lints:?}");
        assert!(lints[0].message.contains("every bus topic"));
    }
}
