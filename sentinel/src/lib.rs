//! slotkv-sentinel: Redis Sentinel as a pure state machine.
//!
//! - [`Sentinel`]: one sentinel. Inputs are the time and what arrived (PING and INFO replies,
//!   hello messages, IS-MASTER-DOWN-BY-ADDR answers, client commands); [`Sentinel::drain`]
//!   gives the outputs (commands to send, events to publish, a config rewrite, the crash
//!   SENTINEL SIMULATE-FAILURE asks for).
//! - `inputs`: what each reply, hello and closed link changes.
//! - `monitor`: the periodic judgement: SDOWN, ODOWN, asking peers, votes, the requests due.
//! - `state`: what is known per master: replicas, other sentinels, health, the failover.
//! - `failover`: election by epoch votes, replica choice, promotion, repointing.
//! - `commands`: SENTINEL subcommands, ROLE and INFO's sentinel section.
//! - [`config`]: sentinel.conf directives and the rewrite that persists the state.
//! - [`info`], [`hello`]: what is read from INFO and from `__sentinel__:hello`.
//!
//! Why no I/O and no clock here: the same code runs under the tokio driver
//! (`slotkv-net`'s sentinel mode) and in a deterministic simulation where many sentinels and
//! servers share one process, messages are lost or delayed and a seed replays any run.

mod addr;
mod commands;
pub mod config;
mod event;
mod failover;
pub mod hello;
pub mod info;
mod inputs;
mod machine;
mod monitor;
mod reply;
mod rng;
mod state;

pub use addr::Addr;
pub use event::Event;
pub use machine::{
    LinkSpec, MasterDownReply, Outgoing, Output, PeerKind, Request, Sentinel, Timing,
};
pub use reply::Reply;
