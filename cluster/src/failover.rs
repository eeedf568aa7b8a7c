//! Elections: a replica of a FAIL primary asks the slot-serving primaries for votes and takes
//! over its primary's slots with a new config epoch once a majority granted one; manual
//! failovers (CLUSTER FAILOVER [FORCE|TAKEOVER]) use the same path.

use crate::cluster::{Cluster, Election, Manual, Output, MF_TIMEOUT};
use crate::message::{mflags, Body, Header};
use crate::node::Role;
use crate::NodeId;
use rand::Rng;

/// CLUSTER FAILOVER's option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailoverKind {
    /// Coordinated with the primary: it pauses writes, the replica catches up, then an
    /// election with forced votes.
    Default,
    /// Election with forced votes, without asking the primary.
    Force,
    /// No election: take a new config epoch and the slots at once.
    Takeover,
}

impl Cluster {
    /// Starts a manual failover on this replica (CLUSTER FAILOVER).
    pub fn failover(&mut self, now_ms: u64, kind: FailoverKind) -> Result<(), crate::ClusterError> {
        use crate::ClusterError;
        if self.me().is_primary() {
            return Err(ClusterError::FailoverOnPrimary);
        }
        let primary = self
            .me()
            .primary
            .and_then(|p| self.nodes.get(&p))
            .ok_or(ClusterError::PrimaryUnknown)?;
        let primary_id = primary.id;
        if kind == FailoverKind::Default && primary.failing() {
            return Err(ClusterError::PrimaryDown);
        }
        self.reset_manual_failover();
        self.manual.end = now_ms.saturating_add(MF_TIMEOUT);
        match kind {
            FailoverKind::Takeover => {
                self.bump_epoch_without_consensus();
                self.promote(now_ms);
            }
            FailoverKind::Force => self.manual.can_start = true,
            FailoverKind::Default => self.send(primary_id, Body::MfStart),
        }
        self.flush();
        Ok(())
    }

    /// A new config epoch for this node unless it already has the highest one; `true` when
    /// bumped.
    pub(crate) fn bump_epoch_without_consensus(&mut self) -> bool {
        let max = self
            .nodes
            .values()
            .map(|n| n.config_epoch)
            .max()
            .unwrap_or(0);
        let mine = self.me().config_epoch;
        if mine != 0 && mine == max {
            return false;
        }
        self.current_epoch = self.current_epoch.saturating_add(1);
        let epoch = self.current_epoch;
        self.me_mut().config_epoch = epoch;
        self.changed();
        true
    }

    pub(crate) fn reset_manual_failover(&mut self) {
        let was_pausing = self.manual.replica.is_some();
        self.manual = Manual::default();
        if was_pausing {
            self.outputs.push(Output::Unpause);
        }
    }

    /// Replica side: the election may start once this replica has the paused primary's offset.
    pub(crate) fn manual_failover_check(&mut self) {
        if self.manual.end == 0 || self.manual.can_start {
            return;
        }
        if self.manual.primary_offset == Some(self.repl_offset) {
            self.manual.can_start = true;
        }
    }

    /// Primary side of a manual failover: pause writes and report the offset in every PING.
    pub(crate) fn process_mfstart(&mut self, now: u64, header: &Header) {
        let from = header.sender;
        let is_my_replica = self
            .nodes
            .get(&from)
            .is_some_and(|n| n.primary == Some(self.myself));
        if !self.me().is_primary() || !is_my_replica {
            return;
        }
        self.reset_manual_failover();
        self.manual.end = now.saturating_add(MF_TIMEOUT);
        self.manual.replica = Some(from);
        self.outputs
            .push(Output::PauseWritesUntil(now.saturating_add(MF_TIMEOUT * 2)));
        self.send_heartbeat(now, crate::message::HeartbeatKind::Ping, from, None);
    }

    /// Number of sibling replicas ahead of this one: a larger replication offset, or the same
    /// offset and a lower node ID (0: best placed). The tie-break keeps equal replicas from
    /// splitting the votes.
    fn rank(&self, primary: &NodeId) -> u64 {
        self.nodes
            .values()
            .filter(|n| {
                n.id != self.myself
                    && n.is_replica()
                    && n.primary == Some(*primary)
                    && !n.nofailover
                    && (n.repl_offset, std::cmp::Reverse(n.id))
                        > (self.repl_offset, std::cmp::Reverse(self.myself))
            })
            .count() as u64
    }

    /// Runs every tick on a replica: schedules, starts and concludes elections.
    pub(crate) fn replica_failover(&mut self, now: u64) {
        let manual = self.manual.end != 0 && self.manual.can_start;
        let Some(primary) = self.me().primary.and_then(|p| self.nodes.get(&p)) else {
            return;
        };
        let primary_id = primary.id;
        let eligible = (primary.fail || manual)
            && !primary.slots.is_empty()
            && (manual || !self.config.replica_no_failover);
        if !eligible {
            return;
        }
        let timeout = self.config.node_timeout_ms;
        let auth_timeout = timeout.saturating_mul(2).max(2000);
        let retry = auth_timeout.saturating_mul(2);
        if !manual && self.data_too_old(now) {
            return;
        }
        if !self.election.scheduled || now.saturating_sub(self.election.auth_time) > retry {
            let rank = if manual { 0 } else { self.rank(&primary_id) };
            // Redis waits 500 ms plus up to 500 ms so the FAIL reaches every primary before
            // the vote request; FAIL goes to all nodes at once here, so with short node
            // timeouts a quarter of the timeout is enough (the same 500 ms from 2 s up).
            let settle = (timeout / 4).clamp(50, 500);
            let delay = if manual {
                0
            } else {
                settle + self.rng.gen_range(0..settle) + rank * 1000
            };
            self.election = Election {
                scheduled: true,
                auth_time: now.saturating_add(delay),
                rank,
                ..Election::default()
            };
            return;
        }
        if !self.election.sent && !manual {
            let rank = self.rank(&primary_id);
            if rank > self.election.rank {
                self.election.auth_time += (rank - self.election.rank) * 1000;
                self.election.rank = rank;
            }
        }
        if now < self.election.auth_time || now - self.election.auth_time > auth_timeout {
            return;
        }
        if !self.election.sent {
            self.current_epoch = self.current_epoch.saturating_add(1);
            self.election.epoch = self.current_epoch;
            self.election.sent = true;
            self.save_pending = true;
            let mut header = self.header();
            if manual {
                header.mflags |= mflags::FORCEACK;
            }
            self.election.request = Some(header);
            self.request_votes(now);
            return;
        }
        if self.election.voters.len() >= self.quorum() {
            self.promote(now);
        } else if now.saturating_sub(self.election.last_request) >= 1000 {
            self.request_votes(now);
        }
    }

    /// Sends the election's request (unchanged: same epoch) to every peer that did not vote
    /// yet: a primary that learned of the failure late, or lost the request, can still vote
    /// in this epoch.
    fn request_votes(&mut self, now: u64) {
        let Some(header) = self.election.request.clone() else {
            return;
        };
        self.election.last_request = now;
        let targets: Vec<NodeId> = self
            .peers()
            .filter(|n| !self.election.voters.contains(&n.id))
            .map(|n| n.id)
            .collect();
        for to in targets {
            if let Some(addr) = self.nodes.get(&to).map(|n| n.bus_addr()) {
                self.send_with(to, addr, header.clone(), Body::FailoverAuthRequest);
            }
        }
    }

    /// Whether this replica's data is too old to fail over (validity factor).
    fn data_too_old(&self, now: u64) -> bool {
        let factor = self.config.replica_validity_factor;
        if factor == 0 || self.primary_link_up {
            return false;
        }
        let timeout = self.config.node_timeout_ms;
        let age = now
            .saturating_sub(self.primary_link_down_since)
            .saturating_sub(timeout);
        age > self
            .config
            .repl_ping_period_ms
            .saturating_add(timeout.saturating_mul(factor))
    }

    pub(crate) fn count_vote(&mut self, header: &Header) {
        let from = header.sender;
        let serves = self
            .nodes
            .get(&from)
            .is_some_and(|n| n.is_primary() && !n.slots.is_empty());
        if serves && self.election.sent && header.current_epoch >= self.election.epoch {
            self.election.voters.insert(from);
        }
    }

    /// A primary's vote: one per epoch, not twice within 2×node_timeout for replicas of the
    /// same primary, only for a FAIL primary (or a forced manual failover), never for a
    /// replica whose claimed slots have newer owners.
    pub(crate) fn maybe_vote(&mut self, now: u64, header: &Header) {
        let me = self.me();
        if !me.is_primary() || me.slots.is_empty() {
            return;
        }
        if header.current_epoch < self.current_epoch || self.last_vote_epoch == self.current_epoch {
            return;
        }
        let Some(primary) = header.primary.and_then(|p| self.nodes.get(&p)) else {
            return;
        };
        let forced = header.mflags & mflags::FORCEACK != 0;
        if !primary.fail && !forced {
            return;
        }
        let window = self.config.node_timeout_ms.saturating_mul(2);
        if primary
            .voted_time
            .is_some_and(|t| now.saturating_sub(t) < window)
        {
            return;
        }
        let stale = header.slots.iter().any(|slot| {
            self.slot_owner(slot)
                .is_some_and(|o| self.epoch_of(&o) > header.config_epoch)
        });
        if stale {
            return;
        }
        let primary_id = primary.id;
        self.last_vote_epoch = self.current_epoch;
        if let Some(p) = self.nodes.get_mut(&primary_id) {
            p.voted_time = Some(now);
        }
        self.save_pending = true;
        self.send(header.sender, Body::FailoverAuthAck);
    }

    /// This replica becomes the primary of its shard: takes its old primary's slots with the
    /// election's epoch and tells everyone.
    pub(crate) fn promote(&mut self, now: u64) {
        let Some(old) = self.me().primary else {
            return;
        };
        let slots: Vec<u16> = self
            .nodes
            .get(&old)
            .map(|n| n.slots.iter().collect())
            .unwrap_or_default();
        {
            let me = self.me_mut();
            me.role = Role::Primary;
            me.primary = None;
        }
        self.assign_many(&slots, Some(self.myself));
        if self.election.epoch > self.me().config_epoch {
            let epoch = self.election.epoch;
            self.me_mut().config_epoch = epoch;
        }
        self.election = Election::default();
        self.reset_manual_failover();
        self.outputs.push(Output::Promote);
        self.changed();
        self.update_state(now);
        self.broadcast_pong(now);
    }
}
