//! Idiomatic Rust API for guests of sandnet, over the `sandnet:net` WIT imports.
//!
//! A guest is a plain `fn main` program built for `wasm32-wasip2`; it reaches the
//! network only through these imports, and every call is checked by the host
//! against the guest's policy. A refused call is an ordinary [`Error`] value
//! ([`Error::Denied`]) carrying the reason and the policy line that would allow it.
//!
//! ```no_run
//! use sandnet_guest::http::Request;
//!
//! fn main() -> Result<(), sandnet_guest::Error> {
//!     let response = Request::get("https://api.example.com/v1/status")
//!         .header("accept", "application/json")
//!         .timeout_ms(10_000)
//!         .fetch()?;
//!     println!("{} {}", response.status(), response.text());
//!     Ok(())
//! }
//! ```
//!
//! One module per protocol: [`http`], [`websocket`], [`sse`], [`tcp`], [`udp`], [`bus`], [`mqtt`];
//! [`poll`] waits on several of their resources at once, [`rt`] runs async
//! code (several requests and sockets at once), [`Error`] is the
//! `net-error` every call can fail with, [`process`] ends the run with a status.
//! The raw bindings of the whole world (and the WASI CLI basics) are in
//! [`bindings`].
#![deny(missing_docs)]

pub mod bindings;
pub mod bus;
mod error;
pub mod http;
pub mod mqtt;
pub mod poll;
pub mod process;
pub mod rt;
pub mod sse;
pub mod tcp;
pub mod udp;
pub mod websocket;

pub use error::{Error, Result, TimeoutKind};
