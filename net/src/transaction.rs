//! MULTI/EXEC/DISCARD/WATCH/UNWATCH, as Redis 7 runs them: between MULTI and EXEC commands are
//! queued (`+QUEUED`); an error while queuing (unknown command, wrong arity, a command not
//! allowed in a transaction) makes EXEC answer EXECABORT; EXEC runs the queue with every other
//! command held off (the engine's gate) and replies with every result, errors included (no
//! rollback); a write to a watched key since WATCH makes EXEC answer a null array.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use slotkv_engine::command::{CommandSpec, CommandTable, Flags};
use slotkv_engine::watch::WatchSet;
use slotkv_engine::{CommandError, Reply};

use crate::acl::log::Context;
use crate::blocking::Tried;
use crate::connection::{run_command, ClientState, Outcome};
use crate::server::Shared;

/// Most commands one transaction may queue: a bound on a client's queue, far above any real
/// transaction (Redis sets none; its memory shows up in the client's output instead).
const QUEUED_COMMANDS_MAX: usize = 1 << 20;

/// A transaction being queued.
#[derive(Debug, Default)]
pub struct MultiState {
    queued: Vec<(&'static CommandSpec, Vec<Bytes>)>,
    /// Set by an error while queuing: EXEC will refuse (EXECABORT).
    aborted: bool,
}

impl MultiState {
    /// Number of queued commands (CLIENT LIST `multi=`).
    pub fn len(&self) -> usize {
        self.queued.len()
    }

    /// Whether nothing is queued yet.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// The queued commands, in order (the cluster check of EXEC reads their keys).
    pub fn queued(&self) -> impl Iterator<Item = (&'static CommandSpec, &[Bytes])> {
        self.queued
            .iter()
            .map(|(spec, args)| (*spec, args.as_slice()))
    }
}

/// A client's transaction state: the open MULTI, if any, and its watched keys.
#[derive(Debug, Default)]
pub struct TransactionState {
    pub multi: Option<MultiState>,
    pub watched: WatchSet,
}

impl TransactionState {
    /// Marks an open transaction as failed (an error while queuing).
    pub fn flag_error(&mut self) {
        if let Some(multi) = &mut self.multi {
            multi.aborted = true;
        }
    }
}

/// Commands that run at once even inside MULTI, as in Redis.
fn runs_inside_multi(spec: &CommandSpec) -> bool {
    matches!(spec.name, "exec" | "discard" | "multi" | "watch" | "quit")
}

/// Queues the command if a transaction is open; `None` means run it now. A command that may
/// add memory is refused (and the transaction flagged) while memory is over `maxmemory` and
/// nothing can be evicted, as Redis checks before queuing.
pub fn intercept(
    shared: &Shared,
    state: &mut ClientState,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> Option<Outcome> {
    let multi = state.transaction.multi.as_mut()?;
    if runs_inside_multi(spec) {
        return None;
    }
    if spec.flags.contains(Flags::NO_MULTI) {
        multi.aborted = true;
        return Some(error("ERR Command not allowed inside a transaction"));
    }
    if multi.queued.len() >= QUEUED_COMMANDS_MAX {
        multi.aborted = true;
        return Some(error("ERR too many commands queued in this transaction"));
    }
    if let Err(oom) = shared.engine.make_room_for(spec) {
        multi.aborted = true;
        return Some(Outcome::Reply(oom.into()));
    }
    multi.queued.push((spec, args.to_vec()));
    show_queue_length(state);
    Some(Outcome::Reply(Reply::Simple("QUEUED".into())))
}

/// Publishes the queue length for CLIENT LIST (`multi=`, -1 outside a transaction).
fn show_queue_length(state: &ClientState) {
    let queued = state
        .transaction
        .multi
        .as_ref()
        .map_or(-1, |multi| multi.len() as i64);
    state.info.multi_queued.store(queued, Ordering::Relaxed);
}

fn error(text: &str) -> Outcome {
    Outcome::Reply(Reply::Error(text.to_owned()))
}

/// MULTI.
pub fn multi(state: &mut ClientState) -> Result<Reply, CommandError> {
    if state.transaction.multi.is_some() {
        return Err(CommandError::err("MULTI calls can not be nested"));
    }
    state.transaction.multi = Some(MultiState::default());
    show_queue_length(state);
    Ok(Reply::Ok)
}

/// DISCARD.
pub fn discard(shared: &Shared, state: &mut ClientState) -> Result<Reply, CommandError> {
    if state.transaction.multi.take().is_none() {
        return Err(CommandError::err("DISCARD without MULTI"));
    }
    show_queue_length(state);
    shared.engine.unwatch(&mut state.transaction.watched);
    Ok(Reply::Ok)
}

/// WATCH key [key ...].
pub fn watch(
    shared: &Shared,
    state: &mut ClientState,
    keys: &[Bytes],
) -> Result<Reply, CommandError> {
    if state.transaction.multi.is_some() {
        return Err(CommandError::err("WATCH inside MULTI is not allowed"));
    }
    let db = state.session.db();
    for key in keys {
        shared.engine.watch(&mut state.transaction.watched, db, key);
    }
    Ok(Reply::Ok)
}

/// UNWATCH.
pub fn unwatch(shared: &Shared, state: &mut ClientState) -> Reply {
    shared.engine.unwatch(&mut state.transaction.watched);
    Reply::Ok
}

/// EXEC: runs the queue atomically, or refuses.
pub fn exec(shared: &Shared, state: &mut ClientState) -> Result<Reply, CommandError> {
    let multi = state
        .transaction
        .multi
        .take()
        .ok_or_else(|| CommandError::err("EXEC without MULTI"))?;
    let reply = if multi.aborted {
        Err(CommandError::Other(
            "EXECABORT Transaction discarded because of previous errors.".into(),
        ))
    } else if let Err(refusal) = make_room_for_queue(shared, &multi) {
        Err(CommandError::Other(format!(
            "EXECABORT Transaction discarded because of: {refusal}"
        )))
    } else {
        Ok(run_queue(shared, state, multi))
    };
    shared.engine.unwatch(&mut state.transaction.watched);
    reply
}

/// Evicts before EXEC as before one command: OOM if the queue holds a command that may add
/// memory and memory stays over the limit.
fn make_room_for_queue(shared: &Shared, multi: &MultiState) -> Result<(), CommandError> {
    match multi
        .queued
        .iter()
        .find(|(spec, _)| spec.flags.contains(Flags::DENYOOM))
    {
        Some((spec, _)) => shared.engine.make_room_for(spec),
        None => Ok(()),
    }
}

fn run_queue(shared: &Shared, state: &mut ClientState, multi: MultiState) -> Reply {
    let exclusive = shared.engine.exclusive();
    if exclusive.watch_broken(&state.transaction.watched) {
        return Reply::NilArray;
    }
    state.in_exec = true;
    let replies = multi
        .queued
        .into_iter()
        // A command's replies, one each but for (UN)SUBSCRIBE's one per channel, as Redis
        // writes them into EXEC's reply.
        .flat_map(|(spec, args)| {
            // The user's rules may have changed since the command was queued.
            if !state.user.is_unrestricted() {
                if let Err(denied) =
                    crate::acl::command::gate(shared, state, spec, &args, Context::Multi)
                {
                    return vec![denied];
                }
            }
            let reply = match run_command(shared, state, spec, &args, Some(&exclusive)) {
                Outcome::Reply(reply) | Outcome::Close(reply) => reply,
                Outcome::Many(replies) => return replies,
                // Inside a transaction a blocking command does not wait: one try, as Redis does.
                Outcome::Block(request) => {
                    let tried =
                        request.try_once(|attempt| match CommandTable::global().resolve(attempt) {
                            Ok(spec) => {
                                match run_command(shared, state, spec, attempt, Some(&exclusive)) {
                                    Outcome::Reply(reply) => reply,
                                    _ => Reply::Error(
                                        "ERR unexpected reply inside a blocking command".into(),
                                    ),
                                }
                            }
                            Err(error) => error.into(),
                        });
                    match tried {
                        Tried::Done(reply) => reply,
                        Tried::Empty => request.timeout_reply,
                    }
                }
                Outcome::Sleep(duration) => {
                    // Inside a transaction nothing else may run meanwhile: sleep where we are, as
                    // Redis blocks its whole event loop.
                    std::thread::sleep(duration);
                    Reply::Ok
                }
                // PSYNC is refused in MULTI, and WAIT answers at once inside EXEC. MIGRATE
                // waits on the network, which EXEC (holding every other client off) must not.
                Outcome::Shutdown
                | Outcome::Replicate(_)
                | Outcome::Wait { .. }
                | Outcome::Migrate(_) => {
                    Reply::Error("ERR Command not allowed inside a transaction".into())
                }
            };
            vec![reply]
        })
        .collect();
    state.in_exec = false;
    Reply::Array(replies)
}
