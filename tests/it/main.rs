//! sandnet's integration tests, linked as one binary: one module per
//! interface or command (`http` = `sandnet:net/http`, `wasi_http` = standard
//! `wasi:http`, ...) and the shared [`support`].
//!
//! Guests come from `target/guests` (scripts/build-guests.sh); servers bind
//! 127.0.0.1:0 and reach the guest through its arguments.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failed expectation is a failed test"
)]

mod support;

mod audit;
mod bus;
mod cli;
mod conformance;
mod differential;
mod guests;
mod http;
mod metrics;
mod mqtt;
mod pins;
mod policy_workflow;
mod reload;
mod runtime;
mod secrets;
mod sse;
mod tcp;
mod udp;
mod up;
mod wasi_http;
mod wasi_sockets;
mod websocket;
