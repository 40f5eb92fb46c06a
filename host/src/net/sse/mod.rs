//! Host side of `sandnet:net/sse`: translates the WIT calls and resources to the
//! stream core in [`stream`] (parsing is in [`parser`]).

pub mod parser;
pub mod stream;

use std::sync::Arc;

use wasmtime::component::Resource;

use crate::bindings::sse::{self as wit, Host, HostEventStream};
use crate::error::HostError;
use crate::net::NetView;
use crate::net::common::options::opt_in;
use crate::net::common::{pollable_on_inbox, pollable_resource_methods};
use parser::Event;
use stream::{self as core, SseSettings, SseSpec, StreamHandle};

/// An open event stream (`event-stream`).
#[derive(Debug)]
pub struct EventStream(StreamHandle);

pollable_on_inbox!(EventStream);

fn to_wit(event: Event) -> wit::Event {
    wit::Event {
        event_type: event.event_type,
        data: event.data,
        id: event.id,
    }
}

impl Host for NetView<'_> {}

impl HostEventStream for NetView<'_> {
    async fn open(
        &mut self,
        url: String,
        options: Option<wit::OpenOptions>,
    ) -> Result<Resource<EventStream>, HostError> {
        let guard = Arc::clone(&self.ctx.guard);
        let limits = &guard.policy().limits;
        let settings = SseSettings {
            connect: limits.connect_timeout,
            first_byte: limits.first_byte_timeout,
            idle: limits.read_timeout,
            max_event: usize::try_from(limits.max_sse_event_bytes).unwrap_or(usize::MAX),
        };
        let max_redirects_allowed = limits.max_redirects;
        let mut spec = match &options {
            Some(o) => SseSpec::new(&url, &o.headers)?,
            None => SseSpec::new(&url, &[])?,
        };
        if let Some(o) = options {
            spec.event_types = o.event_types;
            spec.reconnect = o.reconnect.unwrap_or(true);
            spec.max_reconnects = o.max_reconnects.unwrap_or(spec.max_reconnects);
            spec.max_redirects = opt_in(o.max_redirects, max_redirects_allowed);
        }
        let stream = core::open(guard, Arc::clone(&self.ctx.tls), spec, settings).await?;
        Ok(self.table.push(EventStream(stream))?)
    }

    async fn next(&mut self, this: Resource<EventStream>) -> Result<wit::Event, HostError> {
        let event = self.table.get_mut(&this)?.0.inbox.next().await?;
        Ok(to_wit(event))
    }

    async fn try_next(
        &mut self,
        this: Resource<EventStream>,
    ) -> Result<Option<wit::Event>, HostError> {
        let event = self.table.get_mut(&this)?.0.inbox.try_next()?;
        Ok(event.map(to_wit))
    }

    pollable_resource_methods!(EventStream);
}
