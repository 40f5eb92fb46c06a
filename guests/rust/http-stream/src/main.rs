//! Streaming HTTP through `sandnet:net/http`, one mode per feature:
//!
//! - `download URL CHUNK`: `send`, then `read(CHUNK)` until the end; prints
//!   `STATUS BYTES CHUNKS LARGEST` (body bytes, reads that returned data, the
//!   largest chunk handed over).
//! - `upload URL SIZE CHUNK`: `upload` (POST) of SIZE bytes written CHUNK at a
//!   time with `content-length`; prints one `progress SENT/TOTAL` line per write,
//!   then `STATUS BODYLEN`.
//! - `multipart URL SIZE`: POSTs a `multipart/form-data` form of a text
//!   field `note` and two files (`a.bin`, SIZE bytes; `b.txt`, SIZE/2 bytes)
//!   in one request; prints `progress N SENT/TOTAL` (N progress reports, the
//!   last one), then `STATUS` and the response body.
//! - `tus CREATE_URL SIZE CHUNK`: a tus 1.0 resumable upload of SIZE bytes
//!   (byte i is `i % 251`) in PATCHes of CHUNK bytes; prints
//!   `progress CONFIRMED/TOTAL` per chunk, then `done URL resumes=N`.
//! - `race SLOW_URL FAST_URL`: starts both requests, waits on both pollables at
//!   once (`poll::wait_any`, i.e. `wasi:io/poll.poll`), and prints
//!   `first STATUS URL` for whichever head arrives first, then
//!   `second STATUS URL`.
//!
//! Exits 1 with `http-stream: <error>` on a net-error, 2 on bad usage.

use std::fmt::Display;

use sandnet_guest::http::{Multipart, Progress, Request, TusUpload};
use sandnet_guest::poll::{Pollable, wait_any};
use sandnet_guest::process::exit;

fn fail(err: impl Display) -> ! {
    eprintln!("http-stream: {err}");
    exit(1)
}

fn usage() -> ! {
    eprintln!(
        "usage: http-stream download URL CHUNK | upload URL SIZE CHUNK | multipart URL SIZE | tus CREATE_URL SIZE CHUNK | race SLOW_URL FAST_URL"
    );
    exit(2)
}

fn number(text: Option<&String>) -> u64 {
    text.and_then(|t| t.parse().ok()).unwrap_or_else(|| usage())
}

fn download(url: &str, chunk: u32) {
    let mut response = Request::get(url).send().unwrap_or_else(|e| fail(e));
    let (mut bytes, mut chunks, mut largest) = (0usize, 0usize, 0usize);
    while let Some(data) = response.read(chunk).unwrap_or_else(|e| fail(e)) {
        bytes += data.len();
        chunks += 1;
        largest = largest.max(data.len());
    }
    println!("{} {bytes} {chunks} {largest}", response.status());
}

fn upload(url: &str, size: u64, chunk: u64) {
    let mut upload = Request::post(url)
        .upload(Some(size))
        .unwrap_or_else(|e| fail(e));
    let piece = vec![b'u'; usize::try_from(chunk.max(1)).unwrap_or(1)];
    let mut left = size;
    while left > 0 {
        let n = usize::try_from(left.min(piece.len() as u64)).unwrap_or(piece.len());
        upload.write(&piece[..n]).unwrap_or_else(|e| fail(e));
        left -= n as u64;
        let progress = upload.progress();
        println!("progress {}/{}", progress.sent, progress.total.unwrap_or(0));
    }
    let response = upload.finish().unwrap_or_else(|e| fail(e));
    let status = response.status();
    let body = response.bytes().unwrap_or_else(|e| fail(e));
    println!("{status} {}", body.len());
}

fn multipart(url: &str, size: u64) {
    let size = usize::try_from(size).unwrap_or_else(|_| usage());
    let form = Multipart::new()
        .text("note", "two files")
        .file(
            "first",
            "a.bin",
            "application/octet-stream",
            vec![b'a'; size],
        )
        .file_reader(
            "second",
            "b.txt",
            "text/plain",
            std::io::repeat(b'b'),
            (size / 2) as u64,
        );
    let (mut reports, mut last, mut grew) = (0u64, None, true);
    let response = form
        .send(Request::post(url), |p| {
            reports += 1;
            grew &= last.is_none_or(|l: Progress| p.sent >= l.sent);
            last = Some(p);
        })
        .unwrap_or_else(|e| fail(e));
    let last = last.unwrap_or(Progress {
        sent: 0,
        total: None,
    });
    if !grew {
        fail("progress went backwards");
    }
    println!(
        "progress {reports} {}/{}",
        last.sent,
        last.total.unwrap_or(0)
    );
    let status = response.status();
    let body = response.bytes().unwrap_or_else(|e| fail(e));
    println!("{status}");
    print!("{}", String::from_utf8_lossy(&body));
}

fn tus(create_url: &str, size: u64, chunk: u64) {
    let size = usize::try_from(size).unwrap_or_else(|_| usage());
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let upload =
        TusUpload::new(&data).chunk_bytes(usize::try_from(chunk).unwrap_or_else(|_| usage()));
    let url = upload.create(create_url).unwrap_or_else(|e| fail(e));
    let resumes = upload
        .send(&url, |p| {
            println!("progress {}/{}", p.sent, p.total.unwrap_or(0))
        })
        .unwrap_or_else(|e| fail(e));
    println!("done {url} resumes={resumes}");
}

fn race(slow: &str, fast: &str) {
    let slow_pending = Request::get(slow)
        .send_pending()
        .unwrap_or_else(|e| fail(e));
    let fast_pending = Request::get(fast)
        .send_pending()
        .unwrap_or_else(|e| fail(e));
    let mut pending = [(slow, Some(slow_pending)), (fast, Some(fast_pending))];
    let mut order = ["first", "second"].into_iter();
    while pending.iter().any(|(_, p)| p.is_some()) {
        let live: Vec<usize> = (0..pending.len())
            .filter(|&i| pending[i].1.is_some())
            .collect();
        let pollables: Vec<_> = live
            .iter()
            .filter_map(|&i| pending[i].1.as_ref().map(|p| p.subscribe()))
            .collect();
        let refs: Vec<&Pollable> = pollables.iter().collect();
        let ready = wait_any(&refs);
        // A pollable is a child of its request: drop them before the requests.
        drop(refs);
        drop(pollables);
        for index in ready {
            let i = live[index];
            let (url, slot) = &mut pending[i];
            if let Some(p) = slot.as_ref()
                && let Some(response) = p.try_get().unwrap_or_else(|e| fail(e))
            {
                println!(
                    "{} {} {url}",
                    order.next().unwrap_or("later"),
                    response.status()
                );
                *slot = None;
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("download") if args.len() == 3 => {
            download(
                &args[1],
                u32::try_from(number(args.get(2))).unwrap_or(u32::MAX),
            );
        }
        Some("upload") if args.len() == 4 => {
            upload(&args[1], number(args.get(2)), number(args.get(3)))
        }
        Some("multipart") if args.len() == 3 => multipart(&args[1], number(args.get(2))),
        Some("tus") if args.len() == 4 => tus(&args[1], number(args.get(2)), number(args.get(3))),
        Some("race") if args.len() == 3 => race(&args[1], &args[2]),
        _ => usage(),
    }
}
