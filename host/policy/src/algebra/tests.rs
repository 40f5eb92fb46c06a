//! The algebra against a brute-force oracle: random policies over small universes, enumerated point by point.

use std::net::IpAddr;

use proptest::prelude::*;

use super::*;

/// Allow-list elements the random policies draw from (TOML array elements).
const ALLOW: &[&str] = &[
    r#""https://api.example.com/v1/*""#,
    r#""https://*.example.com""#,
    r#""GET https://api.example.com""#,
    r#""POST,GET http://api.example.com:8080/v1/a""#,
    r#""http://10.0.0.0/8:80""#,
    r#""http://10.0.0.1:8080""#,
    r#""tcp://*.example.com:8080-8081""#,
    r#""tcp://10.0.0.0/31:80""#,
    r#""http://*:80/v2""#,
    r#""https://example.com/v1*""#,
    r#"{ rule = "http://api.example.com", addresses = ["10.0.0.0/8"] }"#,
    r#""http://localhost:80""#,
    r#""tcp://[::1]:443""#,
    r#""tcp://*:*""#,
    r#""DELETE https://a.b.example.com/v1/admin""#,
];

/// Deny-list elements the random policies draw from.
const DENY: &[&str] = &[
    r#""https://api.example.com/v1/admin""#,
    r#""http://10.0.0.2""#,
    r#""tcp://a.b.example.com:8080""#,
    r#""DELETE https://*.example.com""#,
    r#""https://*.b.example.com""#,
    r#""tcp://10.0.0.0/8:*""#,
];

const SCHEMES: &[&str] = &["http", "https", "tcp"];
const NAMES: &[&str] = &[
    "api.example.com",
    "a.b.example.com",
    "example.com",
    "other.org",
    "localhost",
];
const IPS: &[&str] = &[
    "10.0.0.1",
    "10.0.0.2",
    "10.255.255.255",
    "11.0.0.0",
    "127.0.0.1",
    "8.8.8.8",
    "[::1]",
];
/// What the names may resolve to.
const RESOLVED: &[&str] = &[
    "8.8.8.8",
    "10.0.0.1",
    "10.0.0.2",
    "10.255.255.255",
    "11.0.0.0",
    "127.0.0.1",
    "::1",
];
const PORTS: &[u16] = &[80, 443, 8080, 8081, 8082];
const PATHS: &[&str] = &["/", "/v1", "/v1/", "/v1/a", "/v1/admin", "/v1beta", "/v2"];
const METHODS: &[Option<&str>] = &[None, Some("POST"), Some("DELETE"), Some("PUT")];

fn parse(text: &str) -> Policy {
    Policy::parse(text, "p.toml").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn guest_text(allow: &[&str], deny: &[&str]) -> String {
    format!(
        "[guest.g]\nallow = [{}]\ndeny = [{}]\n",
        allow.join(", "),
        deny.join(", ")
    )
}

fn pick<'a>(all: &[&'a str], mask: &[bool]) -> Vec<&'a str> {
    all.iter()
        .zip(mask)
        .filter(|(_, on)| **on)
        .map(|(r, _)| *r)
        .collect()
}

fn ip(text: &str) -> IpAddr {
    text.trim_matches(['[', ']'])
        .parse()
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Whether `p` lets a guest reach `target` through address `via`.
fn reaches(p: &GuestPolicy, target: &Target, via: IpAddr) -> bool {
    p.check(target).is_allowed() && p.check_address(target, via).is_allowed()
}

/// The oracle: some point of the universe `new` lets a guest reach and `old` does not.
fn oracle_differs(new: &GuestPolicy, old: &GuestPolicy) -> Option<String> {
    for scheme in SCHEMES {
        for host in NAMES.iter().chain(IPS) {
            for port in PORTS {
                let paths: &[&str] = if *scheme == "tcp" { &[""] } else { PATHS };
                for path in paths {
                    let url = format!("{scheme}://{host}:{port}{path}");
                    let base = Target::parse(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
                    let methods: &[Option<&str>] = if *scheme == "tcp" { &[None] } else { METHODS };
                    for method in methods {
                        let target = match method {
                            Some(m) => base.clone().with_method(m),
                            None => base.clone(),
                        };
                        let via: Vec<IpAddr> = match target.host {
                            Host::Ip(a) => vec![a],
                            Host::Name(_) => RESOLVED.iter().map(|r| ip(r)).collect(),
                        };
                        for a in via {
                            if reaches(new, &target, a) && !reaches(old, &target, a) {
                                return Some(format!("{} via {a}", target.describe()));
                            }
                        }
                    }
                }
            }
        }
    }
    None
}

/// Each witness the algebra reports is reachable under `new` and not under `old`.
fn assert_witnesses_hold(witnesses: &[Witness], new: &GuestPolicy, old: &GuestPolicy) {
    for w in witnesses {
        if w.capability != Capability::Request && w.capability != Capability::Address {
            continue;
        }
        let (method, url) = match w.target.split_once(' ') {
            Some((m, u)) => (Some(m), u),
            None => (None, w.target.as_str()),
        };
        let target = Target::parse(url).unwrap_or_else(|e| panic!("{w:?}: {e}"));
        let target = match method {
            Some(m) => target.with_method(m),
            None => target,
        };
        let via = w
            .address
            .or_else(|| target.host.ip())
            .unwrap_or_else(|| ip("8.8.8.8"));
        assert!(
            reaches(new, &target, via),
            "{w:?} is not reachable under new"
        );
        assert!(!reaches(old, &target, via), "{w:?} is reachable under old");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn the_algebra_finds_a_witness_iff_the_oracle_finds_a_difference(
        new_allow in proptest::collection::vec(any::<bool>(), ALLOW.len()),
        new_deny in proptest::collection::vec(any::<bool>(), DENY.len()),
        old_allow in proptest::collection::vec(any::<bool>(), ALLOW.len()),
        old_deny in proptest::collection::vec(any::<bool>(), DENY.len()),
    ) {
        let new_text = guest_text(&pick(ALLOW, &new_allow), &pick(DENY, &new_deny));
        let old_text = guest_text(&pick(ALLOW, &old_allow), &pick(DENY, &old_deny));
        let (new, old) = (parse(&new_text), parse(&old_text));
        let (n, o) = (&new.guests()[0], &old.guests()[0]);
        let witnesses = grants_beyond(n, o);
        let oracle = oracle_differs(n, o);
        prop_assert_eq!(
            !witnesses.is_empty(),
            oracle.is_some(),
            "new:\n{}old:\n{}algebra: {:?}\noracle: {:?}",
            new_text, old_text, witnesses, oracle
        );
        assert_witnesses_hold(&witnesses, n, o);
    }
}

const BUS_ALLOW: &[&str] = &[
    r#""bus-publish://a.>""#,
    r#""bus-subscribe://a.*""#,
    r#""bus://a.b""#,
    r#""bus-subscribe://>""#,
    r#""bus://x.*.z""#,
    r#""bus-publish://*""#,
];
const BUS_DENY: &[&str] = &[
    r#""bus://a.b.>""#,
    r#""bus-publish://a.c""#,
    r#""bus-subscribe://x.>""#,
];
const TOPICS: &[&str] = &[
    "a", "a.b", "a.c", "a.d", "a.b.c", "x", "x.y.z", "x.q.z", "q",
];
const PATTERNS: &[&str] = &[
    "a", "a.*", "a.>", "a.b", "a.d", "*", ">", "a.b.>", "x.>", "x.*.z", "x.y.z", "*.b", "*.>",
    "a.*.c",
];

fn bus_oracle(new: &GuestPolicy, old: &GuestPolicy) -> Option<String> {
    for t in TOPICS {
        let s = Subject::topic(t).unwrap_or_else(|e| panic!("{t}: {e}"));
        if new.check_bus_publish(&s).is_allowed() && !old.check_bus_publish(&s).is_allowed() {
            return Some(format!("publish {t}"));
        }
    }
    for p in PATTERNS {
        let s = Subject::pattern(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        if new.check_bus_subscribe(&s).is_allowed() && !old.check_bus_subscribe(&s).is_allowed() {
            return Some(format!("subscribe {p}"));
        }
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn bus_witnesses_iff_the_oracle_finds_a_difference(
        new_allow in proptest::collection::vec(any::<bool>(), BUS_ALLOW.len()),
        new_deny in proptest::collection::vec(any::<bool>(), BUS_DENY.len()),
        old_allow in proptest::collection::vec(any::<bool>(), BUS_ALLOW.len()),
        old_deny in proptest::collection::vec(any::<bool>(), BUS_DENY.len()),
    ) {
        let new_text = guest_text(&pick(BUS_ALLOW, &new_allow), &pick(BUS_DENY, &new_deny));
        let old_text = guest_text(&pick(BUS_ALLOW, &old_allow), &pick(BUS_DENY, &old_deny));
        let (new, old) = (parse(&new_text), parse(&old_text));
        let witnesses = grants_beyond(&new.guests()[0], &old.guests()[0]);
        let oracle = bus_oracle(&new.guests()[0], &old.guests()[0]);
        prop_assert_eq!(
            !witnesses.is_empty(),
            oracle.is_some(),
            "new:\n{}old:\n{}algebra: {:?}\noracle: {:?}",
            new_text, old_text, witnesses, oracle
        );
    }
}

#[test]
fn a_wildcard_added_is_witnessed_by_a_fresh_subdomain() {
    let old = parse(&guest_text(&[r#""https://api.example.com/v1/*""#], &[]));
    let new = parse(&guest_text(
        &[
            r#""https://api.example.com/v1/*""#,
            r#""https://*.example.com""#,
        ],
        &[],
    ));
    let diffs = diff(&old, &new);
    assert_eq!(diffs.len(), 1);
    let d = &diffs[0];
    assert_eq!(d.removed, []);
    let targets: Vec<String> = d.added.iter().map(ToString::to_string).collect();
    assert_eq!(
        targets,
        ["https://sandnet-witness.example.com/ via 8.8.8.8"],
        "{d:?}"
    );
    assert_eq!(
        d.added[0].address.map(|a| a.to_string()).as_deref(),
        Some("8.8.8.8")
    );
    assert_eq!(d.added[0].line, 2);
    assert_eq!(d.added[0].rule, "https://*.example.com");
    assert!(outside(&new, &old).is_empty());
    let out = outside(&old, &new);
    assert_eq!(out.len(), 1, "{out:?}");
}

#[test]
fn witnesses_per_capability() {
    // (old allow, new allow, expected witnesses as "capability target")
    let cases: &[(&str, &str, &[&str])] = &[
        (r#""https://a.example""#, r#""https://a.example""#, &[]),
        (
            r#""GET https://a.example/""#,
            r#""GET,POST https://a.example/""#,
            &["request POST https://a.example/ via 8.8.8.8"],
        ),
        (
            r#""tcp://db.internal:5432""#,
            r#"{ rule = "tcp://db.internal:5432", addresses = ["10.0.0.0/8"] }"#,
            &["address tcp://db.internal:5432 via 10.0.0.0"],
        ),
        (
            r#""tcp://10.0.0.0/8:80-90""#,
            r#""tcp://10.0.0.0/8:80-91""#,
            &["request tcp://10.0.0.0:91"],
        ),
        (
            r#"{ rule = "tcp-listen://127.0.0.1:8080", peers = ["127.0.0.1"] }"#,
            r#""tcp-listen://127.0.0.1:8080""#,
            &["peer tcp-listen://127.0.0.1:8080 from peer 8.8.8.8"],
        ),
        (
            r#""bus-publish://a.b""#,
            r#""bus-publish://a.*""#,
            &["bus-publish bus-publish://a.sandnet-witness"],
        ),
        (
            r#""bus-subscribe://a.*""#,
            r#""bus-subscribe://a.>""#,
            &["bus-subscribe bus-subscribe://a.sandnet-witness.sandnet-witness"],
        ),
    ];
    for (old, new, want) in cases {
        let old_p = parse(&guest_text(&[old], &[]));
        let new_p = parse(&guest_text(&[new], &[]));
        let got: Vec<String> = grants_beyond(&new_p.guests()[0], &old_p.guests()[0])
            .iter()
            .map(|w| {
                let kind = serde_json_kind(w.capability);
                format!("{kind} {w}")
            })
            .collect();
        assert_eq!(got, *want, "old {old} new {new}");
    }
}

fn serde_json_kind(c: Capability) -> &'static str {
    match c {
        Capability::Request => "request",
        Capability::Address => "address",
        Capability::Peer => "peer",
        Capability::BusPublish => "bus-publish",
        Capability::BusSubscribe => "bus-subscribe",
    }
}
