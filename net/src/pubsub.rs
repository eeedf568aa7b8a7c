//! Pub/Sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBEs, PUBLISH, SPUBLISH and
//! PUBSUB, as Redis 7 answers them.
//!
//! The [`Hub`] maps channels and patterns to subscribers. A subscriber is a bounded queue
//! drained by its connection task: PUBLISH never waits on a slow reader, and a subscriber whose
//! queue passes `client-output-buffer-limit pubsub` (hard bytes, or soft bytes for more than
//! the soft seconds) is disconnected, as Redis closes a pub/sub client past its output buffer
//! limit, instead of letting memory grow without end. Sharded channels (SSUBSCRIBE/SPUBLISH)
//! are a separate namespace; in cluster mode they will follow their slot.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use slotkv_engine::command::is_keyword;
use slotkv_engine::glob::glob_match;
use slotkv_engine::notify::{EventSink, Events};
use slotkv_engine::{CommandError, Reply};
use tokio::sync::mpsc;

use crate::clients::ClientInfo;
use crate::config::OutputLimit;
use crate::connection::ClientState;
use crate::resp::Protocol;

/// Bytes a queued message is accounted for: its parts plus framing.
fn message_bytes(message: &Reply) -> usize {
    const FRAMING_BYTES: usize = 32;
    match message {
        Reply::Push(parts) => {
            parts
                .iter()
                .map(|p| if let Reply::Bulk(b) = p { b.len() } else { 8 })
                .sum::<usize>()
                + FRAMING_BYTES
        }
        _ => FRAMING_BYTES,
    }
}

/// Which namespace a subscription lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE / PUBLISH.
    Channel,
    /// PSUBSCRIBE: glob patterns over the channel namespace.
    Pattern,
    /// SSUBSCRIBE / SPUBLISH.
    Shard,
}

impl Kind {
    fn subscribe_word(self) -> &'static str {
        match self {
            Kind::Channel => "subscribe",
            Kind::Pattern => "psubscribe",
            Kind::Shard => "ssubscribe",
        }
    }

    fn unsubscribe_word(self) -> &'static str {
        match self {
            Kind::Channel => "unsubscribe",
            Kind::Pattern => "punsubscribe",
            Kind::Shard => "sunsubscribe",
        }
    }
}

/// A connection's mailbox.
#[derive(Debug, Clone)]
pub struct Subscriber {
    info: Arc<ClientInfo>,
    sender: mpsc::UnboundedSender<Reply>,
    /// Bytes of messages sent but not yet taken by the connection.
    queued_bytes: Arc<AtomicUsize>,
    /// Since when the queue has held at least the soft limit.
    over_soft_since: Arc<Mutex<Option<Instant>>>,
}

impl Subscriber {
    /// Delivers a message, or disconnects a subscriber that stopped reading.
    fn deliver(&self, message: Reply, limit: &OutputLimit) {
        if self.info.is_killed() {
            return;
        }
        let size = message_bytes(&message);
        let queued = self.queued_bytes.fetch_add(size, Ordering::AcqRel) + size;
        if self.over_limit(queued as u64, limit) || self.sender.send(message).is_err() {
            tracing::warn!(
                "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                self.info.describe()
            );
            self.info.kill();
        }
    }
}

impl Subscriber {
    /// Whether `queued` bytes break the limit: past the hard bytes, or at least the soft bytes
    /// for longer than the soft seconds.
    fn over_limit(&self, queued: u64, limit: &OutputLimit) -> bool {
        if limit.hard_bytes > 0 && queued > limit.hard_bytes {
            return true;
        }
        let mut since = self.over_soft_since.lock();
        if limit.soft_bytes == 0 || queued < limit.soft_bytes {
            *since = None;
            return false;
        }
        let start = *since.get_or_insert_with(Instant::now);
        start.elapsed() > Duration::from_secs(limit.soft_secs)
    }
}

type Subscribers = HashMap<u64, Subscriber>;

/// Every subscription of the server.
#[derive(Debug, Default)]
pub struct Hub {
    /// `client-output-buffer-limit pubsub`, set at start and by CONFIG SET.
    output_limit: parking_lot::RwLock<OutputLimit>,
    channels: Mutex<HashMap<Bytes, Subscribers>>,
    patterns: Mutex<HashMap<Bytes, Subscribers>>,
    shards: Mutex<HashMap<Bytes, Subscribers>>,
}

impl Hub {
    /// Applies `client-output-buffer-limit pubsub` to every subscriber from now on.
    pub fn set_output_limit(&self, limit: OutputLimit) {
        *self.output_limit.write() = limit;
    }

    fn table(&self, kind: Kind) -> &Mutex<HashMap<Bytes, Subscribers>> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shards,
        }
    }

    fn add(&self, kind: Kind, name: &Bytes, subscriber: &Subscriber) {
        let mut table = self.table(kind).lock();
        table
            .entry(name.clone())
            .or_default()
            .insert(subscriber.info.id, subscriber.clone());
    }

    fn remove(&self, kind: Kind, name: &[u8], client_id: u64) {
        let mut table = self.table(kind).lock();
        if let Some(subscribers) = table.get_mut(name) {
            subscribers.remove(&client_id);
            if subscribers.is_empty() {
                table.remove(name);
            }
        }
    }

    /// The subscriptions of the client `client_id`, of every kind (ACL SETUSER checks them
    /// against the user's new channel permissions).
    pub fn subscriptions_of(&self, client_id: u64) -> Vec<(Kind, Bytes)> {
        let mut found = Vec::new();
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            let table = self.table(kind).lock();
            found.extend(
                table
                    .iter()
                    .filter(|(_, subscribers)| subscribers.contains_key(&client_id))
                    .map(|(name, _)| (kind, name.clone())),
            );
        }
        found
    }

    /// PUBLISH: delivers to channel subscribers and matching patterns; returns the receivers.
    pub fn publish(&self, channel: &Bytes, payload: &Bytes) -> usize {
        let mut receivers = 0;
        let limit = *self.output_limit.read();
        if let Some(subscribers) = self.channels.lock().get(&channel[..]) {
            for subscriber in subscribers.values() {
                subscriber.deliver(
                    Reply::Push(vec![
                        Reply::text("message"),
                        Reply::Bulk(channel.clone()),
                        Reply::Bulk(payload.clone()),
                    ]),
                    &limit,
                );
                receivers += 1;
            }
        }
        for (pattern, subscribers) in self.patterns.lock().iter() {
            if !glob_match(pattern, channel, false) {
                continue;
            }
            for subscriber in subscribers.values() {
                subscriber.deliver(
                    Reply::Push(vec![
                        Reply::text("pmessage"),
                        Reply::Bulk(pattern.clone()),
                        Reply::Bulk(channel.clone()),
                        Reply::Bulk(payload.clone()),
                    ]),
                    &limit,
                );
                receivers += 1;
            }
        }
        receivers
    }

    /// SPUBLISH: delivers to the subscribers of a shard channel.
    pub fn publish_shard(&self, channel: &Bytes, payload: &Bytes) -> usize {
        let limit = *self.output_limit.read();
        let shards = self.shards.lock();
        let Some(subscribers) = shards.get(&channel[..]) else {
            return 0;
        };
        for subscriber in subscribers.values() {
            subscriber.deliver(
                Reply::Push(vec![
                    Reply::text("smessage"),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(payload.clone()),
                ]),
                &limit,
            );
        }
        subscribers.len()
    }

    /// Names in `kind` matching `pattern` (all when absent), for PUBSUB CHANNELS/SHARDCHANNELS.
    fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let table = self.table(kind).lock();
        let matching = table
            .keys()
            .filter(|name| pattern.is_none_or(|p| glob_match(p, name, false)));
        matching.cloned().collect()
    }

    fn subscriber_count(&self, kind: Kind, name: &[u8]) -> usize {
        self.table(kind).lock().get(name).map_or(0, HashMap::len)
    }

    /// Number of distinct patterns subscribed (PUBSUB NUMPAT).
    pub fn pattern_count(&self) -> usize {
        self.patterns.lock().len()
    }

    /// Number of channels with subscribers (INFO pubsub_channels).
    pub fn channel_count(&self) -> usize {
        self.channels.lock().len()
    }
}

/// Publishes the engine's keyspace notifications on `__keyspace@<db>__:<key>` (payload: the
/// event) and `__keyevent@<db>__:<event>` (payload: the key), as Redis does.
#[derive(Debug)]
pub struct KeyspaceEvents {
    pub hub: Arc<Hub>,
}

impl EventSink for KeyspaceEvents {
    fn on_event(&self, events: Events, db: usize, event: &str, key: &[u8]) {
        if events.contains(Events::KEYSPACE) {
            let mut channel = format!("__keyspace@{db}__:").into_bytes();
            channel.extend_from_slice(key);
            self.hub.publish(
                &Bytes::from(channel),
                &Bytes::copy_from_slice(event.as_bytes()),
            );
        }
        if events.contains(Events::KEYEVENT) {
            let channel = Bytes::from(format!("__keyevent@{db}__:{event}"));
            self.hub.publish(&channel, &Bytes::copy_from_slice(key));
        }
    }
}

/// A connection's subscriptions and mailbox.
#[derive(Debug)]
pub struct SubscriberState {
    subscriber: Subscriber,
    receiver: mpsc::UnboundedReceiver<Reply>,
    subscribed: [BTreeSet<Bytes>; 3],
}

impl SubscriberState {
    /// A mailbox for the client `info`.
    pub fn new(info: Arc<ClientInfo>) -> SubscriberState {
        let (sender, receiver) = mpsc::unbounded_channel();
        let subscriber = Subscriber {
            info,
            sender,
            queued_bytes: Arc::default(),
            over_soft_since: Arc::default(),
        };
        SubscriberState {
            subscriber,
            receiver,
            subscribed: Default::default(),
        }
    }

    fn set(&mut self, kind: Kind) -> &mut BTreeSet<Bytes> {
        &mut self.subscribed[kind as usize]
    }

    /// Number of subscriptions of every kind (the count in (un)subscribe replies).
    pub fn count(&self) -> usize {
        self.subscribed.iter().map(BTreeSet::len).sum()
    }

    /// Tells the client table the subscription counts (CLIENT LIST, CLIENT KILL TYPE pubsub).
    fn publish_counts(&self) {
        let [channels, patterns, shards] = &self.subscribed;
        self.subscriber
            .info
            .set_subscriptions([channels.len(), patterns.len(), shards.len()]);
    }

    /// Whether the client is subscribed to anything (RESP2 then restricts its commands).
    pub fn is_subscribed(&self) -> bool {
        self.count() > 0
    }

    /// The next message for this client.
    pub async fn next_message(&mut self) -> Option<Reply> {
        let message = self.receiver.recv().await?;
        Some(self.taken(message))
    }

    /// A message already waiting, if any.
    pub fn try_next_message(&mut self) -> Option<Reply> {
        let message = self.receiver.try_recv().ok()?;
        Some(self.taken(message))
    }

    fn taken(&self, message: Reply) -> Reply {
        self.subscriber
            .queued_bytes
            .fetch_sub(message_bytes(&message), Ordering::AcqRel);
        message
    }

    /// Drops every subscription (the connection is closing).
    pub fn leave(&mut self, hub: &Hub) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for name in std::mem::take(self.set(kind)) {
                hub.remove(kind, &name, self.subscriber.info.id);
            }
        }
        self.publish_counts();
    }
}

fn confirmation(word: &'static str, name: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::text(word),
        Reply::bulk_or_nil(name),
        Reply::Integer(count as i64),
    ])
}

/// (P|S)SUBSCRIBE: one confirmation per name.
pub fn subscribe(
    hub: &Hub,
    state: &mut SubscriberState,
    kind: Kind,
    names: &[Bytes],
) -> Vec<Reply> {
    let mut replies = Vec::with_capacity(names.len());
    for name in names {
        if state.set(kind).insert(name.clone()) {
            hub.add(kind, name, &state.subscriber);
        }
        replies.push(confirmation(
            kind.subscribe_word(),
            Some(name.clone()),
            state.count(),
        ));
    }
    state.publish_counts();
    replies
}

/// (P|S)UNSUBSCRIBE: one confirmation per name (all of the kind when none is named, or a
/// single confirmation with a nil name when there was nothing to leave).
pub fn unsubscribe(
    hub: &Hub,
    state: &mut SubscriberState,
    kind: Kind,
    names: &[Bytes],
) -> Vec<Reply> {
    let names: Vec<Bytes> = if names.is_empty() {
        state.set(kind).iter().cloned().collect()
    } else {
        names.to_vec()
    };
    if names.is_empty() {
        return vec![confirmation(kind.unsubscribe_word(), None, state.count())];
    }
    let client_id = state.subscriber.info.id;
    let replies = names
        .into_iter()
        .map(|name| {
            if state.set(kind).remove(&name) {
                hub.remove(kind, &name, client_id);
            }
            confirmation(kind.unsubscribe_word(), Some(name), state.count())
        })
        .collect();
    state.publish_counts();
    replies
}

/// PUBSUB CHANNELS | NUMSUB | NUMPAT | SHARDCHANNELS | SHARDNUMSUB | HELP.
pub fn pubsub_command(hub: &Hub, args: &[Bytes]) -> Result<Reply, CommandError> {
    let sub = &args[1];
    let rest = &args[2..];
    let names_reply = |kind| {
        if rest.len() > 1 {
            return Err(CommandError::WrongArity(format!(
                "pubsub|{}",
                String::from_utf8_lossy(sub).to_lowercase()
            )));
        }
        let names = hub.names(kind, rest.first().map(|p| &p[..]));
        Ok(Reply::Array(names.into_iter().map(Reply::Bulk).collect()))
    };
    let counts_reply = |kind| {
        let pairs = rest.iter().map(|name| {
            (
                Reply::Bulk(name.clone()),
                Reply::Integer(hub.subscriber_count(kind, name) as i64),
            )
        });
        Ok(Reply::Map(pairs.collect()))
    };
    if is_keyword(sub, "channels") {
        names_reply(Kind::Channel)
    } else if is_keyword(sub, "shardchannels") {
        names_reply(Kind::Shard)
    } else if is_keyword(sub, "numsub") {
        counts_reply(Kind::Channel)
    } else if is_keyword(sub, "shardnumsub") {
        counts_reply(Kind::Shard)
    } else if is_keyword(sub, "numpat") && rest.is_empty() {
        Ok(Reply::Integer(hub.pattern_count() as i64))
    } else {
        Err(CommandError::UnknownSubcommand {
            command: "pubsub".into(),
            subcommand: String::from_utf8_lossy(sub).into_owned(),
        })
    }
}

/// Whether a RESP2 client in subscribed state may run `name` (RESP3 clients may run anything).
pub fn allowed_while_subscribed(state: &ClientState, name: &str) -> bool {
    state.protocol == Protocol::Resp3
        || !state
            .pubsub
            .as_ref()
            .is_some_and(SubscriberState::is_subscribed)
        || matches!(
            name,
            "subscribe"
                | "psubscribe"
                | "ssubscribe"
                | "unsubscribe"
                | "punsubscribe"
                | "sunsubscribe"
                | "ping"
                | "quit"
        )
}

/// PING from a RESP2 client in subscribed state answers `["pong", message]`, as in Redis.
pub fn subscribed_ping(state: &ClientState, args: &[Bytes]) -> Option<Reply> {
    let subscribed = state
        .pubsub
        .as_ref()
        .is_some_and(SubscriberState::is_subscribed);
    if state.protocol != Protocol::Resp2 || !subscribed || args.len() > 2 {
        return None;
    }
    let message = args.get(1).cloned().unwrap_or_default();
    Some(Reply::Array(vec![
        Reply::text("pong"),
        Reply::Bulk(message),
    ]))
}
