//! Instance addresses: the `host:port` pairs sentinels monitor and announce.

use std::fmt;

/// Where an instance (server or sentinel) listens.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Addr {
    pub host: String,
    pub port: u16,
}

impl Addr {
    pub fn new(host: impl Into<String>, port: u16) -> Addr {
        Addr {
            host: host.into(),
            port,
        }
    }

    /// `host:port` from its two words, as config lines and INFO fields give them.
    pub fn parse(host: &str, port: &str) -> Option<Addr> {
        let port = port.parse::<u16>().ok().filter(|&port| port > 0)?;
        (!host.is_empty() && !host.contains(char::is_whitespace)).then(|| Addr::new(host, port))
    }
}

impl fmt::Display for Addr {
    /// `ip:port`, the name Redis gives replicas (`[ip]:port` for IPv6).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}
