//! Report-only mode: which would-be denials the host lets through (and logs) instead of enforcing.

use std::fmt;
use std::net::IpAddr;

use crate::addr::{AddressClass, canonical_ip, classify};
use crate::decision::{Decision, Denial, RuleRef};

/// How the host acts on a policy's denials (`sandnet run --report-only[=all]`).
///
/// Only scope decisions (which target, address, port, path, method or topic)
/// are affected; limits (quotas, rates, sizes, timeouts) always apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Enforcement {
    /// Denials are enforced (the default).
    #[default]
    Enforce,
    /// `--report-only`: a would-be denial is let through and reported, except
    /// when the address involved is not public (loopback, private, link-local,
    /// cloud metadata, ...): those stay refused.
    ReportOnly,
    /// `--report-only=all`: every would-be denial is let through, non-public
    /// addresses included.
    ReportOnlyAll,
}

/// What the host does with one decision under an [`Enforcement`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    /// The policy allows it.
    Allow(RuleRef),
    /// The policy refuses it, but report-only mode lets it through: log it as
    /// `would-deny` with the denial's suggestion.
    WouldDeny(Denial),
    /// Refused.
    Deny(Denial),
}

impl Enforcement {
    /// Every mode, in the order messages list them.
    pub const ALL: [Enforcement; 3] = [
        Enforcement::Enforce,
        Enforcement::ReportOnly,
        Enforcement::ReportOnlyAll,
    ];

    /// The value of `--report-only=VALUE` for this mode (`None` for enforce).
    pub fn flag_value(self) -> Option<&'static str> {
        match self {
            Enforcement::Enforce => None,
            Enforcement::ReportOnly => Some("public"),
            Enforcement::ReportOnlyAll => Some("all"),
        }
    }

    /// Parses the value of `--report-only[=VALUE]`: `public` (what the bare
    /// flag means) or `all`.
    pub fn parse_flag(value: &str) -> Result<Enforcement, String> {
        match value {
            "" | "public" => Ok(Enforcement::ReportOnly),
            "all" => Ok(Enforcement::ReportOnlyAll),
            other => Err(format!(
                "invalid --report-only value {other:?}: expected \"public\" (the default: non-public addresses stay refused) or \"all\""
            )),
        }
    }

    /// Whether denials are reported rather than enforced (in some cases).
    pub fn is_report_only(self) -> bool {
        self != Enforcement::Enforce
    }

    /// Whether a denial involving `address` (the IP the guest would reach, bind
    /// or hear from; `None` when no address is involved yet, as for a request
    /// by name or a bus topic) is let through.
    pub fn lets_through(self, address: Option<IpAddr>) -> bool {
        match self {
            Enforcement::Enforce => false,
            Enforcement::ReportOnlyAll => true,
            Enforcement::ReportOnly => {
                address.is_none_or(|ip| classify(canonical_ip(ip)) == AddressClass::Public)
            }
        }
    }

    /// `decision` (about `address`, as for [`Enforcement::lets_through`]) as
    /// the host acts on it.
    pub fn judge(self, decision: Decision, address: Option<IpAddr>) -> Judged {
        match decision {
            Decision::Allow(rule) => Judged::Allow(rule),
            Decision::Deny(denial) if self.lets_through(address) => Judged::WouldDeny(denial),
            Decision::Deny(denial) => Judged::Deny(denial),
        }
    }

    /// The line announcing the mode on stderr at start (`None` when enforcing).
    pub fn banner(self) -> Option<&'static str> {
        match self {
            Enforcement::Enforce => None,
            Enforcement::ReportOnly => Some(
                "REPORT-ONLY mode: requests the policy denies are let through and logged as would-deny; non-public addresses (loopback, private, link-local, metadata) stay refused (--report-only=all lets them through too); limits still apply",
            ),
            Enforcement::ReportOnlyAll => Some(
                "REPORT-ONLY mode (all): every request the policy denies is let through and logged as would-deny, non-public addresses included; limits still apply",
            ),
        }
    }
}

impl fmt::Display for Enforcement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Enforcement::Enforce => "enforce",
            Enforcement::ReportOnly => "report-only",
            Enforcement::ReportOnlyAll => "report-only=all",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denial() -> Decision {
        Decision::Deny(Denial {
            reason: "no".into(),
            suggestion: Some("\"https://x.example\"".into()),
            rule: None,
        })
    }

    #[test]
    fn only_report_only_lets_denials_through_and_public_addresses_only_without_all() {
        // (mode, address, let through)
        let cases = [
            (Enforcement::Enforce, None, false),
            (Enforcement::Enforce, Some("93.184.216.34"), false),
            (Enforcement::ReportOnly, None, true),
            (Enforcement::ReportOnly, Some("93.184.216.34"), true),
            (Enforcement::ReportOnly, Some("2606:4700::1"), true),
            (Enforcement::ReportOnly, Some("127.0.0.1"), false),
            (Enforcement::ReportOnly, Some("::1"), false),
            (Enforcement::ReportOnly, Some("::ffff:10.0.0.1"), false),
            (Enforcement::ReportOnly, Some("192.168.1.1"), false),
            (Enforcement::ReportOnly, Some("169.254.169.254"), false),
            (Enforcement::ReportOnly, Some("fd00:ec2::254"), false),
            (Enforcement::ReportOnly, Some("0.0.0.0"), false),
            (Enforcement::ReportOnlyAll, Some("127.0.0.1"), true),
            (Enforcement::ReportOnlyAll, Some("169.254.169.254"), true),
            (Enforcement::ReportOnlyAll, None, true),
        ];
        for (mode, address, want) in cases {
            let ip = address.map(|a| a.parse::<IpAddr>().unwrap_or_else(|e| panic!("{a}: {e}")));
            assert_eq!(mode.lets_through(ip), want, "{mode} {address:?}");
            let judged = mode.judge(denial(), ip);
            assert_eq!(
                matches!(judged, Judged::WouldDeny(_)),
                want,
                "{mode} {address:?}: {judged:?}"
            );
        }
    }

    #[test]
    fn allowed_decisions_stay_allowed_in_every_mode() {
        let rule = RuleRef {
            line: 1,
            text: "https://x.example".into(),
            list: crate::RuleList::Allow,
        };
        for mode in Enforcement::ALL {
            let judged = mode.judge(Decision::Allow(rule.clone()), None);
            assert_eq!(judged, Judged::Allow(rule.clone()), "{mode}");
        }
    }

    #[test]
    fn flag_values() {
        assert_eq!(Enforcement::parse_flag(""), Ok(Enforcement::ReportOnly));
        assert_eq!(
            Enforcement::parse_flag("public"),
            Ok(Enforcement::ReportOnly)
        );
        assert_eq!(
            Enforcement::parse_flag("all"),
            Ok(Enforcement::ReportOnlyAll)
        );
        assert_eq!(
            Enforcement::parse_flag("ALL"),
            Err("invalid --report-only value \"ALL\": expected \"public\" (the default: non-public addresses stay refused) or \"all\"".into())
        );
        for mode in Enforcement::ALL {
            if let Some(v) = mode.flag_value() {
                assert_eq!(Enforcement::parse_flag(v), Ok(mode));
            }
        }
    }
}
