//! `{{name}} URL`: GET one URL through sandnet and print the status and body.
//!
//! Build: cargo build --release --target wasm32-wasip2
//! Run:   sandnet run target/wasm32-wasip2/release/{{name}}.wasm --policy policy.toml -- URL

wit_bindgen::generate!({
    path: "wit",
    world: "imports",
    // The world also imports wasi:cli, clocks, random and io: generate those too.
    generate_all,
});

use sandnet::net::http::{self, Method, Request};
use sandnet::net::types::NetError;

fn main() {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: {{name}} URL");
        wasi::cli::exit::exit_with_code(2);
        return;
    };
    let request = Request {
        method: Method::Get,
        url,
        headers: Vec::new(),
        body: None,
    };
    match http::fetch(&request, None) {
        Ok(response) => {
            println!("{}", response.status);
            println!("{}", String::from_utf8_lossy(&response.body));
        }
        Err(NetError::Denied(denial)) => {
            eprintln!("{{name}}: denied: {}", denial.reason);
            if let Some(line) = denial.suggestion {
                eprintln!("hint: add to the policy's allow list: {line}");
            }
            wasi::cli::exit::exit_with_code(1);
        }
        Err(err) => {
            eprintln!("{{name}}: {err:?}");
            wasi::cli::exit::exit_with_code(1);
        }
    }
}
