//! `sandnet:net/tcp` wrappers: to be written with the host's tcp support; use
//! [`crate::bindings`] directly until then.
