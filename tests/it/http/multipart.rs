//! Multipart: the Rust SDK's `Multipart` streams a `multipart/form-data` form
//! of a field and two files through `upload` in one request, with progress,
//! and so does Python's `requests` for `files=`; a loopback server parses
//! them with `multer`. (Every SDK's form: the `multipart` conformance case.)

use crate::support::assertions::check;
use crate::support::guests::run_cli;
use crate::support::policy::policy;
use crate::support::servers::Server;

#[test]
fn two_files_go_up_in_one_multipart_request_with_progress() {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"POST {}\"]", srv.url("/multipart")));
    let out = run_cli(
        "rust-http-stream",
        &p,
        &[],
        &["multipart", &srv.url("/multipart"), "300000"],
    );
    check!(out.code == Some(0), out);
    let lines: Vec<&str> = out.stdout.lines().collect();
    check!(lines.len() == 5, out);
    let progress: Vec<&str> = lines[0].split([' ', '/']).collect();
    check!(progress[0] == "progress", out);
    let reports: u64 = progress[1].parse().unwrap();
    check!(
        reports >= 7,
        out,
        "300 KB + 150 KB in 64 KiB chunks: several reports"
    );
    let sent: u64 = progress[2].parse().unwrap();
    let total: u64 = progress[3].parse().unwrap();
    // Parts' heads and the closing boundary add a few hundred bytes.
    check!(total > 450_000 && total < 451_000, out);
    // `sent` counts what the connection took; the last chunks may still be queued.
    check!(sent > 0 && sent <= total, out);
    check!(lines[1] == "200", out);
    check!(lines[2] == "note - - 9 two_files", out);
    check!(
        lines[3] == "first a.bin application/octet-stream 300000 true",
        out
    );
    check!(lines[4] == "second b.txt text/plain 150000 true", out);
    check!(srv.requests() == 1, out);
}

/// Python's `requests` (`requests-files`) and `sandnet.aio` (`aio-files`)
/// send `data=` and two `files=` as one streamed form.
#[test]
fn python_requests_and_aio_stream_files_and_data_as_one_multipart_form() {
    for case in ["requests-files", "aio-files"] {
        let srv = Server::http();
        let p = policy(&format!("allow = [\"POST {}\"]", srv.url("/multipart")));
        let out = run_cli(
            "python-conformance",
            &p,
            &[],
            &[case, &srv.url("/multipart")],
        );
        check!(out.code == Some(0), out, "{case}");
        check!(
            out.stdout
                == "200\nnote - - 9 two_files\n\
                    first a.bin application/octet-stream 300000 i%251\n\
                    second b.txt text/plain 150000 i%251\n",
            out,
            "{case}"
        );
        check!(srv.requests() == 1, out, "{case}");
    }
}

/// Python's and C's forms with a file that ends 50000 bytes before the size
/// it announced: the upload is cancelled with an error naming the part and
/// both sizes.
#[test]
fn a_file_shorter_than_announced_cancels_the_upload_with_a_clear_error() {
    let cases = [
        (
            "python-conformance",
            "ValueError: multipart part 'second' announced 150000 bytes but ended after 100000\n",
        ),
        (
            "c-conformance",
            "invalid-argument: multipart file \"second\" announced 150000 bytes but its read \
             function returned 0 with 50000 left (asked for 50000)\n",
        ),
    ];
    for (guest, expected) in cases {
        let srv = Server::http();
        let p = policy(&format!("allow = [\"POST {}\"]", srv.url("/multipart")));
        let out = run_cli(guest, &p, &[], &["multipart-short", &srv.url("/multipart")]);
        check!(out.code == Some(0), out);
        check!(out.stdout == expected, out, "{guest}");
    }
}
