//! WebSocket client and server over `sandnet:net/websocket`: every connection
//! (and every reconnection) is checked by the host against the guest's policy.
//!
//! The host answers pings, sends its own heartbeat, reassembles fragments and
//! completes the close handshake; a guest sees whole [`Message`]s.
//!
//! ```no_run
//! use sandnet_guest::websocket::{Connection, Message};
//!
//! # fn main() -> sandnet_guest::Result<()> {
//! let ws = Connection::builder("wss://chat.example.com/room")
//!     .header("authorization", "Bearer secret")
//!     .subprotocol("chat.v1")
//!     .connect()?;
//! ws.send_text("hello")?;
//! match ws.receive()? {
//!     Message::Text(text) => println!("{text}"),
//!     Message::Binary(data) => println!("{} bytes", data.len()),
//!     Message::Close { code, reason } => println!("closed {code} {reason}"),
//! }
//! ws.close(1000, "bye")?;
//! # Ok(())
//! # }
//! ```
//!
//! To wait on several connections (or a connection and an
//! [`EventStream`](crate::sse::EventStream)) at once, pass their
//! [`subscribe`](Connection::subscribe) pollables to [`wait_any`] (the one in
//! [`crate::poll`], re-exported here).

use crate::Result;
use crate::bindings::sandnet::net::websocket as wit;
use crate::poll::Pollable;

pub use crate::poll::wait_any;

/// One complete message, or the peer's close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// The peer closed the connection (1005 when it gave no code).
    Close {
        /// Close code, e.g. 1000.
        code: u16,
        /// Reason text.
        reason: String,
    },
}

impl From<wit::Message> for Message {
    fn from(raw: wit::Message) -> Self {
        match raw {
            wit::Message::Text(text) => Message::Text(text),
            wit::Message::Binary(data) => Message::Binary(data),
            wit::Message::Close(frame) => Message::Close {
                code: frame.code,
                reason: frame.reason,
            },
        }
    }
}

/// Connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Connecting or reconnecting.
    Connecting,
    /// Open.
    Open,
    /// A close frame was sent or received.
    Closing,
    /// Closed for good.
    Closed,
}

/// Options for [`Connection::builder`].
#[derive(Debug, Clone)]
pub struct Connect {
    url: String,
    options: wit::ConnectOptions,
}

impl Connect {
    /// Adds a handshake header (e.g. `authorization`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.headers.push((name.into(), value.into()));
        self
    }

    /// Offers a subprotocol (in preference order).
    pub fn subprotocol(mut self, name: impl Into<String>) -> Self {
        self.options.subprotocols.push(name.into());
        self
    }

    /// Heartbeat ping interval (default: the policy's `ws_heartbeat`).
    pub fn heartbeat_ms(mut self, ms: u32) -> Self {
        self.options.heartbeat_ms = Some(ms);
        self
    }

    /// Connect timeout (at most the policy's `connect_timeout`).
    pub fn connect_timeout_ms(mut self, ms: u32) -> Self {
        self.options.connect_timeout_ms = Some(ms);
        self
    }

    /// Reconnects after a drop: up to `max_attempts` consecutive attempts,
    /// waiting `initial_backoff_ms`, doubled per attempt, at most `max_backoff_ms`.
    pub fn reconnect(
        mut self,
        max_attempts: u32,
        initial_backoff_ms: u32,
        max_backoff_ms: u32,
    ) -> Self {
        self.options.reconnect = Some(wit::Reconnect {
            max_attempts,
            initial_backoff_ms,
            max_backoff_ms,
        });
        self
    }

    /// Connects.
    pub fn connect(self) -> Result<Connection> {
        let raw = wit::Connection::connect(&self.url, Some(&self.options))?;
        Ok(Connection { raw })
    }
}

/// An open WebSocket connection; dropping it closes the connection.
#[derive(Debug)]
pub struct Connection {
    raw: wit::Connection,
}

impl Connection {
    /// Connects to a `ws://` or `wss://` URL with default options.
    pub fn connect(url: impl Into<String>) -> Result<Connection> {
        Self::builder(url).connect()
    }

    /// A connection builder for headers, subprotocols, heartbeat and reconnection.
    pub fn builder(url: impl Into<String>) -> Connect {
        Connect {
            url: url.into(),
            options: wit::ConnectOptions {
                headers: Vec::new(),
                subprotocols: Vec::new(),
                heartbeat_ms: None,
                connect_timeout_ms: None,
                reconnect: None,
            },
        }
    }

    /// Sends a text message.
    pub fn send_text(&self, text: &str) -> Result<()> {
        Ok(self.raw.send_text(text)?)
    }

    /// Sends a binary message.
    pub fn send_binary(&self, data: &[u8]) -> Result<()> {
        Ok(self.raw.send_binary(data)?)
    }

    /// Waits for the next message.
    pub fn receive(&self) -> Result<Message> {
        Ok(self.raw.receive()?.into())
    }

    /// [`Connection::receive`] without blocking (under [`crate::rt`]).
    pub async fn receive_async(&self) -> Result<Message> {
        crate::rt::ready(self.subscribe()).await;
        self.receive()
    }

    /// The next message if one is ready.
    pub fn try_receive(&self) -> Result<Option<Message>> {
        Ok(self.raw.try_receive()?.map(Message::from))
    }

    /// Starts the close handshake; the peer's answer arrives as [`Message::Close`].
    pub fn close(&self, code: u16, reason: &str) -> Result<()> {
        Ok(self.raw.close(code, reason)?)
    }

    /// Current state.
    pub fn state(&self) -> State {
        match self.raw.state() {
            wit::State::Connecting => State::Connecting,
            wit::State::Open => State::Open,
            wit::State::Closing => State::Closing,
            wit::State::Closed => State::Closed,
        }
    }

    /// The subprotocol the server chose.
    pub fn subprotocol(&self) -> Option<String> {
        self.raw.subprotocol()
    }

    /// A pollable ready when [`Connection::receive`] would not wait.
    pub fn subscribe(&self) -> Pollable {
        self.raw.subscribe()
    }
}

/// A WebSocket server socket (needs a `ws-listen://IP:PORT` policy grant).
#[derive(Debug)]
pub struct Listener {
    raw: wit::Listener,
}

impl Listener {
    /// Binds `ws-listen://IP:PORT`.
    pub fn bind(address: &str) -> Result<Listener> {
        Ok(Listener {
            raw: wit::Listener::bind(address)?,
        })
    }

    /// The bound address as `IP:PORT`.
    pub fn local_address(&self) -> String {
        self.raw.local_address()
    }

    /// Waits for the next client the policy accepts: its connection and `IP:PORT`.
    pub fn accept(&self) -> Result<(Connection, String)> {
        let (raw, peer) = self.raw.accept()?;
        Ok((Connection { raw }, peer))
    }

    /// [`Listener::accept`] without blocking (under [`crate::rt`]).
    pub async fn accept_async(&self) -> Result<(Connection, String)> {
        crate::rt::ready(self.subscribe()).await;
        self.accept()
    }

    /// A pollable ready when [`Listener::accept`] would not wait.
    pub fn subscribe(&self) -> Pollable {
        self.raw.subscribe()
    }
}
