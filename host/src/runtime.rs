//! Runs one guest: engine configuration, compiled-component cache, store limits,
//! epoch-based wall-clock deadline, instantiation and the guest's `wasi:cli/run`.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sandnet_policy::{GuestPolicy, Scheme};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use crate::guard::{Guard, GuardConfig};
use crate::net::http_client::HttpClient;
use crate::net::wasi_http::StandardHttpGate;
use crate::net::wasi_sockets;
use crate::net::{NetCtx, NetData};
use crate::state::{MemoryLimitExceeded, MemoryLimiter, State};
use crate::{bindings, net};

/// How often the epoch advances; the wall-clock deadline is checked at this grain.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Most bytes of stdout/stderr kept per stream when output is captured.
pub const MAX_CAPTURED_OUTPUT: usize = 16 * 1024 * 1024;

/// Exit status of `sandnet run` when the guest ran past `wall_time`.
pub const EXIT_WALL_TIME: i32 = 124;
/// Exit status when the guest outgrew its `memory` limit.
pub const EXIT_MEMORY: i32 = 125;
/// Exit status when the guest trapped (crashed).
pub const EXIT_TRAP: i32 = 70;

/// Runtime-wide settings.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Where compiled components are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
}

/// The wasmtime engine and compile cache, shared by every guest run.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    config: RuntimeConfig,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

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
            ExitStatus::WallTimeExceeded(_) => EXIT_WALL_TIME,
            ExitStatus::MemoryExceeded(_) => EXIT_MEMORY,
            ExitStatus::Trapped(_) => EXIT_TRAP,
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

/// Marker trap for the wall-clock deadline.
#[derive(Debug, thiserror::Error)]
#[error("wall-clock deadline reached")]
struct WallTimeReached;

impl Runtime {
    /// A runtime with its own engine. Starts the epoch ticker thread, which ends
    /// when the last clone of the runtime is dropped.
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Self> {
        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            .cranelift_opt_level(wasmtime::OptLevel::Speed);
        let engine = Engine::new(&wasm)
            .map_err(anyhow::Error::from)
            .context("cannot configure wasmtime")?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("sandnet-epoch".to_owned())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .context("cannot start the epoch thread")?;
        Ok(Runtime { engine, config })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Loads a component, from the compile cache when possible.
    pub fn load(&self, path: &Path) -> anyhow::Result<Component> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read component {}", path.display()))?;
        let Some(dir) = &self.config.cache_dir else {
            return self.compile(path, &bytes);
        };
        let cached = dir.join(format!("{}.cwasm", self.cache_key(&bytes)));
        if cached.exists() {
            match deserialize_cached(&self.engine, &cached) {
                Ok(component) => return Ok(component),
                Err(err) => {
                    tracing::warn!(path = %cached.display(), %err, "ignoring unusable cache entry")
                }
            }
        }
        let component = self.compile(path, &bytes)?;
        if let Err(err) = store_cached(dir, &cached, &component) {
            tracing::warn!(dir = %dir.display(), %err, "cannot write the compile cache");
        }
        Ok(component)
    }

    fn compile(&self, path: &Path, bytes: &[u8]) -> anyhow::Result<Component> {
        Component::new(&self.engine, bytes)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("{} is not a valid WebAssembly component", path.display()))
    }

    fn cache_key(&self, bytes: &[u8]) -> String {
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        let mut sha = Sha256::new();
        sha.update(engine_hash.finish().to_le_bytes());
        sha.update(env!("CARGO_PKG_VERSION").as_bytes());
        sha.update(bytes);
        hex::encode(sha.finalize())
    }

    /// Runs the guest to completion under its policy's limits.
    pub async fn run(&self, request: RunRequest) -> anyhow::Result<RunOutcome> {
        let started = Instant::now();
        let component = self.load(&request.component)?;
        let load_time = started.elapsed();
        let limits = request.policy.limits.clone();

        let tls = Arc::new(crate::tls::client_config(
            request.policy.ca_bundle.as_deref(),
        )?);
        let guard = Arc::new(Guard::new(Arc::clone(&request.policy), request.guard));
        let http = HttpClient::new(Arc::clone(&guard), (*tls).clone());

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
            .allow_tcp(wasi_sockets::uses(
                policy,
                &[Scheme::Tcp, Scheme::TcpListen],
            ))
            .allow_udp(wasi_sockets::uses(policy, &[Scheme::Udp, Scheme::UdpBind]))
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
            net: NetCtx {
                guard,
                http: http.clone(),
                tls,
                websocket: Default::default(),
                sse: Default::default(),
                tcp: Default::default(),
                udp: Default::default(),
                standard_sockets: Default::default(),
            },
            limiter: MemoryLimiter {
                max_bytes,
                hit: false,
            },
            http_ctx: wasmtime_wasi_http::WasiHttpCtx::new(),
            http_gate: StandardHttpGate::new(http),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        let deadline = Instant::now() + limits.wall_time;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(wasmtime::Error::new(WallTimeReached))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });

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

    /// WASI (deny-all sockets, no preopens) + the implemented `sandnet:net`
    /// interfaces; imports this host does not implement yet trap when called.
    fn linker(&self, component: &Component) -> anyhow::Result<Linker<State>> {
        let mut linker = Linker::<State>::new(&self.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        // Replace wasmtime-wasi's name lookup (which would resolve any name) with
        // the guard's, which resolves only names the policy grants.
        linker.allow_shadowing(true);
        bindings::ip_name_lookup::add_to_linker::<State, NetData>(&mut linker, State::net_view)?;
        // Replace wasmtime-wasi's tcp and udp with the same calls plus the
        // guest's limits (connection slots, byte quotas, datagram size).
        net::wasi_sockets_limits::add_to_linker(&mut linker)?;
        linker.allow_shadowing(false);
        bindings::types::add_to_linker::<State, NetData>(&mut linker, State::net_view)?;
        bindings::http::add_to_linker::<State, NetData>(&mut linker, State::net_view)?;
        net::websocket::add_to_linker(&mut linker)?;
        net::sse::add_to_linker(&mut linker)?;
        net::tcp::add_to_linker(&mut linker)?;
        net::udp::add_to_linker(&mut linker)?;
        stub_unimplemented(&self.engine, &mut linker, component)?;
        Ok(linker)
    }
}

/// Whether this host links the `sandnet:net` interface `name` (else its calls trap).
pub fn implements(name: &str) -> bool {
    match name {
        "types" | "http" => true,
        "websocket" => net::websocket::IMPLEMENTED,
        "sse" => net::sse::IMPLEMENTED,
        "tcp" => net::tcp::IMPLEMENTED,
        "udp" => net::udp::IMPLEMENTED,
        _ => false,
    }
}

/// Host type standing in for resources of interfaces not implemented yet; no
/// value of it is ever created.
struct Unimplemented;

/// Lets a guest built against the whole `sandnet:net` world (componentize-py
/// imports every interface of its world) instantiate: each function of an
/// interface not implemented yet traps with a message naming it.
fn stub_unimplemented(
    engine: &Engine,
    linker: &mut Linker<State>,
    component: &Component,
) -> anyhow::Result<()> {
    use wasmtime::component::ResourceType;
    use wasmtime::component::types::ComponentItem;
    let ty = component.component_type();
    for (name, import) in ty.imports(engine) {
        let Some(rest) = name.strip_prefix("sandnet:net/") else {
            continue;
        };
        let interface = rest.split('@').next().unwrap_or(rest);
        if implements(interface) {
            continue;
        }
        let ComponentItem::ComponentInstance(instance) = import.ty else {
            continue;
        };
        let mut stubs = linker.instance(name)?;
        for (item, extern_) in instance.exports(engine) {
            match extern_.ty {
                ComponentItem::ComponentFunc(_) => {
                    let message = format!(
                        "the guest called `{item}` of sandnet:net/{interface}, which this version of sandnet does not implement yet"
                    );
                    stubs.func_new(item, move |_, _, _, _| {
                        Err(wasmtime::Error::msg(message.clone()))
                    })?;
                }
                ComponentItem::Resource(_) if item == "pollable" => {
                    stubs.resource(
                        item,
                        ResourceType::host::<wasmtime_wasi::p2::DynPollable>(),
                        |_, _| Ok(()),
                    )?;
                }
                ComponentItem::Resource(_) => {
                    stubs.resource(item, ResourceType::host::<Unimplemented>(), |_, _| Ok(()))?;
                }
                _ => {}
            }
        }
    }
    Ok(())
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

/// Loads a component this runtime serialised earlier.
#[allow(
    unsafe_code,
    reason = "deserialising our own cache entry; see SAFETY below"
)]
fn deserialize_cached(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    // SAFETY: wasmtime requires the file to be a component serialised by a
    // compatible engine and not tampered with. The cache directory is created
    // by `default_cache_dir` with mode 0700, entries are written atomically by
    // `store_cached`, and the file name includes the engine's compatibility hash.
    let component =
        unsafe { Component::deserialize_file(engine, path) }.map_err(anyhow::Error::from)?;
    Ok(component)
}

fn store_cached(dir: &Path, path: &Path, component: &Component) -> anyhow::Result<()> {
    create_private_dir(dir)?;
    let bytes = component.serialize().map_err(anyhow::Error::from)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o022 != 0 {
        bail!(
            "cache directory {} is writable by others (mode {mode:o}); refusing to use it",
            dir.display()
        );
    }
    Ok(())
}

/// `$SANDNET_CACHE_DIR`, else `$XDG_CACHE_HOME/sandnet`, else `~/.cache/sandnet`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SANDNET_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("sandnet"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("sandnet"))
}
