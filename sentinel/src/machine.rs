//! The sentinel itself: inputs (time, replies, hello messages) in, actions out.

use std::collections::BTreeMap;

use crate::addr::Addr;
use crate::config::{MasterConfig, SentinelConfig};
use crate::event::{Event, Subject};
use crate::hello::Hello;
use crate::info::{InfoReport, Role};
use crate::rng::Rng;
use crate::state::{FailoverState, Health, Master, Peer, Reconf, Replica, Reported};

/// Sentinel's periods (SENTINEL DEBUG shows and changes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub ping_period_ms: u64,
    pub info_period_ms: u64,
    pub ask_period_ms: u64,
    pub publish_period_ms: u64,
    pub default_down_after_ms: u64,
    pub default_failover_timeout_ms: u64,
    pub slave_reconf_timeout_ms: u64,
    pub election_timeout_ms: u64,
    /// The largest random delay before a failover attempt, so sentinels that see the master
    /// fail together do not all ask for votes in the same instant.
    pub max_desync_ms: u64,
    /// A gap between two ticks longer than this (the process was stopped, the machine
    /// suspended) enters TILT mode: no judgement for `tilt_period_ms`, as in Redis.
    pub tilt_trigger_ms: u64,
    pub tilt_period_ms: u64,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            ping_period_ms: 1000,
            info_period_ms: 10_000,
            ask_period_ms: 1000,
            publish_period_ms: 2000,
            default_down_after_ms: crate::config::DEFAULT_DOWN_AFTER_MS,
            default_failover_timeout_ms: crate::config::DEFAULT_FAILOVER_TIMEOUT_MS,
            slave_reconf_timeout_ms: 10_000,
            election_timeout_ms: 10_000,
            max_desync_ms: 500,
            tilt_trigger_ms: 2000,
            tilt_period_ms: 30_000,
        }
    }
}

/// Which kind of instance a link reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerKind {
    /// A monitored server (master or replica): commands plus a hello subscription.
    Instance,
    /// Another sentinel: PING and IS-MASTER-DOWN-BY-ADDR.
    Sentinel,
}

/// A command for the driver to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Ping,
    Info,
    /// `PUBLISH __sentinel__:hello <text>`.
    Hello(Hello),
    /// `REPLICAOF NO ONE` (`None`) or `REPLICAOF host port`, then `CONFIG REWRITE` and
    /// `CLIENT KILL TYPE normal` so clients reconnect to the right primary.
    ReplicaOf(Option<Addr>),
    /// `SENTINEL IS-MASTER-DOWN-BY-ADDR ip port epoch runid` (runid `*` to ask only).
    AskMasterDown {
        master_addr: Addr,
        epoch: u64,
        runid: String,
    },
}

/// A sentinel's answer to `SENTINEL IS-MASTER-DOWN-BY-ADDR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterDownReply {
    /// The master address the question was about.
    pub about: Addr,
    pub down: bool,
    /// Whom it voted for (`*`: no vote asked or given), and in which epoch.
    pub leader: String,
    pub leader_epoch: u64,
}

/// Something to send on behalf of master `master` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub master: String,
    pub to: Addr,
    pub kind: PeerKind,
    pub request: Request,
}

/// What a step asks the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Send(Outgoing),
    Publish(Event),
    /// The persisted state changed: rewrite sentinel.conf.
    RewriteConfig,
}

/// One link the driver should keep open.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LinkSpec {
    pub master: String,
    pub addr: Addr,
    pub kind: PeerKind,
    pub auth_user: Option<String>,
    pub auth_pass: Option<String>,
}

/// One sentinel: every monitored master and the periodic work on them.
#[derive(Debug)]
pub struct Sentinel {
    pub(crate) myid: String,
    pub(crate) current_epoch: u64,
    pub(crate) masters: BTreeMap<String, Master>,
    pub(crate) global: SentinelConfig,
    pub(crate) timing: Timing,
    /// The port hello messages announce (announce-port, else the listening port).
    pub(crate) port: u16,
    pub(crate) rng: Rng,
    out: Vec<Output>,
    dirty: bool,
    last_tick_ms: Option<u64>,
    /// Since when TILT mode holds (silences collected while the process did not run must
    /// not count as instances failing).
    pub(crate) tilt_since_ms: Option<u64>,
}

impl Sentinel {
    /// A sentinel from its configuration; `port` is where it listens, `seed` drives its
    /// random choices (and its id when the file has none).
    pub fn new(config: SentinelConfig, port: u16, seed: u64, now_ms: u64) -> Sentinel {
        let mut rng = Rng::new(seed);
        let myid = config.myid.clone().unwrap_or_else(|| rng.run_id());
        let mut sentinel = Sentinel {
            dirty: config.myid.is_none(),
            myid,
            current_epoch: config.current_epoch,
            masters: BTreeMap::new(),
            timing: Timing::default(),
            port,
            rng,
            out: Vec::new(),
            last_tick_ms: None,
            tilt_since_ms: None,
            global: SentinelConfig {
                masters: Vec::new(),
                ..config.clone()
            },
        };
        for master in &config.masters {
            sentinel.add_master(master, now_ms);
        }
        sentinel
    }

    pub fn myid(&self) -> &str {
        &self.myid
    }

    pub fn current_epoch(&self) -> u64 {
        self.current_epoch
    }

    pub fn timing_mut(&mut self) -> &mut Timing {
        &mut self.timing
    }

    /// The address clients should use for master `name` (GET-MASTER-ADDR-BY-NAME).
    pub fn master_addr(&self, name: &str) -> Option<&Addr> {
        self.masters.get(name).map(Master::current_addr)
    }

    /// `(config epoch, address)` of master `name`.
    pub fn master_view(&self, name: &str) -> Option<(u64, &Addr)> {
        self.masters
            .get(name)
            .map(|m| (m.config_epoch, m.current_addr()))
    }

    /// The epoch of the failover this sentinel leads for `name`, if one runs.
    pub fn failover_epoch(&self, name: &str) -> Option<u64> {
        self.masters.get(name)?.failover.as_ref().map(|f| f.epoch)
    }

    pub fn is_odown(&self, name: &str) -> bool {
        self.masters.get(name).is_some_and(Master::is_odown)
    }

    /// Takes the actions produced so far.
    pub fn drain(&mut self) -> Vec<Output> {
        if std::mem::take(&mut self.dirty) {
            self.out.push(Output::RewriteConfig);
        }
        std::mem::take(&mut self.out)
    }

    /// Every link the driver should hold open, with the credentials to use.
    pub fn links(&self) -> Vec<LinkSpec> {
        let mut links = Vec::new();
        for m in self.masters.values() {
            let instance = |addr: &Addr| LinkSpec {
                master: m.name.clone(),
                addr: addr.clone(),
                kind: PeerKind::Instance,
                auth_user: m.auth_user.clone(),
                auth_pass: m.auth_pass.clone(),
            };
            links.push(instance(&m.addr));
            links.extend(m.replicas.keys().map(instance));
            links.extend(m.sentinels.values().map(|p| LinkSpec {
                master: m.name.clone(),
                addr: p.addr.clone(),
                kind: PeerKind::Sentinel,
                auth_user: self.global.sentinel_user.clone(),
                auth_pass: self.global.sentinel_pass.clone(),
            }));
        }
        links
    }

    /// The configuration as it should be persisted now.
    pub fn config(&self) -> SentinelConfig {
        let mut config = self.global.clone();
        config.myid = Some(self.myid.clone());
        config.current_epoch = self.current_epoch;
        config.masters = self.masters.values().map(master_config).collect();
        config
    }

    pub(crate) fn add_master(&mut self, config: &MasterConfig, now_ms: u64) {
        let mut master = Master {
            name: config.name.clone(),
            addr: config.addr.clone(),
            quorum: config.quorum,
            down_after_ms: config.down_after_ms,
            failover_timeout_ms: config.failover_timeout_ms,
            parallel_syncs: config.parallel_syncs,
            auth_pass: config.auth_pass.clone(),
            auth_user: config.auth_user.clone(),
            config_epoch: config.config_epoch,
            leader: None,
            leader_epoch: config.leader_epoch,
            health: Health::new(now_ms),
            reported: Reported::new(now_ms),
            replicas: BTreeMap::new(),
            sentinels: BTreeMap::new(),
            odown_since: None,
            failover: None,
            hold_until_ms: 0,
            last_hello_ms: None,
            kept_lines: config.kept_lines.clone(),
        };
        for addr in &config.known_replicas {
            if addr != &master.addr {
                master
                    .replicas
                    .insert(addr.clone(), Replica::new(addr.clone(), now_ms));
            }
        }
        for (addr, runid) in &config.known_sentinels {
            if runid != &self.myid {
                let peer = Peer::new(runid.clone(), addr.clone(), now_ms);
                master.sentinels.insert(runid.clone(), peer);
            }
        }
        self.masters.insert(master.name.clone(), master);
    }

    pub(crate) fn event(&mut self, channel: &str, message: String) {
        self.out.push(Output::Publish(Event::new(channel, message)));
    }

    pub(crate) fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    pub(crate) fn send(&mut self, master: &str, to: &Addr, kind: PeerKind, request: Request) {
        self.out.push(Output::Send(Outgoing {
            master: master.to_owned(),
            to: to.clone(),
            kind,
            request,
        }));
    }

    // ---- inputs ----

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

    fn health_mut(&mut self, master: &str, addr: &Addr, kind: PeerKind) -> Option<&mut Health> {
        let m = self.masters.get_mut(master)?;
        match kind {
            PeerKind::Instance if &m.addr == addr => Some(&mut m.health),
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
        if &m.addr == addr {
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
        if m.config_epoch < hello.master_config_epoch && m.addr != hello.master {
            let old = m.addr.clone();
            let subject = Subject::Sentinel {
                runid: &hello.runid,
                addr: &sender,
                master: &m.name,
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
        if m.addr != reply.about {
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

    /// The periodic work: call every 100 ms or so.
    pub fn tick(&mut self, now_ms: u64) {
        self.check_tilt(now_ms);
        let names: Vec<String> = self.masters.keys().cloned().collect();
        for name in names {
            self.step_master(now_ms, &name);
            self.periodic_requests(now_ms, &name);
        }
    }

    /// Enters TILT mode after a gap between ticks, leaves it after the TILT period.
    fn check_tilt(&mut self, now_ms: u64) {
        let previous = self.last_tick_ms.replace(now_ms);
        let gap = previous.map_or(0, |at| now_ms.saturating_sub(at));
        if gap > self.timing.tilt_trigger_ms {
            if self.tilt_since_ms.is_none() {
                self.event("+tilt", "#tilt mode entered".to_owned());
            }
            self.tilt_since_ms = Some(now_ms);
        } else if self
            .tilt_since_ms
            .is_some_and(|since| now_ms.saturating_sub(since) >= self.timing.tilt_period_ms)
        {
            self.tilt_since_ms = None;
            self.event("-tilt", "#tilt mode exited".to_owned());
        }
    }

    pub(crate) fn in_tilt(&self) -> bool {
        self.tilt_since_ms.is_some()
    }

    /// Judges the instances of `name` and moves its failover on (nothing in TILT mode).
    fn step_master(&mut self, now_ms: u64, name: &str) {
        if self.in_tilt() {
            return;
        }
        self.check_health(now_ms, name);
        self.check_odown(name, now_ms);
        self.start_failover_if_needed(now_ms, name);
        self.failover_step(now_ms, name);
        self.ask_master_state(now_ms, name, false);
        self.fix_replicas(now_ms, name);
    }

    fn learn_sentinel(&mut self, now_ms: u64, hello: &Hello, sender: &Addr) {
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
                let master_addr = m.addr.clone();
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
                master: &m.name,
                master_addr: &m.addr,
            }
            .describe();
            self.event("+sentinel", text);
        }
        self.mark_dirty();
    }

    fn discover_replicas(&mut self, now_ms: u64, master: &str, found: &[Addr]) {
        let Some(m) = self.masters.get_mut(master) else {
            return;
        };
        let mut added = Vec::new();
        for addr in found {
            if addr == &m.addr || m.replicas.contains_key(addr) {
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
                    master: &m.name,
                    master_addr: &m.addr,
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

    /// SDOWN of every instance of `name`, from how long their PINGs went unanswered.
    fn check_health(&mut self, now_ms: u64, name: &str) {
        if self.in_tilt() {
            return;
        }
        let info_period = self.timing.info_period_ms;
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let mut events = Vec::new();
        let down_after = m.down_after_ms;
        let master_subject = Subject::Master {
            name: &m.name,
            addr: &m.addr,
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
                master: &m.name,
                master_addr: &m.addr,
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
                master: &m.name,
                master_addr: &m.addr,
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

    fn check_odown(&mut self, name: &str, now_ms: u64) {
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
        let odown = m.is_sdown() && agreeing >= m.quorum;
        let subject = Subject::Master {
            name: &m.name,
            addr: &m.addr,
        }
        .describe();
        match (odown, m.is_odown()) {
            (true, false) => {
                m.odown_since = Some(now_ms);
                m.hold_until_ms = m.hold_until_ms.max(now_ms + jitter);
                let text = format!("{subject} #quorum {agreeing}/{}", m.quorum);
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
        let master_addr = m.addr.clone();
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
    fn periodic_requests(&mut self, now_ms: u64, name: &str) {
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
        let ping_period = timing.ping_period_ms.min(m.down_after_ms);
        if m.health.ping_due(now_ms, ping_period) {
            m.health.ping_sent(now_ms);
            sends.push((m.addr.clone(), PeerKind::Instance, Request::Ping));
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
            sends.push((m.addr.clone(), PeerKind::Instance, Request::Info));
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
                master_name: m.name.clone(),
                master: m.current_addr().clone(),
                master_config_epoch: m.config_epoch,
            };
            sends.push((
                m.addr.clone(),
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
    fn fix_replicas(&mut self, now_ms: u64, name: &str) {
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
                    if r.master.as_ref() != Some(&m.addr)
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
        let master_addr = m.addr.clone();
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
        let old = std::mem::replace(&mut m.addr, new_addr.clone());
        m.config_epoch = config_epoch;
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
        if m.leader_epoch < epoch && current <= epoch {
            m.leader = Some(runid.to_owned());
            m.leader_epoch = current;
            if runid != myid {
                // Leave the elected sentinel its time to fail over before trying ourselves.
                m.hold_until_ms = m.hold_until_ms.max(now_ms + m.failover_timeout_ms + jitter);
            }
            self.mark_dirty();
            self.event("+vote-for-leader", format!("{runid} {current}"));
        }
        let m = &self.masters[name];
        (m.leader.clone(), m.leader_epoch)
    }
}

/// What sentinel.conf keeps of `m`: once our failover has promoted a replica, its address
/// (the configuration of the new epoch), as Redis writes it.
fn master_config(m: &Master) -> MasterConfig {
    let addr = m.current_addr().clone();
    MasterConfig {
        name: m.name.clone(),
        addr: addr.clone(),
        quorum: m.quorum,
        down_after_ms: m.down_after_ms,
        failover_timeout_ms: m.failover_timeout_ms,
        parallel_syncs: m.parallel_syncs,
        auth_pass: m.auth_pass.clone(),
        auth_user: m.auth_user.clone(),
        config_epoch: m.config_epoch,
        leader_epoch: m.leader_epoch,
        known_replicas: m
            .replicas
            .keys()
            .filter(|r| **r != addr)
            .chain((m.addr != addr).then_some(&m.addr))
            .cloned()
            .collect(),
        known_sentinels: m
            .sentinels
            .values()
            .map(|p| (p.addr.clone(), p.runid.clone()))
            .collect(),
        kept_lines: m.kept_lines.clone(),
    }
}

fn update_reported(reported: &mut Reported, report: &InfoReport, text: &str, now_ms: u64) {
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

fn info_due(reported: &Reported, now_ms: u64, period_ms: u64) -> bool {
    reported
        .last_info_sent_ms
        .is_none_or(|at| now_ms.saturating_sub(at) >= period_ms)
}

fn update_sdown(
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

/// Names used by failover and commands.
pub(crate) fn replica_subject(m: &Master, addr: &Addr) -> String {
    Subject::Replica {
        addr,
        master: &m.name,
        master_addr: &m.addr,
    }
    .describe()
}

pub(crate) fn master_subject(m: &Master) -> String {
    Subject::Master {
        name: &m.name,
        addr: &m.addr,
    }
    .describe()
}

impl Sentinel {
    /// Keeps a replica's failover progress in step with what its INFO says.
    fn follow_replica_progress(&mut self, now_ms: u64, name: &str, addr: &Addr) {
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
            m.config_epoch = failover.epoch;
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
