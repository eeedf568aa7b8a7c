//! The cluster commands the server answers: READONLY, READWRITE and ASKING (connection
//! flags), and the CLUSTER subcommands listed in [`SUBCOMMANDS`].
//!
//! Extending CLUSTER: add the subcommand's row to the engine's command table (engine
//! `commands/server.rs`, `CLUSTER_SUBCOMMANDS`, with `Handler::Server`), then a row here naming
//! the function that answers it. One function serves a family of subcommands (it gets the
//! subcommand's table name, e.g. `cluster|countkeysinslot`). Every CLUSTER subcommand answered
//! here is refused with Redis's error when cluster mode is off.

use bytes::Bytes;
use slotkv_cluster::routing::SLOT_COUNT;
use slotkv_engine::command::{parse_i64_arg, CommandSpec};
use slotkv_engine::{CommandError, Reply};

use super::ClusterView;
use crate::connection::ClientState;
use crate::server::Shared;

/// Redis's answer to cluster commands outside cluster mode.
pub const CLUSTER_DISABLED: &str = "This instance has cluster support disabled";

/// What a subcommand family's function is given.
#[derive(Debug)]
pub struct Call<'a> {
    pub shared: &'a Shared,
    /// The routing and settings (what NODES, SLOTS and SHARDS will read).
    pub view: &'a ClusterView,
    /// The subcommand's name in the command table (`cluster|<name>`).
    pub name: &'static str,
    /// The whole command line, `CLUSTER` and the subcommand included.
    pub args: &'a [Bytes],
}

/// A family of subcommands.
pub type Family = fn(Call<'_>) -> Result<Reply, CommandError>;

/// The CLUSTER subcommands answered here: (name in the command table, function).
pub static SUBCOMMANDS: &[(&str, Family)] = &[
    ("cluster|countkeysinslot", slot_keys),
    ("cluster|getkeysinslot", slot_keys),
    ("cluster|info", super::admin::admin),
    ("cluster|nodes", super::admin::admin),
    ("cluster|myid", super::admin::admin),
    ("cluster|myshardid", super::admin::admin),
    ("cluster|slots", super::admin::admin),
    ("cluster|shards", super::admin::admin),
    ("cluster|links", super::admin::admin),
    ("cluster|addslots", super::admin::admin),
    ("cluster|addslotsrange", super::admin::admin),
    ("cluster|delslots", super::admin::admin),
    ("cluster|delslotsrange", super::admin::admin),
    ("cluster|flushslots", super::admin::admin),
    ("cluster|meet", super::admin::admin),
    ("cluster|forget", super::admin::admin),
    ("cluster|replicate", super::admin::admin),
    ("cluster|replicas", super::admin::admin),
    ("cluster|slaves", super::admin::admin),
    ("cluster|reset", super::admin::admin),
    ("cluster|saveconfig", super::admin::admin),
    ("cluster|set-config-epoch", super::admin::admin),
    ("cluster|bumpepoch", super::admin::admin),
    ("cluster|setslot", super::admin::admin),
    ("cluster|count-failure-reports", super::admin::admin),
    ("cluster|failover", super::admin::admin),
];

/// Runs a CLUSTER subcommand the server answers.
pub fn cluster(shared: &Shared, spec: &CommandSpec, args: &[Bytes]) -> Result<Reply, CommandError> {
    let view = shared
        .cluster
        .as_ref()
        .ok_or_else(|| CommandError::err(CLUSTER_DISABLED))?;
    let (name, family) = SUBCOMMANDS
        .iter()
        .find(|(name, _)| *name == spec.name)
        .ok_or_else(|| {
            CommandError::err(format!("'{}' is not served by this server", spec.name))
        })?;
    family(Call {
        shared,
        view,
        name,
        args,
    })
}

/// READONLY, READWRITE and ASKING: connection flags the redirection check reads.
pub fn connection_flag(
    shared: &Shared,
    client: &mut ClientState,
    name: &str,
) -> Result<Reply, CommandError> {
    if shared.cluster.is_none() {
        return Err(CommandError::err(CLUSTER_DISABLED));
    }
    match name {
        "readonly" | "readwrite" => {
            let readonly = name == "readonly";
            client.cluster.readonly = readonly;
            client
                .info
                .cluster_readonly
                .store(readonly, std::sync::atomic::Ordering::Relaxed);
        }
        _ => client.cluster.asking = true,
    }
    Ok(Reply::Ok)
}

/// COUNTKEYSINSLOT slot, GETKEYSINSLOT slot count: the keys of one slot of database 0.
fn slot_keys(call: Call<'_>) -> Result<Reply, CommandError> {
    let slot = parse_i64_arg(&call.args[2])?;
    let engine = &call.shared.engine;
    if call.name == "cluster|countkeysinslot" {
        let slot = slot_number(slot).ok_or_else(|| CommandError::err("Invalid slot"))?;
        let count = engine.slot_key_count(0, slot);
        return Ok(Reply::Integer(i64::try_from(count).unwrap_or(i64::MAX)));
    }
    let count = parse_i64_arg(&call.args[3])?;
    let (Some(slot), Ok(count)) = (slot_number(slot), usize::try_from(count)) else {
        return Err(CommandError::err("Invalid slot or number of keys"));
    };
    let keys = engine.slot_keys(0, slot, count);
    Ok(Reply::Array(keys.into_iter().map(Reply::Bulk).collect()))
}

fn slot_number(slot: i64) -> Option<u16> {
    u16::try_from(slot)
        .ok()
        .filter(|&slot| usize::from(slot) < SLOT_COUNT)
}
