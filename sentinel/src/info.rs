//! What Sentinel reads from an instance's INFO reply: its run id, its role and, for a primary,
//! its replicas (`slaveN:ip=,port=,state=,offset=,lag=`); for a replica, where it replicates
//! from, whether its link is up, its priority and offset.

use crate::addr::Addr;

/// Most replicas read from one primary's INFO.
const REPLICAS_MAX: usize = 1024;

/// The role an instance reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Master,
    Replica,
}

/// The fields of one INFO reply Sentinel uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoReport {
    pub run_id: Option<String>,
    pub role: Option<Role>,
    /// A primary's replicas, as `slaveN` lines list them.
    pub replicas: Vec<Addr>,
    pub master: Option<Addr>,
    pub master_link_up: bool,
    pub master_link_down_ms: u64,
    pub priority: u64,
    /// `slave_repl_offset`, or a master's `master_repl_offset`.
    pub repl_offset: u64,
    pub announced: bool,
}

impl InfoReport {
    /// Reads `text` (CRLF or LF lines). Unknown and malformed lines are skipped.
    pub fn parse(text: &str) -> InfoReport {
        let mut report = InfoReport {
            run_id: None,
            role: None,
            replicas: Vec::new(),
            master: None,
            master_link_up: false,
            master_link_down_ms: 0,
            priority: 100,
            repl_offset: 0,
            announced: true,
        };
        let mut master_host = None;
        let mut master_offset = 0;
        let mut master_port = None;
        for line in text.lines() {
            let Some((name, value)) = line.trim_end().split_once(':') else {
                continue;
            };
            match name {
                "run_id" if value.len() == 40 => report.run_id = Some(value.to_owned()),
                "role" => {
                    report.role = match value {
                        "master" => Some(Role::Master),
                        "slave" => Some(Role::Replica),
                        _ => None,
                    }
                }
                "master_host" => master_host = Some(value.to_owned()),
                "master_port" => master_port = Some(value.to_owned()),
                "master_link_status" => report.master_link_up = value == "up",
                "master_link_down_since_seconds" => {
                    report.master_link_down_ms =
                        value.parse::<u64>().unwrap_or(0).saturating_mul(1000);
                }
                "slave_priority" | "replica_priority" => {
                    report.priority = value.parse().unwrap_or(100);
                }
                "slave_repl_offset" => report.repl_offset = value.parse().unwrap_or(0),
                "master_repl_offset" => master_offset = value.parse().unwrap_or(0),
                "replica_announced" => report.announced = value != "0",
                _ if is_replica_line(name) && report.replicas.len() < REPLICAS_MAX => {
                    if let Some(addr) = replica_addr(value) {
                        report.replicas.push(addr);
                    }
                }
                _ => {}
            }
        }
        if report.role == Some(Role::Master) {
            report.repl_offset = master_offset;
        }
        if let (Some(host), Some(port)) = (master_host, master_port) {
            report.master = Addr::parse(&host, &port);
        }
        report
    }
}

fn is_replica_line(name: &str) -> bool {
    name.strip_prefix("slave")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The address in `ip=...,port=...,state=...` (the pre-2.8 `ip,port,state` form too).
fn replica_addr(value: &str) -> Option<Addr> {
    if !value.contains('=') {
        let mut parts = value.split(',');
        return Addr::parse(parts.next()?, parts.next()?);
    }
    let mut ip = None;
    let mut port = None;
    for pair in value.split(',') {
        match pair.split_once('=') {
            Some(("ip", v)) => ip = Some(v),
            Some(("port", v)) => port = Some(v),
            _ => {}
        }
    }
    Addr::parse(ip?, port?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_primary_and_a_replica() {
        let primary = InfoReport::parse(
            "# Server\r\nrun_id:0123456789012345678901234567890123456789\r\n# Replication\r\n\
             role:master\r\nconnected_slaves:2\r\n\
             slave0:ip=127.0.0.1,port=6380,state=online,offset=42,lag=0\r\n\
             slave1:ip=127.0.0.1,port=6381,state=online,offset=42,lag=1\r\nslave_x:junk\r\n",
        );
        assert_eq!(primary.role, Some(Role::Master));
        assert_eq!(
            primary.replicas,
            vec![Addr::new("127.0.0.1", 6380), Addr::new("127.0.0.1", 6381)]
        );
        assert!(primary.run_id.is_some());
        let replica = InfoReport::parse(
            "role:slave\nmaster_host:127.0.0.1\nmaster_port:6379\nmaster_link_status:down\n\
             master_link_down_since_seconds:3\nslave_priority:0\nslave_repl_offset:99\n",
        );
        assert_eq!(replica.role, Some(Role::Replica));
        assert_eq!(replica.master, Some(Addr::new("127.0.0.1", 6379)));
        assert!(!replica.master_link_up);
        assert_eq!(
            (
                replica.master_link_down_ms,
                replica.priority,
                replica.repl_offset
            ),
            (3000, 0, 99)
        );
    }
}
