//! Benchmark guest for `sandnet:net`, timed inside the guest (so compilation and
//! start-up are excluded); each mode prints `N BYTES MICROS`:
//!
//! - `http-bench URL N`: N keep-alive GETs through `http::get` (one pooled
//!   connection in the host), BYTES = body bytes received;
//! - `http-bench ws URL N`: N round trips of a 64-byte binary message to a
//!   WebSocket echo server, BYTES = bytes echoed back;
//! - `http-bench download URL CHUNK`: one GET whose body is read CHUNK bytes at a
//!   time and dropped (N = reads that returned data).
//!
//! Used by `scripts/bench.sh` and the host's benches (docs/benchmarks.md).

use std::fmt::Display;
use std::time::Instant;

use sandnet_guest::http::{self, Request};
use sandnet_guest::process::exit;
use sandnet_guest::websocket::{Connection, Message};

fn fail(err: impl Display) -> ! {
    eprintln!("http-bench: {err}");
    exit(1)
}

fn usage() -> ! {
    eprintln!("usage: http-bench URL N | ws URL N | download URL CHUNK");
    exit(2)
}

fn number(text: Option<&String>) -> u32 {
    text.and_then(|t| t.parse().ok()).unwrap_or_else(|| usage())
}

fn get_loop(url: &str, n: u32) -> (u32, usize) {
    let mut bytes = 0usize;
    for _ in 0..n {
        bytes += http::get(url).unwrap_or_else(|e| fail(e)).body().len();
    }
    (n, bytes)
}

fn ws_loop(url: &str, n: u32) -> (u32, usize) {
    let conn = Connection::connect(url).unwrap_or_else(|e| fail(e));
    let payload = [b'w'; 64];
    let mut bytes = 0usize;
    for _ in 0..n {
        conn.send_binary(&payload).unwrap_or_else(|e| fail(e));
        match conn.receive().unwrap_or_else(|e| fail(e)) {
            Message::Binary(data) => bytes += data.len(),
            other => fail(format!("expected the binary echo, got {other:?}")),
        }
    }
    let _ = conn.close(1000, "done");
    (n, bytes)
}

fn download(url: &str, chunk: u32) -> (u32, usize) {
    let mut response = Request::get(url).send().unwrap_or_else(|e| fail(e));
    let (mut reads, mut bytes) = (0u32, 0usize);
    while let Some(data) = response.read(chunk).unwrap_or_else(|e| fail(e)) {
        reads += 1;
        bytes += data.len();
    }
    (reads, bytes)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let started = Instant::now();
    let (n, bytes) = match args.first().map(String::as_str) {
        Some("ws") => ws_loop(args.get(1).unwrap_or_else(|| usage()), number(args.get(2))),
        Some("download") => download(args.get(1).unwrap_or_else(|| usage()), number(args.get(2))),
        Some(url) => get_loop(url, number(args.get(1))),
        None => usage(),
    };
    println!("{n} {bytes} {}", started.elapsed().as_micros());
}
