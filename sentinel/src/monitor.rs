//! The periodic judgement of each master: SDOWN and ODOWN, asking the other sentinels,
//! the PINGs, INFOs and hellos that are due, fixing replicas, voting, switching masters.

use crate::addr::Addr;
use crate::event::Subject;
use crate::hello::Hello;
use crate::info::Role;
use crate::machine::{PeerKind, Request, Sentinel};
use crate::state::{Health, Replica, Reported};

impl Sentinel {
    /// SDOWN of every instance of `name`, from how long their PINGs went unanswered.
    pub(crate) fn check_health(&mut self, now_ms: u64, name: &str) {
        if self.in_tilt() {
            return;
        }
        let info_period = self.timing.info_period_ms;
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let mut events = Vec::new();
        let down_after = m.settings.down_after_ms;
        let master_subject = Subject::Master {
            name: &m.settings.name,
            addr: &m.settings.addr,
        }
        .describe();
        // A master that keeps saying it is a replica is as good as down (as in Redis).
        let reports_replica = m.reported.role == Some(Role::Replica)
            && now_ms.saturating_sub(m.reported.role_since_ms) > down_after + 2 * info_period;
        update_sdown(
            &mut m.health,
            now_ms,
            down_after,
            reports_replica,
            master_subject,
            &mut events,
        );
        for r in m.replicas.values_mut() {
            let subject = Subject::Replica {
                addr: &r.addr,
                master: &m.settings.name,
                master_addr: &m.settings.addr,
            }
            .describe();
            update_sdown(
                &mut r.health,
                now_ms,
                down_after,
                false,
                subject,
                &mut events,
            );
        }
        for p in m.sentinels.values_mut() {
            let subject = Subject::Sentinel {
                runid: &p.runid,
                addr: &p.addr,
                master: &m.settings.name,
                master_addr: &m.settings.addr,
            }
            .describe();
            update_sdown(
                &mut p.health,
                now_ms,
                down_after,
                false,
                subject,
                &mut events,
            );
        }
        for (channel, text) in events {
            self.event(channel, text);
        }
    }

    pub(crate) fn check_odown(&mut self, name: &str, now_ms: u64) {
        let jitter = self.rng.below(self.timing.max_desync_ms);
        let ask_period = self.timing.ask_period_ms;
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        // Only recent answers count (as Redis forgets those older than five ask periods).
        let agreeing = 1 + m
            .sentinels
            .values()
            .filter(|p| {
                p.master_down
                    && p.down_reply_ms
                        .is_some_and(|at| now_ms.saturating_sub(at) <= 5 * ask_period)
            })
            .count() as u64;
        let odown = m.is_sdown() && agreeing >= m.settings.quorum;
        let subject = Subject::Master {
            name: &m.settings.name,
            addr: &m.settings.addr,
        }
        .describe();
        match (odown, m.is_odown()) {
            (true, false) => {
                m.odown_since = Some(now_ms);
                m.hold_until_ms = m.hold_until_ms.max(now_ms + jitter);
                let text = format!("{subject} #quorum {agreeing}/{}", m.settings.quorum);
                self.event("+odown", text);
            }
            (false, true) => {
                m.odown_since = None;
                self.event("-odown", subject);
            }
            _ => {}
        }
    }

    /// Asks the other sentinels whether they see the master down (and, during our
    /// failover, for their vote); every ask period, or at once when `forced`.
    pub(crate) fn ask_master_state(&mut self, now_ms: u64, name: &str, forced: bool) {
        let ask_period = self.timing.ask_period_ms;
        let myid = self.myid.clone();
        let epoch = self.current_epoch;
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let runid = if m.failover.is_some() {
            myid
        } else {
            "*".to_owned()
        };
        let mut asks = Vec::new();
        let odown = m.is_odown();
        for p in m.sentinels.values_mut() {
            if p.down_reply_ms
                .is_none_or(|at| now_ms.saturating_sub(at) > 5 * ask_period)
            {
                p.master_down = false;
                p.leader = None;
            }
            if !m.health.is_sdown() && m.failover.is_none() {
                continue;
            }
            // Until the quorum agrees, ask more often than Redis does: ODOWN comes sooner.
            let period = if odown { ask_period } else { ask_period / 4 };
            if !forced
                && p.last_ask_ms
                    .is_some_and(|at| now_ms.saturating_sub(at) < period)
            {
                continue;
            }
            p.last_ask_ms = Some(now_ms);
            asks.push(p.addr.clone());
        }
        let master_addr = m.settings.addr.clone();
        for to in asks {
            let request = Request::AskMasterDown {
                master_addr: master_addr.clone(),
                epoch,
                runid: runid.clone(),
            };
            self.send(name, &to, PeerKind::Sentinel, request);
        }
    }

    /// PINGs, INFOs and hello messages that are due.
    pub(crate) fn periodic_requests(&mut self, now_ms: u64, name: &str) {
        let timing = self.timing.clone();
        let epoch = self.current_epoch;
        let hello_ip = self.global.announce_ip.clone();
        let port = if self.global.announce_port != 0 {
            self.global.announce_port
        } else {
            self.port
        };
        let myid = self.myid.clone();
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let mut sends = Vec::new();
        // Faster INFO while the master is in trouble, as Redis does for its replicas.
        let fast = m.is_sdown() || m.is_odown() || m.failover.is_some();
        // At least two PINGs per down-after period (Redis sends one when down-after is at
        // most a second), so one lost PING or reply does not make an instance SDOWN.
        let ping_period = timing
            .ping_period_ms
            .min(m.settings.down_after_ms / 2)
            .max(1);
        if m.health.ping_due(now_ms, ping_period) {
            m.health.ping_sent(now_ms);
            sends.push((m.settings.addr.clone(), PeerKind::Instance, Request::Ping));
        }
        if info_due(
            &m.reported,
            now_ms,
            if m.is_sdown() {
                1000
            } else {
                timing.info_period_ms
            },
        ) {
            m.reported.last_info_sent_ms = Some(now_ms);
            sends.push((m.settings.addr.clone(), PeerKind::Instance, Request::Info));
        }
        for r in m.replicas.values_mut() {
            if r.health.ping_due(now_ms, ping_period) {
                r.health.ping_sent(now_ms);
                sends.push((r.addr.clone(), PeerKind::Instance, Request::Ping));
            }
            // Also every second for a replica that is down or says it is a master, so an old
            // master coming back is noticed (and converted) quickly.
            let watch = r.health.is_sdown() || r.reported.role != Some(Role::Replica);
            let period = if fast || watch {
                1000
            } else {
                timing.info_period_ms
            };
            if info_due(&r.reported, now_ms, period) {
                r.reported.last_info_sent_ms = Some(now_ms);
                sends.push((r.addr.clone(), PeerKind::Instance, Request::Info));
            }
        }
        for p in m.sentinels.values_mut() {
            if p.health.ping_due(now_ms, ping_period) {
                p.health.ping_sent(now_ms);
                sends.push((p.addr.clone(), PeerKind::Sentinel, Request::Ping));
            }
        }
        if m.last_hello_ms
            .is_none_or(|at| now_ms.saturating_sub(at) >= timing.publish_period_ms)
        {
            m.last_hello_ms = Some(now_ms);
            let hello = Hello {
                ip: hello_ip,
                port,
                runid: myid,
                current_epoch: epoch,
                master_name: m.settings.name.clone(),
                master: m.current_addr().clone(),
                master_config_epoch: m.settings.config_epoch,
            };
            sends.push((
                m.settings.addr.clone(),
                PeerKind::Instance,
                Request::Hello(hello.clone()),
            ));
            for r in m.replicas.values().filter(|r| !r.health.is_sdown()) {
                sends.push((
                    r.addr.clone(),
                    PeerKind::Instance,
                    Request::Hello(hello.clone()),
                ));
            }
        }
        for (to, kind, request) in sends {
            self.send(name, &to, kind, request);
        }
    }

    /// Outside failovers: a replica that says it is a master (the old master back) is turned
    /// into a replica of the current master; a replica following the wrong master is
    /// repointed. Both wait until the master looks sane, as Redis does.
    pub(crate) fn fix_replicas(&mut self, now_ms: u64, name: &str) {
        let wait_ms = self.timing.publish_period_ms * 4;
        let info_period = self.timing.info_period_ms;
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let sane = m.failover.is_none()
            && !m.is_sdown()
            && m.reported.role == Some(Role::Master)
            && m.reported
                .info_at_ms
                .is_some_and(|at| now_ms.saturating_sub(at) < 2 * info_period);
        if !sane {
            return;
        }
        let mut fixes = Vec::new();
        for r in m.replicas.values_mut() {
            if r.health.is_sdown() || r.reported.info_at_ms.is_none() {
                continue;
            }
            let event = match r.reported.role {
                Some(Role::Master) if now_ms.saturating_sub(r.reported.role_since_ms) > wait_ms => {
                    "+convert-to-slave"
                }
                Some(Role::Replica)
                    if r.master.as_ref() != Some(&m.settings.addr)
                        && now_ms.saturating_sub(r.master_since_ms) > wait_ms =>
                {
                    "+fix-slave-config"
                }
                _ => continue,
            };
            // Sent once per wait period at most.
            r.master_since_ms = now_ms;
            r.reported.role_since_ms = now_ms;
            fixes.push((event, r.addr.clone()));
        }
        let master_addr = m.settings.addr.clone();
        for (event, addr) in fixes {
            let text = Subject::Replica {
                addr: &addr,
                master: name,
                master_addr: &master_addr,
            }
            .describe();
            self.event(event, text);
            self.repoint(name, &addr, Some(master_addr.clone()));
        }
    }

    /// The master of `name` is now `new_addr` (our failover ended, or a hello announced a
    /// newer configuration): its replicas are the old ones plus the old master.
    pub(crate) fn switch_master(
        &mut self,
        now_ms: u64,
        name: &str,
        new_addr: Addr,
        config_epoch: u64,
    ) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let old = std::mem::replace(&mut m.settings.addr, new_addr.clone());
        m.settings.config_epoch = config_epoch;
        let mut replicas: Vec<Addr> = m
            .replicas
            .keys()
            .filter(|a| **a != new_addr)
            .cloned()
            .collect();
        if old != new_addr {
            replicas.push(old.clone());
        }
        m.replicas = replicas
            .into_iter()
            .map(|addr| (addr.clone(), Replica::new(addr, now_ms)))
            .collect();
        m.health = Health::new(now_ms);
        m.reported = Reported::new(now_ms);
        m.odown_since = None;
        m.failover = None;
        // Unlike Redis (which waits twice the failover timeout from the last attempt), the
        // new master may be failed over as soon as it fails.
        m.hold_until_ms = 0;
        m.last_hello_ms = None;
        for p in m.sentinels.values_mut() {
            p.master_down = false;
            p.leader = None;
        }
        self.mark_dirty();
        self.event(
            "+switch-master",
            format!(
                "{name} {} {} {} {}",
                old.host, old.port, new_addr.host, new_addr.port
            ),
        );
    }

    /// Our vote for the leader of `epoch` (one per epoch): returns whom we voted for, and in
    /// which epoch.
    pub(crate) fn vote(
        &mut self,
        now_ms: u64,
        name: &str,
        epoch: u64,
        runid: &str,
    ) -> (Option<String>, u64) {
        if epoch > self.current_epoch {
            self.current_epoch = epoch;
            self.mark_dirty();
            self.event("+new-epoch", epoch.to_string());
        }
        let current = self.current_epoch;
        let jitter = self.rng.below(self.timing.max_desync_ms);
        let myid = self.myid.clone();
        let Some(m) = self.masters.get_mut(name) else {
            return (None, 0);
        };
        if m.settings.leader_epoch < epoch && current <= epoch {
            m.leader = Some(runid.to_owned());
            m.settings.leader_epoch = current;
            if runid != myid {
                // Leave the elected sentinel its time to fail over before trying ourselves.
                m.hold_until_ms = m
                    .hold_until_ms
                    .max(now_ms + m.settings.failover_timeout_ms + jitter);
            }
            self.mark_dirty();
            self.event("+vote-for-leader", format!("{runid} {current}"));
        }
        self.masters
            .get(name)
            .map_or((None, 0), |m| (m.leader.clone(), m.settings.leader_epoch))
    }
}

pub(crate) fn info_due(reported: &Reported, now_ms: u64, period_ms: u64) -> bool {
    reported
        .last_info_sent_ms
        .is_none_or(|at| now_ms.saturating_sub(at) >= period_ms)
}

pub(crate) fn update_sdown(
    health: &mut Health,
    now_ms: u64,
    down_after_ms: u64,
    also_down: bool,
    subject: String,
    events: &mut Vec<(&'static str, String)>,
) {
    let down = health.unanswered_ms(now_ms) > down_after_ms || also_down;
    match (down, health.is_sdown()) {
        (true, false) => {
            health.sdown_since = Some(now_ms);
            events.push(("+sdown", subject));
        }
        (false, true) => {
            health.sdown_since = None;
            events.push(("-sdown", subject));
        }
        _ => {}
    }
}
