//! slotkv-cluster: Redis Cluster compatible cluster mode as a pure state machine.
//!
//! - [`Cluster`]: one node's view of the cluster (node table, slot map, epochs, failure
//!   detection, elections, replica migration) and the CLUSTER subcommands.
//! - [`message`]: the bus messages and their binary frames (docs/CLUSTER_BUS.md).
//! - [`node_id`], [`routing`]: node names and the immutable view the data path reads.
//!
//! Nothing here does I/O or reads the clock: inputs are (now, message, event), outputs are
//! messages to send and state changes, so many nodes can be simulated in one process.
//!
//! # Driver contract
//! A driver (the net crate) owns sockets, timers and the replication link:
//! - calls [`Cluster::tick`] every 100 ms and [`Cluster::handle_message`] for every decoded
//!   frame (with the connection's source IP);
//! - reports [`Cluster::link_up`]/[`Cluster::link_down`] for its outbound links,
//!   [`Cluster::set_repl_offset`] and [`Cluster::set_primary_link`], and (without an announced
//!   IP) [`Cluster::learn_my_ip`] with the local address of inbound bus connections;
//! - after every input drains [`Cluster::take_outputs`] and acts on each [`Output`] in order:
//!   sends (connecting to the given address; one outbound link per node ID), saves nodes.conf
//!   from [`Cluster::nodes_conf`], republishes [`Cluster::routing`] on `RoutingChanged`, runs
//!   REPLICAOF on `Replicate`/`Promote`, deletes keys, pauses writes, delivers PUBLISH;
//! - on restart builds the node with [`Cluster::load`] from the saved nodes.conf, otherwise
//!   with [`Cluster::new`].

mod admin;
mod cluster;
pub mod config;
mod error;
mod failover;
pub mod message;
pub mod node;
pub mod node_id;
mod render;
pub mod routing;
pub mod slots;

pub use admin::{BumpEpoch, SetSlot};
pub use cluster::{Cluster, Output};
pub use config::{BusAddr, ClusterConfig, Endpoint};
pub use error::{ClusterError, NodesConfError};
pub use failover::FailoverKind;
pub use message::{Body, BusError, GossipEntry, Header, HeartbeatKind, Message, MessageType};
pub use node::{Node, Role};
pub use node_id::NodeId;
pub use render::{LinkInfo, Shard, ShardNode, SlotNode, SlotRange};
pub use routing::{RouteNode, Routing};
pub use slots::SlotSet;
