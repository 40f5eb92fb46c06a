//! The finite set of "interesting" points of a set of rules: one representative of every region the rules' boundaries cut each dimension into.
//!
//! Every matcher of the policy crate compares a target's parts against rule
//! parts by equality, suffix, prefix or interval membership. So along each
//! dimension the rules cut the space into finitely many regions on which every
//! rule answers the same; a point of each region is enough:
//!
//! - **IP addresses**: every rule net (hosts, `addresses`, `peers`) and every
//!   address class range is an interval; the start of each elementary interval
//!   (each net's first address and the one after its last, plus `0.0.0.0` and
//!   `::`) represents it. IPv6 forms embedding each IPv4 candidate (NAT64,
//!   6to4) are added, since deny rules naming an IPv4 address catch them.
//! - **Names**: each exact name, each wildcard apex, a fresh label under each
//!   apex (matching exactly the wildcards the apex itself lies under, plus that
//!   one), and a fresh single-label name under no wildcard.
//! - **Ports**: 0 and 1 (port 0 is special for listening), each range's first
//!   port and the one after its last.
//! - **Paths**: `/`, each exact path, each prefix, a prefix without its
//!   trailing `/` (which a `/v1/*` rule also matches), and a fresh child
//!   under each prefix and under `/`.
//! - **Methods**: each method a rule names, `GET` (what a target without a
//!   method is checked as) and a fresh method no rule names.
//! - **Bus subjects**: each rule pattern with wildcards filled by fresh tokens
//!   (`>` by one and by two), and the patterns themselves for subscriptions.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::bus::{BusRule, Token};
use crate::host::HostPattern;
use crate::path::PathPattern;
use crate::ports::PortPattern;
use crate::rule::Rule;

/// A label no rule uses, for fresh names, path segments and bus tokens.
pub(crate) const FRESH: &str = "sandnet-witness";

/// A method no rule names (lengthened until no rule names it).
const FRESH_METHOD: &str = "SANDNETWITNESS";

/// Ranges whose boundaries change an address's class (and so whether a
/// granted name alone may reach it): a representative of each is a candidate.
const CLASS_RANGES: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "169.254.169.254/32",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "::1/128",
    "64:ff9b::/96",
    "64:ff9b:1::/48",
    "2001::/23",
    "2001:db8::/32",
    "2002::/16",
    "fc00::/7",
    "fd00:ec2::254/128",
    "fe80::/10",
    "ff00::/8",
];

/// A public IPv4 address, listed first so witnesses read naturally.
const PUBLIC_V4: Ipv4Addr = Ipv4Addr::new(8, 8, 8, 8);
/// A public IPv6 address.
const PUBLIC_V6: Ipv6Addr = Ipv6Addr::new(0x2606, 0x4700, 0, 0, 0, 0, 0, 1);

/// Candidate IP addresses for `nets` (see the module docs): a public IPv4
/// and IPv6 address first, then the rest in address order.
pub(crate) fn ips(nets: &[IpNet]) -> Vec<IpAddr> {
    let class_nets = CLASS_RANGES.iter().filter_map(|n| n.parse::<IpNet>().ok());
    let mut v4: BTreeSet<u32> = BTreeSet::from([0]);
    let mut v6: BTreeSet<u128> = BTreeSet::from([0]);
    for net in nets.iter().copied().chain(class_nets) {
        match net {
            IpNet::V4(n) => {
                v4.insert(u32::from(n.network()));
                if let Some(after) = u32::from(n.broadcast()).checked_add(1) {
                    v4.insert(after);
                }
            }
            IpNet::V6(n) => {
                v6.insert(u128::from(n.network()));
                if let Some(after) = u128::from(n.broadcast()).checked_add(1) {
                    v6.insert(after);
                }
            }
        }
    }
    let mut out: Vec<IpAddr> = vec![IpAddr::V4(PUBLIC_V4), IpAddr::V6(PUBLIC_V6)];
    out.extend(v4.iter().map(|&a| IpAddr::V4(Ipv4Addr::from(a))));
    out.extend(v6.iter().map(|&a| IpAddr::V6(Ipv6Addr::from(a))));
    for &a in &v4 {
        let [b0, b1, b2, b3] = Ipv4Addr::from(a).octets();
        let nat64 = Ipv6Addr::new(
            0x64,
            0xff9b,
            0,
            0,
            0,
            0,
            u16::from_be_bytes([b0, b1]),
            u16::from_be_bytes([b2, b3]),
        );
        let six_to_four = Ipv6Addr::new(
            0x2002,
            u16::from_be_bytes([b0, b1]),
            u16::from_be_bytes([b2, b3]),
            0,
            0,
            0,
            0,
            1,
        );
        out.extend([IpAddr::V6(nat64), IpAddr::V6(six_to_four)]);
    }
    let mut seen = BTreeSet::new();
    out.retain(|ip| seen.insert(*ip));
    out
}

/// Every net a rule names: its host range, its `addresses` and its `peers`.
pub(crate) fn rule_nets<'r>(rules: impl IntoIterator<Item = &'r Rule>) -> Vec<IpNet> {
    let mut nets = Vec::new();
    for r in rules {
        if let HostPattern::Net(net) = &r.host {
            nets.push(*net);
        }
        nets.extend(r.addresses.iter().copied());
        nets.extend(r.peers.iter().copied());
    }
    nets
}

/// Candidate host names for `rules` (see the module docs): fresh names
/// under each wildcard first (a new wildcard is best shown by a host no
/// other rule names), then the names rules spell; `localhost` is always
/// one, since it alone may reach loopback by name.
pub(crate) fn names<'r>(rules: impl IntoIterator<Item = &'r Rule> + Clone) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |n: String| {
        if !out.contains(&n) {
            out.push(n);
        }
    };
    for r in rules.clone() {
        if let HostPattern::Subdomains(apex) = &r.host {
            push(format!("{FRESH}.{apex}"));
        }
    }
    for r in rules {
        match &r.host {
            HostPattern::Exact(n) | HostPattern::Subdomains(n) => push(n.clone()),
            HostPattern::Any | HostPattern::Net(_) => {}
        }
    }
    push(FRESH.to_owned());
    push("localhost".to_owned());
    out
}

/// Candidate ports for `rules` (see the module docs).
pub(crate) fn ports<'r>(rules: impl IntoIterator<Item = &'r Rule>) -> Vec<u16> {
    let mut out = BTreeSet::from([0u16, 1]);
    for r in rules {
        if let PortPattern::List(list) = &r.ports {
            for &(lo, hi) in list {
                out.insert(lo);
                if let Some(after) = hi.checked_add(1) {
                    out.insert(after);
                }
            }
        }
    }
    out.into_iter().collect()
}

/// Candidate canonical paths for `rules` (see the module docs), `/` first.
pub(crate) fn paths<'r>(rules: impl IntoIterator<Item = &'r Rule>) -> Vec<String> {
    let mut out = vec!["/".to_owned(), format!("/{FRESH}")];
    let mut push = |p: String| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    for r in rules {
        match &r.path {
            PathPattern::Any => {}
            PathPattern::Exact(p) => push(p.clone()),
            PathPattern::Prefix(p) => {
                push(p.clone());
                if let Some(dir) = p.strip_suffix('/') {
                    push(if dir.is_empty() {
                        "/".into()
                    } else {
                        dir.into()
                    });
                    push(format!("{p}{FRESH}"));
                } else {
                    push(format!("{p}{FRESH}"));
                    push(format!("{p}/{FRESH}"));
                }
            }
        }
    }
    out
}

/// Candidate methods for `rules`: `GET` first, then each named, then a fresh one.
pub(crate) fn methods<'r>(rules: impl IntoIterator<Item = &'r Rule>) -> Vec<String> {
    let mut out = vec!["GET".to_owned()];
    for r in rules {
        for m in r.methods.iter().flatten() {
            if !out.contains(m) {
                out.push(m.clone());
            }
        }
    }
    let mut fresh = FRESH_METHOD.to_owned();
    while out.contains(&fresh) {
        fresh.push('X');
    }
    out.push(fresh);
    out
}

/// Candidate concrete bus topics for `rules`: each pattern with `*` filled by
/// a fresh token and `>` by one and by two fresh tokens.
pub(crate) fn topics<'r>(rules: impl IntoIterator<Item = &'r BusRule>) -> Vec<String> {
    let mut out = vec![FRESH.to_owned()];
    for r in rules {
        for rest in [FRESH.to_owned(), format!("{FRESH}.{FRESH}")] {
            let text: Vec<String> = r
                .pattern
                .tokens()
                .iter()
                .map(|t| match t {
                    Token::Lit(l) => l.clone(),
                    Token::One => FRESH.to_owned(),
                    Token::Rest => rest.clone(),
                })
                .collect();
            let text = text.join(".");
            if !out.contains(&text) {
                out.push(text);
            }
        }
    }
    out
}

/// Candidate subscription patterns for `rules`: every topic candidate, every
/// rule pattern, and each pattern with its wildcards narrowed (`>` to `*` and
/// to `FRESH.>`, `*` to a fresh token).
pub(crate) fn patterns<'r>(rules: impl IntoIterator<Item = &'r BusRule> + Clone) -> Vec<String> {
    let mut out = topics(rules.clone());
    let mut push = |p: String| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    push(">".into());
    push("*".into());
    for r in rules {
        let tokens = r.pattern.tokens();
        push(r.pattern.as_str().to_owned());
        for (i, t) in tokens.iter().enumerate() {
            let replacements: &[String] = match t {
                Token::Rest => &["*".into(), format!("{FRESH}.>"), "*.>".into()],
                Token::One => &[FRESH.into(), ">".into()],
                Token::Lit(_) => &["*".into(), ">".into()],
            };
            for rep in replacements {
                let text: Vec<String> = tokens
                    .iter()
                    .enumerate()
                    .map(|(j, t)| {
                        if i == j {
                            return rep.clone();
                        }
                        match t {
                            Token::Lit(l) => l.clone(),
                            Token::One => "*".into(),
                            Token::Rest => ">".into(),
                        }
                    })
                    .collect();
                // `>` only ends a pattern.
                let text = text.join(".");
                if !text.contains(">.") {
                    push(text);
                }
            }
        }
    }
    out
}
