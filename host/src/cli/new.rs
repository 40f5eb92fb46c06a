//! `sandnet new`: creates a guest project through [`crate::scaffold`].

use std::path::PathBuf;
use std::process::ExitCode;

use super::fail;
use crate::exit::Code;
use crate::scaffold::{self, Lang, ScaffoldError};

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
///   python  python3; build.sh installs componentize-py 0.25.1 once per machine
///           (into ~/.cache/sandnet/toolchains).
///   js      node and npm; build.sh installs componentize-js 0.23.0.
///   c       clang, lld, wasi-libc, libclang-rt-dev-wasm32 (Debian), and
///           `cargo install --locked wit-bindgen-cli@0.63.0 wasm-tools@1.263.0`.
///
/// Example: sandnet new --lang rust demo && cd demo && cargo build --release --target wasm32-wasip2
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(super) struct Args {
    /// The guest's language.
    #[arg(long, short = 'l', value_enum)]
    lang: Lang,
    /// The project directory; its name (lowercase letters, digits, `-`, `_`)
    /// names the guest.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

pub(super) fn exec(args: &Args) -> ExitCode {
    match scaffold::create(args.lang, &args.dir) {
        Ok(created) => {
            print!("{created}");
            ExitCode::SUCCESS
        }
        Err(err @ ScaffoldError::Io { .. }) => fail(Code::HostFailure, &err.into()),
        Err(err) => fail(Code::Usage, &err.into()),
    }
}
