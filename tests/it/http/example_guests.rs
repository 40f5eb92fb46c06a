//! The `http-get` example guests show the client features from the command
//! line: `[--retries N] [--max-redirects N] [--decode] URL...` fetches each
//! URL in one run and prints `STATUS BYTES` per URL, then the last body.

use crate::support::assertions::check;
use crate::support::guests::{for_each_lang, run_cli};
use crate::support::policy::policy;
use crate::support::servers::Server;

for_each_lang!("http-get":
    retries_recover_a_flaky_endpoint,
    a_repeat_is_answered_from_the_cache,
    decode_hands_over_the_decoded_body,
);

fn retries_recover_a_flaky_endpoint(guest: &str) {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"GET {}\"]", srv.url("/flaky")));
    let url = srv.url("/flaky?fail=2");
    let out = run_cli(guest, &p, &[], &["--retries", "3", &url]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "200 9\nrecovered", out);
    check!(srv.requests() == 3, out);

    // Without --retries the first 503 is the answer.
    let url = srv.url("/flaky?fail=2&again=1");
    let out = run_cli(guest, &p, &[], &[&url, &url]);
    check!(out.stdout == "503 9\n503 9\ntry again", out);
}

fn a_repeat_is_answered_from_the_cache(guest: &str) {
    let srv = Server::http();
    let url = srv.url("/cached?max-age=60");
    let p = policy(&format!(
        "allow = [\"GET {}\"]\ncache = \"memory\"",
        srv.url("/cached")
    ));
    let out = run_cli(guest, &p, &[], &[&url, &url]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "200 11\n200 11\ncached body", out);
    check!(
        srv.requests() == 1,
        out,
        "the second GET never reached the server"
    );

    // A stale entry is revalidated: the server answers 304 to If-None-Match.
    let srv = Server::http();
    let url = srv.url("/cached?max-age=0");
    let p = policy(&format!(
        "allow = [\"GET {}\"]\ncache = \"memory\"",
        srv.url("/cached")
    ));
    let out = run_cli(guest, &p, &[], &[&url, &url]);
    check!(out.stdout == "200 11\n200 11\ncached body", out);
    check!(srv.requests() == 2, out);
}

fn decode_hands_over_the_decoded_body(guest: &str) {
    let srv = Server::http();
    let p = policy(&format!(
        "allow = [\"GET {}\"]\n[guest.t.limits]\nmax_body_bytes = \"1 MiB\"",
        srv.url("/encoded")
    ));
    let small = srv.url("/encoded?coding=br&n=5000");
    let out = run_cli(guest, &p, &[], &["--decode", &small]);
    check!(out.code == Some(0), out);
    check!(out.stdout.starts_with("200 5000\n"), out);

    // A 20 MB bomb of zeros in ~20 KB of gzip stops at the 1 MiB cap.
    let bomb = srv.url("/encoded?coding=gzip&n=20000000");
    let out = run_cli(guest, &p, &[], &["--decode", &bomb]);
    check!(out.code == Some(1), out);
    check!(out.stderr.contains("max_body_bytes"), out);
}
