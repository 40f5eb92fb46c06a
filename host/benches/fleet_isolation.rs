//! Isolation under one host (docs/benchmarks.md, "Isolation"): the
//! `ws-echo-server` guest runs in a `Fleet`; a native tokio-tungstenite client
//! measures echo round trips (64 B) first with the echo server alone, then
//! with guests spinning on CPU in the same fleet (`hostile spin`; one by
//! default, `-- N` for N). Prints median and p99 latency of each phase and their ratio.
//! Guests run on `GuestThreads` as under `sandnet up`; `-- N shared` puts them
//! on one multi-thread runtime with as many workers instead.
//!
//! Run with `scripts/build-guests.sh && cargo bench -p sandnet --bench fleet_isolation [-- N]`.
//! Loopback only; bounded counts; stops by itself.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark harness"
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use sandnet::fleet::{EventKind, Fleet, FleetConfig, GuestThreads, Guests};
use sandnet::guard::GuardConfig;
use sandnet::policy::Policy;
use sandnet::{Runtime, RuntimeConfig};
use tokio_tungstenite::tungstenite::Message;

/// Round trips per phase.
const ROUND_TRIPS: usize = 3_000;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Median and 99th percentile of `samples`, in microseconds.
fn summary(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

/// Most time a phase may take; a phase that would take longer stops early.
const PHASE_LIMIT: Duration = Duration::from_secs(20);

async fn echo_loop(url: &str) -> Vec<Duration> {
    let addr = url.trim_start_matches("ws://").trim_end_matches('/');
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    let payload = "x".repeat(64);
    let mut samples = Vec::with_capacity(ROUND_TRIPS);
    let began = Instant::now();
    for _ in 0..ROUND_TRIPS {
        if began.elapsed() > PHASE_LIMIT {
            break;
        }
        let sent = Instant::now();
        ws.send(Message::text(payload.clone())).await.unwrap();
        let reply = loop {
            match ws.next().await.unwrap().unwrap() {
                Message::Ping(_) | Message::Pong(_) => {}
                other => break other,
            }
        };
        samples.push(sent.elapsed());
        assert_eq!(reply.len(), 64, "{reply:?}");
    }
    let _ = ws.close(None).await;
    samples
}

fn table(name: &str, spinners: usize) -> String {
    let hostile = repo().join("target/guests/rust-hostile.wasm");
    format!(
        "[guest.{name}]\ncomponent = {:?}\nargs = [\"spin\"]\ninstances = {spinners}\n\
         [guest.{name}.limits]\nwall_time = \"unlimited\"\n",
        hostile.display().to_string()
    )
}

fn main() {
    let spinners: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1);
    // The client and the fleet's supervisors on their own runtime; the
    // guests on the guest threads `sandnet up` uses, or (`-- N shared`) all on
    // one multi-thread runtime with as many workers, for comparison.
    let shared = std::env::args().any(|a| a == "shared");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let threads = Arc::new(GuestThreads::per_core().unwrap());
    let workers = threads.load().len();
    let shared_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    let guests = if shared {
        Guests::Runtime(shared_rt.handle().clone())
    } else {
        Guests::Threads(threads)
    };
    let placement = if shared {
        "workers of one multi-thread runtime"
    } else {
        "guest threads"
    };
    rt.block_on(async move {
        let port = free_port();
        let echo = repo().join("target/guests/rust-ws-echo-server.wasm");
        let echo_table = format!(
            "[guest.echo]\ncomponent = {:?}\nargs = [\"ws-listen://127.0.0.1:{port}\"]\n\
             allow = [\"ws-listen://127.0.0.1:{port}\"]\n[guest.echo.limits]\nwall_time = \"unlimited\"\n",
            echo.display().to_string()
        );
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(std::env::temp_dir().join("sandnet-bench-cache")),
        })
        .unwrap();
        let fleet = Fleet::new(FleetConfig {
            runtime,
            guard: GuardConfig::default(),
            guests,
            metrics: None,
        });
        let mut events = fleet.events().unwrap();
        let alone = Policy::parse(&echo_table, "isolation.toml").unwrap();
        fleet.apply(&alone, Duration::ZERO).await;
        loop {
            let event = events.recv().await.unwrap();
            if let EventKind::Output { line, .. } = &event.kind
                && line.starts_with("listening")
            {
                break;
            }
        }
        tokio::spawn(async move { while events.recv().await.is_some() {} });
        let url = format!("ws://127.0.0.1:{port}/");
        let _warm = echo_loop(&url).await;
        let alone = echo_loop(&url).await;
        let alone_n = alone.len();
        let (alone_p50, alone_p99) = summary(alone);

        let busy = Policy::parse(
            &format!("{echo_table}{}", table("spinner", spinners)),
            "isolation.toml",
        )
        .unwrap();
        fleet.apply(&busy, Duration::ZERO).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let busy = echo_loop(&url).await;
        let busy_n = busy.len();
        let (busy_p50, busy_p99) = summary(busy);
        fleet.shutdown(Duration::ZERO).await;

        println!("echo round trips: up to {ROUND_TRIPS} x 64 B per phase, {workers} {placement}");
        println!("alone:                   median {alone_p50:.0} µs, p99 {alone_p99:.0} µs ({alone_n} round trips)");
        println!("with {spinners} spinning guest(s): median {busy_p50:.0} µs, p99 {busy_p99:.0} µs ({busy_n} round trips)");
        println!(
            "ratio busy/alone: median {:.2}, p99 {:.2}",
            busy_p50 / alone_p50,
            busy_p99 / alone_p99
        );
    });
}
