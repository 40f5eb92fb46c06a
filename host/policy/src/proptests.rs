//! Property tests: the parsers never panic, checked targets survive a round trip, deny prefixes survive path tricks.
//!
//! Each property runs proptest's default case count (256) so `cargo test`
//! stays fast; set `PROPTEST_CASES=100000` to run them long.

use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::path::normalize;
use crate::{Decision, GuestPolicy, Policy, Target, canonical_method};

fn config() -> Config {
    Config {
        // Findings become table tests; no regression files in the source tree.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Fragments of policy files, so random files get past the TOML parser often.
fn toml_ish() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("\n".to_string()),
        Just("[guest.a]\n".to_string()),
        Just("[guest.b.limits]\n".to_string()),
        Just("[limits]\n".to_string()),
        Just("allow = [".to_string()),
        Just("deny = [".to_string()),
        Just("]\n".to_string()),
        Just(", ".to_string()),
        Just("{ rule = ".to_string()),
        Just(", addresses = [\"10.0.0.0/8\"] }".to_string()),
        Just(", peers = [\"::1\"] }".to_string()),
        Just("env = { A = \"b\" }\n".to_string()),
        Just("ca_bundle = \"x.pem\"\n".to_string()),
        Just("denial_detail = \"minimal\"\n".to_string()),
        Just("memory = \"10 MiB\"\n".to_string()),
        Just("connect_timeout = \"5s\"\n".to_string()),
        Just("max_redirects = 0\n".to_string()),
        Just("guest = 1\n".to_string()),
        "[a-z_]{1,12} = [0-9]{1,20}\n",
        "\"[ -~]{0,40}\"",
        rule_ish().prop_map(|r| format!("{r:?}")),
    ];
    prop::collection::vec(fragment, 0..30).prop_map(|parts| parts.concat())
}

/// Rule-like and URL-like text with the characters parsers trip on.
fn rule_ish() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        Just("http"),
        Just("https"),
        Just("ws"),
        Just("sse+https"),
        Just("tcp"),
        Just("tcp-listen"),
        Just("udp-bind"),
        Just("udp-multicast"),
        Just("htp"),
    ];
    let methods = prop_oneof![Just(""), Just("GET "), Just("GET,POST "), Just("g!t ")];
    (
        methods,
        scheme,
        "[a-z0-9.*\\[\\]:/%@_-]{0,24}",
        "(:[0-9*,-]{0,12})?",
        "[/a-z.;%\\\\*?#0-9A-F]{0,24}",
    )
        .prop_map(|(m, s, host, port, path)| format!("{m}{s}://{host}{port}{path}"))
}

/// Hostile paths: dot segments, empty segments, backslashes, escapes, params, non-ASCII.
fn hostile_path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_string()),
        Just("//".to_string()),
        Just("\\".to_string()),
        Just("..".to_string()),
        Just(".".to_string()),
        Just("%2e".to_string()),
        Just("%2F".to_string()),
        Just("%2f".to_string()),
        Just("%5C".to_string()),
        Just("%3B".to_string()),
        Just("%25".to_string()),
        Just("%".to_string()),
        Just(";".to_string()),
        Just(";x=1".to_string()),
        Just("%00".to_string()),
        Just("%c0%ae".to_string()),
        Just("[".to_string()),
        Just("*".to_string()),
        Just("é".to_string()),
        Just(" ".to_string()),
        "[a-z]{1,4}",
        "%[0-9A-Fa-f]{2}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|p| format!("/{}", p.concat()))
}

fn guest(allow: &[&str], deny: &[&str]) -> GuestPolicy {
    let mut g = GuestPolicy::new("p", "p.toml");
    for (i, text) in allow.iter().enumerate() {
        if let Ok(rule) = crate::Rule::parse(text, u32::try_from(i).unwrap_or(0) + 1) {
            g.allow.push(rule);
        }
    }
    for (i, text) in deny.iter().enumerate() {
        if let Ok(rule) = crate::Rule::parse(text, u32::try_from(i).unwrap_or(0) + 100) {
            g.deny.push(rule);
        }
    }
    g
}

/// One way a server may read a path: a trick applied to the segments under a deny prefix.
#[derive(Debug, Clone)]
enum Trick {
    /// `/junk/../` before the path.
    DotDot,
    /// `/junk/..;/` before the path (Tomcat, Jetty).
    DotDotParam,
    /// `/junk/..%2F` before the path (servers decoding `%2F`).
    DotDotEncoded,
    /// `/junk%2F..%2F` before the path.
    EncodedDotDot,
    /// `./` before the segment.
    Dot(usize),
    /// The separator before the segment doubled (nginx `merge_slashes`).
    Double(usize),
    /// The separator before the segment as `\`.
    Backslash(usize),
    /// The separator before the segment as `%2F`, `%2f` or `%5C`.
    Encoded(usize, u8),
    /// `;params` after the segment.
    Param(usize),
    /// The segment's first letter percent-encoded; twice, the `%` of that
    /// escape encoded again (a server decoding twice reads the letter).
    /// Servers decoding three times are not modelled.
    EscapedLetter(usize),
}

fn trick() -> impl Strategy<Value = Trick> {
    prop_oneof![
        Just(Trick::DotDot),
        Just(Trick::DotDotParam),
        Just(Trick::DotDotEncoded),
        Just(Trick::EncodedDotDot),
        (0usize..6).prop_map(Trick::Dot),
        (0usize..6).prop_map(Trick::Double),
        (0usize..6).prop_map(Trick::Backslash),
        ((0usize..6), (0u8..3)).prop_map(|(i, k)| Trick::Encoded(i, k)),
        (0usize..6).prop_map(Trick::Param),
        (0usize..6).prop_map(Trick::EscapedLetter),
    ]
}

/// `segments` joined into a path with `tricks` applied. Separators before the
/// first segment stay plain `/` except for doubling, so the path still starts
/// where the prefix does.
fn tricked_path(segments: &[String], tricks: &[Trick]) -> String {
    let mut seps: Vec<String> = vec!["/".to_string(); segments.len()];
    let mut segs: Vec<String> = segments.to_vec();
    let mut lead = String::new();
    for t in tricks {
        match *t {
            Trick::DotDot => lead = format!("/junk/..{lead}"),
            Trick::DotDotParam => lead = format!("/junk/..;{lead}"),
            Trick::DotDotEncoded => lead = format!("/junk/..%2F{lead}"),
            Trick::EncodedDotDot => lead = format!("/junk%2F..%2F{lead}"),
            Trick::Dot(i) => {
                if let Some(s) = segs.get_mut(i) {
                    *s = format!(".{}{s}", seps[i]);
                }
            }
            Trick::Double(i) => {
                if let Some(sep) = seps.get_mut(i) {
                    sep.push('/');
                }
            }
            Trick::Backslash(i) if i > 0 && i < seps.len() => seps[i] = "\\".into(),
            Trick::Encoded(i, k) if i > 0 && i < seps.len() => {
                seps[i] = ["%2F", "%2f", "%5C"][usize::from(k % 3)].into();
            }
            Trick::Param(i) => {
                if let Some(s) = segs.get_mut(i) {
                    s.push_str(";jsessionid=1");
                }
            }
            Trick::EscapedLetter(i) => {
                if let Some(s) = segs.get_mut(i)
                    && let Some(c) = s.chars().next()
                    && !s.starts_with("%25")
                {
                    *s = format!("%{:02X}{}", u32::from(c), &s[c.len_utf8()..]);
                }
            }
            _ => {}
        }
    }
    let mut path = lead;
    for (sep, seg) in seps.iter().zip(&segs) {
        path.push_str(sep);
        path.push_str(seg);
    }
    if path.is_empty() {
        path.push('/');
    }
    path
}

/// How servers read a request path, modelled apart from [`crate::path`]:
/// every combination of decoding encoded separators, dropping `;params` and
/// merging slashes, each followed by dot-segment removal.
fn server_readings(wire: &str) -> Vec<String> {
    let mut out = vec![wire.to_string()];
    for flags in 0u8..8 {
        let mut s = wire.to_string();
        if flags & 1 != 0 {
            for enc in ["%2F", "%2f", "%5C", "%5c"] {
                s = s.replace(enc, "/");
            }
            s = s.replace("%3B", ";").replace("%3b", ";");
        }
        if flags & 2 != 0 {
            s = s
                .split('/')
                .map(|seg| seg.split(';').next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("/");
        }
        if flags & 4 != 0 {
            while s.contains("//") {
                s = s.replace("//", "/");
            }
        }
        let mut stack: Vec<&str> = Vec::new();
        let segs: Vec<&str> = s.strip_prefix('/').unwrap_or(&s).split('/').collect();
        let last = segs.len().saturating_sub(1);
        for (i, seg) in segs.iter().enumerate() {
            match *seg {
                "." | ".." => {
                    if *seg == ".." {
                        stack.pop();
                    }
                    if i == last {
                        stack.push("");
                    }
                }
                other => stack.push(other),
            }
        }
        out.push(format!("/{}", stack.join("/")));
    }
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn policy_parser_never_panics(text in any::<String>()) {
        if let Ok(p) = Policy::parse(&text, "p.toml") {
            let _ = p.lint();
        }
    }

    #[test]
    fn policy_parser_never_panics_on_toml_ish_text(text in toml_ish()) {
        if let Ok(p) = Policy::parse(&text, "p.toml") {
            let _ = p.lint();
            for g in p.guests() {
                if let Ok(t) = Target::parse("https://x.example/a") {
                    let _ = g.check(&t);
                }
            }
        }
    }

    #[test]
    fn target_parser_never_panics(text in any::<String>(), url in rule_ish()) {
        let _ = Target::parse(&text);
        let _ = Target::parse(&url);
        let _ = crate::Rule::parse(&url, 1);
        let _ = canonical_method(&text);
    }

    #[test]
    fn allowed_targets_survive_a_round_trip(
        scheme in prop_oneof![Just("http"), Just("https"), Just("ws"), Just("sse+http")],
        host in prop_oneof![Just("api.example.com"), Just("127.0.0.1"), Just("[::1]"), Just("10.1.2.3")],
        path in hostile_path(),
        method in prop_oneof![Just("GET"), Just("post"), Just("Delete")],
    ) {
        let g = guest(
            &[
                "http://*:*",
                "https://api.example.com/v1/*",
                "GET https://*/a*",
                "ws://127.0.0.1/*",
                "sse+http://10.0.0.0/8/x/*",
                "http://[::1]/a/*",
                "https://*",
            ],
            &["http://*/admin/*", "https://api.example.com/v1/admin/*"],
        );
        let url = format!("{scheme}://{host}{path}");
        if let Ok(t) = Target::parse(&url) {
            let t = t.with_method(method);
            let checked = t.request_path();
            prop_assert_eq!(normalize(checked), checked, "{:?}", url);
            prop_assert!(checked.bytes().all(|b| b.is_ascii_graphic()), "{:?}", url);
            let again = Target::parse(&format!("{}{checked}", t.origin()))
                .map(|a| a.with_method(method));
            prop_assert_eq!(again.as_ref(), Ok(&t), "{:?}", url);
            if let Decision::Allow(rule) = g.check(&t) {
                let again_decision = again.map(|a| g.check(&a));
                prop_assert_eq!(again_decision, Ok(Decision::Allow(rule)), "{:?}", url);
            }
        }
    }

    #[test]
    fn deny_prefixes_catch_tricked_paths(
        prefix in prop::collection::vec("[a-z]{1,5}", 1..3),
        rest in prop::collection::vec("[a-z0-9]{1,5}", 0..3),
        tricks in prop::collection::vec(trick(), 0..5),
    ) {
        let deny = format!("https://h.example/{}/*", prefix.join("/"));
        let g = guest(&["https://h.example"], &[&deny]);
        let segments: Vec<String> = prefix.iter().chain(&rest).cloned().collect();
        let path = tricked_path(&segments, &tricks);
        let url = format!("https://h.example{path}");
        let t = Target::parse(&url);
        prop_assert!(t.is_ok(), "{:?}: {:?}", url, t);
        if let Ok(t) = t {
            // What reaches the server is the checked form; a deny rule must
            // win whenever some server reads that form as under its prefix.
            let dir = format!("/{}", prefix.join("/"));
            let under = server_readings(t.request_path())
                .into_iter()
                .find(|r| *r == dir || r.starts_with(&format!("{dir}/")));
            if let Some(reading) = under {
                let decision = g.check(&t);
                prop_assert!(
                    !decision.is_allowed(),
                    "{:?} (sent as {}, read as {:?}) passes {:?}", url, t, reading, deny
                );
            }
            // Without opaque tricks the path is plainly under the prefix.
            let opaque = tricks.iter().any(|t| matches!(t, Trick::DotDotEncoded | Trick::EncodedDotDot));
            if !opaque {
                prop_assert!(!g.check(&t).is_allowed(), "{:?} ({}) passes {:?}", url, t, deny);
            }
        }
    }
}

#[test]
fn tricked_paths_look_as_intended() {
    let segs: Vec<String> = ["admin", "users"].iter().map(|s| s.to_string()).collect();
    let cases = [
        (vec![], "/admin/users"),
        (vec![Trick::DotDot], "/junk/../admin/users"),
        (vec![Trick::DotDotParam], "/junk/..;/admin/users"),
        (vec![Trick::DotDotEncoded], "/junk/..%2F/admin/users"),
        (vec![Trick::EncodedDotDot], "/junk%2F..%2F/admin/users"),
        (vec![Trick::Double(0), Trick::Double(1)], "//admin//users"),
        (vec![Trick::Backslash(1)], "/admin\\users"),
        (vec![Trick::Encoded(1, 0)], "/admin%2Fusers"),
        (vec![Trick::Param(0)], "/admin;jsessionid=1/users"),
        (vec![Trick::EscapedLetter(0)], "/%61dmin/users"),
        (vec![Trick::Dot(1)], "/admin/./users"),
    ];
    for (input, want) in cases {
        assert_eq!(tricked_path(&segs, &input), want, "{input:?}");
    }
}

/// A small pattern over the token universe {a, b}: up to 4 tokens, `>` last only.
fn bus_pattern() -> impl Strategy<Value = String> {
    let token = prop_oneof![Just("a"), Just("b"), Just("*")];
    (prop::collection::vec(token, 0..4), any::<bool>()).prop_filter_map(
        "empty pattern",
        |(tokens, rest)| {
            let mut tokens: Vec<&str> = tokens;
            if rest {
                tokens.push(">");
            }
            (!tokens.is_empty()).then(|| tokens.join("."))
        },
    )
}

/// Every sequence of 1 to `max_len` words from `alphabet`: the concrete
/// topics a brute-force containment check tries.
fn all_words(alphabet: &[&'static str], max_len: usize) -> Vec<Vec<&'static str>> {
    let mut out: Vec<Vec<&'static str>> = vec![vec![]];
    let mut all = Vec::new();
    for _ in 0..max_len {
        out = out
            .iter()
            .flat_map(|t| {
                alphabet.iter().map(|x| {
                    let mut t = t.clone();
                    t.push(*x);
                    t
                })
            })
            .collect();
        all.extend(out.iter().cloned());
    }
    all
}

/// Every concrete topic over {a, b, c} of 1 to `max_len` tokens (`c` stands
/// for any token neither pattern names).
fn all_topics(max_len: usize) -> Vec<Vec<&'static str>> {
    all_words(&["a", "b", "c"], max_len)
}

proptest! {
    #![proptest_config(config())]

    /// Pattern containment agrees with brute force over every topic up to one
    /// token longer than either pattern.
    #[test]
    fn bus_containment_matches_brute_force(outer in bus_pattern(), inner in bus_pattern()) {
        let o = crate::Subject::pattern(&outer).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let i = crate::Subject::pattern(&inner).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let topics = all_topics(o.tokens().len().max(i.tokens().len()) + 1);
        let brute = topics.iter().all(|t| !i.matches_tokens(t) || o.matches_tokens(t));
        prop_assert_eq!(o.contains(&i), brute, "{} contains {}", outer, inner);
        let overlap = topics.iter().any(|t| i.matches_tokens(t) && o.matches_tokens(t));
        prop_assert_eq!(o.overlaps(&i), overlap, "{} overlaps {}", outer, inner);
    }

    /// Subject parsing never panics.
    #[test]
    fn bus_subject_parse_never_panics(text in "[a-b.*> ]{0,12}") {
        let _ = crate::Subject::pattern(&text);
        let _ = crate::Subject::topic(&text);
    }
}

/// A small MQTT filter over the levels {a, $s, ""}: up to 4 levels, `#` last only.
fn mqtt_filter() -> impl Strategy<Value = String> {
    let level = prop_oneof![Just("a"), Just("$s"), Just(""), Just("+")];
    (prop::collection::vec(level, 0..4), any::<bool>()).prop_filter_map(
        "empty filter",
        |(levels, rest)| {
            let mut levels: Vec<&str> = levels;
            if rest {
                levels.push("#");
            }
            let text = levels.join("/");
            (!text.is_empty()).then_some(text)
        },
    )
}

/// Every concrete MQTT topic over {a, $s, "", c} of 1 to `max_len` levels.
fn all_mqtt_topics(max_len: usize) -> Vec<String> {
    all_words(&["a", "$s", "", "c"], max_len)
        .iter()
        .map(|t| t.join("/"))
        .filter(|t| !t.is_empty())
        .collect()
}

proptest! {
    #![proptest_config(config())]

    /// MQTT filter containment agrees with brute force over every topic up
    /// to one level longer than either filter (so a subscription inside a
    /// grant never receives a topic the grant does not match).
    #[test]
    fn mqtt_containment_matches_brute_force(outer in mqtt_filter(), inner in mqtt_filter()) {
        let o = crate::TopicFilter::filter(&outer).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let i = crate::TopicFilter::filter(&inner).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let depth = outer.split('/').count().max(inner.split('/').count()) + 1;
        let topics: Vec<crate::TopicFilter> = all_mqtt_topics(depth)
            .iter()
            .filter_map(|t| crate::TopicFilter::topic(t).ok())
            .collect();
        let brute = topics.iter().all(|t| !i.matches(t) || o.matches(t));
        prop_assert_eq!(o.contains(&i), brute, "{} contains {}", outer, inner);
    }

    /// MQTT topic and filter parsing never panics.
    #[test]
    fn mqtt_filter_parse_never_panics(text in "[a/+#$\u{0} ]{0,12}") {
        let _ = crate::TopicFilter::filter(&text);
        let _ = crate::TopicFilter::topic(&text);
    }
}

proptest! {
    #![proptest_config(config())]

    /// The shortcut that skips the second reading of a path on every request
    /// never changes a verdict: wherever it applies, the full reading finds
    /// nothing different either.
    #[test]
    fn the_one_reading_shortcut_agrees_with_the_full_reading(
        raw in proptest::collection::vec(
            prop_oneof![
                Just("/"), Just("a"), Just("."), Just(".."), Just("%2F"), Just("%25"),
                Just("%5C"), Just(";"), Just("%3B"), Just("x=1"), Just("%41"), Just("~"),
            ],
            0..8,
        )
    ) {
        let canonical = normalize(&raw.concat());
        if crate::path::reads_only_one_way(&canonical) {
            prop_assert_eq!(crate::path::lenient_reading_of(&canonical), None, "{}", canonical);
        }
    }
}
