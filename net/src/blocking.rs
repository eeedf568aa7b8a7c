//! Blocking pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX and BZMPOP.
//!
//! A request first tries its non-blocking form (LPOP, LMOVE, ZPOPMIN, ...): that checks every
//! argument and, when data is there, answers at once. Otherwise the client waits: it watches
//! its keys through the engine (a write to one wakes it) and joins a first-come first-served
//! queue per key. Only the head of a key's queue tries again when woken; when it is served it
//! leaves and wakes the next head, so clients are served in the order they blocked. A timeout
//! of 0 waits forever; CLIENT UNBLOCK, CLIENT KILL and a closed socket end the wait. Inside
//! MULTI the command does not wait: it answers as if it timed out.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use slotkv_engine::command::is_keyword;
use slotkv_engine::commands::{lists, sorted_sets};
use slotkv_engine::{CommandError, Reply};

use crate::clients::ClientInfo;

/// Longest wait: longer timeouts wait this long, so `deadline = now + timeout` cannot
/// overflow (about 31 years, as good as forever).
const WAIT_SECS_MAX: f64 = 1e9;
/// Largest timeout accepted: its milliseconds must fit an i64, as in Redis.
const TIMEOUT_SECS_LIMIT: f64 = i64::MAX as f64 / 1000.0;

/// How a successful attempt's reply becomes the blocking command's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// BLPOP/BRPOP: a bulk element becomes `[key, element]`.
    KeyAndElement,
    /// BZPOPMIN/BZPOPMAX: `[member, score]` becomes `[key, member, score]`.
    KeyAndMember,
    /// BLMOVE, BRPOPLPUSH, BLMPOP, BZMPOP: the reply as it is.
    AsIs,
}

/// One non-blocking command to try, and the key it pops from (for the reply).
#[derive(Debug, Clone)]
struct Attempt {
    key: Bytes,
    args: Vec<Bytes>,
}

/// A parsed blocking command.
#[derive(Debug, Clone)]
pub struct BlockRequest {
    /// The blocking command as the client sent it (its permissions are checked again before
    /// each retry after a wait).
    pub command: Vec<Bytes>,
    /// Keys to wait on, in the order given.
    pub keys: Vec<Bytes>,
    attempts: Vec<Attempt>,
    shape: Shape,
    /// Reply when the wait ends without data.
    pub timeout_reply: Reply,
    /// How long to wait; `None` is forever.
    pub timeout: Option<Duration>,
}

/// What one round of attempts gave.
#[derive(Debug)]
pub enum Tried {
    /// Served (or failed with an error): the command's reply.
    Done(Reply),
    /// Nothing to pop yet.
    Empty,
}

impl BlockRequest {
    /// Parses a blocking command (`name` is its lower-case name).
    pub fn parse(name: &str, args: &[Bytes]) -> Result<BlockRequest, CommandError> {
        let word = |w: &'static str| Bytes::from_static(w.as_bytes());
        match name {
            "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
                let (keys, timeout) = args[1..].split_at(args.len() - 2);
                let pop = match name {
                    "blpop" => "LPOP",
                    "brpop" => "RPOP",
                    "bzpopmin" => "ZPOPMIN",
                    _ => "ZPOPMAX",
                };
                let attempts = keys
                    .iter()
                    .map(|k| Attempt {
                        key: k.clone(),
                        args: vec![word(pop), k.clone()],
                    })
                    .collect();
                let shape = if name.starts_with("bz") {
                    Shape::KeyAndMember
                } else {
                    Shape::KeyAndElement
                };
                Ok(BlockRequest {
                    command: args.to_vec(),
                    keys: keys.to_vec(),
                    attempts,
                    shape,
                    timeout_reply: Reply::NilArray,
                    timeout: parse_timeout(&timeout[0])?,
                })
            }
            "blmove" | "brpoplpush" => {
                if name == "blmove" && !args[3..5].iter().all(|end| is_list_end(end)) {
                    // Redis reads the ends before the timeout.
                    return Err(CommandError::Syntax);
                }
                let timeout = parse_timeout(&args[args.len() - 1])?;
                let mut attempt_args = args[..args.len() - 1].to_vec();
                attempt_args[0] = word(if name == "blmove" {
                    "LMOVE"
                } else {
                    "RPOPLPUSH"
                });
                Ok(BlockRequest {
                    command: args.to_vec(),
                    keys: vec![args[1].clone()],
                    attempts: vec![Attempt {
                        key: args[1].clone(),
                        args: attempt_args,
                    }],
                    shape: Shape::AsIs,
                    timeout_reply: Reply::Nil,
                    timeout,
                })
            }
            _ => Self::parse_multi_pop(name, args),
        }
    }

    /// BLMPOP / BZMPOP: `timeout numkeys key... rest`, tried as `LMPOP|ZMPOP numkeys key... rest`.
    fn parse_multi_pop(name: &str, args: &[Bytes]) -> Result<BlockRequest, CommandError> {
        let mut attempt_args = vec![Bytes::from_static(if name == "blmpop" {
            b"LMPOP"
        } else {
            b"ZMPOP"
        })];
        attempt_args.extend_from_slice(&args[2..]);
        // Redis reads the other arguments before the timeout.
        let keys = if name == "blmpop" {
            lists::lmpop_keys(&attempt_args)?
        } else {
            sorted_sets::zmpop_keys(&attempt_args)?
        }
        .to_vec();
        let timeout = parse_timeout(&args[1])?;
        let key = keys.first().cloned().unwrap_or_default();
        Ok(BlockRequest {
            command: args.to_vec(),
            keys,
            attempts: vec![Attempt {
                key,
                args: attempt_args,
            }],
            shape: Shape::AsIs,
            timeout_reply: Reply::NilArray,
            timeout,
        })
    }

    /// Tries every attempt in order with `run` (which runs a non-blocking command).
    pub fn try_once(&self, mut run: impl FnMut(&[Bytes]) -> Reply) -> Tried {
        for attempt in &self.attempts {
            let reply = run(&attempt.args);
            if reply.is_error() {
                return Tried::Done(reply);
            }
            if let Some(served) = self.shape_reply(&attempt.key, reply) {
                return Tried::Done(served);
            }
        }
        Tried::Empty
    }

    fn shape_reply(&self, key: &Bytes, reply: Reply) -> Option<Reply> {
        match (self.shape, reply) {
            (_, Reply::Nil | Reply::NilArray) => None,
            (_, Reply::Array(items)) if items.is_empty() => None,
            (Shape::KeyAndElement, element) => {
                Some(Reply::Array(vec![Reply::Bulk(key.clone()), element]))
            }
            (Shape::KeyAndMember, Reply::Array(mut items)) => {
                items.insert(0, Reply::Bulk(key.clone()));
                Some(Reply::Array(items))
            }
            (_, reply) => Some(reply),
        }
    }
}

/// A timeout argument: seconds, fractions allowed, 0 = forever.
fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, CommandError> {
    let seconds = slotkv_engine::value::parse_f64(arg)
        .filter(|s| !s.is_nan())
        .ok_or_else(|| CommandError::err("timeout is not a float or out of range"))?;
    if seconds < 0.0 {
        return Err(CommandError::err("timeout is negative"));
    }
    if seconds > TIMEOUT_SECS_LIMIT {
        return Err(CommandError::err("timeout is out of range"));
    }
    Ok((seconds > 0.0).then(|| Duration::from_secs_f64(seconds.min(WAIT_SECS_MAX))))
}

/// Whether `arg` is LEFT or RIGHT.
fn is_list_end(arg: &[u8]) -> bool {
    is_keyword(arg, "left") || is_keyword(arg, "right")
}

/// When a wait must end at the latest.
pub fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

/// The clients waiting on one key, first come first.
type WaitLine = VecDeque<Arc<ClientInfo>>;

/// First-come first-served queues of blocked clients, per (database, key).
#[derive(Debug, Default)]
pub struct BlockedQueues {
    queues: Mutex<HashMap<(usize, Bytes), WaitLine>>,
}

impl BlockedQueues {
    /// Puts `client` at the back of the queue of each of `keys`.
    pub fn enqueue(&self, db: usize, keys: &[Bytes], client: &Arc<ClientInfo>) {
        let mut queues = self.queues.lock();
        for key in keys {
            queues
                .entry((db, key.clone()))
                .or_default()
                .push_back(client.clone());
        }
    }

    /// Whether `client` is first in line for one of `keys`.
    pub fn is_first_for_any(&self, db: usize, keys: &[Bytes], client_id: u64) -> bool {
        let queues = self.queues.lock();
        keys.iter().any(|key| {
            queues
                .get(&(db, key.clone()))
                .and_then(VecDeque::front)
                .is_some_and(|head| head.id == client_id)
        })
    }

    /// Takes `client` out of the queues of `keys` and wakes the new first of each, so they can
    /// try in turn (there may be more data than this client took).
    pub fn leave(&self, db: usize, keys: &[Bytes], client_id: u64) {
        let mut queues = self.queues.lock();
        for key in keys {
            let entry = (db, key.clone());
            let Some(queue) = queues.get_mut(&entry) else {
                continue;
            };
            queue.retain(|c| c.id != client_id);
            match queue.front() {
                Some(next) => next.wake_signal.notify_one(),
                None => {
                    queues.remove(&entry);
                }
            }
        }
    }
}

/// Whether `name` is one of the blocking commands this module serves.
pub fn is_blocking(name: &str) -> bool {
    matches!(
        name,
        "blpop" | "brpop" | "blmove" | "brpoplpush" | "blmpop" | "bzpopmin" | "bzpopmax" | "bzmpop"
    )
}

/// CLIENT UNBLOCK's optional mode.
pub fn parse_unblock_mode(arg: Option<&Bytes>) -> Result<crate::clients::Unblock, CommandError> {
    match arg {
        None => Ok(crate::clients::Unblock::Timeout),
        Some(mode) if is_keyword(mode, "timeout") => Ok(crate::clients::Unblock::Timeout),
        Some(mode) if is_keyword(mode, "error") => Ok(crate::clients::Unblock::Error),
        Some(_) => Err(CommandError::err(
            "CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn timeouts_parse_like_redis() {
        assert_eq!(parse_timeout(b"0"), Ok(None));
        assert_eq!(parse_timeout(b"0.5"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(
            parse_timeout(b"-1"),
            Err(CommandError::err("timeout is negative"))
        );
        assert_eq!(
            parse_timeout(b"x"),
            Err(CommandError::err("timeout is not a float or out of range"))
        );
        assert_eq!(
            parse_timeout(b"nan"),
            Err(CommandError::err("timeout is not a float or out of range"))
        );
        for out_of_range in ["inf", "1e400", "1e16"] {
            assert_eq!(
                parse_timeout(out_of_range.as_bytes()),
                Err(CommandError::err("timeout is out of range")),
                "{out_of_range}"
            );
        }
        assert_eq!(
            parse_timeout(b"-inf"),
            Err(CommandError::err("timeout is negative"))
        );
        assert_eq!(
            parse_timeout(b"1e15"),
            Ok(Some(Duration::from_secs_f64(WAIT_SECS_MAX)))
        );
    }

    #[test]
    fn requests_turn_into_their_non_blocking_forms() {
        let request =
            BlockRequest::parse("blpop", &args(&["BLPOP", "a", "b", "1"])).expect("valid");
        assert_eq!(request.keys, args(&["a", "b"]));
        let mut tried = Vec::new();
        let outcome = request.try_once(|attempt| {
            tried.push(attempt.to_vec());
            if attempt[1] == "b" {
                Reply::bulk(b"x")
            } else {
                Reply::Nil
            }
        });
        assert_eq!(tried, [args(&["LPOP", "a"]), args(&["LPOP", "b"])]);
        assert!(
            matches!(outcome, Tried::Done(Reply::Array(ref items)) if items == &[Reply::bulk(b"b"), Reply::bulk(b"x")])
        );

        let request = BlockRequest::parse("blmpop", &args(&["BLMPOP", "0", "2", "a", "b", "LEFT"]))
            .expect("valid");
        assert_eq!(request.keys, args(&["a", "b"]));
        assert_eq!(request.timeout, None);
        let outcome = request.try_once(|attempt| {
            assert_eq!(attempt, &args(&["LMPOP", "2", "a", "b", "LEFT"])[..]);
            Reply::NilArray
        });
        assert!(matches!(outcome, Tried::Empty));

        let request =
            BlockRequest::parse("bzpopmin", &args(&["BZPOPMIN", "z", "0"])).expect("valid");
        let outcome =
            request.try_once(|_| Reply::Array(vec![Reply::bulk(b"m"), Reply::Double(1.5)]));
        assert!(matches!(outcome, Tried::Done(Reply::Array(ref items)) if items.len() == 3));
        assert!(BlockRequest::parse(
            "blmove",
            &args(&["BLMOVE", "a", "b", "LEFT", "RIGHT", "-1"])
        )
        .is_err());
    }
}
