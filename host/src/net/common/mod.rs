//! Pieces every protocol shares: the wire form of a checked target, guest header
//! rules, TLS, the tighten-only option rule and the inbox that hands a
//! connection task's output to the guest.

pub mod headers;
pub mod inbox;
pub mod options;
pub mod tls;
pub mod wire;
