//! Cluster bus messages and their binary encoding (docs/CLUSTER_BUS.md).
//!
//! Every frame is `signature, total length, version, type, header, body`, big-endian. Decoding
//! checks the frame length before parsing and never trusts a length field beyond the frame, so
//! arbitrary bytes produce an error, never a panic or an unbounded allocation.

use crate::routing::SLOT_COUNT;
use crate::slots::SlotSet;
use crate::NodeId;
use std::fmt;

/// First four bytes of every frame.
pub const SIGNATURE: &[u8; 4] = b"SKCB";
/// Format version written and accepted.
pub const VERSION: u16 = 1;
/// Largest frame accepted or written (bytes): a driver buffers at most this much per link.
pub const MAX_FRAME: usize = 16 << 20;
/// Largest channel + message of a PUBLISH (the rest of the frame stays below 64 KiB).
pub const MAX_PUBLISH_PAYLOAD: usize = MAX_FRAME - (64 << 10);
/// Largest gossip section accepted.
pub const MAX_GOSSIP: usize = 1024;
/// Most slot ranges in one slot set (every other slot).
pub const MAX_RANGES: usize = SLOT_COUNT / 2;
/// Longest announced IP text.
pub const MAX_IP_LEN: usize = 46;
/// Longest announced hostname.
pub const MAX_HOSTNAME_LEN: usize = 255;

/// Node flag bits of headers and gossip entries.
pub mod flags {
    pub const PRIMARY: u16 = 1;
    pub const REPLICA: u16 = 2;
    pub const PFAIL: u16 = 4;
    pub const FAIL: u16 = 8;
    pub const HANDSHAKE: u16 = 16;
    pub const NOADDR: u16 = 32;
    pub const NOFAILOVER: u16 = 64;
}

/// Manual failover bits of the header.
pub mod mflags {
    /// The sender (a primary in a manual failover) has paused its writes.
    pub const PAUSED: u8 = 1;
    /// The sender (a replica) asks for a vote although its primary is not failing.
    pub const FORCEACK: u8 = 2;
}

/// Message types, numbered as Redis numbers its bus messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageType {
    Ping = 0,
    Pong = 1,
    Meet = 2,
    Fail = 3,
    Publish = 4,
    FailoverAuthRequest = 5,
    FailoverAuthAck = 6,
    Update = 7,
    MfStart = 8,
    PublishShard = 10,
}

impl MessageType {
    /// Every type, in CLUSTER INFO order.
    pub const ALL: [MessageType; 10] = [
        MessageType::Ping,
        MessageType::Pong,
        MessageType::Meet,
        MessageType::Fail,
        MessageType::Publish,
        MessageType::FailoverAuthRequest,
        MessageType::FailoverAuthAck,
        MessageType::Update,
        MessageType::MfStart,
        MessageType::PublishShard,
    ];

    /// The name CLUSTER INFO uses in `cluster_stats_messages_<name>_sent`.
    pub fn stat_name(self) -> &'static str {
        match self {
            MessageType::Ping => "ping",
            MessageType::Pong => "pong",
            MessageType::Meet => "meet",
            MessageType::Fail => "fail",
            MessageType::Publish => "publish",
            MessageType::FailoverAuthRequest => "auth-req",
            MessageType::FailoverAuthAck => "auth-ack",
            MessageType::Update => "update",
            MessageType::MfStart => "mfstart",
            MessageType::PublishShard => "publishshard",
        }
    }

    fn from_code(code: u16) -> Option<MessageType> {
        MessageType::ALL.into_iter().find(|t| *t as u16 == code)
    }
}

/// What every message says about its sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub sender: NodeId,
    pub current_epoch: u64,
    /// The sender's config epoch, or its primary's when the sender is a replica.
    pub config_epoch: u64,
    pub repl_offset: u64,
    /// [`flags`] bits describing the sender.
    pub flags: u16,
    /// [`mflags`] bits.
    pub mflags: u8,
    /// Whether the sender sees `cluster_state:ok`.
    pub state_ok: bool,
    /// The sender's primary when it is a replica.
    pub primary: Option<NodeId>,
    /// Slots the sender serves (a replica sends its primary's).
    pub slots: SlotSet,
    /// Announced IP; empty: use the address the connection comes from.
    pub ip: String,
    pub port: u16,
    pub tls_port: u16,
    pub bus_port: u16,
    pub hostname: String,
    pub shard_id: NodeId,
}

/// One node described in a heartbeat's gossip section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GossipEntry {
    pub id: NodeId,
    /// [`flags`] bits as the sender sees the node.
    pub flags: u16,
    /// Milliseconds since the sender received the node's last PONG (saturated), so receivers
    /// need no synchronised clock.
    pub pong_age_ms: u32,
    pub ip: String,
    pub port: u16,
    pub tls_port: u16,
    pub bus_port: u16,
}

/// Per-type content of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// PING, PONG and MEET. `alias` is the ID under which the receiver knows the sender: for a
    /// PING or MEET the ID the sender believes the receiver has (a temporary one during a
    /// handshake), echoed back in the PONG that answers it, so a handshake node can be renamed.
    ///
    /// `forgotten` lists the nodes the sender was told to CLUSTER FORGET with the milliseconds
    /// left of their ban, so one FORGET spreads to the whole cluster (as Redis 7.2).
    Heartbeat {
        kind: HeartbeatKind,
        alias: NodeId,
        gossip: Vec<GossipEntry>,
        forgotten: Vec<(NodeId, u32)>,
    },
    /// The sender's cluster agreed that `node` is failing.
    Fail { node: NodeId },
    /// A PUBLISH (`sharded`: SPUBLISH) to deliver to local subscribers.
    Publish {
        sharded: bool,
        channel: Vec<u8>,
        message: Vec<u8>,
    },
    /// A replica asks for a vote (header: its epoch, its primary's slots).
    FailoverAuthRequest,
    /// A primary grants its vote.
    FailoverAuthAck,
    /// `node` serves `slots` with `config_epoch`: the receiver's claim is stale.
    Update {
        node: NodeId,
        config_epoch: u64,
        slots: SlotSet,
    },
    /// A replica asks its primary to start a manual failover.
    MfStart,
}

/// The three heartbeat types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeartbeatKind {
    Ping,
    Pong,
    Meet,
}

/// A bus message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub body: Body,
}

/// Why a frame could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BusError {
    BadSignature,
    UnsupportedVersion(u16),
    /// Length field below the fixed header or above [`MAX_FRAME`].
    BadLength(u64),
    UnknownType(u16),
    /// The frame ends before its fields do.
    Truncated,
    /// A field holds an impossible value (bad node ID, text not UTF-8, too long, ...).
    BadField(&'static str),
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BusError::BadSignature => f.write_str("bad bus frame signature"),
            BusError::UnsupportedVersion(v) => write!(f, "unsupported bus version {v}"),
            BusError::BadLength(n) => write!(f, "bad bus frame length {n}"),
            BusError::UnknownType(t) => write!(f, "unknown bus message type {t}"),
            BusError::Truncated => f.write_str("truncated bus frame"),
            BusError::BadField(name) => write!(f, "bad bus field {name}"),
        }
    }
}

impl std::error::Error for BusError {}

/// Bytes before the header: signature, length, version, type.
const PREAMBLE: usize = 12;

impl Message {
    /// The message's type.
    pub fn kind(&self) -> MessageType {
        match &self.body {
            Body::Heartbeat { kind, .. } => match kind {
                HeartbeatKind::Ping => MessageType::Ping,
                HeartbeatKind::Pong => MessageType::Pong,
                HeartbeatKind::Meet => MessageType::Meet,
            },
            Body::Fail { .. } => MessageType::Fail,
            Body::Publish { sharded: false, .. } => MessageType::Publish,
            Body::Publish { sharded: true, .. } => MessageType::PublishShard,
            Body::FailoverAuthRequest => MessageType::FailoverAuthRequest,
            Body::FailoverAuthAck => MessageType::FailoverAuthAck,
            Body::Update { .. } => MessageType::Update,
            Body::MfStart => MessageType::MfStart,
        }
    }

    /// Appends the frame to `out`. Texts longer than their limits are cut, gossip sections
    /// beyond [`MAX_GOSSIP`] entries are cut; PUBLISH payloads beyond
    /// [`MAX_PUBLISH_PAYLOAD`] are refused earlier by [`crate::Cluster::publish`].
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(SIGNATURE);
        out.extend_from_slice(&[0; 4]);
        put_u16(out, VERSION);
        put_u16(out, self.kind() as u16);
        encode_header(&self.header, out);
        encode_body(&self.body, out);
        let len = u32::try_from(out.len() - start).unwrap_or(u32::MAX);
        out[start + 4..start + 8].copy_from_slice(&len.to_be_bytes());
    }

    /// Decodes the frame at the start of `buf`: `Ok(None)` when more bytes are needed,
    /// `Ok(Some((message, consumed)))` otherwise. An error means the stream is unusable.
    pub fn decode(buf: &[u8]) -> Result<Option<(Message, usize)>, BusError> {
        if buf.len() < 8 {
            return match buf.iter().zip(SIGNATURE).all(|(a, b)| a == b) {
                true => Ok(None),
                false => Err(BusError::BadSignature),
            };
        }
        if &buf[..4] != SIGNATURE {
            return Err(BusError::BadSignature);
        }
        let len = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
        if !(PREAMBLE..=MAX_FRAME).contains(&len) {
            return Err(BusError::BadLength(len as u64));
        }
        let Some(frame) = buf.get(..len) else {
            return Ok(None);
        };
        let mut r = Reader { buf: &frame[8..] };
        let version = r.u16()?;
        if version != VERSION {
            return Err(BusError::UnsupportedVersion(version));
        }
        let code = r.u16()?;
        let kind = MessageType::from_code(code).ok_or(BusError::UnknownType(code))?;
        let header = decode_header(&mut r)?;
        let body = decode_body(kind, &mut r)?;
        Ok(Some((Message { header, body }, len)))
    }
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_text(out: &mut Vec<u8>, text: &str, max: usize) {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out.push(end as u8);
    out.extend_from_slice(&text.as_bytes()[..end]);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, u32::try_from(bytes.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(bytes);
}

/// Slots as a count of ranges and inclusive (start, end) pairs.
fn put_slots(out: &mut Vec<u8>, slots: &SlotSet) {
    let ranges = slots.ranges();
    put_u16(out, ranges.len() as u16);
    for &(start, end) in ranges {
        put_u16(out, start);
        put_u16(out, end);
    }
}

fn put_id(out: &mut Vec<u8>, id: &NodeId) {
    out.extend_from_slice(id.as_bytes());
}

fn encode_header(h: &Header, out: &mut Vec<u8>) {
    put_id(out, &h.sender);
    put_u64(out, h.current_epoch);
    put_u64(out, h.config_epoch);
    put_u64(out, h.repl_offset);
    put_u16(out, h.flags);
    out.push(h.mflags);
    out.push(u8::from(h.state_ok));
    match &h.primary {
        Some(id) => {
            out.push(1);
            put_id(out, id);
        }
        None => out.push(0),
    }
    put_slots(out, &h.slots);
    put_text(out, &h.ip, MAX_IP_LEN);
    put_u16(out, h.port);
    put_u16(out, h.tls_port);
    put_u16(out, h.bus_port);
    put_text(out, &h.hostname, MAX_HOSTNAME_LEN);
    put_id(out, &h.shard_id);
}

fn encode_body(body: &Body, out: &mut Vec<u8>) {
    match body {
        Body::Heartbeat {
            alias,
            gossip,
            forgotten,
            ..
        } => {
            put_id(out, alias);
            let n = gossip.len().min(MAX_GOSSIP);
            put_u16(out, n as u16);
            for g in &gossip[..n] {
                put_id(out, &g.id);
                put_u16(out, g.flags);
                put_u32(out, g.pong_age_ms);
                put_text(out, &g.ip, MAX_IP_LEN);
                put_u16(out, g.port);
                put_u16(out, g.tls_port);
                put_u16(out, g.bus_port);
            }
            let n = forgotten.len().min(MAX_GOSSIP);
            put_u16(out, n as u16);
            for (id, ttl) in &forgotten[..n] {
                put_id(out, id);
                put_u32(out, *ttl);
            }
        }
        Body::Fail { node } => put_id(out, node),
        Body::Publish {
            channel, message, ..
        } => {
            put_bytes(out, channel);
            put_bytes(out, message);
        }
        Body::FailoverAuthRequest | Body::FailoverAuthAck | Body::MfStart => {}
        Body::Update {
            node,
            config_epoch,
            slots,
        } => {
            put_id(out, node);
            put_u64(out, *config_epoch);
            put_slots(out, slots);
        }
    }
}

/// A cursor over one frame; every read is bounds-checked.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BusError> {
        if self.buf.len() < n {
            return Err(BusError::Truncated);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], BusError> {
        self.take(N)?.try_into().map_err(|_| BusError::Truncated)
    }

    fn u8(&mut self) -> Result<u8, BusError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, BusError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, BusError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, BusError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn id(&mut self, what: &'static str) -> Result<NodeId, BusError> {
        NodeId::parse(self.take(crate::node_id::NODE_ID_LEN)?).ok_or(BusError::BadField(what))
    }

    fn text(&mut self, max: usize, what: &'static str) -> Result<String, BusError> {
        let len = usize::from(self.u8()?);
        if len > max {
            return Err(BusError::BadField(what));
        }
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| BusError::BadField(what))
    }

    fn bytes(&mut self) -> Result<Vec<u8>, BusError> {
        let len = self.u32()? as usize;
        Ok(self.take(len)?.to_vec())
    }

    fn slots(&mut self) -> Result<SlotSet, BusError> {
        let count = usize::from(self.u16()?);
        if count > MAX_RANGES {
            return Err(BusError::BadField("slot range count"));
        }
        let mut ranges = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            let (start, end) = (self.u16()?, self.u16()?);
            if start > end || usize::from(end) >= SLOT_COUNT {
                return Err(BusError::BadField("slot range"));
            }
            ranges.push((start, end));
        }
        Ok(SlotSet::from_ranges(&ranges))
    }
}

fn decode_header(r: &mut Reader<'_>) -> Result<Header, BusError> {
    let sender = r.id("sender")?;
    let current_epoch = r.u64()?;
    let config_epoch = r.u64()?;
    let repl_offset = r.u64()?;
    let flags = r.u16()?;
    let mflags = r.u8()?;
    let state_ok = r.u8()? != 0;
    let primary = match r.u8()? {
        0 => None,
        1 => Some(r.id("primary")?),
        _ => return Err(BusError::BadField("primary")),
    };
    Ok(Header {
        sender,
        current_epoch,
        config_epoch,
        repl_offset,
        flags,
        mflags,
        state_ok,
        primary,
        slots: r.slots()?,
        ip: r.text(MAX_IP_LEN, "ip")?,
        port: r.u16()?,
        tls_port: r.u16()?,
        bus_port: r.u16()?,
        hostname: r.text(MAX_HOSTNAME_LEN, "hostname")?,
        shard_id: r.id("shard id")?,
    })
}

fn decode_body(kind: MessageType, r: &mut Reader<'_>) -> Result<Body, BusError> {
    Ok(match kind {
        MessageType::Ping => decode_heartbeat(HeartbeatKind::Ping, r)?,
        MessageType::Pong => decode_heartbeat(HeartbeatKind::Pong, r)?,
        MessageType::Meet => decode_heartbeat(HeartbeatKind::Meet, r)?,
        MessageType::Fail => Body::Fail {
            node: r.id("failing node")?,
        },
        MessageType::Publish | MessageType::PublishShard => Body::Publish {
            sharded: kind == MessageType::PublishShard,
            channel: r.bytes()?,
            message: r.bytes()?,
        },
        MessageType::FailoverAuthRequest => Body::FailoverAuthRequest,
        MessageType::FailoverAuthAck => Body::FailoverAuthAck,
        MessageType::MfStart => Body::MfStart,
        MessageType::Update => Body::Update {
            node: r.id("update node")?,
            config_epoch: r.u64()?,
            slots: r.slots()?,
        },
    })
}

fn decode_heartbeat(kind: HeartbeatKind, r: &mut Reader<'_>) -> Result<Body, BusError> {
    let alias = r.id("alias")?;
    let count = usize::from(r.u16()?);
    if count > MAX_GOSSIP {
        return Err(BusError::BadField("gossip count"));
    }
    let mut gossip = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        gossip.push(GossipEntry {
            id: r.id("gossip id")?,
            flags: r.u16()?,
            pong_age_ms: r.u32()?,
            ip: r.text(MAX_IP_LEN, "gossip ip")?,
            port: r.u16()?,
            tls_port: r.u16()?,
            bus_port: r.u16()?,
        });
    }
    let count = usize::from(r.u16()?);
    if count > MAX_GOSSIP {
        return Err(BusError::BadField("forgotten count"));
    }
    let mut forgotten = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        forgotten.push((r.id("forgotten id")?, r.u32()?));
    }
    Ok(Body::Heartbeat {
        kind,
        alias,
        gossip,
        forgotten,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id_from(seed: u64) -> NodeId {
        use rand::SeedableRng;
        NodeId::random(&mut rand::rngs::SmallRng::seed_from_u64(seed))
    }

    fn header_strategy() -> impl Strategy<Value = Header> {
        (
            any::<(u64, u64, u64, u64, u16, u8, bool)>(),
            proptest::option::of(any::<u64>()),
            proptest::collection::vec(0u16..16384, 0..20),
            "[0-9a-f.:]{0,46}",
            any::<(u16, u16, u16)>(),
            "[a-z0-9.-]{0,40}",
        )
            .prop_map(|(a, primary, slots, ip, ports, hostname)| {
                let mut set = SlotSet::default();
                slots.into_iter().for_each(|s| set.insert(s));
                Header {
                    sender: id_from(a.0),
                    current_epoch: a.1,
                    config_epoch: a.2,
                    repl_offset: a.3,
                    flags: a.4,
                    mflags: a.5,
                    state_ok: a.6,
                    primary: primary.map(id_from),
                    slots: set,
                    ip,
                    port: ports.0,
                    tls_port: ports.1,
                    bus_port: ports.2,
                    hostname,
                    shard_id: id_from(a.0 ^ 1),
                }
            })
    }

    fn gossip_strategy() -> impl Strategy<Value = GossipEntry> {
        (
            any::<(u64, u16, u32)>(),
            "[0-9.]{0,15}",
            any::<(u16, u16, u16)>(),
        )
            .prop_map(|(a, ip, p)| GossipEntry {
                id: id_from(a.0),
                flags: a.1,
                pong_age_ms: a.2,
                ip,
                port: p.0,
                tls_port: p.1,
                bus_port: p.2,
            })
    }

    fn body_strategy() -> impl Strategy<Value = Body> {
        prop_oneof![
            (
                0u8..3,
                any::<u64>(),
                proptest::collection::vec(gossip_strategy(), 0..8),
                proptest::collection::vec(any::<(u64, u32)>(), 0..3)
            )
                .prop_map(|(k, alias, gossip, forgotten)| Body::Heartbeat {
                    kind: [
                        HeartbeatKind::Ping,
                        HeartbeatKind::Pong,
                        HeartbeatKind::Meet
                    ][usize::from(k)],
                    alias: id_from(alias),
                    gossip,
                    forgotten: forgotten
                        .into_iter()
                        .map(|(n, t)| (id_from(n), t))
                        .collect(),
                }),
            any::<u64>().prop_map(|n| Body::Fail { node: id_from(n) }),
            (any::<bool>(), any::<Vec<u8>>(), any::<Vec<u8>>()).prop_map(
                |(sharded, channel, message)| Body::Publish {
                    sharded,
                    channel,
                    message
                }
            ),
            Just(Body::FailoverAuthRequest),
            Just(Body::FailoverAuthAck),
            Just(Body::MfStart),
            (any::<u64>(), any::<u64>(), 0u16..16384).prop_map(|(n, e, s)| {
                let mut slots = SlotSet::default();
                slots.insert(s);
                Body::Update {
                    node: id_from(n),
                    config_epoch: e,
                    slots,
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(header in header_strategy(), body in body_strategy(), cut in any::<usize>()) {
            let msg = Message { header, body };
            let mut buf = Vec::new();
            msg.encode(&mut buf);
            buf.extend_from_slice(b"SKCB");
            let (back, used) = Message::decode(&buf).expect("valid").expect("complete");
            prop_assert_eq!(&back, &msg);
            prop_assert_eq!(used, buf.len() - 4);
            let cut = cut % used;
            prop_assert_eq!(Message::decode(&buf[..cut]), Ok(None));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let _ = Message::decode(&bytes);
            let mut framed = b"SKCB".to_vec();
            framed.extend_from_slice(&((bytes.len() + 8) as u32).to_be_bytes());
            framed.extend_from_slice(&bytes);
            let _ = Message::decode(&framed);
        }
    }

    #[test]
    fn rejects_bad_frames() {
        assert_eq!(
            Message::decode(b"XXXXXXXXXXXX"),
            Err(BusError::BadSignature)
        );
        assert_eq!(Message::decode(b"SK"), Ok(None));
        let mut huge = b"SKCB".to_vec();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            Message::decode(&huge),
            Err(BusError::BadLength(u32::MAX as u64))
        );
        let mut bad_type = b"SKCB".to_vec();
        bad_type.extend_from_slice(&14u32.to_be_bytes());
        bad_type.extend_from_slice(&[0, 1, 0, 9, 0, 0]);
        assert_eq!(Message::decode(&bad_type), Err(BusError::UnknownType(9)));
    }
}
