//! Host side of `sandnet:net/bus`: translates the WIT calls to the guard's bus checks and the embedded [`broker`].
//!
//! Every publish, request and reply passes [`Guard::check_bus_publish`]
//! (or, for a reply to an inbox this guest was handed, the size and rate
//! checks alone); every subscription passes [`Guard::check_bus_subscribe`]
//! and carries [`Guard::bus_filter`], so each delivered topic is asked again
//! against the receiver's policy in force.
//!
//! [`Guard::check_bus_publish`]: crate::guard::Guard::check_bus_publish
//! [`Guard::check_bus_subscribe`]: crate::guard::Guard::check_bus_subscribe
//! [`Guard::bus_filter`]: crate::guard::Guard::bus_filter

pub mod broker;
pub mod nats;

use std::collections::VecDeque;
use std::sync::Arc;

use wasmtime::component::Resource;
use wasmtime_wasi::p2::Pollable;

use crate::bindings::bus::{self as wit, Host, HostSubscription};
use crate::error::{HostError, NetError, TimeoutKind};
use crate::guard::Guard;
use crate::net::NetView;
use crate::net::common::options::tighten_ms;
use crate::net::common::pollable_resource_methods;

use broker::{Message, Overflow, PublishError, QueueOptions, Subscriber};

/// Reply-to inboxes a guest may still answer, newest last (bounded).
const REPLYABLE: usize = 1024;

/// A guest's own bus state: the reply-to inboxes of requests it received,
/// which it may answer once each without a publish grant.
#[derive(Debug, Default)]
pub struct BusCtx {
    replyable: VecDeque<String>,
}

impl BusCtx {
    fn received(&mut self, message: &Message) {
        // Only host-made inboxes are answerable without a grant (a backend
        // hands over no other reply-to; this keeps it so).
        if let Some(inbox) = message
            .reply_to
            .as_ref()
            .filter(|t| t.starts_with(broker::INBOX_PREFIX))
        {
            if self.replyable.len() == REPLYABLE {
                self.replyable.pop_front();
            }
            self.replyable.push_back(inbox.clone());
        }
    }

    /// Takes `topic` out of the answerable inboxes; whether it was there.
    fn take_replyable(&mut self, topic: &str) -> bool {
        match self.replyable.iter().position(|t| t == topic) {
            Some(i) => {
                self.replyable.remove(i);
                true
            }
            None => false,
        }
    }
}

/// A guest's subscription: the broker's queue plus what the guard needs to
/// report drops.
pub struct Subscription {
    pattern: String,
    subscriber: Subscriber,
    guard: Arc<Guard>,
    reported_drops: u64,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("pattern", &self.pattern)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// Audits drops made since the last report.
    fn report_drops(&mut self) {
        let dropped = self.subscriber.dropped();
        if dropped > self.reported_drops {
            self.guard
                .record_bus_drops(&self.pattern, dropped - self.reported_drops);
            self.reported_drops = dropped;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.report_drops();
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Subscription {
    async fn ready(&mut self) {
        self.subscriber.ready().await;
    }
}

fn to_wit(message: &Message) -> wit::Message {
    wit::Message {
        topic: message.topic.clone(),
        payload: message.payload.clone(),
        headers: message.headers.clone(),
        reply_to: message.reply_to.clone(),
    }
}

/// The guest's error for a failed bus operation on `topic`.
fn publish_error(err: PublishError, topic: &str) -> NetError {
    match err {
        PublishError::Full { capacity } => NetError::LimitExceeded {
            name: "capacity",
            value: u64::try_from(capacity).unwrap_or(u64::MAX),
        },
        PublishError::NoResponders => NetError::Closed(format!(
            "no guest may receive bus topic \"{topic}\" (no responders)"
        )),
        PublishError::Timeout => NetError::Timeout(TimeoutKind::Total),
        PublishError::Nats(why) => NetError::Connect(format!("NATS bus: {why}")),
        PublishError::BadHeader(why) => NetError::InvalidArgument(why),
    }
}

impl NetView<'_> {
    /// Publishes an already-checked message.
    async fn send(
        &mut self,
        topic: &sandnet_policy::Subject,
        message: Message,
    ) -> Result<broker::Delivery, NetError> {
        let guard = &self.ctx.guard;
        let timeout = guard.policy().limits.read_timeout;
        guard
            .bus()
            .publish(topic, message, timeout)
            .await
            .map_err(|e| publish_error(e, topic.as_str()))
    }
}

impl Host for NetView<'_> {
    async fn publish(
        &mut self,
        topic: String,
        payload: Vec<u8>,
        headers: Vec<(String, String)>,
    ) -> Result<(), HostError> {
        let subject = self
            .ctx
            .guard
            .check_bus_publish("publish", &topic, payload.len())?;
        let message = Message {
            topic: subject.as_str().to_owned(),
            payload,
            headers,
            reply_to: None,
            no_responders: false,
        };
        self.send(&subject, message).await?;
        Ok(())
    }

    async fn subscribe(
        &mut self,
        pattern: String,
        options: Option<wit::SubscribeOptions>,
    ) -> Result<Resource<Subscription>, HostError> {
        let guard = Arc::clone(&self.ctx.guard);
        let subject = guard.check_bus_subscribe(&pattern)?;
        let mut queue = QueueOptions::default();
        if let Some(options) = options {
            if let Some(capacity) = options.capacity {
                let max = broker::MAX_CAPACITY;
                if capacity == 0 || usize::try_from(capacity).map_or(true, |c| c > max) {
                    return Err(NetError::InvalidArgument(format!(
                        "subscription capacity {capacity} is out of range (use 1 to {max})"
                    ))
                    .into());
                }
                queue.capacity = usize::try_from(capacity).unwrap_or(max);
            }
            queue.overflow = match options.overflow {
                Some(wit::Overflow::BackPressure) => Overflow::BackPressure,
                Some(wit::Overflow::DropOldest) | None => Overflow::DropOldest,
            };
        }
        let subscriber = guard
            .bus()
            .subscribe(subject, queue, Some(guard.bus_filter()))
            .await
            .map_err(|e| publish_error(e, &pattern))?;
        let subscription = Subscription {
            pattern,
            subscriber,
            guard,
            reported_drops: 0,
        };
        Ok(self.table.push(subscription)?)
    }

    async fn request(
        &mut self,
        topic: String,
        payload: Vec<u8>,
        headers: Vec<(String, String)>,
        timeout_ms: Option<u32>,
    ) -> Result<wit::Message, HostError> {
        let guard = Arc::clone(&self.ctx.guard);
        let subject = guard.check_bus_publish("request", &topic, payload.len())?;
        let timeout = tighten_ms(timeout_ms, guard.policy().limits.request_timeout);
        let message = Message {
            topic: subject.as_str().to_owned(),
            payload,
            headers,
            reply_to: None,
            no_responders: false,
        };
        let publish_timeout = guard.policy().limits.read_timeout;
        let reply = guard
            .bus()
            .request(&subject, message, publish_timeout, timeout)
            .await
            .map_err(|e| publish_error(e, &topic))?;
        Ok(to_wit(&reply))
    }

    async fn reply(
        &mut self,
        reply_to: String,
        payload: Vec<u8>,
        headers: Vec<(String, String)>,
    ) -> Result<(), HostError> {
        let guard = Arc::clone(&self.ctx.guard);
        let subject = if self.ctx.bus.take_replyable(&reply_to) {
            guard.check_bus_inbox_reply(&reply_to, payload.len())?
        } else {
            guard.check_bus_publish("reply", &reply_to, payload.len())?
        };
        let message = Message {
            topic: subject.as_str().to_owned(),
            payload,
            headers,
            reply_to: None,
            no_responders: false,
        };
        self.send(&subject, message).await?;
        Ok(())
    }
}

impl HostSubscription for NetView<'_> {
    async fn pattern(&mut self, this: Resource<Subscription>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.pattern.clone())
    }

    async fn next(&mut self, this: Resource<Subscription>) -> Result<wit::Message, HostError> {
        let subscription = self.table.get_mut(&this)?;
        let message = subscription.subscriber.next().await;
        subscription.report_drops();
        self.ctx.bus.received(&message);
        Ok(to_wit(&message))
    }

    async fn try_next(
        &mut self,
        this: Resource<Subscription>,
    ) -> Result<Option<wit::Message>, HostError> {
        let subscription = self.table.get_mut(&this)?;
        let message = subscription.subscriber.try_next();
        subscription.report_drops();
        Ok(message.map(|m| {
            self.ctx.bus.received(&m);
            to_wit(&m)
        }))
    }

    async fn dropped(&mut self, this: Resource<Subscription>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&this)?.subscriber.dropped())
    }

    pollable_resource_methods!(Subscription);
}
