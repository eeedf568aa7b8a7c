//! CLUSTER subcommands that change the configuration: MEET, FORGET, ADDSLOTS, DELSLOTS,
//! FLUSHSLOTS, REPLICATE, RESET, SET-CONFIG-EPOCH, BUMPEPOCH, SETSLOT, and the read-only
//! COUNT-FAILURE-REPORTS and REPLICAS. Errors render as Redis's replies.

use crate::cluster::{Cluster, Election, Output, FORGET_BAN_MS};
use crate::node::Role;
use crate::routing::SLOT_COUNT;
use crate::{ClusterError, NodeId};
use std::collections::BTreeSet;
use std::fmt;

/// CLUSTER SETSLOT's action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetSlot {
    Importing(NodeId),
    Migrating(NodeId),
    Node(NodeId),
    Stable,
}

/// CLUSTER BUMPEPOCH's reply: `BUMPED <epoch>` or `STILL <epoch>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BumpEpoch {
    Bumped(u64),
    Still(u64),
}

impl fmt::Display for BumpEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BumpEpoch::Bumped(e) => write!(f, "BUMPED {e}"),
            BumpEpoch::Still(e) => write!(f, "STILL {e}"),
        }
    }
}

impl Cluster {
    /// CLUSTER MEET ip port [bus-port] (bus port defaults to port + 10000).
    pub fn meet(
        &mut self,
        now_ms: u64,
        ip: &str,
        port: u16,
        bus_port: Option<u16>,
    ) -> Result<(), ClusterError> {
        let bus = bus_port.or_else(|| port.checked_add(10000));
        let valid_ip = ip.parse::<std::net::IpAddr>().is_ok();
        let Some(bus) = bus.filter(|&b| valid_ip && port != 0 && b != 0) else {
            return Err(ClusterError::InvalidAddress(ip.to_string(), port));
        };
        let ip = ip
            .parse::<std::net::IpAddr>()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let started = self.start_handshake(now_ms, &ip, port, bus, true);
        self.flush();
        if started {
            Ok(())
        } else {
            Err(ClusterError::TooManyNodes)
        }
    }

    /// CLUSTER FORGET id: drops the node and bans it for 60 s.
    pub fn forget(&mut self, now_ms: u64, id: &str) -> Result<(), ClusterError> {
        let node = match self.lookup(id) {
            Ok(node) => node,
            // Already forgotten through a peer's propagated FORGET: redis-cli's del-node sends
            // FORGET to every node in turn, and each must answer OK.
            Err(unknown) => {
                let banned =
                    NodeId::parse(id.as_bytes()).is_some_and(|n| self.banned.contains_key(&n));
                return if banned { Ok(()) } else { Err(unknown) };
            }
        };
        if node == self.myself {
            return Err(ClusterError::ForgetMyself);
        }
        if self.me().primary == Some(node) {
            return Err(ClusterError::ForgetMyPrimary);
        }
        self.remove_node(&node);
        self.banned
            .insert(node, now_ms.saturating_add(FORGET_BAN_MS));
        self.update_state(now_ms);
        self.flush();
        Ok(())
    }

    /// CLUSTER ADDSLOTS / ADDSLOTSRANGE (ranges expanded by the caller).
    pub fn add_slots(&mut self, now_ms: u64, slots: &[u16]) -> Result<(), ClusterError> {
        self.check_slots(slots)?;
        if let Some(&busy) = slots.iter().find(|&&s| self.slot_owner(s).is_some()) {
            return Err(ClusterError::SlotBusy(busy));
        }
        for slot in slots {
            self.importing.remove(slot);
        }
        self.assign_many(slots, Some(self.myself));
        self.after_admin(now_ms);
        Ok(())
    }

    /// CLUSTER DELSLOTS / DELSLOTSRANGE.
    pub fn del_slots(&mut self, now_ms: u64, slots: &[u16]) -> Result<(), ClusterError> {
        self.check_slots(slots)?;
        if let Some(&free) = slots.iter().find(|&&s| self.slot_owner(s).is_none()) {
            return Err(ClusterError::SlotUnassigned(free));
        }
        for slot in slots {
            self.migrating.remove(slot);
            self.importing.remove(slot);
        }
        self.assign_many(slots, None);
        self.after_admin(now_ms);
        Ok(())
    }

    /// CLUSTER FLUSHSLOTS: forget every slot of this node (its database must be empty).
    pub fn flush_slots(&mut self, now_ms: u64, db_empty: bool) -> Result<(), ClusterError> {
        if !db_empty {
            return Err(ClusterError::FlushSlotsNotEmpty);
        }
        let mine: Vec<u16> = self.me().slots.iter().collect();
        self.assign_many(&mine, None);
        self.after_admin(now_ms);
        Ok(())
    }

    /// CLUSTER REPLICATE id. `has_keys`: whether this node's database holds keys.
    pub fn replicate(&mut self, now_ms: u64, id: &str, has_keys: bool) -> Result<(), ClusterError> {
        let target = self.lookup(id)?;
        if target == self.myself {
            return Err(ClusterError::ReplicateMyself);
        }
        if self.nodes.get(&target).is_some_and(|n| n.is_replica()) {
            return Err(ClusterError::ReplicateReplica);
        }
        if self.me().is_primary() && (!self.me().slots.is_empty() || has_keys) {
            return Err(ClusterError::NotEmptyForReplicate);
        }
        self.follow(now_ms, target);
        self.after_admin(now_ms);
        Ok(())
    }

    /// CLUSTER RESET [HARD|SOFT]: forget every other node and every slot; become a primary;
    /// HARD also zeroes the epochs and takes a new ID.
    pub fn reset(&mut self, now_ms: u64, hard: bool, has_keys: bool) -> Result<(), ClusterError> {
        if self.me().is_primary() && has_keys {
            return Err(ClusterError::ResetWithKeys);
        }
        if self.me().is_replica() {
            let me = self.me_mut();
            me.role = Role::Primary;
            me.primary = None;
            self.outputs.push(Output::Promote);
        }
        let all: Vec<u16> = (0..SLOT_COUNT as u16).collect();
        self.assign_many(&all, None);
        self.migrating.clear();
        self.importing.clear();
        let others: Vec<NodeId> = self
            .nodes
            .keys()
            .copied()
            .filter(|id| *id != self.myself)
            .collect();
        for id in others {
            self.remove_node(&id);
        }
        self.election = Election::default();
        self.reset_manual_failover();
        if hard {
            self.current_epoch = 0;
            self.last_vote_epoch = 0;
            let mut me = self
                .nodes
                .remove(&self.myself)
                .expect("myself is always in the table");
            me.id = NodeId::random(&mut self.rng);
            me.config_epoch = 0;
            me.shard_id = NodeId::random(&mut self.rng);
            self.myself = me.id;
            self.nodes.insert(me.id, me);
        }
        self.after_admin(now_ms);
        Ok(())
    }

    /// CLUSTER SET-CONFIG-EPOCH: only on a node alone and still at epoch 0.
    pub fn set_config_epoch(&mut self, now_ms: u64, epoch: u64) -> Result<(), ClusterError> {
        if self.nodes.len() > 1 {
            return Err(ClusterError::ConfigEpochNotAlone);
        }
        if self.me().config_epoch != 0 {
            return Err(ClusterError::ConfigEpochNonZero);
        }
        self.me_mut().config_epoch = epoch;
        self.current_epoch = self.current_epoch.max(epoch);
        self.after_admin(now_ms);
        Ok(())
    }

    /// CLUSTER BUMPEPOCH.
    pub fn bump_epoch(&mut self, now_ms: u64) -> BumpEpoch {
        let bumped = self.bump_epoch_without_consensus();
        self.after_admin(now_ms);
        let epoch = self.me().config_epoch;
        if bumped {
            BumpEpoch::Bumped(epoch)
        } else {
            BumpEpoch::Still(epoch)
        }
    }

    /// CLUSTER SETSLOT slot IMPORTING|MIGRATING|NODE id | STABLE. `keys_in_slot`: whether
    /// this node holds keys in the slot.
    pub fn set_slot(
        &mut self,
        now_ms: u64,
        slot: u16,
        action: SetSlot,
        keys_in_slot: bool,
    ) -> Result<(), ClusterError> {
        if usize::from(slot) >= SLOT_COUNT {
            return Err(ClusterError::InvalidSlot);
        }
        if self.me().is_replica() {
            return Err(ClusterError::SetSlotOnReplica);
        }
        let owner = self.slot_owner(slot);
        match action {
            SetSlot::Migrating(id) => {
                if owner != Some(self.myself) {
                    return Err(ClusterError::NotOwner(slot));
                }
                self.check_target(id)?;
                self.migrating.insert(slot, id);
            }
            SetSlot::Importing(id) => {
                if owner == Some(self.myself) {
                    return Err(ClusterError::AlreadyOwner(slot));
                }
                self.check_target(id)?;
                self.importing.insert(slot, id);
            }
            SetSlot::Stable => {
                self.migrating.remove(&slot);
                self.importing.remove(&slot);
            }
            SetSlot::Node(id) => self.set_slot_node(now_ms, slot, id, keys_in_slot)?,
        }
        self.after_admin(now_ms);
        Ok(())
    }

    fn set_slot_node(
        &mut self,
        now_ms: u64,
        slot: u16,
        id: NodeId,
        keys_in_slot: bool,
    ) -> Result<(), ClusterError> {
        let node = self
            .nodes
            .get(&id)
            .ok_or_else(|| ClusterError::UnknownNode(id.to_string()))?;
        if node.is_replica() {
            return Err(ClusterError::TargetNotPrimary);
        }
        let mine = self.slot_owner(slot) == Some(self.myself);
        if mine && id != self.myself && keys_in_slot {
            return Err(ClusterError::HoldsKeys(slot));
        }
        if id != self.myself && !keys_in_slot {
            self.migrating.remove(&slot);
        }
        if id == self.myself && self.importing.remove(&slot).is_some() {
            // The new owner must win over the old one's claim.
            self.bump_epoch_without_consensus();
        }
        self.assign(slot, Some(id));
        // A primary that gave away its last slot becomes a replica of the receiver, as Redis
        // does with cluster-allow-replica-migration.
        if mine
            && id != self.myself
            && self.me().slots.is_empty()
            && self.config.allow_replica_migration
        {
            self.follow(now_ms, id);
        }
        Ok(())
    }

    fn check_target(&self, id: NodeId) -> Result<(), ClusterError> {
        match self.nodes.get(&id) {
            None => Err(ClusterError::DontKnowNode(id)),
            Some(n) if !n.is_primary() => Err(ClusterError::TargetNotPrimary),
            Some(_) => Ok(()),
        }
    }

    /// CLUSTER COUNT-FAILURE-REPORTS id.
    pub fn count_failure_reports(&self, now_ms: u64, id: &str) -> Result<usize, ClusterError> {
        let node = self.lookup(id)?;
        let window = self.config.node_timeout_ms.saturating_mul(2);
        Ok(self.nodes.get(&node).map_or(0, |n| {
            n.fail_reports
                .values()
                .filter(|&&at| now_ms.saturating_sub(at) <= window)
                .count()
        }))
    }

    /// CLUSTER REPLICAS id: the replicas' CLUSTER NODES lines.
    pub fn replicas(&self, id: &str) -> Result<Vec<String>, ClusterError> {
        let node = self.lookup(id)?;
        if self.nodes.get(&node).is_some_and(|n| n.is_replica()) {
            return Err(ClusterError::NotAPrimary);
        }
        Ok(self
            .nodes
            .values()
            .filter(|n| n.is_replica() && n.primary == Some(node))
            .map(|n| self.node_line(n, false))
            .collect())
    }

    fn lookup(&self, id: &str) -> Result<NodeId, ClusterError> {
        NodeId::parse(id.as_bytes())
            .filter(|id| self.nodes.get(id).is_some_and(|n| !n.handshake))
            .ok_or_else(|| ClusterError::UnknownNode(id.to_string()))
    }

    fn check_slots(&self, slots: &[u16]) -> Result<(), ClusterError> {
        let mut seen = BTreeSet::new();
        for &slot in slots {
            if usize::from(slot) >= SLOT_COUNT {
                return Err(ClusterError::InvalidSlot);
            }
            if !seen.insert(slot) {
                return Err(ClusterError::SlotRepeated(slot));
            }
        }
        Ok(())
    }

    fn after_admin(&mut self, now_ms: u64) {
        self.changed();
        self.update_state(now_ms);
        self.flush();
    }
}
