//! The `sandnet` command line: a thin clap layer over [`crate::runtime`], the
//! policy engine and [`crate::scaffold`], one file per subcommand. Exit statuses
//! come from [`crate::exit`].

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sandnet_policy::{GuestPolicy, Policy};

use crate::exit::Code;

mod check;
mod explain;
mod new;
mod pin;
mod policy;
mod run;
mod status;
mod up;
mod wit;

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
    Run(run::Args),
    Up(up::Args),
    Check(check::Args),
    Explain(explain::Args),
    Wit(wit::Args),
    New(new::Args),
    Pin(pin::Args),
    Status(status::Args),
    Policy(policy::Args),
}

/// How `check`, `explain` and `policy` print their results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// For people.
    Text,
    /// One JSON object (shapes in docs/policy.md).
    Json,
}

/// Entry point of the `sandnet` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match cli.command {
        Command::Run(args) => run::exec(args),
        Command::Up(args) => up::exec(args),
        Command::Check(args) => check::exec(&args),
        Command::Explain(args) => explain::exec(&args),
        Command::Wit(args) => wit::exec(&args),
        Command::New(args) => new::exec(&args),
        Command::Pin(args) => pin::exec(&args),
        Command::Status(args) => status::exec(&args),
        Command::Policy(args) => policy::exec(&args),
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

/// Reports `err` on stderr and exits with `code`.
fn fail(code: Code, err: &anyhow::Error) -> ExitCode {
    eprintln!("sandnet: {err:#}");
    ExitCode::from(code)
}

/// Reads the policy file; an unusable one is reported and exits [`Code::Policy`].
fn load_policy(path: &Path) -> Result<Policy, ExitCode> {
    Policy::from_file(path).map_err(|err| {
        eprintln!("sandnet: {err}");
        ExitCode::from(Code::Policy)
    })
}

/// Reads what the guests' policies name outside themselves (CA bundles,
/// secret sources), as a run would; the first unusable one is reported with
/// its policy line and exits [`Code::Policy`].
fn check_refs<'p>(guests: impl IntoIterator<Item = &'p GuestPolicy>) -> Result<(), ExitCode> {
    for guest in guests {
        if let Err(err) = crate::net::common::refs::check(guest) {
            eprintln!("sandnet: {err}");
            return Err(ExitCode::from(Code::Policy));
        }
    }
    Ok(())
}

/// The `[guest.NAME]` table `name` picks (optional with one guest); a missing or
/// ambiguous one is reported and exits [`Code::Policy`].
fn select_guest<'p>(policy: &'p Policy, name: Option<&str>) -> Result<&'p GuestPolicy, ExitCode> {
    policy.guest(name).map_err(|err| {
        eprintln!("sandnet: {err}");
        ExitCode::from(Code::Policy)
    })
}
