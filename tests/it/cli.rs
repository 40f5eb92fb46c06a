//! The `sandnet` command line: `check`, `explain`, `wit`, `run --help` and the
//! exit statuses of unusable inputs.

use crate::support::assertions::check;
use crate::support::guests::{Cli, Output, repo_root};
use crate::support::policy::{PolicyFile, line_of, write_policy};

const TWO_GUESTS: &str = r#"# two guests
[guest.alpha]
allow = [
  "https://api.example.com/v1/*",
  "POST https://hooks.example.com/in",
  { rule = "http://db.internal:8080", addresses = ["10.1.2.0/24"] },
]
deny = ["https://api.example.com/v1/admin/*"]

[guest.beta]
allow = ["http://127.0.0.1:8080/ok"]
[guest.beta.limits]
memory = "64 MiB"
wall_time = "10s"
"#;

fn sandnet(args: &[&str]) -> Output {
    Cli::new(args).output()
}

/// `sandnet explain --policy POLICY --guest GUEST ARGS...`.
fn explain(policy: &PolicyFile, guest: &str, args: &[&str]) -> Output {
    let head = ["explain", "--policy", policy.arg(), "--guest", guest];
    sandnet(&[&head[..], args].concat())
}

#[test]
fn check_accepts_a_valid_policy_and_lists_guests() {
    let p = write_policy(TWO_GUESTS);
    let out = sandnet(&["check", p.arg()]);
    check!(out.code == Some(0), out);
    check!(
        out.stdout
            .contains("ok (2 guests: alpha, beta; 0 warnings)"),
        out
    );
}

#[test]
fn check_warns_about_over_broad_rules_once_per_rule() {
    let p =
        write_policy("[guest.a]\nallow = [\n  \"https://api.example.com\",\n  \"https://*\",\n]\n");
    let out = sandnet(&["check", p.arg()]);
    check!(out.code == Some(0), out, "warnings do not fail the check");
    check!(out.stdout.contains("warning"), out);
    check!(out.stdout.contains("allows any host"), out);
    let location = format!("{}:4:", p.arg());
    check!(
        out.stdout.matches(&location).count() == 1,
        out,
        "the rule's location {location} is printed once"
    );
    check!(out.stdout.contains("1 warning)"), out);
}

#[test]
fn check_rejects_malformed_policies_with_file_line_and_value() {
    // (policy text, line of the error, text the message must contain)
    let cases: [(&str, usize, &str); 6] = [
        ("[guest.a]\n\nallow = [\"htp://example.com\"]\n", 3, "htp"),
        (
            "[guest.a]\nallow = []\n[guest.a.limits]\nmemory = \"64 MiBB\"\n",
            4,
            "64 MiBB",
        ),
        (
            "[guest.a]\nalow = [\"https://example.com\"]\n",
            2,
            "did you mean \"allow\"",
        ),
        (
            "[guest.a]\nallow = [\"https://example.com:99999\"]\n",
            2,
            "99999",
        ),
        (
            "[guest.a]\nallow = [\"https://example.com\"\n",
            2,
            "invalid TOML",
        ),
        (
            "[guest.a]\ndeny = [{ rule = \"http://x.test\", addresses = [\"10.0.0.1\"] }]\n",
            2,
            "http://x.test",
        ),
    ];
    for (text, line, needle) in cases {
        let p = write_policy(text);
        let out = sandnet(&["check", p.arg()]);
        check!(out.code == Some(78), out, "policy:\n{text}");
        let location = format!("{}:{line}:", p.arg());
        check!(
            out.stderr.contains(&location),
            out,
            "names {location}; policy:\n{text}"
        );
        check!(
            out.stderr.contains(needle),
            out,
            "names {needle:?}; policy:\n{text}"
        );
    }
}

#[test]
fn check_of_a_missing_file_is_a_policy_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let out = sandnet(&["check", missing.to_str().unwrap()]);
    check!(out.code == Some(78), out);
    check!(out.stderr.contains("nope.toml"), out);
}

/// One case of what `explain` prints: exit status `code`, stdout starting with
/// `starts`, saying each of `says` and none of `never`.
struct Explained<'a> {
    case: &'a str,
    target: &'a str,
    code: i32,
    starts: &'a str,
    says: Vec<String>,
    never: &'a [&'a str],
}

/// What `explain` prints for guest alpha of [`TWO_GUESTS`], one row per case.
#[test]
fn explain_names_the_deciding_rule_or_the_line_to_add() {
    let p = write_policy(TWO_GUESTS);
    let at = |needle: &str| format!("{}:{}", p.arg(), line_of(TWO_GUESTS, needle));
    let cases = [
        Explained {
            case: "an allowed target names the rule and its line",
            target: "GET https://api.example.com/v1/items",
            code: 0,
            starts: "allowed: GET https://api.example.com/v1/items",
            says: vec![format!(
                "by rule at {}: https://api.example.com/v1/*",
                at("\"https://api.example.com/v1/*\"")
            )],
            never: &[],
        },
        Explained {
            case: "a denied target prints the line to add",
            target: "https://api.example.com/v2/items",
            code: 1,
            starts: "denied: ",
            says: vec![
                "to allow it, add to `allow` in [guest.alpha]".into(),
                "\n    \"https://api.example.com/v2/items\"".into(),
            ],
            never: &[],
        },
        Explained {
            case: "a method denial suggests the method",
            target: "GET https://hooks.example.com/in",
            code: 1,
            starts: "",
            says: vec![
                "allows only POST".into(),
                "\"GET https://hooks.example.com/in\"".into(),
            ],
            never: &[],
        },
        Explained {
            case: "a deny rule wins, names its line and offers no allow line",
            target: "https://api.example.com/v1/admin/users",
            code: 1,
            starts: "",
            says: vec![at("deny = ")],
            never: &["to allow it"],
        },
    ];
    for c in cases {
        let out = explain(&p, "alpha", &[c.target]);
        let case = c.case;
        check!(out.code == Some(c.code), out, "{case}");
        check!(
            out.stdout.starts_with(c.starts),
            out,
            "{case}: starts {:?}",
            c.starts
        );
        for text in &c.says {
            check!(out.stdout.contains(text), out, "{case}: says {text:?}");
        }
        for text in c.never {
            check!(!out.stdout.contains(text), out, "{case}: not {text:?}");
        }
    }
}

#[test]
fn explain_checks_resolved_addresses_like_the_guard() {
    let p = write_policy(TWO_GUESTS);

    // A public name granted by name: a metadata address behind it is refused.
    let out = explain(
        &p,
        "alpha",
        &[
            "--address",
            "169.254.169.254",
            "https://api.example.com/v1/x",
        ],
    );
    check!(out.code == Some(1), out);
    check!(
        out.stdout
            .contains("allowed: https://api.example.com/v1/x\n"),
        out
    );
    check!(
        out.stdout
            .contains("denied: https://api.example.com/v1/x via 169.254.169.254"),
        out
    );
    check!(
        out.stdout.contains("addresses = [\"169.254.169.254\"]"),
        out
    );

    // The allowance grants 10.1.2.0/24 for db.internal, and nothing else private.
    let out = explain(
        &p,
        "alpha",
        &["--address", "10.1.2.3", "http://db.internal:8080/q"],
    );
    check!(out.code == Some(0), out);
    let out = explain(
        &p,
        "alpha",
        &["--address", "192.168.1.1", "http://db.internal:8080/q"],
    );
    check!(out.code == Some(1), out);
}

#[test]
fn explain_needs_guest_when_the_file_has_several() {
    let p = write_policy(TWO_GUESTS);
    let out = sandnet(&["explain", "--policy", p.arg(), "http://127.0.0.1:8080/ok"]);
    check!(out.code == Some(78), out);
    check!(out.stderr.contains("--guest"), out);
    check!(out.stderr.contains("alpha, beta"), out);

    let out = explain(&p, "beta", &["http://127.0.0.1:8080/ok"]);
    check!(out.code == Some(0), out);
    let out = explain(&p, "gamma", &["http://127.0.0.1:8080/ok"]);
    check!(out.code == Some(78), out);
    check!(out.stderr.contains("gamma"), out);
}

#[test]
fn wit_prints_the_package() {
    let out = sandnet(&["wit"]);
    check!(out.code == Some(0), out);
    check!(out.stdout.contains("package sandnet:net"), out);
    for interface in ["interface types", "interface http", "world "] {
        check!(out.stdout.contains(interface), out, "missing {interface:?}");
    }
}

#[test]
fn wit_out_writes_the_package_and_its_deps() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("wit");
    let out = sandnet(&["wit", "--out", out_dir.to_str().unwrap()]);
    check!(out.code == Some(0), out);
    let root = repo_root().join("wit");
    for file in [
        "types.wit",
        "http.wit",
        "world.wit",
        "deps/io/io.wit",
        "deps/cli/cli.wit",
    ] {
        let written = std::fs::read_to_string(out_dir.join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}\n{out}"));
        let original = std::fs::read_to_string(root.join(file)).unwrap();
        assert_eq!(written, original, "{file} differs from wit/{file}");
    }
}

#[test]
fn run_help_documents_exit_statuses() {
    let out = sandnet(&["run", "--help"]);
    check!(out.code == Some(0), out);
    for code in ["124", "125", "70", "78"] {
        check!(
            out.stdout.contains(code),
            out,
            "--help should explain exit status {code}"
        );
    }
    check!(
        out.stdout.contains("wall_time") && out.stdout.contains("memory"),
        out
    );
}

#[test]
fn run_with_unusable_policy_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    // No component is needed: the policy is read first.
    let out = sandnet(&["run", "unused.wasm", "--policy", missing.to_str().unwrap()]);
    check!(out.code == Some(78), out);
    check!(out.stderr.contains("missing.toml"), out);

    let p = write_policy("[guest.a]\nallow = [\"ftp://x\"]\n");
    let out = sandnet(&["run", "unused.wasm", "--policy", p.arg()]);
    check!(out.code == Some(78), out);
    check!(out.stderr.contains(&format!("{}:2:", p.arg())), out);

    let p = write_policy(TWO_GUESTS);
    let out = sandnet(&["run", "unused.wasm", "--policy", p.arg()]);
    check!(out.code == Some(78), out, "two guests and no --guest");
}

#[test]
fn run_with_unreadable_component_exits_71() {
    let p = write_policy("[guest.a]\n");
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm").unwrap();
    // A missing file and one that is not wasm: a host failure naming the file.
    for component in [dir.path().join("absent.wasm"), junk] {
        let name = component
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let path = component.to_str().unwrap();
        let out = sandnet(&["run", path, "--policy", p.arg(), "--no-cache"]);
        check!(out.code == Some(71), out, "{name}");
        check!(out.stderr.contains(&name), out);
    }
}

#[test]
fn explain_of_a_refused_request_judges_no_address() {
    let p = write_policy("allow = [\"GET http://127.0.0.1:8080/public/*\"]\n");
    let out = Cli::new([
        "explain",
        "--policy",
        p.arg(),
        "GET http://127.0.0.1:8080/private/key.txt",
    ])
    .output();
    check!(out.code == Some(1), out);
    check!(
        out.stdout
            .starts_with("denied: GET http://127.0.0.1:8080/private/key.txt"),
        out
    );
    check!(
        !out.stdout.contains("allowed"),
        out,
        "a refused request never dials, so no address verdict follows"
    );
}

#[test]
fn check_and_run_refuse_what_the_policy_names_but_cannot_use() {
    // (policy text, line of the error, text the message must contain); the
    // directory holds `not-pem.pem` (text, no certificate).
    let cases: [(&str, usize, &str); 8] = [
        (
            "[guest.a]\nallow = []\nca_bundle = \"missing.pem\"\n",
            3,
            "cannot read CA bundle",
        ),
        (
            "[guest.a]\n\nca_bundle = \"not-pem.pem\"\n",
            3,
            "not-pem.pem holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)",
        ),
        (
            "[guest.a]\nallow = [\n  \"GETT https://api.example.com/\",\n]\n",
            3,
            "unknown method \"GETT\" (did you mean \"GET\"?)",
        ),
        (
            "[guest.a]\nallow = [\"get https://api.example.com/\"]\n",
            2,
            "method \"get\" must be written in upper case, as servers compare methods case-sensitively: write \"GET\"",
        ),
        (
            "[guest.a]\nallow = [\n  { rule = \"https://api.example.com\", headers = { authorization = { env = \"SANDNET_IT_NEVER_SET\" } } },\n]\n",
            3,
            "secret header \"authorization\": environment variable SANDNET_IT_NEVER_SET is not set (export it before starting sandnet)",
        ),
        (
            "[guest.a]\nallow = [\n  { rule = \"https://api.example.com\", headers = { x-key = { file = \"absent-token\" } } },\n]\n",
            3,
            "secret header \"x-key\": cannot read file ",
        ),
        (
            "[guest.a]\nallow = [\n  { rule = \"https://api.example.com\", pins = [\"sha256/abc\"] },\n]\n",
            3,
            "invalid pin \"sha256/abc\"",
        ),
        (
            "[guest.a]\nallow = [\n  { rule = \"tcp://db.example.com:5432\", pins = [\"sha256/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"] },\n]\n",
            3,
            "pins apply only to TLS rules (https, wss, sse+https, tls), not to a tcp rule",
        ),
    ];
    for (text, line, needle) in cases {
        let p = write_policy(text);
        std::fs::write(p.dir.path().join("not-pem.pem"), "hello\n").unwrap();
        let location = format!("{}:{line}: ", p.arg());
        let checked = sandnet(&["check", p.arg()]);
        let ran = Cli::new(["run", "unused.wasm", "--policy", p.arg()])
            .env_remove("SANDNET_IT_NEVER_SET")
            .output();
        for out in [checked, ran] {
            check!(out.code == Some(78), out, "policy:\n{text}");
            check!(
                out.stderr.starts_with(&format!("sandnet: {location}")),
                out,
                "names {location}; policy:\n{text}"
            );
            check!(out.stderr.contains(needle), out, "says {needle:?}");
        }
    }
}
