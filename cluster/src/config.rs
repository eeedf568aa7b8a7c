//! Cluster settings (the `cluster-*` directives) and this node's announced endpoint.

/// The `cluster-*` directives the state machine obeys.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// `cluster-node-timeout` (ms).
    pub node_timeout_ms: u64,
    /// `cluster-replica-validity-factor` (0: a replica always tries a failover).
    pub replica_validity_factor: u64,
    /// `cluster-migration-barrier`.
    pub migration_barrier: usize,
    /// `cluster-allow-replica-migration`.
    pub allow_replica_migration: bool,
    /// `cluster-require-full-coverage`.
    pub require_full_coverage: bool,
    /// `cluster-replica-no-failover`.
    pub replica_no_failover: bool,
    /// `repl-ping-replica-period` (ms), part of the data age limit.
    pub repl_ping_period_ms: u64,
    /// Most nodes kept in the table (handshakes beyond it are refused).
    pub max_nodes: usize,
    /// Seed of the state machine's random choices (ping targets, election delays, IDs).
    pub seed: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            node_timeout_ms: 15_000,
            replica_validity_factor: 10,
            migration_barrier: 1,
            allow_replica_migration: true,
            require_full_coverage: true,
            replica_no_failover: false,
            repl_ping_period_ms: 10_000,
            max_nodes: 1000,
            seed: 0,
        }
    }
}

/// Where this node can be reached, as it announces itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// `cluster-announce-ip`; empty: peers use the address our connections come from.
    pub ip: String,
    /// Client port (0 when only TLS is served).
    pub port: u16,
    /// Client TLS port (0: none).
    pub tls_port: u16,
    /// Cluster bus port.
    pub bus_port: u16,
    /// `cluster-announce-hostname` (empty: none).
    pub hostname: String,
}

/// A node's cluster bus address: where [`crate::Output::Send`] goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusAddr {
    pub ip: String,
    pub port: u16,
    /// The node's announced hostname, to resolve when `ip` no longer answers.
    pub hostname: String,
}
