//! Many idle guests in one host (docs/benchmarks.md, "Idle guests"): N
//! instances of the `ws-client` guest under one `Fleet`, each holding one
//! WebSocket to a local server that never answers, so every guest sits in a
//! `recv`. Reports start time per guest (until the server holds N open
//! connections) and resident memory per guest (process RSS growth / N).
//!
//! Run with `scripts/build-guests.sh && cargo bench -p sandnet --bench fleet_idle [-- N]`
//! (default N = 1000). Loopback only; stops by itself.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark harness"
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use sandnet::fleet::{EventKind, Fleet, FleetConfig, GuestThreads, Guests};
use sandnet::guard::GuardConfig;
use sandnet::policy::Policy;
use sandnet::{Runtime, RuntimeConfig};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Resident set size of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// A WebSocket server that accepts, reads and never answers; counts open connections.
async fn silent_server(open: Arc<AtomicUsize>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let open = Arc::clone(&open);
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                open.fetch_add(1, Ordering::SeqCst);
                while let Some(Ok(_)) = ws.next().await {}
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    addr
}

fn main() {
    let n: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let open = Arc::new(AtomicUsize::new(0));
        let addr = silent_server(Arc::clone(&open)).await;
        let component = repo().join("target/guests/rust-ws-client.wasm");
        let text = format!(
            "[guest.idle]\ncomponent = {:?}\nargs = [\"ws://{addr}/\", \"hello\"]\ninstances = {n}\n\
             allow = [\"ws://{addr}/\"]\n[guest.idle.limits]\nwall_time = \"unlimited\"\n\
             read_timeout = \"1h\"\nws_heartbeat = \"1h\"\nmemory = \"16 MiB\"\n",
            component.display().to_string()
        );
        let policy = Policy::parse(&text, "idle.toml").unwrap();
        let cache = std::env::temp_dir().join("sandnet-bench-cache");
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(cache),
        })
        .unwrap();
        // Warm the compile cache so the figure is start-up, not compilation.
        runtime.load(&component).unwrap();
        let fleet = Fleet::new(FleetConfig {
            runtime,
            guard: GuardConfig::default(),
            // Where `sandnet up` runs guests.
            guests: Guests::Threads(Arc::new(GuestThreads::per_core().unwrap())),
            metrics: None,
        });
        let mut events = fleet.events().unwrap();
        let failures = Arc::new(AtomicUsize::new(0));
        let failed = Arc::clone(&failures);
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let EventKind::Stopped { message, .. } = &event.kind
                    && failed.fetch_add(1, Ordering::SeqCst) < 3
                {
                    eprintln!("{}.{} stopped: {message}", event.guest, event.instance);
                }
            }
        });
        let before = rss();
        let started = Instant::now();
        fleet.apply(&policy, Duration::from_secs(1)).await;
        let target = usize::try_from(n).unwrap();
        while open.load(Ordering::SeqCst) < target {
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "only {} of {n} guests connected after 300 s",
                open.load(Ordering::SeqCst)
            );
            assert!(failures.load(Ordering::SeqCst) == 0, "a guest stopped");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let took = started.elapsed();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = rss();
        let per_guest = (after.saturating_sub(before)) as f64 / f64::from(n);
        println!("idle guests: {n}, each holding one WebSocket");
        println!(
            "start: {:.2} s for all, {:.2} ms per guest",
            took.as_secs_f64(),
            took.as_secs_f64() * 1000.0 / f64::from(n)
        );
        println!(
            "memory: RSS {:.1} MiB before, {:.1} MiB after, {:.0} KiB per guest",
            before as f64 / 1048576.0,
            after as f64 / 1048576.0,
            per_guest / 1024.0
        );
        let stop = Instant::now();
        fleet.shutdown(Duration::ZERO).await;
        println!("shutdown: {:.2} s", stop.elapsed().as_secs_f64());
    });
}
