//! slotkv-cluster: Redis Cluster compatible cluster mode as a pure state machine.
//!
//! - [`node_id`]: the 40-hex-character node names of Redis Cluster.
//! - [`routing`]: the immutable view the data path reads to serve, redirect or refuse a
//!   command (slot owners, migrations, cluster state).
//!
//! Nothing here does I/O or reads the clock: inputs are (now, message, event), outputs are
//! messages to send and state changes, so many nodes can be simulated in one process.

pub mod node_id;
pub mod routing;

pub use node_id::NodeId;
pub use routing::{RouteNode, Routing};
