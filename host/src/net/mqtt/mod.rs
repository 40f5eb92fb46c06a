//! Host side of `sandnet:net/mqtt`: translates the WIT calls to the guard's MQTT checks and the session core in [`client`].
//!
//! Connecting asks `Guard::check_request` for the broker (an `mqtt://` or
//! `mqtts://` target, no topic); every publish and subscription then passes
//! `Guard::check_mqtt_publish` / `Guard::check_mqtt_subscribe` against that
//! broker, and the session checks each received topic again.

pub mod client;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;

use wasmtime::component::Resource;
use wasmtime_wasi::p2::Pollable;

use crate::bindings::mqtt::{self as wit, Host, HostClient};
use crate::error::{HostError, NetError};
use crate::net::NetView;
use crate::net::common::options::tighten_ms;
use crate::net::common::pollable_resource_methods;

pub use client::Client;

/// Keep-alive when the guest names none, in seconds.
const DEFAULT_KEEP_ALIVE: u16 = 30;
/// Longest client id, user name or password MQTT can carry.
const MAX_FIELD_BYTES: usize = 65_535;

#[wasmtime_wasi::async_trait]
impl Pollable for Client {
    async fn ready(&mut self) {
        self.inbox.ready().await;
    }
}

/// A random client id (`sandnet-` and 16 hex digits, 24 bytes).
fn random_client_id() -> String {
    format!("sandnet-{:016x}", RandomState::new().hash_one(0u8))
}

/// A guest string MQTT must carry: bounded, no control characters.
fn field(what: &str, value: String) -> Result<String, NetError> {
    if value.len() > MAX_FIELD_BYTES || value.chars().any(char::is_control) {
        return Err(NetError::InvalidArgument(format!(
            "MQTT {what} must be at most {MAX_FIELD_BYTES} bytes without control characters"
        )));
    }
    Ok(value)
}

fn at_least_once(qos: wit::Qos) -> bool {
    matches!(qos, wit::Qos::AtLeastOnce)
}

impl Host for NetView<'_> {}

impl HostClient for NetView<'_> {
    async fn connect(
        &mut self,
        url: String,
        options: Option<wit::ConnectOptions>,
    ) -> Result<Resource<Client>, HostError> {
        let broker = client::parse_broker(&url)?;
        let guard = Arc::clone(&self.ctx.guard);
        let limits = guard.policy().limits.clone();
        let options = options.unwrap_or(wit::ConnectOptions {
            client_id: None,
            keep_alive_secs: None,
            clean_session: None,
            max_reconnects: None,
            username: None,
            password: None,
            connect_timeout_ms: None,
        });
        let login = match (options.username, options.password) {
            (Some(user), password) => Some((
                field("user name", user)?,
                field("password", password.unwrap_or_default())?,
            )),
            (None, Some(_)) => {
                return Err(
                    NetError::InvalidArgument("an MQTT password needs a user name".into()).into(),
                );
            }
            (None, None) => None,
        };
        let settings = client::Settings {
            client_id: match options.client_id {
                Some(id) => field("client id", id)?,
                None => random_client_id(),
            },
            keep_alive: options.keep_alive_secs.unwrap_or(DEFAULT_KEEP_ALIVE),
            clean_session: options.clean_session.unwrap_or(true),
            max_reconnects: options.max_reconnects.unwrap_or(0),
            login,
            connect_timeout: tighten_ms(options.connect_timeout_ms, limits.connect_timeout),
            max_payload: usize::try_from(limits.max_mqtt_message_bytes).unwrap_or(usize::MAX),
        };
        let client = Client::connect(guard, Arc::clone(&self.ctx.tls), broker, settings).await?;
        Ok(self.table.push(client)?)
    }

    async fn session_present(&mut self, this: Resource<Client>) -> wasmtime::Result<bool> {
        Ok(self.table.get(&this)?.session_present)
    }

    async fn publish(
        &mut self,
        this: Resource<Client>,
        topic: String,
        payload: Vec<u8>,
        qos: wit::Qos,
        retain: bool,
    ) -> Result<(), HostError> {
        let client = self.table.get(&this)?;
        let checked = self
            .ctx
            .guard
            .check_mqtt_publish(&client.broker, &topic, payload.len())?;
        let wait = self.ctx.guard.policy().limits.read_timeout;
        let sent = client.publish(
            checked.as_str().to_owned(),
            payload,
            at_least_once(qos),
            retain,
        );
        Ok(acked(wait, sent).await?)
    }

    async fn subscribe_to(
        &mut self,
        this: Resource<Client>,
        filter: String,
        qos: wit::Qos,
    ) -> Result<(), HostError> {
        let client = self.table.get(&this)?;
        let checked = self
            .ctx
            .guard
            .check_mqtt_subscribe(&client.broker, &filter)?;
        let wait = self.ctx.guard.policy().limits.read_timeout;
        let sent = client.subscribe(checked.as_str().to_owned(), at_least_once(qos));
        Ok(acked(wait, sent).await?)
    }

    async fn unsubscribe_from(
        &mut self,
        this: Resource<Client>,
        filter: String,
    ) -> Result<(), HostError> {
        let client = self.table.get(&this)?;
        sandnet_policy::TopicFilter::filter(&filter)
            .map_err(|e| NetError::InvalidArgument(e.to_string()))?;
        let wait = self.ctx.guard.policy().limits.read_timeout;
        Ok(acked(wait, client.unsubscribe(filter)).await?)
    }

    async fn next(&mut self, this: Resource<Client>) -> Result<wit::Message, HostError> {
        let client = self.table.get_mut(&this)?;
        Ok(to_wit(client.inbox.next().await?))
    }

    async fn try_next(
        &mut self,
        this: Resource<Client>,
    ) -> Result<Option<wit::Message>, HostError> {
        let client = self.table.get_mut(&this)?;
        Ok(client.inbox.try_next()?.map(to_wit))
    }

    pollable_resource_methods!(Client);
}

/// Waits for an acknowledgement, at most the policy's `read_timeout`.
async fn acked(
    wait: std::time::Duration,
    sent: impl Future<Output = Result<(), NetError>>,
) -> Result<(), NetError> {
    match tokio::time::timeout(wait, sent).await {
        Ok(outcome) => outcome,
        Err(_) => Err(NetError::Timeout(crate::error::TimeoutKind::Idle)),
    }
}

fn to_wit(received: client::Received) -> wit::Message {
    wit::Message {
        topic: received.topic,
        payload: received.payload,
        qos: if received.at_least_once {
            wit::Qos::AtLeastOnce
        } else {
            wit::Qos::AtMostOnce
        },
        retain: received.retain,
    }
}
