//! Pieces every protocol shares: the wire form of a checked target and the
//! header rules for guest-supplied headers.

pub mod headers;
pub mod wire;
