//! FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]: a coordinated switch of roles
//! between this primary and one of its replicas, as Redis 7 runs it.
//!
//! 1. The command pauses writes (they wait, as under CLIENT PAUSE WRITE) and enters
//!    `waiting-for-sync`.
//! 2. The replication cron waits for the target (or the first replica) to acknowledge the
//!    whole stream; past TIMEOUT it aborts, or with FORCE fails over anyway.
//! 3. This node then demotes itself (`failover-in-progress`): it follows the target, and its
//!    link sends `PSYNC <replid> <offset> FAILOVER`, which tells the target to become a
//!    primary (if the replid is its own) before it answers the PSYNC as one, so this node
//!    continues partially through the target's `master_replid2`.
//! 4. A +CONTINUE or +FULLRESYNC ends the failover and lets the paused writes run (they are
//!    then refused: this node is a replica); a refusal rolls back to primary.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use slotkv_engine::command::is_keyword;
use slotkv_engine::value::parse_i64;
use slotkv_engine::{CommandError, Reply};

use super::Replication;
use crate::server::Shared;

/// INFO's `master_failover_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailoverState {
    #[default]
    None,
    /// Writes are paused until a replica has acknowledged the whole stream.
    WaitingForSync,
    /// This node follows the target and asks it to take over.
    InProgress,
}

impl FailoverState {
    /// Redis's name of the state.
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::None => "no-failover",
            FailoverState::WaitingForSync => "waiting-for-sync",
            FailoverState::InProgress => "failover-in-progress",
        }
    }
}

/// The failover under way, if any.
#[derive(Debug, Default)]
pub(crate) struct Failover {
    state: FailoverState,
    /// The replica to hand over to (`TO`), or the one found caught up.
    target: Option<(String, u16)>,
    /// End of `waiting-for-sync` (`TIMEOUT`).
    deadline: Option<Instant>,
    force: bool,
    /// Whether a REPLCONF GETACK was sent to hurry the acknowledgements.
    asked_ack: bool,
}

/// The options of FAILOVER (not ABORT).
#[derive(Debug, Default, PartialEq, Eq)]
struct Request {
    target: Option<(String, u16)>,
    timeout_ms: Option<u64>,
    force: bool,
}

/// Parses FAILOVER's options as Redis does: each at most once, any order.
fn parse(args: &[Bytes]) -> Result<Request, CommandError> {
    let mut request = Request::default();
    let mut rest = args.get(1..).unwrap_or_default().iter();
    while let Some(option) = rest.next() {
        if is_keyword(option, "timeout") && request.timeout_ms.is_none() {
            let value = rest.next().ok_or(CommandError::Syntax)?;
            let ms = parse_i64(value).ok_or(CommandError::NotInteger)?;
            if ms <= 0 {
                return Err(CommandError::err("FAILOVER timeout must be greater than 0"));
            }
            request.timeout_ms = Some(ms.unsigned_abs());
        } else if is_keyword(option, "to") && request.target.is_none() {
            let (Some(host), Some(port)) = (rest.next(), rest.next()) else {
                return Err(CommandError::Syntax);
            };
            let port = parse_i64(port).ok_or(CommandError::NotInteger)?;
            // A port no replica listens on simply matches none of them.
            let port = u16::try_from(port).unwrap_or(0);
            request.target = Some((String::from_utf8_lossy(host).into_owned(), port));
        } else if is_keyword(option, "force") && !request.force {
            request.force = true;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(request)
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms].
pub fn failover_command(shared: &Shared, args: &[Bytes]) -> Result<Reply, CommandError> {
    let repl = &shared.replication;
    if args.len() == 2 && is_keyword(&args[1], "abort") {
        if repl.failover_state() == FailoverState::None {
            return Err(CommandError::err("No failover in progress."));
        }
        repl.abort_failover(shared, "Failover manually aborted");
        return Ok(Reply::Ok);
    }
    let request = parse(args)?;
    let mut failover = repl.failover.lock();
    if failover.state != FailoverState::None {
        return Err(CommandError::err("FAILOVER already in progress."));
    }
    if repl.is_replica() {
        return Err(CommandError::err(
            "FAILOVER is not valid when server is a replica.",
        ));
    }
    if repl.state.lock().replicas.is_empty() {
        return Err(CommandError::err("FAILOVER requires connected replicas."));
    }
    if request.force && (request.timeout_ms.is_none() || request.target.is_none()) {
        return Err(CommandError::err(
            "FAILOVER with force option requires both a timeout and target HOST and IP.",
        ));
    }
    if let Some((host, port)) = &request.target {
        let online = repl
            .state
            .lock()
            .replicas
            .iter()
            .find(|r| r.ip.eq_ignore_ascii_case(host) && r.port == *port)
            .map(|r| r.is_online());
        match online {
            None => {
                return Err(CommandError::err(
                    "FAILOVER target HOST and PORT is not a replica.",
                ))
            }
            Some(false) => return Err(CommandError::err("FAILOVER target replica is not online.")),
            Some(true) => tracing::info!("FAILOVER requested to {host}:{port}."),
        }
    } else {
        tracing::info!("FAILOVER requested to any replica.");
    }
    *failover = Failover {
        state: FailoverState::WaitingForSync,
        target: request.target,
        deadline: request
            .timeout_ms
            .map(|ms| Instant::now() + Duration::from_millis(ms)),
        force: request.force,
        asked_ack: false,
    };
    repl.writes_paused.store(true, Ordering::Release);
    Ok(Reply::Ok)
}

impl Replication {
    /// The failover's state (INFO `master_failover_state`).
    pub fn failover_state(&self) -> FailoverState {
        self.failover.lock().state
    }

    /// Whether writes wait for a failover (one relaxed load per command).
    pub fn writes_paused(&self) -> bool {
        self.writes_paused.load(Ordering::Relaxed)
    }

    /// Pauses or resumes writes for a cluster manual failover (CLUSTER FAILOVER on a replica
    /// asks its primary to stop taking writes until the replica caught up).
    pub fn set_writes_paused(&self, paused: bool) {
        self.writes_paused.store(paused, Ordering::Release);
        if !paused {
            self.unpaused.notify_waiters();
        }
    }

    /// Completes once writes are no longer paused.
    pub async fn until_unpaused(&self) {
        loop {
            let notified = self.unpaused.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.writes_paused.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    fn clear_failover(failover: &mut Failover, repl: &Replication) {
        *failover = Failover::default();
        repl.writes_paused.store(false, Ordering::Release);
        repl.unpaused.notify_waiters();
    }

    /// Ends a failover without a switch; a node that had already demoted itself becomes a
    /// primary again.
    pub(crate) fn abort_failover(&self, shared: &Shared, reason: &str) {
        let mut failover = self.failover.lock();
        match &failover.target {
            Some((host, port)) => tracing::info!("FAILOVER to {host}:{port} aborted: {reason}"),
            None => tracing::info!("FAILOVER to any replica aborted: {reason}"),
        }
        if failover.state == FailoverState::InProgress {
            self.promote(shared);
        }
        Self::clear_failover(&mut failover, self);
    }

    /// The demoted node's link asks with `PSYNC ... FAILOVER` while this is true.
    pub(crate) fn failover_in_progress(&self) -> bool {
        self.failover_state() == FailoverState::InProgress
    }

    /// The target answered the `PSYNC ... FAILOVER`: done, or rolled back.
    pub(crate) fn failover_answered(&self, shared: &Shared, accepted: bool) {
        if accepted {
            tracing::info!("Failover target accepted the PSYNC FAILOVER request.");
            Self::clear_failover(&mut self.failover.lock(), self);
        } else {
            self.abort_failover(shared, "Failover target rejected psync request");
        }
    }

    /// The target's side of `PSYNC <replid> <offset> FAILOVER`: become a primary when the
    /// replid is this node's, before answering the PSYNC as a primary.
    pub(crate) fn accept_failover_request(
        &self,
        shared: &Shared,
        replid: &str,
    ) -> Result<(), &'static str> {
        tracing::warn!("Failover request received for replid {replid}.");
        if !self.is_replica() {
            return Err("PSYNC FAILOVER can't be sent to a master.");
        }
        if !replid.eq_ignore_ascii_case(&self.state.lock().replid) {
            return Err("PSYNC FAILOVER replid must match my replid.");
        }
        self.promote(shared);
        tracing::info!("MASTER MODE enabled (failover request)");
        Ok(())
    }

    /// Every 100 ms: moves `waiting-for-sync` on once a replica caught up, or at its timeout.
    pub(crate) fn failover_cron(&self, shared: &Arc<Shared>) {
        let mut failover = self.failover.lock();
        if failover.state != FailoverState::WaitingForSync {
            return;
        }
        if failover.deadline.is_some_and(|at| at <= Instant::now()) {
            match failover.target.clone() {
                Some((host, port)) if failover.force => {
                    tracing::info!("FAILOVER to {host}:{port} time out exceeded, failing over.");
                    failover.state = FailoverState::InProgress;
                    self.follow(shared, host, port);
                }
                _ => {
                    drop(failover);
                    self.abort_failover(shared, "Replica never caught up before timeout");
                }
            }
            return;
        }
        let end = self.offset();
        let caught_up = {
            let state = self.state.lock();
            state
                .replicas
                .iter()
                .filter(|r| r.is_online() && r.ack_offset() >= end)
                .find(|r| {
                    failover.target.as_ref().is_none_or(|(host, port)| {
                        r.ip.eq_ignore_ascii_case(host) && r.port == *port
                    })
                })
                .map(|r| (r.ip.clone(), r.port))
        };
        match caught_up {
            Some((host, port)) => {
                tracing::info!("Failover target {host}:{port} is synced, failing over.");
                failover.target = Some((host.clone(), port));
                failover.state = FailoverState::InProgress;
                self.follow(shared, host, port);
            }
            None if !failover.asked_ack => {
                failover.asked_ack = true;
                drop(failover);
                self.append_command(&["REPLCONF", "GETACK", "*"]);
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::from(w.to_string())).collect()
    }

    #[test]
    fn options_parse_in_any_order_once_each() {
        let request = parse(&args(&[
            "FAILOVER", "TIMEOUT", "50", "TO", "h", "7", "FORCE",
        ]));
        assert_eq!(
            request.ok(),
            Some(Request {
                target: Some(("h".into(), 7)),
                timeout_ms: Some(50),
                force: true,
            })
        );
        assert!(parse(&args(&["FAILOVER", "FORCE", "FORCE"])).is_err());
        assert!(parse(&args(&["FAILOVER", "TO", "h"])).is_err());
        assert!(parse(&args(&["FAILOVER", "TIMEOUT", "0"])).is_err());
        assert!(parse(&args(&["FAILOVER", "ABORT", "FORCE"])).is_err());
        assert_eq!(parse(&args(&["FAILOVER"])).ok(), Some(Request::default()));
    }

    #[test]
    fn states_have_redis_names() {
        assert_eq!(FailoverState::None.name(), "no-failover");
        assert_eq!(FailoverState::WaitingForSync.name(), "waiting-for-sync");
        assert_eq!(FailoverState::InProgress.name(), "failover-in-progress");
    }
}
