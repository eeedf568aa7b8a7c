//! The hello message sentinels publish on `__sentinel__:hello` of every monitored instance:
//! `ip,port,runid,current_epoch,master_name,master_ip,master_port,master_config_epoch`.

use crate::addr::Addr;

/// The channel hello messages travel on.
pub const HELLO_CHANNEL: &str = "__sentinel__:hello";
/// Longest hello message read; real ones are under 200 bytes.
const HELLO_BYTES_MAX: usize = 1024;

/// One hello message. `ip` is `None` when the sender announces no address: the driver then
/// puts in the local address of the link it publishes through, as Redis does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub ip: Option<String>,
    pub port: u16,
    pub runid: String,
    pub current_epoch: u64,
    pub master_name: String,
    pub master: Addr,
    pub master_config_epoch: u64,
}

impl Hello {
    /// The text published, with `ip` standing in for an address not announced.
    pub fn format(&self, ip: &str) -> String {
        format!(
            "{},{},{},{},{},{},{},{}",
            self.ip.as_deref().unwrap_or(ip),
            self.port,
            self.runid,
            self.current_epoch,
            self.master_name,
            self.master.host,
            self.master.port,
            self.master_config_epoch
        )
    }

    /// Reads a hello message; `None` for anything not made of the eight fields.
    pub fn parse(text: &str) -> Option<Hello> {
        if text.len() > HELLO_BYTES_MAX {
            return None;
        }
        let fields: Vec<&str> = text.trim().split(',').collect();
        let [ip, port, runid, current_epoch, name, master_ip, master_port, config_epoch] =
            fields.as_slice()
        else {
            return None;
        };
        let sender = Addr::parse(ip, port)?;
        if runid.len() != 40 || name.is_empty() {
            return None;
        }
        Some(Hello {
            ip: Some(sender.host),
            port: sender.port,
            runid: (*runid).to_owned(),
            current_epoch: current_epoch.parse().ok()?,
            master_name: (*name).to_owned(),
            master: Addr::parse(master_ip, master_port)?,
            master_config_epoch: config_epoch.parse().ok()?,
        })
    }

    /// The sender's address (after parsing, the ip is always present).
    pub fn sender(&self) -> Option<Addr> {
        self.ip.as_ref().map(|ip| Addr::new(ip.clone(), self.port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_round_trips_and_rejects_garbage() {
        let hello = Hello {
            ip: None,
            port: 26379,
            runid: "a".repeat(40),
            current_epoch: 3,
            master_name: "mymaster".into(),
            master: Addr::new("127.0.0.1", 6379),
            master_config_epoch: 2,
        };
        let text = hello.format("10.0.0.1");
        assert_eq!(
            text,
            format!(
                "10.0.0.1,26379,{},3,mymaster,127.0.0.1,6379,2",
                "a".repeat(40)
            )
        );
        let parsed = Hello::parse(&text).expect("parses");
        assert_eq!(parsed.sender(), Some(Addr::new("10.0.0.1", 26379)));
        assert_eq!(parsed.master_config_epoch, 2);
        assert_eq!(Hello::parse("1,2,3"), None);
        assert_eq!(Hello::parse(&text.replace(",3,", ",x,")), None);
        assert_eq!(Hello::parse(&text.replace("26379", "0")), None);
    }
}
