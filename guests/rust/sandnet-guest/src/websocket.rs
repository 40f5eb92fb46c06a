//! `sandnet:net/websocket` wrappers: to be written with the host's websocket support; use
//! [`crate::bindings`] directly until then.
