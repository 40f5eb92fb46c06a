//! sandnet: run untrusted WebAssembly components whose only way to the network is
//! the host, and only where a policy file allows.
//!
//! The pieces, in the order a call travels: [`runtime`] instantiates the guest;
//! [`net`] implements the `sandnet:net` imports; every connection goes through
//! [`guard`], which consults the pure policy engine ([`sandnet_policy`]) and
//! writes the [`audit`] log.

#![deny(missing_docs)]

pub mod audit;
pub mod bindings;
pub mod cli;
pub mod error;
pub mod exit;
pub mod fleet;
pub mod guard;
pub mod metrics;
pub mod net;
pub mod runtime;
pub mod scaffold;
pub mod state;
pub mod wit;

pub use runtime::{ExitStatus, RunOutcome, RunRequest, Runtime, RuntimeConfig};
pub use sandnet_policy as policy;
