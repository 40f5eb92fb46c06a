//! The sandnet policy engine: parse policy files, match network targets, explain decisions.
//!
//! Pure: no I/O beyond reading the policy file, no async runtime, no wasm engine.
//! The host asks two questions per connection — [`GuestPolicy::check`] for the
//! request (scheme, host, port, path, method) and [`GuestPolicy::check_address`]
//! for every address the host resolved — and gets a [`Decision`] that names the
//! rule, or a [`Denial`] that names the reason and the rule that would allow it.
//! Standard `wasi:sockets` and UDP sockets have their own walks
//! ([`GuestPolicy::check_socket_addr`], [`GuestPolicy::grants_lookup`],
//! [`GuestPolicy::check_bind`], [`GuestPolicy::check_accept`],
//! [`GuestPolicy::check_udp_sender`]); every allow/deny walk lives here.
//! A guest sees a denial through [`GuestPolicy::guest_denial`], never the
//! addresses its names resolved to.
//!
//! ```
//! use sandnet_policy::{Policy, Target};
//!
//! let policy = Policy::parse(
//!     r#"
//!     [guest.feeds]
//!     allow = ["https://api.example.com/v1/*"]
//!     deny = ["https://api.example.com/v1/admin/*"]
//!     "#,
//!     "policy.toml",
//! )?;
//! let guest = policy.guest(None)?;
//! let ok = Target::parse("https://api.example.com/v1/data")?;
//! assert!(guest.check(&ok).is_allowed());
//! let admin = Target::parse("https://api.example.com/v1/../v1/admin/users")?;
//! assert!(!guest.check(&admin).is_allowed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    test,
    allow(
        clippy::panic,
        reason = "a failing table-driven test panics with the case it failed on"
    )
)]

mod addr;
pub mod algebra;
mod bus;
mod decision;
mod enforcement;
mod error;
mod file;
mod guest;
mod host;
mod limits;
mod lint;
mod mqtt;
pub mod path;
mod pin;
mod ports;
mod program;
mod rule;
mod scheme;
mod secret;
mod socket;
pub mod suggest;
mod target;

pub use addr::{AddressClass, canonical_ip, canonical_net, classify, embedded_ipv4};
pub use bus::{BusAction, BusRule, MAX_SUBJECT_BYTES, Subject, SubjectError, Token, split_bus_url};
pub use decision::{Decision, Denial, DenialDetail, RuleList, RuleRef};
pub use enforcement::{Enforcement, Judged};
pub use error::{PolicyError, RuleError, TargetError};
pub use file::Policy;
pub use guest::{DEFAULT_CACHE_BYTES, GuestPolicy};
pub use host::{Host, HostPattern};
pub use limits::{Limit, LimitKind, Limits, parse_duration, parse_size};
pub use lint::Lint;
pub use mqtt::{Level, MAX_TOPIC_BYTES, MqttAction, TopicError, TopicFilter};
pub use path::PathPattern;
pub use pin::Pin;
pub use ports::PortPattern;
pub use program::{Backoff, MAX_INSTANCES, Program, Restart};
pub use rule::Rule;
pub use scheme::Scheme;
pub use secret::{SecretFormat, SecretHeader, SecretSource, secret_header_name};
pub use socket::IMPLICIT_BIND_LINE;
pub use target::{Target, canonical_method};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_credentials;
