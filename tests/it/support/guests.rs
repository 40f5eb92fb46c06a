//! Running guests: where the built components are, the `sandnet` command line
//! (to completion with [`run_cli`], or in the [`Background`]), the library
//! ([`run_lib`]), and `for_each_lang!` to run one test in every language.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sandnet::guard::GuardConfig;
use sandnet::{RunOutcome, RunRequest, Runtime, RuntimeConfig};

use super::assertions::Finished;
use super::policy::{PolicyFile, guest_policy};

/// Longest a CLI run may take before the test fails (and the process is killed).
/// Generous: a cold compile of the 18 MB Python guest takes seconds.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(120);

/// How often a waiting test looks at a child process again.
const POLL: Duration = Duration::from_millis(5);

/// `mod NAME { fn rust(); fn python() }` for each test function NAME, which
/// takes the guest's component name (`for_each_lang!("http-get": a, b)` passes
/// `rust-http-get` / `python-http-get`; with `every`, also `js-` and `c-`; with
/// a list such as `[js, c]`, those languages) or, without a guest, the
/// language (`for_each_lang!(a, b)` passes `rust` / `python`).
macro_rules! for_each_lang {
    (@guest [$($lang:ident),+] $guest:literal $name:ident) => {
        mod $name {
            $(
                #[test]
                fn $lang() {
                    super::$name(concat!(stringify!($lang), "-", $guest));
                }
            )+
        }
    };
    (@lang [$($lang:ident),+] $name:ident) => {
        mod $name {
            $(
                #[test]
                fn $lang() {
                    super::$name(stringify!($lang));
                }
            )+
        }
    };
    (every $guest:literal: $($name:ident),* $(,)?) => {
        for_each_lang!([rust, python, js, c] $guest: $($name),*);
    };
    ($langs:tt $guest:literal: $($name:ident),* $(,)?) => {
        $(for_each_lang!(@guest $langs $guest $name);)*
    };
    ($guest:literal: $($name:ident),* $(,)?) => {
        for_each_lang!([rust, python] $guest: $($name),*);
    };
    ($($name:ident),* $(,)?) => {
        $(for_each_lang!(@lang [rust, python] $name);)*
    };
}
pub(crate) use for_each_lang;

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

impl Finished for Output {
    fn code(&self) -> Option<i32> {
        self.code
    }
    fn stdout(&self) -> &str {
        &self.stdout
    }
    fn stderr(&self) -> &str {
        &self.stderr
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
        S: AsRef<OsStr>,
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

    /// `sandnet run GUEST --policy POLICY [EXTRA...] -- ARGS...`.
    pub fn run(guest_name: &str, policy: &PolicyFile, extra: &[&str], args: &[&str]) -> Cli {
        let mut argv: Vec<OsString> = vec![
            "run".into(),
            guest(guest_name).into(),
            "--policy".into(),
            policy.arg().into(),
        ];
        argv.extend(extra.iter().map(OsString::from));
        argv.push("--".into());
        argv.extend(args.iter().map(OsString::from));
        Cli::new(argv)
    }

    /// `sandnet up POLICY [EXTRA...]`.
    pub fn up(policy: &PolicyFile, extra: &[&str]) -> Cli {
        let mut argv: Vec<OsString> = vec!["up".into(), policy.arg().into()];
        argv.extend(extra.iter().map(OsString::from));
        Cli::new(argv)
    }

    /// Removes an environment variable from the `sandnet` process.
    pub fn env_remove(mut self, name: &str) -> Cli {
        self.cmd.env_remove(name);
        self
    }

    /// Sets an environment variable of the `sandnet` process.
    pub fn env(mut self, name: &str, value: impl AsRef<OsStr>) -> Cli {
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
        let status = wait_within(&mut child, limit);
        let out = Output {
            code: status.and_then(|s| s.code()),
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
            elapsed: started.elapsed(),
        };
        assert!(
            status.is_some(),
            "sandnet ran longer than {limit:?} and was killed:\n{out}"
        );
        out
    }

    /// Starts the process; its stdout arrives line by line.
    pub fn background(mut self) -> Background {
        let mut child = self.cmd.spawn().expect("spawn sandnet");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in io::BufRead::lines(io::BufReader::new(stdout)).map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        Background {
            child,
            lines,
            stderr: Some(stderr),
            seen: Vec::new(),
        }
    }
}

/// Reads `pipe` to its end on a thread.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Waits for `child` to exit; after `limit` kills it and returns `None`.
fn wait_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for sandnet") {
            return Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// `sandnet run GUEST --policy POLICY [EXTRA...] -- ARGS...` to completion.
pub fn run_cli(guest_name: &str, policy: &PolicyFile, extra: &[&str], args: &[&str]) -> Output {
    Cli::run(guest_name, policy, extra, args).output()
}

/// A `sandnet` process in the background (a listening guest, or two guests
/// at once) whose stdout lines arrive one by one; killed when dropped.
pub struct Background {
    child: Child,
    lines: Receiver<String>,
    stderr: Option<JoinHandle<String>>,
    seen: Vec<String>,
}

impl Background {
    /// `sandnet run GUEST --policy POLICY [EXTRA...] -- ARGS...` in the background.
    pub fn start(
        guest_name: &str,
        policy: &PolicyFile,
        extra: &[&str],
        args: &[&str],
    ) -> Background {
        Cli::run(guest_name, policy, extra, args).background()
    }

    /// The next stdout line, failing the test after `CLI_TIMEOUT`.
    pub fn line(&mut self) -> String {
        self.line_within(CLI_TIMEOUT)
    }

    /// The next stdout line, failing the test (killing the process) after `limit`.
    pub fn line_within(&mut self, limit: Duration) -> String {
        match self.lines.recv_timeout(limit) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(err) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = self.stderr();
                panic!(
                    "no stdout line from the guest within {limit:?} ({err}); so far {:?}; stderr:\n{stderr}",
                    self.seen
                );
            }
        }
    }

    /// The next stdout line containing `needle` (earlier lines are kept in
    /// [`Background::seen`]), failing the test after `limit`.
    pub fn line_with(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.line_within(left);
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// Every stdout line read so far.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// Sends the signal named `name` (`TERM`, `HUP`, `USR1`, ...) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed: {status}");
    }

    /// The address in the guest's first line, `listening on ADDR`.
    pub fn listening_on(&mut self) -> std::net::SocketAddr {
        let line = self.line();
        line.strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("expected `listening on ADDR`, got {line:?}"))
    }

    /// Whether the guest printed nothing for `limit`.
    pub fn quiet_for(&mut self, limit: Duration) -> bool {
        match self.lines.recv_timeout(limit) {
            Ok(line) => {
                self.seen.push(line);
                false
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => true,
        }
    }

    /// Waits for the exit, failing after `CLI_TIMEOUT`; returns (status,
    /// remaining stdout lines, stderr).
    pub fn finish(self) -> (Option<i32>, Vec<String>, String) {
        self.finish_within(CLI_TIMEOUT)
    }

    /// Waits for the exit, failing the test (killing the process) after `limit`.
    pub fn finish_within(mut self, limit: Duration) -> (Option<i32>, Vec<String>, String) {
        let status = wait_within(&mut self.child, limit);
        // The reader thread ends at the end of stdout, so no line is lost.
        let rest: Vec<String> = self.lines.iter().collect();
        let stderr = self.stderr();
        let Some(status) = status else {
            panic!("the guest did not exit within {limit:?}; stdout {rest:?}; stderr:\n{stderr}");
        };
        (status.code(), rest, stderr)
    }

    /// Everything on stderr; call once the process has ended.
    fn stderr(&mut self) -> String {
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
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

impl Finished for LibRun {
    fn code(&self) -> Option<i32> {
        Some(self.outcome.status.code())
    }
    fn stdout(&self) -> &str {
        &self.stdout
    }
    fn stderr(&self) -> &str {
        &self.stderr
    }
}

/// HTTP request settings for library tests: generous timeouts, a 1 KiB body
/// cap, no redirects, retries or decoding.
pub fn lib_http_settings() -> sandnet::net::http::client::Settings {
    sandnet::net::http::client::Settings {
        connect: Duration::from_secs(5),
        first_byte: Duration::from_secs(5),
        idle: Duration::from_secs(5),
        deadline: Instant::now() + Duration::from_secs(10),
        total: Duration::from_secs(10),
        max_redirects: 0,
        max_body: 1024,
        retry: sandnet::net::http::retry::Retry::NEVER,
        decode: false,
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
