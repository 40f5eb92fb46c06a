//! An MQTT client over `sandnet:net/mqtt`: [`Client::connect`] to a broker
//! by name, [`Client::publish`], [`Client::subscribe`] to filters (`+` one
//! level, `#` the rest) and read [`Message`]s, all scoped by the policy's
//! `mqtt://` rules.
//!
//! ```no_run
//! use sandnet_guest::mqtt::{Client, Qos};
//!
//! # fn main() -> sandnet_guest::Result<()> {
//! let client = Client::connect("mqtt://broker.example.com", None)?;
//! client.subscribe("sensors/+/temp", Qos::AtLeastOnce)?;
//! client.publish("sensors/kitchen/temp", b"21.5", Qos::AtMostOnce, false)?;
//! let message = client.next()?;
//! println!("{} {}", message.topic, String::from_utf8_lossy(&message.payload));
//! # Ok(())
//! # }
//! ```

use crate::Result;
use crate::bindings::sandnet::net::mqtt as wit;
use crate::poll::Pollable;

pub use wit::{ConnectOptions, Message, Qos};

/// A broker connection; dropping it disconnects.
#[derive(Debug)]
pub struct Client {
    raw: wit::Client,
}

impl Client {
    /// Connects to `mqtt://host[:port]` (default 1883) or `mqtts://...`
    /// (TLS, default 8883); the policy must grant the broker.
    pub fn connect(url: &str, options: Option<ConnectOptions>) -> Result<Client> {
        Ok(Client {
            raw: wit::Client::connect(url, options.as_ref())?,
        })
    }

    /// Whether the broker kept a session for this client id.
    pub fn session_present(&self) -> bool {
        self.raw.session_present()
    }

    /// Publishes on a concrete topic (QoS 1 waits for the broker's ack).
    pub fn publish(&self, topic: &str, payload: &[u8], qos: Qos, retain: bool) -> Result<()> {
        Ok(self.raw.publish(topic, payload, qos, retain)?)
    }

    /// Subscribes to `filter`, which must lie inside a subscribe grant.
    pub fn subscribe(&self, filter: &str, qos: Qos) -> Result<()> {
        Ok(self.raw.subscribe_to(filter, qos)?)
    }

    /// Ends a subscription.
    pub fn unsubscribe(&self, filter: &str) -> Result<()> {
        Ok(self.raw.unsubscribe_from(filter)?)
    }

    /// Waits for the next message.
    pub fn next(&self) -> Result<Message> {
        Ok(self.raw.next()?)
    }

    /// The next message if one is queued.
    pub fn try_next(&self) -> Result<Option<Message>> {
        Ok(self.raw.try_next()?)
    }

    /// Ready when [`Client::next`] would not wait (see [`crate::poll`]).
    pub fn ready(&self) -> Pollable {
        self.raw.subscribe()
    }
}
