//! What arrives: PING and INFO replies, closed links, hello messages and answers to
//! IS-MASTER-DOWN-BY-ADDR; what each changes in the sentinel's view.

use crate::addr::Addr;
use crate::event::{Event, Subject};
use crate::hello::Hello;
use crate::info::{InfoReport, Role};
use crate::machine::{
    master_subject, replica_subject, MasterDownReply, Output, PeerKind, Sentinel,
    CRASH_AFTER_PROMOTION,
};
use crate::state::{FailoverState, Health, Peer, Reconf, Replica, Reported};

impl Sentinel {
    /// A reply to a PING sent to `addr` for `master`: `valid` for +PONG, -LOADING and
    /// -MASTERDOWN, as Redis counts them.
    pub fn on_ping_reply(
        &mut self,
        now_ms: u64,
        master: &str,
        addr: &Addr,
        kind: PeerKind,
        valid: bool,
    ) {
        if let Some(health) = self.health_mut(master, addr, kind) {
            health.replied(now_ms, valid);
        }
        self.check_health(now_ms, master);
    }

    /// The link to `addr` closed or could not be opened: its silence counts from its last
    /// valid reply, without waiting for a PING to go unanswered (as Redis counts it).
    pub fn on_link_down(&mut self, now_ms: u64, master: &str, addr: &Addr, kind: PeerKind) {
        if let Some(health) = self.health_mut(master, addr, kind) {
            health.disconnected = true;
        }
        self.check_health(now_ms, master);
    }

    pub(crate) fn health_mut(
        &mut self,
        master: &str,
        addr: &Addr,
        kind: PeerKind,
    ) -> Option<&mut Health> {
        let m = self.masters.get_mut(master)?;
        match kind {
            PeerKind::Instance if &m.settings.addr == addr => Some(&mut m.health),
            PeerKind::Instance => m.replicas.get_mut(addr).map(|r| &mut r.health),
            PeerKind::Sentinel => m.peer_at_mut(addr).map(|p| &mut p.health),
        }
    }

    /// An INFO reply from a server linked for `master`.
    pub fn on_info(&mut self, now_ms: u64, master: &str, addr: &Addr, text: &str) {
        let report = InfoReport::parse(text);
        let Some(m) = self.masters.get_mut(master) else {
            return;
        };
        if &m.settings.addr == addr {
            update_reported(&mut m.reported, &report, text, now_ms);
            if report.role == Some(Role::Master) {
                self.discover_replicas(now_ms, master, &report.replicas);
            }
        } else if let Some(replica) = m.replicas.get_mut(addr) {
            update_reported(&mut replica.reported, &report, text, now_ms);
            if replica.master != report.master {
                replica.master_since_ms = now_ms;
            }
            replica.master = report.master.clone();
            replica.master_link_up = report.master_link_up;
            replica.master_link_down_ms = report.master_link_down_ms;
            replica.priority = report.priority;
            replica.offset = report.repl_offset;
            replica.announced = report.announced;
            self.follow_replica_progress(now_ms, master, addr);
            // The choice of a replica may have been waiting for this offset.
            let selecting = self
                .masters
                .get(master)
                .and_then(|m| m.failover.as_ref())
                .is_some_and(|f| f.state == FailoverState::SelectSlave);
            if selecting {
                self.failover_step(now_ms, master);
            }
        }
    }

    /// A hello message read on any instance's hello channel (or PUBLISHed to us).
    pub fn on_hello(&mut self, now_ms: u64, text: &str) {
        let Some(hello) = Hello::parse(text) else {
            return;
        };
        if hello.runid == self.myid {
            return;
        }
        let Some(sender) = hello.sender() else {
            return;
        };
        if !self.masters.contains_key(&hello.master_name) {
            return;
        }
        self.learn_sentinel(now_ms, &hello, &sender);
        if hello.current_epoch > self.current_epoch {
            self.current_epoch = hello.current_epoch;
            self.mark_dirty();
            self.event("+new-epoch", hello.current_epoch.to_string());
        }
        let Some(m) = self.masters.get(&hello.master_name) else {
            return;
        };
        if m.settings.config_epoch < hello.master_config_epoch && m.settings.addr != hello.master {
            let old = m.settings.addr.clone();
            let subject = Subject::Sentinel {
                runid: &hello.runid,
                addr: &sender,
                master: &m.settings.name,
                master_addr: &old,
            }
            .describe();
            self.event("+config-update-from", subject);
            self.switch_master(
                now_ms,
                &hello.master_name,
                hello.master.clone(),
                hello.master_config_epoch,
            );
        }
    }

    /// A sentinel's answer to IS-MASTER-DOWN-BY-ADDR about `master`. An answer about an
    /// address that is no longer the master's (asked before a switch) is ignored.
    pub fn on_master_down_reply(
        &mut self,
        now_ms: u64,
        master: &str,
        from: &Addr,
        reply: &MasterDownReply,
    ) {
        let Some(m) = self.masters.get_mut(master) else {
            return;
        };
        if m.settings.addr != reply.about {
            return;
        }
        let Some(peer) = m.peer_at_mut(from) else {
            return;
        };
        peer.down_reply_ms = Some(now_ms);
        peer.master_down = reply.down;
        if reply.leader != "*" {
            peer.leader = Some(reply.leader.clone());
            peer.leader_epoch = reply.leader_epoch;
        }
        self.step_master(now_ms, master);
    }

    pub(crate) fn learn_sentinel(&mut self, now_ms: u64, hello: &Hello, sender: &Addr) {
        let Some(m) = self.masters.get_mut(&hello.master_name) else {
            return;
        };
        if let Some(peer) = m.sentinels.get_mut(&hello.runid) {
            peer.last_hello_ms = now_ms;
            if &peer.addr == sender {
                return;
            }
            peer.addr = sender.clone();
        } else {
            if m.sentinels.len() >= crate::config::KNOWN_MAX {
                return;
            }
            let duplicates: Vec<String> = m
                .sentinels
                .values()
                .filter(|p| &p.addr == sender)
                .map(|p| p.runid.clone())
                .collect();
            for runid in duplicates {
                m.sentinels.remove(&runid);
                let master_addr = m.settings.addr.clone();
                let text = Subject::Sentinel {
                    runid: &runid,
                    addr: sender,
                    master: &hello.master_name,
                    master_addr: &master_addr,
                }
                .describe();
                self.out.push(Output::Publish(Event::new(
                    "-dup-sentinel",
                    format!("{text} #duplicate of {sender} or {}", hello.runid),
                )));
            }
            let Some(m) = self.masters.get_mut(&hello.master_name) else {
                return;
            };
            let mut peer = Peer::new(hello.runid.clone(), sender.clone(), now_ms);
            peer.last_hello_ms = now_ms;
            m.sentinels.insert(hello.runid.clone(), peer);
            let text = Subject::Sentinel {
                runid: &hello.runid,
                addr: sender,
                master: &m.settings.name,
                master_addr: &m.settings.addr,
            }
            .describe();
            self.event("+sentinel", text);
        }
        self.mark_dirty();
    }

    pub(crate) fn discover_replicas(&mut self, now_ms: u64, master: &str, found: &[Addr]) {
        let Some(m) = self.masters.get_mut(master) else {
            return;
        };
        let mut added = Vec::new();
        for addr in found {
            if addr == &m.settings.addr || m.replicas.contains_key(addr) {
                continue;
            }
            if m.replicas.len() >= crate::config::KNOWN_MAX {
                break;
            }
            m.replicas
                .insert(addr.clone(), Replica::new(addr.clone(), now_ms));
            added.push(
                Subject::Replica {
                    addr,
                    master: &m.settings.name,
                    master_addr: &m.settings.addr,
                }
                .describe(),
            );
        }
        if !added.is_empty() {
            self.mark_dirty();
        }
        for text in added {
            self.event("+slave", text);
        }
    }

    /// Keeps a replica's failover progress in step with what its INFO says.
    pub(crate) fn follow_replica_progress(&mut self, now_ms: u64, name: &str, addr: &Addr) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let Some(failover) = m.failover.clone() else {
            return;
        };
        let Some(replica) = m.replicas.get(addr) else {
            return;
        };
        let is_promoted = failover.promoted.as_ref() == Some(addr);
        if is_promoted
            && failover.state == FailoverState::WaitPromotion
            && replica.reported.role == Some(Role::Master)
        {
            m.settings.config_epoch = failover.epoch;
            if let Some(f) = m.failover.as_mut() {
                f.state = FailoverState::ReconfSlaves;
                f.state_since_ms = now_ms;
            }
            // Announce the new configuration at once.
            m.last_hello_ms = None;
            let replica_text = replica_subject(m, addr);
            let master_text = master_subject(m);
            self.mark_dirty();
            self.event("+promoted-slave", replica_text);
            if self.simulated_crash(CRASH_AFTER_PROMOTION) {
                return;
            }
            self.event("+failover-state-reconf-slaves", master_text);
            self.failover_step(now_ms, name);
            return;
        }
        if failover.state != FailoverState::ReconfSlaves || is_promoted {
            return;
        }
        let Some(promoted) = failover.promoted else {
            return;
        };
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let Some(replica) = m.replicas.get_mut(addr) else {
            return;
        };
        let follows = replica.master.as_ref() == Some(&promoted);
        let next = match replica.reconf {
            Reconf::Sent if follows => Some((Reconf::InProgress, "+slave-reconf-inprog")),
            Reconf::InProgress if follows && replica.master_link_up => {
                Some((Reconf::Done, "+slave-reconf-done"))
            }
            _ => None,
        };
        if let Some((state, event)) = next {
            replica.reconf = state;
            replica.reconf_since_ms = now_ms;
            let text = replica_subject(m, addr);
            self.event(event, text);
            self.failover_step(now_ms, name);
        }
    }
}

pub(crate) fn update_reported(
    reported: &mut Reported,
    report: &InfoReport,
    text: &str,
    now_ms: u64,
) {
    if report.role != reported.role {
        reported.role = report.role;
        reported.role_since_ms = now_ms;
    }
    if report.run_id.is_some() {
        reported.run_id = report.run_id.clone();
    }
    reported.info = Some(text.to_owned());
    reported.info_at_ms = Some(now_ms);
}
