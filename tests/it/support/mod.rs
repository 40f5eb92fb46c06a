//! Shared pieces of sandnet's integration tests, one module per concern:
//! loopback [`servers`], real brokers ([`daemons`]), the test CA ([`tls`]), running [`guests`] (CLI,
//! background, library), [`policy`] files, a [`recording`] dialer and audit
//! log for library runs, a resumable-upload server ([`tus`]), and the
//! [`assertions`] every test uses.

pub mod assertions;
pub mod daemons;
pub mod guests;
pub mod policy;
pub mod recording;
pub mod servers;
pub mod tls;
pub mod tus;
