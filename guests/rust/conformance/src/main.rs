//! `conformance CASE TARGET`: one case of the cross-language guest conformance
//! suite (tests/it/conformance.rs), written with `sandnet-guest` as a Rust user
//! would. Every language's conformance guest prints the same lines for a case.

use std::io::Read;
use std::process::ExitCode;
use std::thread::sleep;
use std::time::Duration;

use sandnet_guest::http::{self, Multipart, Progress, Request, TusControl, TusOutcome, TusUpload};
use sandnet_guest::sse::EventStream;
use sandnet_guest::tcp::TcpStream;
use sandnet_guest::udp::UdpSocket;
use sandnet_guest::websocket::{Connection, Message};
use sandnet_guest::{Error, rt};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [case, target] = args.as_slice() else {
        eprintln!("usage: conformance CASE TARGET");
        return ExitCode::from(2);
    };
    match run(case, target) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conformance: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The field `name` of a JSON object body, as text.
fn field(body: &[u8], name: &str) -> Result<String, Error> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Error::Protocol(format!("response body is not JSON: {e}")))?;
    Ok(match &value[name] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// The peer's close, once a send or receive says the connection is closed.
fn close_of(conn: &Connection) -> Result<(u16, String), Error> {
    loop {
        match conn.receive()? {
            Message::Close { code, reason } => return Ok((code, reason)),
            Message::Text(_) | Message::Binary(_) => {}
        }
    }
}

fn run(case: &str, target: &str) -> Result<(), Error> {
    match case {
        "get-json" => {
            let r = Request::get(target)
                .header("accept", "application/json")
                .fetch()?;
            let body = r.body();
            println!(
                "{} {} {}",
                r.status(),
                field(body, "hello")?,
                field(body, "n")?
            );
        }
        "post-json" => {
            let r = Request::post(target)
                .header("content-type", "application/json")
                .body(serde_json::json!({"n": 41}).to_string())
                .fetch()?;
            let body = r.body();
            println!(
                "{} {} {}",
                r.status(),
                field(body, "n")?,
                field(body, "content_type")?
            );
        }
        "headers" => {
            let r = Request::get(target)
                .header("X-Conformance", "yes")
                .fetch()?;
            println!("{} {}", r.status(), r.header("X-Reflected").unwrap_or("-"));
        }
        "denied" => match http::get(target) {
            Ok(_) => println!("allowed"),
            Err(Error::Denied { suggestion, .. }) => {
                println!("denied {}", suggestion.unwrap_or_default());
            }
            Err(other) => return Err(other),
        },
        "timeout" => match Request::get(target).timeout_ms(300).fetch() {
            Ok(_) => println!("answered"),
            Err(Error::Timeout(_)) => println!("timeout"),
            Err(other) => return Err(other),
        },
        "download" => {
            let mut response = Request::get(target).send()?;
            let mut size = 0;
            while let Some(chunk) = response.read(64 * 1024)? {
                size += chunk.len();
            }
            println!("{} {size}", response.status());
        }
        "upload" => {
            const TOTAL: usize = 1_000_000;
            let body = vec![b'u'; TOTAL];
            let mut seen = Vec::new();
            let response = http::upload(
                Request::post(target),
                body.as_slice(),
                Some(TOTAL as u64),
                |p| seen.push(p.sent),
            )?;
            // Progress counts bytes the connection took; it trails the writes.
            let steady = seen.last().is_some_and(|&last| last <= TOTAL as u64)
                && seen.windows(2).all(|w| w[0] <= w[1]);
            if steady {
                println!("progress ok");
            } else {
                println!("progress bad {seen:?}");
            }
            let status = response.status();
            println!("{status} {}", String::from_utf8_lossy(&response.bytes()?));
        }
        "ws-echo" => {
            let conn = Connection::connect(target)?;
            conn.send_text("ping")?;
            if let Message::Text(text) = conn.receive()? {
                println!("{text}");
            }
            conn.send_text("close-me")?;
            let (code, reason) = close_of(&conn)?;
            println!("close {code} {reason}");
        }
        "ws-close-first" => {
            let conn = Connection::connect(target)?;
            let (code, reason) = close_of(&conn)?;
            println!("close {code} {reason}");
        }
        "ws-send-after-close" => {
            let conn = Connection::connect(target)?;
            sleep(Duration::from_millis(300)); // the peer's close arrives first
            match conn.send_text("too late") {
                Ok(()) => println!("sent"),
                Err(Error::Closed(_)) => {
                    let (code, reason) = close_of(&conn)?;
                    println!("close {code} {reason}");
                }
                Err(other) => return Err(other),
            }
        }
        "sse" => {
            for event in EventStream::open(target)? {
                let event = event?;
                println!("{} {}", event.id.unwrap_or_default(), event.data);
            }
        }
        "tcp-echo" => {
            let mut conn = TcpStream::connect(target)?;
            conn.write_all(b"hello\n")?;
            let line = conn.read_line(1024)?;
            println!("{}", String::from_utf8_lossy(&line).trim_end());
        }
        "udp-echo" => {
            let socket = UdpSocket::ephemeral()?;
            socket.send_to(target, b"ping")?;
            let datagram = socket.receive(Some(5000))?;
            println!("{}", String::from_utf8_lossy(&datagram.data));
        }
        "concurrent" => {
            let url = target.to_owned();
            let (first, second) = rt::block_on(async move {
                let first = rt::spawn(Request::get(url.clone()).timeout_ms(5000).fetch_async());
                let second = Request::get(url).timeout_ms(5000).fetch_async().await;
                (first.await, second)
            });
            println!("{} {}", first?.status(), second?.status());
        }
        "tus" => tus(target)?,
        "tus-offset-past" => tus_offset_past(target)?,
        "multipart" => multipart(target)?,
        other => {
            return Err(Error::InvalidArgument(format!("unknown case {other:?}")));
        }
    }
    Ok(())
}

/// tus: 1 MB (byte i is `i % 251`) in 256 KiB chunks to the creation URL
/// `create`: pause after the first confirmed chunk, resume from the upload's
/// URL, then start a second upload and cancel it after its first chunk.
fn tus(create: &str) -> Result<(), Error> {
    let data = tus_data();
    let upload = TusUpload::new(&data).chunk_bytes(256 * 1024);
    let url = start_paused(&upload, create)?;
    if let TusOutcome::Done { url, resumes } = upload.resume(&url, |_| TusControl::Continue)? {
        println!("done {url} resumes={resumes}");
    }
    if let TusOutcome::Cancelled { .. } = upload.start(create, |_| TusControl::Cancel)? {
        println!("cancelled");
    }
    Ok(())
}

/// The 1 MB the tus cases upload: byte i is `i % 251`.
fn tus_data() -> Vec<u8> {
    (0..1_000_000).map(|i| (i % 251) as u8).collect()
}

/// Starts `upload` at `create`, pauses after its first confirmed chunk,
/// prints `paused OFFSET` and returns the upload's URL.
fn start_paused(upload: &TusUpload<'_>, create: &str) -> Result<String, Error> {
    match upload.start(create, |_| TusControl::Pause)? {
        TusOutcome::Paused { url, offset } => {
            println!("paused {offset}");
            Ok(url)
        }
        other => Err(Error::Protocol(format!("not paused: {other:?}"))),
    }
}

/// The line for how a tus step against a lying server ended: the error it
/// must fail with, or the state it wrongly reached.
fn refusal(step: &str, outcome: Result<TusOutcome, Error>) -> String {
    match outcome {
        Err(e) => format!("{step} {e}"),
        Ok(TusOutcome::Done { .. }) => format!("{step} done"),
        Ok(TusOutcome::Paused { .. }) => format!("{step} paused"),
        Ok(TusOutcome::Cancelled { .. }) => format!("{step} cancelled"),
    }
}

/// tus against a server whose `HEAD` claims more than the 1 MB once an
/// upload holds bytes: pause a first upload after its first 256 KiB chunk
/// and resume it (refused at the first `HEAD`), then send a second through
/// the connection the server drops (refused at the `HEAD` after it).
fn tus_offset_past(create: &str) -> Result<(), Error> {
    let data = tus_data();
    let upload = TusUpload::new(&data).chunk_bytes(256 * 1024);
    let url = start_paused(&upload, create)?;
    let resumed = upload.resume(&url, |_| TusControl::Continue);
    println!("{}", refusal("resume", resumed));
    let dropped = upload.start(create, |_| TusControl::Continue);
    println!("{}", refusal("after a drop", dropped));
    Ok(())
}

/// File bytes where byte i is `i % 251`, produced while they are sent.
struct Pattern {
    next: usize,
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        for byte in buf.iter_mut() {
            *byte = (self.next % 251) as u8;
            self.next += 1;
        }
        Ok(buf.len())
    }
}

/// Whether upload progress is sound: several reports, `sent` never going
/// back nor past the form's length, every report announcing that length.
fn progress_ok(reports: &[Progress], total: u64) -> bool {
    reports.len() >= 2
        && reports.windows(2).all(|w| w[0].sent <= w[1].sent)
        && reports
            .iter()
            .all(|p| p.total == Some(total) && p.sent <= total)
}

/// A text field and two files (one in memory, one read while sending) in one
/// streamed `multipart/form-data` request with progress.
fn multipart(target: &str) -> Result<(), Error> {
    let first: Vec<u8> = (0..300_000).map(|i| (i % 251) as u8).collect();
    let form = Multipart::new()
        .text("note", "two files")
        .file("first", "a.bin", "application/octet-stream", first)
        .file_reader(
            "second",
            "b.txt",
            "text/plain",
            Pattern { next: 0 },
            150_000,
        );
    let total = form.total_bytes();
    let mut reports = Vec::new();
    let response = form.send(Request::post(target), |p| reports.push(p))?;
    if progress_ok(&reports, total) {
        println!("progress ok");
    } else {
        println!("progress bad {reports:?}");
    }
    println!("{}", response.status());
    print!("{}", String::from_utf8_lossy(&response.bytes()?));
    Ok(())
}
