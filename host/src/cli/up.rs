//! `sandnet up`: runs every guest of a policy file that names a component, in
//! one process, until SIGINT or SIGTERM; SIGHUP (or `--watch`) reloads the
//! policy, SIGUSR1 prints a status line per instance.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use sandnet_policy::{Policy, parse_duration};
use tokio::signal::unix::{SignalKind, signal};

use super::run::{ReportOnly, open_audit, parse_resolve};
use super::{check_refs, fail, load_policy};
use crate::exit::Code;
use crate::fleet::{Event, EventKind, Fleet, FleetConfig, InstanceStatus};
use crate::guard::{GuardConfig, SystemResolver, TcpDialer};
use crate::metrics::Metrics;
use crate::net::bus::broker::Bus;
use crate::net::bus::nats::{NatsLink, NatsOptions};
use crate::runtime::{Runtime, RuntimeConfig, default_cache_dir};

/// Width the guest-name column of text output is padded to.
const NAME_WIDTH: usize = 12;

/// How often `--watch` looks at the policy file.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// Run every guest of a policy file that names a component, supervised.
///
/// Each `[guest.NAME]` table with `component = "file.wasm"` runs in its own
/// store with its own scopes, limits and audit identity; `restart` says
/// whether it starts again when it ends. Output lines are prefixed with the
/// guest's name. SIGINT/SIGTERM stop the guests (their stdin ends at once;
/// after --grace they are stopped) and exit 0; SIGHUP reloads the policy;
/// SIGUSR1 prints a status line per instance. See docs/hosting.md.
///
/// Example: sandnet up fleet.toml --metrics 127.0.0.1:9464
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The policy file; guests naming a `component` are started.
    policy: PathBuf,
    /// Write one JSON line per network decision to FILE (`-` for stderr).
    #[arg(long, value_name = "FILE|-")]
    audit: Option<String>,
    #[command(flatten)]
    report_only: ReportOnly,
    /// Answer lookups of NAME with IP instead of asking DNS (checked against
    /// the policy as usual). Repeatable.
    #[arg(long, value_name = "NAME=IP", value_parser = parse_resolve)]
    resolve: Vec<(String, IpAddr)>,
    /// How long a guest has to end by itself after its stdin ends, when it is
    /// stopped (shutdown, removal, program change).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_grace)]
    grace: Duration,
    /// Reload the policy whenever the file changes (as SIGHUP does).
    #[arg(long)]
    watch: bool,
    /// `text`: `NAME | line` (like docker compose); `json`: one JSON object per line.
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Serve Prometheus metrics (per guest: state, restarts, CPU, memory,
    /// network events, bytes, limit hits) at http://ADDR/metrics; read them
    /// with `sandnet status --metrics ADDR`. See docs/metrics.md.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Compile components even if a cached compilation exists.
    #[arg(long)]
    no_cache: bool,
    /// Carry the bus over a NATS server (nats://HOST:4222, or tls://HOST:4222)
    /// instead of the embedded broker, so guests of every `sandnet up` on it
    /// talk; each host still checks its own guests' policies. User and
    /// password or a token come from SANDNET_BUS_USER/SANDNET_BUS_PASSWORD or
    /// SANDNET_BUS_TOKEN. See docs/bus.md.
    #[arg(long, value_name = "URL")]
    bus: Option<String>,
    /// The NATS subject prefix of bus topics (`telemetry.cpu` is
    /// `PREFIX.telemetry.cpu`); hosts talk only under the same prefix.
    #[arg(
        long,
        value_name = "PREFIX",
        default_value = "sandnet",
        requires = "bus"
    )]
    bus_prefix: String,
    /// A NATS credentials file (JWT and NKey seed) for --bus.
    #[arg(long, value_name = "FILE", requires = "bus")]
    bus_creds: Option<PathBuf>,
    /// A PEM CA bundle to verify the NATS server's certificate (TLS required).
    #[arg(long, value_name = "FILE", requires = "bus")]
    bus_tls_ca: Option<PathBuf>,
}

/// The fleet's one bus: the embedded broker, or a NATS link from `--bus`.
fn open_bus(args: &Args, control: &tokio::runtime::Runtime) -> anyhow::Result<Bus> {
    let Some(url) = &args.bus else {
        return Ok(Bus::new());
    };
    let options = NatsOptions {
        url: url.clone(),
        prefix: args.bus_prefix.clone(),
        creds: args.bus_creds.clone(),
        tls_ca: args.bus_tls_ca.clone(),
        ..NatsOptions::default()
    }
    .with_env_secrets();
    // The connection's tasks run on the control thread; guests reach them
    // through its channels from their own threads.
    let link = control.block_on(NatsLink::connect(&options))?;
    Ok(Bus::Nats(Arc::new(link)))
}

fn parse_grace(text: &str) -> Result<Duration, String> {
    if text == "0" || text == "0s" {
        return Ok(Duration::ZERO);
    }
    parse_duration(text)
        .ok_or_else(|| format!("expected a duration like \"5s\" or \"500ms\", got {text:?}"))
}

pub(super) fn exec(args: Args) -> ExitCode {
    let policy = match load_policy(&args.policy) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if !policy.guests().iter().any(|g| g.program.is_some()) {
        eprintln!(
            "sandnet: no guest in {} names a component to run; add component = \"guest.wasm\" to a [guest.NAME] table (or use `sandnet run`)",
            policy.source()
        );
        return ExitCode::from(Code::Policy);
    }
    let programs = policy.guests().iter().filter(|g| g.program.is_some());
    if let Err(code) = check_refs(programs) {
        return code;
    }
    let audit = match open_audit(args.audit.as_deref()) {
        Ok(a) => a,
        Err(err) => return fail(Code::HostFailure, &err),
    };
    let enforcement = args.report_only.announce();
    let guests = match crate::fleet::GuestThreads::per_core() {
        Ok(threads) => Arc::new(threads),
        Err(err) => return fail(Code::HostFailure, &err.into()),
    };
    let control = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => return fail(Code::HostFailure, &err.into()),
    };
    let cache_dir = if args.no_cache {
        None
    } else {
        default_cache_dir()
    };
    let runtime = match Runtime::new(RuntimeConfig { cache_dir }) {
        Ok(r) => r.with_progress(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        Err(err) => return fail(Code::HostFailure, &err),
    };
    let bus = match open_bus(&args, &control) {
        Ok(bus) => bus,
        Err(err) => return fail(Code::HostFailure, &err),
    };
    let config = FleetConfig {
        runtime,
        guard: GuardConfig {
            resolver: Arc::new(SystemResolver::with_overrides(args.resolve.clone())),
            dialer: Arc::new(TcpDialer),
            audit,
            // One bus for the whole fleet: every guest's guard shares it.
            bus,
            enforcement,
        },
        guests: crate::fleet::Guests::Threads(Arc::clone(&guests)),
        metrics: args.metrics.map(|_| Metrics::new()),
    };
    let result = control.block_on(async {
        let exporter = match (args.metrics, &config.metrics) {
            (Some(addr), Some(metrics)) => {
                let (bound, task) = crate::metrics::serve(addr, metrics.clone())
                    .await
                    .with_context(|| format!("cannot serve metrics on {addr}"))?;
                println!(
                    "{:<NAME_WIDTH$} | [sandnet] metrics at http://{bound}/metrics",
                    "sandnet"
                );
                Some(task)
            }
            _ => None,
        };
        let served = serve(Fleet::new(config), policy, &args).await;
        if let Some(task) = exporter {
            task.abort();
        }
        served
    });
    drop(guests);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(Code::HostFailure, &err),
    }
}

async fn serve(fleet: Fleet, policy: Policy, args: &Args) -> anyhow::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let json = args.log_format == "json";
    let mut events = fleet
        .events()
        .ok_or_else(|| anyhow::anyhow!("the fleet's events were already taken"))?;
    let printer = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            print_event(&event, json);
        }
    });
    let mut watch = Watch::new(&args.policy);
    fleet.apply(&policy, args.grace).await;
    let mut watch_tick = tokio::time::interval(WATCH_EVERY);
    loop {
        tokio::select! {
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
            _ = hangup.recv() => reload(&fleet, &args.policy, args.grace).await,
            _ = usr1.recv() => print_status(&fleet.status().await),
            _ = watch_tick.tick(), if args.watch => {
                if watch.changed() {
                    reload(&fleet, &args.policy, args.grace).await;
                }
            }
        }
    }
    fleet.shutdown(args.grace).await;
    drop(fleet);
    let _ = printer.await;
    Ok(())
}

/// Re-reads the policy file and applies it; an invalid one is refused and
/// the old one stays in force.
async fn reload(fleet: &Fleet, path: &Path, grace: Duration) {
    match Policy::from_file(path) {
        Ok(policy) => {
            fleet.apply(&policy, grace).await;
        }
        Err(err) => fleet.refuse_reload(err.to_string()).await,
    }
}

/// `--watch`: notices when the policy file's content changes and stays the
/// same for one more look (so a file caught half-written by an editor is
/// not applied).
struct Watch {
    path: PathBuf,
    applied: Option<Vec<u8>>,
    pending: Option<Vec<u8>>,
}

impl Watch {
    fn new(path: &Path) -> Self {
        Watch {
            path: path.to_path_buf(),
            applied: std::fs::read(path).ok(),
            pending: None,
        }
    }

    /// Whether the content changed and settled since the last change reported.
    fn changed(&mut self) -> bool {
        let now = std::fs::read(&self.path).ok();
        if now == self.applied {
            self.pending = None;
            return false;
        }
        if self.pending.is_some() && self.pending == now {
            self.applied = now;
            self.pending = None;
            return true;
        }
        self.pending = now;
        false
    }
}

fn print_event(event: &Event, json: bool) {
    let mut out = std::io::stdout().lock();
    let written = if json {
        let line = serde_json::json!({
            "time": unix_seconds(),
            "guest": event.guest,
            "instance": event.instance,
            "detail": event.kind,
        });
        writeln!(out, "{line}")
    } else {
        let name = match event.instance {
            0 => event.guest.clone(),
            i => format!("{}.{i}", event.guest),
        };
        let name = if name.is_empty() {
            "sandnet".to_owned()
        } else {
            name
        };
        match &event.kind {
            EventKind::Output { line, .. } => writeln!(out, "{name:<NAME_WIDTH$} | {line}"),
            other => writeln!(out, "{name:<NAME_WIDTH$} | [sandnet] {other}"),
        }
    };
    // A closed stdout ends nothing: the guests keep running.
    let _ = written.and_then(|()| out.flush());
}

fn print_status(status: &[InstanceStatus]) {
    let mut err = std::io::stderr().lock();
    for s in status {
        let (cpu, memory) = s.stats.as_ref().map_or(("-".to_owned(), 0), |st| {
            // Counted with --metrics or under a cpu_time limit.
            let cpu = if st.cpu_counted {
                format!("{:.3}s", st.cpu.used().as_secs_f64())
            } else {
                "-".to_owned()
            };
            (cpu, st.memory_bytes())
        });
        let _ = writeln!(
            err,
            "sandnet: {}.{} {} restarts={} cpu={cpu} memory={memory} last={}",
            s.guest,
            s.instance,
            s.state.name(),
            s.restarts,
            s.last_exit.as_deref().unwrap_or("-"),
        );
    }
}

fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| (d.as_secs_f64() * 1000.0).round() / 1000.0)
}
