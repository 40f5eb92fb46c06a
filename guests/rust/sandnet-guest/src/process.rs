//! Process control the Rust standard library does not offer on `wasm32-wasip2`.

use std::io::Write;

use crate::bindings::wasi::cli::exit;

/// Exits with status `code`, flushing stdout and stderr first.
///
/// `std::process::exit` on `wasm32-wasip2` reports any nonzero code as 1
/// (it calls `wasi:cli/exit.exit` with a bare error); this calls
/// `wasi:cli/exit.exit-with-code` so the host sees the exact code.
pub fn exit(code: u8) -> ! {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    exit::exit_with_code(code);
    // The import does not return; should a host return anyway, fall back to std.
    std::process::exit(i32::from(code))
}
