//! The outcome of a policy check: allowed by which rule, or denied with a reason and a fix.

use std::fmt;
use std::net::IpAddr;

use crate::target::Target;

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

/// How much of a denial a guest sees (`denial_detail` in a guest's table).
///
/// The operator always gets the whole [`Denial`]; the guest gets
/// [`Denial::for_guest`], which never names an address a host name resolved
/// to (a guest could otherwise use denials to learn the host's DNS answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DenialDetail {
    /// `"full"` (default): the reason (resolved addresses left out), the
    /// suggested allow-list element and the rule line.
    #[default]
    Full,
    /// `"minimal"`: a generic reason naming only the target the guest asked
    /// for; no policy file name, rule text or suggestion. For hosting
    /// untrusted third parties, who need not learn the policy.
    Minimal,
}

impl DenialDetail {
    /// Every setting, in the order messages list them.
    pub const ALL: [DenialDetail; 2] = [DenialDetail::Full, DenialDetail::Minimal];

    /// The setting as written in a policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            DenialDetail::Full => "full",
            DenialDetail::Minimal => "minimal",
        }
    }

    /// Parses `"full"` or `"minimal"`.
    pub fn parse(text: &str) -> Option<DenialDetail> {
        DenialDetail::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

impl fmt::Display for DenialDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Denial {
    /// If the reason says what a host name resolved to (`NAME resolved to
    /// IP (class)...`, as [`GuestPolicy::check_address`](crate::GuestPolicy::check_address)
    /// writes for name targets), the name.
    fn resolved_subject(&self) -> Option<&str> {
        let (subject, rest) = self.reason.split_once(" resolved to ")?;
        let (ip, _) = rest.split_once(" (")?;
        let is_subject = !subject.is_empty() && !subject.contains(char::is_whitespace);
        (is_subject && ip.parse::<IpAddr>().is_ok()).then_some(subject)
    }

    /// The reason with any address a host name resolved to left out: what a
    /// guest may read. Other reasons are returned unchanged.
    pub fn guest_reason(&self) -> String {
        match self.resolved_subject() {
            Some(subject) => format!(
                "{subject} resolved to an address the policy does not grant for it (the host's log names the address and the rule that would grant it)"
            ),
            None => self.reason.clone(),
        }
    }

    /// The denial as the guest that asked for `target` may see it, at `detail`
    /// (see [`DenialDetail`]). A denial about a resolved address never keeps
    /// its suggestion or rule, which would name or narrow down the address.
    pub fn for_guest(&self, detail: DenialDetail, target: &Target) -> Denial {
        match detail {
            DenialDetail::Full if self.resolved_subject().is_some() => Denial {
                reason: self.guest_reason(),
                suggestion: None,
                rule: None,
            },
            DenialDetail::Full => self.clone(),
            DenialDetail::Minimal => Denial {
                reason: format!("the sandbox policy does not allow {}", target.describe()),
                suggestion: None,
                rule: None,
            },
        }
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
