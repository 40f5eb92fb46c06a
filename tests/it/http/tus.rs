//! Resumable upload: the Rust SDK's `TusUpload` sends 20 MB to a tus 1.0
//! server on loopback that drops the connection midway; the upload resumes
//! from the server's offset and arrives whole, through the guard, which also
//! decides on a cancel's `DELETE`. (Pause, resume and cancel in every
//! language: the conformance case `tus`.)

use crate::support::assertions::check;
use crate::support::guests::run_cli;
use crate::support::policy::policy;
use crate::support::tus::{TusFaults, TusServer};

#[test]
fn a_20_mb_tus_upload_resumes_after_a_dropped_connection() {
    const SIZE: usize = 20_000_000;
    let srv = TusServer::start(TusFaults::drop_at(10_000_000));
    let p = policy(&format!(
        "allow = [\"POST {}\", \"HEAD,PATCH {}\"]",
        srv.url("/files"),
        srv.url("/files/*")
    ));
    let out = run_cli(
        "rust-http-stream",
        &p,
        &[],
        &["tus", &srv.url("/files"), &SIZE.to_string(), "4194304"],
    );
    check!(out.code == Some(0), out);
    let last = out.stdout.lines().last().unwrap_or("");
    check!(
        last == format!("done {} resumes=1", srv.url("/files/1")),
        out
    );
    check!(
        out.stdout.contains(&format!("progress {SIZE}/{SIZE}\n")),
        out
    );
    check!(srv.dropped() == 1, out, "the server dropped one PATCH");
    let (total, data) = srv.upload("1").expect("upload 1 exists");
    check!(total == SIZE as u64 && data.len() == SIZE, out);
    let whole = data.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8);
    check!(whole, out, "every byte arrived once, in order");
}

/// Cancelling goes through the guard like every other request: under a
/// policy without `DELETE` on the uploads the conformance guest's cancel of
/// its second upload is denied (the hint names the line to add) and the
/// upload stays on the server.
#[test]
fn a_tus_cancel_without_a_delete_grant_is_denied_and_deletes_nothing() {
    let srv = TusServer::start(TusFaults::default());
    let p = policy(&format!(
        "allow = [\"POST {}\", \"HEAD,PATCH {}\"]",
        srv.url("/files"),
        srv.url("/files/*")
    ));
    let out = run_cli("rust-conformance", &p, &[], &["tus", &srv.url("/files")]);
    check!(out.code == Some(1), out);
    let first = srv.url("/files/1");
    check!(
        out.stdout == format!("paused 262144\ndone {first} resumes=0\n"),
        out
    );
    check!(out.stderr.contains("denied"), out);
    check!(
        out.stderr
            .contains(&format!("DELETE {}", srv.url("/files/2"))),
        out,
        "the hint names the DELETE to grant"
    );
    check!(srv.deleted().is_empty(), out, "nothing was deleted");
    check!(srv.upload("2").is_some(), out, "upload 2 stays");
}
