//! The `sandnet` command line: a thin clap layer over [`crate::runtime`] and the policy engine.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sandnet_policy::{Decision, Policy, Target};

use crate::audit::Audit;
use crate::guard::{GuardConfig, SystemResolver, TcpDialer};
use crate::runtime::{RunRequest, Runtime, RuntimeConfig, default_cache_dir};

/// Exit status for an unusable policy file (EX_CONFIG).
pub const EXIT_POLICY: u8 = 78;
/// Exit status when the host itself failed (EX_OSERR): unreadable component, I/O error.
pub const EXIT_HOST: u8 = 71;

/// Run untrusted WebAssembly components with network access only where a policy allows.
///
/// A guest is a WebAssembly component that imports the `sandnet:net` interfaces
/// (print them with `sandnet wit`). Everything is denied unless the policy file
/// grants it; see docs/policy.md for the rule forms.
#[derive(Debug, Parser)]
#[command(
    name = "sandnet",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a guest component under a policy.
    ///
    /// The guest's stdout and stderr pass through, and sandnet exits with the
    /// guest's own exit status. Other statuses: 124 the guest ran past its
    /// wall_time limit; 125 it outgrew its memory limit; 70 it trapped;
    /// 78 the policy file is unusable; 71 sandnet itself failed (e.g. the
    /// component cannot be read).
    ///
    /// Example: sandnet run target/guests/rust-http-get.wasm --policy policy.toml -- http://127.0.0.1:8080/ok
    Run {
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
        /// Answer lookups of NAME with IP instead of asking DNS (like curl's
        /// --resolve). The address is still checked against the policy. Repeatable.
        #[arg(long, value_name = "NAME=IP", value_parser = parse_resolve)]
        resolve: Vec<(String, IpAddr)>,
        /// Compile the component even if a cached compilation exists, and do not
        /// write the cache.
        #[arg(long)]
        no_cache: bool,
        /// Arguments passed to the guest (after `--`).
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Validate a policy file and warn about over-broad rules.
    ///
    /// Exits 0 when the file is valid (warnings included), 78 with the file,
    /// line and offending value when it is not.
    Check {
        /// The policy file.
        policy: PathBuf,
    },
    /// Tell whether a target is allowed, by which rule, or which line would allow it.
    ///
    /// TARGET is a URL (`https://api.example.com/v1/x`, `tcp://db:5432`),
    /// optionally preceded by a method (`"POST https://api.example.com/v1/x"`).
    /// Exits 0 when allowed, 1 when denied.
    Explain {
        /// The policy file.
        #[arg(long, short = 'p', value_name = "FILE")]
        policy: PathBuf,
        /// Which guest's table to use (optional with one guest).
        #[arg(long, short = 'g', value_name = "NAME")]
        guest: Option<String>,
        /// Also check these resolved addresses of the target's host, as the
        /// guard does after DNS. Repeatable.
        #[arg(long, value_name = "IP")]
        address: Vec<IpAddr>,
        /// The target, e.g. "GET https://api.example.com/v1/items".
        target: String,
    },
    /// Print the `sandnet:net` WIT package, or write it (with its WASI
    /// dependencies) into a directory for a guest's build.
    Wit {
        /// Directory to write `*.wit` and `deps/` into.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Create a guest project that builds to a component with one command.
    ///
    /// Writes DIR (a new or empty directory; its name is the guest's name) with
    /// a starter guest that GETs the URL it is given, the `sandnet:net` WIT in
    /// `wit/`, and a `policy.toml` granting http://127.0.0.1:8080/ and nothing
    /// else. Then prints the one command that builds the component and the
    /// `sandnet run` line that runs it.
    ///
    /// Languages and what the build needs:
    ///   rust    cargo with the wasm32-wasip2 target; depends on wit-bindgen 0.63.
    ///   python  python3; build.sh installs componentize-py 0.25.1 into .venv.
    ///   js      node and npm; build.sh installs componentize-js 0.23.0.
    ///   c       clang, lld, wasi-libc, libclang-rt-dev-wasm32 (Debian), and
    ///           `cargo install --locked wit-bindgen-cli@0.63.0 wasm-tools@1.263.0`.
    ///
    /// Example: sandnet new --lang rust demo && cd demo && cargo build --release --target wasm32-wasip2
    #[command(verbatim_doc_comment)]
    New {
        /// The guest's language.
        #[arg(long, short = 'l', value_enum)]
        lang: crate::scaffold::Lang,
        /// The project directory; its name (lowercase letters, digits, `-`, `_`)
        /// names the guest.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

fn parse_resolve(text: &str) -> Result<(String, IpAddr), String> {
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

/// Entry point of the `sandnet` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match cli.command {
        Command::Run {
            component,
            policy,
            guest,
            audit,
            resolve,
            no_cache,
            args,
        } => run(
            component,
            &policy,
            guest.as_deref(),
            audit.as_deref(),
            resolve,
            no_cache,
            args,
        ),
        Command::Check { policy } => check(&policy),
        Command::Explain {
            policy,
            guest,
            address,
            target,
        } => explain(&policy, guest.as_deref(), &address, &target),
        Command::Wit { out } => match wit(out.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => fail(EXIT_HOST, &err),
        },
        Command::New { lang, dir } => match crate::scaffold::create(lang, &dir) {
            Ok(created) => {
                print!("{created}");
                ExitCode::SUCCESS
            }
            Err(err @ crate::scaffold::ScaffoldError::Io { .. }) => fail(EXIT_HOST, &err.into()),
            Err(err) => fail(2, &err.into()),
        },
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SANDNET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .try_init();
}

fn fail(code: u8, err: &anyhow::Error) -> ExitCode {
    eprintln!("sandnet: {err:#}");
    ExitCode::from(code)
}

fn load_policy(path: &Path) -> Result<Policy, ExitCode> {
    Policy::from_file(path).map_err(|err| {
        eprintln!("sandnet: {err}");
        ExitCode::from(EXIT_POLICY)
    })
}

fn open_audit(spec: Option<&str>) -> anyhow::Result<Audit> {
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

fn run(
    component: PathBuf,
    policy_path: &Path,
    guest: Option<&str>,
    audit: Option<&str>,
    resolve: Vec<(String, IpAddr)>,
    no_cache: bool,
    args: Vec<String>,
) -> ExitCode {
    let policy = match load_policy(policy_path) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let guest_policy = match policy.guest(guest) {
        Ok(g) => Arc::new(g.clone()),
        Err(err) => {
            eprintln!("sandnet: {err}");
            return ExitCode::from(EXIT_POLICY);
        }
    };
    let audit = match open_audit(audit) {
        Ok(a) => a,
        Err(err) => return fail(EXIT_HOST, &err),
    };
    let tokio = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => return fail(EXIT_HOST, &err.into()),
    };
    let result = tokio.block_on(async move {
        let cache_dir = if no_cache { None } else { default_cache_dir() };
        let runtime = Runtime::new(RuntimeConfig { cache_dir })?;
        let request = RunRequest {
            component,
            policy: guest_policy,
            args,
            capture_output: false,
            guard: GuardConfig {
                resolver: Arc::new(SystemResolver::with_overrides(resolve)),
                dialer: Arc::new(TcpDialer),
                audit,
            },
        };
        runtime.run(request).await
    });
    tokio.shutdown_background();
    match result {
        Ok(outcome) => {
            let code = outcome.status.code();
            if !matches!(outcome.status, crate::ExitStatus::Exited(_)) {
                eprintln!("sandnet: {}", outcome.status);
            }
            ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1))
        }
        Err(err) => fail(EXIT_HOST, &err),
    }
}

fn check(path: &Path) -> ExitCode {
    let policy = match load_policy(path) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let lints = policy.lint();
    for lint in &lints {
        println!("{}:{}: warning: {}", policy.source(), lint.line, lint);
    }
    let names = policy.guest_names();
    println!(
        "{}: ok ({} guest{}: {}; {} warning{})",
        policy.source(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        lints.len(),
        if lints.len() == 1 { "" } else { "s" },
    );
    ExitCode::SUCCESS
}

fn explain(path: &Path, guest: Option<&str>, addresses: &[IpAddr], text: &str) -> ExitCode {
    let policy = match load_policy(path) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let guest = match policy.guest(guest) {
        Ok(g) => g,
        Err(err) => {
            eprintln!("sandnet: {err}");
            return ExitCode::from(EXIT_POLICY);
        }
    };
    let text = text.trim();
    let (method, url) = match text.split_once(char::is_whitespace) {
        Some((m, u)) => (Some(m), u.trim()),
        None => (None, text),
    };
    let target = match Target::parse(url) {
        Ok(t) => match method {
            Some(m) => t.with_method(m),
            None => t,
        },
        Err(err) => {
            eprintln!("sandnet: {err}");
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout().lock();
    let mut allowed = print_decision(
        &mut stdout,
        &policy,
        guest,
        &target.describe(),
        guest.check(&target),
    );
    // `run` checks an IP literal's connection like any resolved address, so
    // explain does too: both judge the same raw target the same way.
    let literal = target.host.ip().filter(|ip| !addresses.contains(ip));
    for ip in addresses.iter().chain(literal.as_ref()) {
        let label = format!("{target} via {ip}");
        allowed &= print_decision(
            &mut stdout,
            &policy,
            guest,
            &label,
            guest.check_address(&target, *ip),
        );
    }
    if allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_decision(
    out: &mut impl Write,
    policy: &Policy,
    guest: &sandnet_policy::GuestPolicy,
    label: &str,
    decision: Decision,
) -> bool {
    let allowed = matches!(decision, Decision::Allow(_));
    let _ = match decision {
        Decision::Allow(rule) => writeln!(
            out,
            "allowed: {label}\n  by rule at {}:{}: {}",
            policy.source(),
            rule.line,
            rule.text
        ),
        Decision::Deny(denial) => {
            let _ = writeln!(out, "denied: {label}\n  reason: {}", denial.reason);
            if let Some(rule) = &denial.rule {
                let _ = writeln!(
                    out,
                    "  by rule at {}:{}: {}",
                    policy.source(),
                    rule.line,
                    rule.text
                );
            }
            match &denial.suggestion {
                Some(line) => writeln!(
                    out,
                    "  to allow it, add to `allow` in [guest.{}] of {}:\n    {line}",
                    guest.name,
                    policy.source()
                ),
                None => Ok(()),
            }
        }
    };
    allowed
}

/// The `sandnet:net` WIT files, embedded so `sandnet wit` cannot drift from the host.
pub const WIT_FILES: [(&str, &str); 8] = [
    ("types.wit", include_str!("../../wit/types.wit")),
    ("http.wit", include_str!("../../wit/http.wit")),
    ("websocket.wit", include_str!("../../wit/websocket.wit")),
    ("sse.wit", include_str!("../../wit/sse.wit")),
    ("tcp.wit", include_str!("../../wit/tcp.wit")),
    ("udp.wit", include_str!("../../wit/udp.wit")),
    ("world.wit", include_str!("../../wit/world.wit")),
    ("host.wit", include_str!("../../wit/host.wit")),
];

/// The WASI packages the WIT depends on, as `deps/<name>/<name>.wit`.
pub const WIT_DEPS: [(&str, &str); 6] = [
    ("cli", include_str!("../../wit/deps/cli/cli.wit")),
    ("clocks", include_str!("../../wit/deps/clocks/clocks.wit")),
    (
        "filesystem",
        include_str!("../../wit/deps/filesystem/filesystem.wit"),
    ),
    ("io", include_str!("../../wit/deps/io/io.wit")),
    ("random", include_str!("../../wit/deps/random/random.wit")),
    (
        "sockets",
        include_str!("../../wit/deps/sockets/sockets.wit"),
    ),
];

fn wit(out: Option<&Path>) -> anyhow::Result<()> {
    let Some(dir) = out else {
        let mut stdout = std::io::stdout().lock();
        for (name, text) in WIT_FILES {
            writeln!(stdout, "// ---- {name}\n{text}")?;
        }
        return Ok(());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, text) in WIT_FILES {
        std::fs::write(dir.join(name), text)
            .with_context(|| format!("cannot write {}", dir.join(name).display()))?;
    }
    for (name, text) in WIT_DEPS {
        let sub = dir.join("deps").join(name);
        std::fs::create_dir_all(&sub)?;
        std::fs::write(sub.join(format!("{name}.wit")), text)?;
    }
    eprintln!("wrote the sandnet:net WIT package to {}", dir.display());
    Ok(())
}
