//! `{{name}} URL`: GET one URL through sandnet and print the status and body.
//!
//! Build: cargo build --release --target wasm32-wasip2
//! Run:   sandnet run target/wasm32-wasip2/release/{{name}}.wasm --policy policy.toml -- URL
//!
//! `sandnet-guest/` is the guest library (http, websocket, sse, tcp, udp, bus,
//! and `rt` for async code); `cargo doc --open -p sandnet-guest` shows its API.

use std::process::ExitCode;

use sandnet_guest::http::Request;

fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: {{name}} URL");
        return ExitCode::from(2);
    };
    match Request::get(url).timeout_ms(10_000).fetch() {
        Ok(response) => {
            println!("{}", response.status());
            println!("{}", response.text());
            ExitCode::SUCCESS
        }
        // A denial prints the reason and the policy line that would allow it.
        Err(err) => {
            eprintln!("{{name}}: {err}");
            ExitCode::FAILURE
        }
    }
}
