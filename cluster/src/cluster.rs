//! The cluster state machine: the node table, the slot map, epochs, heartbeats and failure
//! detection. Inputs are [`Cluster::handle_message`], [`Cluster::tick`] and the admin commands
//! (admin.rs); outputs are drained with [`Cluster::take_outputs`].

use crate::config::{BusAddr, ClusterConfig, Endpoint};
use crate::message::{
    flags, mflags, Body, GossipEntry, Header, HeartbeatKind, Message, MessageType,
};
use crate::node::{Node, Role};
use crate::routing::{RouteNode, Routing, NO_OWNER, SLOT_COUNT};
use crate::slots::SlotSet;
use crate::NodeId;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};

/// What the driver must do after an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send `msg` to node `to` at `addr` (connect first if there is no link, reconnect if the
    /// link goes to another address).
    Send {
        to: NodeId,
        addr: BusAddr,
        msg: Box<Message>,
    },
    /// Close the link to a node that left the table or to a handshake's temporary ID. (Links
    /// opened to answer a stranger's PING or MEET may also be closed when idle if
    /// [`Cluster::node`] does not know the ID.)
    CloseLink(NodeId),
    /// Rewrite nodes.conf with [`Cluster::nodes_conf`] (atomically, fsynced).
    SaveConfig,
    /// The routing view changed: publish [`Cluster::routing`].
    RoutingChanged,
    /// Become (or stay) a replica of this primary: REPLICAOF ip port.
    Replicate {
        primary: NodeId,
        ip: String,
        port: u16,
    },
    /// Become a primary: REPLICAOF NO ONE.
    Promote,
    /// This primary lost these slots to another node: delete the keys it still has in them.
    DeleteKeysInSlots(Vec<u16>),
    /// Manual failover on a primary: refuse writes until this time (ms).
    PauseWritesUntil(u64),
    /// End of the write pause.
    Unpause,
    /// A PUBLISH / SPUBLISH from the bus, for local subscribers.
    Publish {
        channel: Vec<u8>,
        message: Vec<u8>,
        sharded: bool,
    },
}

/// Manual failover timeout (ms), as Redis.
pub(crate) const MF_TIMEOUT: u64 = 5000;
/// How long a forgotten node stays banned (ms).
pub(crate) const FORGET_BAN_MS: u64 = 60_000;
/// Delay before an orphaned primary receives a migrating replica (ms).
const MIGRATION_DELAY: u64 = 5000;

/// A replica's election in progress.
#[derive(Clone, Debug, Default)]
pub(crate) struct Election {
    pub(crate) scheduled: bool,
    pub(crate) auth_time: u64,
    pub(crate) sent: bool,
    pub(crate) epoch: u64,
    pub(crate) rank: u64,
    pub(crate) voters: BTreeSet<NodeId>,
    /// The request as first sent (re-sent as is to primaries that did not vote yet).
    pub(crate) request: Option<Header>,
    pub(crate) last_request: u64,
}

/// A manual failover in progress (on the replica or on its primary).
#[derive(Clone, Debug, Default)]
pub(crate) struct Manual {
    /// Deadline (ms); 0 when none is in progress.
    pub(crate) end: u64,
    /// Replica side: the election may start.
    pub(crate) can_start: bool,
    /// Replica side: the paused primary's offset.
    pub(crate) primary_offset: Option<u64>,
    /// Primary side: the replica taking over.
    pub(crate) replica: Option<NodeId>,
}

/// One node's view of the cluster. See the crate docs for the driver contract.
#[derive(Debug)]
pub struct Cluster {
    pub(crate) myself: NodeId,
    /// `cluster-announce-ip` (empty: peers use our connections' source address).
    pub(crate) announced_ip: String,
    pub(crate) config: ClusterConfig,
    pub(crate) nodes: BTreeMap<NodeId, Node>,
    pub(crate) slot_owner: Vec<Option<NodeId>>,
    /// Slots with an owner.
    pub(crate) assigned: usize,
    pub(crate) migrating: BTreeMap<u16, NodeId>,
    pub(crate) importing: BTreeMap<u16, NodeId>,
    pub(crate) current_epoch: u64,
    pub(crate) last_vote_epoch: u64,
    pub(crate) state_ok: bool,
    pub(crate) minority_since: u64,
    pub(crate) rng: SmallRng,
    pub(crate) outputs: Vec<Output>,
    pub(crate) version: u64,
    pub(crate) published_version: u64,
    pub(crate) save_pending: bool,
    pub(crate) repl_offset: u64,
    pub(crate) primary_link_up: bool,
    pub(crate) primary_link_down_since: u64,
    pub(crate) election: Election,
    pub(crate) manual: Manual,
    pub(crate) banned: BTreeMap<NodeId, u64>,
    pub(crate) sent_stats: [u64; MessageType::ALL.len()],
    pub(crate) received_stats: [u64; MessageType::ALL.len()],
    pub(crate) ticks: u64,
}

fn stat_index(kind: MessageType) -> usize {
    MessageType::ALL
        .iter()
        .position(|&t| t == kind)
        .unwrap_or(0)
}

impl Cluster {
    /// A fresh node alone in its cluster: a primary without slots, epoch 0.
    pub fn new(myself: NodeId, config: ClusterConfig, me: Endpoint, now_ms: u64) -> Cluster {
        // Nodes built with the same seed still draw different numbers.
        let salt = myself
            .as_bytes()
            .iter()
            .fold(0u64, |h, &b| h.rotate_left(5) ^ u64::from(b));
        let mut rng = SmallRng::seed_from_u64(config.seed ^ salt);
        let mut node = Node::new(myself, &me.ip, me.port, me.bus_port, now_ms);
        node.tls_port = me.tls_port;
        node.hostname = me.hostname;
        node.role = Role::Primary;
        node.shard_id = NodeId::random(&mut rng);
        node.link_connected = true;
        node.nofailover = config.replica_no_failover;
        let mut cluster = Cluster {
            myself,
            announced_ip: me.ip.clone(),
            config,
            nodes: BTreeMap::from([(myself, node)]),
            slot_owner: vec![None; SLOT_COUNT],
            assigned: 0,
            migrating: BTreeMap::new(),
            importing: BTreeMap::new(),
            current_epoch: 0,
            last_vote_epoch: 0,
            state_ok: false,
            minority_since: 0,
            rng,
            outputs: Vec::new(),
            version: 1,
            published_version: 0,
            save_pending: true,
            repl_offset: 0,
            primary_link_up: false,
            primary_link_down_since: now_ms,
            election: Election::default(),
            manual: Manual::default(),
            banned: BTreeMap::new(),
            sent_stats: [0; MessageType::ALL.len()],
            received_stats: [0; MessageType::ALL.len()],
            ticks: 0,
        };
        cluster.update_state(now_ms);
        cluster
    }

    /// This node's ID (CLUSTER MYID).
    pub fn myid(&self) -> NodeId {
        self.myself
    }

    /// This node's shard ID (CLUSTER MYSHARDID): shared by a primary and its replicas.
    pub fn myshardid(&self) -> NodeId {
        self.me().shard_id
    }

    /// A known node.
    pub fn node(&self, id: &NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// Every known node (this one included), by ID.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    /// The settings.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Applies new settings (CONFIG SET cluster-*); takes effect from the next input.
    pub fn set_config(&mut self, config: ClusterConfig) {
        let nofailover = config.replica_no_failover;
        self.config = config;
        self.me_mut().nofailover = nofailover;
    }

    /// Applies a new announced endpoint (CONFIG SET cluster-announce-*, or the ports after a
    /// restart); peers learn it from the next heartbeats.
    pub fn set_endpoint(&mut self, me: Endpoint) {
        self.announced_ip = me.ip.clone();
        let node = self.me_mut();
        if !me.ip.is_empty() {
            node.ip = me.ip;
        }
        node.port = me.port;
        node.tls_port = me.tls_port;
        node.bus_port = me.bus_port;
        node.hostname = me.hostname;
        self.changed();
    }

    /// Without an announced IP, the driver reports the local address of inbound bus
    /// connections: this node's IP as shown in CLUSTER NODES/SLOTS (Redis learns it from MEET).
    /// An empty address (the driver could not read it) teaches nothing.
    pub fn learn_my_ip(&mut self, local_ip: &str) {
        if !local_ip.is_empty() && self.announced_ip.is_empty() && self.me().ip != local_ip {
            self.me_mut().ip = local_ip.to_string();
            self.changed();
        }
    }

    /// `currentEpoch`.
    pub fn current_epoch(&self) -> u64 {
        self.current_epoch
    }

    /// This node's config epoch.
    pub fn config_epoch(&self) -> u64 {
        self.me().config_epoch
    }

    /// Whether this node is a primary.
    pub fn is_primary(&self) -> bool {
        self.me().is_primary()
    }

    /// The primary this node replicates.
    pub fn primary(&self) -> Option<NodeId> {
        self.me().primary
    }

    /// `cluster_state:ok`.
    pub fn state_ok(&self) -> bool {
        self.state_ok
    }

    /// The primary serving `slot`.
    pub fn slot_owner(&self, slot: u16) -> Option<NodeId> {
        self.slot_owner.get(usize::from(slot)).copied().flatten()
    }

    /// Incremented on every change of the routing view.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Outputs produced since the last call, in order.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        self.flush();
        std::mem::take(&mut self.outputs)
    }

    /// The driver's replication offset (primary: master_repl_offset; replica: processed).
    pub fn set_repl_offset(&mut self, offset: u64) {
        self.repl_offset = offset;
        if let Some(me) = self.nodes.get_mut(&self.myself) {
            me.repl_offset = offset;
        }
    }

    /// Whether this replica's link to its primary is up (for the data age of elections).
    pub fn set_primary_link(&mut self, up: bool, now_ms: u64) {
        if self.primary_link_up && !up {
            self.primary_link_down_since = now_ms;
        }
        self.primary_link_up = up;
    }

    /// The driver established a bus link to `node`.
    pub fn link_up(&mut self, node: &NodeId, now_ms: u64) {
        if let Some(n) = self.nodes.get_mut(node) {
            if !n.link_connected {
                n.link_connected = true;
                n.link_since = now_ms;
            }
        }
    }

    /// The bus link to `node` broke (the peer closed it or the connection failed). A node
    /// that hangs up is not answering: unless a PING is already pending, the PFAIL clock
    /// starts now, as if one had just been sent, rather than up to half a node timeout later
    /// when the next PING would go out. A node that is back in time answers and clears it.
    pub fn link_down(&mut self, node: &NodeId, now_ms: u64) {
        if let Some(n) = self.nodes.get_mut(node) {
            if n.id != self.myself {
                n.link_connected = false;
                if n.ping_sent == 0 && !n.handshake {
                    n.ping_sent = now_ms;
                }
            }
        }
    }

    /// Broadcasts a PUBLISH (`sharded`: to this node's shard only, as SPUBLISH, which the data
    /// path runs on a node of the channel's shard); `false` when
    /// channel and message exceed [`crate::message::MAX_PUBLISH_PAYLOAD`] and nothing was sent.
    pub fn publish(&mut self, channel: &[u8], message: &[u8], sharded: bool) -> bool {
        if channel.len().saturating_add(message.len()) > crate::message::MAX_PUBLISH_PAYLOAD {
            return false;
        }
        let body = Body::Publish {
            sharded,
            channel: channel.to_vec(),
            message: message.to_vec(),
        };
        let targets: Vec<NodeId> = if sharded {
            let shard = self.myshardid();
            self.peers()
                .filter(|n| n.shard_id == shard)
                .map(|n| n.id)
                .collect()
        } else {
            self.peers().map(|n| n.id).collect()
        };
        for to in targets {
            self.send(to, body.clone());
        }
        true
    }

    /// Builds the routing view the data path reads.
    pub fn routing(&self) -> Routing {
        let listed: Vec<&Node> = self.nodes.values().filter(|n| !n.handshake).collect();
        let index: BTreeMap<NodeId, u16> = listed
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id, i as u16))
            .collect();
        let at = |id: &NodeId| index.get(id).copied();
        let nodes = listed
            .iter()
            .map(|n| RouteNode {
                id: n.id,
                ip: n.ip.clone(),
                port: n.port,
                tls_port: n.tls_port,
                hostname: n.hostname.clone(),
                primary: n.primary.as_ref().and_then(at),
            })
            .collect();
        // Filled from each primary's slot ranges (the node table and the slot table agree).
        let mut slot_owner = vec![NO_OWNER; SLOT_COUNT].into_boxed_slice();
        for (index, node) in listed.iter().enumerate() {
            for &(start, end) in node.slots.ranges() {
                slot_owner[usize::from(start)..=usize::from(end)].fill(index as u16);
            }
        }
        let pairs = |m: &BTreeMap<u16, NodeId>| {
            m.iter().filter_map(|(&s, id)| Some((s, at(id)?))).collect()
        };
        Routing {
            myself: at(&self.myself).unwrap_or(0),
            nodes,
            slot_owner,
            migrating: pairs(&self.migrating),
            importing: pairs(&self.importing),
            ok: self.state_ok,
        }
    }

    // ----- inputs -----

    /// Processes one bus message. `peer_ip` is the source address of the connection it came
    /// on, used when the sender announces no IP.
    pub fn handle_message(&mut self, now_ms: u64, peer_ip: &str, msg: Message) {
        let now = now_ms;
        self.received_stats[stat_index(msg.kind())] += 1;
        let Message { header, body } = msg;
        if header.sender == self.myself {
            // Our own MEET or PING came back (we met our own address): drop the handshake.
            if let Body::Heartbeat { alias, .. } = &body {
                if self.nodes.get(alias).is_some_and(|n| n.handshake) {
                    self.remove_node(alias);
                }
            }
            return;
        }
        let ip = if header.ip.is_empty() {
            peer_ip.to_string()
        } else {
            header.ip.clone()
        };
        if let Body::Heartbeat { kind, alias, .. } = &body {
            self.heartbeat_preamble(now, *kind, alias, &header, &ip);
        }
        let known = self.nodes.get(&header.sender).is_some_and(|n| !n.handshake);
        if !known {
            return;
        }
        self.observe_sender(&header, &ip);
        match body {
            Body::Heartbeat {
                kind,
                gossip,
                forgotten,
                ..
            } => {
                self.process_forgotten(now, header.sender, &forgotten);
                self.process_heartbeat(now, kind, &header, &gossip)
            }
            Body::Fail { node } => self.process_fail(now, node),
            Body::Publish {
                sharded,
                channel,
                message,
            } => self.outputs.push(Output::Publish {
                channel,
                message,
                sharded,
            }),
            Body::FailoverAuthRequest => self.maybe_vote(now, &header),
            Body::FailoverAuthAck => self.count_vote(&header),
            Body::Update {
                node,
                config_epoch,
                slots,
            } => self.process_update(now, node, config_epoch, &slots),
            Body::MfStart => self.process_mfstart(now, &header),
        }
        self.update_state(now);
        self.flush();
    }

    /// Periodic work; the driver calls it every 100 ms.
    pub fn tick(&mut self, now_ms: u64) {
        let now = now_ms;
        self.ticks += 1;
        self.banned.retain(|_, until| *until > now);
        self.expire_handshakes(now);
        if self.ticks % 10 == 0 {
            self.ping_random_node(now);
        }
        let ids: Vec<NodeId> = self
            .nodes
            .keys()
            .copied()
            .filter(|id| *id != self.myself)
            .collect();
        for id in ids {
            self.node_cron(now, id);
        }
        if self.ticks % 10 == 0 {
            self.track_orphans(now);
        }
        if self.manual.end != 0 && now > self.manual.end {
            self.reset_manual_failover();
        }
        if self.me().is_replica() {
            self.fold_replication_chain(now);
            self.manual_failover_check();
            self.replica_failover(now);
            self.replica_migration(now);
        } else if let Some(replica) = self.manual.replica {
            if self.manual.end != 0 {
                self.send_heartbeat(now, HeartbeatKind::Ping, replica, None);
            }
        }
        self.update_state(now);
        self.flush();
    }

    // ----- helpers shared with admin.rs / failover.rs -----

    pub(crate) fn me(&self) -> &Node {
        // The table always holds this node (new/load insert it, forget refuses it).
        &self.nodes[&self.myself]
    }

    pub(crate) fn me_mut(&mut self) -> &mut Node {
        self.nodes
            .get_mut(&self.myself)
            .expect("myself is always in the table")
    }

    /// Nodes to talk to: everyone but this node and handshakes.
    pub(crate) fn peers(&self) -> impl Iterator<Item = &Node> {
        self.nodes
            .values()
            .filter(|n| n.id != self.myself && !n.handshake && !n.noaddr)
    }

    pub(crate) fn changed(&mut self) {
        self.version += 1;
        self.save_pending = true;
    }

    pub(crate) fn flush(&mut self) {
        if self.save_pending {
            self.save_pending = false;
            self.outputs.push(Output::SaveConfig);
        }
        if self.version != self.published_version {
            self.published_version = self.version;
            self.outputs.push(Output::RoutingChanged);
        }
    }

    /// Sets the owner of a slot, keeping nodes' slot sets in step.
    pub(crate) fn assign(&mut self, slot: u16, owner: Option<NodeId>) {
        self.assign_many(&[slot], owner);
    }

    /// Sets the owner of several slots (one node lookup per owner, not per slot).
    pub(crate) fn assign_many(&mut self, slots: &[u16], owner: Option<NodeId>) {
        let mut lost: BTreeMap<NodeId, Vec<u16>> = BTreeMap::new();
        let mut moved = Vec::with_capacity(slots.len());
        for &slot in slots {
            let Some(entry) = self.slot_owner.get_mut(usize::from(slot)) else {
                continue;
            };
            let old = std::mem::replace(entry, owner);
            match (old, owner) {
                (None, Some(_)) => self.assigned += 1,
                (Some(_), None) => self.assigned -= 1,
                _ => {}
            }
            if let Some(old) = old {
                lost.entry(old).or_default().push(slot);
            }
            moved.push(slot);
        }
        for (id, slots) in lost {
            if let Some(n) = self.nodes.get_mut(&id) {
                slots.into_iter().for_each(|s| n.slots.remove(s));
            }
        }
        if let Some(n) = owner.and_then(|id| self.nodes.get_mut(&id)) {
            moved.into_iter().for_each(|s| n.slots.insert(s));
        }
    }

    /// The config epoch the slots of `id` are claimed with (0 if unknown).
    pub(crate) fn epoch_of(&self, id: &NodeId) -> u64 {
        self.nodes.get(id).map_or(0, |n| n.config_epoch)
    }

    /// Primaries serving at least one slot.
    pub(crate) fn cluster_size(&self) -> usize {
        self.nodes
            .values()
            .filter(|n| n.is_primary() && !n.slots.is_empty())
            .count()
    }

    pub(crate) fn quorum(&self) -> usize {
        self.cluster_size() / 2 + 1
    }

    pub(crate) fn header(&self) -> Header {
        let me = self.me();
        let primary = me.primary.and_then(|p| self.nodes.get(&p));
        let (config_epoch, slots) = match (me.role, primary) {
            (Role::Replica, Some(p)) => (p.config_epoch, p.slots.clone()),
            _ => (me.config_epoch, me.slots.clone()),
        };
        let mut mflags_bits = 0;
        if me.is_primary() && self.manual.end != 0 {
            mflags_bits |= mflags::PAUSED;
        }
        Header {
            sender: self.myself,
            current_epoch: self.current_epoch,
            config_epoch,
            repl_offset: self.repl_offset,
            flags: me.wire_flags(),
            mflags: mflags_bits,
            state_ok: self.state_ok,
            primary: me.primary,
            slots,
            ip: self.announced_ip.clone(),
            port: me.port,
            tls_port: me.tls_port,
            bus_port: me.bus_port,
            hostname: me.hostname.clone(),
            shard_id: me.shard_id,
        }
    }

    pub(crate) fn send_with(&mut self, to: NodeId, addr: BusAddr, header: Header, body: Body) {
        let msg = Message { header, body };
        self.sent_stats[stat_index(msg.kind())] += 1;
        self.outputs.push(Output::Send {
            to,
            addr,
            msg: Box::new(msg),
        });
    }

    pub(crate) fn send(&mut self, to: NodeId, body: Body) {
        let Some(addr) = self.nodes.get(&to).map(Node::bus_addr) else {
            return;
        };
        let header = self.header();
        self.send_with(to, addr, header, body);
    }

    /// Sends `body` to every peer.
    pub(crate) fn broadcast(&mut self, body: Body) {
        let ids: Vec<NodeId> = self.peers().map(|n| n.id).collect();
        for id in ids {
            self.send(id, body.clone());
        }
    }

    /// PONG to everyone (after a role or slot change), as Redis.
    pub(crate) fn broadcast_pong(&mut self, now: u64) {
        let ids: Vec<NodeId> = self.peers().map(|n| n.id).collect();
        for id in ids {
            self.send_heartbeat(now, HeartbeatKind::Pong, id, Some(id));
        }
    }

    /// PING, PONG or MEET to a known node with a gossip section.
    pub(crate) fn send_heartbeat(
        &mut self,
        now: u64,
        kind: HeartbeatKind,
        to: NodeId,
        alias: Option<NodeId>,
    ) {
        let gossip = self.gossip_section(now, &to);
        let meet = self.nodes.get(&to).is_some_and(|n| n.send_meet);
        let kind = if kind == HeartbeatKind::Ping && meet {
            HeartbeatKind::Meet
        } else {
            kind
        };
        if kind != HeartbeatKind::Pong {
            if let Some(n) = self.nodes.get_mut(&to) {
                if n.ping_sent == 0 {
                    n.ping_sent = now.max(1);
                }
                n.last_ping_tx = now;
            }
        }
        let body = Body::Heartbeat {
            kind,
            alias: alias.unwrap_or(to),
            gossip,
            forgotten: self.forgotten(now),
        };
        self.send(to, body);
    }

    /// About a tenth of the known nodes (at least 3), plus every node flagged PFAIL.
    fn gossip_section(&mut self, now: u64, to: &NodeId) -> Vec<GossipEntry> {
        let myself = self.myself;
        let mut candidates: Vec<&Node> = self
            .nodes
            .values()
            .filter(|n| n.id != myself && !n.handshake && !n.noaddr && n.id != *to)
            .filter(|n| n.link_connected || !n.slots.is_empty() || n.pong_received != 0)
            .collect();
        let wanted = (self.nodes.len() / 10).max(3).min(candidates.len());
        let mut chosen: Vec<&Node> = Vec::with_capacity(wanted);
        for _ in 0..wanted {
            let at = self.rng.gen_range(0..candidates.len());
            chosen.push(candidates.swap_remove(at));
        }
        chosen.extend(candidates.into_iter().filter(|n| n.pfail));
        chosen.truncate(crate::message::MAX_GOSSIP);
        chosen
            .into_iter()
            .map(|n| GossipEntry {
                id: n.id,
                flags: n.wire_flags(),
                pong_age_ms: u32::try_from(now.saturating_sub(n.pong_received)).unwrap_or(u32::MAX),
                ip: n.ip.clone(),
                port: n.port,
                tls_port: n.tls_port,
                bus_port: n.bus_port,
            })
            .collect()
    }

    /// The banned (forgotten) nodes with the milliseconds left of their ban.
    fn forgotten(&self, now: u64) -> Vec<(NodeId, u32)> {
        self.banned
            .iter()
            .take(crate::message::MAX_GOSSIP)
            .map(|(id, until)| {
                (
                    *id,
                    u32::try_from(until.saturating_sub(now)).unwrap_or(u32::MAX),
                )
            })
            .collect()
    }

    /// A peer forgot these nodes: forget them too (never this node, the sender or our primary).
    fn process_forgotten(&mut self, now: u64, sender: NodeId, forgotten: &[(NodeId, u32)]) {
        for &(id, ttl) in forgotten {
            if id == self.myself || id == sender || self.me().primary == Some(id) || ttl == 0 {
                continue;
            }
            let ttl = u64::from(ttl).min(FORGET_BAN_MS);
            if !self.banned.contains_key(&id) && self.banned.len() >= self.config.max_nodes {
                continue;
            }
            if self.nodes.contains_key(&id) {
                self.remove_node(&id);
            }
            let until = self.banned.entry(id).or_insert(0);
            *until = (*until).max(now.saturating_add(ttl));
        }
    }

    /// Adds a node under a temporary ID and greets it; `false` if refused.
    pub(crate) fn start_handshake(
        &mut self,
        now: u64,
        ip: &str,
        port: u16,
        bus_port: u16,
        meet: bool,
    ) -> bool {
        let busy = self
            .nodes
            .values()
            .any(|n| n.handshake && n.ip == ip && n.bus_port == bus_port);
        if busy || self.nodes.len() >= self.config.max_nodes {
            return busy;
        }
        let id = NodeId::random(&mut self.rng);
        let mut node = Node::new(id, ip, port, bus_port, now);
        node.handshake = true;
        node.send_meet = meet;
        self.nodes.insert(id, node);
        let kind = if meet {
            HeartbeatKind::Meet
        } else {
            HeartbeatKind::Ping
        };
        self.send_heartbeat(now, kind, id, None);
        true
    }

    pub(crate) fn remove_node(&mut self, id: &NodeId) {
        let Some(node) = self.nodes.remove(id) else {
            return;
        };
        for slot in node.slots.iter() {
            if let Some(o) = self.slot_owner.get_mut(usize::from(slot)) {
                if o.take().is_some() {
                    self.assigned -= 1;
                }
            }
        }
        self.migrating.retain(|_, n| n != id);
        self.importing.retain(|_, n| n != id);
        for n in self.nodes.values_mut() {
            n.fail_reports.remove(id);
            if n.primary == Some(*id) && n.id != self.myself {
                n.primary = None;
            }
        }
        self.outputs.push(Output::CloseLink(*id));
        if !node.handshake {
            self.changed();
        }
    }

    // ----- message processing -----

    /// Handshake bookkeeping before the sender is looked up: MEET from a stranger starts a
    /// handshake back, a PONG renames the handshake node it answers, PING and MEET get a PONG.
    fn heartbeat_preamble(
        &mut self,
        now: u64,
        kind: HeartbeatKind,
        alias: &NodeId,
        header: &Header,
        ip: &str,
    ) {
        let sender = header.sender;
        match kind {
            HeartbeatKind::Meet => {
                let known = self.nodes.get(&sender).is_some_and(|n| !n.handshake);
                if !known && !self.banned.contains_key(&sender) {
                    self.start_handshake(now, ip, header.port, header.bus_port, false);
                }
            }
            HeartbeatKind::Pong => {
                if self.nodes.get(alias).is_some_and(|n| n.handshake) {
                    self.finish_handshake(alias, header, ip);
                }
            }
            HeartbeatKind::Ping => {}
        }
        if kind != HeartbeatKind::Pong && *alias == self.myself {
            // The sender knows us under our real ID: no need to MEET it any more.
            if let Some(n) = self.nodes.get_mut(&sender) {
                n.send_meet = false;
            }
        }
        if kind != HeartbeatKind::Pong {
            let addr = match self.nodes.get(&sender) {
                Some(n) if !n.handshake => n.bus_addr(),
                _ => BusAddr {
                    ip: ip.to_string(),
                    port: header.bus_port,
                    hostname: header.hostname.clone(),
                },
            };
            let gossip = self.gossip_section(now, &sender);
            let body = Body::Heartbeat {
                kind: HeartbeatKind::Pong,
                alias: *alias,
                gossip,
                forgotten: self.forgotten(now),
            };
            let reply_header = self.header();
            self.send_with(sender, addr, reply_header, body);
        }
    }

    /// The handshake node `temp` answered as `header.sender`: rename it (or drop it when that
    /// node is known already or banned).
    fn finish_handshake(&mut self, temp: &NodeId, header: &Header, ip: &str) {
        let sender = header.sender;
        let Some(mut node) = self.nodes.remove(temp) else {
            return;
        };
        // The driver's link under the temporary ID is not needed any more.
        self.outputs.push(Output::CloseLink(*temp));
        if self.nodes.contains_key(&sender) || self.banned.contains_key(&sender) {
            return;
        }
        node.id = sender;
        node.handshake = false;
        node.ip = ip.to_string();
        node.shard_id = header.shard_id;
        self.nodes.insert(sender, node);
        self.changed();
    }

    /// Epochs, address, liveness and role from any message of a known sender.
    fn observe_sender(&mut self, header: &Header, ip: &str) {
        if header.current_epoch > self.current_epoch {
            self.current_epoch = header.current_epoch;
            self.save_pending = true;
        }
        let Some(node) = self.nodes.get_mut(&header.sender) else {
            return;
        };
        let moved = node.ip != ip
            || node.port != header.port
            || node.tls_port != header.tls_port
            || node.bus_port != header.bus_port
            || node.hostname != header.hostname;
        if moved {
            node.ip = ip.to_string();
            node.port = header.port;
            node.tls_port = header.tls_port;
            node.bus_port = header.bus_port;
            node.hostname = header.hostname.clone();
            node.noaddr = false;
        }
        node.repl_offset = header.repl_offset;
        node.nofailover = header.flags & flags::NOFAILOVER != 0;
        let shard_moved = node.shard_id != header.shard_id;
        node.shard_id = header.shard_id;
        if moved || shard_moved {
            self.changed();
        }
        if moved && self.me().primary == Some(header.sender) {
            // Our primary moved: point replication at its new address.
            self.outputs.push(Output::Replicate {
                primary: header.sender,
                ip: ip.to_string(),
                port: header.port,
            });
        }
        if self.me().primary == Some(header.sender)
            && header.mflags & mflags::PAUSED != 0
            && self.manual.end != 0
            && self.manual.primary_offset.is_none()
        {
            self.manual.primary_offset = Some(header.repl_offset);
        }
    }

    fn process_heartbeat(
        &mut self,
        now: u64,
        kind: HeartbeatKind,
        header: &Header,
        gossip: &[GossipEntry],
    ) {
        let sender = header.sender;
        if kind == HeartbeatKind::Pong {
            if let Some(n) = self.nodes.get_mut(&sender) {
                n.pong_received = now;
                n.ping_sent = 0;
                if n.pfail {
                    n.pfail = false;
                    self.version += 1;
                }
            }
            self.clear_failure_if_needed(now, &sender);
        }
        self.update_role(header);
        let sender_is_primary = header.flags & flags::PRIMARY != 0;
        if sender_is_primary {
            if let Some(n) = self.nodes.get_mut(&sender) {
                if header.config_epoch > n.config_epoch {
                    n.config_epoch = header.config_epoch;
                    self.changed();
                }
            }
            let differs = self
                .nodes
                .get(&sender)
                .is_some_and(|n| n.slots != header.slots);
            if differs {
                self.update_slots(now, sender, header.config_epoch, &header.slots);
                self.answer_stale_claim(sender, header);
            }
        } else if let Some(n) = self.nodes.get_mut(&sender) {
            n.config_epoch = header.config_epoch;
        }
        self.epoch_collision(header);
        self.process_gossip(now, sender, sender_is_primary, gossip);
    }

    /// A primary announcing itself as a replica (or the reverse), or switching primary.
    fn update_role(&mut self, header: &Header) {
        let sender = header.sender;
        let Some(node) = self.nodes.get(&sender) else {
            return;
        };
        if header.flags & flags::PRIMARY != 0 {
            if node.role != Role::Primary {
                let n = self.nodes.get_mut(&sender).expect("checked");
                n.role = Role::Primary;
                n.primary = None;
                self.changed();
            }
            return;
        }
        if header.flags & flags::REPLICA == 0 {
            return;
        }
        let lost: Vec<u16> = if node.slots.is_empty() {
            Vec::new()
        } else {
            node.slots.iter().collect()
        };
        let was = (node.role, node.primary);
        self.assign_many(&lost, None);
        let primary = header.primary.filter(|p| *p != sender);
        if was != (Role::Replica, primary) {
            let n = self.nodes.get_mut(&sender).expect("checked");
            n.role = Role::Replica;
            n.primary = primary;
            self.changed();
        }
        if let Some(p) = primary.and_then(|p| self.nodes.get_mut(&p)) {
            p.migrate_to = true;
        }
    }

    /// Takes the slots `sender` claims with a higher config epoch than their owner's; when
    /// this node (or its primary) loses its last slot, it follows the winner as a replica.
    pub(crate) fn update_slots(&mut self, now: u64, sender: NodeId, epoch: u64, claimed: &SlotSet) {
        if sender == self.myself {
            return;
        }
        let my_primary = if self.me().is_primary() {
            Some(self.myself)
        } else {
            self.me().primary
        };
        let mut lost_mine = Vec::new();
        let mut taken_from_my_primary = 0usize;
        let mut taken = Vec::new();
        let mut epochs: BTreeMap<NodeId, u64> = BTreeMap::new();
        for slot in claimed.iter() {
            let owner = self.slot_owner(slot);
            if owner == Some(sender) || self.importing.contains_key(&slot) {
                continue;
            }
            if let Some(o) = owner {
                let owner_epoch = *epochs.entry(o).or_insert_with(|| self.epoch_of(&o));
                if owner_epoch >= epoch {
                    continue;
                }
            }
            if owner == Some(self.myself) {
                lost_mine.push(slot);
            }
            if owner.is_some() && owner == my_primary {
                taken_from_my_primary += 1;
            }
            taken.push(slot);
        }
        let touched = !taken.is_empty();
        self.assign_many(&taken, Some(sender));
        if !touched {
            return;
        }
        self.changed();
        let primary_empty = my_primary
            .and_then(|p| self.nodes.get(&p))
            .is_some_and(|p| p.slots.is_empty());
        // With cluster-allow-replica-migration no, only a takeover of all our slots (a
        // failover) makes us follow; a resharding leaves an empty primary.
        let follow = taken_from_my_primary > 0
            && primary_empty
            && (self.config.allow_replica_migration || taken_from_my_primary == claimed.len());
        if follow {
            self.follow(now, sender);
        } else if !lost_mine.is_empty() {
            self.outputs.push(Output::DeleteKeysInSlots(lost_mine));
        }
    }

    /// Become a replica of `primary` (a role change forced by the cluster configuration).
    pub(crate) fn follow(&mut self, now: u64, primary: NodeId) {
        let Some((ip, port, shard)) = self
            .nodes
            .get(&primary)
            .map(|p| (p.ip.clone(), p.port, p.shard_id))
        else {
            return;
        };
        let mine: Vec<u16> = self.me().slots.iter().collect();
        self.assign_many(&mine, None);
        self.migrating.clear();
        self.importing.clear();
        let me = self.me_mut();
        me.role = Role::Replica;
        me.primary = Some(primary);
        me.shard_id = shard;
        self.primary_link_up = false;
        self.primary_link_down_since = now;
        self.election = Election::default();
        self.reset_manual_failover();
        self.changed();
        self.outputs.push(Output::Replicate { primary, ip, port });
        self.broadcast_pong(now);
    }

    /// The sender claims slots a node with a higher config epoch serves: tell it (UPDATE).
    fn answer_stale_claim(&mut self, sender: NodeId, header: &Header) {
        let stale_owner = header.slots.iter().find_map(|slot| {
            let owner = self.slot_owner(slot)?;
            (owner != sender && self.epoch_of(&owner) > header.config_epoch).then_some(owner)
        });
        let Some(owner) = stale_owner.and_then(|o| self.nodes.get(&o)) else {
            return;
        };
        let body = Body::Update {
            node: owner.id,
            config_epoch: owner.config_epoch,
            slots: owner.slots.clone(),
        };
        self.send(sender, body);
    }

    fn process_update(&mut self, now: u64, node: NodeId, epoch: u64, slots: &SlotSet) {
        let Some(n) = self.nodes.get_mut(&node) else {
            return;
        };
        if n.config_epoch >= epoch || node == self.myself {
            return;
        }
        n.config_epoch = epoch;
        if n.role != Role::Primary {
            n.role = Role::Primary;
            n.primary = None;
        }
        self.changed();
        self.update_slots(now, node, epoch, slots);
    }

    /// Two primaries with the same config epoch: the one with the lower ID takes a new one.
    fn epoch_collision(&mut self, header: &Header) {
        let me = self.me();
        if header.flags & flags::PRIMARY == 0
            || !me.is_primary()
            || header.config_epoch != me.config_epoch
            || self.myself >= header.sender
        {
            return;
        }
        self.current_epoch = self.current_epoch.saturating_add(1);
        let epoch = self.current_epoch;
        self.me_mut().config_epoch = epoch;
        self.changed();
    }

    fn process_gossip(
        &mut self,
        now: u64,
        sender: NodeId,
        from_primary: bool,
        gossip: &[GossipEntry],
    ) {
        for g in gossip {
            if g.id == self.myself {
                continue;
            }
            match self.nodes.get(&g.id) {
                Some(n) if n.handshake => {}
                Some(_) => self.gossip_about_known(now, sender, from_primary, g),
                None => {
                    let usable =
                        g.flags & (flags::NOADDR | flags::HANDSHAKE) == 0 && !g.ip.is_empty();
                    if usable && !self.banned.contains_key(&g.id) {
                        self.start_handshake(now, &g.ip, g.port, g.bus_port, false);
                    }
                }
            }
        }
    }

    fn gossip_about_known(
        &mut self,
        now: u64,
        sender: NodeId,
        from_primary: bool,
        g: &GossipEntry,
    ) {
        let window = self.config.node_timeout_ms.saturating_mul(2);
        let Some(n) = self.nodes.get_mut(&g.id) else {
            return;
        };
        let says_failing = g.flags & (flags::PFAIL | flags::FAIL) != 0;
        if from_primary {
            if says_failing {
                n.fail_reports.insert(sender, now);
            } else {
                n.fail_reports.remove(&sender);
            }
        }
        n.fail_reports
            .retain(|_, at| now.saturating_sub(*at) <= window);
        let moved = n.ip != g.ip || n.bus_port != g.bus_port || n.port != g.port;
        if moved && n.failing() && !says_failing && g.flags & flags::NOADDR == 0 {
            n.ip = g.ip.clone();
            n.port = g.port;
            n.tls_port = g.tls_port;
            n.bus_port = g.bus_port;
            n.ping_sent = 0;
            self.changed();
        }
        if says_failing {
            self.mark_failing_if_needed(now, g.id);
        }
    }

    /// PFAIL becomes FAIL once a majority of slot-serving primaries reported it.
    pub(crate) fn mark_failing_if_needed(&mut self, now: u64, id: NodeId) {
        let quorum = self.quorum();
        let me_primary = self.me().is_primary();
        let window = self.config.node_timeout_ms.saturating_mul(2);
        let Some(n) = self.nodes.get_mut(&id) else {
            return;
        };
        if !n.pfail || n.fail {
            return;
        }
        n.fail_reports
            .retain(|_, at| now.saturating_sub(*at) <= window);
        let failures = n.fail_reports.len() + usize::from(me_primary);
        if failures < quorum {
            return;
        }
        n.pfail = false;
        n.fail = true;
        n.fail_time = now;
        self.changed();
        self.broadcast(Body::Fail { node: id });
    }

    fn process_fail(&mut self, now: u64, id: NodeId) {
        if id == self.myself {
            return;
        }
        if let Some(n) = self.nodes.get_mut(&id) {
            if !n.fail && !n.handshake {
                n.fail = true;
                n.pfail = false;
                n.fail_time = now;
                self.changed();
            }
        }
    }

    /// A FAIL node answered: replicas and slot-less primaries are cleared at once, primaries
    /// with slots once nobody took them over for twice the node timeout.
    fn clear_failure_if_needed(&mut self, now: u64, id: &NodeId) {
        let undo = self.config.node_timeout_ms.saturating_mul(2);
        let Some(n) = self.nodes.get_mut(id) else {
            return;
        };
        if !n.fail {
            return;
        }
        if n.is_replica() || n.slots.is_empty() || now.saturating_sub(n.fail_time) > undo {
            n.fail = false;
            self.changed();
        }
    }

    // ----- periodic work -----

    fn expire_handshakes(&mut self, now: u64) {
        let limit = self.config.node_timeout_ms.max(1000);
        let expired: Vec<NodeId> = self
            .nodes
            .values()
            .filter(|n| n.handshake && now.saturating_sub(n.created) > limit)
            .map(|n| n.id)
            .collect();
        for id in expired {
            self.remove_node(&id);
        }
    }

    /// Once a second: PING the node with the oldest PONG among five random ones.
    fn ping_random_node(&mut self, now: u64) {
        let candidates: Vec<NodeId> = self
            .peers()
            .filter(|n| n.ping_sent == 0)
            .map(|n| n.id)
            .collect();
        if candidates.is_empty() {
            return;
        }
        let mut best: Option<(u64, NodeId)> = None;
        for _ in 0..5 {
            let id = candidates[self.rng.gen_range(0..candidates.len())];
            let pong = self.nodes.get(&id).map_or(0, |n| n.pong_received);
            if best.is_none_or(|(p, _)| pong < p) {
                best = Some((pong, id));
            }
        }
        if let Some((_, id)) = best {
            self.send_heartbeat(now, HeartbeatKind::Ping, id, None);
        }
    }

    /// Per node: greet handshakes, PING when due, flag PFAIL when a PING went unanswered.
    fn node_cron(&mut self, now: u64, id: NodeId) {
        let timeout = self.config.node_timeout_ms;
        let Some(n) = self.nodes.get(&id) else {
            return;
        };
        if n.noaddr {
            return;
        }
        if n.handshake {
            if now.saturating_sub(n.last_ping_tx) >= 1000 {
                self.send_heartbeat(now, HeartbeatKind::Ping, id, None);
            }
            return;
        }
        let pending = n.ping_sent != 0;
        let due = !pending && now.saturating_sub(n.pong_received) > timeout / 2;
        // Resend an unanswered PING once a second: links get lost, as Redis reconnects.
        let resend = pending && now.saturating_sub(n.last_ping_tx) >= 1000;
        let expired = pending && now.saturating_sub(n.ping_sent) > timeout;
        let mark = expired && !n.failing();
        if due || resend {
            self.send_heartbeat(now, HeartbeatKind::Ping, id, None);
        }
        if mark {
            if let Some(n) = self.nodes.get_mut(&id) {
                n.pfail = true;
                self.version += 1;
            }
            self.mark_failing_if_needed(now, id);
        }
    }

    /// Notes since when each slot-serving primary has no working replica.
    fn track_orphans(&mut self, now: u64) {
        let mut ok_replicas: BTreeMap<NodeId, usize> = BTreeMap::new();
        for n in self.nodes.values() {
            if let (Role::Replica, Some(p), false) = (n.role, n.primary, n.failing()) {
                *ok_replicas.entry(p).or_default() += 1;
            }
        }
        for n in self.nodes.values_mut() {
            let ok = ok_replicas.get(&n.id).copied().unwrap_or(0);
            if ok > 0 {
                n.migrate_to = true;
            }
            let orphan =
                n.is_primary() && !n.slots.is_empty() && ok == 0 && !n.failing() && n.migrate_to;
            n.orphaned_since = if orphan {
                Some(n.orphaned_since.unwrap_or(now))
            } else {
                None
            };
        }
    }

    /// A replica whose primary turned into a replica of another node (it lost its slots while
    /// this node did not see who took them) follows that node instead: no chained replicas.
    fn fold_replication_chain(&mut self, now: u64) {
        let grand = self
            .me()
            .primary
            .and_then(|p| self.nodes.get(&p))
            .filter(|p| p.is_replica())
            .and_then(|p| p.primary)
            .filter(|g| *g != self.myself && self.nodes.get(g).is_some_and(Node::is_primary));
        if let Some(grand) = grand {
            self.follow(now, grand);
        }
    }

    /// Working replicas of `primary`.
    pub(crate) fn ok_replicas(&self, primary: &NodeId) -> Vec<NodeId> {
        self.nodes
            .values()
            .filter(|n| n.is_replica() && n.primary == Some(*primary) && !n.failing())
            .map(|n| n.id)
            .collect()
    }

    /// Replica migration: a replica of the best-served primary moves to an orphaned one.
    fn replica_migration(&mut self, now: u64) {
        if !self.config.allow_replica_migration || self.manual.end != 0 {
            return;
        }
        let Some(primary) = self.me().primary else {
            return;
        };
        if self
            .nodes
            .get(&primary)
            .is_none_or(|p| p.failing() || p.slots.is_empty())
        {
            return;
        }
        if self.ok_replicas(&primary).len() <= self.config.migration_barrier {
            return;
        }
        let primaries: Vec<NodeId> = self
            .nodes
            .values()
            .filter(|n| n.is_primary() && !n.slots.is_empty())
            .map(|n| n.id)
            .collect();
        let counts: Vec<(NodeId, Vec<NodeId>)> = primaries
            .iter()
            .map(|p| (*p, self.ok_replicas(p)))
            .collect();
        let max = counts.iter().map(|(_, r)| r.len()).max().unwrap_or(0);
        let candidate = counts
            .iter()
            .filter(|(_, r)| r.len() == max)
            .flat_map(|(_, r)| r.iter().copied())
            .min();
        let target = self.nodes.values().find(|n| {
            n.orphaned_since
                .is_some_and(|since| now.saturating_sub(since) > MIGRATION_DELAY)
        });
        if let (Some(target), Some(candidate)) = (target.map(|t| t.id), candidate) {
            if candidate == self.myself {
                self.follow(now, target);
            }
        }
    }

    /// `cluster_state`: every slot served by a non-failing primary (unless full coverage is
    /// not required) and a majority of primaries reachable; back to ok only after the rejoin
    /// delay when this primary was in a minority.
    pub(crate) fn update_state(&mut self, now: u64) {
        let mut ok = true;
        if self.config.require_full_coverage {
            ok = self.assigned == SLOT_COUNT
                && self.nodes.values().all(|n| !n.fail || n.slots.is_empty());
        }
        let size = self.cluster_size();
        let reachable = self
            .nodes
            .values()
            .filter(|n| n.is_primary() && !n.slots.is_empty() && !n.failing())
            .count();
        if reachable < size / 2 + 1 {
            ok = false;
            self.minority_since = now;
        }
        let rejoin = self.config.node_timeout_ms.clamp(500, 5000);
        if ok
            && !self.state_ok
            && self.me().is_primary()
            && self.minority_since != 0
            && now.saturating_sub(self.minority_since) < rejoin
        {
            return;
        }
        if ok != self.state_ok {
            self.state_ok = ok;
            self.version += 1;
        }
    }
}
