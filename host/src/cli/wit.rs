//! `sandnet wit`: prints the embedded `sandnet:net` WIT package, or writes it
//! with its WASI dependencies into a directory.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::fail;
use crate::exit::Code;
use crate::wit::{self, WIT_FILES};

/// Print the `sandnet:net` WIT package, or write it (with its WASI
/// dependencies) into a directory for a guest's build.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Directory to write `*.wit` and `deps/` into.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub(super) fn exec(args: &Args) -> ExitCode {
    match write(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(Code::HostFailure, &err),
    }
}

fn write(args: &Args) -> anyhow::Result<()> {
    let Some(dir) = &args.out else {
        let mut stdout = std::io::stdout().lock();
        for (name, text) in WIT_FILES {
            writeln!(stdout, "// ---- {name}\n{text}")?;
        }
        return Ok(());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (file, text) in wit::files() {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!("wrote the sandnet:net WIT package to {}", dir.display());
    Ok(())
}
