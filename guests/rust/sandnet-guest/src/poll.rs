//! Waiting on several resources at once, over `wasi:io/poll`.
//!
//! Every resource of this crate that can make a caller wait has a
//! `subscribe()` returning a [`Pollable`]: HTTP responses and uploads,
//! WebSocket connections and listeners, event streams, TCP streams and
//! listeners, UDP sockets. [`wait_any`] blocks until at least one is ready.
//!
//! ```no_run
//! use sandnet_guest::poll::wait_any;
//! use sandnet_guest::tcp::TcpListener;
//!
//! # fn main() -> sandnet_guest::Result<()> {
//! let listener = TcpListener::bind("tcp-listen://127.0.0.1:0")?;
//! let mut stream = listener.accept()?;
//! let ready = {
//!     // A pollable is a child of its resource: drop it before the resource.
//!     let pollables = [listener.subscribe(), stream.subscribe()];
//!     wait_any(&pollables.iter().collect::<Vec<_>>())
//! };
//! if ready.contains(&1) {
//!     let data = stream.read(64 * 1024)?;
//!     println!("{} bytes", data.len());
//! }
//! # Ok(())
//! # }
//! ```

pub use crate::bindings::wasi::io::poll::Pollable;

use crate::bindings::wasi::io::poll;

/// Waits until at least one of `pollables` is ready; returns the indexes of
/// the ready ones (`wasi:io/poll.poll`).
pub fn wait_any(pollables: &[&Pollable]) -> Vec<usize> {
    poll::poll(pollables)
        .into_iter()
        .map(|i| i as usize)
        .collect()
}
