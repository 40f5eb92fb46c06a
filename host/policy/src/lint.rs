//! Warnings about over-broad allow rules (`sandnet check`): valid, but probably more reach than intended.

use std::fmt;

use ipnet::IpNet;

use crate::AddressClass;
use crate::addr::classify;
use crate::guest::GuestPolicy;
use crate::host::HostPattern;
use crate::ports::PortPattern;
use crate::rule::Rule;
use crate::scheme::Scheme;

/// One warning about a rule. Displays as `[guest.NAME] message`; prefix it
/// with `FILE:LINE: warning: ` when printing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lint {
    /// Line of the rule.
    pub line: u32,
    /// The guest whose rule it is.
    pub guest: String,
    /// What is broad and what to do instead.
    pub message: String,
}

impl fmt::Display for Lint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[guest.{}] {}", self.guest, self.message)
    }
}

/// Top-level domains and suffixes that never name public hosts.
const LOCAL_SUFFIXES: [&str; 11] = [
    "localhost",
    "local",
    "internal",
    "test",
    "invalid",
    "example",
    "lan",
    "home",
    "corp",
    "intranet",
    "home.arpa",
];

fn is_local_name(name: &str) -> bool {
    LOCAL_SUFFIXES
        .iter()
        .any(|s| name == *s || name.strip_suffix(s).is_some_and(|rest| rest.ends_with('.')))
}

fn is_wide(net: &IpNet) -> bool {
    match net {
        IpNet::V4(n) => n.prefix_len() <= 8,
        IpNet::V6(n) => n.prefix_len() <= 32,
    }
}

fn rule_lints(rule: &Rule) -> Vec<String> {
    let text = &rule.text;
    let mut out = Vec::new();
    match &rule.host {
        HostPattern::Any => out.push(format!("rule \"{text}\" allows any host; name the hosts the guest needs")),
        HostPattern::Net(net) if net.prefix_len() == 0 => {
            out.push(format!("rule \"{text}\" allows every address; name the addresses the guest needs"));
        }
        HostPattern::Net(net) if is_wide(net) => out.push(format!(
            "rule \"{text}\" allows the whole range {net}; narrow it to the addresses the guest needs"
        )),
        HostPattern::Subdomains(apex) if !apex.contains('.') => out.push(format!(
            "rule \"{text}\" allows every name under the top-level domain \"{apex}\"; name the domains the guest needs"
        )),
        _ => {}
    }
    if rule.ports == PortPattern::Any && rule.scheme != Scheme::UdpMulticast {
        out.push(format!(
            "rule \"{text}\" allows any port; list the ports the guest needs"
        ));
    }
    for net in &rule.addresses {
        if net.prefix_len() == 0 {
            out.push(format!(
                "address allowance {net} of rule \"{text}\" lets the name resolve to any address, including loopback and cloud metadata; list the addresses the name really has"
            ));
        } else if is_wide(net) {
            out.push(format!(
                "address allowance {net} of rule \"{text}\" is very wide; list the addresses the name really has"
            ));
        }
    }
    let public = match &rule.host {
        HostPattern::Exact(name) | HostPattern::Subdomains(name) => {
            !is_local_name(name) && rule.addresses.is_empty()
        }
        HostPattern::Net(net) => {
            classify(net.network()) == AddressClass::Public
                && classify(net.broadcast()) == AddressClass::Public
        }
        HostPattern::Any => false,
    };
    if rule.topics.as_ref().is_some_and(|t| t.is_everything()) {
        out.push(format!(
            "rule \"{text}\" grants every MQTT topic of the broker; name the topics the guest needs, like \"{}://broker/sensors/#\"",
            rule.scheme
        ));
    }
    if public && rule.scheme.is_cleartext_web() {
        out.push(format!(
            "rule \"{text}\" sends requests to a public host unencrypted (credentials in clear); use {} unless the service has no TLS",
            match rule.scheme {
                Scheme::Ws => "wss",
                Scheme::SseHttp => "sse+https",
                _ => "https",
            }
        ));
    }
    out
}

/// Lints every allow rule of every guest, in file order.
pub(crate) fn lint(guests: &[GuestPolicy]) -> Vec<Lint> {
    let mut lints = Vec::new();
    for guest in guests {
        for rule in &guest.allow {
            for message in rule_lints(rule) {
                lints.push(Lint {
                    line: rule.line,
                    guest: guest.name.clone(),
                    message,
                });
            }
        }
        for rule in guest.bus_allow.iter().filter(|r| r.pattern.is_everything()) {
            lints.push(Lint {
                line: rule.line,
                guest: guest.name.clone(),
                message: format!(
                    "rule \"{}\" grants every bus topic, including other guests' replies and commands; name the topics the guest needs, like \"{}://telemetry.>\"",
                    rule.text,
                    rule.action.scheme()
                ),
            });
        }
    }
    lints
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lints() {
        let cases: [(&str, &[&str], &[&str]); 18] = [
            ("https://api.example.com/v1/*", &[], &[]),
            (
                "https://*",
                &[],
                &["rule \"https://*\" allows any host; name the hosts the guest needs"],
            ),
            (
                "https://*:*",
                &[],
                &[
                    "rule \"https://*:*\" allows any host; name the hosts the guest needs",
                    "rule \"https://*:*\" allows any port; list the ports the guest needs",
                ],
            ),
            (
                "tcp://db.internal:*",
                &[],
                &["rule \"tcp://db.internal:*\" allows any port; list the ports the guest needs"],
            ),
            (
                "tcp://0.0.0.0/0:5432",
                &[],
                &[
                    "rule \"tcp://0.0.0.0/0:5432\" allows every address; name the addresses the guest needs",
                ],
            ),
            (
                "tcp://10.0.0.0/8:5432",
                &[],
                &[
                    "rule \"tcp://10.0.0.0/8:5432\" allows the whole range 10.0.0.0/8; narrow it to the addresses the guest needs",
                ],
            ),
            ("tcp://10.0.0.0/16:5432", &[], &[]),
            (
                "mqtt://broker.example/#",
                &[],
                &[
                    "rule \"mqtt://broker.example/#\" grants every MQTT topic of the broker; name the topics the guest needs, like \"mqtt://broker/sensors/#\"",
                ],
            ),
            ("mqtt://broker.example/sensors/#", &[], &[]),
            (
                "tcp://[2000::/3]:5432",
                &[],
                &[
                    "rule \"tcp://[2000::/3]:5432\" allows the whole range 2000::/3; narrow it to the addresses the guest needs",
                ],
            ),
            (
                "https://*.com",
                &[],
                &[
                    "rule \"https://*.com\" allows every name under the top-level domain \"com\"; name the domains the guest needs",
                ],
            ),
            ("https://*.example.com", &[], &[]),
            (
                "http://api.example.com",
                &[],
                &[
                    "rule \"http://api.example.com\" sends requests to a public host unencrypted (credentials in clear); use https unless the service has no TLS",
                ],
            ),
            (
                "ws://chat.example.com",
                &[],
                &[
                    "rule \"ws://chat.example.com\" sends requests to a public host unencrypted (credentials in clear); use wss unless the service has no TLS",
                ],
            ),
            ("http://localhost:8080", &[], &[]),
            ("http://app.internal", &[], &[]),
            ("http://db.example.com", &["10.0.0.7"], &[]),
            (
                "tcp://db.example.com:5432",
                &["0.0.0.0/0"],
                &[
                    "address allowance 0.0.0.0/0 of rule \"tcp://db.example.com:5432\" lets the name resolve to any address, including loopback and cloud metadata; list the addresses the name really has",
                ],
            ),
        ];
        for (text, addresses, want) in cases {
            let rule = Rule::parse(text, 1)
                .and_then(|r| r.with_addresses(addresses))
                .unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(rule_lints(&rule), want, "{text:?} {addresses:?}");
        }
    }
}
