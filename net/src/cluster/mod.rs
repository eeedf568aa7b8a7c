//! Cluster mode on the data path: what a node in a Redis Cluster does with each command before
//! running it, and the commands that need no cluster state machine.
//!
//! - [`ClusterView`]: held by [`crate::server::Shared`] when `cluster-enabled yes`: the current
//!   [`Routing`] (swapped in by the cluster driver with [`ClusterView::set_routing`]) and the
//!   settings the redirection check reads, in atomics.
//! - [`redirect`]: Redis's rules for serving, redirecting (MOVED, ASK) or refusing (CROSSSLOT,
//!   TRYAGAIN, CLUSTERDOWN) a command, as a pure function of the routing, the client's flags
//!   and which keys exist.
//! - [`bus`]: the driver running the cluster state machine (bus links, nodes.conf, ticks).
//! - [`admin`]: the CLUSTER subcommands the state machine answers.
//! - [`conf_file`]: nodes.conf on disk.
//! - [`commands`]: READONLY, READWRITE, ASKING, and the CLUSTER subcommands the server answers,
//!   dispatched through one table the driver extends.
//!
//! Why a view: the state machine (gossip, failover) changes rarely and runs elsewhere; every
//! command only needs an immutable picture of the slot owners, read with one atomic load.

pub mod admin;
pub mod bus;
pub mod commands;
pub mod conf_file;
pub mod redirect;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;
use slotkv_cluster::routing::{NO_OWNER, SLOT_COUNT};
use slotkv_cluster::{NodeId, RouteNode, Routing};
use slotkv_engine::command::{is_keyword, CommandSpec};
use slotkv_engine::Reply;

use crate::config::ClusterSettings;
use crate::connection::ClientState;
use crate::server::Shared;
use redirect::{Client, Policy, Request};

/// What MOVED and ASK name as the node's endpoint (`cluster-preferred-endpoint-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointType {
    /// The node's announced IP.
    Ip,
    /// The node's announced hostname, `?` when it has none.
    Hostname,
    /// Nothing: the client reuses the address it sent the command to.
    UnknownEndpoint,
}

impl EndpointType {
    /// Every type, in the order Redis lists them.
    pub const ALL: [EndpointType; 3] = [
        EndpointType::Ip,
        EndpointType::Hostname,
        EndpointType::UnknownEndpoint,
    ];

    /// The name in redis.conf and CONFIG GET.
    pub fn name(self) -> &'static str {
        match self {
            EndpointType::Ip => "ip",
            EndpointType::Hostname => "hostname",
            EndpointType::UnknownEndpoint => "unknown-endpoint",
        }
    }

    fn index(self) -> u8 {
        match self {
            EndpointType::Ip => 0,
            EndpointType::Hostname => 1,
            EndpointType::UnknownEndpoint => 2,
        }
    }

    fn from_index(index: u8) -> EndpointType {
        match index {
            1 => EndpointType::Hostname,
            2 => EndpointType::UnknownEndpoint,
            _ => EndpointType::Ip,
        }
    }
}

/// The cluster as the data path sees it.
#[derive(Debug)]
pub struct ClusterView {
    routing: RwLock<Arc<Routing>>,
    /// Woken by every routing change, for blocked clients to check their keys' slot.
    changed: tokio::sync::Notify,
    /// Bumped by every [`ClusterView::set_routing`]: connections keep the `Arc` they last read
    /// and take the lock only when this moved.
    generation: AtomicU64,
    allow_reads_when_down: AtomicBool,
    allow_pubsubshard_when_down: AtomicBool,
    preferred_endpoint: AtomicU8,
    /// `tls-cluster` (fixed at start-up): TLS clients are redirected to TLS ports.
    tls_cluster: bool,
    /// The state machine's driver, installed once the bus is up.
    node: std::sync::OnceLock<Arc<bus::ClusterNode>>,
}

impl ClusterView {
    /// The view of a node that knows only itself and serves no slot (cluster state `fail`),
    /// as a fresh Redis Cluster node starts, until the driver installs a routing.
    /// `ports` are the client port and the TLS port (0: none); `tls_cluster` is `tls-cluster`.
    pub fn new(
        settings: &ClusterSettings,
        myself: NodeId,
        ports: (u16, u16),
        tls_cluster: bool,
    ) -> ClusterView {
        let (port, tls_port) = ports;
        let alone = Routing {
            myself: 0,
            nodes: vec![RouteNode {
                id: myself,
                ip: settings.announce_ip.clone(),
                port: if settings.announce_port == 0 {
                    port
                } else {
                    settings.announce_port
                },
                tls_port: if settings.announce_tls_port == 0 {
                    tls_port
                } else {
                    settings.announce_tls_port
                },
                hostname: settings.announce_hostname.clone(),
                primary: None,
            }],
            slot_owner: vec![NO_OWNER; SLOT_COUNT].into_boxed_slice(),
            migrating: Vec::new(),
            importing: Vec::new(),
            ok: false,
        };
        let view = ClusterView {
            routing: RwLock::new(Arc::new(alone)),
            changed: tokio::sync::Notify::new(),
            generation: AtomicU64::new(0),
            allow_reads_when_down: AtomicBool::new(false),
            allow_pubsubshard_when_down: AtomicBool::new(true),
            preferred_endpoint: AtomicU8::new(0),
            tls_cluster,
            node: std::sync::OnceLock::new(),
        };
        view.apply_settings(settings);
        view
    }

    /// The cluster driver, once started.
    pub fn node(&self) -> Option<&Arc<bus::ClusterNode>> {
        self.node.get()
    }

    /// Installs the cluster driver (once, at start-up).
    pub fn install_node(&self, node: Arc<bus::ClusterNode>) {
        let _ = self.node.set(node);
    }

    /// Installs a new routing: commands that start after this call are checked against it.
    /// The cluster driver calls it after every change of its state machine.
    pub fn set_routing(&self, routing: Arc<Routing>) {
        *self.routing.write() = routing;
        self.generation.fetch_add(1, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Completes at the next routing change after the call.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// The current routing.
    pub fn routing(&self) -> Arc<Routing> {
        self.routing.read().clone()
    }

    /// A number that changes whenever the routing does.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Takes the settings the redirection check reads (at start and after CONFIG SET).
    pub fn apply_settings(&self, settings: &ClusterSettings) {
        self.allow_reads_when_down
            .store(settings.allow_reads_when_down, Ordering::Relaxed);
        self.allow_pubsubshard_when_down
            .store(settings.allow_pubsubshard_when_down, Ordering::Relaxed);
        self.preferred_endpoint
            .store(settings.preferred_endpoint_type.index(), Ordering::Relaxed);
    }

    /// The settings the redirection check reads, for a client that came in over TLS or not.
    pub fn policy_for(&self, tls_client: bool) -> Policy {
        Policy {
            tls_ports: tls_client && self.tls_cluster,
            ..self.policy()
        }
    }

    /// The settings the redirection check reads.
    pub fn policy(&self) -> Policy {
        Policy {
            allow_reads_when_down: self.allow_reads_when_down.load(Ordering::Relaxed),
            allow_pubsubshard_when_down: self.allow_pubsubshard_when_down.load(Ordering::Relaxed),
            preferred_endpoint: EndpointType::from_index(
                self.preferred_endpoint.load(Ordering::Relaxed),
            ),
            tls_ports: false,
        }
    }
}

/// A connection's cluster flags and its cached routing.
#[derive(Debug, Default)]
pub struct ClusterClient {
    /// ASKING was sent: the next command may be served for a slot being imported.
    pub asking: bool,
    /// READONLY was sent: reads may be served by a replica of the slot's primary.
    pub readonly: bool,
    cached: Option<(u64, Arc<Routing>)>,
}

impl ClusterClient {
    /// The view's routing, reloaded only when the view's generation moved: borrowed, so the
    /// hot path does not bump the shared `Arc`'s count (one contended cache line).
    fn routing(&mut self, view: &ClusterView) -> &Routing {
        let generation = view.generation();
        if self
            .cached
            .as_ref()
            .is_some_and(|(seen, _)| *seen != generation)
        {
            self.cached = None;
        }
        let (_, routing) = self
            .cached
            .get_or_insert_with(|| (generation, view.routing()));
        routing
    }

    /// Forgets ASKING after a command, as Redis does: unless a transaction is open (the flag
    /// then lasts until EXEC) or the command was ASKING itself.
    pub fn after_command(&mut self, command: Option<&str>, in_transaction: bool) {
        if !in_transaction && command != Some("asking") {
            self.asking = false;
        }
    }
}

/// The redirection check of one command in cluster mode: `None` to run it here, or the error
/// to answer instead. EXEC is checked with every command it queued, as Redis does.
pub fn check(
    shared: &Shared,
    view: &ClusterView,
    state: &mut ClientState,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> Option<Reply> {
    let is_exec = spec.name == "exec";
    if !spec.has_key_arguments() && !is_exec {
        return None;
    }
    let ClientState {
        cluster,
        transaction,
        tls,
        ..
    } = state;
    let tls_client = *tls;
    let client = Client {
        asking: cluster.asking,
        readonly: cluster.readonly,
    };
    let routing = cluster.routing(view);
    let queued;
    let request = match (&transaction.multi, is_exec) {
        (Some(multi), true) => {
            queued = multi.queued().collect::<Vec<_>>();
            Request::Exec(&queued)
        }
        (None, true) => return None,
        _ => Request::Single(spec, args),
    };
    let mut exists = |key: &[u8]| shared.engine.key_exists(0, key);
    let policy = view.policy_for(tls_client);
    redirect::redirect(routing, &policy, client, request, &mut exists)
        .err()
        .map(|refusal| Reply::Error(refusal.message(routing, policy)))
}

/// Refusals of commands cluster mode does not allow, as Redis words them: those that address
/// another database (a cluster node has only database 0): SELECT of a non-zero index, SWAPDB,
/// COPY ... DB; and those that change replication outside the cluster's control: REPLICAOF
/// and FAILOVER (CLUSTER REPLICATE and CLUSTER FAILOVER do it in a cluster).
pub fn cluster_mode_refusal(spec: &CommandSpec, args: &[Bytes]) -> Option<Reply> {
    let refusal = match spec.name {
        "select" if names_other_database(args.get(1)) => {
            "ERR SELECT is not allowed in cluster mode"
        }
        "swapdb" => "ERR SWAPDB is not allowed in cluster mode",
        "copy" if copy_names_other_database(args) => {
            "ERR Copying to another database is not allowed in cluster mode"
        }
        "replicaof" | "slaveof" => "ERR REPLICAOF not allowed in cluster mode.",
        "failover" => {
            "ERR FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead."
        }
        _ => return None,
    };
    Some(Reply::Error(refusal.to_owned()))
}

/// The error that ends a wait of a blocked client (BLPOP, ...) when the routing changed under
/// it: the cluster failed, or the slot of its keys is no longer served here (nor imported).
/// `None` while it may keep waiting. Every blocking command is a write, so READONLY on a
/// replica never lets one wait there. `tls_client`: the client came in over TLS (a MOVED then
/// names the TLS port under `tls-cluster yes`).
pub fn blocked_refusal(view: &ClusterView, keys: &[Bytes], tls_client: bool) -> Option<Reply> {
    let routing = view.routing();
    let refusal = redirect::blocked_refusal(&routing, keys)?;
    Some(Reply::Error(
        refusal.message(&routing, view.policy_for(tls_client)),
    ))
}

/// Whether `index` is a database index other than 0 (a bad integer is left to the command's
/// own error).
fn names_other_database(index: Option<&Bytes>) -> bool {
    index
        .and_then(|index| slotkv_engine::value::parse_i64(index))
        .is_some_and(|db| db != 0)
}

fn copy_names_other_database(args: &[Bytes]) -> bool {
    args.iter()
        .skip(3)
        .position(|arg| is_keyword(arg, "db"))
        .is_some_and(|at| names_other_database(args.get(at + 4)))
}
