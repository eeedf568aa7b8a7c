//! An embedded follower: an [`Engine`] inside a Rust service becomes a replica of a remote
//! primary (slotkv or Redis 7), a local, always-current copy of the data read with no network
//! hop.
//!
//! [`follow`] wraps the engine in a server state that does not listen
//! ([`Shared::headless`]: no AOF, no RDB file) and runs the same link as `REPLICAOF` does
//! ([`super::link`]: handshake, full sync or partial resync, the stream, acknowledgements,
//! reconnection every second) on a small tokio runtime of its own, so the caller needs none.
//! The engine is in follower mode meanwhile: reads through any session hide keys whose
//! deadline passed until the primary's DEL. Writes of the embedding application are not
//! refused by the engine (refusals are the server's), but they would diverge from the primary
//! and be overwritten by its next full sync: the engine is read-only by contract.
//!
//! [`FollowerHandle::stop`] ends the link and hands the engine back as a primary (its data
//! stays, keys past their deadline are reclaimed again on access).

use std::sync::Arc;
use std::time::{Duration, Instant};

use slotkv_engine::Engine;

use super::LinkState;
use crate::config::Settings;
use crate::server::{Shared, StartError};

/// How often [`FollowerHandle::wait_connected`] looks at the link.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// What the follower needs besides the primary's address.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// `masterauth`: the primary's password.
    pub password: Option<String>,
    /// `masteruser`: the primary's user (with `password`).
    pub user: Option<String>,
    /// `repl-timeout`: seconds without data from the primary before reconnecting.
    pub timeout_secs: u64,
    /// `repl-backlog-size` of this follower's own backlog, in bytes.
    pub backlog_bytes: u64,
}

impl Default for FollowOptions {
    fn default() -> FollowOptions {
        let repl = Settings::default().repl;
        FollowOptions {
            password: None,
            user: None,
            timeout_secs: repl.timeout_secs,
            backlog_bytes: repl.backlog_bytes,
        }
    }
}

/// Why [`follow`] could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum FollowError {
    /// The follower's runtime could not be built.
    Runtime(std::io::Error),
    /// The server state around the engine could not be set up.
    Start(StartError),
}

impl std::fmt::Display for FollowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FollowError::Runtime(error) => {
                write!(f, "cannot start the follower's runtime: {error}")
            }
            FollowError::Start(error) => write!(f, "cannot set up the follower: {error}"),
        }
    }
}

impl std::error::Error for FollowError {}

/// The follower's state, as INFO replication shows it on a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerState {
    /// The link: connecting, handshaking, loading the full sync, or streaming (`Connected`).
    pub link: LinkState,
    /// Stream bytes applied (`master_repl_offset` of a replica).
    pub offset: u64,
    /// The replication id of the history followed (`master_replid`).
    pub replid: String,
}

impl FollowerState {
    /// Whether the link is up (`master_link_status:up`): synced and streaming.
    pub fn is_connected(&self) -> bool {
        self.link == LinkState::Connected
    }
}

/// A running follower; dropping it stops the link as [`FollowerHandle::stop`] does.
#[derive(Debug)]
pub struct FollowerHandle {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

/// Makes `engine` a read-only replica of the primary at `host:port` and starts its link in the
/// background. The engine's current data is replaced by the primary's at the first sync.
pub fn follow(
    engine: Engine,
    host: &str,
    port: u16,
    options: FollowOptions,
) -> Result<FollowerHandle, FollowError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("slotkv-follower")
        .enable_all()
        .build()
        .map_err(FollowError::Runtime)?;
    let mut settings = Settings::default();
    settings.repl.replicaof = Some((host.to_owned(), port));
    settings.repl.masterauth = options.password;
    settings.repl.masteruser = options.user;
    settings.repl.timeout_secs = options.timeout_secs;
    settings.repl.backlog_bytes = options.backlog_bytes;
    let shared = Shared::headless(engine, settings).map_err(FollowError::Start)?;
    {
        let _context = runtime.enter();
        shared.replication.bind(&shared);
        runtime.spawn(super::cron_forever(Arc::clone(&shared)));
    }
    Ok(FollowerHandle {
        shared,
        runtime: Some(runtime),
    })
}

impl FollowerHandle {
    /// The engine being kept in step (clone it freely: clones share the data).
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// The link's state and offset now.
    pub fn state(&self) -> FollowerState {
        let state = self.shared.replication.state.lock();
        FollowerState {
            link: state
                .primary
                .as_ref()
                .map_or(LinkState::Connect, |p| p.state),
            offset: state.backlog.end(),
            replid: state.replid.clone(),
        }
    }

    /// Waits up to `timeout` for the link to be up (after the first full sync, or again after
    /// a reconnection); returns whether it is.
    pub fn wait_connected(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.state().is_connected() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Ends the link and returns the engine, a primary again with the data it had.
    pub fn stop(mut self) -> Engine {
        self.shutdown();
        self.shared.engine.clone()
    }

    fn shutdown(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            self.shared.replication.unfollow();
            runtime.shutdown_background();
        }
    }
}

impl Drop for FollowerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
