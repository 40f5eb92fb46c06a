//! The comparison bench of issue 13, driven by `scripts/bench.sh`: native Rust,
//! sandnet (`sandnet:net` and standard `wasi:http`), `wasmtime run -S http` and
//! Deno on the same loopback workloads, in interleaved rounds; prints medians
//! and ratios to native. Every client is a child process (so pinning, CPU and
//! peak RSS are measured the same way for all); servers run in this process.
//!
//!   cargo bench -p sandnet --bench bench -- [--quick] [--mode pinned|unpinned]
//!       [--nginx BIN] [--deno BIN] [--wasmtime BIN] [--peers-dir DIR] [--only WORKLOAD]...
//!
//! The same binary is also the native client (`--client http|ws|download ...`)
//! and, for profiling by hand, just the servers (`--serve [--nginx BIN]`: prints
//! their URLs and runs until killed).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "benchmark harness, not reachable by a guest"
)]

mod clients;
mod contenders;
mod report;
mod servers;

use std::path::PathBuf;

/// What one run is asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Fewer rounds, requests and bytes.
    pub quick: bool,
    /// `pinned` or `unpinned`, only printed (bench.sh does the pinning).
    pub mode: String,
    /// nginx binary, for the keep-alive GET workload.
    pub nginx: Option<PathBuf>,
    /// deno binary.
    pub deno: Option<PathBuf>,
    /// wasmtime binary (wasmtime-cli 48).
    pub wasmtime: Option<PathBuf>,
    /// Where peers keep their files (compiled .cwasm, scripts).
    pub peers_dir: PathBuf,
    /// Workloads to run; empty = all.
    pub only: Vec<String>,
    /// Only start the servers and print their URLs.
    pub serve: bool,
}

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Interleaved rounds.
    pub rounds: usize,
    /// Requests per keep-alive GET loop.
    pub requests: u32,
    /// Round trips per WebSocket loop.
    pub messages: u32,
    /// Bytes of the streamed download.
    pub download: u64,
    /// Start-ups timed per guest per round.
    pub starts: u32,
}

impl Sizes {
    fn of(quick: bool) -> Sizes {
        if quick {
            Sizes {
                rounds: 3,
                requests: 3_000,
                messages: 3_000,
                download: 256 << 20,
                starts: 3,
            }
        } else {
            Sizes {
                rounds: 5,
                requests: 20_000,
                messages: 20_000,
                download: 1 << 30,
                starts: 10,
            }
        }
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Options {
    let mut o = Options {
        mode: "unpinned".to_owned(),
        peers_dir: std::env::temp_dir().join("sandnet-bench"),
        ..Options::default()
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--quick" => o.quick = true,
            "--bench" => {}
            "--mode" => o.mode = value(),
            "--nginx" => o.nginx = Some(value().into()),
            "--deno" => o.deno = Some(value().into()),
            "--wasmtime" => o.wasmtime = Some(value().into()),
            "--peers-dir" => o.peers_dir = value().into(),
            "--only" => o.only.push(value()),
            "--serve" => o.serve = true,
            other => panic!("unknown argument {other:?}; see host/benches/bench/main.rs"),
        }
    }
    o
}

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("--client") {
        args.next();
        clients::main(args.collect());
        return;
    }
    let options = parse(args);
    let sizes = Sizes::of(options.quick);
    std::fs::create_dir_all(&options.peers_dir).unwrap();
    let servers = servers::Servers::start(&options, sizes);
    contenders::write_policy(&options, &servers);
    if options.serve {
        println!("http {}", servers.http_url);
        println!("download {}", servers.download_url);
        println!("ws {}", servers.ws_url);
        println!("policy {}", contenders::policy_path(&options).display());
        loop {
            std::thread::park();
        }
    }
    let wants = |w: &str| options.only.is_empty() || options.only.iter().any(|o| o == w);
    println!(
        "mode {}, {} rounds, interleaved; machine: {} cores, load average {}",
        options.mode,
        sizes.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    if wants("http") {
        report::print(
            &format!(
                "HTTP keep-alive GET loop, 1 KiB, {} requests ({})",
                sizes.requests, servers.http_server
            ),
            "req/s",
            &contenders::run_rounds(&contenders::http(&options, &servers, sizes), sizes.rounds),
        );
    }
    if wants("ws") {
        report::print(
            &format!("WebSocket 64 B echo loop, {} round trips", sizes.messages),
            "round trips/s",
            &contenders::run_rounds(&contenders::ws(&options, &servers, sizes), sizes.rounds),
        );
    }
    if wants("download") {
        report::print(
            &format!("streamed download, {} MiB", sizes.download >> 20),
            "MB/s",
            &contenders::run_rounds(
                &contenders::download(&options, &servers, sizes),
                sizes.rounds,
            ),
        );
    }
    if wants("start") {
        report::print(
            &format!("cached start to exit, {} starts per round", sizes.starts),
            "ms",
            &contenders::run_rounds(&contenders::start(&options, sizes), sizes.rounds),
        );
    }
    let _ = std::fs::remove_file(contenders::policy_path(&options));
}
