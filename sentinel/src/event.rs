//! Events Sentinel publishes (on a channel named after the event type) and logs, worded as
//! Redis Sentinel words them.

use crate::addr::Addr;

/// One published event: `channel` is the type (`+sdown`), `message` the details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub channel: String,
    pub message: String,
}

impl Event {
    pub fn new(channel: &str, message: String) -> Event {
        Event {
            channel: channel.to_owned(),
            message,
        }
    }
}

/// What an event is about, as Redis's `%@` prints it.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// `master <name> <ip> <port>`
    Master { name: &'a str, addr: &'a Addr },
    /// `slave <ip:port> <ip> <port> @ <master> <ip> <port>`
    Replica {
        addr: &'a Addr,
        master: &'a str,
        master_addr: &'a Addr,
    },
    /// `sentinel <runid> <ip> <port> @ <master> <ip> <port>`
    Sentinel {
        runid: &'a str,
        addr: &'a Addr,
        master: &'a str,
        master_addr: &'a Addr,
    },
}

impl Subject<'_> {
    pub fn describe(&self) -> String {
        match self {
            Subject::Master { name, addr } => format!("master {name} {} {}", addr.host, addr.port),
            Subject::Replica {
                addr,
                master,
                master_addr,
            } => format!(
                "slave {addr} {} {} @ {master} {} {}",
                addr.host, addr.port, master_addr.host, master_addr.port
            ),
            Subject::Sentinel {
                runid,
                addr,
                master,
                master_addr,
            } => format!(
                "sentinel {runid} {} {} @ {master} {} {}",
                addr.host, addr.port, master_addr.host, master_addr.port
            ),
        }
    }
}
