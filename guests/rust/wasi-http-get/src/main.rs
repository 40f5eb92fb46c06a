//! `wasi-http-get URL [METHOD [BODY]]`: the http-get contract over the standard
//! `wasi:http/outgoing-handler` only (via wstd), with no `sandnet:net` import.
//! Shows that components built for the standard interfaces run unchanged under
//! sandnet and meet the same policy: prints `STATUS` then the body and exits 0 on
//! any response; prints `wasi-http-get: <error code>` and exits 1 when the host
//! refuses or fails the request (the reason is on sandnet's stderr and audit log).

#![allow(missing_docs, reason = "wstd::main generates an undocumented item")]

use std::io::Write;
use std::process::ExitCode;

use wstd::http::{Body, Client, Method, Request};

#[wstd::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.len() > 3 {
        eprintln!("usage: wasi-http-get URL [METHOD [BODY]]");
        return ExitCode::from(2);
    }
    let method = match Method::from_bytes(args.get(1).map_or("GET", String::as_str).as_bytes()) {
        Ok(m) => m,
        Err(err) => {
            eprintln!("wasi-http-get: invalid method: {err}");
            return ExitCode::from(2);
        }
    };
    let body: Body = args
        .get(2)
        .map_or_else(Body::empty, |b| Body::from(b.clone()));
    let request = match Request::builder()
        .uri(args[0].as_str())
        .method(method)
        .body(body)
    {
        Ok(r) => r,
        Err(err) => {
            eprintln!("wasi-http-get: invalid request: {err}");
            return ExitCode::from(2);
        }
    };
    let response = match Client::new().send(request).await {
        Ok(r) => r,
        Err(err) => {
            eprintln!("wasi-http-get: {err:?}");
            return ExitCode::from(1);
        }
    };
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let bytes = match body.bytes_contents().await {
        Ok(b) => b,
        Err(err) => {
            eprintln!("wasi-http-get: reading the body: {err:?}");
            return ExitCode::from(1);
        }
    };
    let mut out = std::io::stdout().lock();
    let written = writeln!(out, "{status}")
        .and_then(|()| out.write_all(&bytes))
        .and_then(|()| out.flush());
    if written.is_err() {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
