//! The replication commands clients send (REPLICAOF/SLAVEOF, ROLE, WAIT, and REPLCONF before a
//! PSYNC), and the INFO replication section.

use std::time::Duration;

use bytes::Bytes;
use slotkv_engine::command::is_keyword;
use slotkv_engine::value::parse_i64;
use slotkv_engine::{CommandError, Reply};

use super::{LinkState, Replication};
use crate::connection::{ClientState, Outcome};
use crate::server::Shared;

/// REPLCONF <option> <value> ... before PSYNC: what the replica tells about itself.
pub fn replconf(client: &mut ClientState, args: &[Bytes]) -> Outcome {
    match replconf_options(client, args) {
        Ok(Some(reply)) => Outcome::Reply(reply),
        // As in Redis, acknowledgements get no reply.
        Ok(None) => Outcome::Many(Vec::new()),
        Err(error) => Outcome::Reply(error.into()),
    }
}

fn replconf_options(
    client: &mut ClientState,
    args: &[Bytes],
) -> Result<Option<Reply>, CommandError> {
    if args.len() % 2 == 0 {
        return Err(CommandError::Syntax);
    }
    for pair in args[1..].chunks(2) {
        let [option, value] = pair else {
            return Err(CommandError::Syntax);
        };
        if is_keyword(option, "listening-port") {
            let port = parse_i64(value)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| CommandError::err("value is not an integer or out of range"))?;
            client.replica_hello.listening_port = port;
        } else if is_keyword(option, "ip-address") {
            client.replica_hello.ip_address = Some(String::from_utf8_lossy(value).into_owned());
        } else if is_keyword(option, "capa") {
            client.replica_hello.capa_eof |= is_keyword(value, "eof");
        } else if is_keyword(option, "ack") || is_keyword(option, "getack") {
            // Acknowledgements only mean something on a replica's link, which reads them
            // itself.
            return Ok(None);
        } else if !is_keyword(option, "rdb-only") && !is_keyword(option, "rdb-filter-only") {
            return Err(CommandError::err(format!(
                "Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(option)
            )));
        }
    }
    Ok(Some(Reply::Ok))
}

/// REPLICAOF host port | NO ONE (and SLAVEOF).
pub fn replicaof(shared: &Shared, args: &[Bytes]) -> Result<Reply, CommandError> {
    let repl = &shared.replication;
    if repl.failover_state() != super::failover::FailoverState::None {
        return Err(CommandError::err(
            "REPLICAOF not allowed while failing over.",
        ));
    }
    if is_keyword(&args[1], "no") && is_keyword(&args[2], "one") {
        repl.promote(shared);
        return Ok(Reply::Ok);
    }
    let port = parse_i64(&args[2])
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| CommandError::err("Invalid master port"))?;
    let host = String::from_utf8_lossy(&args[1]).into_owned();
    let already = repl
        .state
        .lock()
        .primary
        .as_ref()
        .is_some_and(|p| p.host.eq_ignore_ascii_case(&host) && p.port == port);
    if already {
        return Ok(Reply::Simple(
            "OK Already connected to specified master".into(),
        ));
    }
    tracing::info!("REPLICAOF {host}:{port} enabled (user request)");
    let shared = repl
        .shared
        .get()
        .and_then(std::sync::Weak::upgrade)
        .ok_or_else(|| CommandError::err("the server is shutting down"))?;
    repl.follow(&shared, host, port);
    Ok(Reply::Ok)
}

/// ROLE, in Redis's shape.
pub fn role(repl: &Replication) -> Reply {
    let state = repl.state.lock();
    let bulk = |text: String| Reply::Bulk(Bytes::from(text));
    match &state.primary {
        Some(primary) => Reply::Array(vec![
            bulk("slave".into()),
            bulk(primary.host.clone()),
            Reply::Integer(i64::from(primary.port)),
            bulk(primary.state.name().into()),
            Reply::Integer(match primary.state {
                LinkState::Connected => state.backlog.end() as i64,
                _ => -1,
            }),
        ]),
        None => Reply::Array(vec![
            bulk("master".into()),
            Reply::Integer(state.backlog.end() as i64),
            Reply::Array(
                state
                    .replicas
                    .iter()
                    .filter(|r| r.is_online())
                    .map(|r| {
                        Reply::Array(vec![
                            bulk(r.ip.clone()),
                            bulk(r.port.to_string()),
                            bulk(r.ack_offset().to_string()),
                        ])
                    })
                    .collect(),
            ),
        ]),
    }
}

/// WAIT numreplicas timeout: parsed here, waited on by the connection.
pub fn wait(shared: &Shared, client: &ClientState, args: &[Bytes]) -> Outcome {
    if shared.replication.is_replica() {
        return Outcome::Reply(Reply::Error(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.".into(),
        ));
    }
    let (Some(wanted), Some(timeout_ms)) = (parse_i64(&args[1]), parse_i64(&args[2])) else {
        return Outcome::Reply(CommandError::NotInteger.into());
    };
    if timeout_ms < 0 {
        return Outcome::Reply(Reply::Error("ERR timeout is negative".into()));
    }
    let wanted = usize::try_from(wanted).unwrap_or(0);
    if client.in_exec {
        // Inside EXEC nothing may wait: the count as it stands.
        return Outcome::Reply(Reply::Integer(shared.replication.acked_count() as i64));
    }
    let timeout = (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms as u64));
    Outcome::Wait { wanted, timeout }
}

impl Replication {
    /// Replicas that acknowledged the whole stream so far.
    pub fn acked_count(&self) -> usize {
        let state = self.state.lock();
        let end = state.backlog.end();
        state
            .replicas
            .iter()
            .filter(|r| r.ack_offset() >= end)
            .count()
    }

    /// INFO replication's fields, as Redis 7 prints them.
    pub fn info_fields(&self, shared: &Shared) -> Vec<(String, String)> {
        let settings = shared.config.read().repl.clone();
        let failover_state = self.failover_state();
        let state = self.state.lock();
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut add = |name: &str, value: String| fields.push((name.to_owned(), value));
        let flag = |on: bool| if on { "1" } else { "0" }.to_owned();
        match &state.primary {
            Some(primary) => {
                let up = primary.state == LinkState::Connected;
                add("role", "slave".into());
                add("master_host", primary.host.clone());
                add("master_port", primary.port.to_string());
                add("master_link_status", if up { "up" } else { "down" }.into());
                add(
                    "master_last_io_seconds_ago",
                    if up {
                        primary.last_io.elapsed().as_secs().to_string()
                    } else {
                        "-1".into()
                    },
                );
                add(
                    "master_sync_in_progress",
                    flag(primary.state == LinkState::Sync),
                );
                add("slave_read_repl_offset", primary.read_offset.to_string());
                add("slave_repl_offset", state.backlog.end().to_string());
                if !up {
                    add(
                        "master_link_down_since_seconds",
                        primary.down_since.elapsed().as_secs().to_string(),
                    );
                }
                add("slave_priority", settings.priority.to_string());
                add("slave_read_only", flag(settings.read_only));
                add("replica_announced", flag(settings.announced));
            }
            None => add("role", "master".into()),
        }
        let online: Vec<_> = state.replicas.iter().collect();
        add("connected_slaves", online.len().to_string());
        for (index, replica) in online.iter().enumerate() {
            let status = if replica.is_online() {
                "online"
            } else {
                "wait_bgsave"
            };
            fields.push((
                format!("slave{index}"),
                format!(
                    "ip={},port={},state={status},offset={},lag={}",
                    replica.ip,
                    replica.port,
                    replica.ack_offset(),
                    replica.ack_age().as_secs()
                ),
            ));
        }
        let mut add = |name: &str, value: String| fields.push((name.to_owned(), value));
        add("master_failover_state", failover_state.name().into());
        add("master_replid", state.replid.clone());
        add("master_replid2", state.replid2.clone());
        add("master_repl_offset", state.backlog.end().to_string());
        add("second_repl_offset", state.second_offset.to_string());
        let active = state.feed != super::Feed::Off;
        add("repl_backlog_active", flag(active));
        add("repl_backlog_size", state.backlog.capacity().to_string());
        add(
            "repl_backlog_first_byte_offset",
            if active {
                state.backlog.first_byte_offset().to_string()
            } else {
                "0".into()
            },
        );
        add("repl_backlog_histlen", state.backlog.len().to_string());
        fields
    }
}
