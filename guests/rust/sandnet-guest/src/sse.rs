//! `sandnet:net/sse` wrappers: to be written with the host's sse support; use
//! [`crate::bindings`] directly until then.
