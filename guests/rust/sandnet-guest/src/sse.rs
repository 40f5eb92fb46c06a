//! Server-Sent Events over `sandnet:net/sse`: the host parses the
//! `text/event-stream`, reconnects (honouring `retry`, sending
//! `Last-Event-ID`) and checks every request against the guest's policy.
//!
//! ```no_run
//! use sandnet_guest::sse::EventStream;
//!
//! # fn main() -> sandnet_guest::Result<()> {
//! let stream = EventStream::builder("https://stream.example.com/events")
//!     .event_type("update")
//!     .open()?;
//! for event in stream.take(10) {
//!     let event = event?;
//!     println!("{} {:?} {}", event.event_type, event.id, event.data);
//! }
//! # Ok(())
//! # }
//! ```

use crate::Result;
use crate::bindings::sandnet::net::sse as wit;
use crate::poll::Pollable;

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `event` field, `message` when absent.
    pub event_type: String,
    /// The data lines joined by `\n`.
    pub data: String,
    /// The stream's last event id, if any.
    pub id: Option<String>,
}

impl From<wit::Event> for Event {
    fn from(raw: wit::Event) -> Self {
        Event {
            event_type: raw.event_type,
            data: raw.data,
            id: raw.id,
        }
    }
}

/// Options for [`EventStream::builder`].
#[derive(Debug, Clone)]
pub struct Open {
    url: String,
    options: wit::OpenOptions,
}

impl Open {
    /// Adds a request header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.headers.push((name.into(), value.into()));
        self
    }

    /// Delivers events of this type (call again for more; all types when never called).
    pub fn event_type(mut self, event_type: impl Into<String>) -> Self {
        self.options.event_types.push(event_type.into());
        self
    }

    /// Whether to reconnect after the stream drops (default true).
    pub fn reconnect(mut self, on: bool) -> Self {
        self.options.reconnect = Some(on);
        self
    }

    /// Consecutive failed reconnections before giving up (default 5).
    pub fn max_reconnects(mut self, n: u32) -> Self {
        self.options.max_reconnects = Some(n);
        self
    }

    /// Redirects to follow, each checked by the policy (default 0).
    pub fn max_redirects(mut self, n: u32) -> Self {
        self.options.max_redirects = Some(n);
        self
    }

    /// Opens the stream.
    pub fn open(self) -> Result<EventStream> {
        let raw = wit::EventStream::open(&self.url, Some(&self.options))?;
        Ok(EventStream { raw, done: false })
    }
}

/// An open event stream; dropping it closes the connection.
///
/// As an [`Iterator`] it yields events until the stream ends for good; an
/// error other than the final `closed` is yielded once before the end.
#[derive(Debug)]
pub struct EventStream {
    raw: wit::EventStream,
    done: bool,
}

impl EventStream {
    /// Opens an `http://` or `https://` event stream with default options.
    pub fn open(url: impl Into<String>) -> Result<EventStream> {
        Self::builder(url).open()
    }

    /// A builder for headers, event-type filter, reconnection and redirects.
    pub fn builder(url: impl Into<String>) -> Open {
        Open {
            url: url.into(),
            options: wit::OpenOptions {
                headers: Vec::new(),
                event_types: Vec::new(),
                reconnect: None,
                max_reconnects: None,
                max_redirects: None,
            },
        }
    }

    /// Waits for the next event; `Err(Closed)` once the stream is over.
    pub fn next_event(&self) -> Result<Event> {
        Ok(self.raw.next()?.into())
    }

    /// [`EventStream::next_event`] without blocking (under [`crate::rt`]).
    pub async fn next_event_async(&self) -> Result<Event> {
        crate::rt::ready(self.subscribe()).await;
        self.next_event()
    }

    /// The next event if one is ready.
    pub fn try_next(&self) -> Result<Option<Event>> {
        Ok(self.raw.try_next()?.map(Event::from))
    }

    /// A pollable ready when [`EventStream::next_event`] would not wait.
    pub fn subscribe(&self) -> Pollable {
        self.raw.subscribe()
    }
}

impl Iterator for EventStream {
    type Item = Result<Event>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_event() {
            Ok(event) => Some(Ok(event)),
            Err(crate::Error::Closed(_)) => {
                self.done = true;
                None
            }
            Err(err) => {
                self.done = true;
                Some(Err(err))
            }
        }
    }
}
