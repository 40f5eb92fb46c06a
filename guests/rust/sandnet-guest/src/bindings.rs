//! Raw bindings of the `sandnet:net` world `imports`, generated from `wit/`.
//!
//! This is the crate's one `wit_bindgen::generate!`. Prefer the wrappers
//! ([`crate::http`], [`crate::Error`]); reach in here for interfaces not wrapped
//! yet, e.g. `bindings::sandnet::net::websocket` or `bindings::wasi::io::poll`.
#![allow(
    missing_docs,
    reason = "generated code: WIT items without doc comments have none to carry over"
)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "imports",
    // The world also imports the wasi:cli/clocks/random/io interfaces, which
    // no other crate generates for us.
    generate_all,
});
