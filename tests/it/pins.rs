//! SPKI pins (`pins = ["sha256/..."]`): a TLS connection to a pinned host
//! succeeds only when the presented chain holds a pin (leaf or CA), after the
//! normal verification, over https (sandnet:net/http and wasi:http), wss and
//! tls://; `sandnet pin` prints the pins to paste.

use crate::support::assertions::check;
use crate::support::guests::{Cli, run_cli};
use crate::support::policy::policy;
use crate::support::servers::{Server, WsServer};
use crate::support::tls::TestCa;

/// A pin no test certificate has.
const WRONG_PIN: &str = "sha256/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A policy allowing `rule` with `pins`, trusting the test CA.
fn pinned(ca: &TestCa, rule: &str, pins: &[&str]) -> crate::support::policy::PolicyFile {
    let pins: Vec<String> = pins.iter().map(|p| format!("\"{p}\"")).collect();
    policy(&format!(
        "allow = [{{ rule = \"{rule}\", pins = [{}] }}]\nca_bundle = \"{}\"",
        pins.join(", "),
        ca.ca_pem_str()
    ))
}

/// The error text a guest gets when the chain holds no pin of `expected`.
fn mismatch(ca: &TestCa, expected: &str) -> String {
    format!(
        "the certificate chain of 127.0.0.1 matches none of the pins the policy expects ({expected}); it presents {}, {}",
        ca.leaf_pin, ca.ca_pin
    )
}

#[test]
fn https_passes_with_the_leaf_or_ca_pin_and_fails_with_another() {
    let ca = TestCa::new();
    let srv = Server::https(&ca);
    for guest in ["rust-http-get", "rust-wasi-http-get"] {
        for pin in [&ca.leaf_pin, &ca.ca_pin] {
            let p = pinned(&ca, &srv.url("/ok"), &[WRONG_PIN, pin]);
            let out = run_cli(guest, &p, &[], &[&srv.url("/ok")]);
            check!(
                out.code == Some(0) && out.stdout == "200\nhello",
                out,
                "{guest} {pin}"
            );
        }
        let before = srv.requests();
        let p = pinned(&ca, &srv.url("/ok"), &[WRONG_PIN]);
        let out = run_cli(guest, &p, &[], &[&srv.url("/ok")]);
        check!(out.code == Some(1), out, "{guest}");
        // sandnet:net/http shows the guest the message; wasi:http has only an error code.
        let said = if guest == "rust-wasi-http-get" {
            out.stderr.contains("TlsCertificateError")
        } else {
            out.stderr
                .contains(&format!("tls: {}", mismatch(&ca, WRONG_PIN)))
        };
        check!(said, out, "{guest}");
        assert_eq!(
            srv.requests(),
            before,
            "no request over a connection that failed its pins"
        );
    }
}

#[test]
fn wss_and_tls_streams_are_pinned_too() {
    let ca = TestCa::new();
    let ws = WsServer::tls(&ca);
    let url = ws.url("wss", "/");
    let p = pinned(&ca, &url, &[&ca.ca_pin]);
    let out = run_cli("rust-ws-client", &p, &[], &[&url, "hi"]);
    check!(out.code == Some(0) && out.stdout.starts_with("hi\n"), out);
    let p = pinned(&ca, &url, &[WRONG_PIN]);
    let out = run_cli("rust-ws-client", &p, &[], &[&url, "hi"]);
    check!(out.code == Some(1), out);
    check!(out.stderr.contains(&mismatch(&ca, WRONG_PIN)), out);

    // tls:// to the same host: pins belong to the host, whatever the rule's scheme.
    let tls = format!("tls://127.0.0.1:{}", ws.port());
    let p = policy(&format!(
        "allow = [\"{tls}\", {{ rule = \"https://127.0.0.1:1\", pins = [\"{WRONG_PIN}\"] }}]\nca_bundle = \"{}\"",
        ca.ca_pem_str()
    ));
    let out = run_cli("rust-tcp-client", &p, &[], &[&tls, "x"]);
    check!(out.code == Some(1), out);
    check!(out.stderr.contains(&mismatch(&ca, WRONG_PIN)), out);
}

#[test]
fn pin_prints_the_chain_of_a_server_and_of_a_pem_file() {
    let ca = TestCa::new();
    let srv = Server::https(&ca);
    let out = Cli::new([
        "pin",
        &format!("127.0.0.1:{}", srv.port()),
        "--ca-bundle",
        &ca.ca_pem_str(),
    ])
    .output();
    check!(out.code == Some(0), out);
    assert_eq!(
        out.stdout,
        format!(
            "{}  CN=sandnet test server\n{}  CN=sandnet test CA\n",
            ca.leaf_pin, ca.ca_pin
        )
    );
    check!(out.stderr.is_empty(), out);
    // Without the CA the chain does not verify: printed, with a warning.
    let out = Cli::new(["pin", &format!("127.0.0.1:{}", srv.port())]).output();
    check!(out.code == Some(0) && out.stdout.lines().count() == 2, out);
    check!(
        out.stderr.contains("warning: this chain does not verify"),
        out
    );

    let out = Cli::new(["pin", "--pem", &ca.ca_pem_str()]).output();
    check!(out.code == Some(0), out);
    assert_eq!(out.stdout, format!("{}  CN=sandnet test CA\n", ca.ca_pin));
    assert_eq!(srv.requests(), 0, "pin sends no request");
}
