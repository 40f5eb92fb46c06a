//! `sandnet check`: validates a policy file and warns about over-broad rules.

use std::path::PathBuf;
use std::process::ExitCode;

use sandnet_policy::Policy;
use serde::Serialize;

use super::{Format, check_refs, load_policy};

/// Validate a policy file and warn about over-broad rules.
///
/// Exits 0 when the file is valid (warnings included), 78 with the file,
/// line and offending value when it is not — including a `ca_bundle` or a
/// secret source (`env`, `file`) that `sandnet run` could not read.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Output format (`json`: one object with the guests and warnings).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The policy file.
    policy: PathBuf,
}

/// What `check` found in a valid policy file.
#[derive(Debug, Serialize)]
pub(super) struct Report {
    /// The file.
    source: String,
    /// Its guests, in file order.
    guests: Vec<String>,
    /// Lints and missing components.
    warnings: Vec<Warning>,
}

/// One warning: the line it is about (none for a whole guest) and the message.
#[derive(Debug, Serialize)]
struct Warning {
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    message: String,
}

pub(super) fn exec(args: &Args) -> ExitCode {
    let policy = match load_policy(&args.policy) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = check_refs(policy.guests()) {
        return code;
    }
    print(&report(&policy), args.format);
    ExitCode::SUCCESS
}

/// The lints of a valid `policy` and the components it names that are missing.
pub(super) fn report(policy: &Policy) -> Report {
    let mut warnings: Vec<Warning> = policy
        .lint()
        .iter()
        .map(|lint| Warning {
            line: Some(lint.line),
            message: lint.to_string(),
        })
        .collect();
    for guest in policy.guests() {
        let Some(program) = &guest.program else {
            continue;
        };
        if !program.component.is_file() {
            warnings.push(Warning {
                line: None,
                message: format!(
                    "[guest.{}] component {} does not exist yet; `sandnet up` will report it at each start",
                    guest.name,
                    program.component.display()
                ),
            });
        }
    }
    Report {
        source: policy.source().to_owned(),
        guests: policy
            .guest_names()
            .iter()
            .map(|n| (*n).to_owned())
            .collect(),
        warnings,
    }
}

/// Prints `report` on stdout in `format`.
pub(super) fn print(report: &Report, format: Format) {
    if format == Format::Json {
        let doc = serde_json::json!({ "ok": true, "check": report });
        println!("{doc}");
        return;
    }
    for w in &report.warnings {
        match w.line {
            Some(line) => println!("{}:{line}: warning: {}", report.source, w.message),
            None => println!("{}: warning: {}", report.source, w.message),
        }
    }
    let (names, warnings) = (&report.guests, report.warnings.len());
    println!(
        "{}: ok ({} guest{}: {}; {} warning{})",
        report.source,
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        warnings,
        if warnings == 1 { "" } else { "s" },
    );
}
