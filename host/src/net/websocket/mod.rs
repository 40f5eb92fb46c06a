//! Host side of `sandnet:net/websocket`: translates the WIT calls and resources
//! to the WebSocket core in [`session`].

pub mod session;

use std::sync::Arc;
use std::time::Duration;

use sandnet_policy::Limits;
use wasmtime::component::Resource;

use crate::bindings::websocket::{self as wit, Host, HostConnection, HostListener};
use crate::error::HostError;
use crate::net::NetView;
use crate::net::common::options::tighten_ms;
use crate::net::common::{pollable_on_inbox, pollable_resource_methods};
use session::{
    self as core, Backoff, ClientSpec, ConnState, Handle, ListenerHandle, MIN_BACKOFF,
    MIN_HEARTBEAT, Settings, WsMessage,
};

/// A WebSocket connection (`connection`), client or accepted.
#[derive(Debug)]
pub struct Connection(Handle);

pollable_on_inbox!(Connection);

/// A WebSocket server socket (`listener`).
#[derive(Debug)]
pub struct Listener(ListenerHandle);

pollable_on_inbox!(Listener);

fn ms(value: u32) -> Duration {
    Duration::from_millis(u64::from(value))
}

/// Connection settings: the guest's options may tighten the connect timeout,
/// choose the heartbeat (not below [`MIN_HEARTBEAT`]) and opt into reconnection.
fn settings(limits: &Limits, options: Option<&wit::ConnectOptions>) -> Settings {
    let to_usize = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    let heartbeat = options
        .and_then(|o| o.heartbeat_ms)
        .map_or(limits.ws_heartbeat, ms)
        .max(MIN_HEARTBEAT);
    let connect_timeout = tighten_ms(
        options.and_then(|o| o.connect_timeout_ms),
        limits.connect_timeout,
    );
    let reconnect = options.and_then(|o| o.reconnect).map(|r| {
        let initial = ms(r.initial_backoff_ms).max(MIN_BACKOFF);
        Backoff {
            max_attempts: r.max_attempts,
            initial,
            max: ms(r.max_backoff_ms).max(initial),
        }
    });
    Settings {
        max_message: to_usize(limits.max_ws_message_bytes),
        max_frame: to_usize(limits.max_ws_frame_bytes),
        heartbeat,
        connect_timeout,
        reconnect,
    }
}

fn to_wit(message: WsMessage) -> wit::Message {
    match message {
        WsMessage::Text(text) => wit::Message::Text(text),
        WsMessage::Binary(data) => wit::Message::Binary(data),
        WsMessage::Close { code, reason } => wit::Message::Close(wit::CloseFrame { code, reason }),
    }
}

impl Host for NetView<'_> {}

impl HostConnection for NetView<'_> {
    async fn connect(
        &mut self,
        url: String,
        options: Option<wit::ConnectOptions>,
    ) -> Result<Resource<Connection>, HostError> {
        let guard = Arc::clone(&self.ctx.guard);
        let settings = settings(&guard.policy().limits, options.as_ref());
        let (headers, subprotocols) = options
            .map(|o| (o.headers, o.subprotocols))
            .unwrap_or_default();
        let spec = ClientSpec::new(&url, &headers, &subprotocols)?;
        let handle = core::connect(guard, Arc::clone(&self.ctx.tls), spec, settings).await?;
        Ok(self.table.push(Connection(handle))?)
    }

    async fn subprotocol(
        &mut self,
        this: Resource<Connection>,
    ) -> wasmtime::Result<Option<String>> {
        Ok(self.table.get(&this)?.0.subprotocol())
    }

    async fn state(&mut self, this: Resource<Connection>) -> wasmtime::Result<wit::State> {
        Ok(match self.table.get(&this)?.0.state() {
            ConnState::Connecting => wit::State::Connecting,
            ConnState::Open => wit::State::Open,
            ConnState::Closing => wit::State::Closing,
            ConnState::Closed => wit::State::Closed,
        })
    }

    async fn send_text(
        &mut self,
        this: Resource<Connection>,
        text: String,
    ) -> Result<(), HostError> {
        Ok(self.table.get_mut(&this)?.0.send_text(text).await?)
    }

    async fn send_binary(
        &mut self,
        this: Resource<Connection>,
        data: Vec<u8>,
    ) -> Result<(), HostError> {
        Ok(self.table.get_mut(&this)?.0.send_binary(data).await?)
    }

    async fn receive(&mut self, this: Resource<Connection>) -> Result<wit::Message, HostError> {
        let message = self.table.get_mut(&this)?.0.inbox.next().await?;
        Ok(to_wit(message))
    }

    async fn try_receive(
        &mut self,
        this: Resource<Connection>,
    ) -> Result<Option<wit::Message>, HostError> {
        let message = self.table.get_mut(&this)?.0.inbox.try_next()?;
        Ok(message.map(to_wit))
    }

    async fn close(
        &mut self,
        this: Resource<Connection>,
        code: u16,
        reason: String,
    ) -> Result<(), HostError> {
        Ok(self.table.get_mut(&this)?.0.close(code, reason).await?)
    }

    pollable_resource_methods!(Connection);
}

impl HostListener for NetView<'_> {
    async fn bind(&mut self, address: String) -> Result<Resource<Listener>, HostError> {
        let guard = Arc::clone(&self.ctx.guard);
        let settings = settings(&guard.policy().limits, None);
        let listener = core::bind(guard, &address, settings).await?;
        Ok(self.table.push(Listener(listener))?)
    }

    async fn local_address(&mut self, this: Resource<Listener>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.0.local.to_string())
    }

    async fn accept(
        &mut self,
        this: Resource<Listener>,
    ) -> Result<(Resource<Connection>, String), HostError> {
        let accepted = self.table.get_mut(&this)?.0.inbox.next().await?;
        let peer = accepted.peer.to_string();
        Ok((self.table.push(Connection(accepted.handle))?, peer))
    }

    pollable_resource_methods!(Listener);
}
