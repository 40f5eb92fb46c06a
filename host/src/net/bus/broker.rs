//! The bus a guest's binding talks to: [`Bus`], chosen once per host, is the embedded in-process broker (bounded queues, fan-out by subject pattern, per-receiver delivery filters, reply inboxes) or a NATS link ([`super::nats`]).
//!
//! No policy here: the caller checks grants before publishing and
//! subscribing, and hands each subscription a [`Filter`] that asks the
//! receiving guest's policy about every delivered topic. Both backends
//! deliver into the same bounded [`Subscriber`] queues after that filter.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sandnet_policy::Subject;
use tokio::sync::Notify;

use super::nats::NatsLink;

/// Default messages a subscription holds.
pub const DEFAULT_CAPACITY: usize = 256;
/// The most messages a subscription may hold.
pub const MAX_CAPACITY: usize = 65_536;
/// The prefix of reply inboxes the host makes for requests.
pub const INBOX_PREFIX: &str = "_INBOX.";

/// One message as the broker carries it (shared between receivers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The concrete topic.
    pub topic: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// The inbox a request waits on.
    pub reply_to: Option<String>,
    /// A NATS "no responders" notice on a request's inbox (never delivered
    /// to a guest: `request` turns it into `closed`).
    pub no_responders: bool,
}

/// What a full queue does with the next message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Drop the oldest queued message and count it.
    #[default]
    DropOldest,
    /// Make the publisher wait for room (bounded by its timeout).
    BackPressure,
}

/// A subscription's queue settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueOptions {
    /// Messages held (1..=[`MAX_CAPACITY`]).
    pub capacity: usize,
    /// The overflow rule.
    pub overflow: Overflow,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            capacity: DEFAULT_CAPACITY,
            overflow: Overflow::DropOldest,
        }
    }
}

/// Asks the receiving guest whether it may see a topic (its subscribe grants
/// in force now). `None`: every topic (a request's own inbox).
pub type Filter = Arc<dyn Fn(&Subject) -> bool + Send + Sync>;

/// What one publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delivery {
    /// Subscriptions the message was queued on.
    pub delivered: usize,
    /// Subscriptions whose pattern matched but whose guest may not see the topic.
    pub filtered: usize,
}

/// Why a publish, subscription or request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishError {
    /// A `back-pressure` subscription stayed full for the whole timeout.
    Full {
        /// Its capacity.
        capacity: usize,
    },
    /// A request found no subscriber allowed to receive it.
    NoResponders,
    /// A request got no reply in time.
    Timeout,
    /// The NATS link refused or failed the operation (the text says why).
    Nats(String),
    /// A header NATS cannot carry (the text names it).
    BadHeader(String),
}

#[derive(Debug, Default)]
struct QueueState {
    messages: VecDeque<Arc<Message>>,
    dropped: u64,
    /// Unsubscribed: pushes are discarded.
    closed: bool,
}

/// One subscription's bounded queue.
#[derive(Debug)]
pub(super) struct Queue {
    options: QueueOptions,
    state: Mutex<QueueState>,
    arrived: Notify,
    space: Notify,
}

impl Queue {
    pub(super) fn new(options: QueueOptions) -> Arc<Queue> {
        let options = QueueOptions {
            capacity: options.capacity.clamp(1, MAX_CAPACITY),
            ..options
        };
        Arc::new(Queue {
            options,
            state: Mutex::default(),
            arrived: Notify::new(),
            space: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the subscription is gone.
    pub(super) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Queues `message`, dropping the oldest or waiting for room per the rule.
    pub(super) async fn push(
        &self,
        message: &Arc<Message>,
        timeout: Duration,
    ) -> Result<(), PublishError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let space = self.space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            {
                let mut state = self.lock();
                if state.closed {
                    return Ok(());
                }
                if state.messages.len() < self.options.capacity {
                    state.messages.push_back(Arc::clone(message));
                    drop(state);
                    self.arrived.notify_waiters();
                    return Ok(());
                }
                if self.options.overflow == Overflow::DropOldest {
                    state.messages.pop_front();
                    state.dropped += 1;
                    state.messages.push_back(Arc::clone(message));
                    drop(state);
                    self.arrived.notify_waiters();
                    return Ok(());
                }
            }
            if tokio::time::timeout_at(deadline, space).await.is_err() {
                return Err(PublishError::Full {
                    capacity: self.options.capacity,
                });
            }
        }
    }

    fn pop(&self) -> Option<Arc<Message>> {
        let message = self.lock().messages.pop_front();
        if message.is_some() {
            self.space.notify_waiters();
        }
        message
    }

    async fn ready(&self) {
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if !self.lock().messages.is_empty() {
                return;
            }
            arrived.await;
        }
    }
}

struct Entry {
    pattern: Subject,
    filter: Option<Filter>,
    queue: Arc<Queue>,
}

#[derive(Default)]
struct Inner {
    subscriptions: HashMap<u64, Entry>,
}

/// The embedded broker; [`Bus::Embedded`] handles share it.
#[derive(Default)]
pub struct Broker {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    inbox_keys: RandomState,
}

/// A handle on the host's bus: clones share it. The default is a fresh
/// private embedded broker (one guest under `sandnet run`); `sandnet up`
/// hands one to every guest of the fleet through
/// [`GuardConfig`](crate::guard::GuardConfig), embedded or NATS
/// (`--bus nats://...`), chosen once at start.
#[derive(Clone)]
pub enum Bus {
    /// In-process: guests of this host only.
    Embedded(Arc<Broker>),
    /// Subjects under a prefix on a NATS server: guests of every host on it.
    Nats(Arc<NatsLink>),
}

impl Default for Bus {
    fn default() -> Self {
        Bus::Embedded(Arc::default())
    }
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bus::Embedded(broker) => f
                .debug_struct("Bus::Embedded")
                .field("subscriptions", &broker.subscription_count())
                .finish(),
            Bus::Nats(link) => f.debug_tuple("Bus::Nats").field(link).finish(),
        }
    }
}

impl Bus {
    /// A fresh embedded broker.
    pub fn new() -> Bus {
        Bus::default()
    }

    /// Subscribes to `pattern`; `filter` vets every topic delivered.
    pub async fn subscribe(
        &self,
        pattern: Subject,
        options: QueueOptions,
        filter: Option<Filter>,
    ) -> Result<Subscriber, PublishError> {
        match self {
            Bus::Embedded(broker) => Ok(broker.subscribe(pattern, options, filter)),
            Bus::Nats(link) => link.subscribe(&pattern, options, filter).await,
        }
    }

    /// Publishes `message` on the concrete `topic`: queued on every matching
    /// subscription whose filter admits it (embedded; a `back-pressure`
    /// queue that stays full for `timeout` fails the publish, queues before
    /// it keep the message), or handed to the NATS server (which then
    /// delivers it to every host, each applying its receivers' filters).
    pub async fn publish(
        &self,
        topic: &Subject,
        message: Message,
        timeout: Duration,
    ) -> Result<Delivery, PublishError> {
        match self {
            Bus::Embedded(broker) => broker.publish(topic, message, timeout).await,
            Bus::Nats(link) => link.publish(message).await.map(|()| Delivery::default()),
        }
    }

    /// Publishes `message` (its `reply_to` is set here to a fresh inbox) and
    /// waits up to `wait` for the first reply, which the requester receives
    /// whatever its subscribe grants. `NoResponders` at once when nothing
    /// may receive the request.
    pub async fn request(
        &self,
        topic: &Subject,
        mut message: Message,
        publish_timeout: Duration,
        wait: Duration,
    ) -> Result<Arc<Message>, PublishError> {
        if let Bus::Embedded(broker) = self
            && !broker.has_subscriber(topic)
        {
            return Err(PublishError::NoResponders);
        }
        let inbox = self.new_inbox();
        let inbox_subject =
            Subject::topic(&inbox).map_err(|e| PublishError::Nats(e.to_string()))?;
        // The requester's own inbox: no filter (only the host knows its name).
        let one = QueueOptions {
            capacity: 1,
            overflow: Overflow::DropOldest,
        };
        let replies = self.subscribe(inbox_subject, one, None).await?;
        message.reply_to = Some(inbox);
        let delivery = self.publish(topic, message, publish_timeout).await?;
        if let Bus::Embedded(_) = self
            && delivery.delivered == 0
        {
            return Err(PublishError::NoResponders);
        }
        match tokio::time::timeout(wait, replies.next()).await {
            Ok(reply) if reply.no_responders => Err(PublishError::NoResponders),
            Ok(reply) => Ok(reply),
            Err(_) => Err(PublishError::Timeout),
        }
    }

    /// A fresh, unguessable reply inbox topic (`_INBOX.<32 hex digits>`).
    pub fn new_inbox(&self) -> String {
        let (next_id, keys) = match self {
            Bus::Embedded(broker) => (&broker.next_id, &broker.inbox_keys),
            Bus::Nats(link) => (&link.next_id, &link.inbox_keys),
        };
        let n = next_id.fetch_add(1, Ordering::Relaxed);
        let a = keys.hash_one(n);
        let b = keys.hash_one((n, a));
        format!("{INBOX_PREFIX}{a:016x}{b:016x}")
    }
}

impl Broker {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Live subscriptions (for reports and tests).
    pub fn subscription_count(&self) -> usize {
        self.inner().subscriptions.len()
    }

    fn subscribe(
        self: &Arc<Self>,
        pattern: Subject,
        options: QueueOptions,
        filter: Option<Filter>,
    ) -> Subscriber {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let queue = Queue::new(options);
        self.inner().subscriptions.insert(
            id,
            Entry {
                pattern,
                filter,
                queue: Arc::clone(&queue),
            },
        );
        Subscriber {
            detach: Detach::Embedded(Arc::clone(self), id),
            queue,
        }
    }

    /// Whether some subscription's pattern matches `topic` (filters aside).
    fn has_subscriber(&self, topic: &Subject) -> bool {
        self.inner()
            .subscriptions
            .values()
            .any(|e| e.pattern.matches(topic))
    }

    async fn publish(
        &self,
        topic: &Subject,
        message: Message,
        timeout: Duration,
    ) -> Result<Delivery, PublishError> {
        // No lock is held while queuing: a back-pressured queue stalls only
        // the publishers of topics it matches. Per-publisher order holds
        // because a guest's next publish starts after this one is queued
        // everywhere.
        let message = Arc::new(message);
        let targets = self.matching(topic);
        let mut delivery = Delivery::default();
        for (filter, queue) in targets {
            if filter.as_ref().is_some_and(|f| !f(topic)) {
                delivery.filtered += 1;
                continue;
            }
            queue.push(&message, timeout).await?;
            delivery.delivered += 1;
        }
        Ok(delivery)
    }

    fn matching(&self, topic: &Subject) -> Vec<(Option<Filter>, Arc<Queue>)> {
        let inner = self.inner();
        let mut entries: Vec<(&u64, &Entry)> = inner
            .subscriptions
            .iter()
            .filter(|(_, e)| e.pattern.matches(topic))
            .collect();
        entries.sort_by_key(|(id, _)| **id);
        entries
            .into_iter()
            .map(|(_, e)| (e.filter.clone(), Arc::clone(&e.queue)))
            .collect()
    }
}

/// How a subscriber leaves its backend when dropped.
enum Detach {
    /// Removes entry `.1` from the embedded broker.
    Embedded(Arc<Broker>, u64),
    /// Ends the task feeding the queue from NATS (which unsubscribes).
    Nats(tokio::task::AbortHandle),
}

/// The receiving end of a subscription; dropping it unsubscribes.
pub struct Subscriber {
    detach: Detach,
    queue: Arc<Queue>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber").finish_non_exhaustive()
    }
}

impl Subscriber {
    /// A subscriber on `queue` fed by the task `feeder` (NATS).
    pub(super) fn fed_by(queue: Arc<Queue>, feeder: tokio::task::AbortHandle) -> Subscriber {
        Subscriber {
            detach: Detach::Nats(feeder),
            queue,
        }
    }

    /// Waits for the next message.
    pub async fn next(&self) -> Arc<Message> {
        loop {
            if let Some(message) = self.queue.pop() {
                return message;
            }
            self.queue.ready().await;
        }
    }

    /// The next message if one is queued.
    pub fn try_next(&self) -> Option<Arc<Message>> {
        self.queue.pop()
    }

    /// Resolves when a message is queued.
    pub async fn ready(&self) {
        self.queue.ready().await;
    }

    /// Messages dropped by the `drop-oldest` rule so far.
    pub fn dropped(&self) -> u64 {
        self.queue.lock().dropped
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        match &self.detach {
            Detach::Embedded(broker, id) => {
                broker.inner().subscriptions.remove(id);
            }
            Detach::Nats(feeder) => feeder.abort(),
        }
        self.queue.lock().closed = true;
        // A back-pressured publisher waiting on this queue stops waiting.
        self.queue.space.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(text: &str) -> Subject {
        Subject::pattern(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn message(topic: &str, payload: &str) -> Message {
        Message {
            topic: topic.into(),
            payload: payload.as_bytes().to_vec(),
            headers: Vec::new(),
            reply_to: None,
            no_responders: false,
        }
    }

    async fn publish(bus: &Bus, topic: &str, payload: &str) -> Delivery {
        bus.publish(
            &subject(topic),
            message(topic, payload),
            Duration::from_millis(50),
        )
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn payloads(sub: &Subscriber) -> Vec<String> {
        std::iter::from_fn(|| sub.try_next())
            .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
            .collect()
    }

    #[tokio::test]
    async fn fans_out_by_pattern_in_publish_order() {
        let bus = Bus::new();
        let all = bus
            .subscribe(subject("a.>"), QueueOptions::default(), None)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let one = bus
            .subscribe(subject("a.*"), QueueOptions::default(), None)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let other = bus
            .subscribe(subject("b.*"), QueueOptions::default(), None)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        for (topic, payload) in [("a.x", "1"), ("a.x.y", "2"), ("a.z", "3")] {
            publish(&bus, topic, payload).await;
        }
        assert_eq!(payloads(&all), ["1", "2", "3"]);
        assert_eq!(payloads(&one), ["1", "3"]);
        assert!(payloads(&other).is_empty());
        drop(other);
        let Bus::Embedded(broker) = &bus else {
            panic!("Bus::new is embedded")
        };
        assert_eq!(broker.subscription_count(), 2, "dropping unsubscribes");
    }

    #[tokio::test]
    async fn filter_hides_topics_the_receiver_may_not_see() {
        let bus = Bus::new();
        let filter: Filter = Arc::new(|t: &Subject| t.as_str() != "a.secret");
        let sub = bus
            .subscribe(subject("a.*"), QueueOptions::default(), Some(filter))
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let d = publish(&bus, "a.secret", "no").await;
        assert_eq!(
            d,
            Delivery {
                delivered: 0,
                filtered: 1
            }
        );
        publish(&bus, "a.open", "yes").await;
        assert_eq!(payloads(&sub), ["yes"]);
    }

    #[tokio::test]
    async fn drop_oldest_counts_drops() {
        let bus = Bus::new();
        let options = QueueOptions {
            capacity: 2,
            overflow: Overflow::DropOldest,
        };
        let sub = bus
            .subscribe(subject("t"), options, None)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        for n in 1..=5 {
            publish(&bus, "t", &n.to_string()).await;
        }
        assert_eq!(sub.dropped(), 3);
        assert_eq!(payloads(&sub), ["4", "5"]);
    }

    #[tokio::test]
    async fn back_pressure_waits_for_room_then_times_out() {
        let bus = Bus::new();
        let options = QueueOptions {
            capacity: 1,
            overflow: Overflow::BackPressure,
        };
        let sub = bus
            .subscribe(subject("t"), options, None)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        publish(&bus, "t", "1").await;
        let full = bus
            .publish(&subject("t"), message("t", "2"), Duration::from_millis(20))
            .await;
        assert_eq!(full, Err(PublishError::Full { capacity: 1 }));
        // A reader making room lets a waiting publisher through.
        let publisher = {
            let bus = bus.clone();
            tokio::spawn(async move {
                bus.publish(&subject("t"), message("t", "3"), Duration::from_secs(10))
                    .await
            })
        };
        let first = sub.next().await;
        assert_eq!(first.payload, b"1");
        assert!(publisher.await.is_ok_and(|r| r.is_ok()));
        assert_eq!(sub.next().await.payload, b"3");
        assert_eq!(sub.dropped(), 0);
    }

    #[tokio::test]
    async fn a_full_back_pressure_queue_stalls_only_its_own_topics() {
        let bus = Bus::new();
        let options = QueueOptions {
            capacity: 1,
            overflow: Overflow::BackPressure,
        };
        let stuck = bus
            .subscribe(subject("slow"), options, None)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        publish(&bus, "slow", "1").await;
        let waiting = {
            let bus = bus.clone();
            tokio::spawn(async move {
                bus.publish(
                    &subject("slow"),
                    message("slow", "2"),
                    Duration::from_secs(30),
                )
                .await
            })
        };
        tokio::task::yield_now().await;
        let other = bus
            .subscribe(subject("fast"), QueueOptions::default(), None)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let sent = tokio::time::timeout(
            Duration::from_secs(5),
            bus.publish(
                &subject("fast"),
                message("fast", "x"),
                Duration::from_secs(30),
            ),
        )
        .await;
        assert!(
            matches!(sent, Ok(Ok(Delivery { delivered: 1, .. }))),
            "{sent:?}"
        );
        assert_eq!(payloads(&other), ["x"]);
        // Unsubscribing the stuck queue releases its waiting publisher.
        drop(stuck);
        assert!(waiting.await.is_ok_and(|r| r.is_ok()));
    }

    #[tokio::test]
    async fn next_waits_for_a_message() {
        let bus = Bus::new();
        let sub = bus
            .subscribe(subject("t"), QueueOptions::default(), None)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let waiter = tokio::spawn(async move { sub.next().await.payload.clone() });
        tokio::task::yield_now().await;
        publish(&bus, "t", "hi").await;
        assert_eq!(waiter.await.ok(), Some(b"hi".to_vec()));
    }

    #[test]
    fn inboxes_are_fresh_topics() {
        let bus = Bus::new();
        let (a, b) = (bus.new_inbox(), bus.new_inbox());
        assert_ne!(a, b);
        assert!(a.starts_with(INBOX_PREFIX) && a.len() == INBOX_PREFIX.len() + 32);
        assert!(Subject::topic(&a).is_ok());
    }
}
