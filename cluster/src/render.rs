//! Text and structured replies: CLUSTER NODES, nodes.conf (write and load), CLUSTER INFO,
//! CLUSTER SLOTS, CLUSTER SHARDS and CLUSTER LINKS data.

use crate::cluster::{Cluster, Output};
use crate::config::{ClusterConfig, Endpoint};
use crate::message::MessageType;
use crate::node::{Node, Role};
use crate::routing::SLOT_COUNT;
use crate::slots::range_text;
use crate::{NodeId, NodesConfError};
use std::fmt::Write;

/// One node of a CLUSTER SLOTS / SHARDS entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotNode {
    pub id: NodeId,
    pub ip: String,
    pub port: u16,
    pub tls_port: u16,
    pub hostname: String,
}

/// One CLUSTER SLOTS entry: a slot range, its primary first, then its working replicas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotRange {
    pub start: u16,
    pub end: u16,
    pub nodes: Vec<SlotNode>,
}

/// One node of a CLUSTER SHARDS entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardNode {
    pub node: SlotNode,
    /// `master` or `replica`.
    pub role: &'static str,
    pub replication_offset: u64,
    /// `online` or `failed`.
    pub health: &'static str,
}

/// One CLUSTER SHARDS entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    pub id: NodeId,
    pub slots: Vec<(u16, u16)>,
    pub nodes: Vec<ShardNode>,
}

/// An outbound bus link as CLUSTER LINKS lists it (the driver adds buffers and inbound links).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub node: NodeId,
    pub create_time: u64,
}

fn slot_node(n: &Node) -> SlotNode {
    SlotNode {
        id: n.id,
        ip: n.ip.clone(),
        port: n.port,
        tls_port: n.tls_port,
        hostname: n.hostname.clone(),
    }
}

fn conf_error(line: usize, reason: impl Into<String>) -> NodesConfError {
    NodesConfError {
        line,
        reason: reason.into(),
    }
}

impl Cluster {
    /// One CLUSTER NODES line (without newline); `conf` adds nodes.conf's aux fields and
    /// migration entries.
    pub(crate) fn node_line(&self, n: &Node, conf: bool) -> String {
        let myself = n.id == self.myself;
        let mut line = format!("{} {}:{}@{}", n.id, n.ip, n.port, n.bus_port);
        if conf {
            let _ = write!(
                line,
                ",{},tls-port={},shard-id={}",
                n.hostname, n.tls_port, n.shard_id
            );
        } else if !n.hostname.is_empty() {
            let _ = write!(line, ",{}", n.hostname);
        }
        let primary = n.primary.map_or("-".to_string(), |p| p.to_string());
        let (ping, pong) = if myself {
            (0, 0)
        } else {
            (n.ping_sent, n.pong_received)
        };
        let link = if myself || n.link_connected {
            "connected"
        } else {
            "disconnected"
        };
        let epoch = match (n.role, n.primary.and_then(|p| self.nodes.get(&p))) {
            (Role::Replica, Some(p)) => p.config_epoch,
            _ => n.config_epoch,
        };
        let _ = write!(
            line,
            " {} {primary} {ping} {pong} {epoch} {link}",
            n.flags_text(myself)
        );
        for &range in n.slots.ranges() {
            let _ = write!(line, " {}", range_text(range));
        }
        if myself {
            for (slot, to) in &self.migrating {
                let _ = write!(line, " [{slot}->-{to}]");
            }
            for (slot, from) in &self.importing {
                let _ = write!(line, " [{slot}-<-{from}]");
            }
        }
        line
    }

    /// CLUSTER NODES.
    pub fn nodes_text(&self) -> String {
        let mut out = String::new();
        for n in self.nodes.values() {
            out.push_str(&self.node_line(n, false));
            out.push('\n');
        }
        out
    }

    /// nodes.conf: the node lines (with aux fields) and the `vars` line.
    pub fn nodes_conf(&self) -> String {
        let mut out = String::new();
        for n in self.nodes.values().filter(|n| !n.handshake) {
            out.push_str(&self.node_line(n, true));
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "vars currentEpoch {} lastVoteEpoch {}",
            self.current_epoch, self.last_vote_epoch
        );
        out
    }

    /// Restores a node from its nodes.conf. `me` (the running configuration) replaces this
    /// node's ports, and its IP and hostname when set.
    pub fn load(
        nodes_conf: &str,
        config: ClusterConfig,
        me: Endpoint,
        now_ms: u64,
    ) -> Result<Cluster, NodesConfError> {
        let mut parsed = Vec::new();
        let mut vars = (0, 0);
        for (i, text) in nodes_conf.lines().enumerate() {
            let fields: Vec<&str> = text.split_whitespace().collect();
            match fields.first() {
                None => continue,
                Some(&"vars") => {
                    vars = parse_vars(&fields).ok_or_else(|| conf_error(i + 1, "bad vars line"))?
                }
                Some(_) => {
                    parsed.push(parse_line(&fields, now_ms).map_err(|e| conf_error(i + 1, e))?)
                }
            }
            if parsed.len() > config.max_nodes {
                return Err(conf_error(i + 1, "too many nodes"));
            }
        }
        let mine: Vec<&ParsedLine> = parsed.iter().filter(|p| p.myself).collect();
        let [me_line] = mine.as_slice() else {
            return Err(conf_error(0, "exactly one node must be flagged myself"));
        };
        let mut cluster = Cluster::new(me_line.node.id, config, me.clone(), now_ms);
        cluster.nodes.clear();
        cluster.current_epoch = vars.0;
        cluster.last_vote_epoch = vars.1;
        for p in &parsed {
            let mut node = p.node.clone();
            if p.myself {
                node.port = me.port;
                node.tls_port = me.tls_port;
                node.bus_port = me.bus_port;
                node.link_connected = true;
                node.nofailover = cluster.config.replica_no_failover;
                if !me.ip.is_empty() {
                    node.ip = me.ip.clone();
                }
                if !me.hostname.is_empty() {
                    node.hostname = me.hostname.clone();
                }
            }
            cluster.nodes.insert(node.id, node);
        }
        for p in &parsed {
            cluster.assign_many(&p.slots, Some(p.node.id));
            cluster.migrating.extend(p.migrating.iter().copied());
            cluster.importing.extend(p.importing.iter().copied());
        }
        cluster.save_pending = false;
        cluster.update_state(now_ms);
        // A replica resumes replicating its primary, as Redis does at startup.
        let primary = cluster.me().primary.and_then(|p| cluster.nodes.get(&p));
        if let Some(p) = primary.filter(|_| cluster.me().is_replica()) {
            let (primary, ip, port) = (p.id, p.ip.clone(), p.port);
            cluster
                .outputs
                .push(Output::Replicate { primary, ip, port });
        }
        Ok(cluster)
    }

    /// CLUSTER INFO.
    pub fn info_text(&self) -> String {
        let mut assigned = 0;
        let (mut ok, mut pfail, mut fail) = (0, 0, 0);
        for owner in self.slot_owner.iter().flatten() {
            assigned += 1;
            match self.nodes.get(owner) {
                Some(n) if n.fail => fail += 1,
                Some(n) if n.pfail => pfail += 1,
                _ => ok += 1,
            }
        }
        let my_epoch = match self.me().primary.and_then(|p| self.nodes.get(&p)) {
            Some(p) if self.me().is_replica() => p.config_epoch,
            _ => self.me().config_epoch,
        };
        let mut out = String::new();
        let state = if self.state_ok { "ok" } else { "fail" };
        let _ = write!(
            out,
            "cluster_state:{state}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{ok}\r\n\
             cluster_slots_pfail:{pfail}\r\ncluster_slots_fail:{fail}\r\ncluster_known_nodes:{}\r\n\
             cluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{my_epoch}\r\n",
            self.nodes.len(),
            self.cluster_size(),
            self.current_epoch,
        );
        for (stats, dir) in [
            (&self.sent_stats, "sent"),
            (&self.received_stats, "received"),
        ] {
            for (kind, count) in MessageType::ALL.iter().zip(stats.iter()) {
                if *count != 0 {
                    let _ = write!(
                        out,
                        "cluster_stats_messages_{}_{dir}:{count}\r\n",
                        kind.stat_name()
                    );
                }
            }
            let _ = write!(
                out,
                "cluster_stats_messages_{dir}:{}\r\n",
                stats.iter().sum::<u64>()
            );
        }
        out.push_str("total_cluster_links_buffer_limit_exceeded:0\r\n");
        out
    }

    /// CLUSTER SLOTS data: each primary's slot ranges with the primary and its working
    /// replicas.
    pub fn slots_info(&self) -> Vec<SlotRange> {
        let mut out = Vec::new();
        for primary in self
            .nodes
            .values()
            .filter(|n| n.is_primary() && !n.slots.is_empty())
        {
            let mut nodes = vec![slot_node(primary)];
            nodes.extend(
                self.nodes
                    .values()
                    .filter(|n| n.primary == Some(primary.id) && n.is_replica() && !n.fail)
                    .map(slot_node),
            );
            for &(start, end) in primary.slots.ranges() {
                out.push(SlotRange {
                    start,
                    end,
                    nodes: nodes.clone(),
                });
            }
        }
        out.sort_by_key(|r| r.start);
        out
    }

    /// CLUSTER SHARDS data: one entry per primary with its replicas.
    pub fn shards_info(&self) -> Vec<Shard> {
        let shard_node = |n: &Node| ShardNode {
            node: slot_node(n),
            role: if n.is_primary() { "master" } else { "replica" },
            replication_offset: if n.id == self.myself {
                self.repl_offset
            } else {
                n.repl_offset
            },
            health: if n.fail { "failed" } else { "online" },
        };
        self.nodes
            .values()
            .filter(|n| n.is_primary())
            .map(|p| {
                let mut nodes = vec![shard_node(p)];
                nodes.extend(
                    self.nodes
                        .values()
                        .filter(|n| n.is_replica() && n.primary == Some(p.id))
                        .map(shard_node),
                );
                Shard {
                    id: p.shard_id,
                    slots: p.slots.ranges().to_vec(),
                    nodes,
                }
            })
            .collect()
    }

    /// CLUSTER LINKS data for the outbound links the driver reported up.
    pub fn links_info(&self) -> Vec<LinkInfo> {
        self.nodes
            .values()
            .filter(|n| n.id != self.myself && n.link_connected)
            .map(|n| LinkInfo {
                node: n.id,
                create_time: n.link_since,
            })
            .collect()
    }
}

/// A node line of nodes.conf.
struct ParsedLine {
    node: Node,
    myself: bool,
    slots: Vec<u16>,
    migrating: Vec<(u16, NodeId)>,
    importing: Vec<(u16, NodeId)>,
}

fn parse_vars(fields: &[&str]) -> Option<(u64, u64)> {
    let mut current = 0;
    let mut vote = 0;
    for pair in fields.get(1..)?.chunks(2) {
        let [name, value] = pair else { return None };
        let value = value.parse().ok()?;
        match *name {
            "currentEpoch" => current = value,
            "lastVoteEpoch" => vote = value,
            _ => {}
        }
    }
    Some((current, vote))
}

fn parse_id(text: &str) -> Result<NodeId, String> {
    NodeId::parse(text.as_bytes()).ok_or_else(|| format!("bad node id {text:?}"))
}

fn parse_line(fields: &[&str], now: u64) -> Result<ParsedLine, String> {
    let [id, addr, flags, primary, _ping, _pong, epoch, _link, slots @ ..] = fields else {
        return Err("fewer than 8 fields".into());
    };
    let id = parse_id(id)?;
    let mut node = Node::new(id, "", 0, 0, now);
    parse_address(&mut node, addr)?;
    let mut myself = false;
    for flag in flags.split(',') {
        match flag {
            "myself" => myself = true,
            "master" => node.role = Role::Primary,
            "slave" => node.role = Role::Replica,
            "fail" => node.fail = true,
            "noaddr" => node.noaddr = true,
            "nofailover" => node.nofailover = true,
            "fail?" | "handshake" | "noflags" | "" => {}
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    if *primary != "-" {
        node.primary = Some(parse_id(primary)?);
    }
    node.config_epoch = epoch
        .parse()
        .map_err(|_| format!("bad config epoch {epoch:?}"))?;
    node.pong_received = now;
    let mut line = ParsedLine {
        node,
        myself,
        slots: Vec::new(),
        migrating: Vec::new(),
        importing: Vec::new(),
    };
    for entry in slots {
        parse_slot_entry(&mut line, entry)?;
    }
    Ok(line)
}

/// `ip:port@cport[,hostname][,key=value...]`.
fn parse_address(node: &mut Node, text: &str) -> Result<(), String> {
    let mut parts = text.split(',');
    let addr = parts.next().unwrap_or("");
    let (hostport, bus) = addr
        .split_once('@')
        .ok_or_else(|| format!("bad address {text:?}"))?;
    let (ip, port) = hostport
        .rsplit_once(':')
        .ok_or_else(|| format!("bad address {text:?}"))?;
    node.ip = ip.to_string();
    node.port = port.parse().map_err(|_| format!("bad port in {text:?}"))?;
    node.bus_port = bus
        .parse()
        .map_err(|_| format!("bad bus port in {text:?}"))?;
    if let Some(hostname) = parts.next() {
        node.hostname = hostname.to_string();
    }
    for aux in parts {
        match aux.split_once('=') {
            Some(("tls-port", v)) => {
                node.tls_port = v.parse().map_err(|_| format!("bad tls-port {v:?}"))?
            }
            Some(("shard-id", v)) => node.shard_id = parse_id(v)?,
            _ => {}
        }
    }
    Ok(())
}

fn parse_slot(text: &str) -> Result<u16, String> {
    text.parse::<u16>()
        .ok()
        .filter(|&s| usize::from(s) < SLOT_COUNT)
        .ok_or_else(|| format!("bad slot {text:?}"))
}

/// `a`, `a-b`, `[a->-id]` (migrating) or `[a-<-id]` (importing).
fn parse_slot_entry(line: &mut ParsedLine, entry: &str) -> Result<(), String> {
    if let Some(inner) = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')) {
        if let Some((slot, id)) = inner.split_once("->-") {
            line.migrating.push((parse_slot(slot)?, parse_id(id)?));
        } else if let Some((slot, id)) = inner.split_once("-<-") {
            line.importing.push((parse_slot(slot)?, parse_id(id)?));
        } else {
            return Err(format!("bad migration entry {entry:?}"));
        }
        return Ok(());
    }
    let (start, end) = match entry.split_once('-') {
        Some((a, b)) => (parse_slot(a)?, parse_slot(b)?),
        None => (parse_slot(entry)?, parse_slot(entry)?),
    };
    if start > end {
        return Err(format!("bad slot range {entry:?}"));
    }
    line.slots.extend(start..=end);
    Ok(())
}
