//! What a sentinel knows about each monitored master, its replicas and the other sentinels.

use std::collections::BTreeMap;

use crate::addr::Addr;
use crate::config::MasterSettings;
use crate::info::Role;

/// Reachability of one instance, from PINGs and their replies.
#[derive(Debug, Clone)]
pub struct Health {
    /// When the oldest unanswered PING was sent.
    pub pending_since: Option<u64>,
    pub last_ping_ms: Option<u64>,
    /// Last valid reply (PONG, LOADING, MASTERDOWN); the creation time before the first.
    pub last_ok_ms: u64,
    /// Last reply of any kind.
    pub last_reply_ms: u64,
    pub sdown_since: Option<u64>,
    /// The driver reported the link closed or refused since the last valid reply.
    pub disconnected: bool,
}

impl Health {
    pub fn new(now_ms: u64) -> Health {
        Health {
            pending_since: None,
            last_ping_ms: None,
            last_ok_ms: now_ms,
            last_reply_ms: now_ms,
            sdown_since: None,
            disconnected: false,
        }
    }

    pub fn ping_sent(&mut self, now_ms: u64) {
        self.pending_since.get_or_insert(now_ms);
        self.last_ping_ms = Some(now_ms);
    }

    pub fn replied(&mut self, now_ms: u64, valid: bool) {
        self.last_reply_ms = now_ms;
        if valid {
            self.last_ok_ms = now_ms;
            self.pending_since = None;
            self.disconnected = false;
        }
    }

    /// How long the instance has gone without answering: since the oldest unanswered PING
    /// or, once its link is known to be down, since its last valid reply (as Redis counts).
    pub fn unanswered_ms(&self, now_ms: u64) -> u64 {
        let pending = self
            .pending_since
            .map_or(0, |since| now_ms.saturating_sub(since));
        if self.disconnected {
            pending.max(now_ms.saturating_sub(self.last_ok_ms))
        } else {
            pending
        }
    }

    pub fn ping_due(&self, now_ms: u64, period_ms: u64) -> bool {
        self.last_ping_ms
            .is_none_or(|at| now_ms.saturating_sub(at) >= period_ms)
    }

    pub fn is_sdown(&self) -> bool {
        self.sdown_since.is_some()
    }
}

/// Progress of one replica's repointing during a failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconf {
    None,
    Sent,
    InProgress,
    Done,
}

/// What INFO last said about a server (master or replica).
#[derive(Debug, Clone)]
pub struct Reported {
    pub run_id: Option<String>,
    pub role: Option<Role>,
    pub role_since_ms: u64,
    pub info: Option<String>,
    pub info_at_ms: Option<u64>,
    pub last_info_sent_ms: Option<u64>,
}

impl Reported {
    pub fn new(now_ms: u64) -> Reported {
        Reported {
            run_id: None,
            role: None,
            role_since_ms: now_ms,
            info: None,
            info_at_ms: None,
            last_info_sent_ms: None,
        }
    }
}

/// One replica of a master.
#[derive(Debug, Clone)]
pub struct Replica {
    pub addr: Addr,
    pub health: Health,
    pub reported: Reported,
    pub master: Option<Addr>,
    pub master_since_ms: u64,
    pub master_link_up: bool,
    pub master_link_down_ms: u64,
    pub priority: u64,
    pub offset: u64,
    pub announced: bool,
    pub reconf: Reconf,
    pub reconf_since_ms: u64,
}

impl Replica {
    pub fn new(addr: Addr, now_ms: u64) -> Replica {
        Replica {
            addr,
            health: Health::new(now_ms),
            reported: Reported::new(now_ms),
            master: None,
            master_since_ms: now_ms,
            master_link_up: false,
            master_link_down_ms: 0,
            priority: 100,
            offset: 0,
            announced: true,
            reconf: Reconf::None,
            reconf_since_ms: now_ms,
        }
    }
}

/// Another sentinel monitoring the same master.
#[derive(Debug, Clone)]
pub struct Peer {
    pub runid: String,
    pub addr: Addr,
    pub health: Health,
    pub last_hello_ms: u64,
    /// Its last IS-MASTER-DOWN-BY-ADDR answer said the master is down.
    pub master_down: bool,
    pub down_reply_ms: Option<u64>,
    pub last_ask_ms: Option<u64>,
    /// The leader it voted for, and in which epoch.
    pub leader: Option<String>,
    pub leader_epoch: u64,
}

impl Peer {
    pub fn new(runid: String, addr: Addr, now_ms: u64) -> Peer {
        Peer {
            runid,
            addr,
            health: Health::new(now_ms),
            last_hello_ms: now_ms,
            master_down: false,
            down_reply_ms: None,
            last_ask_ms: None,
            leader: None,
            leader_epoch: 0,
        }
    }
}

/// Where a failover led by this sentinel stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailoverState {
    WaitStart,
    SelectSlave,
    SendSlaveofNoOne,
    WaitPromotion,
    ReconfSlaves,
}

impl FailoverState {
    /// The name SENTINEL MASTER shows as `failover-state`.
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoOne => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Failover {
    pub epoch: u64,
    pub state: FailoverState,
    pub state_since_ms: u64,
    pub started_ms: u64,
    pub promoted: Option<Addr>,
    /// SENTINEL FAILOVER: no agreement asked for.
    pub forced: bool,
    pub last_command_ms: u64,
}

/// One monitored master and everything known around it.
#[derive(Debug, Clone)]
pub struct Master {
    /// Its persistent settings (`machine::master_config` makes the file's view of them).
    pub settings: MasterSettings,
    /// Whom this sentinel voted for (in the epoch `settings.leader_epoch`).
    pub leader: Option<String>,
    pub health: Health,
    pub reported: Reported,
    pub replicas: BTreeMap<Addr, Replica>,
    pub sentinels: BTreeMap<String, Peer>,
    pub odown_since: Option<u64>,
    pub failover: Option<Failover>,
    /// No failover of ours starts before this time (after a vote for another sentinel, an
    /// abort, or while the first ODOWN jitter runs).
    pub hold_until_ms: u64,
    pub last_hello_ms: Option<u64>,
}

impl Master {
    pub fn is_sdown(&self) -> bool {
        self.health.is_sdown()
    }

    pub fn is_odown(&self) -> bool {
        self.odown_since.is_some()
    }

    /// The address clients should use: the promoted replica once it has been promoted in a
    /// failover we lead, else the configured master.
    pub fn current_addr(&self) -> &Addr {
        match &self.failover {
            Some(Failover {
                state: FailoverState::ReconfSlaves,
                promoted: Some(promoted),
                ..
            }) => promoted,
            _ => &self.settings.addr,
        }
    }

    /// The peer sentinel listening at `addr`.
    pub fn peer_at_mut(&mut self, addr: &Addr) -> Option<&mut Peer> {
        self.sentinels.values_mut().find(|p| &p.addr == addr)
    }
}
