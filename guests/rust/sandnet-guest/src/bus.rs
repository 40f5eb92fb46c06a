//! The message bus over `sandnet:net/bus`: [`publish`], [`subscribe`] to a
//! [`Subscription`], [`request`] and [`reply`], on NATS-style topics
//! (`a.b.c`, `*` one token, `>` the rest) scoped by the guest's policy.
//!
//! ```no_run
//! use sandnet_guest::bus;
//!
//! # fn main() -> sandnet_guest::Result<()> {
//! let commands = bus::subscribe("commands.*")?;
//! bus::publish("telemetry.cpu", b"42")?;
//! let message = commands.next()?;
//! println!("{} {}", message.topic, String::from_utf8_lossy(&message.payload));
//! # Ok(())
//! # }
//! ```

use crate::Result;
use crate::bindings::sandnet::net::bus as wit;
use crate::poll::Pollable;

pub use wit::{Message, Overflow, SubscribeOptions};

/// Publishes `payload` on the concrete `topic` (needs `bus-publish://` or `bus://`).
pub fn publish(topic: &str, payload: &[u8]) -> Result<()> {
    publish_with_headers(topic, payload, &[])
}

/// Publishes with headers.
pub fn publish_with_headers(
    topic: &str,
    payload: &[u8],
    headers: &[(String, String)],
) -> Result<()> {
    Ok(wit::publish(topic, payload, headers)?)
}

/// Subscribes to `pattern` with the default queue (256 messages, drop-oldest).
pub fn subscribe(pattern: &str) -> Result<Subscription> {
    subscribe_with(pattern, None)
}

/// Subscribes with explicit queue options.
pub fn subscribe_with(pattern: &str, options: Option<SubscribeOptions>) -> Result<Subscription> {
    Ok(Subscription {
        raw: wit::subscribe(pattern, options)?,
    })
}

/// Sends a request on `topic` and waits for the first reply, at most
/// `timeout_ms` (default and maximum: the policy's `request_timeout`).
pub fn request(topic: &str, payload: &[u8], timeout_ms: Option<u32>) -> Result<Message> {
    Ok(wit::request(topic, payload, &[], timeout_ms)?)
}

/// Answers `message` (a request received on a subscription); `Ok(false)`
/// when it was not a request (no reply-to).
pub fn reply(message: &Message, payload: &[u8]) -> Result<bool> {
    match &message.reply_to {
        Some(reply_to) => {
            wit::reply(reply_to, payload, &[])?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// A live subscription; dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    raw: wit::Subscription,
}

impl Subscription {
    /// The pattern it was made with.
    pub fn pattern(&self) -> String {
        self.raw.pattern()
    }

    /// Waits for the next message.
    pub fn next(&self) -> Result<Message> {
        Ok(self.raw.next()?)
    }

    /// The next queued message, without waiting.
    pub fn try_next(&self) -> Result<Option<Message>> {
        Ok(self.raw.try_next()?)
    }

    /// Messages dropped so far by the drop-oldest rule.
    pub fn dropped(&self) -> u64 {
        self.raw.dropped()
    }

    /// Ready when [`next`](Subscription::next) would not wait.
    pub fn subscribe(&self) -> Pollable {
        self.raw.subscribe()
    }
}
