//! Policy-level tests: whole files, both checks, exact messages and suggestions.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::{Decision, GuestPolicy, Policy, Rule, RuleList, Target};

const FEEDS: &str = r#"
[guest.feeds]
allow = [
  "https://api.example.com/v1/*",
  "GET,HEAD https://status.example.com/",
  "wss://chat.example.com",
  "http://127.0.0.1:1000-2000",
  "tcp://*.internal:5432",
  "tcp://10.0.0.0/8:6379",
  "http://[::1]:8080",
  "http://[fd00::/8]:80",
  { rule = "tcp://db.internal:5432", addresses = ["10.0.0.0/8"] },
  "http://localhost:3000",
  "https://app.test",
  "sse+https://stream.example.com/events",
  "udp-multicast://239.255.0.1",
  "tcp-listen://127.0.0.1:8080",
]
deny = [
  "https://api.example.com/v1/admin/*",
  "POST https://api.example.com/v1/readonly/*",
  "tcp://10.0.0.13:6379",
]
env = { API_TOKEN = "abc", LANG = "C" }
ca_bundle = "test-ca.pem"

[guest.feeds.limits]
max_body_bytes = "1 MiB"
connect_timeout = "2s"
requests_per_second = 20

[guest.other]
allow = ["https://other.example/"]
"#;

fn policy(text: &str) -> Policy {
    Policy::parse(text, "policy.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn feeds() -> GuestPolicy {
    let p = policy(FEEDS);
    p.guest(Some("feeds"))
        .cloned()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn target(url: &str, method: Option<&str>) -> Target {
    let t = Target::parse(url).unwrap_or_else(|e| panic!("{url:?}: {e}"));
    match method {
        Some(m) => t.with_method(m),
        None => t,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

#[test]
fn file_structure() {
    let p = policy(FEEDS);
    assert_eq!(p.source(), "policy.toml");
    assert_eq!(p.guest_names(), ["feeds", "other"]);
    let g = feeds();
    assert_eq!(g.allow.len(), 14);
    assert_eq!(g.deny.len(), 3);
    assert_eq!(g.allow[0].line, 4);
    assert_eq!(g.allow[8].line, 12);
    assert_eq!(g.deny[2].line, 22);
    assert_eq!(
        g.env,
        [
            ("API_TOKEN".to_string(), "abc".to_string()),
            ("LANG".into(), "C".into())
        ]
    );
    assert_eq!(g.ca_bundle, Some(PathBuf::from("test-ca.pem")));
    assert_eq!(g.limits.max_body_bytes, 1024 * 1024);
    assert_eq!(g.limits.connect_timeout, Duration::from_secs(2));
    assert_eq!(g.limits.requests_per_second, Some(20));
    assert_eq!(g.limits.max_connections, 16);
    assert_eq!(g.source, "policy.toml");

    let single = policy("allow = [\"https://x.example/\"]\n[limits]\nmemory = \"64 MiB\"\n");
    assert_eq!(single.guest_names(), ["default"]);
    let g = single.guest(None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(g.limits.memory_bytes, 64 * 1024 * 1024);
    assert_eq!(
        single.guest(Some("default")).map(|g| g.allow.len()).ok(),
        Some(1)
    );

    let empty = policy("");
    assert_eq!(empty.guest_names(), ["default"]);
    assert!(
        !empty
            .guest(None)
            .map(|g| g.check(&target("https://x.example/", None)).is_allowed())
            .unwrap_or(true)
    );
}

#[test]
fn guest_selection_errors() {
    let p = policy(FEEDS);
    let cases = [
        (
            None,
            "policy.toml defines several guests (feeds, other); choose one with --guest NAME",
        ),
        (
            Some("nope"),
            "policy.toml: no guest named \"nope\" (guests: feeds, other)",
        ),
    ];
    for (name, want) in cases {
        let got = p
            .guest(name)
            .map(|g| g.name.clone())
            .map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_string()), "{name:?}");
    }
}

#[test]
fn file_errors() {
    let cases = [
        (
            "[guest.a]\nallow = [\n  \"htp://x\",\n]\n",
            "policy.toml:3: invalid rule \"htp://x\": unknown scheme \"htp\" (expected one of http, https, ws, wss, sse+http, sse+https, tcp, tls, tcp-listen, ws-listen, udp, udp-bind, udp-multicast, mqtt, mqtts, mqtt-publish, mqtt-subscribe, bus, bus-publish, bus-subscribe)",
        ),
        (
            "[guest.a]\nallw = []\n",
            "policy.toml:2: unknown key \"allw\" in [guest.a] (did you mean \"allow\"?)",
        ),
        (
            "[guest.a]\nfoo = 1\n",
            "policy.toml:2: unknown key \"foo\" in [guest.a] (expected one of allow, deny, env, ca_bundle, limits, denial_detail, cache, limits_wait, component, args, restart, instances)",
        ),
        (
            "alow = []\n",
            "policy.toml:1: unknown key \"alow\" in the top level (did you mean \"allow\"?)",
        ),
        (
            "[guest.a.limits]\nmax_body = \"1 MiB\"\n",
            "policy.toml:2: unknown key \"max_body\" in [guest.a.limits] (expected one of memory, wall_time, cpu_time, max_connections, max_body_bytes, connect_timeout, first_byte_timeout, request_timeout, read_timeout, max_redirects, requests_per_second, bytes_out_total, bytes_in_total, max_ws_message_bytes, max_ws_frame_bytes, ws_heartbeat, max_sse_event_bytes, max_datagram_bytes, datagrams_per_second, max_bus_message_bytes, bus_messages_per_second, max_mqtt_message_bytes)",
        ),
        (
            "[guest.a.limits]\nmax_conections = 3\n",
            "policy.toml:2: unknown key \"max_conections\" in [guest.a.limits] (did you mean \"max_connections\"?)",
        ),
        (
            "[limits]\nconnect_timeout = 5\n",
            "policy.toml:2: invalid duration 5 for connect_timeout (expected a positive duration string like \"250ms\", \"5s\", \"1m\" or \"2h\")",
        ),
        (
            "[guest.a]\n\n[guest.a.limits]\nmax_body_bytes = \"10 MB/s\"\n",
            "policy.toml:4: invalid size \"10 MB/s\" for max_body_bytes (expected a positive number of bytes, as an integer or a string like \"10 MiB\" (units B, KB, KiB, MB, MiB, GB, GiB, TB, TiB))",
        ),
        (
            "allow = []\n[guest.a]\nallow = []\n",
            "policy.toml:1: top-level \"allow\" cannot be mixed with [guest.NAME] tables; move it into a [guest.NAME] table",
        ),
        (
            "[guest.a]\nallow = \"https://x.example/\"\n",
            "policy.toml:2: \"allow\" must be an array of rules like [\"https://api.example.com/v1/*\"], found string",
        ),
        (
            "[guest.a]\nallow = [\n  42,\n]\n",
            "policy.toml:3: each element of \"allow\" must be a rule string or a { rule = \"...\", addresses = [...] } table, found integer",
        ),
        (
            "[guest.a]\nallow = [{ rule = \"tcp://db:1\", adresses = [] }]\n",
            "policy.toml:2: unknown key \"adresses\" in a rule table (did you mean \"addresses\"?)",
        ),
        (
            "[guest.a]\nallow = [{ addresses = [\"10.0.0.0/8\"] }]\n",
            "policy.toml:2: a rule table needs a \"rule\" string, e.g. { rule = \"tcp://db.internal:5432\", addresses = [\"10.0.0.0/8\"] }",
        ),
        (
            "[guest.a]\nallow = [\n  { rule = \"tcp://db:1\",\n    addresses = [\"10.0.0.1/8\"] },\n]\n",
            "policy.toml:4: invalid rule \"tcp://db:1\": invalid address \"10.0.0.1/8\" in addresses: host bits are set (did you mean 10.0.0.0/8?)",
        ),
        (
            "[guest.a]\ndeny = [{ rule = \"tcp://db:1\", addresses = [\"10.0.0.0/8\"] }]\n",
            "policy.toml:2: invalid rule \"tcp://db:1\": deny rules take no addresses (a deny rule with an IP or CIDR host refuses addresses)",
        ),
        (
            "[guest.a]\nenv = { TOKEN = 5 }\n",
            "policy.toml:2: env \"TOKEN\" must be a string, found integer (quote it: TOKEN = \"...\")",
        ),
        (
            "[guest.a]\nca_bundle = 1\n",
            "policy.toml:2: \"ca_bundle\" must be a file name string like \"ca.pem\", found integer",
        ),
        (
            "[guest.\"a b\"]\n",
            "policy.toml:1: invalid guest name \"a b\" (use letters, digits, \"-\" and \"_\")",
        ),
        (
            "guest = 1\n",
            "policy.toml:1: \"guest\" must be a table of guests like [guest.NAME], found integer",
        ),
        (
            "[guest]\n",
            "policy.toml:1: [guest] defines no guests; add a [guest.NAME] table",
        ),
        (
            "[guest.a]\nallow = [\"tcp://db.internal\"]\n",
            "policy.toml:2: invalid rule \"tcp://db.internal\": tcp rules need a port, e.g. \"tcp://db.internal:5432\" (or \":*\" for any port)",
        ),
    ];
    for (input, want) in cases {
        let got = Policy::parse(input, "policy.toml")
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_string()), "{input:?}");
    }
}

#[test]
fn program_keys() {
    let text = "[guest.relay]\ncomponent = \"relay.wasm\"\nargs = [\"--every\", \"5s\"]\nrestart = \"on-failure\"\ninstances = 3\n\n[guest.plain]\nallow = []\n";
    let policy = Policy::parse(text, "policy.toml").unwrap_or_else(|e| panic!("{e}"));
    let relay = policy
        .guest(Some("relay"))
        .unwrap_or_else(|e| panic!("{e}"));
    let want = crate::Program {
        component: "relay.wasm".into(),
        args: vec!["--every".into(), "5s".into()],
        restart: crate::Restart::OnFailure,
        instances: 3,
    };
    assert_eq!(relay.program, Some(want));
    let plain = policy
        .guest(Some("plain"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plain.program, None);
    let defaults =
        Policy::parse("component = \"a.wasm\"\n", "p.toml").unwrap_or_else(|e| panic!("{e}"));
    let program = defaults.guest(None).ok().and_then(|g| g.program.clone());
    assert_eq!(
        program.map(|p| (p.restart, p.instances, p.args.len())),
        Some((crate::Restart::Never, 1, 0))
    );

    let bad = [
        (
            "[guest.a]\nrestart = \"always\"\n",
            "policy.toml:2: \"restart\" in [guest.a] needs a component to run; add component = \"guest.wasm\"",
        ),
        (
            "[guest.a]\ncomponent = \"a.wasm\"\nrestart = \"sometimes\"\n",
            "policy.toml:3: invalid restart \"sometimes\" (expected one of \"never\", \"on-failure\", \"always\")",
        ),
        (
            "[guest.a]\ncomponent = \"a.wasm\"\ninstances = 0\n",
            "policy.toml:3: invalid instances 0 (expected an integer from 1 to 1024)",
        ),
        (
            "[guest.a]\ncomponent = \"a.wasm\"\ninstances = \"2\"\n",
            "policy.toml:3: invalid instances \"2\" (expected an integer from 1 to 1024)",
        ),
        (
            "[guest.a]\ncomponent = 7\n",
            "policy.toml:2: \"component\" must be a file name string like \"relay.wasm\", found integer",
        ),
        (
            "[guest.a]\ncomponent = \"a.wasm\"\nargs = [1]\n",
            "policy.toml:3: \"args\" must be an array of strings like [\"--interval\", \"5s\"]",
        ),
    ];
    for (input, want) in bad {
        let got = Policy::parse(input, "policy.toml")
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_string()), "{input:?}");
    }
}

#[test]
fn toml_syntax_error_has_line() {
    let got = Policy::parse("[guest.a]\nallow = [\"x\"\n\n", "p.toml")
        .map(|_| ())
        .map_err(|e| e.to_string());
    let msg = got.err().unwrap_or_default();
    assert!(msg.starts_with("p.toml:2: invalid TOML: "), "{msg:?}");
}

#[test]
fn check_decisions() {
    let g = feeds();
    // (url, method, Ok(allow line) or Err(exact reason))
    let cases: [(&str, Option<&str>, Result<u32, &str>); 36] = [
        ("https://api.example.com/v1/data", None, Ok(4)),
        ("https://api.example.com/v1/data", Some("post"), Ok(4)),
        ("https://api.example.com/v1", None, Ok(4)),
        ("https://API.example.com./v1/x?y=1", None, Ok(4)),
        (
            "https://api.example.com/v2/data",
            None,
            Err(
                "no allow rule of guest \"feeds\" in policy.toml matches https://api.example.com/v2/data",
            ),
        ),
        (
            "https://api.example.com/v1/admin/users",
            Some("GET"),
            Err(
                "GET https://api.example.com/v1/admin/users is denied by the deny rule at policy.toml:20 (\"https://api.example.com/v1/admin/*\"); deny rules always win",
            ),
        ),
        (
            "https://api.example.com/v1/admin",
            None,
            Err(
                "https://api.example.com/v1/admin is denied by the deny rule at policy.toml:20 (\"https://api.example.com/v1/admin/*\"); deny rules always win",
            ),
        ),
        (
            "https://api.example.com/v1/x/../admin/users",
            None,
            Err(
                "https://api.example.com/v1/admin/users is denied by the deny rule at policy.toml:20 (\"https://api.example.com/v1/admin/*\"); deny rules always win",
            ),
        ),
        (
            "https://api.example.com/v1/%61dmin/users",
            None,
            Err(
                "https://api.example.com/v1/admin/users is denied by the deny rule at policy.toml:20 (\"https://api.example.com/v1/admin/*\"); deny rules always win",
            ),
        ),
        (
            "https://api.example.com/v1/admin%2Fusers",
            None,
            Err(
                "https://api.example.com/v1/admin%2Fusers is denied by the deny rule at policy.toml:20 (\"https://api.example.com/v1/admin/*\"); deny rules always win",
            ),
        ),
        (
            "https://api.example.com/v1//admin/users",
            None,
            Err(
                "https://api.example.com/v1//admin/users is denied by the deny rule at policy.toml:20 (\"https://api.example.com/v1/admin/*\"); deny rules always win",
            ),
        ),
        (
            "https://api.example.com/v1/..%2Fsecret",
            None,
            Err(
                "no allow rule of guest \"feeds\" in policy.toml matches https://api.example.com/v1/..%2Fsecret",
            ),
        ),
        (
            "https://api.example.com/v1/../secret",
            None,
            Err(
                "no allow rule of guest \"feeds\" in policy.toml matches https://api.example.com/secret",
            ),
        ),
        ("https://api.example.com/v1/readonly/x", Some("GET"), Ok(4)),
        (
            "https://api.example.com/v1/readonly/x",
            Some("post"),
            Err(
                "POST https://api.example.com/v1/readonly/x is denied by the deny rule at policy.toml:21 (\"POST https://api.example.com/v1/readonly/*\"); deny rules always win",
            ),
        ),
        (
            "http://api.example.com/v1/data",
            None,
            Err(
                "no allow rule of guest \"feeds\" in policy.toml matches http://api.example.com/v1/data",
            ),
        ),
        (
            "https://api.example.com:8443/v1/data",
            None,
            Err(
                "no allow rule of guest \"feeds\" in policy.toml matches https://api.example.com:8443/v1/data",
            ),
        ),
        ("https://evil.com@api.example.com/v1/x", None, Ok(4)),
        (
            "https://api.example.com@evil.com/v1/x",
            None,
            Err("no allow rule of guest \"feeds\" in policy.toml matches https://evil.com/v1/x"),
        ),
        ("https://status.example.com/", Some("HEAD"), Ok(5)),
        ("https://status.example.com/", None, Ok(5)),
        (
            "https://status.example.com/",
            Some("DELETE"),
            Err(
                "no allow rule of guest \"feeds\" in policy.toml matches DELETE https://status.example.com/ (the rule at line 5 allows only GET, HEAD)",
            ),
        ),
        (
            "https://status.example.com/other",
            Some("GET"),
            Err(
                "no allow rule of guest \"feeds\" in policy.toml matches GET https://status.example.com/other",
            ),
        ),
        ("wss://chat.example.com/room/1", None, Ok(6)),
        (
            "ws://chat.example.com/room/1",
            None,
            Err(
                "no allow rule of guest \"feeds\" in policy.toml matches ws://chat.example.com/room/1",
            ),
        ),
        ("http://2130706433:1500/", None, Ok(7)),
        ("http://127.1:1000/", None, Ok(7)),
        (
            "http://127.0.0.1:999/",
            None,
            Err("no allow rule of guest \"feeds\" in policy.toml matches http://127.0.0.1:999/"),
        ),
        ("tcp://cache.internal:5432", None, Ok(8)),
        (
            "tcp://internal:5432",
            None,
            Err("no allow rule of guest \"feeds\" in policy.toml matches tcp://internal:5432"),
        ),
        (
            "tcp://10.0.0.13:6379",
            None,
            Err(
                "tcp://10.0.0.13:6379 is denied by the deny rule at policy.toml:22 (\"tcp://10.0.0.13:6379\"); deny rules always win",
            ),
        ),
        ("tcp://10.0.0.14:6379", None, Ok(9)),
        ("sse+https://api.example.com/v1/stream", None, Ok(4)),
        ("sse+https://stream.example.com/events", None, Ok(15)),
        (
            "https://stream.example.com/events",
            None,
            Err(
                "no allow rule of guest \"feeds\" in policy.toml matches https://stream.example.com/events",
            ),
        ),
        ("udp-multicast://239.255.0.1", None, Ok(16)),
    ];
    for (url, method, want) in cases {
        let t = target(url, method);
        let got = match g.check(&t) {
            Decision::Allow(r) => {
                assert_eq!(r.list, RuleList::Allow, "{url:?}");
                assert_eq!(
                    r.text,
                    g.allow
                        .iter()
                        .find(|a| a.line == r.line)
                        .map(|a| a.text.clone())
                        .unwrap_or_default(),
                    "{url:?}"
                );
                Ok(r.line)
            }
            Decision::Deny(d) => {
                assert_eq!(
                    d.rule.is_some(),
                    d.suggestion.is_none(),
                    "{url:?}: a deny rule excludes a suggestion"
                );
                Err(d.reason)
            }
        };
        assert_eq!(got, want.map_err(String::from), "{url:?} {method:?}");
    }
}

#[test]
fn check_suggestions() {
    let g = feeds();
    let cases = [
        (
            "https://api.example.com/v2/data",
            None,
            "\"https://api.example.com/v2/data\"",
        ),
        (
            "https://api.example.com:8443/v1/data",
            None,
            "\"https://api.example.com:8443/v1/data\"",
        ),
        (
            "https://status.example.com/",
            Some("delete"),
            "\"DELETE https://status.example.com/\"",
        ),
        (
            "https://status.example.com/x",
            Some("GET"),
            "\"https://status.example.com/x\"",
        ),
        ("http://127.0.0.1:999/", None, "\"http://127.0.0.1:999/\""),
        ("http://10.0.0.1/24", None, "\"http://10.0.0.1:80/24\""),
        ("http://[2001:db8::2]/a", None, "\"http://[2001:db8::2]/a\""),
        ("http://[::2]/a", None, "\"http://0.0.0.2/a\""),
        (
            "https://xn--bcher-kva.example/a*b",
            None,
            "\"https://xn--bcher-kva.example/a%2Ab\"",
        ),
        ("tcp://internal:5432", None, "\"tcp://internal:5432\""),
        (
            "udp-multicast://239.255.0.2",
            None,
            "\"udp-multicast://239.255.0.2\"",
        ),
        (
            "sse+http://feed.example/events",
            None,
            "\"sse+http://feed.example/events\"",
        ),
        (
            "https://api.example.com/v1/..%2Fsecret",
            None,
            "\"https://api.example.com/v1/..%2Fsecret\"",
        ),
    ];
    for (url, method, want) in cases {
        let t = target(url, method);
        let denial = g.check(&t).denial().cloned();
        let suggestion = denial.and_then(|d| d.suggestion);
        assert_eq!(suggestion.as_deref(), Some(want), "{url:?}");
        // The suggestion, added to the policy, allows exactly this target.
        let text = want.trim_matches('"');
        let rule = Rule::parse(text, 1)
            .unwrap_or_else(|e| panic!("{url:?}: suggestion {want} does not parse: {e}"));
        let mut fixed = g.clone();
        fixed.allow.push(rule);
        let allowed = matches!(&fixed.check(&t), Decision::Allow(r) if r.text == text);
        assert!(allowed, "{url:?}: suggestion {want} does not allow it");
    }
}

#[test]
fn check_address_decisions() {
    let g = feeds();
    // (url, resolved ip, Ok(allow line) or Err(exact reason))
    let cases: [(&str, &str, Result<u32, &str>); 22] = [
        ("https://api.example.com/v1/x", "93.184.216.34", Ok(4)),
        (
            "https://api.example.com/anything/else",
            "93.184.216.34",
            Ok(4),
        ),
        (
            "https://api.example.com/v1/x",
            "127.0.0.1",
            Err(
                "api.example.com resolved to 127.0.0.1 (loopback), which the policy does not grant; a granted name never unlocks a non-public address",
            ),
        ),
        (
            "https://api.example.com/v1/x",
            "::ffff:127.0.0.1",
            Err(
                "api.example.com resolved to 127.0.0.1 (loopback), which the policy does not grant; a granted name never unlocks a non-public address",
            ),
        ),
        (
            "https://api.example.com/v1/x",
            "169.254.169.254",
            Err(
                "api.example.com resolved to 169.254.169.254 (cloud metadata), which the policy does not grant; a granted name never unlocks a non-public address",
            ),
        ),
        (
            "https://api.example.com/v1/x",
            "fd00:ec2::254",
            Err(
                "api.example.com resolved to fd00:ec2::254 (cloud metadata), which the policy does not grant; a granted name never unlocks a non-public address",
            ),
        ),
        (
            "https://api.example.com/v1/x",
            "10.1.1.1",
            Err(
                "api.example.com resolved to 10.1.1.1 (private), which the policy does not grant; a granted name never unlocks a non-public address",
            ),
        ),
        (
            "https://api.example.com/v1/x",
            "0.0.0.0",
            Err(
                "api.example.com resolved to 0.0.0.0 (unspecified), which the policy does not grant; a granted name never unlocks a non-public address",
            ),
        ),
        (
            "https://app.test/",
            "127.0.0.1",
            Err(
                "app.test resolved to 127.0.0.1 (loopback), which the policy does not grant; a granted name never unlocks a non-public address",
            ),
        ),
        ("tcp://db.internal:5432", "10.0.0.7", Ok(12)),
        ("tcp://db.internal:5432", "::ffff:10.0.0.7", Ok(12)),
        (
            "tcp://db.internal:5432",
            "192.168.0.7",
            Err(
                "db.internal resolved to 192.168.0.7 (private), which the policy does not grant; a granted name never unlocks a non-public address",
            ),
        ),
        (
            "tcp://cache.internal:5432",
            "10.0.0.7",
            Err(
                "cache.internal resolved to 10.0.0.7 (private), which the policy does not grant; a granted name never unlocks a non-public address",
            ),
        ),
        (
            "tcp://cache.internal:6379",
            "10.0.0.7",
            Err(
                "no allow rule of guest \"feeds\" in policy.toml matches tcp://cache.internal:6379",
            ),
        ),
        ("http://localhost:3000/x", "127.0.0.1", Ok(13)),
        ("http://localhost:3000/x", "::1", Ok(13)),
        (
            "http://localhost:3000/x",
            "10.0.0.1",
            Err(
                "localhost resolved to 10.0.0.1 (private), which the policy does not grant; a granted name never unlocks a non-public address",
            ),
        ),
        ("http://127.0.0.1:1500/", "127.0.0.1", Ok(7)),
        ("http://[::1]:8080/", "::1", Ok(10)),
        ("http://[fd00::5]/", "fd00::5", Ok(11)),
        (
            "tcp://10.0.0.13:6379",
            "10.0.0.13",
            Err(
                "tcp://10.0.0.13:6379 at 10.0.0.13 is denied by the deny rule at policy.toml:22 (\"tcp://10.0.0.13:6379\"); deny rules always win",
            ),
        ),
        ("udp-multicast://239.255.0.1", "239.255.0.1", Ok(16)),
    ];
    for (url, addr, want) in cases {
        let t = target(url, Some("DELETE"));
        let got = match g.check_address(&t, ip(addr)) {
            Decision::Allow(r) => Ok(r.line),
            Decision::Deny(d) => Err(d.reason),
        };
        assert_eq!(got, want.map_err(String::from), "{url:?} at {addr:?}");
    }
}

#[test]
fn check_address_grants_and_suggestions() {
    let p = policy(
        r#"
allow = [
  "https://*",
  "GET https://app.test/api/*",
  "tcp://db.internal:5432",
  "tcp://10.9.0.0/16:5432",
]
deny = ["tcp://db.internal:5432/"]
"#
        .replace("deny = [\"tcp://db.internal:5432/\"]", "")
        .as_str(),
    );
    let g = p.guest(None).cloned().unwrap_or_else(|e| panic!("{e}"));
    // (url, ip, Ok(line) or Err(suggestion))
    let cases: [(&str, &str, Result<u32, &str>); 8] = [
        (
            "https://app.test/api/x",
            "127.0.0.1",
            Err("{ rule = \"https://app.test\", addresses = [\"127.0.0.1\"] }"),
        ),
        (
            "https://127.0.0.1/",
            "127.0.0.1",
            Err("\"https://127.0.0.1\""),
        ),
        ("https://[::1]/", "::1", Err("\"https://[::1]\"")),
        ("https://[::1]:8443/", "::1", Err("\"https://[::1]:8443/\"")),
        (
            "tcp://db.internal:5432",
            "10.1.0.1",
            Err("{ rule = \"tcp://db.internal:5432\", addresses = [\"10.1.0.1\"] }"),
        ),
        ("tcp://db.internal:5432", "10.9.1.1", Ok(6)),
        ("tcp://db.internal:5432", "8.8.8.8", Ok(5)),
        ("https://anything.example/", "8.8.8.8", Ok(3)),
    ];
    for (url, addr, want) in cases {
        let t = target(url, None);
        let got = match g.check_address(&t, ip(addr)) {
            Decision::Allow(r) => Ok(r.line),
            Decision::Deny(d) => Err(d.suggestion.unwrap_or_default()),
        };
        assert_eq!(got, want.map_err(String::from), "{url:?} at {addr:?}");
    }
    // The `GET .../api/*` rule comes second; the first endpoint rule (`*`) shapes the suggestion.
    let only_api = policy("allow = [\"GET https://app.test/api/*\"]\n");
    let g = only_api
        .guest(None)
        .cloned()
        .unwrap_or_else(|e| panic!("{e}"));
    let d = g.check_address(&target("https://app.test/api/x", None), ip("10.0.0.1"));
    assert_eq!(
        d.denial().and_then(|d| d.suggestion.clone()).as_deref(),
        Some("{ rule = \"GET https://app.test/api/*\", addresses = [\"10.0.0.1\"] }")
    );
}

#[test]
fn suggested_allowance_round_trips() {
    // Adding the suggested inline table to the file grants the address.
    let base = "allow = [\n  \"https://app.test/api/*\",\n  SUGGESTION,\n]\n";
    let p = policy("allow = [\"https://app.test/api/*\"]\n");
    let g = p.guest(None).cloned().unwrap_or_else(|e| panic!("{e}"));
    let t = target("https://app.test/api/x", None);
    let suggestion = g
        .check_address(&t, ip("127.0.0.1"))
        .denial()
        .and_then(|d| d.suggestion.clone())
        .unwrap_or_default();
    let fixed = policy(&base.replace("SUGGESTION", &suggestion));
    let g = fixed.guest(None).cloned().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        g.check_address(&t, ip("127.0.0.1")).is_allowed(),
        "{suggestion}"
    );
    assert!(
        !g.check_address(&t, ip("127.0.0.2")).is_allowed(),
        "{suggestion}"
    );
}

#[test]
fn star_never_unlocks_non_public() {
    let p = policy("allow = [\"http://*:*\", \"tcp://*:*\", \"https://*.internal\"]\n");
    let g = p.guest(None).cloned().unwrap_or_else(|e| panic!("{e}"));
    let cases = [
        ("http://127.0.0.1:8080/", "127.0.0.1"),
        ("http://2130706433/", "127.0.0.1"),
        ("http://[::ffff:169.254.169.254]/", "169.254.169.254"),
        ("http://metadata.example/", "169.254.169.254"),
        ("tcp://10.0.0.1:22", "10.0.0.1"),
        ("https://svc.internal/", "10.0.0.1"),
        ("http://[fe80::1%eth0]/", "fe80::1"),
        ("http://255.255.255.255/", "255.255.255.255"),
    ];
    for (url, addr) in cases {
        let t = target(url, None);
        assert!(g.check(&t).is_allowed(), "{url:?} passes the request check");
        assert!(
            !g.check_address(&t, ip(addr)).is_allowed(),
            "{url:?} at {addr:?}"
        );
    }
}

#[test]
fn policy_lints() {
    let p = policy(
        r#"
[guest.a]
allow = [
  "https://api.example.com/v1/*",
  "https://*",
  "http://status.example.com",
]
deny = ["https://*"]
"#,
    );
    let got: Vec<String> = p
        .lint()
        .iter()
        .map(|l| format!("{}:{}: {l}", p.source(), l.line))
        .collect();
    assert_eq!(
        got,
        [
            "policy.toml:5: [guest.a] rule \"https://*\" allows any host; name the hosts the guest needs",
            "policy.toml:6: [guest.a] rule \"http://status.example.com\" sends requests to a public host unencrypted (credentials in clear); use https unless the service has no TLS",
        ]
    );
}

#[test]
fn from_file_resolves_ca_bundle() {
    let dir = std::env::temp_dir().join(format!("sandnet-policy-test-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("policy.toml");
    let written = std::fs::write(
        &path,
        "ca_bundle = \"ca.pem\"\ncomponent = \"relay.wasm\"\nallow = [\"https://x.example/\"]\n",
    );
    assert!(written.is_ok(), "{written:?}");
    let p = Policy::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let g = p.guest(None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(g.ca_bundle, Some(dir.join("ca.pem")));
    let component = g.program.as_ref().map(|p| p.component.clone());
    assert_eq!(component, Some(dir.join("relay.wasm")));
    assert_eq!(p.source(), path.display().to_string());
    let _ = std::fs::remove_dir_all(&dir);

    let missing = dir.join("missing.toml");
    let err = Policy::from_file(&missing)
        .map(|_| ())
        .map_err(|e| e.to_string());
    let msg = err.err().unwrap_or_default();
    assert!(
        msg.starts_with(&format!("cannot read policy file {}: ", missing.display())),
        "{msg:?}"
    );
}

#[test]
fn display() {
    let g = feeds();
    let allowed = g.check(&target("https://api.example.com/v1/x", None));
    assert_eq!(
        allowed.to_string(),
        "allowed by the allow rule at line 4: \"https://api.example.com/v1/*\""
    );
    let denied = g.check(&target("https://nope.example/", None));
    assert_eq!(
        denied.to_string(),
        "denied: no allow rule of guest \"feeds\" in policy.toml matches https://nope.example/; to allow it, add \"https://nope.example/\" to allow"
    );
}

#[test]
fn sse_suggestion_has_no_method() {
    let p = policy("allow = [\"POST https://hook.example/\"]\n");
    let g = p.guest(None).cloned().unwrap_or_else(|e| panic!("{e}"));
    let cases = [
        (
            "sse+https://hook.example/",
            None,
            "\"sse+https://hook.example/\"",
        ),
        (
            "https://hook.example/",
            Some("GET"),
            "\"GET https://hook.example/\"",
        ),
        ("wss://hook.example/", None, "\"wss://hook.example/\""),
    ];
    for (url, method, want) in cases {
        let d = g.check(&target(url, method));
        let got = d.denial().and_then(|d| d.suggestion.clone());
        assert_eq!(got.as_deref(), Some(want), "{url:?}");
    }
}

#[test]
fn check_peer_decisions() {
    let p = policy(
        r#"
allow = [
  { rule = "tcp-listen://127.0.0.1:8080", peers = ["127.0.0.1", "10.0.0.0/8"] },
  "ws-listen://0.0.0.0:9000",
  { rule = "udp-bind://0.0.0.0:45454", peers = ["[fd00::/8]"] },
]
deny = ["tcp-listen://10.0.0.13:8080"]
"#,
    );
    let g = p.guest(None).cloned().unwrap_or_else(|e| panic!("{e}"));
    // (listen url, peer, Ok(line) or Err(suggestion or ""))
    let cases: [(&str, &str, Result<u32, &str>); 9] = [
        ("tcp-listen://127.0.0.1:8080", "127.0.0.1", Ok(3)),
        ("tcp-listen://127.0.0.1:8080", "::ffff:10.1.2.3", Ok(3)),
        ("tcp-listen://127.0.0.1:8080", "10.0.0.13", Err("")),
        (
            "tcp-listen://127.0.0.1:8080",
            "192.168.1.5",
            Err(
                "{ rule = \"tcp-listen://127.0.0.1:8080\", peers = [\"127.0.0.1/32\", \"10.0.0.0/8\", \"192.168.1.5\"] }",
            ),
        ),
        (
            "tcp-listen://127.0.0.1:8081",
            "127.0.0.1",
            Err("\"tcp-listen://127.0.0.1:8081\""),
        ),
        ("ws-listen://0.0.0.0:9000", "203.0.113.9", Ok(4)),
        ("udp-bind://0.0.0.0:45454", "fd00::5", Ok(5)),
        (
            "udp-bind://0.0.0.0:45454",
            "127.0.0.1",
            Err("{ rule = \"udp-bind://0.0.0.0:45454\", peers = [\"fd00::/8\", \"127.0.0.1\"] }"),
        ),
        (
            "udp-bind://0.0.0.0:45455",
            "127.0.0.1",
            Err("\"udp-bind://0.0.0.0:45455\""),
        ),
    ];
    for (url, addr, want) in cases {
        let t = target(url, None);
        let got = match g.check_peer(&t, ip(addr)) {
            Decision::Allow(r) => Ok(r.line),
            Decision::Deny(d) => Err(d.suggestion.unwrap_or_default()),
        };
        assert_eq!(got, want.map_err(String::from), "{url:?} from {addr:?}");
    }
}

#[test]
fn peers_only_on_listening_rules() {
    let cases = [
        (
            "allow = [{ rule = \"tcp://db.test:5432\", peers = [\"10.0.0.1\"] }]\n",
            "test.toml:1: invalid rule \"tcp://db.test:5432\": peers apply only to listening rules (tcp-listen, ws-listen, udp-bind), not to a tcp rule",
        ),
        (
            "allow = [{ rule = \"tcp-listen://127.0.0.1:1\", peers = [\"nope\"] }]\n",
            "test.toml:1: invalid rule \"tcp-listen://127.0.0.1:1\": invalid address \"nope\" in peers: expected an IP address or a CIDR range such as 10.0.0.0/8 or fd00::/8",
        ),
    ];
    for (text, want) in cases {
        let err = Policy::parse(text, "test.toml")
            .err()
            .map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some(want), "{text:?}");
    }
}

#[test]
fn path_limited_grants_do_not_leak_to_broader_rules() {
    // A broad name rule plus path- or method-limited grants of a private address:
    // a request the limited rule never meant must not ride to that address.
    let p = policy(
        r#"
allow = [
  "http://*",
  "GET http://10.0.0.5/health",
  { rule = "GET http://api.internal/health", addresses = ["10.0.0.0/8"] },
]
deny = ["http://10.0.0.5/admin/*"]
"#,
    );
    let g = p.guest(None).cloned().unwrap_or_else(|e| panic!("{e}"));
    let cases: [(&str, &str, bool); 6] = [
        // By name through `http://*`, to an address only a path-limited rule names.
        ("http://10.0.0.5.nip.io/admin/x", "10.0.0.5", false),
        ("http://api.internal/admin", "10.0.0.9", false),
        ("http://api.internal/health", "10.0.0.9", false),
        // By IP literal too: `http://*` would carry any path on the connection.
        ("http://10.0.0.5/health", "10.0.0.5", false),
        // Public addresses are unaffected.
        ("http://api.internal/admin", "93.184.216.34", true),
        ("http://10.0.0.5.nip.io/x", "93.184.216.34", true),
    ];
    for (url, addr, want) in cases {
        let got = g.check_address(&target(url, None), ip(addr)).is_allowed();
        assert_eq!(got, want, "{url:?} at {addr:?}");
    }
    // The same limited grant works when no broader rule shares the endpoint,
    // and an unrestricted grant works beside a broad rule.
    let p = policy(
        r#"
allow = [
  { rule = "GET http://api.internal/health", addresses = ["10.0.0.0/8"] },
  "https://*",
  { rule = "https://db.internal", addresses = ["10.0.0.0/8"] },
]
"#,
    );
    let g = p.guest(None).cloned().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        g.check_address(&target("http://api.internal/health", None), ip("10.0.0.9"))
            .is_allowed()
    );
    assert!(
        g.check_address(&target("https://db.internal/x", None), ip("10.0.0.9"))
            .is_allowed()
    );
    // A deny rule naming the address blocks name targets whatever its path.
    let p = policy(
        "allow = [{ rule = \"http://api.internal\", addresses = [\"10.0.0.0/8\"] }]\ndeny = [\"http://10.0.0.5/admin/*\"]\n",
    );
    let g = p.guest(None).cloned().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !g.check_address(&target("http://api.internal/", None), ip("10.0.0.5"))
            .is_allowed()
    );
    assert!(
        g.check_address(&target("http://api.internal/", None), ip("10.0.0.6"))
            .is_allowed()
    );
}

/// A single-guest policy with one allow rule per line: rule `i` is on line `i + 2`.
fn allow_lines(rules: &[&str]) -> GuestPolicy {
    let mut text = String::from("allow = [\n");
    for r in rules {
        text.push_str(&format!("  {r:?},\n"));
    }
    text.push_str("]\n");
    policy(&text)
        .guest(None)
        .cloned()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn ip_literal_grants_are_not_widened_by_broader_rules() {
    // A non-public IP granted for some paths or methods must not be reached
    // through a connection that a broader rule (`*`) admits other requests on.
    const WIDENED: &str = "names a non-public address";
    // (allow rules, url, method, resolved ip, request allowed, address Ok(line) or Err(exact reason))
    type Case<'a> = (
        &'a [&'a str],
        &'a str,
        Option<&'a str>,
        &'a str,
        bool,
        Result<u32, &'a str>,
    );
    let cases: [Case; 17] = [
        (
            &["http://*:*", "http://127.0.0.1:8080/ok/*"],
            "http://127.0.0.1:8080/secret",
            None,
            "127.0.0.1",
            true,
            Err(
                "http://127.0.0.1:8080 names a non-public address (loopback); the rule at policy.toml:3 grants it only for some paths or methods, but the rule(s) at line 2 (\"http://*:*\") of the same guest also admit requests to http://127.0.0.1:8080, and requests on one connection cannot be told apart; narrow or remove those rules, or grant 127.0.0.1 for every path and method (e.g. \"http://127.0.0.1:8080\")",
            ),
        ),
        (
            // The connection for /ok/x would carry /secret next.
            &["http://*:*", "http://127.0.0.1:8080/ok/*"],
            "http://127.0.0.1:8080/ok/x",
            None,
            "127.0.0.1",
            true,
            Err(WIDENED),
        ),
        (
            &["http://*:*", "GET http://127.0.0.1:8080"],
            "http://127.0.0.1:8080/",
            Some("POST"),
            "127.0.0.1",
            true,
            Err(
                "http://127.0.0.1:8080 names a non-public address (loopback); the rule at policy.toml:3 grants it only for some paths or methods, but the rule(s) at line 2 (\"http://*:*\") of the same guest also admit requests to http://127.0.0.1:8080, and requests on one connection cannot be told apart; narrow or remove those rules, or grant 127.0.0.1 for every path and method (e.g. \"http://127.0.0.1:8080\")",
            ),
        ),
        (
            &["http://*", "http://10.0.0.0/8/public/*"],
            "http://10.1.2.3/admin",
            None,
            "10.1.2.3",
            true,
            Err(
                "http://10.1.2.3 names a non-public address (private); the rule at policy.toml:3 grants it only for some paths or methods, but the rule(s) at line 2 (\"http://*\") of the same guest also admit requests to http://10.1.2.3, and requests on one connection cannot be told apart; narrow or remove those rules, or grant 10.1.2.3 for every path and method (e.g. \"http://10.1.2.3\")",
            ),
        ),
        (
            &["ws://*:*", "ws://127.0.0.1:8080/ok/*"],
            "ws://127.0.0.1:8080/secret",
            None,
            "127.0.0.1",
            true,
            Err(
                "ws://127.0.0.1:8080 names a non-public address (loopback); the rule at policy.toml:3 grants it only for some paths or methods, but the rule(s) at line 2 (\"ws://*:*\") of the same guest also admit requests to ws://127.0.0.1:8080, and requests on one connection cannot be told apart; narrow or remove those rules, or grant 127.0.0.1 for every path and method (e.g. \"ws://127.0.0.1:8080\")",
            ),
        ),
        (
            &["http://*:*", "sse+http://127.0.0.1:8080/events"],
            "sse+http://127.0.0.1:8080/secret",
            None,
            "127.0.0.1",
            true,
            Err(
                "sse+http://127.0.0.1:8080 names a non-public address (loopback); the rule at policy.toml:3 grants it only for some paths or methods, but the rule(s) at line 2 (\"http://*:*\") of the same guest also admit requests to sse+http://127.0.0.1:8080, and requests on one connection cannot be told apart; narrow or remove those rules, or grant 127.0.0.1 for every path and method (e.g. \"sse+http://127.0.0.1:8080\")",
            ),
        ),
        (
            &[
                "http://*:*",
                "http://[::1]:8080/ok/*",
                "GET http://*:8080/x",
            ],
            "http://[::1]:8080/secret",
            None,
            "::1",
            true,
            Err(
                "http://[::1]:8080 names a non-public address (loopback); the rule at policy.toml:3 grants it only for some paths or methods, but the rule(s) at line 2 (\"http://*:*\"), 4 (\"GET http://*:8080/x\") of the same guest also admit requests to http://[::1]:8080, and requests on one connection cannot be told apart; narrow or remove those rules, or grant ::1 for every path and method (e.g. \"http://[::1]:8080\")",
            ),
        ),
        // Legitimate grants keep working.
        (
            &["http://127.0.0.1:8080/ok/*"],
            "http://127.0.0.1:8080/ok/x",
            None,
            "127.0.0.1",
            true,
            Ok(2),
        ),
        (
            // The connection is granted; the request check refuses /secret.
            &["http://127.0.0.1:8080/ok/*"],
            "http://127.0.0.1:8080/secret",
            None,
            "127.0.0.1",
            false,
            Ok(2),
        ),
        (
            &["http://*:*", "http://127.0.0.1:8080"],
            "http://127.0.0.1:8080/secret",
            None,
            "127.0.0.1",
            true,
            Ok(3),
        ),
        (
            &[
                "http://*:*",
                "http://127.0.0.1:8080/ok/*",
                "http://127.0.0.0/8:8080",
            ],
            "http://127.0.0.1:8080/ok/x",
            None,
            "127.0.0.1",
            true,
            Ok(4),
        ),
        (
            &[
                "http://127.0.0.1:8080/ok/*",
                "http://127.0.0.0/8:8080/other/*",
            ],
            "http://127.0.0.1:8080/other/x",
            None,
            "127.0.0.1",
            true,
            Ok(2),
        ),
        (
            // The wildcard rule admits exactly the requests of the granting rule.
            &["GET http://*:8080/ok/*", "GET http://127.0.0.1:8080/ok/*"],
            "http://127.0.0.1:8080/ok/x",
            None,
            "127.0.0.1",
            true,
            Ok(3),
        ),
        (
            // The wildcard rule is about another port.
            &["http://*:9090", "http://127.0.0.1:8080/ok/*"],
            "http://127.0.0.1:8080/ok/x",
            None,
            "127.0.0.1",
            true,
            Ok(3),
        ),
        (
            &["ws://127.0.0.1:8080/ok/*", "http://*:*"],
            "ws://127.0.0.1:8080/ok/x",
            None,
            "127.0.0.1",
            true,
            Ok(2),
        ),
        (
            // An SSE rule does not widen plain HTTP connections.
            &["sse+http://*:*", "http://127.0.0.1:8080/ok/*"],
            "http://127.0.0.1:8080/ok/x",
            None,
            "127.0.0.1",
            true,
            Ok(3),
        ),
        (
            // Public addresses are unaffected.
            &["http://*:*", "http://8.8.8.8:8080/ok/*"],
            "http://8.8.8.8:8080/secret",
            None,
            "8.8.8.8",
            true,
            Ok(2),
        ),
    ];
    for (rules, url, method, addr, request, want) in cases {
        let g = allow_lines(rules);
        let t = target(url, method);
        let input = (rules, url, method, addr);
        assert_eq!(g.check(&t).is_allowed(), request, "{input:?} request");
        let got = match g.check_address(&t, ip(addr)) {
            Decision::Allow(r) => Ok(r.line),
            Decision::Deny(d) if want == Err(WIDENED) => {
                assert!(d.reason.contains(WIDENED), "{input:?}: {}", d.reason);
                assert_eq!(d.suggestion, None, "{input:?}");
                Err(WIDENED.to_string())
            }
            Decision::Deny(d) => {
                assert_eq!(d.suggestion, None, "{input:?}");
                Err(d.reason)
            }
        };
        assert_eq!(got, want.map_err(String::from), "{input:?}");
    }
}

#[test]
fn deny_rules_naming_ipv4_catch_embedding_ipv6_forms() {
    let p = policy(
        r#"
allow = [
  "tcp://*:*",
  "http://*",
  { rule = "tcp://db.test:5432", addresses = ["64:ff9b::/96", "2002::/16"] },
  { rule = "tcp-listen://[::]:9000", peers = ["::/0"] },
]
deny = [
  "tcp://127.0.0.0/8:*",
  "http://169.254.169.254",
  "tcp://10.0.0.0/8:5432",
  "tcp-listen://192.168.0.0/16:9000",
]
"#,
    );
    let g = p.guest(None).cloned().unwrap_or_else(|e| panic!("{e}"));
    // (url, resolved address or "" for the request check, Ok(allow line) or Err(exact reason))
    let cases: [(&str, &str, Result<u32, &str>); 11] = [
        (
            "tcp://[64:ff9b::7f00:1]:22",
            "",
            Err(
                "tcp://[64:ff9b::7f00:1]:22 is denied by the deny rule at policy.toml:9 (\"tcp://127.0.0.0/8:*\"); deny rules always win",
            ),
        ),
        (
            "tcp://[2002:7f00:1::1]:22",
            "",
            Err(
                "tcp://[2002:7f00:1::1]:22 is denied by the deny rule at policy.toml:9 (\"tcp://127.0.0.0/8:*\"); deny rules always win",
            ),
        ),
        (
            "tcp://[64:ff9b:1:7f00:0:100::]:22",
            "",
            Err(
                "tcp://[64:ff9b:1:7f00:0:100::]:22 is denied by the deny rule at policy.toml:9 (\"tcp://127.0.0.0/8:*\"); deny rules always win",
            ),
        ),
        (
            "tcp://[2001:db8::5efe:7f00:1]:22",
            "",
            Err(
                "tcp://[2001:db8::5efe:7f00:1]:22 is denied by the deny rule at policy.toml:9 (\"tcp://127.0.0.0/8:*\"); deny rules always win",
            ),
        ),
        (
            "http://[64:ff9b::a9fe:a9fe]/latest",
            "",
            Err(
                "http://[64:ff9b::a9fe:a9fe]/latest is denied by the deny rule at policy.toml:10 (\"http://169.254.169.254\"); deny rules always win",
            ),
        ),
        ("tcp://[64:ff9b::808:808]:22", "", Ok(3)),
        (
            "tcp://db.test:5432",
            "64:ff9b::a00:7",
            Err(
                "tcp://db.test:5432 resolved to 64:ff9b::a00:7 (reserved), which is denied by the deny rule at policy.toml:11 (\"tcp://10.0.0.0/8:5432\"); deny rules always win",
            ),
        ),
        (
            "tcp://db.test:5432",
            "2002:a00:7::1",
            Err(
                "tcp://db.test:5432 resolved to 2002:a00:7::1 (reserved), which is denied by the deny rule at policy.toml:11 (\"tcp://10.0.0.0/8:5432\"); deny rules always win",
            ),
        ),
        ("tcp://db.test:5432", "64:ff9b::c0a8:7", Ok(5)),
        (
            "tcp://[64:ff9b::a00:7]:22",
            "64:ff9b::a00:7",
            Err(
                "64:ff9b::a00:7 (reserved) is not granted by the policy; a non-public address needs a rule naming it or its range",
            ),
        ),
        ("tcp://db.test:5432", "64:ff9b::808:808", Ok(3)),
    ];
    for (url, addr, want) in cases {
        let t = target(url, None);
        let decision = if addr.is_empty() {
            g.check(&t)
        } else {
            g.check_address(&t, ip(addr))
        };
        let got = match decision {
            Decision::Allow(r) => Ok(r.line),
            Decision::Deny(d) => Err(d.reason),
        };
        assert_eq!(got, want.map_err(String::from), "{url:?} at {addr:?}");
    }
    let listen = target("tcp-listen://[::]:9000", None);
    let peers = [
        ("64:ff9b::c0a8:105", false),
        ("::ffff:192.168.1.5", false),
        ("2002:c0a8:105::", false),
        ("64:ff9b::a00:5", true),
    ];
    for (peer, want) in peers {
        let got = g.check_peer(&listen, ip(peer)).is_allowed();
        assert_eq!(got, want, "{peer:?}");
    }
}

#[test]
fn port_zero_binds_need_port_zero_or_star() {
    // (allow rule, target, allowed)
    let cases = [
        (
            "tcp-listen://127.0.0.1:0-100",
            "tcp-listen://127.0.0.1:0",
            false,
        ),
        (
            "tcp-listen://127.0.0.1:0-100",
            "tcp-listen://127.0.0.1:100",
            true,
        ),
        ("udp-bind://0.0.0.0:0-1024", "udp-bind://0.0.0.0:0", false),
        ("udp-bind://0.0.0.0:0-1024", "udp-bind://0.0.0.0:53", true),
        (
            "ws-listen://127.0.0.1:0-9000",
            "ws-listen://127.0.0.1:0",
            false,
        ),
        ("tcp-listen://127.0.0.1:0", "tcp-listen://127.0.0.1:0", true),
        (
            "tcp-listen://127.0.0.1:0",
            "tcp-listen://127.0.0.1:80",
            false,
        ),
        ("udp-bind://0.0.0.0:0,5353", "udp-bind://0.0.0.0:0", true),
        ("udp-bind://0.0.0.0:*", "udp-bind://0.0.0.0:0", true),
        (
            "tcp-listen://127.0.0.1:8080",
            "tcp-listen://127.0.0.1:0",
            false,
        ),
    ];
    for (rule, url, want) in cases {
        let g = allow_lines(&[rule]);
        let t = target(url, None);
        let input = (rule, url);
        let got = g.check(&t);
        assert_eq!(got.is_allowed(), want, "{input:?}");
        if !want {
            assert_eq!(
                got.denial().map(|d| d.reason.clone()),
                Some(format!(
                    "no allow rule of guest \"default\" in policy.toml matches {url}"
                )),
                "{input:?}"
            );
            assert_eq!(
                got.denial().and_then(|d| d.suggestion.clone()),
                Some(format!("\"{url}\"")),
                "{input:?}"
            );
        }
        assert_eq!(
            g.check_peer(&t, ip("127.0.0.1")).is_allowed(),
            want,
            "{input:?} peer"
        );
    }
}

#[test]
fn path_tricks_for_allow_and_deny() {
    let p = policy(
        r#"
allow = [
  "https://api.example.com/public/*",
]
deny = [
  "https://api.example.com/admin/*",
]
"#,
    );
    let g = p.guest(None).cloned().unwrap_or_else(|e| panic!("{e}"));
    let denied = |shown: &str| {
        format!(
            "{shown} is denied by the deny rule at policy.toml:6 (\"https://api.example.com/admin/*\"); deny rules always win"
        )
    };
    let unmatched =
        |shown: &str| format!("no allow rule of guest \"default\" in policy.toml matches {shown}");
    // (url, Ok(allow line) or Err(exact reason))
    let cases: [(&str, Result<u32, String>); 16] = [
        (
            "https://api.example.com/public/..;/admin",
            Err(denied("https://api.example.com/public/..;/admin")),
        ),
        (
            "https://api.example.com/public/..%3B/admin/x",
            Err(denied("https://api.example.com/public/..%3B/admin/x")),
        ),
        (
            "https://api.example.com//admin/x",
            Err(denied("https://api.example.com//admin/x")),
        ),
        (
            "https://api.example.com/admin//x",
            Err(denied("https://api.example.com/admin//x")),
        ),
        (
            "https://api.example.com/public\\..\\admin",
            Err(denied("https://api.example.com/admin")),
        ),
        (
            "https://api.example.com/public%5C..%5Cadmin",
            Err(denied("https://api.example.com/public%5C..%5Cadmin")),
        ),
        (
            "https://api.example.com/admin;jsessionid=1/users",
            Err(denied("https://api.example.com/admin;jsessionid=1/users")),
        ),
        (
            "https://api.example.com/public/..%2Fadmin",
            Err(denied("https://api.example.com/public/..%2Fadmin")),
        ),
        (
            "https://api.example.com/public/..;/secret",
            Err(unmatched("https://api.example.com/public/..;/secret")),
        ),
        (
            "https://api.example.com/public/..%2Fsecret",
            Err(unmatched("https://api.example.com/public/..%2Fsecret")),
        ),
        (
            "https://api.example.com/public%5C..%5Csecret",
            Err(unmatched("https://api.example.com/public%5C..%5Csecret")),
        ),
        (
            "https://api.example.com//public/x",
            Err(unmatched("https://api.example.com//public/x")),
        ),
        ("https://api.example.com/public//x", Ok(3)),
        ("https://api.example.com/public/x;v=1", Ok(3)),
        ("https://api.example.com/public\\x", Ok(3)),
        ("https://api.example.com/public/a/../b", Ok(3)),
    ];
    for (url, want) in cases {
        let got = match g.check(&target(url, None)) {
            Decision::Allow(r) => Ok(r.line),
            Decision::Deny(d) => Err(d.reason),
        };
        assert_eq!(got, want, "{url:?}");
    }
}

#[test]
fn denial_detail_setting() {
    use crate::DenialDetail;
    let cases = [
        ("allow = []\n", Ok(DenialDetail::Full)),
        ("denial_detail = \"minimal\"\n", Ok(DenialDetail::Minimal)),
        (
            "[guest.a]\ndenial_detail = \"full\"\n",
            Ok(DenialDetail::Full),
        ),
        (
            "[guest.a]\nallow = []\ndenial_detail = \"minimal\"\n",
            Ok(DenialDetail::Minimal),
        ),
        (
            "[guest.a]\n\ndenial_detail = \"verbose\"\n",
            Err(
                "policy.toml:3: invalid denial_detail \"verbose\" (expected \"full\", the default, or \"minimal\" to show guests only that a target is denied)",
            ),
        ),
        (
            "[guest.a]\ndenial_detail = \"Minimal\"\n",
            Err(
                "policy.toml:2: invalid denial_detail \"Minimal\" (expected \"full\", the default, or \"minimal\" to show guests only that a target is denied)",
            ),
        ),
        (
            "[guest.a]\ndenial_detail = true\n",
            Err(
                "policy.toml:2: \"denial_detail\" must be the string \"full\" or \"minimal\", found boolean",
            ),
        ),
        (
            "[guest.a]\ndenial_detial = \"full\"\n",
            Err(
                "policy.toml:2: unknown key \"denial_detial\" in [guest.a] (did you mean \"denial_detail\"?)",
            ),
        ),
    ];
    for (input, want) in cases {
        let got = Policy::parse(input, "policy.toml")
            .map_err(|e| e.to_string())
            .and_then(|p| {
                p.guests()
                    .first()
                    .map(|g| g.denial_detail)
                    .ok_or_else(|| "no guest".to_string())
            });
        assert_eq!(got, want.map_err(String::from), "{input:?}");
    }
}

#[test]
fn guests_never_see_resolved_addresses() {
    use crate::{Denial, DenialDetail};
    let g = feeds();
    let hidden = "resolved to an address the policy does not grant for it (the host's log names the address and the rule that would grant it)";
    // (url, method, resolved address or "" for the request check,
    //  operator reason, full guest reason, keeps suggestion and rule, minimal guest reason)
    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        &'a str,
        &'a str,
        String,
        bool,
        &'a str,
    );
    let cases: [Case; 6] = [
        (
            "https://app.test/x",
            None,
            "127.0.0.1",
            "app.test resolved to 127.0.0.1 (loopback), which the policy does not grant; a granted name never unlocks a non-public address",
            format!("app.test {hidden}"),
            false,
            "the sandbox policy does not allow https://app.test/x",
        ),
        (
            "tcp://cache.internal:6379",
            None,
            "10.0.0.13",
            "tcp://cache.internal:6379 resolved to 10.0.0.13 (private), which is denied by the deny rule at policy.toml:22 (\"tcp://10.0.0.13:6379\"); deny rules always win",
            format!("tcp://cache.internal:6379 {hidden}"),
            false,
            "the sandbox policy does not allow tcp://cache.internal:6379",
        ),
        (
            "https://api.example.com/v2",
            Some("POST"),
            "",
            "no allow rule of guest \"feeds\" in policy.toml matches POST https://api.example.com/v2",
            "no allow rule of guest \"feeds\" in policy.toml matches POST https://api.example.com/v2"
                .into(),
            true,
            "the sandbox policy does not allow POST https://api.example.com/v2",
        ),
        (
            "https://api.example.com/v1/admin/x",
            None,
            "",
            "https://api.example.com/v1/admin/x is denied by the deny rule at policy.toml:20 (\"https://api.example.com/v1/admin/*\"); deny rules always win",
            "https://api.example.com/v1/admin/x is denied by the deny rule at policy.toml:20 (\"https://api.example.com/v1/admin/*\"); deny rules always win"
                .into(),
            true,
            "the sandbox policy does not allow https://api.example.com/v1/admin/x",
        ),
        (
            // The guest asked for the address itself: nothing to hide.
            "http://[fd00::5]:8080/",
            None,
            "fd00::5",
            "no allow rule of guest \"feeds\" in policy.toml matches http://[fd00::5]:8080",
            "no allow rule of guest \"feeds\" in policy.toml matches http://[fd00::5]:8080"
                .into(),
            true,
            "the sandbox policy does not allow http://[fd00::5]:8080/",
        ),
        (
            "tcp://10.0.0.13:6379",
            None,
            "10.0.0.13",
            "tcp://10.0.0.13:6379 at 10.0.0.13 is denied by the deny rule at policy.toml:22 (\"tcp://10.0.0.13:6379\"); deny rules always win",
            "tcp://10.0.0.13:6379 at 10.0.0.13 is denied by the deny rule at policy.toml:22 (\"tcp://10.0.0.13:6379\"); deny rules always win"
                .into(),
            true,
            "the sandbox policy does not allow tcp://10.0.0.13:6379",
        ),
    ];
    for (url, method, addr, operator, full, keeps, minimal) in cases {
        let input = (url, method, addr);
        let t = target(url, method);
        let decision = if addr.is_empty() {
            g.check(&t)
        } else {
            g.check_address(&t, ip(addr))
        };
        let denial: Denial = decision
            .denial()
            .cloned()
            .unwrap_or_else(|| panic!("{input:?} was allowed"));
        assert_eq!(denial.reason, operator, "{input:?} operator");
        let shown = denial.for_guest(DenialDetail::Full, &t);
        assert_eq!(shown.reason, full, "{input:?} full");
        assert_eq!(
            shown.reason,
            denial.guest_reason(),
            "{input:?} guest_reason"
        );
        if keeps {
            assert_eq!(shown, denial, "{input:?} full keeps the denial");
        } else {
            assert_eq!((shown.suggestion, shown.rule), (None, None), "{input:?}");
            assert!(!full.contains(addr), "{input:?}");
        }
        let mut minimal_guest = g.clone();
        minimal_guest.denial_detail = DenialDetail::Minimal;
        let shown = minimal_guest.guest_denial(&denial, &t);
        assert_eq!(
            shown,
            Denial {
                reason: minimal.to_string(),
                suggestion: None,
                rule: None
            },
            "{input:?} minimal"
        );
        assert_eq!(g.guest_denial(&denial, &t).reason, full, "{input:?}");
    }
    // The widening message names the address too; the guest's does not.
    let p = policy(
        "allow = [\"http://*\", { rule = \"GET http://api.internal/health\", addresses = [\"10.0.0.0/8\"] }]\n",
    );
    let w = p.guest(None).cloned().unwrap_or_else(|e| panic!("{e}"));
    let t = target("http://api.internal/health", None);
    let denial = w
        .check_address(&t, ip("10.0.0.9"))
        .denial()
        .cloned()
        .unwrap_or_else(|| panic!("allowed"));
    assert!(denial.reason.contains("10.0.0.9"), "{}", denial.reason);
    assert_eq!(
        denial.for_guest(DenialDetail::Full, &t).reason,
        format!("http://api.internal {hidden}")
    );
}

#[test]
fn cache_setting() {
    let cases: [(&str, Result<Option<u64>, &str>); 7] = [
        ("allow = []\n", Ok(None)),
        ("cache = \"memory\"\n", Ok(Some(crate::DEFAULT_CACHE_BYTES))),
        ("[guest.a]\ncache = \"2 MiB\"\n", Ok(Some(2 << 20))),
        ("[guest.a]\ncache = 4096\n", Ok(Some(4096))),
        (
            "[guest.a]\n\ncache = \"disk\"\n",
            Err(
                "policy.toml:3: invalid cache \"disk\" (expected \"memory\" for a 16 MiB in-memory HTTP cache, or its size like \"16 MiB\")",
            ),
        ),
        (
            "[guest.a]\ncache = 0\n",
            Err(
                "policy.toml:2: invalid cache 0 (expected \"memory\" for a 16 MiB in-memory HTTP cache, or its size like \"16 MiB\")",
            ),
        ),
        (
            "[guest.a]\ncache = true\n",
            Err(
                "policy.toml:2: invalid cache of type boolean (expected \"memory\" for a 16 MiB in-memory HTTP cache, or its size like \"16 MiB\")",
            ),
        ),
    ];
    for (input, want) in cases {
        let got = Policy::parse(input, "policy.toml")
            .map_err(|e| e.to_string())
            .map(|p| p.guests()[0].cache);
        assert_eq!(got, want.map_err(String::from), "{input:?}");
    }
}

#[test]
fn limits_wait_setting() {
    let cases: [(&str, Result<bool, &str>); 4] = [
        ("allow = []\n", Ok(true)),
        ("limits_wait = false\n", Ok(false)),
        ("[guest.a]\nlimits_wait = true\n", Ok(true)),
        (
            "[guest.a]\nlimits_wait = \"no\"\n",
            Err(
                "policy.toml:2: invalid limits_wait \"no\" (expected true, the default: a request waits for requests_per_second and max_connections within its timeout, or false to fail at once)",
            ),
        ),
    ];
    for (input, want) in cases {
        let got = Policy::parse(input, "policy.toml")
            .map_err(|e| e.to_string())
            .map(|p| p.guests()[0].limits_wait);
        assert_eq!(got, want.map_err(String::from), "{input:?}");
    }
}
