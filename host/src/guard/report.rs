//! Report-only mode in the guard: the one place a policy decision becomes allow, would-deny or deny.

use std::net::IpAddr;

use sandnet_policy::{Decision, Denial, Enforcement, GuestPolicy, Judged, Target};

use super::{Grant, Guard, recheck};
use crate::audit::{AuditEvent, Verdict};

impl Guard {
    /// How this guard acts on denials (`--report-only[=all]`).
    pub fn enforcement(&self) -> Enforcement {
        self.config.enforcement
    }

    /// `decision` as the guard acts on it (see [`Enforcement::judge`]):
    /// `address` is the IP the guest would reach, bind or hear from, if known.
    pub(super) fn judge(&self, decision: Decision, address: Option<IpAddr>) -> Judged {
        self.config.enforcement.judge(decision, address)
    }

    /// Logs a denial report-only mode let through: a warning on stderr and a
    /// `would-deny` audit event (protocol `protocol`, target text `target`)
    /// carrying the reason, the suggested allow-list element and the
    /// resolved `address` it was about, if any.
    pub(super) fn report_would_deny(
        &self,
        protocol: &str,
        event: &'static str,
        target: String,
        method: Option<&str>,
        address: Option<IpAddr>,
        denial: &Denial,
    ) {
        let policy = self.policy.load();
        match &denial.suggestion {
            Some(line) => tracing::warn!(
                "report-only: guest \"{}\" would be denied {event} of {target}: {}; suggested: {line}",
                policy.name,
                denial.reason
            ),
            None => tracing::warn!(
                "report-only: guest \"{}\" would be denied {event} of {target}: {}",
                policy.name,
                denial.reason
            ),
        }
        if !self.audit().enabled() {
            return;
        }
        let mut ev = AuditEvent::new(&policy.name, protocol, event, target, Verdict::WouldDeny);
        ev.reason = Some(denial.reason.clone());
        ev.suggestion = denial.suggestion.clone();
        ev.method = method.map(str::to_owned);
        ev.resolved = address.into_iter().collect();
        ev.rule = denial
            .rule
            .as_ref()
            .map(|r| format!("{}: {}", r.line, r.text));
        self.audit().emit(&ev);
    }

    /// [`Guard::report_would_deny`] for a target of the guard's own checks
    /// (`address`: the resolved address a connection-level denial was about).
    pub(super) fn report_target(
        &self,
        event: &'static str,
        target: &Target,
        address: Option<IpAddr>,
        denial: &Denial,
    ) {
        self.report_would_deny(
            target.scheme.as_str(),
            event,
            target.to_string(),
            target.method.as_deref(),
            address,
            denial,
        );
    }

    /// Asks `policy` again about a live connection's `grant` (see
    /// [`recheck`]); a refusal report-only mode lets through keeps it.
    pub(super) fn recheck_grant(&self, policy: &GuestPolicy, grant: &Grant) -> Result<(), Denial> {
        let named = self.named_snapshot();
        match recheck(policy, grant, &named) {
            Err(denial) => {
                let address = grant
                    .peer()
                    .map(|p| p.ip())
                    .or_else(|| grant.target().host.ip());
                if self.config.enforcement.lets_through(address) {
                    Ok(())
                } else {
                    Err(denial)
                }
            }
            ok => ok,
        }
    }
}
