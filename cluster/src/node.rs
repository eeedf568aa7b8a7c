//! One entry of the node table: a node's address, role, epochs and what this node observed
//! about it (pings, pongs, failure reports).

use crate::config::BusAddr;
use crate::message::flags;
use crate::slots::SlotSet;
use crate::NodeId;
use std::collections::BTreeMap;

/// A node's role as last announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Primary,
    Replica,
    /// In handshake: nothing heard yet.
    Unknown,
}

/// A known node.
#[derive(Clone, Debug)]
pub struct Node {
    pub id: NodeId,
    pub ip: String,
    pub port: u16,
    pub tls_port: u16,
    pub bus_port: u16,
    /// Announced hostname; the driver may resolve it when `ip` stopped answering.
    pub hostname: String,
    pub role: Role,
    /// The primary, for a replica.
    pub primary: Option<NodeId>,
    /// Config epoch (for a replica: its primary's, as announced).
    pub config_epoch: u64,
    pub repl_offset: u64,
    /// Slots this node serves (empty for replicas).
    pub slots: SlotSet,
    pub shard_id: NodeId,
    /// This node flags it as failing (no PONG within the node timeout).
    pub pfail: bool,
    /// The cluster agreed it is failing.
    pub fail: bool,
    /// Joining: created by MEET or gossip under a temporary ID, renamed on its first PONG.
    pub handshake: bool,
    /// Address unknown.
    pub noaddr: bool,
    /// `cluster-replica-no-failover` announced by the node.
    pub nofailover: bool,
    /// Time of the PING still unanswered (ms), 0 when none.
    pub ping_sent: u64,
    /// Time of the last PONG (ms), 0 when none.
    pub pong_received: u64,
    /// Whether the driver reports an outbound bus link to it.
    pub link_connected: bool,
    /// When the current link was established (ms).
    pub link_since: u64,
    /// Introduced by CLUSTER MEET and not yet greeted back under our real ID: heartbeats to
    /// it are MEETs, so it (re)starts its handshake with us even if its first one failed.
    pub(crate) send_meet: bool,
    pub(crate) last_ping_tx: u64,
    pub(crate) created: u64,
    pub(crate) fail_time: u64,
    pub(crate) voted_time: Option<u64>,
    pub(crate) fail_reports: BTreeMap<NodeId, u64>,
    pub(crate) orphaned_since: Option<u64>,
    pub(crate) migrate_to: bool,
}

impl Node {
    /// A node known only by its address.
    pub(crate) fn new(id: NodeId, ip: &str, port: u16, bus_port: u16, now: u64) -> Node {
        Node {
            id,
            ip: ip.to_string(),
            port,
            tls_port: 0,
            bus_port,
            hostname: String::new(),
            role: Role::Unknown,
            primary: None,
            config_epoch: 0,
            repl_offset: 0,
            slots: SlotSet::default(),
            shard_id: id,
            pfail: false,
            fail: false,
            handshake: false,
            noaddr: false,
            nofailover: false,
            ping_sent: 0,
            pong_received: 0,
            link_connected: false,
            link_since: 0,
            send_meet: false,
            last_ping_tx: 0,
            created: now,
            fail_time: 0,
            voted_time: None,
            fail_reports: BTreeMap::new(),
            orphaned_since: None,
            migrate_to: false,
        }
    }

    /// Whether it announced itself as a primary.
    pub fn is_primary(&self) -> bool {
        self.role == Role::Primary
    }

    /// Whether it announced itself as a replica.
    pub fn is_replica(&self) -> bool {
        self.role == Role::Replica
    }

    /// PFAIL or FAIL.
    pub fn failing(&self) -> bool {
        self.pfail || self.fail
    }

    /// Where to send bus messages.
    pub fn bus_addr(&self) -> BusAddr {
        BusAddr {
            ip: self.ip.clone(),
            port: self.bus_port,
            hostname: self.hostname.clone(),
        }
    }

    /// The bus [`flags`] bits describing it.
    pub fn wire_flags(&self) -> u16 {
        let mut bits = 0;
        for (on, bit) in [
            (self.role == Role::Primary, flags::PRIMARY),
            (self.role == Role::Replica, flags::REPLICA),
            (self.pfail, flags::PFAIL),
            (self.fail, flags::FAIL),
            (self.handshake, flags::HANDSHAKE),
            (self.noaddr, flags::NOADDR),
            (self.nofailover, flags::NOFAILOVER),
        ] {
            if on {
                bits |= bit;
            }
        }
        bits
    }

    /// The CLUSTER NODES flags field (`myself` prepended by the caller's `myself`).
    pub fn flags_text(&self, myself: bool) -> String {
        let mut parts = Vec::new();
        for (on, name) in [
            (myself, "myself"),
            (self.role == Role::Primary, "master"),
            (self.role == Role::Replica, "slave"),
            (self.pfail, "fail?"),
            (self.fail, "fail"),
            (self.handshake, "handshake"),
            (self.noaddr, "noaddr"),
            (self.nofailover, "nofailover"),
        ] {
            if on {
                parts.push(name);
            }
        }
        if parts.is_empty() {
            "noflags".to_string()
        } else {
            parts.join(",")
        }
    }
}
