//! Policy reload: re-checking a live connection's grant against a new policy
//! (the same questions a new connection would be asked), and the report of a
//! reload. Pure: no I/O, unit-tested below.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use sandnet_policy::{Decision, Denial, GuestPolicy, Host, Scheme};

use super::lease::Grant;
use crate::error::NetError;

/// What [`Guard::reload`](super::Guard::reload) did to the guest's live connections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Live connections the new policy still grants (left open).
    pub kept: usize,
    /// Live connections the new policy no longer grants (closed).
    pub revoked: Vec<Revoked>,
}

/// One connection closed by a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The target it was granted (`tcp://db.test:5432`, `ws-listen://0.0.0.0:8080`).
    pub target: String,
    /// Its remote address, if it has one.
    pub peer: Option<SocketAddr>,
    /// Why the new policy refuses it (the operator's full reason).
    pub reason: String,
}

/// Asks `policy` again what was asked when `grant` was given: the request
/// check, then the resolved address (outgoing) or the peer (accepted). A
/// standard socket's address is checked as `wasi:sockets` checks it, with the
/// addresses the policy's names resolved to during the run (`named`; a name
/// never resolved counts as resolving to nothing).
pub fn recheck(
    policy: &GuestPolicy,
    grant: &Grant,
    named: &HashMap<String, Vec<IpAddr>>,
) -> Result<(), Denial> {
    let (target, then) = match grant {
        Grant::Connect { target, peer } => (target, Some(policy.check_address(target, peer.ip()))),
        Grant::Listen { target } => (target, None),
        Grant::Accepted { listen, peer } => (listen, Some(policy.check_peer(listen, peer.ip()))),
        Grant::Socket { target } => return socket_decision(policy, target, named),
        Grant::SocketAccepted { target } => {
            let Host::Ip(ip) = target.host else {
                return Ok(());
            };
            return into_result(policy.check_accept(SocketAddr::new(ip, target.port)));
        }
    };
    if let Decision::Deny(denial) = policy.check(target) {
        return Err(denial);
    }
    match then {
        Some(Decision::Deny(denial)) => Err(denial),
        _ => Ok(()),
    }
}

fn into_result(decision: Decision) -> Result<(), Denial> {
    match decision {
        Decision::Allow(_) => Ok(()),
        Decision::Deny(denial) => Err(denial),
    }
}

/// The standard-socket address check of `Guard::check_socket_addr`, with
/// names answered from `named`.
fn socket_decision(
    policy: &GuestPolicy,
    target: &sandnet_policy::Target,
    named: &HashMap<String, Vec<IpAddr>>,
) -> Result<(), Denial> {
    let Host::Ip(ip) = target.host else {
        return Ok(());
    };
    let addr = SocketAddr::new(ip, target.port);
    let direct = policy.check_socket_direct(Scheme::Tcp, addr);
    if direct.is_allowed() {
        return Ok(());
    }
    let resolved: Vec<(String, Vec<IpAddr>)> = policy
        .socket_name_candidates(Scheme::Tcp, addr.port())
        .into_iter()
        .map(|name| {
            let ips = named.get(&name).cloned().unwrap_or_default();
            (name, ips)
        })
        .collect();
    into_result(policy.check_socket_addr(Scheme::Tcp, addr, &resolved))
}

/// The operator's reason for revoking `grant` (the whole denial) and the
/// `denied` error the guest gets (the denial as the guest may see it).
pub fn revocation(policy: &GuestPolicy, grant: &Grant, denial: &Denial) -> (String, NetError) {
    let target = grant.target();
    let what = target.describe();
    let operator = format!("the policy was reloaded and no longer grants {what}: {denial}");
    let seen = policy.guest_denial(denial, target);
    let guest = Denial {
        reason: format!(
            "the policy was reloaded and no longer grants {what}: {}",
            seen.reason
        ),
        suggestion: seen.suggestion,
        rule: seen.rule,
    };
    (operator, NetError::Denied(guest))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use sandnet_policy::{Policy, Target};

    use super::*;

    fn policy(text: &str) -> GuestPolicy {
        Policy::parse(text, "test.toml")
            .unwrap()
            .guest(None)
            .unwrap()
            .clone()
    }

    fn connect(url: &str, peer: &str) -> Grant {
        Grant::Connect {
            target: Target::parse(url).unwrap(),
            peer: peer.parse().unwrap(),
        }
    }

    #[test]
    fn recheck_asks_the_same_questions_as_a_new_connection() {
        let cases: [(&str, Grant, bool); 8] = [
            (
                r#"allow = ["tcp://127.0.0.1:9000"]"#,
                connect("tcp://127.0.0.1:9000", "127.0.0.1:9000"),
                true,
            ),
            (
                r#"allow = ["tcp://127.0.0.1:9001"]"#,
                connect("tcp://127.0.0.1:9000", "127.0.0.1:9000"),
                false,
            ),
            (
                // The name is still granted, but not the address it was connected to.
                r#"allow = ["tcp://db.test:9000"]"#,
                connect("tcp://db.test:9000", "10.0.0.7:9000"),
                false,
            ),
            (
                r#"allow = [{ rule = "tcp://db.test:9000", addresses = ["10.0.0.0/8"] }]"#,
                connect("tcp://db.test:9000", "10.0.0.7:9000"),
                true,
            ),
            (
                "allow = [\"tcp://127.0.0.1:9000\"]\ndeny = [\"tcp://127.0.0.1:9000\"]",
                connect("tcp://127.0.0.1:9000", "127.0.0.1:9000"),
                false,
            ),
            (
                r#"allow = ["tcp-listen://127.0.0.1:8080"]"#,
                Grant::Listen {
                    target: Target::parse("tcp-listen://127.0.0.1:8080").unwrap(),
                },
                true,
            ),
            (
                r#"allow = [{ rule = "tcp-listen://127.0.0.1:8080", peers = ["10.0.0.5"] }]"#,
                Grant::Accepted {
                    listen: Target::parse("tcp-listen://127.0.0.1:8080").unwrap(),
                    peer: "127.0.0.1:5555".parse().unwrap(),
                },
                false,
            ),
            (
                r#"allow = []"#,
                Grant::Listen {
                    target: Target::parse("ws-listen://127.0.0.1:8080").unwrap(),
                },
                false,
            ),
        ];
        for (text, grant, want) in cases {
            let got = recheck(&policy(text), &grant, &HashMap::new());
            assert_eq!(got.is_ok(), want, "{text:?} {grant:?}: {got:?}");
        }
    }

    #[test]
    fn the_guest_is_told_the_reload_and_the_fix() {
        let p = policy(r#"allow = ["tcp://127.0.0.1:9001"]"#);
        let grant = connect("tcp://127.0.0.1:9000", "127.0.0.1:9000");
        let denial = recheck(&p, &grant, &HashMap::new()).unwrap_err();
        let (operator, guest) = revocation(&p, &grant, &denial);
        assert!(
            operator
                .starts_with("the policy was reloaded and no longer grants tcp://127.0.0.1:9000: "),
            "{operator}"
        );
        let NetError::Denied(d) = guest else {
            panic!("{guest:?}")
        };
        assert!(
            d.reason
                .starts_with("the policy was reloaded and no longer grants tcp://127.0.0.1:9000"),
            "{d:?}"
        );
        assert_eq!(d.suggestion.as_deref(), Some("\"tcp://127.0.0.1:9000\""));
    }

    #[test]
    fn a_revoked_address_is_not_named_to_the_guest() {
        let p = policy(r#"allow = ["tcp://db.test:9000"]"#);
        let grant = connect("tcp://db.test:9000", "10.0.0.7:9000");
        let denial = recheck(&p, &grant, &HashMap::new()).unwrap_err();
        let (operator, guest) = revocation(&p, &grant, &denial);
        assert!(operator.contains("10.0.0.7"), "{operator}");
        assert!(!format!("{guest:?}").contains("10.0.0.7"), "{guest:?}");
    }
}
