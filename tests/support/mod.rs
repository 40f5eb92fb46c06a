//! Shared pieces of sandnet's integration tests: loopback HTTP(S) servers, a test
//! CA made at test time, policy files, CLI and library runners, and a dialer that
//! records every address and never lets a packet leave the machine.

#![allow(
    dead_code,
    reason = "each test file uses a different subset of these helpers"
)]

use std::collections::HashSet;
use std::convert::Infallible;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sandnet::audit::Audit;
use sandnet::guard::{Dialer, GuardConfig, SystemResolver};
use sandnet::policy::Policy;
use sandnet::{RunOutcome, RunRequest, Runtime, RuntimeConfig};
use tempfile::TempDir;
use tokio::net::{TcpListener, TcpStream};

/// The two `http-get` guests: same contract, different languages.
pub const HTTP_GET_GUESTS: [&str; 2] = ["rust-http-get", "python-http-get"];

/// Longest a CLI run may take before the test fails (and the process is killed).
/// Generous: a cold compile of the 18 MB Python guest takes seconds.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(120);

/// `mod NAME { fn rust(); fn python() }` for each test function NAME, which
/// takes the guest's component name (`for_each_lang!("http-get": a, b)` passes
/// `rust-http-get` / `python-http-get`; with `every`, also `js-` and `c-`) or,
/// without a guest, the language (`for_each_lang!(a, b)` passes `rust` / `python`).
#[allow(
    unused_macros,
    reason = "not every test file runs guests in both languages"
)]
macro_rules! for_each_lang {
    (every $guest:literal: $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn rust() {
                    super::$name(concat!("rust-", $guest));
                }
                #[test]
                fn python() {
                    super::$name(concat!("python-", $guest));
                }
                #[test]
                fn js() {
                    super::$name(concat!("js-", $guest));
                }
                #[test]
                fn c() {
                    super::$name(concat!("c-", $guest));
                }
            }
        )*
    };
    ($guest:literal: $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn rust() {
                    super::$name(concat!("rust-", $guest));
                }
                #[test]
                fn python() {
                    super::$name(concat!("python-", $guest));
                }
            }
        )*
    };
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn rust() {
                    super::$name("rust");
                }
                #[test]
                fn python() {
                    super::$name("python");
                }
            }
        )*
    };
}
#[allow(
    unused_imports,
    reason = "not every test file runs guests in both languages"
)]
pub(crate) use for_each_lang;

/// A one-guest policy file: `[guest.t]` followed by `body`.
#[allow(dead_code, reason = "not every test file uses it")]
pub fn policy(body: &str) -> PolicyFile {
    write_policy(&format!("[guest.t]\n{body}\n"))
}

// ---------------------------------------------------------------------------
// Paths and guests

/// The repository root.
pub fn repo_root() -> PathBuf {
    let host = Path::new(env!("CARGO_MANIFEST_DIR"));
    host.parent().expect("host/ has a parent").to_owned()
}

/// Compiled components shared by every test of this build (a rerun is cached too).
pub fn shared_cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("sandnet-cache")
}

/// Path of a built guest (`target/guests/<name>.wasm`), compiled into the shared
/// cache once per test process. Fails loudly when the guest was not built.
pub fn guest(name: &str) -> PathBuf {
    let path = repo_root()
        .join("target")
        .join("guests")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "guest component {} is missing: run scripts/build-guests.sh first",
        path.display()
    );
    warm_cache(&path);
    path
}

/// Compiles `path` into the shared cache once, so parallel tests do not all
/// compile the same (large) component at the same time.
fn warm_cache(path: &Path) {
    static WARM: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let mut warm = WARM.lock().unwrap_or_else(|p| p.into_inner());
    let set = warm.get_or_insert_with(HashSet::new);
    if set.contains(path) {
        return;
    }
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(shared_cache_dir()),
    })
    .expect("wasmtime runtime");
    runtime
        .load(path)
        .unwrap_or_else(|err| panic!("cannot compile {}: {err:#}", path.display()));
    set.insert(path.to_owned());
}

// ---------------------------------------------------------------------------
// Policy files

/// A policy file in its own temporary directory.
#[derive(Debug)]
pub struct PolicyFile {
    /// Keeps the directory alive.
    pub dir: TempDir,
    /// The file.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

impl PolicyFile {
    /// The path as a `&str` for command lines.
    pub fn arg(&self) -> &str {
        self.path.to_str().expect("temp paths are UTF-8")
    }
}

/// Writes `text` to `policy.toml` in a fresh temporary directory.
pub fn write_policy(text: &str) -> PolicyFile {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, text).expect("write policy");
    PolicyFile {
        dir,
        path,
        text: text.to_owned(),
    }
}

/// The 1-based line of `text` that contains `needle` (for asserting rule lines).
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} is not in the policy:\n{text}"))
}

// ---------------------------------------------------------------------------
// Running the CLI

/// What a finished process left behind.
#[derive(Debug)]
pub struct Output {
    /// Exit status (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// A `sandnet` command line, run with the shared compile cache.
#[derive(Debug)]
pub struct Cli {
    cmd: Command,
}

impl Cli {
    /// `sandnet ARGS...`.
    pub fn new<I, S>(args: I) -> Cli
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sandnet"));
        cmd.args(args)
            .env("SANDNET_CACHE_DIR", shared_cache_dir())
            .env_remove("SANDNET_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Cli { cmd }
    }

    /// Sets an environment variable of the `sandnet` process.
    pub fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Cli {
        self.cmd.env(name, value);
        self
    }

    /// Runs to completion; fails the test if it takes longer than `CLI_TIMEOUT`.
    pub fn output(self) -> Output {
        self.output_within(CLI_TIMEOUT)
    }

    /// Runs to completion; fails the test (killing the process) after `limit`.
    pub fn output_within(mut self, limit: Duration) -> Output {
        let started = Instant::now();
        let mut child = self.cmd.spawn().expect("spawn sandnet");
        let stdout = drain(child.stdout.take().expect("piped stdout"));
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for sandnet") {
                break status;
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                let out = Output {
                    code: None,
                    stdout: stdout.join().unwrap_or_default(),
                    stderr: stderr.join().unwrap_or_default(),
                    elapsed: started.elapsed(),
                };
                panic!("sandnet ran longer than {limit:?} and was killed:\n{out}");
            }
            std::thread::sleep(Duration::from_millis(5)); // polling interval
        };
        let elapsed = started.elapsed();
        Output {
            code: status.code(),
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
            elapsed,
        }
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// `sandnet run GUEST --policy POLICY [EXTRA...] -- ARGS...`.
pub fn run_cli(guest_name: &str, policy: &PolicyFile, extra: &[&str], args: &[&str]) -> Output {
    let component = guest(guest_name);
    let mut argv: Vec<String> = vec![
        "run".into(),
        component.display().to_string(),
        "--policy".into(),
        policy.arg().into(),
    ];
    argv.extend(extra.iter().map(|s| (*s).to_owned()));
    argv.push("--".into());
    argv.extend(args.iter().map(|s| (*s).to_owned()));
    Cli::new(argv).output()
}

/// A `sandnet run` in the background whose stdout lines arrive on a channel;
/// killed when dropped.
#[allow(dead_code, reason = "only the tests of listening guests use it")]
pub struct Background {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Background {
    /// `sandnet run GUEST --policy POLICY [EXTRA...] -- ARGS...`.
    pub fn start(
        guest_name: &str,
        policy: &PolicyFile,
        extra: &[&str],
        args: &[&str],
    ) -> Background {
        let component = guest(guest_name);
        let mut child = Command::new(env!("CARGO_BIN_EXE_sandnet"))
            .arg("run")
            .arg(&component)
            .args(["--policy", policy.arg()])
            .args(extra)
            .arg("--")
            .args(args)
            .env("SANDNET_CACHE_DIR", shared_cache_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in io::BufRead::lines(io::BufReader::new(stdout)) {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Background {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The next stdout line, failing the test after `CLI_TIMEOUT`.
    pub fn line(&mut self) -> String {
        match self.lines.recv_timeout(CLI_TIMEOUT) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(_) => {
                let _ = self.child.kill();
                let mut stderr = String::new();
                if let Some(mut err) = self.child.stderr.take() {
                    let _ = err.read_to_string(&mut stderr);
                }
                panic!(
                    "no stdout line from the guest; so far {:?}; stderr:\n{stderr}",
                    self.seen
                );
            }
        }
    }

    /// Waits for the exit; returns (status, remaining stdout lines, stderr).
    pub fn finish(mut self) -> (Option<i32>, Vec<String>, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(started.elapsed() < CLI_TIMEOUT, "the guest did not exit");
            std::thread::sleep(Duration::from_millis(5)); // polling interval
        };
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        let rest = self.lines.iter().collect();
        (status.code(), rest, stderr)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// Running through the library

/// Parses `text` and returns its only guest's policy, ready for a [`RunRequest`].
pub fn guest_policy(text: &str) -> Arc<sandnet::policy::GuestPolicy> {
    let policy = Policy::parse(text, "test-policy.toml")
        .unwrap_or_else(|err| panic!("bad test policy: {err}\n{text}"));
    let guest = policy
        .guest(None)
        .unwrap_or_else(|err| panic!("bad test policy: {err}\n{text}"));
    Arc::new(guest.clone())
}

/// A finished library run with its output decoded.
#[derive(Debug)]
pub struct LibRun {
    /// The outcome as the library returned it.
    pub outcome: RunOutcome,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

impl fmt::Display for LibRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.outcome.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs `guest_name` through [`Runtime::run`] with captured output.
pub fn run_lib(guest_name: &str, policy_text: &str, args: &[&str], guard: GuardConfig) -> LibRun {
    let component = guest(guest_name);
    let policy = guest_policy(policy_text);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = Instant::now();
    let outcome = tokio.block_on(async {
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(shared_cache_dir()),
        })
        .expect("wasmtime runtime");
        let request = RunRequest {
            component,
            policy,
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            capture_output: true,
            guard,
        };
        tokio::time::timeout(CLI_TIMEOUT, runtime.run(request))
            .await
            .expect("library run timed out")
            .expect("library run failed")
    });
    let elapsed = started.elapsed();
    tokio.shutdown_background();
    LibRun {
        stdout: String::from_utf8_lossy(&outcome.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&outcome.stderr).into_owned(),
        outcome,
        elapsed,
    }
}

/// A guard whose resolver answers `names` itself and whose dialer is `dialer`.
pub fn guard_with(names: &[(&str, IpAddr)], dialer: &RecordingDialer, audit: Audit) -> GuardConfig {
    GuardConfig {
        resolver: Arc::new(SystemResolver::with_overrides(
            names.iter().map(|(n, ip)| ((*n).to_owned(), *ip)),
        )),
        dialer: Arc::new(dialer.clone()),
        audit,
    }
}

// ---------------------------------------------------------------------------
// A dialer that records and never leaves the machine

/// What a [`RecordingDialer`] does after recording an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialMode {
    /// Connects to loopback addresses; refuses any other without sending a packet.
    LoopbackOnly,
    /// Never completes (for connect timeouts); sends nothing.
    Hang,
}

/// Records every address the guard asks it to dial.
#[derive(Debug, Clone)]
pub struct RecordingDialer {
    dialed: Arc<Mutex<Vec<SocketAddr>>>,
    mode: DialMode,
}

impl RecordingDialer {
    /// A recording dialer in `mode`.
    pub fn new(mode: DialMode) -> Self {
        RecordingDialer {
            dialed: Arc::default(),
            mode,
        }
    }

    /// Every address dialled so far, in order.
    pub fn dialed(&self) -> Vec<SocketAddr> {
        self.dialed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Dialer for RecordingDialer {
    fn dial(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
        self.dialed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(addr);
        let mode = self.mode;
        Box::pin(async move {
            match mode {
                DialMode::Hang => futures::future::pending::<io::Result<TcpStream>>().await,
                DialMode::LoopbackOnly if addr.ip().is_loopback() => TcpStream::connect(addr).await,
                DialMode::LoopbackOnly => Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("test dialer refuses non-loopback address {addr}"),
                )),
            }
        })
    }
}

/// An in-memory audit sink.
#[derive(Debug, Clone, Default)]
pub struct AuditBuffer(Arc<Mutex<Vec<u8>>>);

impl AuditBuffer {
    /// An [`Audit`] writing into this buffer.
    pub fn audit(&self) -> Audit {
        Audit::to_writer(Box::new(self.clone()))
    }

    /// Every JSON line written so far.
    pub fn events(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {l}"))
            })
            .collect()
    }
}

impl Write for AuditBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Loopback servers

/// What a server saw.
#[derive(Debug, Default)]
pub struct Stats {
    connections: AtomicUsize,
    requests: AtomicUsize,
    log: Mutex<Vec<String>>,
}

/// A server on 127.0.0.1:0 with its own tokio runtime; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    scheme: &'static str,
    stats: Arc<Stats>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Server {
    fn start(scheme: &'static str, tls: Option<Arc<rustls::ServerConfig>>, answer: bool) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("server runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let stats = Arc::new(Stats::default());
        let accept_stats = Arc::clone(&stats);
        runtime.spawn(async move {
            let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
            let mut held = Vec::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                accept_stats.connections.fetch_add(1, Ordering::SeqCst);
                if !answer {
                    held.push(stream); // a black hole: accept, never answer, never close
                    continue;
                }
                let stats = Arc::clone(&accept_stats);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(stream).await {
                                serve(TokioIo::new(tls), stats).await;
                            }
                        }
                        None => serve(TokioIo::new(stream), stats).await,
                    }
                });
            }
        });
        Server {
            addr,
            scheme,
            stats,
            runtime: Some(runtime),
        }
    }

    /// A plain HTTP/1.1 server with the test routes.
    pub fn http() -> Server {
        Server::start("http", None, true)
    }

    /// An HTTPS server whose certificate (for 127.0.0.1 and localhost) `ca` signed.
    pub fn https(ca: &TestCa) -> Server {
        Server::start("https", Some(Arc::clone(&ca.server_config)), true)
    }

    /// Accepts connections and never sends a byte (for first-byte timeouts).
    pub fn black_hole() -> Server {
        Server::start("http", None, false)
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `scheme://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}://127.0.0.1:{}{path}", self.scheme, self.port())
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.stats.connections.load(Ordering::SeqCst)
    }

    /// HTTP requests served so far.
    pub fn requests(&self) -> usize {
        self.stats.requests.load(Ordering::SeqCst)
    }

    /// `METHOD path?query` of every request served, in order.
    pub fn seen(&self) -> Vec<String> {
        self.stats
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

async fn serve<I>(io: I, stats: Arc<Stats>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |req| route(req, Arc::clone(&stats)));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The test routes:
/// - `/ok` (and anything under `/ok/`): 200 `hello`
/// - `/echo`: 200 `METHOD BODY`, with an `x-method` header
/// - `/status/N`: status N, body `status N`
/// - `/redirect?to=URL`: 302 to URL
/// - `/big?n=BYTES`: 200 with BYTES bytes of `x`
/// - `/headers`: 200, the request headers as `name: value` lines
async fn route(
    req: Request<Incoming>,
    stats: Arc<Stats>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let entry = if query.is_empty() {
        format!("{method} {path}")
    } else {
        format!("{method} {path}?{query}")
    };
    stats
        .log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(entry);
    stats.requests.fetch_add(1, Ordering::SeqCst);
    let headers = req.headers().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();

    let response = if path == "/ok" || path.starts_with("/ok/") {
        text(StatusCode::OK, "hello")
    } else if path == "/echo" {
        let mut echoed = format!("{method} ").into_bytes();
        echoed.extend_from_slice(&body);
        let mut response = text(StatusCode::OK, echoed);
        response.headers_mut().insert(
            "x-method",
            method
                .as_str()
                .parse::<hyper::header::HeaderValue>()
                .expect("method is a header value"),
        );
        response
    } else if let Some(code) = path.strip_prefix("/status/") {
        match code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
        {
            Some(status) => text(status, format!("status {}", status.as_u16())),
            None => text(StatusCode::BAD_REQUEST, "bad status"),
        }
    } else if path == "/redirect" {
        match query_param(&query, "to") {
            Some(to) => {
                let mut response = text(StatusCode::FOUND, "");
                match to.parse::<hyper::header::HeaderValue>() {
                    Ok(location) => {
                        response
                            .headers_mut()
                            .insert(hyper::header::LOCATION, location);
                        response
                    }
                    Err(_) => text(StatusCode::BAD_REQUEST, "bad to"),
                }
            }
            None => text(StatusCode::BAD_REQUEST, "missing ?to="),
        }
    } else if path == "/big" {
        let n = query_param(&query, "n")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        text(StatusCode::OK, vec![b'x'; n])
    } else if path == "/headers" {
        let mut out = String::new();
        for (name, value) in &headers {
            out.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        text(StatusCode::OK, out)
    } else {
        text(StatusCode::NOT_FOUND, "not found")
    };
    Ok(response)
}

// ---------------------------------------------------------------------------
// Test CA

/// A CA made at test time, a leaf for 127.0.0.1 and localhost signed by it,
/// and the CA certificate as a PEM file for a policy's `ca_bundle`.
pub struct TestCa {
    dir: TempDir,
    /// The CA certificate, PEM.
    pub ca_pem: PathBuf,
    server_config: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa")
            .field("ca_pem", &self.ca_pem)
            .finish_non_exhaustive()
    }
}

impl TestCa {
    /// Makes a fresh CA and server certificate.
    pub fn new() -> TestCa {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "sandnet test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("CA cert");

        let mut leaf_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("leaf params");
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "sandnet test server");
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf = leaf_params.signed_by(&leaf_key, &*ca).expect("leaf cert");

        let dir = tempfile::tempdir().expect("tempdir");
        let ca_pem = dir.path().join("ca.pem");
        std::fs::write(&ca_pem, ca.pem()).expect("write CA PEM");

        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
            .expect("server certificate");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TestCa {
            dir,
            ca_pem,
            server_config: Arc::new(config),
        }
    }

    /// The CA PEM path as TOML-safe text.
    pub fn ca_pem_str(&self) -> String {
        self.ca_pem.display().to_string()
    }
}

/// Asserts `cond`, showing `what` (an [`Output`] or [`LibRun`]) when it fails.
macro_rules! check {
    ($cond:expr, $what:expr $(,)?) => {
        assert!($cond, "assertion failed: {}\n{}", stringify!($cond), $what)
    };
    ($cond:expr, $what:expr, $($msg:tt)+) => {
        assert!($cond, "assertion failed: {}: {}\n{}", stringify!($cond), format!($($msg)+), $what)
    };
}
pub(crate) use check;

/// Waits until `cond` holds, polling every few milliseconds, up to `limit`.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}
