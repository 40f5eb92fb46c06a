//! One run of a guest: builds its store (WASI context, `sandnet:net` state,
//! limits), instantiates it and calls its `wasi:cli/run`, then tells how it ended.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sandnet_policy::{GuestPolicy, Scheme};
use wasmtime::Store;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use super::Runtime;
use super::limits::{MemoryLimitExceeded, MemoryLimiter, WallTimeReached, arm_wall_time};
use crate::exit::Code;
use crate::guard::{Guard, GuardConfig};
use crate::net::NetCtx;
use crate::net::standard::http::StandardHttpGate;
use crate::net::standard::sockets as wasi_sockets;
use crate::state::State;

/// Most bytes of stdout/stderr kept per stream when output is captured.
pub const MAX_CAPTURED_OUTPUT: usize = 16 * 1024 * 1024;

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
    /// It tried to grow memory past its `memory` limit and was stopped.
    MemoryExceeded(u64),
    /// It trapped; the message says where and why.
    Trapped(String),
}

impl ExitStatus {
    /// The process exit status `sandnet run` uses for this outcome.
    pub fn code(&self) -> i32 {
        match self {
            ExitStatus::Exited(code) => *code,
            ExitStatus::WallTimeExceeded(_) => Code::WallTimeExceeded.into(),
            ExitStatus::MemoryExceeded(_) => Code::MemoryExceeded.into(),
            ExitStatus::Trapped(_) => Code::Trapped.into(),
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
                    "guest stopped: ran past its wall_time limit of {limit:?} (raise limits.wall_time in the policy)"
                )
            }
            ExitStatus::MemoryExceeded(limit) => {
                write!(
                    f,
                    "guest stopped: tried to grow memory past its limit of {limit} bytes (raise limits.memory in the policy)"
                )
            }
            ExitStatus::Trapped(msg) => write!(f, "guest trapped: {msg}"),
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
}

impl Runtime {
    /// Runs the guest to completion under its policy's limits.
    pub async fn run(&self, request: RunRequest) -> anyhow::Result<RunOutcome> {
        let guard = Arc::new(Guard::new(
            Arc::clone(&request.policy),
            request.guard.clone(),
        ));
        self.run_guarded(request, guard).await
    }

    /// As [`Runtime::run`], through a `guard` the caller keeps (made with
    /// [`Guard::new`] from `request.policy`; `request.guard` is then unused),
    /// e.g. to [`Guard::reload`] the policy while the guest runs. What the
    /// store is built from stays as `request.policy` had it for the whole run:
    /// `env`, `memory`, `wall_time`, `ca_bundle`, and whether standard
    /// `wasi:sockets` TCP/UDP are enabled at all.
    pub async fn run_guarded(
        &self,
        request: RunRequest,
        guard: Arc<Guard>,
    ) -> anyhow::Result<RunOutcome> {
        let started = Instant::now();
        let component = self.load(&request.component)?;
        let load_time = started.elapsed();
        let limits = request.policy.limits.clone();

        let tls = Arc::new(crate::net::common::tls::client_config(
            request.policy.ca_bundle.as_deref(),
        )?);
        let net = NetCtx::new(Arc::clone(&guard), tls);

        let program = request
            .component
            .file_name()
            .map_or_else(|| "guest".to_owned(), |n| n.to_string_lossy().into_owned());
        let mut argv = vec![program];
        argv.extend(request.args);
        let mut wasi = WasiCtxBuilder::new();
        let policy = &request.policy;
        wasi.args(&argv)
            .envs(&policy.env)
            .allow_tcp(policy.allows_any_of(&[Scheme::Tcp, Scheme::TcpListen]))
            .allow_udp(policy.allows_any_of(&[Scheme::Udp, Scheme::UdpBind]))
            // Name lookups are served by sandnet's own ip-name-lookup (see `linker`).
            .allow_ip_name_lookup(false)
            .socket_addr_check(wasi_sockets::address_check(Arc::clone(&guard)));
        let captured = if request.capture_output {
            let out = MemoryOutputPipe::new(MAX_CAPTURED_OUTPUT);
            let err = MemoryOutputPipe::new(MAX_CAPTURED_OUTPUT);
            wasi.stdout(out.clone()).stderr(err.clone());
            Some((out, err))
        } else {
            wasi.inherit_stdout().inherit_stderr();
            None
        };
        let max_bytes = usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX);
        let state = State {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            http_gate: StandardHttpGate::new(net.http.clone()),
            net,
            limiter: MemoryLimiter {
                max_bytes,
                hit: false,
            },
            http_ctx: wasmtime_wasi_http::WasiHttpCtx::new(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        let deadline = arm_wall_time(&mut store, limits.wall_time);

        let linker = self.linker(&component)?;
        let run = async {
            let command = wasmtime_wasi::p2::bindings::Command::instantiate_async(
                &mut store, &component, &linker,
            )
            .await?;
            command.wasi_cli_run().call_run(&mut store).await
        };
        let result = tokio::time::timeout_at(deadline.into(), run).await;
        let status = match result {
            Err(_elapsed) => ExitStatus::WallTimeExceeded(limits.wall_time),
            Ok(Ok(Ok(()))) => ExitStatus::Exited(0),
            Ok(Ok(Err(()))) => ExitStatus::Exited(1),
            Ok(Err(err)) => classify_error(&err, store.data().limiter.hit, &limits),
        };
        let (stdout, stderr) = match captured {
            Some((out, err)) => (out.contents().to_vec(), err.contents().to_vec()),
            None => (Vec::new(), Vec::new()),
        };
        Ok(RunOutcome {
            status,
            stdout,
            stderr,
            load_time,
        })
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
        return ExitStatus::WallTimeExceeded(limits.wall_time);
    }
    if memory_hit || err.downcast_ref::<MemoryLimitExceeded>().is_some() {
        return ExitStatus::MemoryExceeded(limits.memory_bytes);
    }
    ExitStatus::Trapped(format!("{err:?}"))
}
