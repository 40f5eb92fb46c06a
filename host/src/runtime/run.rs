//! One run of a guest: builds its store (WASI context, `sandnet:net` state,
//! limits) into a [`PreparedRun`], instantiates it and calls its `wasi:cli/run`
//! until it ends, a limit stops it or the host does, then tells how it ended.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::future::Either;
use sandnet_policy::{GuestPolicy, Scheme};
use tokio::io::{AsyncRead, AsyncWrite};
use wasmtime::Store;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{AsyncStdinStream, AsyncStdoutStream};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use super::Runtime;
use super::limits::{
    CpuClock, CpuTimeReached, MemoryLimitExceeded, MemoryLimiter, WallTimeReached, arm_deadlines,
};
use super::stdout::{HostStdout, PipeClosed};
use crate::exit::Code;
use crate::guard::{Guard, GuardConfig};
use crate::net::NetCtx;
use crate::net::standard::http::StandardHttpGate;
use crate::net::standard::sockets as wasi_sockets;
use crate::state::State;

/// Most bytes of stdout/stderr kept per stream when output is captured.
pub const MAX_CAPTURED_OUTPUT: usize = 16 * 1024 * 1024;

/// Bytes a guest may have in flight to a piped stdout or stderr before its
/// writes wait (wasmtime-wasi's write budget).
pub const PIPE_BUDGET: usize = 64 * 1024;

/// Everything one run needs.
pub struct RunRequest {
    /// The component file.
    pub component: PathBuf,
    /// The guest's policy (scopes, limits, env, CA bundle).
    pub policy: Arc<GuestPolicy>,
    /// Arguments after the program name.
    pub args: Vec<String>,
    /// Capture stdout/stderr into the outcome instead of passing them through.
    pub capture_output: bool,
    /// Resolver, dialer and audit log for the guard.
    pub guard: GuardConfig,
}

/// How the guest ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// It returned or called exit with this status.
    Exited(i32),
    /// It ran past its `wall_time` limit and was stopped.
    WallTimeExceeded(Duration),
    /// It consumed more CPU time than its `cpu_time` limit and was stopped.
    CpuTimeExceeded(Duration),
    /// It tried to grow memory past its `memory` limit and was stopped.
    MemoryExceeded(u64),
    /// It trapped; the message says where and why.
    Trapped(String),
    /// The host stopped it (shutdown, reload); the text says why.
    Stopped(String),
    /// Its stdout was a pipe whose reader went away (`| head`); it was ended
    /// quietly, as SIGPIPE ends a native program (status 141).
    StdoutClosed,
}

impl ExitStatus {
    /// The process exit status `sandnet run` uses for this outcome.
    pub fn code(&self) -> i32 {
        match self {
            ExitStatus::Exited(code) => *code,
            ExitStatus::WallTimeExceeded(_) => Code::WallTimeExceeded.into(),
            ExitStatus::CpuTimeExceeded(_) => Code::CpuTimeExceeded.into(),
            ExitStatus::MemoryExceeded(_) => Code::MemoryExceeded.into(),
            ExitStatus::Trapped(_) => Code::Trapped.into(),
            ExitStatus::Stopped(_) => Code::Success.into(),
            ExitStatus::StdoutClosed => Code::StdoutClosed.into(),
        }
    }

    /// Whether this ending counts as a failure for `restart = "on-failure"`:
    /// anything but a zero exit or a stop the host asked for.
    pub fn is_failure(&self) -> bool {
        !matches!(
            self,
            ExitStatus::Exited(0) | ExitStatus::Stopped(_) | ExitStatus::StdoutClosed
        )
    }

    /// A short machine-friendly reason: `exit`, `wall_time`, `cpu_time`,
    /// `memory`, `trap` or `stopped` (the `reason` label of restart metrics).
    pub fn reason(&self) -> &'static str {
        match self {
            ExitStatus::Exited(_) => "exit",
            ExitStatus::WallTimeExceeded(_) => "wall_time",
            ExitStatus::CpuTimeExceeded(_) => "cpu_time",
            ExitStatus::MemoryExceeded(_) => "memory",
            ExitStatus::Trapped(_) => "trap",
            ExitStatus::Stopped(_) => "stopped",
            ExitStatus::StdoutClosed => "stdout_closed",
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "guest exited with status {code}"),
            ExitStatus::WallTimeExceeded(limit) => {
                write!(
                    f,
                    "guest stopped: ran past its wall_time limit of {limit:?} (raise limits.wall_time in the policy, or set it to \"unlimited\" for a long-lived guest)"
                )
            }
            ExitStatus::CpuTimeExceeded(limit) => {
                write!(
                    f,
                    "guest stopped: used more than its cpu_time limit of {limit:?} of CPU (raise limits.cpu_time in the policy)"
                )
            }
            ExitStatus::MemoryExceeded(limit) => {
                write!(
                    f,
                    "guest stopped: tried to grow memory past its limit of {limit} bytes (raise limits.memory in the policy)"
                )
            }
            ExitStatus::Trapped(msg) => write!(f, "guest trapped: {msg}"),
            ExitStatus::Stopped(why) => write!(f, "guest stopped by the host: {why}"),
            ExitStatus::StdoutClosed => f.write_str("guest ended: its stdout was closed"),
        }
    }
}

/// The result of a run.
#[derive(Debug)]
pub struct RunOutcome {
    /// How the guest ended.
    pub status: ExitStatus,
    /// Captured stdout (empty unless `capture_output`).
    pub stdout: Vec<u8>,
    /// Captured stderr (empty unless `capture_output`).
    pub stderr: Vec<u8>,
    /// Time spent compiling or loading the component.
    pub load_time: Duration,
    /// CPU time the guest consumed (zero unless counted: a `cpu_time` limit,
    /// or [`PreparedRun::count_cpu`]).
    pub cpu_time: Duration,
    /// For a trap: the whole error with its wasm backtrace (the status has
    /// only the one-line cause); `sandnet run -v` prints it.
    pub trap_detail: Option<String>,
}

/// Where a guest's stdin, stdout and stderr go.
pub enum GuestIo {
    /// As `RunRequest::capture_output` says: the host's own stdout and stderr, or captured.
    AsRequested,
    /// Streams the host provides (`sandnet up` prefixes each line with the guest's name).
    Piped {
        /// What the guest reads; its end (EOF) is how a host asks a guest to stop.
        stdin: Box<dyn AsyncRead + Send + Sync>,
        /// Where the guest's stdout goes.
        stdout: Box<dyn AsyncWrite + Send + Sync>,
        /// Where the guest's stderr goes.
        stderr: Box<dyn AsyncWrite + Send + Sync>,
    },
}

/// Live figures of a run in progress, readable from other tasks.
#[derive(Debug, Clone)]
pub struct RunStats {
    /// CPU time consumed so far (zero unless `cpu_counted`).
    pub cpu: CpuClock,
    /// Whether polls are charged to `cpu`: under a `cpu_time` limit or after
    /// [`PreparedRun::count_cpu`].
    pub cpu_counted: bool,
    /// Linear memory size in bytes (the largest memory).
    pub memory: Arc<AtomicU64>,
}

impl RunStats {
    /// Bytes of linear memory the guest holds.
    pub fn memory_bytes(&self) -> u64 {
        self.memory.load(Ordering::Relaxed)
    }
}

/// A guest ready to run: store built, component loaded, guard in place.
pub struct PreparedRun {
    store: Store<State>,
    command: CommandPre<State>,
    guard: Arc<Guard>,
    stats: RunStats,
    deadline: Option<Instant>,
    limits: sandnet_policy::Limits,
    captured: Option<(MemoryOutputPipe, MemoryOutputPipe)>,
    pipe_closed: PipeClosed,
    load_time: Duration,
}

impl Runtime {
    /// Runs the guest to completion under its policy's limits.
    pub async fn run(&self, request: RunRequest) -> anyhow::Result<RunOutcome> {
        let prepared = self.prepare(request, GuestIo::AsRequested)?;
        Ok(prepared.run_until(std::future::pending()).await)
    }

    /// As [`Runtime::run`], through a `guard` the caller keeps (made with
    /// [`Guard::new`] from `request.policy`; `request.guard` is then unused),
    /// e.g. to [`Guard::reload`] the policy while the guest runs.
    pub async fn run_guarded(
        &self,
        request: RunRequest,
        guard: Arc<Guard>,
    ) -> anyhow::Result<RunOutcome> {
        let prepared = self.prepare_guarded(request, GuestIo::AsRequested, guard)?;
        Ok(prepared.run_until(std::future::pending()).await)
    }

    /// Builds the guest's store and guard without running it.
    pub fn prepare(&self, request: RunRequest, io: GuestIo) -> anyhow::Result<PreparedRun> {
        let guard = Arc::new(Guard::new(
            Arc::clone(&request.policy),
            request.guard.clone(),
        ));
        self.prepare_guarded(request, io, guard)
    }

    /// As [`Runtime::prepare`], through a `guard` the caller made. What the
    /// store is built from stays as `request.policy` had it for the whole run
    /// (a [`Guard::reload`] does not change it): `env`, `memory`, `wall_time`,
    /// `cpu_time`, `ca_bundle`, and whether standard `wasi:sockets` TCP/UDP
    /// are enabled at all.
    pub fn prepare_guarded(
        &self,
        request: RunRequest,
        io: GuestIo,
        guard: Arc<Guard>,
    ) -> anyhow::Result<PreparedRun> {
        // A CA bundle or secret source the policy names but the host cannot
        // read is a policy error (`PolicyRefError`, exit 78 from the CLI),
        // found before the component is compiled.
        let refs = crate::net::common::refs::load(&request.policy, Arc::clone(&guard) as _)?;
        let started = Instant::now();
        let command = self.command_pre(&request.component)?;
        let load_time = started.elapsed();
        let limits = request.policy.limits.clone();

        guard.use_secrets(refs.secrets);
        let net = NetCtx::new(Arc::clone(&guard), Arc::new(refs.tls));

        let program = request
            .component
            .file_name()
            .map_or_else(|| "guest".to_owned(), |n| n.to_string_lossy().into_owned());
        let mut argv = vec![program];
        argv.extend(request.args);
        let mut wasi = WasiCtxBuilder::new();
        let policy = &request.policy;
        // Report-only mode observes standard sockets too: each use is judged
        // by the guard, which reports what the policy would refuse.
        let report_only = guard.enforcement().is_report_only();
        wasi.args(&argv)
            .envs(&policy.env)
            .allow_tcp(report_only || policy.allows_any_of(&[Scheme::Tcp, Scheme::TcpListen]))
            .allow_udp(report_only || policy.allows_any_of(&[Scheme::Udp, Scheme::UdpBind]))
            // Name lookups are served by sandnet's own ip-name-lookup (see `linker`).
            .allow_ip_name_lookup(false)
            .socket_addr_check(wasi_sockets::address_check(Arc::clone(&guard)));
        let mut captured = None;
        let pipe_closed = PipeClosed::default();
        match io {
            GuestIo::AsRequested if request.capture_output => {
                let out = MemoryOutputPipe::new(MAX_CAPTURED_OUTPUT);
                let err = MemoryOutputPipe::new(MAX_CAPTURED_OUTPUT);
                wasi.stdout(out.clone()).stderr(err.clone());
                captured = Some((out, err));
            }
            GuestIo::AsRequested => {
                let out = HostStdout::new(tokio::io::stdout(), pipe_closed.clone());
                wasi.stdout(AsyncStdoutStream::new(PIPE_BUDGET, out))
                    .inherit_stderr();
            }
            GuestIo::Piped {
                stdin,
                stdout,
                stderr,
            } => {
                wasi.stdin(AsyncStdinStream::new(Box::into_pin(stdin)))
                    .stdout(AsyncStdoutStream::new(PIPE_BUDGET, Box::into_pin(stdout)))
                    .stderr(AsyncStdoutStream::new(PIPE_BUDGET, Box::into_pin(stderr)));
            }
        }
        let max_bytes = usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX);
        let limiter = MemoryLimiter::new(max_bytes);
        let stats = RunStats {
            cpu: CpuClock::default(),
            cpu_counted: limits.cpu_time.is_some(),
            memory: Arc::clone(&limiter.size),
        };
        let state = State {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            http_gate: StandardHttpGate::new(net.http.clone()),
            net,
            limiter,
            http_ctx: wasmtime_wasi_http::WasiHttpCtx::new(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        let deadline = arm_deadlines(
            &mut store,
            limits.wall_time,
            limits.cpu_time,
            stats.cpu.clone(),
        );
        Ok(PreparedRun {
            store,
            command,
            guard,
            stats,
            deadline,
            limits,
            captured,
            pipe_closed,
            load_time,
        })
    }
}

impl PreparedRun {
    /// The guest's guard (its policy, counters and audit identity), e.g. to reload its policy.
    pub fn guard(&self) -> &Arc<Guard> {
        &self.guard
    }

    /// Live CPU and memory figures of this run. CPU time is counted only
    /// under a `cpu_time` limit or after [`PreparedRun::count_cpu`].
    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    /// Counts the CPU time of this run even without a `cpu_time` limit (for
    /// status and metrics). It costs two reads of the thread CPU clock, each
    /// a system call, per poll of the guest, which is why `sandnet run`
    /// without the limit does not pay it.
    #[must_use]
    pub fn count_cpu(mut self) -> Self {
        self.stats.cpu_counted = true;
        self
    }

    /// Runs the guest until it ends, a limit stops it, or `stop` completes
    /// (with the reason the host stops it for).
    pub async fn run_until(self, stop: impl Future<Output = String>) -> RunOutcome {
        let PreparedRun {
            mut store,
            command,
            stats,
            deadline,
            limits,
            captured,
            pipe_closed,
            load_time,
            ..
        } = self;
        let run = async {
            let command = command.instantiate_async(&mut store).await?;
            command.wasi_cli_run().call_run(&mut store).await
        };
        let run = if stats.cpu_counted {
            Either::Left(stats.cpu.meter(run))
        } else {
            Either::Right(run)
        };
        let wall = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                None => std::future::pending().await,
            }
        };
        let mut trap_detail = None;
        let status = tokio::select! {
            result = run => match result {
                Ok(Ok(())) => ExitStatus::Exited(0),
                Ok(Err(())) => ExitStatus::Exited(1),
                Err(err) => {
                    let status = classify_error(&err, store.data().limiter.hit, &limits);
                    if matches!(status, ExitStatus::Trapped(_)) {
                        trap_detail = Some(format!("{err:?}"));
                    }
                    status
                }
            },
            () = wall => ExitStatus::WallTimeExceeded(limits.wall_time.unwrap_or_default()),
            why = stop => ExitStatus::Stopped(why),
            () = pipe_closed.closed() => ExitStatus::StdoutClosed,
        };
        let (stdout, stderr) = match captured {
            Some((out, err)) => (out.contents().to_vec(), err.contents().to_vec()),
            None => (Vec::new(), Vec::new()),
        };
        RunOutcome {
            status,
            stdout,
            stderr,
            load_time,
            cpu_time: stats.cpu.used(),
            trap_detail,
        }
    }
}

fn classify_error(
    err: &wasmtime::Error,
    memory_hit: bool,
    limits: &sandnet_policy::Limits,
) -> ExitStatus {
    if let Some(exit) = err.downcast_ref::<I32Exit>() {
        return ExitStatus::Exited(exit.0);
    }
    if err.downcast_ref::<WallTimeReached>().is_some() {
        return ExitStatus::WallTimeExceeded(limits.wall_time.unwrap_or_default());
    }
    if err.downcast_ref::<CpuTimeReached>().is_some() {
        return ExitStatus::CpuTimeExceeded(limits.cpu_time.unwrap_or_default());
    }
    if memory_hit || err.downcast_ref::<MemoryLimitExceeded>().is_some() {
        return ExitStatus::MemoryExceeded(limits.memory_bytes);
    }
    ExitStatus::Trapped(trap_summary(err))
}

/// One line for a trap: the root cause (e.g. "wasm `unreachable` instruction
/// executed"), without the wasm backtrace ([`RunOutcome::trap_detail`] has it).
fn trap_summary(err: &wasmtime::Error) -> String {
    let root = err.root_cause().to_string();
    let first = root.lines().next().unwrap_or("unknown trap").trim();
    if first.is_empty() {
        "unknown trap".to_owned()
    } else {
        first.to_owned()
    }
}
