//! `sandnet policy`: check (with `--within`), diff and suggest — reviewing what a policy grants.

use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use sandnet_policy::algebra::{self, GuestDiff, Witness};
use sandnet_policy::suggest::{self, Observation};

use super::{Format, load_policy};
use crate::exit::Code;

/// Review policies: containment, differences, and suggestions from an audit log.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Check(CheckArgs),
    Diff(DiffArgs),
    Suggest(SuggestArgs),
}

/// Validate a policy (as `sandnet check`) and, with --within, prove it grants
/// nothing outside a maximum policy.
///
/// Each guest of POLICY is compared with the guest of the same name in MAX
/// (or MAX's only guest). Exits 0 when valid and within MAX; 1 with a
/// witness target POLICY allows and MAX refuses; 78 when a file is unusable.
///
/// Example: sandnet policy check --within max.toml policy.toml
#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// The maximum policy.
    #[arg(long, value_name = "MAX.toml")]
    within: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The policy file.
    policy: PathBuf,
}

/// Show, per guest, every capability NEW grants that OLD does not (and the
/// reverse), each with a concrete witness target.
///
/// Exits 0 when both grant exactly the same, 1 when they differ, 78 when a
/// file is unusable.
///
/// Example: sandnet policy diff old.toml new.toml
#[derive(Debug, clap::Args)]
struct DiffArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The policy before the change.
    old: PathBuf,
    /// The policy after the change.
    new: PathBuf,
}

/// Print the smallest allow list that grants everything an audit log saw
/// (allowed, denied and would-deny), per guest, as TOML to paste.
///
/// Record the log with `sandnet run --report-only --audit FILE`. Paths stay
/// exact unless more than 3 distinct ones share a directory (then `DIR/*`);
/// methods are those seen. Exits 0; 65 when the log cannot be read.
///
/// Example: sandnet policy suggest audit.jsonl --guest feeds
#[derive(Debug, clap::Args)]
struct SuggestArgs {
    /// Only this guest's events.
    #[arg(long, short = 'g', value_name = "NAME")]
    guest: Option<String>,
    /// Output format: `toml` (ready to paste) or `json`.
    #[arg(long, value_name = "FORMAT", default_value = "toml", value_parser = ["toml", "json"])]
    format: String,
    /// The audit log (JSON lines from --audit).
    audit: PathBuf,
}

pub(super) fn exec(args: &Args) -> ExitCode {
    match &args.command {
        Command::Check(a) => check(a),
        Command::Diff(a) => diff(a),
        Command::Suggest(a) => suggest_cmd(a),
    }
}

fn check(args: &CheckArgs) -> ExitCode {
    let policy = match load_policy(&args.policy) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let report = super::check::report(&policy);
    let Some(max_path) = &args.within else {
        super::check::print(&report, args.format);
        return ExitCode::SUCCESS;
    };
    let max = match load_policy(max_path) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let outside = algebra::outside(&max, &policy);
    match args.format {
        Format::Json => {
            let doc = serde_json::json!({
                "check": report,
                "within": max.source(),
                "ok": outside.is_empty(),
                "outside": outside,
            });
            println!("{doc}");
        }
        Format::Text => {
            super::check::print(&report, Format::Text);
            if outside.is_empty() {
                println!(
                    "{}: within {}: it grants nothing {} does not",
                    policy.source(),
                    max.source(),
                    max.source()
                );
            }
            for d in &outside {
                println!(
                    "{}: guest \"{}\" grants what {} does not:",
                    policy.source(),
                    d.guest,
                    max.source()
                );
                print_witnesses(&d.added, policy.source(), max.source(), "+");
            }
        }
    }
    if outside.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(Code::Denied)
    }
}

fn diff(args: &DiffArgs) -> ExitCode {
    let (old, new) = match (load_policy(&args.old), load_policy(&args.new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let diffs: Vec<GuestDiff> = algebra::diff(&old, &new)
        .into_iter()
        .filter(|d| !d.is_empty())
        .collect();
    match args.format {
        Format::Json => {
            let doc = serde_json::json!({
                "old": old.source(),
                "new": new.source(),
                "same": diffs.is_empty(),
                "guests": diffs,
            });
            println!("{doc}");
        }
        Format::Text if diffs.is_empty() => println!(
            "{} and {} grant exactly the same",
            old.source(),
            new.source()
        ),
        Format::Text => {
            for d in &diffs {
                for (what, witnesses, by, other, sign) in [
                    ("grants", &d.added, new.source(), old.source(), "+"),
                    (
                        "no longer grants",
                        &d.removed,
                        old.source(),
                        new.source(),
                        "-",
                    ),
                ] {
                    if witnesses.is_empty() {
                        continue;
                    }
                    let (subject, object) = if sign == "+" {
                        (by, other)
                    } else {
                        (other, by)
                    };
                    println!(
                        "guest \"{}\": {subject} {what} what {object} {}:",
                        d.guest,
                        if sign == "+" { "does not" } else { "did" }
                    );
                    print_witnesses(witnesses, by, other, sign);
                }
            }
        }
    }
    if diffs.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(Code::Denied)
    }
}

/// One witness per line, `SIGN TARGET`, then the granting rule and the refusal.
fn print_witnesses(witnesses: &[Witness], granted_in: &str, refused_in: &str, sign: &str) {
    let mut out = std::io::stdout().lock();
    for w in witnesses {
        let _ = writeln!(
            out,
            "  {sign} {w}\n      allowed by {granted_in}:{}: {}\n      refused by {refused_in}: {}",
            w.line, w.rule, w.refused
        );
    }
}

fn suggest_cmd(args: &SuggestArgs) -> ExitCode {
    let observations = match read_audit(&args.audit, args.guest.as_deref()) {
        Ok(o) => o,
        Err(err) => {
            eprintln!("sandnet: {err}");
            return ExitCode::from(Code::DataError);
        }
    };
    let (suggestions, unreadable) = suggest::suggest(&observations);
    for u in &unreadable {
        eprintln!(
            "sandnet: skipped target {:?} of {}: {}",
            u.target,
            args.audit.display(),
            u.reason
        );
    }
    if suggestions.is_empty() {
        eprintln!(
            "sandnet: {} holds no network decision{}; record one with `sandnet run --report-only --audit FILE`",
            args.audit.display(),
            args.guest
                .as_deref()
                .map(|g| format!(" of guest \"{g}\""))
                .unwrap_or_default()
        );
    }
    if args.format == "json" {
        println!("{}", serde_json::json!({ "guests": suggestions }));
    } else {
        print!("{}", suggest::to_toml(&suggestions));
    }
    ExitCode::SUCCESS
}

/// Events whose target names a grant: requests, connections, sockets, bus actions.
const EVENTS: &[&str] = &[
    "request",
    "connect",
    "resolve",
    "wasi-socket",
    "publish",
    "reply",
    "subscribe",
];

/// The observations of an audit log: every allow, deny or would-deny event
/// of [`EVENTS`] (of `guest` only, if given), with the address a name was
/// seen reaching (connected to, or resolved to when refused).
fn read_audit(path: &PathBuf, guest: Option<&str>) -> anyhow::Result<Vec<Observation>> {
    use anyhow::Context;
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read audit log {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read audit log {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let ev: serde_json::Value = serde_json::from_str(&line).with_context(|| {
            format!(
                "{}:{}: not an audit line (expected one JSON object per line, as --audit writes)",
                path.display(),
                i + 1
            )
        })?;
        let text = |key: &str| ev.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let (Some(name), Some(event), Some(decision), Some(target)) = (
            text("guest"),
            text("event"),
            text("decision"),
            text("target"),
        ) else {
            continue;
        };
        let counted = matches!(decision.as_str(), "allow" | "deny" | "would-deny");
        if !counted || !EVENTS.contains(&event.as_str()) || guest.is_some_and(|g| g != name) {
            continue;
        }
        let address: Vec<IpAddr> = if decision == "allow" {
            text("connected")
                .and_then(|c| c.parse::<std::net::SocketAddr>().ok())
                .map(|a| a.ip())
                .into_iter()
                .collect()
        } else {
            ev.get("resolved")
                .and_then(|r| r.as_array())
                .map(|r| r.iter().filter_map(|v| v.as_str()?.parse().ok()).collect())
                .unwrap_or_default()
        };
        let method = text("method");
        let connection = matches!(event.as_str(), "connect" | "resolve");
        if address.is_empty() && !connection {
            out.push(Observation {
                guest: name,
                target,
                method,
                address: None,
                connection,
            });
            continue;
        }
        for ip in address {
            out.push(Observation {
                guest: name.clone(),
                target: target.clone(),
                method: method.clone(),
                address: Some(ip),
                connection,
            });
        }
    }
    Ok(out)
}
