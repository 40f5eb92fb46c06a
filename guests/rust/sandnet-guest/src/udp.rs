//! `sandnet:net/udp` wrappers: to be written with the host's udp support; use
//! [`crate::bindings`] directly until then.
