//! Who runs each workload and how: every contender is one child process whose
//! figures (`N BYTES MICROS`, timed inside it) or wall time become one sample;
//! rounds interleave the contenders (A B C A B C ...).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::servers::Servers;
use crate::{Options, Sizes};

/// One measurement: the figure and the child's peak RSS.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// The workload's figure (req/s, MB/s, ms, ...).
    pub value: f64,
    /// Peak resident set of the child, KiB.
    pub rss_kib: u64,
}

/// A named way to produce a sample.
pub struct Contender {
    /// Shown in the table.
    pub name: String,
    run: Box<dyn Fn() -> Option<Sample>>,
}

/// Runs `rounds` interleaved rounds; a contender that fails is reported and skipped.
pub fn run_rounds(contenders: &[Contender], rounds: usize) -> Vec<(String, Vec<Sample>)> {
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); contenders.len()];
    for _ in 0..rounds {
        for (c, out) in contenders.iter().zip(&mut samples) {
            if let Some(s) = (c.run)() {
                out.push(s);
            }
        }
    }
    contenders
        .iter()
        .map(|c| c.name.clone())
        .zip(samples)
        .collect()
}

/// What a child printed, how it exited and its peak RSS.
struct ChildRun {
    stdout: String,
    rss_kib: u64,
    /// Exit status; `None` when killed by a signal.
    code: Option<i32>,
    stderr: String,
}

/// Runs `cmd` to the end, reading its peak RSS from `wait4`. Without
/// `RUST_BACKTRACE`/`RUST_LIB_BACKTRACE`, whatever the caller's environment:
/// with them, sandnet and wasmtime capture a backtrace for every error they
/// create (+0.6-0.9 ms on a sandnet start that exits 2) and wasmtime prints a
/// symbolized one on failure (~60 ms), so figures depended on the shell.
#[allow(unsafe_code, reason = "wait4 on our own child's pid")]
#[allow(
    clippy::zombie_processes,
    reason = "reaped by wait4, which std's Child cannot do (it has no rusage)"
)]
fn run_child(mut cmd: Command) -> ChildRun {
    let mut child = cmd
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut err_pipe = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let _ = child.stdout.take().unwrap().read_to_string(&mut stdout);
    stderr.push_str(&err_reader.join().unwrap_or_default());
    let pid = i32::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: plain FFI call with valid pointers to locals; `child` is not waited on elsewhere.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let code = (rc == pid && libc::WIFEXITED(status)).then(|| libc::WEXITSTATUS(status));
    ChildRun {
        stdout,
        rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        code,
        stderr,
    }
}

/// `N BYTES MICROS` from a child's last line.
fn figures(name: &str, run: &ChildRun) -> Option<(f64, f64, f64)> {
    let line = run.stdout.lines().last().unwrap_or("");
    let f: Vec<f64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    if run.code != Some(0) || f.len() != 3 {
        eprintln!(
            "bench: {name} failed: stdout {:?} stderr {:?}",
            run.stdout.trim(),
            run.stderr.trim()
        );
        return None;
    }
    Some((f[0], f[1], f[2]))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn guest(name: &str) -> PathBuf {
    repo().join("target/guests").join(format!("{name}.wasm"))
}

/// Where the policy every sandnet contender runs under is written. `--serve`
/// keeps one fixed name (its users pass it by hand); a bench run names its own
/// by process id, so running it next to a `--serve` with the same peers dir
/// does not point that policy at this run's ports.
pub fn policy_path(options: &Options) -> PathBuf {
    if options.serve {
        options.peers_dir.join("bench-policy.toml")
    } else {
        options
            .peers_dir
            .join(format!("bench-policy-{}.toml", std::process::id()))
    }
}

/// Writes the policy every sandnet contender runs under: the three servers.
pub fn write_policy(options: &Options, servers: &Servers) {
    let path = policy_path(options);
    let text = format!(
        "allow = [\"{}\", \"{}\", \"{}\"]\n[limits]\nwall_time = \"30m\"\nrequest_timeout = \"30m\"\n",
        servers.http_url, servers.download_url, servers.ws_url
    );
    std::fs::write(&path, text).unwrap();
}

fn sandnet(options: &Options, component: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sandnet"));
    cmd.arg("run")
        .arg(component)
        .arg("--policy")
        .arg(policy_path(options))
        .arg("--")
        .args(args)
        .env("SANDNET_CACHE_DIR", options.peers_dir.join("sandnet-cache"));
    cmd
}

fn native(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.arg("--client").args(args);
    cmd
}

fn deno(options: &Options, bin: &Path, args: &[&str]) -> Command {
    let script = options.peers_dir.join("bench.js");
    std::fs::write(&script, include_str!("bench.js")).unwrap();
    let mut cmd = Command::new(bin);
    cmd.args(["run", "--quiet", "--allow-net"])
        .arg(script)
        .args(args);
    cmd
}

fn wasmtime_http(bin: &Path, component: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(["run", "-S", "http"]).arg(component).args(args);
    cmd
}

/// A contender whose child prints `N BYTES MICROS`; `figure` turns them into the value.
fn timed(
    name: &str,
    make: impl Fn() -> Command + 'static,
    figure: fn(f64, f64, f64) -> f64,
) -> Contender {
    let label = name.to_owned();
    Contender {
        name: name.to_owned(),
        run: Box::new(move || {
            let run = run_child(make());
            let (n, bytes, micros) = figures(&label, &run)?;
            Some(Sample {
                value: figure(n, bytes, micros),
                rss_kib: run.rss_kib,
            })
        }),
    }
}

fn per_second(n: f64, _bytes: f64, micros: f64) -> f64 {
    n * 1e6 / micros
}

fn mb_per_second(_n: f64, bytes: f64, micros: f64) -> f64 {
    bytes / micros
}

/// Runs `make` once so caches (sandnet's compile cache, Deno's) are warm.
fn warm(make: &dyn Fn() -> Command) {
    let _ = run_child(make());
}

/// Keep-alive GET loop contenders.
pub fn http(options: &Options, servers: &Servers, sizes: Sizes) -> Vec<Contender> {
    let url = servers.http_url.clone();
    let n = sizes.requests.to_string();
    let mut out = Vec::new();
    let (u, k) = (url.clone(), n.clone());
    out.push(timed(
        "native reqwest",
        move || native(&["http", &u, &k]),
        per_second,
    ));
    // `raw` drives wasi:http with the bare calls (no wstd): the fewest host
    // calls per GET, and the only mode `wasmtime run -S http` completes
    // (rust-wasi-http-bench's doc comment says why).
    for (name, component, mode) in [
        ("sandnet, sandnet:net/http", "rust-http-bench", None),
        ("sandnet, wasi:http (wstd)", "rust-wasi-http-bench", None),
        (
            "sandnet, wasi:http (bare calls)",
            "rust-wasi-http-bench",
            Some("raw"),
        ),
    ] {
        let o = options.clone();
        let (u, k) = (url.clone(), n.clone());
        let make = move || {
            let args: Vec<&str> = mode.into_iter().chain([u.as_str(), k.as_str()]).collect();
            sandnet(&o, &guest(component), &args)
        };
        warm(&make);
        out.push(timed(name, make, per_second));
    }
    if let Some(bin) = options.wasmtime.clone() {
        let (u, k) = (url.clone(), n.clone());
        out.push(timed(
            "wasmtime run -S http (bare calls)",
            move || wasmtime_http(&bin, &guest("rust-wasi-http-bench"), &["raw", &u, &k]),
            per_second,
        ));
    }
    if let Some(bin) = options.deno.clone() {
        let o = options.clone();
        let (u, k) = (url, n);
        let make = move || deno(&o, &bin, &["http", &u, &k]);
        warm(&make);
        out.push(timed("deno fetch", make, per_second));
    }
    out
}

/// WebSocket echo loop contenders.
pub fn ws(options: &Options, servers: &Servers, sizes: Sizes) -> Vec<Contender> {
    let url = servers.ws_url.clone();
    let n = sizes.messages.to_string();
    let mut out = Vec::new();
    let (u, k) = (url.clone(), n.clone());
    out.push(timed(
        "native tokio-tungstenite",
        move || native(&["ws", &u, &k]),
        per_second,
    ));
    let o = options.clone();
    let (u, k) = (url.clone(), n.clone());
    let make = move || sandnet(&o, &guest("rust-http-bench"), &["ws", &u, &k]);
    warm(&make);
    out.push(timed("sandnet, sandnet:net/websocket", make, per_second));
    if let Some(bin) = options.deno.clone() {
        let o = options.clone();
        let make = move || deno(&o, &bin, &["ws", &url, &n]);
        warm(&make);
        out.push(timed("deno WebSocket", make, per_second));
    }
    out
}

/// Streamed download contenders.
pub fn download(options: &Options, servers: &Servers, _sizes: Sizes) -> Vec<Contender> {
    let url = servers.download_url.clone();
    let mut out = Vec::new();
    let u = url.clone();
    out.push(timed(
        "native reqwest",
        move || native(&["download", &u]),
        mb_per_second,
    ));
    let u = url.clone();
    out.push(timed(
        "native reqwest + copy",
        move || native(&["download-copy", &u]),
        mb_per_second,
    ));
    let (o, u) = (options.clone(), url.clone());
    out.push(timed(
        "sandnet, sandnet:net/http read(1 MiB)",
        move || sandnet(&o, &guest("rust-http-bench"), &["download", &u, "1048576"]),
        mb_per_second,
    ));
    // As in `http`: `raw-download` is the bare-calls mode (`blocking_read` of
    // 1 MiB), the one `wasmtime run -S http` completes; wstd's is kept beside it.
    for (name, mode) in [
        ("sandnet, wasi:http (wstd)", "download"),
        ("sandnet, wasi:http (bare calls)", "raw-download"),
    ] {
        let (o, u) = (options.clone(), url.clone());
        out.push(timed(
            name,
            move || sandnet(&o, &guest("rust-wasi-http-bench"), &[mode, &u]),
            mb_per_second,
        ));
    }
    if let Some(bin) = options.wasmtime.clone() {
        let u = url.clone();
        out.push(timed(
            "wasmtime run -S http (bare calls)",
            move || wasmtime_http(&bin, &guest("rust-wasi-http-bench"), &["raw-download", &u]),
            mb_per_second,
        ));
    }
    if Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok()
    {
        out.push(timed(
            "curl",
            move || {
                let mut cmd = Command::new("curl");
                cmd.args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "1 %{size_download} %{time_total}",
                ])
                .arg(&url);
                cmd
            },
            |_, bytes, seconds| bytes / (seconds * 1e6),
        ));
    }
    out
}

/// Cached start-to-exit contenders: the wall time of a child, median of
/// `starts`. A child that exits with another status than its contender expects
/// fails the contender (a `wasmtime run` that cannot link its guest exits 1
/// in 5 ms: timing it would measure the failure).
pub fn start(options: &Options, sizes: Sizes) -> Vec<Contender> {
    let mut out = Vec::new();
    let wall = |name: &str, expected: i32, make: Box<dyn Fn() -> Command>| {
        warm(&*make);
        let label = name.to_owned();
        let starts = sizes.starts;
        Contender {
            name: name.to_owned(),
            run: Box::new(move || {
                let mut times = Vec::new();
                let mut rss = 0;
                for _ in 0..starts {
                    let t = Instant::now();
                    let run = run_child(make());
                    times.push(t.elapsed().as_secs_f64() * 1e3);
                    rss = rss.max(run.rss_kib);
                    if run.code != Some(expected) {
                        eprintln!(
                            "bench: {label} failed: exit status {:?}, expected {expected}: {:?}",
                            run.code,
                            run.stderr.trim()
                        );
                        return None;
                    }
                }
                times.sort_by(f64::total_cmp);
                Some(Sample {
                    value: times[times.len() / 2],
                    rss_kib: rss,
                })
            }),
        }
    };
    // Python, JS and C guests without arguments print their usage and exit 2.
    // `rust-wasi-http-bench exit` imports only WASI and `wasi:http`, so
    // `wasmtime run` starts the same guest (rust-hostile imports sandnet:net).
    for (name, component, args, expected) in [
        (
            "sandnet run, Rust guest (75 KB)",
            "rust-hostile",
            &["exit", "0"][..],
            0,
        ),
        (
            "sandnet run, Rust wasi-http-bench exit",
            "rust-wasi-http-bench",
            &["exit"][..],
            0,
        ),
        (
            "sandnet run, Python guest (17.6 MB)",
            "python-http-get",
            &[][..],
            2,
        ),
        ("sandnet run, JS guest", "js-http-get", &[][..], 2),
        ("sandnet run, C guest", "c-http-get", &[][..], 2),
    ] {
        if !guest(component).exists() {
            eprintln!(
                "bench: SKIPPING {name}: {} not built",
                guest(component).display()
            );
            continue;
        }
        let o = options.clone();
        out.push(wall(
            name,
            expected,
            Box::new(move || sandnet(&o, &guest(component), args)),
        ));
    }
    if let Some(bin) = options.wasmtime.clone() {
        let cwasm = options.peers_dir.join("rust-wasi-http-bench.cwasm");
        let compiled = Command::new(&bin)
            .arg("compile")
            .arg(guest("rust-wasi-http-bench"))
            .arg("-o")
            .arg(&cwasm)
            .status()
            .is_ok_and(|s| s.success());
        if compiled {
            out.push(wall(
                "wasmtime run .cwasm, wasi-http-bench exit",
                0,
                Box::new(move || {
                    let mut cmd = Command::new(&bin);
                    cmd.args(["run", "-S", "http", "--allow-precompiled"])
                        .arg(&cwasm)
                        .arg("exit");
                    cmd
                }),
            ));
        } else {
            eprintln!("bench: SKIPPING wasmtime .cwasm start: wasmtime compile failed");
        }
    }
    if let Some(bin) = options.deno.clone() {
        out.push(wall(
            "deno hello",
            0,
            Box::new(move || {
                let mut cmd = Command::new(&bin);
                cmd.args(["eval", "console.log('hello')"]);
                cmd
            }),
        ));
    }
    out
}
