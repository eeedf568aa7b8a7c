//! The failover a sentinel leads: election, choice of the replica, its promotion, the
//! repointing of the others, the switch to the new master.

use std::collections::BTreeMap;

use crate::addr::Addr;
use crate::info::Role;
use crate::machine::{
    master_subject, replica_subject, PeerKind, Request, Sentinel, CRASH_AFTER_ELECTION,
};
use crate::state::{Failover, FailoverState, Master, Reconf, Replica};

/// How often a command the failover waits on (REPLICAOF NO ONE) is sent again, in case the
/// first was lost.
const RESEND_PERIOD_MS: u64 = 1000;
/// Longest wait for fresh replica offsets before choosing the replica to promote.
const FRESH_OFFSETS_WAIT_MS: u64 = 1500;
/// Wait before trying again after a failed attempt (plus up to the desync jitter).
const RETRY_DELAY_MS: u64 = 1000;

impl Sentinel {
    pub(crate) fn start_failover_if_needed(&mut self, now_ms: u64, name: &str) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        if m.is_odown() && m.failover.is_none() && now_ms >= m.hold_until_ms {
            self.start_failover(now_ms, name, false);
        }
    }

    /// Opens a new epoch and a failover in it; `forced` (SENTINEL FAILOVER) skips the vote.
    pub(crate) fn start_failover(&mut self, now_ms: u64, name: &str, forced: bool) {
        self.current_epoch += 1;
        let epoch = self.current_epoch;
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        m.failover = Some(Failover {
            epoch,
            state: FailoverState::WaitStart,
            state_since_ms: now_ms,
            started_ms: now_ms,
            promoted: None,
            forced,
            last_command_ms: 0,
        });
        let subject = master_subject(m);
        self.mark_dirty();
        self.event("+new-epoch", epoch.to_string());
        self.event("+try-failover", subject);
        self.ask_master_state(now_ms, name, true);
        self.refresh_replicas(name);
    }

    pub(crate) fn failover_step(&mut self, now_ms: u64, name: &str) {
        let Some(state) = self
            .masters
            .get(name)
            .and_then(|m| m.failover.as_ref())
            .map(|f| f.state)
        else {
            return;
        };
        match state {
            FailoverState::WaitStart => self.wait_start(now_ms, name),
            FailoverState::SelectSlave => self.select_slave(now_ms, name),
            FailoverState::SendSlaveofNoOne => self.send_slaveof_noone(now_ms, name),
            FailoverState::WaitPromotion => self.wait_promotion(now_ms, name),
            FailoverState::ReconfSlaves => self.reconf_slaves(now_ms, name),
        }
    }

    fn set_state(&mut self, now_ms: u64, name: &str, state: FailoverState) {
        if let Some(f) = self.masters.get_mut(name).and_then(|m| m.failover.as_mut()) {
            f.state = state;
            f.state_since_ms = now_ms;
        }
    }

    fn wait_start(&mut self, now_ms: u64, name: &str) {
        let Some(f) = self.masters.get(name).and_then(|m| m.failover.clone()) else {
            return;
        };
        let election = self.election(now_ms, name, f.epoch);
        let Some(m) = self.masters.get(name) else {
            return;
        };
        if election != Election::Won && !f.forced {
            let timeout = self
                .timing
                .election_timeout_ms
                .min(m.settings.failover_timeout_ms);
            // A lost election (the votes still out cannot make us win) ends at once, so
            // the next attempt, in a new epoch, comes promptly.
            if election == Election::Lost || now_ms.saturating_sub(f.started_ms) > timeout {
                let subject = master_subject(m);
                self.event("-failover-abort-not-elected", subject);
                self.abort_failover(now_ms, name);
            }
            return;
        }
        let subject = master_subject(m);
        self.event("+elected-leader", subject.clone());
        if self.simulated_crash(CRASH_AFTER_ELECTION) {
            return;
        }
        self.event("+failover-state-select-slave", subject);
        self.set_state(now_ms, name, FailoverState::SelectSlave);
        self.select_slave(now_ms, name);
    }

    fn select_slave(&mut self, now_ms: u64, name: &str) {
        let ping_period = self.timing.ping_period_ms;
        let info_period = self.timing.info_period_ms;
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        if awaiting_fresh_offsets(m, now_ms) {
            return;
        }
        let Some(chosen) = select_replica(m, now_ms, ping_period, info_period) else {
            let subject = master_subject(m);
            self.event("-failover-abort-no-good-slave", subject);
            self.abort_failover(now_ms, name);
            return;
        };
        if let Some(f) = m.failover.as_mut() {
            f.promoted = Some(chosen.clone());
        }
        let text = replica_subject(m, &chosen);
        self.event("+selected-slave", text.clone());
        self.event("+failover-state-send-slaveof-noone", text);
        self.set_state(now_ms, name, FailoverState::SendSlaveofNoOne);
        self.send_slaveof_noone(now_ms, name);
    }

    fn send_slaveof_noone(&mut self, now_ms: u64, name: &str) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let Some(promoted) = m.failover.as_ref().and_then(|f| f.promoted.clone()) else {
            return;
        };
        if let Some(f) = m.failover.as_mut() {
            f.last_command_ms = now_ms;
        }
        let text = replica_subject(m, &promoted);
        self.repoint(name, &promoted, None);
        self.event("+failover-state-wait-promotion", text);
        self.set_state(now_ms, name, FailoverState::WaitPromotion);
    }

    fn wait_promotion(&mut self, now_ms: u64, name: &str) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let Some(f) = m.failover.clone() else {
            return;
        };
        // The chosen replica failing too ends the wait at once (Redis waits out the whole
        // failover timeout, three minutes by default), so the next attempt comes promptly.
        let promoted_down = f
            .promoted
            .as_ref()
            .and_then(|addr| m.replicas.get(addr))
            .is_none_or(|r| r.health.is_sdown());
        if promoted_down || now_ms.saturating_sub(f.state_since_ms) > m.settings.failover_timeout_ms
        {
            let subject = master_subject(m);
            self.event("-failover-abort-slave-timeout", subject);
            self.abort_failover(now_ms, name);
            return;
        }
        if let Some(promoted) = f.promoted {
            if now_ms.saturating_sub(f.last_command_ms) >= RESEND_PERIOD_MS {
                if let Some(f) = m.failover.as_mut() {
                    f.last_command_ms = now_ms;
                }
                self.repoint(name, &promoted, None);
            }
        }
    }

    fn reconf_slaves(&mut self, now_ms: u64, name: &str) {
        let reconf_timeout = self.timing.slave_reconf_timeout_ms;
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let Some(f) = m.failover.clone() else {
            return;
        };
        let Some(promoted) = f.promoted.clone() else {
            return;
        };
        let mut events = Vec::new();
        let mut sends = Vec::new();
        let mut in_progress = m
            .replicas
            .values()
            .filter(|r| matches!(r.reconf, Reconf::Sent | Reconf::InProgress))
            .count() as u64;
        for r in m.replicas.values_mut() {
            if r.addr == promoted || r.reconf == Reconf::Done {
                continue;
            }
            if r.reconf == Reconf::Sent && now_ms.saturating_sub(r.reconf_since_ms) > reconf_timeout
            {
                r.reconf = Reconf::Done;
                events.push(("-slave-reconf-sent-timeout", r.addr.clone()));
                in_progress = in_progress.saturating_sub(1);
                continue;
            }
            if r.reconf != Reconf::None
                || in_progress >= m.settings.parallel_syncs
                || r.health.is_sdown()
            {
                continue;
            }
            r.reconf = Reconf::Sent;
            r.reconf_since_ms = now_ms;
            in_progress += 1;
            sends.push(r.addr.clone());
            events.push(("+slave-reconf-sent", r.addr.clone()));
        }
        let pending: Vec<Addr> = m
            .replicas
            .values()
            .filter(|r| r.addr != promoted && r.reconf != Reconf::Done && !r.health.is_sdown())
            .map(|r| r.addr.clone())
            .collect();
        let timed_out = now_ms.saturating_sub(f.state_since_ms) > m.settings.failover_timeout_ms;
        let events: Vec<(&str, String)> = events
            .into_iter()
            .map(|(event, addr)| (event, replica_subject(m, &addr)))
            .collect();
        for (event, text) in events {
            self.event(event, text);
        }
        for addr in sends {
            self.repoint(name, &addr, Some(promoted.clone()));
        }
        if pending.is_empty() || timed_out {
            self.end_failover(now_ms, name, &promoted, timed_out.then_some(pending));
        }
    }

    /// Ends our failover: with a timeout, the replicas still pending are told once more
    /// (best effort), as Redis does; then the master is switched.
    fn end_failover(&mut self, now_ms: u64, name: &str, promoted: &Addr, late: Option<Vec<Addr>>) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        let subject = master_subject(m);
        let epoch = m
            .failover
            .as_ref()
            .map_or(m.settings.config_epoch, |f| f.epoch);
        if let Some(late) = late {
            let texts: Vec<(Addr, String)> = late
                .into_iter()
                .map(|addr| {
                    let text = replica_subject(m, &addr);
                    (addr, text)
                })
                .collect();
            self.event("+failover-end-for-timeout", subject.clone());
            for (addr, text) in texts {
                self.event("+slave-reconf-sent-be", text);
                self.repoint(name, &addr, Some(promoted.clone()));
            }
        }
        self.event("+failover-end", subject);
        self.switch_master(now_ms, name, promoted.clone(), epoch);
    }

    /// INFO from every replica at once: the offsets the choice of a replica compares.
    fn refresh_replicas(&mut self, name: &str) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        let replicas: Vec<Addr> = m.replicas.keys().cloned().collect();
        for addr in replicas {
            self.send(name, &addr, PeerKind::Instance, Request::Info);
        }
    }

    /// `REPLICAOF` (`None`: NO ONE) to `addr`, then an INFO at once, so the change is seen
    /// without waiting an INFO period.
    pub(crate) fn repoint(&mut self, name: &str, addr: &Addr, target: Option<Addr>) {
        self.send(name, addr, PeerKind::Instance, Request::ReplicaOf(target));
        self.send(name, addr, PeerKind::Instance, Request::Info);
    }

    pub(crate) fn abort_failover(&mut self, now_ms: u64, name: &str) {
        let jitter = self.rng.below(self.timing.max_desync_ms.max(1));
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        m.failover = None;
        for r in m.replicas.values_mut() {
            r.reconf = Reconf::None;
        }
        m.hold_until_ms = m.hold_until_ms.max(now_ms + RETRY_DELAY_MS + jitter);
    }

    /// Where our election for `epoch` stands: a leader needs the votes of a majority of all
    /// known sentinels and at least the quorum. Casts our own vote on the way (for the
    /// sentinel others favour, else for ourselves).
    fn election(&mut self, now_ms: u64, name: &str, epoch: u64) -> Election {
        let Some(m) = self.masters.get(name) else {
            return Election::Lost;
        };
        let mut votes: BTreeMap<String, u64> = BTreeMap::new();
        // Voters that have spent their vote for this epoch (or a later one).
        let mut spent = 0;
        for p in m.sentinels.values() {
            let Some(leader) = &p.leader else {
                continue;
            };
            if p.leader_epoch >= epoch {
                spent += 1;
            }
            if p.leader_epoch == epoch {
                *votes.entry(leader.clone()).or_default() += 1;
            }
        }
        let voters = m.sentinels.len() as u64 + 1;
        let needed = (voters / 2 + 1).max(m.settings.quorum);
        let favourite = best(&votes).map(|(runid, _)| runid);
        let candidate = favourite.unwrap_or_else(|| self.myid.clone());
        let (my_vote, my_vote_epoch) = self.vote(now_ms, name, epoch, &candidate);
        if my_vote_epoch >= epoch {
            spent += 1;
        }
        if let (Some(my_vote), true) = (my_vote, my_vote_epoch == epoch) {
            *votes.entry(my_vote).or_default() += 1;
        }
        let mine = votes.get(&self.myid).copied().unwrap_or(0);
        if mine >= needed {
            Election::Won
        } else if mine + voters.saturating_sub(spent) < needed {
            Election::Lost
        } else {
            Election::Pending
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Election {
    Won,
    Pending,
    Lost,
}

/// The runid with most votes (the smallest runid among equals, for determinism).
fn best(votes: &BTreeMap<String, u64>) -> Option<(String, u64)> {
    let mut best: Option<(&String, u64)> = None;
    for (runid, &count) in votes {
        if best.is_none_or(|(_, c)| count > c) {
            best = Some((runid, count));
        }
    }
    best.map(|(runid, count)| (runid.clone(), count))
}

/// Whether the choice of a replica should wait for INFO replies: every replica that could
/// be chosen must have reported its offset after the master went down (or, in a forced
/// failover, after it started), since a write acknowledged by some replica (WAIT) is only
/// kept if the most up-to-date replica wins. Waits at most `FRESH_OFFSETS_WAIT_MS`.
/// (Redis compares offsets from INFO replies up to five seconds old.)
fn awaiting_fresh_offsets(m: &Master, now_ms: u64) -> bool {
    let Some(f) = &m.failover else {
        return false;
    };
    if now_ms.saturating_sub(f.state_since_ms) >= FRESH_OFFSETS_WAIT_MS {
        return false;
    }
    let since = m
        .health
        .sdown_since
        .unwrap_or(f.started_ms)
        .min(f.started_ms);
    m.replicas.values().any(|r| {
        !r.health.is_sdown()
            && r.priority != 0
            && r.reported.role == Some(Role::Replica)
            && r.reported.info_at_ms.is_none_or(|at| at < since)
    })
}

/// The replica to promote: reachable, recently heard from, not priority 0, its link to the
/// master not down for too long; then lowest priority, highest offset, smallest run id.
/// When no replica qualifies, a known instance that already says it is a master (an old
/// master back, or one promoted behind the sentinels' back) is taken the same way, so the
/// group is never stuck without a primary (Redis has no such fallback).
pub(crate) fn select_replica(
    m: &Master,
    now_ms: u64,
    ping_period_ms: u64,
    info_period_ms: u64,
) -> Option<Addr> {
    let info_validity = if m.is_sdown() {
        5 * ping_period_ms
    } else {
        3 * info_period_ms
    };
    let down_since = m.health.sdown_since.unwrap_or(now_ms);
    let max_link_down = now_ms.saturating_sub(down_since) + m.settings.down_after_ms * 10;
    let usable = |r: &&Replica| {
        !r.health.is_sdown()
            && now_ms.saturating_sub(r.health.last_ok_ms) <= 5 * ping_period_ms
            && r.priority != 0
            && r.reported
                .info_at_ms
                .is_some_and(|at| now_ms.saturating_sub(at) <= info_validity)
    };
    let replicas = m.replicas.values().filter(usable).filter(|r| {
        r.reported.role == Some(Role::Replica) && r.master_link_down_ms <= max_link_down
    });
    best_candidate(replicas).or_else(|| {
        let masters = m
            .replicas
            .values()
            .filter(usable)
            .filter(|r| r.reported.role == Some(Role::Master));
        best_candidate(masters)
    })
}

fn best_candidate<'a>(candidates: impl Iterator<Item = &'a Replica>) -> Option<Addr> {
    let mut candidates: Vec<&Replica> = candidates.collect();
    candidates.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then(b.offset.cmp(&a.offset))
            .then_with(|| match (&a.reported.run_id, &b.reported.run_id) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
    });
    candidates.first().map(|r| r.addr.clone())
}
