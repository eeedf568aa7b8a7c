//! The CLUSTER subcommands answered by the state machine: INFO NODES SLOTS SHARDS MYID
//! MYSHARDID LINKS, slot assignment (ADDSLOTS[RANGE] DELSLOTS[RANGE] FLUSHSLOTS SETSLOT),
//! membership (MEET FORGET REPLICATE REPLICAS SLAVES RESET), epochs (SET-CONFIG-EPOCH
//! BUMPEPOCH), SAVECONFIG, COUNT-FAILURE-REPORTS and FAILOVER.
//!
//! Each parses its arguments, calls the state machine through [`ClusterNode::with`] (which then
//! acts on what it produced) and turns the result into Redis's reply.

use bytes::Bytes;
use slotkv_cluster::routing::SLOT_COUNT;
use slotkv_cluster::{ClusterError, FailoverKind, SetSlot, SlotNode};
use slotkv_engine::command::{is_keyword, parse_i64_arg};
use slotkv_engine::{CommandError, Reply};

use super::commands::Call;

/// The state machine's errors carry Redis's whole error line.
fn refused(error: ClusterError) -> CommandError {
    CommandError::Other(error.to_string())
}

/// Runs a CLUSTER subcommand of the state machine.
pub fn admin(call: Call<'_>) -> Result<Reply, CommandError> {
    let Some(node) = call.view.node() else {
        return Err(CommandError::err("Cluster mode is starting"));
    };
    let args = &call.args[2..];
    let has_keys = call.shared.engine.key_count(0) > 0;
    let text = |s: String| Reply::Verbatim(Bytes::from(s));
    Ok(match call.name {
        "cluster|info" => {
            let mut info = node.read(|m| m.info_text());
            info = info.replace(
                "total_cluster_links_buffer_limit_exceeded:0",
                &format!(
                    "total_cluster_links_buffer_limit_exceeded:{}",
                    node.links_dropped()
                ),
            );
            text(info)
        }
        "cluster|nodes" => text(node.read(|m| m.nodes_text())),
        "cluster|myid" => Reply::Bulk(Bytes::from(node.myid().to_string())),
        "cluster|myshardid" => Reply::Bulk(Bytes::from(node.read(|m| m.myshardid().to_string()))),
        "cluster|slots" => slots_reply(node.read(|m| m.slots_info())),
        "cluster|shards" => shards_reply(node.read(|m| m.shards_info())),
        "cluster|links" => links_reply(node.read(|m| m.links_info())),
        "cluster|addslots" | "cluster|delslots" => {
            let slots = parse_slots(args)?;
            assign(node, call.name == "cluster|addslots", &slots)?
        }
        "cluster|addslotsrange" | "cluster|delslotsrange" => {
            let slots = parse_ranges(args)?;
            assign(node, call.name == "cluster|addslotsrange", &slots)?
        }
        "cluster|flushslots" => {
            node.with(|m, now| m.flush_slots(now, !has_keys))
                .map_err(refused)?;
            Reply::Ok
        }
        "cluster|meet" => meet(node, args)?,
        "cluster|forget" => {
            node.with(|m, now| m.forget(now, &text_arg(&args[0])))
                .map_err(refused)?;
            Reply::Ok
        }
        "cluster|replicate" => {
            node.with(|m, now| m.replicate(now, &text_arg(&args[0]), has_keys))
                .map_err(refused)?;
            Reply::Ok
        }
        "cluster|replicas" | "cluster|slaves" => {
            let lines = node
                .read(|m| m.replicas(&text_arg(&args[0])))
                .map_err(refused)?;
            Reply::Array(lines.into_iter().map(|l| Reply::Bulk(l.into())).collect())
        }
        "cluster|reset" => {
            let hard = match args.first() {
                None => false,
                Some(mode) if is_keyword(mode, "hard") => true,
                Some(mode) if is_keyword(mode, "soft") => false,
                Some(_) => return Err(CommandError::Syntax),
            };
            node.with(|m, now| m.reset(now, hard, has_keys))
                .map_err(refused)?;
            Reply::Ok
        }
        "cluster|saveconfig" => {
            node.save_now().map_err(|e| {
                CommandError::err(format!("error saving the cluster node config: {e}"))
            })?;
            Reply::Ok
        }
        "cluster|set-config-epoch" => {
            let epoch = u64::try_from(parse_i64_arg(&args[0])?).map_err(|_| {
                CommandError::err(
                    "Invalid config epoch specified: ".to_string() + &text_arg(&args[0]),
                )
            })?;
            node.with(|m, now| m.set_config_epoch(now, epoch))
                .map_err(refused)?;
            Reply::Ok
        }
        "cluster|bumpepoch" => Reply::Simple(node.with(|m, now| m.bump_epoch(now)).to_string()),
        "cluster|setslot" => set_slot(node, &call.shared.engine, args)?,
        "cluster|count-failure-reports" => {
            let count = node
                .read(|m| m.count_failure_reports(super::bus::now_ms(), &text_arg(&args[0])))
                .map_err(refused)?;
            Reply::Integer(i64::try_from(count).unwrap_or(i64::MAX))
        }
        "cluster|failover" => {
            let kind = match args.first() {
                None => FailoverKind::Default,
                Some(mode) if is_keyword(mode, "force") => FailoverKind::Force,
                Some(mode) if is_keyword(mode, "takeover") => FailoverKind::Takeover,
                Some(_) => return Err(CommandError::Syntax),
            };
            if args.len() > 1 {
                return Err(CommandError::Syntax);
            }
            node.with(|m, now| m.failover(now, kind)).map_err(refused)?;
            Reply::Ok
        }
        other => {
            return Err(CommandError::err(format!(
                "'{other}' is not served by this server"
            )))
        }
    })
}

fn text_arg(arg: &Bytes) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

fn assign(node: &super::bus::ClusterNode, add: bool, slots: &[u16]) -> Result<Reply, CommandError> {
    node.with(|m, now| {
        if add {
            m.add_slots(now, slots)
        } else {
            m.del_slots(now, slots)
        }
    })
    .map_err(refused)?;
    Ok(Reply::Ok)
}

fn parse_slot(arg: &Bytes) -> Result<u16, CommandError> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|&slot| usize::from(slot) < SLOT_COUNT)
        .ok_or_else(|| refused(ClusterError::InvalidSlot))
}

fn parse_slots(args: &[Bytes]) -> Result<Vec<u16>, CommandError> {
    args.iter().map(parse_slot).collect()
}

/// ADDSLOTSRANGE / DELSLOTSRANGE pairs, expanded.
fn parse_ranges(args: &[Bytes]) -> Result<Vec<u16>, CommandError> {
    if args.len() % 2 != 0 {
        return Err(CommandError::Syntax);
    }
    let mut slots = Vec::new();
    for pair in args.chunks_exact(2) {
        let (start, end) = (parse_slot(&pair[0])?, parse_slot(&pair[1])?);
        if start > end {
            return Err(CommandError::err(format!(
                "start slot number {start} is greater than end slot number {end}"
            )));
        }
        slots.extend(start..=end);
    }
    Ok(slots)
}

/// MEET ip port [cluster-bus-port].
fn meet(node: &super::bus::ClusterNode, args: &[Bytes]) -> Result<Reply, CommandError> {
    if args.len() > 3 {
        return Err(CommandError::Syntax);
    }
    let ip = text_arg(&args[0]);
    let port_arg = |arg: &Bytes| {
        parse_i64_arg(arg)
            .ok()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| {
                CommandError::err(format!("Invalid base port specified: {}", text_arg(arg)))
            })
    };
    let port = port_arg(&args[1])?;
    let bus_port = match args.get(2) {
        Some(arg) => Some(
            parse_i64_arg(arg)
                .ok()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| {
                    CommandError::err(format!("Invalid bus port specified: {}", text_arg(arg)))
                })?,
        ),
        None => None,
    };
    node.with(|m, now| m.meet(now, &ip, port, bus_port))
        .map_err(refused)?;
    Ok(Reply::Ok)
}

/// SETSLOT slot IMPORTING id | MIGRATING id | NODE id | STABLE.
fn set_slot(
    node: &super::bus::ClusterNode,
    engine: &slotkv_engine::Engine,
    args: &[Bytes],
) -> Result<Reply, CommandError> {
    let slot = parse_slot(&args[0])?;
    let id = |at: usize| -> Result<slotkv_cluster::NodeId, CommandError> {
        let arg = args.get(at).ok_or(CommandError::Syntax)?;
        slotkv_cluster::NodeId::parse(arg)
            .ok_or_else(|| refused(ClusterError::UnknownNode(text_arg(arg))))
    };
    let mode = args.get(1).ok_or(CommandError::Syntax)?;
    let action = if is_keyword(mode, "importing") && args.len() == 3 {
        SetSlot::Importing(id(2)?)
    } else if is_keyword(mode, "migrating") && args.len() == 3 {
        SetSlot::Migrating(id(2)?)
    } else if is_keyword(mode, "node") && args.len() == 3 {
        SetSlot::Node(id(2)?)
    } else if is_keyword(mode, "stable") && args.len() == 2 {
        SetSlot::Stable
    } else {
        return Err(CommandError::err(
            "Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP",
        ));
    };
    let keys_in_slot = engine.slot_key_count(0, slot) > 0;
    node.with(|m, now| m.set_slot(now, slot, action, keys_in_slot))
        .map_err(refused)?;
    Ok(Reply::Ok)
}

/// A node of CLUSTER SLOTS: ip, port, id, then a map of extra endpoints (hostname).
fn slot_node_reply(node: &SlotNode) -> Reply {
    let mut metadata = Vec::new();
    if !node.hostname.is_empty() {
        metadata.push((
            Reply::text("hostname"),
            Reply::Bulk(node.hostname.clone().into()),
        ));
    }
    Reply::Array(vec![
        Reply::Bulk(node.ip.clone().into()),
        Reply::Integer(i64::from(node.port)),
        Reply::Bulk(node.id.to_string().into()),
        Reply::Map(metadata),
    ])
}

fn slots_reply(ranges: Vec<slotkv_cluster::SlotRange>) -> Reply {
    Reply::Array(
        ranges
            .iter()
            .map(|range| {
                let mut entry = vec![
                    Reply::Integer(i64::from(range.start)),
                    Reply::Integer(i64::from(range.end)),
                ];
                entry.extend(range.nodes.iter().map(slot_node_reply));
                Reply::Array(entry)
            })
            .collect(),
    )
}

fn shards_reply(shards: Vec<slotkv_cluster::Shard>) -> Reply {
    let int = |n: u64| Reply::Integer(i64::try_from(n).unwrap_or(i64::MAX));
    Reply::Array(
        shards
            .iter()
            .map(|shard| {
                let slots = shard
                    .slots
                    .iter()
                    .flat_map(|&(start, end)| [int(start.into()), int(end.into())])
                    .collect();
                let nodes = shard
                    .nodes
                    .iter()
                    .map(|n| {
                        let mut fields = vec![
                            (Reply::text("id"), Reply::Bulk(n.node.id.to_string().into())),
                            (Reply::text("port"), int(n.node.port.into())),
                        ];
                        if n.node.tls_port != 0 {
                            fields.push((Reply::text("tls-port"), int(n.node.tls_port.into())));
                        }
                        fields.push((Reply::text("ip"), Reply::Bulk(n.node.ip.clone().into())));
                        fields.push((
                            Reply::text("endpoint"),
                            Reply::Bulk(n.node.ip.clone().into()),
                        ));
                        if !n.node.hostname.is_empty() {
                            fields.push((
                                Reply::text("hostname"),
                                Reply::Bulk(n.node.hostname.clone().into()),
                            ));
                        }
                        fields.push((Reply::text("role"), Reply::Bulk(n.role.into())));
                        fields.push((Reply::text("replication-offset"), int(n.replication_offset)));
                        fields.push((Reply::text("health"), Reply::Bulk(n.health.into())));
                        Reply::Map(fields)
                    })
                    .collect();
                Reply::Map(vec![
                    (Reply::text("slots"), Reply::Array(slots)),
                    (Reply::text("nodes"), Reply::Array(nodes)),
                ])
            })
            .collect(),
    )
}

fn links_reply(links: Vec<slotkv_cluster::LinkInfo>) -> Reply {
    Reply::Array(
        links
            .iter()
            .map(|link| {
                Reply::Map(vec![
                    (Reply::text("direction"), Reply::Bulk("to".into())),
                    (
                        Reply::text("node"),
                        Reply::Bulk(link.node.to_string().into()),
                    ),
                    (
                        Reply::text("create-time"),
                        Reply::Integer(i64::try_from(link.create_time).unwrap_or(i64::MAX)),
                    ),
                    (Reply::text("events"), Reply::Bulk("rw".into())),
                    (Reply::text("send-buffer-allocated"), Reply::Integer(0)),
                    (Reply::text("send-buffer-used"), Reply::Integer(0)),
                ])
            })
            .collect(),
    )
}
