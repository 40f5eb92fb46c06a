//! Benchmark guest for the standard `wasi:http/outgoing-handler` only (via wstd,
//! no `sandnet:net` import, so `wasmtime run -S http` runs it too); timed inside
//! the guest, each mode prints `N BYTES MICROS`:
//!
//! - `wasi-http-bench URL N`: N sequential GETs, each body read to the end;
//! - `wasi-http-bench download URL`: one GET whose body is streamed and dropped
//!   (N = chunks read).
//!
//! Used by `scripts/bench.sh` (docs/benchmarks.md).

#![allow(missing_docs, reason = "wstd::main generates an undocumented item")]

use std::process::ExitCode;
use std::time::Instant;

use http_body_util::BodyExt;
use wstd::http::{Body, Client, Request};

async fn get(client: &Client, url: &str) -> Result<wstd::http::Response<Body>, String> {
    let request = Request::get(url)
        .body(Body::empty())
        .map_err(|e| format!("invalid request: {e}"))?;
    client.send(request).await.map_err(|e| format!("{e:?}"))
}

async fn get_loop(url: &str, n: u32) -> Result<(u32, usize), String> {
    let client = Client::new();
    let mut bytes = 0usize;
    for _ in 0..n {
        let mut body = get(&client, url).await?.into_body();
        bytes += body
            .bytes_contents()
            .await
            .map_err(|e| format!("reading the body: {e:?}"))?
            .len();
    }
    Ok((n, bytes))
}

async fn download(url: &str) -> Result<(u32, usize), String> {
    let client = Client::new();
    let mut body = get(&client, url).await?.into_body().into_boxed_body();
    let (mut chunks, mut bytes) = (0u32, 0usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading the body: {e:?}"))?;
        if let Some(data) = frame.data_ref() {
            chunks += 1;
            bytes += data.len();
        }
    }
    Ok((chunks, bytes))
}

#[wstd::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let started = Instant::now();
    let result = match (args.first().map(String::as_str), args.get(1)) {
        (Some("download"), Some(url)) => download(url).await,
        (Some(url), Some(n)) => match n.parse() {
            Ok(n) => get_loop(url, n).await,
            Err(_) => Err(format!("N must be a number, got {n:?}")),
        },
        _ => Err("usage: wasi-http-bench URL N | download URL".to_owned()),
    };
    match result {
        Ok((n, bytes)) => {
            println!("{n} {bytes} {}", started.elapsed().as_micros());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("wasi-http-bench: {err}");
            ExitCode::from(1)
        }
    }
}
