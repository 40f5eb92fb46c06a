//! `sandnet run`: runs a guest component under a policy.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use sandnet_policy::Enforcement;

use super::{fail, load_policy, select_guest};
use crate::audit::Audit;
use crate::exit::{self, Code};
use crate::guard::{GuardConfig, SystemResolver, TcpDialer};
use crate::net::common::refs::PolicyRefError;
use crate::runtime::{ExitStatus, RunRequest, Runtime, RuntimeConfig, default_cache_dir};

/// Run a guest component under a policy.
///
/// The guest's stdout and stderr pass through, and sandnet exits with the
/// guest's own exit status. Other statuses: 124 the guest ran past its
/// wall_time limit; 152 it used up its cpu_time limit; 125 it outgrew its
/// memory limit; 70 it trapped; 141 its stdout pipe closed (`| head`);
/// 78 the policy file is unusable; 71 sandnet itself failed (e.g. the
/// component cannot be read).
///
/// Example: sandnet run target/guests/rust-http-get.wasm --policy policy.toml -- http://127.0.0.1:8080/ok
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The component to run (.wasm).
    component: PathBuf,
    /// The policy file granting the guest's network reach.
    #[arg(long, short = 'p', value_name = "FILE")]
    policy: PathBuf,
    /// Which `[guest.NAME]` table of the policy applies; may be omitted when
    /// the file has one guest.
    #[arg(long, short = 'g', value_name = "NAME")]
    guest: Option<String>,
    /// Write one JSON line per network decision to FILE (`-` for stderr).
    #[arg(long, value_name = "FILE|-")]
    audit: Option<String>,
    #[command(flatten)]
    report_only: ReportOnly,
    /// Answer lookups of NAME with IP instead of asking DNS (like curl's
    /// --resolve). The address is still checked against the policy. Repeatable.
    #[arg(long, value_name = "NAME=IP", value_parser = parse_resolve)]
    resolve: Vec<(String, IpAddr)>,
    /// Compile the component even if a cached compilation exists, and do not
    /// write the cache.
    #[arg(long)]
    no_cache: bool,
    /// Print more on failure: the wasm backtrace of a trap (also with
    /// RUST_BACKTRACE=1).
    #[arg(long, short = 'v')]
    verbose: bool,
    /// Arguments passed to the guest (after `--`).
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

pub(super) fn parse_resolve(text: &str) -> Result<(String, IpAddr), String> {
    let (name, ip) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("expected NAME=IP, got {text:?}"))?;
    let ip: IpAddr = ip
        .trim_matches(['[', ']'])
        .parse()
        .map_err(|_| format!("{ip:?} is not an IP address"))?;
    if name.is_empty() {
        return Err(format!("expected NAME=IP, got {text:?}"));
    }
    Ok((name.to_owned(), ip))
}

/// `--report-only[=all]`, shared by `run` and `up`.
#[derive(Debug, clap::Args)]
pub(super) struct ReportOnly {
    /// Report-only: let requests the policy denies through and log them as
    /// `would-deny` (audit log and stderr) with the line that would allow
    /// them, to learn a guest's needs. Non-public addresses (loopback,
    /// private, link-local, metadata) stay refused unless `=all` is given.
    /// Limits still apply. Then: `sandnet policy suggest AUDIT`.
    #[arg(
        long,
        value_name = "all",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "public",
        value_parser = parse_report_only
    )]
    report_only: Option<Enforcement>,
}

impl ReportOnly {
    /// The mode asked for, announced on stderr when it is not plain enforcement.
    pub(super) fn announce(&self) -> Enforcement {
        let mode = self.report_only.unwrap_or_default();
        if let Some(banner) = mode.banner() {
            eprintln!("sandnet: {banner}");
        }
        mode
    }
}

fn parse_report_only(text: &str) -> Result<Enforcement, String> {
    Enforcement::parse_flag(text)
}

pub(super) fn open_audit(spec: Option<&str>) -> anyhow::Result<Audit> {
    Ok(match spec {
        None => Audit::off(),
        Some("-") => Audit::to_writer(Box::new(std::io::stderr())),
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open audit log {path}"))?;
            Audit::to_writer(Box::new(file))
        }
    })
}

pub(super) fn exec(args: Args) -> ExitCode {
    let policy = match load_policy(&args.policy) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let guest_policy = match select_guest(&policy, args.guest.as_deref()) {
        Ok(g) => Arc::new(g.clone()),
        Err(code) => return code,
    };
    let audit = match open_audit(args.audit.as_deref()) {
        Ok(a) => a,
        Err(err) => return fail(Code::HostFailure, &err),
    };
    // One guest: it runs as a task of a current-thread runtime, beside its
    // connections' tasks, so a call on an open connection wakes nothing across
    // threads and no driver wake-up either (a task, unlike the `block_on`
    // future, is woken by a queue push). docs/benchmarks.md measured it: per
    // request 3.7 -> 1.0 context switches, 9.0 -> 3.0 syscalls. DNS still runs
    // on tokio's blocking pool, and the guest yields at every epoch tick, so
    // connection tasks (heartbeats, queued messages) run while it computes.
    let enforcement = args.report_only.announce();
    let tokio = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => return fail(Code::HostFailure, &err.into()),
    };
    let Args {
        component,
        resolve,
        no_cache,
        args,
        verbose,
        ..
    } = args;
    let verbose = verbose || std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0");
    let result = tokio.block_on(async move {
        let cache_dir = if no_cache { None } else { default_cache_dir() };
        let runtime = Runtime::new(RuntimeConfig { cache_dir })?
            .with_progress(std::io::IsTerminal::is_terminal(&std::io::stderr()));
        let request = RunRequest {
            component,
            policy: guest_policy,
            args,
            capture_output: false,
            guard: GuardConfig {
                resolver: Arc::new(SystemResolver::with_overrides(resolve)),
                dialer: Arc::new(TcpDialer),
                audit,
                bus: Default::default(),
                enforcement,
            },
        };
        tokio::spawn(async move { runtime.run(request).await })
            .await
            .context("the guest's task ended abnormally")?
    });
    tokio.shutdown_background();
    match result {
        Ok(outcome) => {
            match (&outcome.status, &outcome.trap_detail) {
                (ExitStatus::Exited(_) | ExitStatus::StdoutClosed, _) => {}
                (ExitStatus::Trapped(_), Some(detail)) if verbose => {
                    eprintln!("sandnet: {}\n{detail}", outcome.status);
                }
                (ExitStatus::Trapped(_), _) => eprintln!(
                    "sandnet: {} (the wasm backtrace: sandnet run -v, or RUST_BACKTRACE=1)",
                    outcome.status
                ),
                (status, _) => eprintln!("sandnet: {status}"),
            }
            exit::of_guest(outcome.status.code())
        }
        Err(err) if err.is::<PolicyRefError>() => fail(Code::Policy, &err),
        Err(err) => fail(Code::HostFailure, &err),
    }
}
