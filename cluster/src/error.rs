//! Errors of the admin commands, rendered as Redis's exact error replies, and of nodes.conf.

use crate::NodeId;
use std::fmt;

/// A refused CLUSTER subcommand; `Display` gives the reply text (without the leading `-`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterError {
    InvalidSlot,
    SlotBusy(u16),
    SlotUnassigned(u16),
    SlotRepeated(u16),
    UnknownNode(String),
    ForgetMyself,
    ForgetMyPrimary,
    InvalidAddress(String, u16),
    ReplicateMyself,
    ReplicateReplica,
    NotEmptyForReplicate,
    ResetWithKeys,
    FlushSlotsNotEmpty,
    ConfigEpochNotAlone,
    ConfigEpochNonZero,
    FailoverOnPrimary,
    PrimaryUnknown,
    PrimaryDown,
    SetSlotOnReplica,
    AlreadyOwner(u16),
    NotOwner(u16),
    DontKnowNode(NodeId),
    TargetNotPrimary,
    HoldsKeys(u16),
    NotAPrimary,
    TooManyNodes,
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterError::InvalidSlot => f.write_str("ERR Invalid or out of range slot"),
            ClusterError::SlotBusy(s) => write!(f, "ERR Slot {s} is already busy"),
            ClusterError::SlotUnassigned(s) => write!(f, "ERR Slot {s} is already unassigned"),
            ClusterError::SlotRepeated(s) => write!(f, "ERR Slot {s} specified multiple times"),
            ClusterError::UnknownNode(id) => write!(f, "ERR Unknown node {id}"),
            ClusterError::ForgetMyself => {
                f.write_str("ERR I tried hard but I can't forget myself...")
            }
            ClusterError::ForgetMyPrimary => f.write_str("ERR Can't forget my master!"),
            ClusterError::InvalidAddress(ip, port) => {
                write!(f, "ERR Invalid node address specified: {ip}:{port}")
            }
            ClusterError::ReplicateMyself => f.write_str("ERR Can't replicate myself"),
            ClusterError::ReplicateReplica => {
                f.write_str("ERR I can only replicate a master, not a replica.")
            }
            ClusterError::NotEmptyForReplicate => f.write_str(
                "ERR To set a master the node must be empty and without assigned slots.",
            ),
            ClusterError::ResetWithKeys => {
                f.write_str("ERR CLUSTER RESET can't be called with master nodes containing keys")
            }
            ClusterError::FlushSlotsNotEmpty => {
                f.write_str("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.")
            }
            ClusterError::ConfigEpochNotAlone => f.write_str(
                "ERR The user can assign a config epoch only when the node does not know any other node.",
            ),
            ClusterError::ConfigEpochNonZero => {
                f.write_str("ERR Node config epoch is already non-zero")
            }
            ClusterError::FailoverOnPrimary => {
                f.write_str("ERR You should send CLUSTER FAILOVER to a replica")
            }
            ClusterError::PrimaryUnknown => {
                f.write_str("ERR I'm a replica but my master is unknown to me")
            }
            ClusterError::PrimaryDown => {
                f.write_str("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE")
            }
            ClusterError::SetSlotOnReplica => {
                f.write_str("ERR Please use SETSLOT only with masters.")
            }
            ClusterError::AlreadyOwner(s) => write!(f, "ERR I'm already the owner of hash slot {s}"),
            ClusterError::NotOwner(s) => write!(f, "ERR I'm not the owner of hash slot {s}"),
            ClusterError::DontKnowNode(id) => write!(f, "ERR I don't know about node {id}"),
            ClusterError::TargetNotPrimary => f.write_str("ERR Target node is not a master"),
            ClusterError::HoldsKeys(s) => write!(
                f,
                "ERR Can't assign hashslot {s} to a different node while I still hold keys for this hash slot."
            ),
            ClusterError::NotAPrimary => f.write_str("ERR The specified node is not a master"),
            ClusterError::TooManyNodes => f.write_str("ERR Too many cluster nodes"),
        }
    }
}

impl std::error::Error for ClusterError {}

/// A nodes.conf that cannot be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodesConfError {
    /// 1-based line number (0: the file as a whole).
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for NodesConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nodes.conf line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for NodesConfError {}
