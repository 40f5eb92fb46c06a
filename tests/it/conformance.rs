//! The cross-language guest conformance suite: the same cases, against the
//! same loopback servers, for every language's guest library. Each language
//! has a `conformance CASE TARGET` guest written in that language's idiom
//! (guests/<lang>/conformance); for a case they all must print the same lines.
//! A gap in one language's library fails that language's test of the case.

use std::sync::Arc;

use futures::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::assertions::check;
use crate::support::guests::{for_each_lang, run_cli};
use crate::support::policy::policy;
use crate::support::servers::{
    Behaviour, LineServer, Reply, Server, SseServer, UdpEchoPeer, WsServer,
};
use crate::support::tus::{TusFaults, TusServer};

for_each_lang!([rust, python, js, c] "conformance":
    get_json,
    post_json,
    headers_both_ways,
    denial_names_the_policy_line,
    timeout,
    streamed_download,
    upload_with_progress,
    websocket_echo_and_close_code,
    websocket_close_before_first_read,
    websocket_close_before_first_send,
    sse_resumes_with_last_event_id,
    tcp_line_echo,
    udp_echo,
    concurrent_requests,
    tus_pause_resume_and_cancel,
    tus_refuses_an_offset_past_the_data,
    multipart_form_with_two_files,
);

/// Runs `guest CASE TARGET` under a policy granting `rules`; asserts exit 0
/// and `stdout`.
fn expect(guest: &str, rules: &[&str], case: &str, target: &str, stdout: &str) {
    let quoted: Vec<String> = rules.iter().map(|r| format!("\"{r}\"")).collect();
    let p = policy(&format!("allow = [{}]", quoted.join(", ")));
    let out = run_cli(guest, &p, &[], &[case, target]);
    check!(out.code == Some(0), out);
    check!(out.stdout == stdout, out, "case {case}");
}

fn get_json(guest: &str) {
    let srv = Server::http();
    let url = srv.url("/json");
    expect(guest, &[&url], "get-json", &url, "200 world 3\n");
}

fn post_json(guest: &str) {
    let srv = Server::http();
    let url = srv.url("/json-echo");
    expect(
        guest,
        &[&url],
        "post-json",
        &url,
        "200 42 application/json\n",
    );
}

fn headers_both_ways(guest: &str) {
    let srv = Server::http();
    let url = srv.url("/reflect-header");
    expect(guest, &[&url], "headers", &url, "200 yes\n");
}

fn denial_names_the_policy_line(guest: &str) {
    let srv = Server::http();
    let granted = srv.url("/ok");
    let refused = srv.url("/json");
    expect(
        guest,
        &[&granted],
        "denied",
        &refused,
        &format!("denied \"{refused}\"\n"),
    );
    assert!(
        srv.seen().is_empty(),
        "nothing reached the server: {:?}",
        srv.seen()
    );
}

fn timeout(guest: &str) {
    let srv = Server::http();
    let url = srv.url("/delay?ms=3000");
    expect(guest, &[&srv.url("/delay")], "timeout", &url, "timeout\n");
}

fn streamed_download(guest: &str) {
    let srv = Server::http();
    let url = srv.url("/big?n=3000000");
    expect(
        guest,
        &[&srv.url("/big")],
        "download",
        &url,
        "200 3000000\n",
    );
}

fn upload_with_progress(guest: &str) {
    let srv = Server::http();
    let url = srv.url("/count");
    expect(guest, &[&url], "upload", &url, "progress ok\n200 1000000\n");
}

fn websocket_echo_and_close_code(guest: &str) {
    let srv = WsServer::plain();
    let url = srv.url("ws", "/");
    expect(
        guest,
        &[&url],
        "ws-echo",
        &url,
        "ping\nclose 4000 requested\n",
    );
}

/// A server that closes with 4001 "bye" right after the handshake.
fn closing_server() -> WsServer {
    WsServer::start(None, |_, io, _| {
        Box::pin(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(io).await else {
                return;
            };
            let frame = CloseFrame {
                code: CloseCode::from(4001),
                reason: "bye".into(),
            };
            let _ = ws.send(Message::Close(Some(frame))).await;
            let _ = ws.close(None).await;
        })
    })
}

fn websocket_close_before_first_read(guest: &str) {
    let srv = closing_server();
    let url = srv.url("ws", "/");
    expect(guest, &[&url], "ws-close-first", &url, "close 4001 bye\n");
}

fn websocket_close_before_first_send(guest: &str) {
    let srv = closing_server();
    let url = srv.url("ws", "/");
    expect(
        guest,
        &[&url],
        "ws-send-after-close",
        &url,
        "close 4001 bye\n",
    );
}

fn sse_resumes_with_last_event_id(guest: &str) {
    let srv = SseServer::start(Arc::new(|n, _| match n {
        1 => Reply::events("retry: 50\nid: 1\ndata: a\n\nid: 2\ndata: b\n\n"),
        2 => Reply::events("id: 3\ndata: c\n\n"),
        _ => Reply {
            status: "204 No Content",
            headers: vec!["content-length: 0".to_owned()],
            ..Reply::events("")
        },
    }));
    let url = srv.url("/events");
    expect(
        guest,
        &[&format!("sse+{url}")],
        "sse",
        &url,
        "1 a\n2 b\n3 c\n",
    );
    let seen = srv.seen();
    assert_eq!(
        seen.get(1).and_then(|s| s.last_event_id.as_deref()),
        Some("2"),
        "the reconnect resumed after event 2: {seen:?}"
    );
}

fn tcp_line_echo(guest: &str) {
    let srv = LineServer::plain(Behaviour::Upper);
    let url = srv.url("tcp");
    expect(guest, &[&url], "tcp-echo", &url, "HELLO\n");
}

fn udp_echo(guest: &str) {
    let target = UdpEchoPeer::start(false).target();
    expect(guest, &[&target], "udp-echo", &target, "ping\n");
}

/// Two requests at once (the language's async idiom): the server answers
/// only when both are waiting, so a library that sends them one after the
/// other never gets an answer and times out.
fn concurrent_requests(guest: &str) {
    let srv = Server::http();
    let url = srv.url(&format!("/barrier?key={guest}&n=2"));
    expect(
        guest,
        &[&srv.url("/barrier")],
        "concurrent",
        &url,
        "200 200\n",
    );
}

/// Starts a tus server playing `faults`, runs the guest's `case` against its
/// creation URL under a policy granting `POST` there and `HEAD,PATCH,DELETE`
/// on the uploads, asserts exit 0 and the `stdout` made for that server, and
/// returns the server for checks on what it holds.
fn expect_tus(
    guest: &str,
    faults: TusFaults,
    case: &str,
    stdout: impl FnOnce(&TusServer) -> String,
) -> TusServer {
    let srv = TusServer::start(faults);
    let create = srv.url("/files");
    let post = format!("POST {create}");
    let uploads = format!("HEAD,PATCH,DELETE {}", srv.url("/files/*"));
    expect(guest, &[&post, &uploads], case, &create, &stdout(&srv));
    srv
}

/// tus resumable upload with pause, resume from the URL and cancel: the
/// guest uploads 1 MB (byte i is `i % 251`) in 256 KiB chunks, pauses after
/// the first confirmed chunk, resumes from the upload URL through a
/// connection the server drops once mid-upload, then starts a second upload
/// and cancels it after its first chunk (a `DELETE`).
fn tus_pause_resume_and_cancel(guest: &str) {
    const SIZE: usize = 1_000_000;
    let srv = expect_tus(guest, TusFaults::drop_at(600_000), "tus", |srv| {
        let first = srv.url("/files/1");
        format!("paused 262144\ndone {first} resumes=1\ncancelled\n")
    });
    check!(srv.dropped() == 1, guest, "the server dropped one PATCH");
    let (total, data) = srv.upload("1").unwrap_or_default();
    check!(
        total == SIZE as u64 && data.len() == SIZE,
        guest,
        "upload 1 is whole"
    );
    let whole = data.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8);
    check!(
        whole,
        guest,
        "every byte of upload 1 arrived once, in order"
    );
    check!(srv.created() == 2, guest, "a second upload was created");
    check!(
        srv.deleted() == ["2"],
        guest,
        "the second upload was deleted"
    );
    check!(srv.upload("2").is_none(), guest, "upload 2 is gone");
}

/// A tus server that claims more bytes than the upload has: every `HEAD` on
/// an upload holding bytes answers 10 past its 1 MB. The guest pauses a
/// first upload after its first 256 KiB chunk and resumes it (the `HEAD` at
/// the start of the resume lies), then sends a second upload through a
/// connection the server drops once (the `HEAD` after the failed `PATCH`
/// lies). Both must fail with the protocol error naming the offset and the
/// total, never report done, and send nothing after the lie.
fn tus_refuses_an_offset_past_the_data(guest: &str) {
    const SIZE: u64 = 1_000_000;
    let faults = TusFaults {
        drop_at: Some(600_000),
        head_past: Some(10),
    };
    let srv = expect_tus(guest, faults, "tus-offset-past", |_| {
        let refused = format!(
            "protocol: tus server reports offset {} past the {SIZE} bytes",
            SIZE + 10
        );
        format!("paused 262144\nresume {refused}\nafter a drop {refused}\n")
    });
    check!(srv.dropped() == 1, guest, "the server dropped one PATCH");
    check!(srv.created() == 2, guest, "two uploads were created");
    let (_, first) = srv.upload("1").unwrap_or_default();
    check!(
        first.len() == 256 * 1024,
        guest,
        "no PATCH followed the lie to upload 1"
    );
    let (_, second) = srv.upload("2").unwrap_or_default();
    check!(
        second.len() as u64 >= 600_000 && (second.len() as u64) < SIZE,
        guest,
        "upload 2 stopped at the dropped PATCH"
    );
    check!(srv.deleted().is_empty(), guest, "nothing was deleted");
}

/// One `multipart/form-data` request, streamed with progress: a text field
/// `note` ("two files"), `first` (a.bin, 300000 bytes from memory) and
/// `second` (b.txt, 150000 bytes read while sending), byte i of each file
/// being `i % 251`. The server parses the form with `multer` and answers one
/// line per part; `i%251` proves every byte arrived in place.
fn multipart_form_with_two_files(guest: &str) {
    let srv = Server::http();
    let url = srv.url("/multipart");
    expect(
        guest,
        &[&format!("POST {url}")],
        "multipart",
        &url,
        "progress ok\n200\n\
         note - - 9 two_files\n\
         first a.bin application/octet-stream 300000 i%251\n\
         second b.txt text/plain 150000 i%251\n",
    );
    assert_eq!(srv.requests(), 1, "one request: {:?}", srv.seen());
}
