//! Exact comparison of two policies: every capability one grants that the other does not, each with a concrete witness.
//!
//! No solver: each rule dimension (scheme, host, port, path, method,
//! address, bus subject) is cut by the rules' boundaries into finitely many
//! regions on which every rule of both policies answers the same
//! ([`candidates`] builds one point per region). Checking every combination of
//! those points with the real matchers ([`GuestPolicy::check`],
//! [`GuestPolicy::check_address`], [`GuestPolicy::check_peer`],
//! [`GuestPolicy::check_bus_publish`], [`GuestPolicy::check_bus_subscribe`])
//! finds a witness exactly when the policies differ; and every witness
//! reported was allowed by one policy and refused by the other when checked,
//! so none is a false alarm. `algebra::tests` compares the result with a
//! brute-force enumeration of small universes.

mod candidates;
#[cfg(test)]
mod tests;

use std::net::IpAddr;

use serde::Serialize;

use crate::bus::Subject;
use crate::decision::{Decision, RuleRef};
use crate::file::Policy;
use crate::guest::GuestPolicy;
use crate::host::Host;
use crate::rule::Rule;
use crate::scheme::Scheme;
use crate::target::Target;

/// What kind of capability a witness shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// A request (URL, method) or connection target, by IP literal or by a
    /// name resolving to a public address.
    Request,
    /// A connection by name to a resolved address (an address allowance, or
    /// a name rule when the address is public).
    Address,
    /// A peer a listening socket accepts.
    Peer,
    /// Publishing on a bus topic.
    BusPublish,
    /// Subscribing to a bus pattern.
    BusSubscribe,
}

/// A concrete target one policy allows and the other refuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Witness {
    /// What kind of capability it is.
    pub capability: Capability,
    /// The target: `[METHOD ]URL`, `bus-publish://TOPIC` or
    /// `bus-subscribe://PATTERN`.
    pub target: String,
    /// The resolved address (a connection by name) or the peer (listening).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// The line of the rule of the granting policy that allows it.
    pub line: u32,
    /// That rule's text.
    pub rule: String,
    /// Why the other policy refuses it.
    pub refused: String,
}

impl std::fmt::Display for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.target)?;
        if let Some(ip) = self.address {
            match self.capability {
                Capability::Peer => write!(f, " from peer {ip}")?,
                _ => write!(f, " via {ip}")?,
            }
        }
        Ok(())
    }
}

/// The difference between two versions of one guest's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestDiff {
    /// The guest's name.
    pub guest: String,
    /// What the new policy grants that the old does not (one witness per
    /// granting rule and capability).
    pub added: Vec<Witness>,
    /// What the old policy grants that the new does not.
    pub removed: Vec<Witness>,
}

impl GuestDiff {
    /// Whether both versions grant exactly the same.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Every guest of `old` and `new` (by name, in `new`'s order then the rest),
/// compared in both directions. A guest missing from one file grants nothing there.
pub fn diff(old: &Policy, new: &Policy) -> Vec<GuestDiff> {
    let mut names: Vec<&str> = new.guest_names();
    for n in old.guest_names() {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let o = guest_or_empty(old, name);
            let n = guest_or_empty(new, name);
            GuestDiff {
                guest: name.to_owned(),
                added: grants_beyond(&n, &o),
                removed: grants_beyond(&o, &n),
            }
        })
        .collect()
}

/// For each guest of `policy`, what it grants outside `max`: the guest of the
/// same name in `max`, or `max`'s only guest when it has one and no guest of
/// that name. Empty when `policy` stays within `max`.
pub fn outside(max: &Policy, policy: &Policy) -> Vec<GuestDiff> {
    policy
        .guests()
        .iter()
        .map(|g| {
            let bound = match max.guest(Some(&g.name)) {
                Ok(m) => m.clone(),
                Err(_) if max.guests().len() == 1 => max.guests()[0].clone(),
                Err(_) => GuestPolicy::new(&g.name, max.source()),
            };
            GuestDiff {
                guest: g.name.clone(),
                added: grants_beyond(g, &bound),
                removed: Vec::new(),
            }
        })
        .filter(|d| !d.is_empty())
        .collect()
}

fn guest_or_empty(policy: &Policy, name: &str) -> GuestPolicy {
    policy
        .guest(Some(name))
        .cloned()
        .unwrap_or_else(|_| GuestPolicy::new(name, policy.source()))
}

/// Everything `new` grants that `old` refuses: one witness per granting rule
/// of `new` and capability, in the order found.
pub fn grants_beyond(new: &GuestPolicy, old: &GuestPolicy) -> Vec<Witness> {
    let mut found = Found::default();
    for scheme in Scheme::ALL {
        endpoints(new, old, scheme, &mut found);
    }
    bus(new, old, &mut found);
    found.witnesses
}

/// Witnesses found so far, one per (capability, granting rule).
#[derive(Default)]
struct Found {
    witnesses: Vec<Witness>,
}

impl Found {
    fn has(&self, capability: Capability, rule: &RuleRef) -> bool {
        self.witnesses
            .iter()
            .any(|w| w.capability == capability && w.line == rule.line && w.rule == rule.text)
    }

    fn add(
        &mut self,
        capability: Capability,
        target: String,
        address: Option<IpAddr>,
        rule: &RuleRef,
        refused: &Decision,
    ) {
        if self.has(capability, rule) {
            return;
        }
        let refused = match refused {
            Decision::Deny(d) => d.reason.clone(),
            Decision::Allow(_) => String::new(),
        };
        self.witnesses.push(Witness {
            capability,
            target,
            address,
            line: rule.line,
            rule: rule.text.clone(),
            refused,
        });
    }
}

/// Request, address and peer witnesses for targets of `scheme`.
fn endpoints(new: &GuestPolicy, old: &GuestPolicy, scheme: Scheme, found: &mut Found) {
    let covering = |p: &'_ GuestPolicy| -> Vec<Rule> {
        p.allow
            .iter()
            .chain(&p.deny)
            .filter(|r| r.scheme.covers(scheme))
            .cloned()
            .collect()
    };
    if !new.allow.iter().any(|r| r.scheme.covers(scheme)) {
        return;
    }
    let mut rules = covering(new);
    rules.extend(covering(old));
    let nets = candidates::rule_nets(&rules);
    let ips = candidates::ips(&nets);
    let mut hosts: Vec<Host> = candidates::names(&rules)
        .into_iter()
        .map(Host::Name)
        .collect();
    hosts.extend(ips.iter().copied().map(Host::Ip));
    let ports = candidates::ports(&rules);
    let paths = if scheme.has_path() {
        candidates::paths(&rules)
    } else {
        vec![String::new()]
    };
    // No method is checked as GET, so it stands for GET.
    let methods: Vec<Option<String>> = if scheme.takes_methods() {
        let named = candidates::methods(&rules)
            .into_iter()
            .filter(|m| m != "GET");
        std::iter::once(None).chain(named.map(Some)).collect()
    } else {
        vec![None]
    };
    for host in &hosts {
        for &port in &ports {
            if scheme == Scheme::UdpMulticast
                && host
                    .ip()
                    .is_none_or(|ip| crate::addr::classify(ip) != crate::AddressClass::Multicast)
            {
                continue;
            }
            let endpoint = Target {
                scheme,
                host: host.clone(),
                port,
                path: paths[0].clone(),
                method: None,
            };
            // Nothing at this endpoint is allowed without an allow rule for it.
            if !new.allow.iter().any(|r| r.matches_endpoint(&endpoint)) {
                continue;
            }
            // The addresses a connection to this endpoint may reach: the
            // literal itself, or any candidate a name may resolve to.
            let reach: Vec<IpAddr> = match host {
                Host::Ip(ip) => vec![*ip],
                Host::Name(_) => ips.clone(),
            };
            let connects = |p: &GuestPolicy| -> Vec<Decision> {
                reach
                    .iter()
                    .map(|ip| p.check_address(&endpoint, *ip))
                    .collect()
            };
            let (new_conn, old_conn) = (connects(new), connects(old));
            for path in &paths {
                for method in &methods {
                    let target = Target {
                        path: path.clone(),
                        method: method.clone(),
                        ..endpoint.clone()
                    };
                    request_witness(new, old, &target, &reach, &new_conn, &old_conn, found);
                }
            }
            if scheme.listens() {
                peer_witnesses(new, old, &endpoint, &ips, found);
            }
        }
    }
}

/// Compares one request target: allowed by `new` (request and a connection
/// to some reachable address) and refused by `old` (either check).
fn request_witness(
    new: &GuestPolicy,
    old: &GuestPolicy,
    target: &Target,
    reach: &[IpAddr],
    new_conn: &[Decision],
    old_conn: &[Decision],
    found: &mut Found,
) {
    let Decision::Allow(rule) = new.check(target) else {
        return;
    };
    let old_request = old.check(target);
    let by_name = matches!(target.host, Host::Name(_));
    for ((ip, n), o) in reach.iter().zip(new_conn).zip(old_conn) {
        if !n.is_allowed() {
            continue;
        }
        let public = crate::addr::classify(*ip) == crate::AddressClass::Public;
        if !old_request.is_allowed() {
            // By name through a public address, the request is the news.
            let (capability, address) = if !by_name {
                (Capability::Request, None)
            } else if public {
                (Capability::Request, Some(*ip))
            } else {
                (Capability::Address, Some(*ip))
            };
            found.add(capability, target.describe(), address, &rule, &old_request);
            if capability == Capability::Request {
                return;
            }
        } else if !o.is_allowed() {
            let granting = n.rule().cloned().unwrap_or_else(|| rule.clone());
            let capability = if by_name {
                Capability::Address
            } else {
                Capability::Request
            };
            found.add(
                capability,
                target.describe(),
                by_name.then_some(*ip),
                &granting,
                o,
            );
        }
    }
}

/// Peers a listening endpoint accepts under `new` but not `old` (both must
/// grant the listen itself for the peer to be the difference).
fn peer_witnesses(
    new: &GuestPolicy,
    old: &GuestPolicy,
    listen: &Target,
    ips: &[IpAddr],
    found: &mut Found,
) {
    if !new.check(listen).is_allowed() || !old.check(listen).is_allowed() {
        return;
    }
    for ip in ips {
        if let Decision::Allow(rule) = new.check_peer(listen, *ip) {
            let refused = old.check_peer(listen, *ip);
            if !refused.is_allowed() {
                found.add(
                    Capability::Peer,
                    listen.to_string(),
                    Some(*ip),
                    &rule,
                    &refused,
                );
            }
        }
    }
}

/// Bus publish and subscribe witnesses.
fn bus(new: &GuestPolicy, old: &GuestPolicy, found: &mut Found) {
    if new.bus_allow.is_empty() {
        return;
    }
    let rules: Vec<_> = new
        .bus_allow
        .iter()
        .chain(&new.bus_deny)
        .chain(&old.bus_allow)
        .chain(&old.bus_deny)
        .collect();
    for topic in candidates::topics(rules.iter().copied()) {
        let Ok(subject) = Subject::topic(&topic) else {
            continue;
        };
        if let Decision::Allow(rule) = new.check_bus_publish(&subject) {
            let refused = old.check_bus_publish(&subject);
            if !refused.is_allowed() {
                let target = format!("bus-publish://{subject}");
                found.add(Capability::BusPublish, target, None, &rule, &refused);
            }
        }
    }
    for pattern in candidates::patterns(rules.iter().copied()) {
        let Ok(subject) = Subject::pattern(&pattern) else {
            continue;
        };
        if let Decision::Allow(rule) = new.check_bus_subscribe(&subject) {
            let refused = old.check_bus_subscribe(&subject);
            if !refused.is_allowed() {
                let target = format!("bus-subscribe://{subject}");
                found.add(Capability::BusSubscribe, target, None, &rule, &refused);
            }
        }
    }
}
