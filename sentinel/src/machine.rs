//! The sentinel itself: its public types (timing, requests, outputs, links), construction,
//! accessors, the output queue, and the tick that drives `monitor` and `failover` (with
//! TILT mode). What arrives is handled in `inputs`.

use std::collections::BTreeMap;

use crate::addr::Addr;
use crate::config::{MasterConfig, MasterSettings, SentinelConfig};
use crate::event::{Event, Subject};
use crate::hello::Hello;
use crate::rng::Rng;
use crate::state::{Health, Master, Peer, Replica, Reported};

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
    /// `SENTINEL SIMULATE-FAILURE` reached its point: exit at once, as a crash would (Redis
    /// exits with status 99), after the config rewrite this step asked for.
    Crash,
}

/// `SENTINEL SIMULATE-FAILURE crash-after-election`: crash on winning a failover election.
pub(crate) const CRASH_AFTER_ELECTION: u8 = 1;
/// `SENTINEL SIMULATE-FAILURE crash-after-promotion`: crash once the chosen replica reports
/// itself promoted.
pub(crate) const CRASH_AFTER_PROMOTION: u8 = 2;

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
    pub(crate) out: Vec<Output>,
    dirty: bool,
    last_tick_ms: Option<u64>,
    /// Since when TILT mode holds (silences collected while the process did not run must
    /// not count as instances failing).
    pub(crate) tilt_since_ms: Option<u64>,
    /// The `CRASH_AFTER_*` bits set by SENTINEL SIMULATE-FAILURE.
    pub(crate) simulate_failure: u8,
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
            simulate_failure: 0,
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
            .map(|m| (m.settings.config_epoch, m.current_addr()))
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
                master: m.settings.name.clone(),
                addr: addr.clone(),
                kind: PeerKind::Instance,
                auth_user: m.settings.auth_user.clone(),
                auth_pass: m.settings.auth_pass.clone(),
            };
            links.push(instance(&m.settings.addr));
            links.extend(m.replicas.keys().map(instance));
            links.extend(m.sentinels.values().map(|p| LinkSpec {
                master: m.settings.name.clone(),
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
            settings: config.settings.clone(),
            leader: None,
            health: Health::new(now_ms),
            reported: Reported::new(now_ms),
            replicas: BTreeMap::new(),
            sentinels: BTreeMap::new(),
            odown_since: None,
            failover: None,
            hold_until_ms: 0,
            last_hello_ms: None,
        };
        for addr in &config.known_replicas {
            if addr != &master.settings.addr {
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
        self.masters.insert(master.settings.name.clone(), master);
    }

    pub(crate) fn event(&mut self, channel: &str, message: String) {
        self.out.push(Output::Publish(Event::new(channel, message)));
    }

    /// Asks the driver to crash when SIMULATE-FAILURE set `flag`; returns whether it did.
    pub(crate) fn simulated_crash(&mut self, flag: u8) -> bool {
        let crash = self.simulate_failure & flag != 0;
        if crash {
            self.out.push(Output::Crash);
        }
        crash
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
    pub(crate) fn step_master(&mut self, now_ms: u64, name: &str) {
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
}

/// What sentinel.conf keeps of `m`: once our failover has promoted a replica, its address
/// (the configuration of the new epoch), as Redis writes it.
pub(crate) fn master_config(m: &Master) -> MasterConfig {
    let addr = m.current_addr();
    MasterConfig {
        settings: MasterSettings {
            addr: addr.clone(),
            ..m.settings.clone()
        },
        known_replicas: m
            .replicas
            .keys()
            .filter(|r| *r != addr)
            .chain((&m.settings.addr != addr).then_some(&m.settings.addr))
            .cloned()
            .collect(),
        known_sentinels: m
            .sentinels
            .values()
            .map(|p| (p.addr.clone(), p.runid.clone()))
            .collect(),
    }
}

/// How events name a replica of `m` (Redis's `%@`).
pub(crate) fn replica_subject(m: &Master, addr: &Addr) -> String {
    Subject::Replica {
        addr,
        master: &m.settings.name,
        master_addr: &m.settings.addr,
    }
    .describe()
}

/// How events name master `m` (Redis's `%@`).
pub(crate) fn master_subject(m: &Master) -> String {
    Subject::Master {
        name: &m.settings.name,
        addr: &m.settings.addr,
    }
    .describe()
}
