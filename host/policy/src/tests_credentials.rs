//! Table tests of what a rule attaches: secret headers, SPKI pins, and the
//! method spellings a rule accepts.

use std::path::PathBuf;

use crate::{Pin, Policy, SecretHeader, SecretSource, Target};

fn parse_err(text: &str) -> Option<String> {
    Policy::parse(text, "p.toml").err().map(|e| e.to_string())
}

#[test]
fn secret_headers_parse_with_source_format_and_line() {
    let text = r#"
allow = [
  { rule = "https://api.example.com/v1/*", headers = { Authorization = { env = "API_TOKEN", format = "Bearer {}" }, x-key = { file = "key.txt" } } },
  "https://other.example.com",
]
"#;
    let policy = Policy::parse(text, "p.toml").unwrap_or_else(|e| panic!("{e}"));
    let guest = policy.guest(None).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<(&str, &SecretSource, u32)> = guest
        .secret_headers()
        .map(|h: &SecretHeader| (h.name.as_str(), &h.source, h.line))
        .collect();
    assert_eq!(
        names,
        [
            ("authorization", &SecretSource::Env("API_TOKEN".into()), 3),
            ("x-key", &SecretSource::File(PathBuf::from("key.txt")), 3),
        ]
    );
    let first = guest.secret_headers().next().map(|h| h.format.apply("t"));
    assert_eq!(first.as_deref(), Some("Bearer t"));
    let by = |url: &str| {
        let target = Target::parse(url).unwrap_or_else(|e| panic!("{e}"));
        guest.allowing_rule(&target).map(|r| r.secrets.len())
    };
    assert_eq!(by("https://api.example.com/v1/x"), Some(2));
    assert_eq!(by("sse+https://api.example.com/v1/x"), Some(2));
    assert_eq!(by("https://other.example.com/"), Some(0));
    assert_eq!(by("https://api.example.com/v2"), None);
}

#[test]
fn malformed_secret_headers_are_refused_with_line_and_hint() {
    let cases = [
        (
            "allow = [{ rule = \"tcp://db.test:5432\", headers = { a = { env = \"X\" } } }]\n",
            "p.toml:1: invalid rule \"tcp://db.test:5432\": headers apply only to rules that send HTTP requests (http, https, ws, wss, sse+http, sse+https), not to a tcp rule",
        ),
        (
            "deny = [{ rule = \"https://x.example\", headers = { a = { env = \"X\" } } }]\n",
            "p.toml:1: invalid rule \"https://x.example\": deny rules take no headers (they refuse; nothing is sent)",
        ),
        (
            "allow = [{ rule = \"https://x.example\",\n headers = { authorization = { value = \"abc\" } } }]\n",
            "p.toml:2: unknown key \"value\" in header \"authorization\" (expected one of env, file, format)",
        ),
        (
            "allow = [{ rule = \"https://x.example\",\n headers = { authorization = { format = \"Bearer {}\" } } }]\n",
            "p.toml:2: header \"authorization\" names no source: add env = \"VAR\" or file = \"path\" (the secret itself never goes in the policy)",
        ),
        (
            "allow = [{ rule = \"https://x.example\", headers = { authorization = { env = \"A\", file = \"b\" } } }]\n",
            "p.toml:1: header \"authorization\" names two sources; keep either env or file",
        ),
        (
            "allow = [{ rule = \"https://x.example\", headers = { authorization = \"Bearer abc\" } }]\n",
            "p.toml:1: header \"authorization\" must be a table naming where its secret comes from, like headers = { authorization = { env = \"API_TOKEN\", format = \"Bearer {}\" } }, found string",
        ),
        (
            "allow = [{ rule = \"https://x.example\", headers = { host = { env = \"A\" } } }]\n",
            "p.toml:1: header \"host\" is set by the host and cannot carry a secret; use a header like \"authorization\" or \"x-api-key\"",
        ),
        (
            "allow = [{ rule = \"https://x.example\", headers = { authorization = { env = \"A\", format = \"Bearer\" } } }]\n",
            "p.toml:1: format \"Bearer\" has no \"{}\" where the secret goes (e.g. \"Bearer {}\")",
        ),
        (
            "allow = [{ rule = \"https://x.example\", headers = { authorization = { env = 3 } } }]\n",
            "p.toml:1: \"env\" of header \"authorization\" must be a non-empty string, found 3",
        ),
        (
            "allow = [{ rule = \"https://x.example\", headers = {} }]\n",
            "p.toml:1: \"headers\" is empty; write it like headers = { authorization = { env = \"API_TOKEN\", format = \"Bearer {}\" } }, or remove it",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse_err(text).as_deref(), Some(want), "{text:?}");
    }
}

#[test]
fn pins_parse_on_tls_rules_only() {
    let pin = "sha256/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let text =
        format!("allow = [{{ rule = \"tls://mail.example.com:993\", pins = [\"{pin}\"] }}]\n");
    let policy = Policy::parse(&text, "p.toml").unwrap_or_else(|e| panic!("{e}"));
    let guest = policy.guest(None).unwrap_or_else(|e| panic!("{e}"));
    let pins: Vec<String> = guest.allow[0].pins.iter().map(Pin::to_string).collect();
    assert_eq!(pins, [pin]);
    let hint = "a pin is \"sha256/\" and the base64 of a SHA-256 digest; `sandnet pin HOST:PORT` prints them";
    let cases = [
        (
            format!("allow = [{{ rule = \"http://x.example\", pins = [\"{pin}\"] }}]\n"),
            "p.toml:1: invalid rule \"http://x.example\": pins apply only to TLS rules (https, wss, sse+https, tls), not to a http rule".to_owned(),
        ),
        (
            "allow = [{ rule = \"https://x.example\",\n pins = [\"sha256/AAEC\"] }]\n".to_owned(),
            format!("p.toml:2: invalid rule \"https://x.example\": invalid pin \"sha256/AAEC\": 3 bytes where a SHA-256 digest has 32; {hint}"),
        ),
        (
            "allow = [{ rule = \"https://x.example\", pins = [] }]\n".to_owned(),
            "p.toml:1: \"pins\" must be an array of pins like [\"sha256/AAAA...=\"] (`sandnet pin HOST:PORT` prints them), found an empty array".to_owned(),
        ),
        (
            format!("deny = [{{ rule = \"https://x.example\", pins = [\"{pin}\"] }}]\n"),
            "p.toml:1: invalid rule \"https://x.example\": deny rules take no pins (they refuse; nothing is sent)".to_owned(),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse_err(&text), Some(want), "{text:?}");
    }
}

#[test]
fn rule_methods_must_be_known_and_upper_case() {
    for ok in [
        "GET https://x.example",
        "GET,HEAD,PROPFIND https://x.example",
    ] {
        let text = format!("allow = [\"{ok}\"]\n");
        assert_eq!(parse_err(&text), None, "{ok:?}");
    }
    let cases = [
        (
            "GETT https://x.example",
            "p.toml:1: invalid rule \"GETT https://x.example\": unknown method \"GETT\" (did you mean \"GET\"?)",
        ),
        (
            "get https://x.example",
            "p.toml:1: invalid rule \"get https://x.example\": method \"get\" must be written in upper case, as servers compare methods case-sensitively: write \"GET\"",
        ),
        (
            "GET,Post https://x.example",
            "p.toml:1: invalid rule \"GET,Post https://x.example\": method \"Post\" must be written in upper case, as servers compare methods case-sensitively: write \"POST\"",
        ),
        (
            "FROBNICATE https://x.example",
            "p.toml:1: invalid rule \"FROBNICATE https://x.example\": unknown method \"FROBNICATE\" (expected one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK, REPORT, SEARCH, QUERY)",
        ),
    ];
    for (rule, want) in cases {
        let text = format!("allow = [\"{rule}\"]\n");
        assert_eq!(parse_err(&text).as_deref(), Some(want), "{rule:?}");
    }
}
