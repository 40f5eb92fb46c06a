//! Benchmark guest for the standard `wasi:http/outgoing-handler` only (via wstd,
//! no `sandnet:net` import, so `wasmtime run -S http` runs it too); timed inside
//! the guest, each mode prints `N BYTES MICROS`:
//!
//! - `wasi-http-bench URL N`: N sequential GETs, each body read to the end;
//! - `wasi-http-bench download URL`: one GET whose body is streamed and dropped
//!   (N = chunks read);
//! - `wasi-http-bench raw URL N`: N sequential GETs made with the bare
//!   `wasi:http` calls (the `wasip2` crate, no wstd): the fewest host calls a
//!   GET can take. Its request body is finished before the request is handed
//!   over and never written; wstd writes an empty body after `handle`, which
//!   `wasmtime run -S http` can report as closed (wstd: "connection reset")
//!   once its connection task has dropped a GET's body;
//! - `wasi-http-bench raw-download URL`: one GET made with the bare calls as in
//!   `raw`, its body read with `blocking_read` of 1 MiB and dropped (N = reads
//!   that returned bytes): the download that runs under `wasmtime run -S http`;
//! - `wasi-http-bench exit`: exits with status 0 at once, printing nothing (the
//!   cached start-to-exit of one guest under both sandnet and `wasmtime run`).
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

/// `http://HOST:PORT/PATH` split into authority and path-with-query.
fn split_http_url(url: &str) -> Result<(&str, &str), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("raw mode takes an http:// URL, got {url:?}"))?;
    Ok(match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    })
}

/// Bytes asked of each `blocking_read` in `raw` mode: a 1 KiB body in one read.
const RAW_GET_READ: u64 = 64 * 1024;

/// Bytes asked of each `blocking_read` in `raw-download` mode, as the
/// `sandnet:net/http` download's `read(1 MiB)`.
const RAW_DOWNLOAD_READ: u64 = 1 << 20;

/// Sends one GET with the bare `wasi:http` calls and waits for its response.
fn raw_response(
    authority: &str,
    path: &str,
) -> Result<wasip2::http::types::IncomingResponse, String> {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, OutgoingBody, OutgoingRequest, Scheme};

    let request = OutgoingRequest::new(Fields::new());
    request
        .set_scheme(Some(&Scheme::Http))
        .and_then(|()| request.set_authority(Some(authority)))
        .and_then(|()| request.set_path_with_query(Some(path)))
        .map_err(|()| format!("invalid request target {authority}{path}"))?;
    let body = request.body().map_err(|()| "request body taken twice")?;
    OutgoingBody::finish(body, None).map_err(|e| format!("finishing the body: {e:?}"))?;
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(response))) => Ok(response),
        Some(Ok(Err(e))) => Err(format!("{e:?}")),
        _ => Err("the response was not ready after its pollable".to_owned()),
    }
}

/// Reads `response`'s body to its end with `blocking_read(read_size)`, keeping
/// nothing; returns (reads that returned bytes, bytes).
fn raw_drain(
    response: wasip2::http::types::IncomingResponse,
    read_size: u64,
) -> Result<(u32, usize), String> {
    use wasip2::io::streams::StreamError;

    let incoming = response.consume().map_err(|()| "body consumed twice")?;
    let stream = incoming.stream().map_err(|()| "body stream taken twice")?;
    let (mut reads, mut bytes) = (0u32, 0usize);
    loop {
        match stream.blocking_read(read_size) {
            Ok(chunk) if chunk.is_empty() => {}
            Ok(chunk) => {
                reads += 1;
                bytes += chunk.len();
            }
            Err(StreamError::Closed) => return Ok((reads, bytes)),
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(format!("reading the body: {}", e.to_debug_string()));
            }
        }
    }
}

/// One GET with the bare `wasi:http` calls; returns the body's length.
fn raw_get(authority: &str, path: &str) -> Result<usize, String> {
    Ok(raw_drain(raw_response(authority, path)?, RAW_GET_READ)?.1)
}

/// One GET with the bare calls whose body is streamed and dropped.
fn raw_download(url: &str) -> Result<(u32, usize), String> {
    let (authority, path) = split_http_url(url)?;
    raw_drain(raw_response(authority, path)?, RAW_DOWNLOAD_READ)
}

fn raw_loop(url: &str, n: u32) -> Result<(u32, usize), String> {
    let (authority, path) = split_http_url(url)?;
    let mut bytes = 0;
    for _ in 0..n {
        bytes += raw_get(authority, path)?;
    }
    Ok((n, bytes))
}

#[wstd::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let started = Instant::now();
    let result = match (args.first().map(String::as_str), args.get(1)) {
        (Some("exit"), None) => return ExitCode::SUCCESS,
        (Some("download"), Some(url)) => download(url).await,
        (Some("raw-download"), Some(url)) => raw_download(url),
        (Some("raw"), Some(url)) => match args.get(2).map(|n| n.parse()) {
            Some(Ok(n)) => raw_loop(url, n),
            _ => Err("usage: wasi-http-bench raw URL N".to_owned()),
        },
        (Some(url), Some(n)) => match n.parse() {
            Ok(n) => get_loop(url, n).await,
            Err(_) => Err(format!("N must be a number, got {n:?}")),
        },
        _ => Err(
            "usage: wasi-http-bench URL N | download URL | raw URL N | raw-download URL | exit"
                .to_owned(),
        ),
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
