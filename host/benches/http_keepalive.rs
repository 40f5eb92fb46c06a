//! Benchmarks behind docs/benchmarks.md, in one run on one machine:
//! - keep-alive HTTP GET loop (1 KiB bodies): native reqwest vs the same loop in
//!   a Rust guest through `sandnet:net/http` (the `http-bench` guest);
//! - start-up: `sandnet run` of a small cached Rust guest that exits at once.
//!
//! Run with `scripts/build-guests.sh && cargo bench -p sandnet --bench http_keepalive`.
//! Loopback only; bounded counts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark harness"
)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sandnet::guard::GuardConfig;
use sandnet::policy::Policy;
use sandnet::{RunRequest, Runtime, RuntimeConfig};

/// Requests per measured loop.
const REQUESTS: u32 = 5_000;
/// Start-ups measured.
const STARTS: u32 = 30;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

async fn serve() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = Bytes::from(vec![b'x'; 1024]);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |_req| {
                    let body = body.clone();
                    async move { Ok::<_, Infallible>(hyper::Response::new(Full::new(body))) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

async fn native_loop(url: &str) -> Duration {
    let client = reqwest::Client::new();
    for _ in 0..100 {
        client.get(url).send().await.unwrap().bytes().await.unwrap();
    }
    let started = Instant::now();
    for _ in 0..REQUESTS {
        let body = client.get(url).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(body.len(), 1024);
    }
    started.elapsed()
}

async fn guest_loop(runtime: &Runtime, url: &str, n: u32) -> Duration {
    let policy = Policy::parse(
        &format!(
            "allow = [\"GET {url}\"]\n[limits]\nwall_time = \"10m\"\nrequest_timeout = \"10s\"\n"
        ),
        "bench.toml",
    )
    .unwrap();
    let request = RunRequest {
        component: repo().join("target/guests/rust-http-bench.wasm"),
        policy: Arc::new(policy.guest(None).unwrap().clone()),
        args: vec![url.to_owned(), n.to_string()],
        capture_output: true,
        guard: GuardConfig::default(),
    };
    let outcome = runtime.run(request).await.unwrap();
    let stdout = String::from_utf8_lossy(&outcome.stdout);
    let fields: Vec<u64> = stdout
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    assert_eq!(
        fields.len(),
        3,
        "http-bench printed {stdout:?}, stderr {:?}",
        String::from_utf8_lossy(&outcome.stderr)
    );
    assert_eq!(fields[1], u64::from(n) * 1024);
    Duration::from_micros(fields[2])
}

fn startup(cache: &std::path::Path) -> Duration {
    let policy = repo().join("guests/rust/hostile/policy.toml");
    let guest = repo().join("target/guests/rust-hostile.wasm");
    let run = || {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_sandnet"))
            .args([
                "run",
                guest.to_str().unwrap(),
                "--policy",
                policy.to_str().unwrap(),
                "--",
                "exit",
                "0",
            ])
            .env("SANDNET_CACHE_DIR", cache)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    };
    run(); // fills the compile cache
    let started = Instant::now();
    for _ in 0..STARTS {
        run();
    }
    started.elapsed() / STARTS
}

fn main() {
    let cache = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let addr = serve().await;
        let url = format!("http://{addr}/");
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(cache.path().to_owned()),
        })
        .unwrap();
        guest_loop(&runtime, &url, 100).await; // compile + warm
        let native = native_loop(&url).await;
        let guest = guest_loop(&runtime, &url, REQUESTS).await;
        let rps = |d: Duration| f64::from(REQUESTS) / d.as_secs_f64();
        println!("keep-alive GET, 1 KiB body, {REQUESTS} sequential requests on loopback:");
        println!("  native reqwest      {:>9.0} req/s", rps(native));
        println!("  guest (sandnet:net) {:>9.0} req/s", rps(guest));
        println!("  ratio guest/native  {:>9.2}", rps(guest) / rps(native));
    });
    let start = startup(cache.path());
    println!(
        "start-up: `sandnet run` of a cached Rust guest that exits at once: {:.1} ms (mean of {STARTS})",
        start.as_secs_f64() * 1e3
    );
}
