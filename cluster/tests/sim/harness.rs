//! The simulator: many `Cluster`s in one process on virtual time, a seeded network that
//! loses, delays, duplicates and partitions bus frames (every frame goes through the real
//! encoder and decoder), crashes and restarts from the last saved nodes.conf, clock jumps and
//! replication offsets that advance. Invariants are checked after every step.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use slotkv_cluster::{
    Body, BusAddr, Cluster, ClusterConfig, Endpoint, Message, NodeId, Output, SlotSet,
};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// Virtual time of a step (the driver's tick period).
pub const STEP_MS: u64 = 100;
const START_MS: u64 = 1_000_000;
const CLIENT_PORT: u16 = 6379;
const BUS_PORT: u16 = 16379;

/// Network faults.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    pub loss: f64,
    pub dup: f64,
    pub max_delay_ms: u64,
}

/// Something the sim saw a node do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Promoted {
        node: usize,
        at: u64,
    },
    Replicates {
        node: usize,
        primary: NodeId,
        at: u64,
    },
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Packet {
    at: u64,
    seq: u64,
    from: usize,
    to_ip: String,
    to_port: u16,
    to_hostname: String,
    bytes: Vec<u8>,
}

/// One simulated server.
#[derive(Debug)]
pub struct SimNode {
    pub cluster: Option<Cluster>,
    /// Last nodes.conf the node saved.
    pub conf: String,
    pub me: Endpoint,
    pub offset: u64,
    pub paused_until: u64,
    pub skew: i64,
    /// The replication link to its primary is down (the bus still works).
    pub repl_down: bool,
    incarnation: u64,
    seen: (u64, u64),
    max_epochs: (u64, u64),
    last_primary: Option<NodeId>,
}

/// The whole simulated deployment.
#[derive(Debug)]
pub struct Sim {
    pub seed: u64,
    pub now: u64,
    pub rng: SmallRng,
    pub nodes: Vec<SimNode>,
    pub config: ClusterConfig,
    pub faults: Faults,
    /// Directed pairs (from, to) whose frames are dropped.
    pub blocked: BTreeSet<(usize, usize)>,
    pub events: Vec<Event>,
    /// Slot-serving primaries a healthy cluster has (the failover majority is computed on it).
    pub shards: usize,
    /// Nodes that were made part of the cluster (agreement is checked among them).
    pub joined: BTreeSet<usize>,
    /// Nodes announce their IP (`cluster-announce-ip`); otherwise peers use the source
    /// address and each node learns its own from inbound connections.
    pub announce: bool,
    /// Set while a manual failover runs (votes are then forced, not FAIL-based).
    pub manual: bool,
    queue: BinaryHeap<Reverse<Packet>>,
    seq: u64,
    /// Per config epoch, the slots each primary claimed with it.
    claims: BTreeMap<u64, BTreeMap<NodeId, SlotSet>>,
    pub messages: u64,
    /// Votes granted: (candidate, epoch) -> voters that flagged the candidate's primary FAIL.
    votes: BTreeMap<(NodeId, u64), BTreeSet<NodeId>>,
}

impl Sim {
    pub fn new(seed: u64, count: usize, config: ClusterConfig) -> Sim {
        let mut sim = Sim {
            seed,
            now: START_MS,
            rng: SmallRng::seed_from_u64(seed),
            nodes: Vec::new(),
            config,
            faults: Faults::default(),
            blocked: BTreeSet::new(),
            events: Vec::new(),
            shards: 0,
            manual: false,
            announce: true,
            joined: BTreeSet::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            claims: BTreeMap::new(),
            messages: 0,
            votes: BTreeMap::new(),
        };
        for i in 0..count {
            let me = Endpoint {
                ip: format!("10.0.{}.{}", i / 200, i % 200 + 1),
                port: CLIENT_PORT,
                tls_port: 0,
                bus_port: BUS_PORT,
                hostname: format!("node-{i}"),
            };
            let id = NodeId::random(&mut sim.rng);
            let cluster = Cluster::new(id, sim.node_config(i, 0), me.clone(), START_MS);
            sim.nodes.push(SimNode {
                conf: cluster.nodes_conf(),
                cluster: Some(cluster),
                me,
                offset: 0,
                paused_until: 0,
                skew: 0,
                repl_down: false,
                incarnation: 0,
                seen: (0, 0),
                max_epochs: (0, 0),
                last_primary: None,
            });
        }
        sim
    }

    fn node_config(&self, i: usize, incarnation: u64) -> ClusterConfig {
        ClusterConfig {
            seed: self.seed ^ ((i as u64) << 20) ^ (incarnation << 40),
            ..self.config.clone()
        }
    }

    pub fn local_time(&self, i: usize, at: u64) -> u64 {
        at.saturating_add_signed(self.nodes[i].skew)
    }

    pub fn cluster(&self, i: usize) -> &Cluster {
        self.nodes[i].cluster.as_ref().expect("node is up")
    }

    pub fn alive(&self, i: usize) -> bool {
        self.nodes[i].cluster.is_some()
    }

    pub fn id(&self, i: usize) -> NodeId {
        self.cluster(i).myid()
    }

    pub fn index_of(&self, id: NodeId) -> Option<usize> {
        (0..self.nodes.len()).find(|&i| self.alive(i) && self.id(i) == id)
    }

    /// Runs an admin command on node `i` (at its local time) and processes its outputs.
    pub fn admin<T>(&mut self, i: usize, f: impl FnOnce(&mut Cluster, u64) -> T) -> T {
        let t = self.local_time(i, self.now);
        let cluster = self.nodes[i].cluster.as_mut().expect("node is up");
        let result = f(cluster, t);
        self.drain(i);
        result
    }

    pub fn crash(&mut self, i: usize) {
        self.nodes[i].cluster = None;
    }

    /// Restarts a crashed node from its saved nodes.conf, optionally at a new IP.
    pub fn restart(&mut self, i: usize, new_ip: Option<String>) -> Result<(), String> {
        if let Some(ip) = new_ip {
            self.nodes[i].me.ip = ip;
        }
        self.nodes[i].incarnation += 1;
        let config = self.node_config(i, self.nodes[i].incarnation);
        let t = self.local_time(i, self.now);
        let endpoint = self.endpoint(i);
        let node = &mut self.nodes[i];
        let cluster = Cluster::load(&node.conf, config, endpoint, t)
            .map_err(|e| format!("node {i} cannot load its nodes.conf: {e}"))?;
        node.cluster = Some(cluster);
        node.paused_until = 0;
        self.drain(i);
        Ok(())
    }

    /// What node `i` is configured with (no IP unless announcing).
    pub fn endpoint(&self, i: usize) -> Endpoint {
        let mut me = self.nodes[i].me.clone();
        if !self.announce {
            me.ip.clear();
        }
        me
    }

    /// From now on nodes do not announce their IP.
    pub fn stop_announcing(&mut self) {
        self.announce = false;
        for i in 0..self.nodes.len() {
            let me = self.endpoint(i);
            if let Some(c) = self.nodes[i].cluster.as_mut() {
                c.set_endpoint(me);
            }
        }
    }

    /// Cuts `i` off from everyone (both directions).
    pub fn isolate(&mut self, i: usize) {
        for j in 0..self.nodes.len() {
            if j != i {
                self.blocked.insert((i, j));
                self.blocked.insert((j, i));
            }
        }
    }

    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    fn drain(&mut self, i: usize) {
        let Some(cluster) = self.nodes[i].cluster.as_mut() else {
            return;
        };
        let outputs = cluster.take_outputs();
        for out in outputs {
            self.apply(i, out);
        }
    }

    fn apply(&mut self, i: usize, out: Output) {
        match out {
            Output::Send { to, addr, msg } => {
                if msg.body == Body::FailoverAuthAck {
                    self.record_vote(i, to, &msg);
                }
                self.transmit(i, &addr, &msg)
            }
            Output::SaveConfig => {
                if let Some(c) = &self.nodes[i].cluster {
                    self.nodes[i].conf = c.nodes_conf();
                }
            }
            Output::Replicate { primary, .. } => self.events.push(Event::Replicates {
                node: i,
                primary,
                at: self.now,
            }),
            Output::Promote => self.events.push(Event::Promoted {
                node: i,
                at: self.now,
            }),
            Output::PauseWritesUntil(t) => self.nodes[i].paused_until = t,
            Output::Unpause => self.nodes[i].paused_until = 0,
            _ => {}
        }
    }

    fn transmit(&mut self, from: usize, addr: &BusAddr, msg: &Message) {
        let mut bytes = Vec::new();
        msg.encode(&mut bytes);
        let copies = if self.rng.gen_bool(self.faults.dup) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            if self.rng.gen_bool(self.faults.loss) {
                continue;
            }
            let delay = 1 + self.rng.gen_range(0..=self.faults.max_delay_ms);
            self.seq += 1;
            self.queue.push(Reverse(Packet {
                at: self.now + delay,
                seq: self.seq,
                from,
                to_ip: addr.ip.clone(),
                to_port: addr.port,
                to_hostname: addr.hostname.clone(),
                bytes: bytes.clone(),
            }));
        }
    }

    fn deliver(&mut self, p: Packet) -> Result<(), String> {
        // As a driver would: the address, else the hostname when nobody answers there.
        let at =
            |j: usize| self.nodes[j].me.ip == p.to_ip && self.nodes[j].me.bus_port == p.to_port;
        let named =
            |j: usize| !p.to_hostname.is_empty() && self.nodes[j].me.hostname == p.to_hostname;
        let up = || (0..self.nodes.len()).filter(|&j| self.alive(j));
        let Some(to) = up().find(|&j| at(j)).or_else(|| up().find(|&j| named(j))) else {
            return Ok(());
        };
        if self.blocked.contains(&(p.from, to)) {
            return Ok(());
        }
        let (msg, used) = Message::decode(&p.bytes)
            .map_err(|e| format!("frame from node {} does not decode: {e}", p.from))?
            .ok_or("frame from the encoder is incomplete")?;
        if used != p.bytes.len() {
            return Err("frame length mismatch".into());
        }
        self.messages += 1;
        let t = self.local_time(to, p.at);
        let from_ip = self.nodes[p.from].me.ip.clone();
        let local_ip = self.nodes[to].me.ip.clone();
        if let Some(c) = self.nodes[to].cluster.as_mut() {
            c.learn_my_ip(&local_ip);
            c.handle_message(t, &from_ip, msg);
        }
        self.drain(to);
        Ok(())
    }

    /// One step of virtual time: deliver due frames, tick every node, advance replication,
    /// check invariants.
    pub fn step(&mut self) -> Result<(), String> {
        self.now += STEP_MS;
        while self.queue.peek().is_some_and(|Reverse(p)| p.at <= self.now) {
            let Some(Reverse(p)) = self.queue.pop() else {
                break;
            };
            self.deliver(p)?;
        }
        for i in 0..self.nodes.len() {
            let t = self.local_time(i, self.now);
            if let Some(c) = self.nodes[i].cluster.as_mut() {
                c.tick(t);
            }
            self.drain(i);
        }
        self.replicate();
        self.check_invariants()
    }

    /// Primaries take writes (unless paused); replicas copy their primary's offset while the
    /// link works.
    fn replicate(&mut self) {
        for i in 0..self.nodes.len() {
            let Some(c) = &self.nodes[i].cluster else {
                continue;
            };
            if c.is_primary() {
                if self.now >= self.nodes[i].paused_until {
                    self.nodes[i].offset += self.rng.gen_range(0..50);
                }
                continue;
            }
            let source = c
                .primary()
                .and_then(|p| self.index_of(p))
                .filter(|&j| !self.blocked.contains(&(i, j)) && self.cluster(j).is_primary())
                .filter(|_| !self.nodes[i].repl_down);
            let t = self.local_time(i, self.now);
            let offset = source.map(|j| self.nodes[j].offset);
            let node = &mut self.nodes[i];
            if let Some(offset) = offset {
                node.offset = offset;
            }
            if let Some(c) = node.cluster.as_mut() {
                c.set_primary_link(source.is_some(), t);
            }
        }
        for node in &mut self.nodes {
            let offset = node.offset;
            if let Some(c) = node.cluster.as_mut() {
                c.set_repl_offset(offset);
            }
        }
    }

    pub fn run_for(&mut self, ms: u64) -> Result<(), String> {
        let end = self.now + ms;
        while self.now < end {
            self.step()?;
        }
        Ok(())
    }

    /// Steps until `cond` holds; the virtual time it took, or an error after `limit_ms`.
    pub fn wait(
        &mut self,
        limit_ms: u64,
        what: &str,
        cond: impl Fn(&Sim) -> bool,
    ) -> Result<u64, String> {
        let start = self.now;
        while !cond(self) {
            if self.now - start > limit_ms {
                return Err(format!(
                    "timed out after {limit_ms} ms waiting for {what}{}",
                    self.dump()
                ));
            }
            self.step()?;
        }
        Ok(self.now - start)
    }

    /// Every node's CLUSTER NODES, when `SIM_DUMP` is set (for replays).
    pub fn dump(&self) -> String {
        if std::env::var_os("SIM_DUMP").is_none() {
            return String::new();
        }
        let mut out = format!("\nat {} ms:\n", self.now);
        for (i, node) in self.nodes.iter().enumerate() {
            match &node.cluster {
                Some(c) => out.push_str(&format!(
                    "--- node {i} offset {} paused {}:\n{}",
                    node.offset,
                    node.paused_until,
                    c.nodes_text()
                )),
                None => out.push_str(&format!("--- node {i} down\n")),
            }
        }
        out
    }

    // ----- invariants -----

    fn check_invariants(&mut self) -> Result<(), String> {
        for i in 0..self.nodes.len() {
            let Some(c) = &self.nodes[i].cluster else {
                continue;
            };
            // A replica's own config epoch is not kept (nodes.conf holds its primary's, as
            // Redis does); the current epoch and a primary's config epoch never go back.
            let current = c.current_epoch();
            let primary_epoch = c.is_primary().then(|| c.config_epoch());
            let node = &self.nodes[i];
            if current < node.max_epochs.0 || primary_epoch.is_some_and(|e| e < node.max_epochs.1) {
                return Err(format!(
                    "node {i}: epochs went back from {:?} to ({current}, {primary_epoch:?})",
                    node.max_epochs
                ));
            }
            let epochs = (current, primary_epoch.unwrap_or(node.max_epochs.1));
            let changed = (c.version(), c.config_epoch()) != node.seen;
            let primary_now = c.primary();
            let last_primary = node.last_primary;
            self.nodes[i].max_epochs = epochs;
            self.nodes[i].last_primary = primary_now;
            if changed {
                self.nodes[i].seen = (self.cluster(i).version(), self.cluster(i).config_epoch());
                self.record_claims(i)?;
            }
            self.check_failover(i, last_primary)?;
        }
        Ok(())
    }

    /// At most one primary claims a slot with a given config epoch, over the whole run.
    fn record_claims(&mut self, i: usize) -> Result<(), String> {
        let c = self.nodes[i].cluster.as_ref().expect("alive");
        if !c.is_primary() {
            return Ok(());
        }
        let me = c.myid();
        let epoch = c.config_epoch();
        let Some(node) = c.node(&me) else {
            return Ok(());
        };
        let claims = self.claims.entry(epoch).or_default();
        let clash = claims
            .iter()
            .find(|(id, slots)| **id != me && slots.intersects(&node.slots));
        if let Some((other, _)) = clash {
            return Err(format!(
                "{other} and {me} claim a slot with config epoch {epoch}"
            ));
        }
        claims.entry(me).or_default().union_with(&node.slots);
        Ok(())
    }

    /// Notes a vote of node `i` for `candidate` when `i` flags the candidate's primary (as the
    /// candidate itself knows it) FAIL.
    fn record_vote(&mut self, i: usize, candidate: NodeId, ack: &Message) {
        let primary = self
            .index_of(candidate)
            .and_then(|j| self.cluster(j).primary());
        let Some(c) = &self.nodes[i].cluster else {
            return;
        };
        if primary.and_then(|p| c.node(&p)).is_some_and(|p| p.fail) {
            let key = (candidate, ack.header.current_epoch);
            self.votes.entry(key).or_default().insert(c.myid());
        }
    }

    /// A replica promoted by an election (not a manual failover) got the votes of a majority
    /// of the slot-serving primaries, each of which flagged its old primary FAIL.
    fn check_failover(&self, i: usize, last_primary: Option<NodeId>) -> Result<(), String> {
        let promoted = self.events.last().is_some_and(
            |e| matches!(e, Event::Promoted { node, at } if *node == i && *at == self.now),
        );
        if !promoted || self.manual || last_primary.is_none() {
            return Ok(());
        }
        let c = self.cluster(i);
        let key = (c.myid(), c.config_epoch());
        let voters = self.votes.get(&key).map_or(0, BTreeSet::len);
        if voters < self.shards / 2 + 1 {
            return Err(format!(
                "node {i} was promoted with epoch {} by {voters} votes from primaries seeing the failure",
                key.1
            ));
        }
        Ok(())
    }

    /// Everyone up agrees on every slot's owner, every slot is served by a live primary,
    /// every node knows every live node and reports cluster_state:ok.
    pub fn agreement(&self) -> Result<(), String> {
        let alive: Vec<usize> = self
            .joined
            .iter()
            .copied()
            .filter(|&i| self.alive(i))
            .collect();
        let ids: BTreeMap<NodeId, usize> = alive.iter().map(|&i| (self.id(i), i)).collect();
        let reference = self.cluster(alive[0]);
        for &i in &alive {
            let c = self.cluster(i);
            if !c.state_ok() {
                return Err(format!("node {i} is not ok"));
            }
            for (id, &j) in &ids {
                let own = self.cluster(j);
                let same_role = |n: &slotkv_cluster::Node| {
                    n.role == own.node(id).map_or(n.role, |m| m.role) && n.primary == own.primary()
                };
                if c.node(id)
                    .is_none_or(|n| n.handshake || n.failing() || !same_role(n))
                {
                    return Err(format!(
                        "node {i} does not see node {j} healthy in its role"
                    ));
                }
            }
        }
        // The reference's primaries cover every slot, each claims exactly its slots itself,
        // and every node sees the same slots for each of them.
        let mut covered = 0;
        for (id, &j) in &ids {
            let Some(view) = reference
                .node(id)
                .filter(|n| n.is_primary() && !n.slots.is_empty())
            else {
                continue;
            };
            covered += view.slots.len();
            let own = self.cluster(j);
            if !own.is_primary() || own.node(id).is_none_or(|n| n.slots != view.slots) {
                return Err(format!(
                    "node {j} does not claim the slots others see it serve"
                ));
            }
            if let Some(&i) = alive.iter().find(|&&i| {
                self.cluster(i)
                    .node(id)
                    .is_none_or(|n| n.slots != view.slots)
            }) {
                return Err(format!("node {i} disagrees on the slots of node {j}"));
            }
        }
        if covered != 16384 {
            return Err(format!("only {covered} slots are served by live primaries"));
        }
        Ok(())
    }

    /// `redis-cli --cluster create` with `replicas` replicas per primary: set-config-epoch,
    /// MEET from the first node, ADDSLOTS in equal ranges, REPLICATE once known.
    pub fn create(&mut self, primaries: usize, replicas: usize) -> Result<(), String> {
        let total = primaries * (1 + replicas);
        assert!(total <= self.nodes.len());
        self.shards = primaries;
        self.joined.extend(0..total);
        for i in 0..total {
            self.admin(i, |c, t| c.set_config_epoch(t, i as u64 + 1))
                .map_err(|e| e.to_string())?;
        }
        for p in 0..primaries {
            let start = (p * 16384 / primaries) as u16;
            let end = ((p + 1) * 16384 / primaries) as u16;
            let slots: Vec<u16> = (start..end).collect();
            self.admin(p, |c, t| c.add_slots(t, &slots))
                .map_err(|e| e.to_string())?;
        }
        for i in 1..total {
            let ip = self.nodes[i].me.ip.clone();
            self.admin(0, |c, t| c.meet(t, &ip, CLIENT_PORT, None))
                .map_err(|e| e.to_string())?;
        }
        let ids: Vec<NodeId> = (0..total).map(|i| self.id(i)).collect();
        self.wait(120_000, "every node to know every other", |sim| {
            (0..total).all(|i| {
                ids.iter()
                    .all(|id| sim.cluster(i).node(id).is_some_and(|n| !n.handshake))
            })
        })?;
        for r in primaries..total {
            let primary = ids[(r - primaries) % primaries].to_string();
            self.admin(r, |c, t| c.replicate(t, &primary, false))
                .map_err(|e| e.to_string())?;
        }
        self.wait(120_000, "the cluster to agree", |sim| {
            sim.agreement().is_ok()
        })
        .map_err(|e| format!("{e}: {}", self.agreement().err().unwrap_or_default()))?;
        Ok(())
    }

    /// The node currently primary for `slot` (in its own view).
    pub fn primary_of(&self, slot: u16) -> Option<usize> {
        (0..self.nodes.len()).find(|&i| {
            self.alive(i)
                && self.cluster(i).is_primary()
                && self.cluster(i).slot_owner(slot) == Some(self.id(i))
        })
    }

    /// The live replicas of node `p` (in their own view).
    pub fn replicas_of(&self, p: usize) -> Vec<usize> {
        let id = self.id(p);
        (0..self.nodes.len())
            .filter(|&i| self.alive(i) && self.cluster(i).primary() == Some(id))
            .collect()
    }
}
