//! `sandnet policy suggest`: the smallest allow list that grants every target seen in an audit log.
//!
//! Targets are grouped per guest and endpoint (scheme, host, port): one rule
//! per path pattern, each with the methods seen under it. Paths stay exact
//! unless more than [`PATHS_PER_PREFIX`] distinct paths were seen in one
//! directory, which then becomes a prefix (`/v1/items/*`); methods are the
//! ones seen (a request without a method counts as `GET`). A name seen
//! resolving to a non-public address gets that address as an allowance on
//! every rule of its endpoint (so requests on one connection are granted
//! alike). Bus topics are exact unless more than [`PATHS_PER_PREFIX`] share
//! all but their last token, which then becomes `*`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;

use crate::addr::{AddressClass, canonical_ip, classify};
use crate::bus::split_bus_url;
use crate::guest::{quote, rule_text};
use crate::host::Host;
use crate::scheme::Scheme;
use crate::target::Target;

/// More distinct paths than this in one directory (or bus topics under one
/// prefix) are suggested as one prefix rule (`DIR/*`, `PREFIX.*`).
pub const PATHS_PER_PREFIX: usize = 3;

/// One thing a guest did (or tried), as an audit line records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The guest's name.
    pub guest: String,
    /// The target: a URL of any scheme, `bus-publish://TOPIC` or
    /// `bus-subscribe://PATTERN`.
    pub target: String,
    /// The HTTP method, if the guest gave one.
    pub method: Option<String>,
    /// An address the target's host name was seen resolving to (or
    /// connecting to); non-public ones become address allowances.
    pub address: Option<IpAddr>,
    /// A connection-level event: it only tells which `address` the endpoint
    /// reached, and adds no path or method of its own.
    pub connection: bool,
}

/// One suggested allow-list element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuggestedRule {
    /// The rule text.
    pub rule: String,
    /// Non-public addresses its host name must be allowed to reach.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpAddr>,
}

impl SuggestedRule {
    /// The element as typed in a TOML `allow` array.
    pub fn to_toml(&self) -> String {
        if self.addresses.is_empty() {
            return quote(&self.rule);
        }
        let addresses: Vec<String> = self
            .addresses
            .iter()
            .map(|a| quote(&a.to_string()))
            .collect();
        format!(
            "{{ rule = {}, addresses = [{}] }}",
            quote(&self.rule),
            addresses.join(", ")
        )
    }
}

/// The suggested allow list of one guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestSuggestion {
    /// The guest's name.
    pub guest: String,
    /// Its allow list, sorted by scheme, host, port and path.
    pub allow: Vec<SuggestedRule>,
}

/// What an observation could not be read as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The target text.
    pub target: String,
    /// Why.
    pub reason: String,
}

/// An endpoint: what one group of rules shares.
type Endpoint = (Scheme, String, u16);

#[derive(Default)]
struct Seen {
    /// Canonical path -> methods seen on it (`None`: any method, for schemes without methods).
    paths: BTreeMap<String, BTreeSet<Option<String>>>,
    addresses: BTreeSet<IpAddr>,
}

/// The suggested allow lists, one per guest in name order, and the
/// observations that could not be read.
pub fn suggest(observations: &[Observation]) -> (Vec<GuestSuggestion>, Vec<Unreadable>) {
    let mut endpoints: BTreeMap<String, BTreeMap<Endpoint, (Host, Seen)>> = BTreeMap::new();
    let mut bus: BTreeMap<String, BTreeMap<&'static str, BTreeSet<String>>> = BTreeMap::new();
    let mut unreadable = Vec::new();
    for o in observations {
        if let Some((action, subject)) = split_bus_url(&o.target) {
            bus.entry(o.guest.clone())
                .or_default()
                .entry(action.scheme())
                .or_default()
                .insert(subject.to_owned());
            continue;
        }
        let target = match Target::parse(&o.target) {
            Ok(t) => t,
            Err(e) => {
                unreadable.push(Unreadable {
                    target: o.target.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let key = (target.scheme, target.host.to_string(), target.port);
        let (_, seen) = endpoints
            .entry(o.guest.clone())
            .or_default()
            .entry(key)
            .or_insert_with(|| (target.host.clone(), Seen::default()));
        let method = target
            .scheme
            .takes_methods()
            .then(|| o.method.as_deref().unwrap_or("GET").to_ascii_uppercase());
        if !o.connection {
            seen.paths
                .entry(target.path.clone())
                .or_default()
                .insert(method);
        }
        if let (Host::Name(name), Some(ip)) = (&target.host, o.address) {
            let ip = canonical_ip(ip);
            let class = classify(ip);
            let localhost = name == "localhost" && class == AddressClass::Loopback;
            if class != AddressClass::Public && !localhost {
                seen.addresses.insert(ip);
            }
        }
    }
    let mut guests: BTreeSet<String> = endpoints.keys().cloned().collect();
    guests.extend(bus.keys().cloned());
    let out = guests
        .into_iter()
        .map(|guest| {
            let mut allow = Vec::new();
            for ((scheme, _, port), (host, seen)) in endpoints.remove(&guest).unwrap_or_default() {
                let addresses: Vec<IpAddr> = seen.addresses.iter().copied().collect();
                for (path, methods) in group_paths(scheme, &seen.paths) {
                    let methods = methods.map(|m| m.join(","));
                    allow.push(SuggestedRule {
                        rule: rule_text(methods.as_deref(), scheme, &host, port, path.as_deref()),
                        addresses: addresses.clone(),
                    });
                }
            }
            for (action, subjects) in bus.remove(&guest).unwrap_or_default() {
                for subject in group_topics(&subjects) {
                    allow.push(SuggestedRule {
                        rule: format!("{action}://{subject}"),
                        addresses: Vec::new(),
                    });
                }
            }
            GuestSuggestion { guest, allow }
        })
        .collect();
    (out, unreadable)
}

/// The path patterns (rule syntax; `None` for any path) covering `paths`,
/// each with the methods seen under it (`None`: no method list).
fn group_paths(
    scheme: Scheme,
    paths: &BTreeMap<String, BTreeSet<Option<String>>>,
) -> Vec<(Option<String>, Option<Vec<String>>)> {
    if paths.is_empty() {
        return Vec::new();
    }
    if !scheme.has_path() {
        let methods = paths.values().flatten().cloned().collect();
        return vec![(None, method_list(&methods))];
    }
    let mut by_dir: BTreeMap<&str, usize> = BTreeMap::new();
    for path in paths.keys() {
        *by_dir.entry(dir_of(path)).or_default() += 1;
    }
    // Directories with more than the threshold become prefixes; a prefix
    // inside another one is dropped.
    let mut prefixes: Vec<&str> = by_dir
        .iter()
        .filter(|(_, n)| **n > PATHS_PER_PREFIX)
        .map(|(d, _)| *d)
        .collect();
    let all = prefixes.clone();
    prefixes.retain(|p| !all.iter().any(|q| q != p && p.starts_with(q)));
    let mut out: Vec<(Option<String>, BTreeSet<Option<String>>)> = Vec::new();
    for prefix in &prefixes {
        let methods = paths
            .iter()
            .filter(|(p, _)| p.starts_with(prefix))
            .flat_map(|(_, m)| m.iter().cloned())
            .collect();
        let pattern = (*prefix != "/").then(|| format!("{}*", escape(prefix)));
        out.push((pattern, methods));
    }
    for (path, methods) in paths {
        if !prefixes.iter().any(|p| path.starts_with(p)) {
            out.push((Some(escape(path)), methods.clone()));
        }
    }
    out.into_iter().map(|(p, m)| (p, method_list(&m))).collect()
}

/// The directory of a canonical path, with its trailing `/` (`/v1/a` -> `/v1/`).
fn dir_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    }
}

/// A literal `*` in a path is written `%2A` in a rule.
fn escape(path: &str) -> String {
    path.replace('*', "%2A")
}

/// The sorted method list of `methods`, or `None` when it includes "any".
fn method_list(methods: &BTreeSet<Option<String>>) -> Option<Vec<String>> {
    methods
        .iter()
        .cloned()
        .collect::<Option<Vec<String>>>()
        .filter(|m| !m.is_empty())
}

/// Bus subjects, with more than the threshold sharing all but their last
/// token folded into `PREFIX.*`.
fn group_topics(subjects: &BTreeSet<String>) -> Vec<String> {
    let mut by_parent: BTreeMap<&str, usize> = BTreeMap::new();
    for s in subjects {
        if let Some((parent, _)) = s.rsplit_once('.') {
            *by_parent.entry(parent).or_default() += 1;
        }
    }
    let folded: BTreeSet<&str> = by_parent
        .iter()
        .filter(|(_, n)| **n > PATHS_PER_PREFIX)
        .map(|(p, _)| *p)
        .collect();
    let mut out: Vec<String> = folded.iter().map(|p| format!("{p}.*")).collect();
    for s in subjects {
        // `PREFIX.>` reaches deeper than `PREFIX.*`, so it stays.
        let kept = match s.rsplit_once('.') {
            Some((parent, last)) => !folded.contains(parent) || last == ">",
            None => true,
        };
        if kept && !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

/// The suggestions as TOML, ready to paste: a `[guest.NAME]` table each with
/// its `allow` array.
pub fn to_toml(suggestions: &[GuestSuggestion]) -> String {
    let mut out = String::new();
    for (i, g) in suggestions.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("[guest.{}]\nallow = [\n", g.guest));
        for r in &g.allow {
            out.push_str(&format!("  {},\n", r.to_toml()));
        }
        out.push_str("]\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    fn seen(target: &str, method: Option<&str>, address: Option<&str>) -> Observation {
        Observation {
            guest: "g".into(),
            target: target.into(),
            method: method.map(str::to_owned),
            address: address.map(|a| a.parse().unwrap_or_else(|e| panic!("{a}: {e}"))),
            connection: false,
        }
    }

    fn rules(observations: &[Observation]) -> Vec<String> {
        let (out, bad) = suggest(observations);
        assert_eq!(bad, []);
        out.iter()
            .flat_map(|g| g.allow.iter().map(SuggestedRule::to_toml))
            .collect()
    }

    #[test]
    fn groups_per_endpoint_with_exact_paths_and_the_methods_seen() {
        let got = rules(&[
            seen("https://api.example.com/v1/items", None, None),
            seen("https://api.example.com/v1/items", Some("post"), None),
            seen("https://api.example.com/v1/status", Some("GET"), None),
            seen("http://127.0.0.1:8080/ok", None, None),
            seen("wss://chat.example.com/socket", None, None),
            seen("tcp://db.internal:5432", None, Some("10.0.0.7")),
            seen("tcp://db.internal:5432", None, Some("10.0.0.8")),
            seen("http://localhost:3000/", None, Some("127.0.0.1")),
            seen("http://app.example.com/", None, Some("93.184.216.34")),
        ]);
        assert_eq!(
            got,
            [
                "\"GET http://127.0.0.1:8080/ok\"",
                "\"GET http://app.example.com/\"",
                "\"GET http://localhost:3000/\"",
                "\"GET,POST https://api.example.com/v1/items\"",
                "\"GET https://api.example.com/v1/status\"",
                "\"wss://chat.example.com/socket\"",
                "{ rule = \"tcp://db.internal:5432\", addresses = [\"10.0.0.7\", \"10.0.0.8\"] }",
            ]
        );
    }

    #[test]
    fn more_than_the_threshold_in_one_directory_becomes_a_prefix() {
        let mut many: Vec<Observation> = (1..=PATHS_PER_PREFIX + 1)
            .map(|i| seen(&format!("https://a.example/v1/items/{i}"), None, None))
            .collect();
        many.push(seen(
            "https://a.example/v1/items/9/parts",
            Some("DELETE"),
            None,
        ));
        many.push(seen("https://a.example/health", None, None));
        let got = rules(&many);
        assert_eq!(
            got,
            [
                "\"DELETE,GET https://a.example/v1/items/*\"",
                "\"GET https://a.example/health\"",
            ]
        );
        // At the threshold, paths stay exact.
        let few: Vec<Observation> = (1..=PATHS_PER_PREFIX)
            .map(|i| seen(&format!("https://a.example/v1/{i}"), None, None))
            .collect();
        assert_eq!(rules(&few).len(), PATHS_PER_PREFIX);
        // Many paths at the root: any path.
        let root: Vec<Observation> = ["a", "b", "c", "d"]
            .iter()
            .map(|p| seen(&format!("https://a.example/{p}"), None, None))
            .collect();
        assert_eq!(rules(&root), ["\"GET https://a.example\""]);
    }

    #[test]
    fn bus_topics_fold_past_the_threshold() {
        let mut seen_topics: Vec<Observation> = ["a", "b", "c", "d"]
            .iter()
            .map(|t| seen(&format!("bus-publish://metrics.{t}"), None, None))
            .collect();
        seen_topics.push(seen("bus-subscribe://commands.>", None, None));
        seen_topics.push(seen("bus-publish://alerts.disk", None, None));
        assert_eq!(
            rules(&seen_topics),
            [
                "\"bus-publish://metrics.*\"",
                "\"bus-publish://alerts.disk\"",
                "\"bus-subscribe://commands.>\"",
            ]
        );
    }

    #[test]
    fn the_suggested_policy_allows_every_observation() {
        let observations = [
            seen("https://api.example.com/v1/items/1", Some("PUT"), None),
            seen("https://api.example.com/v1/items/2", None, None),
            seen("https://api.example.com/v1/items/3", None, None),
            seen("https://api.example.com/v1/items/4", Some("DELETE"), None),
            seen("https://api.example.com/a*b", None, None),
            seen("http://10.0.0.1/24/x", None, None),
            seen("tcp://db.internal:5432", None, Some("10.1.2.3")),
            seen("udp://[::1]:53", None, None),
            seen("tcp-listen://127.0.0.1:0", None, None),
            seen("bus-subscribe://a.*", None, None),
        ];
        let (out, bad) = suggest(&observations);
        assert_eq!(bad, []);
        let text = to_toml(&out);
        let policy =
            Policy::parse(&text, "suggested.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let guest = policy.guest(Some("g")).unwrap_or_else(|e| panic!("{e}"));
        for o in &observations {
            if let Some((_, subject)) = split_bus_url(&o.target) {
                let pattern = crate::Subject::pattern(subject).unwrap_or_else(|e| panic!("{e}"));
                assert!(
                    guest.check_bus_subscribe(&pattern).is_allowed(),
                    "{o:?}\n{text}"
                );
                continue;
            }
            let mut target = Target::parse(&o.target).unwrap_or_else(|e| panic!("{e}"));
            if let Some(m) = &o.method {
                target = target.with_method(m);
            }
            assert!(guest.check(&target).is_allowed(), "{o:?}\n{text}");
            let via = o.address.or_else(|| target.host.ip());
            if let Some(ip) = via {
                assert!(
                    guest.check_address(&target, ip).is_allowed(),
                    "{o:?}\n{text}"
                );
            }
        }
    }

    #[test]
    fn connection_events_add_addresses_not_paths() {
        let mut connect = seen("http://api.internal/x", None, Some("10.0.0.9"));
        connect.connection = true;
        let only = rules(std::slice::from_ref(&connect));
        assert_eq!(only, Vec::<String>::new());
        let got = rules(&[seen("http://api.internal/x", Some("POST"), None), connect]);
        assert_eq!(
            got,
            ["{ rule = \"POST http://api.internal/x\", addresses = [\"10.0.0.9\"] }"]
        );
    }

    #[test]
    fn unreadable_targets_are_reported_not_dropped() {
        let (out, bad) = suggest(&[seen("tcp://no-port", None, None)]);
        assert_eq!(out, []);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].target, "tcp://no-port");
    }
}
