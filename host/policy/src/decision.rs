//! The outcome of a policy check: allowed by which rule, or denied with a reason and a fix.

use std::fmt;

/// Which list a rule is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleList {
    /// `allow = [...]`.
    Allow,
    /// `deny = [...]`.
    Deny,
}

impl fmt::Display for RuleList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleList::Allow => "allow",
            RuleList::Deny => "deny",
        })
    }
}

/// A reference to the rule behind a decision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuleRef {
    /// Line in the policy file.
    pub line: u32,
    /// The rule as written.
    pub text: String,
    /// The list it is in.
    pub list: RuleList,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rule at line {}: \"{}\"",
            self.list, self.line, self.text
        )
    }
}

/// Why a target was refused, and what would allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// Names the target and the reason.
    pub reason: String,
    /// The element to add to the guest's `allow` array, exactly as it would be
    /// typed in TOML (quotes included). `None` when a deny rule matched.
    pub suggestion: Option<String>,
    /// The deny rule that matched, if any.
    pub rule: Option<RuleRef>,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)?;
        if let Some(s) = &self.suggestion {
            write!(f, "; to allow it, add {s} to allow")?;
        }
        Ok(())
    }
}

/// Allowed (by a rule) or denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by this allow rule.
    Allow(RuleRef),
    /// Refused.
    Deny(Denial),
}

impl Decision {
    /// Whether the target is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    /// The rule that decided: the allow rule, or the deny rule that matched.
    pub fn rule(&self) -> Option<&RuleRef> {
        match self {
            Decision::Allow(r) => Some(r),
            Decision::Deny(d) => d.rule.as_ref(),
        }
    }

    /// The denial, if denied.
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Decision::Allow(_) => None,
            Decision::Deny(d) => Some(d),
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Allow(rule) => write!(f, "allowed by the {rule}"),
            Decision::Deny(denial) => write!(f, "denied: {denial}"),
        }
    }
}
