//! `sandnet check`: validates a policy file and warns about over-broad rules.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{check_refs, load_policy};

/// Validate a policy file and warn about over-broad rules.
///
/// Exits 0 when the file is valid (warnings included), 78 with the file,
/// line and offending value when it is not — including a `ca_bundle` or a
/// secret source (`env`, `file`) that `sandnet run` could not read.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The policy file.
    policy: PathBuf,
}

pub(super) fn exec(args: &Args) -> ExitCode {
    let policy = match load_policy(&args.policy) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = check_refs(policy.guests()) {
        return code;
    }
    let lints = policy.lint();
    for lint in &lints {
        println!("{}:{}: warning: {}", policy.source(), lint.line, lint);
    }
    let mut missing = 0;
    for guest in policy.guests() {
        let Some(program) = &guest.program else {
            continue;
        };
        if !program.component.is_file() {
            missing += 1;
            println!(
                "{}: warning: [guest.{}] component {} does not exist yet; `sandnet up` will report it at each start",
                policy.source(),
                guest.name,
                program.component.display()
            );
        }
    }
    let names = policy.guest_names();
    println!(
        "{}: ok ({} guest{}: {}; {} warning{})",
        policy.source(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        lints.len() + missing,
        if lints.len() + missing == 1 { "" } else { "s" },
    );
    ExitCode::SUCCESS
}
