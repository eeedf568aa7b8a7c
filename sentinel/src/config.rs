//! sentinel.conf: the `sentinel ...` directives Redis Sentinel reads, and the state it writes
//! back (known replicas and sentinels, epochs, its own id), so a restarted sentinel remembers.
//!
//! Lines arrive already split into words (the driver uses the server's configuration-line
//! splitter); [`rewrite`] keeps every other line of the file as it was and replaces the
//! `sentinel` lines with the current state.

use std::net::IpAddr;

use crate::addr::Addr;

/// Redis's defaults.
pub const DEFAULT_DOWN_AFTER_MS: u64 = 30_000;
pub const DEFAULT_FAILOVER_TIMEOUT_MS: u64 = 180_000;
pub const DEFAULT_PARALLEL_SYNCS: u64 = 1;
/// Most masters one sentinel monitors, and most replicas or sentinels remembered per master.
pub const MASTERS_MAX: usize = 1024;
pub const KNOWN_MAX: usize = 1024;

const UNRECOGNIZED: &str = "Unrecognized sentinel configuration statement.";
const NO_SUCH_MASTER: &str = "No such master with specified name.";
const UNRESOLVED: &str = "Can't resolve instance hostname.";

/// The persistent settings of one monitored master: what sentinel.conf sets for it, and
/// what SENTINEL SET, votes and failovers change while the sentinel runs (`state::Master`
/// holds one). The replicas and sentinels learned of are not settings: [`MasterConfig`]
/// adds them for the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterSettings {
    pub name: String,
    pub addr: Addr,
    pub quorum: u64,
    pub down_after_ms: u64,
    pub failover_timeout_ms: u64,
    pub parallel_syncs: u64,
    pub auth_pass: Option<String>,
    pub auth_user: Option<String>,
    pub config_epoch: u64,
    /// The epoch of this sentinel's last vote (whom it voted for is not persisted).
    pub leader_epoch: u64,
    /// Lines kept as read and written back (`notification-script`, `client-reconfig-script`,
    /// `rename-command`, `master-reboot-down-after-period`): the words after `sentinel`.
    /// slotkv runs no scripts and renames no commands; the lines survive rewrites so a file
    /// stays valid for Redis.
    pub kept_lines: Vec<Vec<String>>,
}

impl MasterSettings {
    /// A master at `addr` with Redis's defaults for everything `sentinel monitor` leaves out.
    pub fn new(name: &str, addr: Addr, quorum: u64) -> MasterSettings {
        MasterSettings {
            name: name.to_owned(),
            addr,
            quorum,
            down_after_ms: DEFAULT_DOWN_AFTER_MS,
            failover_timeout_ms: DEFAULT_FAILOVER_TIMEOUT_MS,
            parallel_syncs: DEFAULT_PARALLEL_SYNCS,
            auth_pass: None,
            auth_user: None,
            config_epoch: 0,
            leader_epoch: 0,
            kept_lines: Vec::new(),
        }
    }
}

/// One monitored master as sentinel.conf describes it: its settings and the replicas and
/// sentinels known for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterConfig {
    pub settings: MasterSettings,
    pub known_replicas: Vec<Addr>,
    /// `(address, run id)` of each known sentinel.
    pub known_sentinels: Vec<(Addr, String)>,
}

impl MasterConfig {
    pub fn new(name: &str, addr: Addr, quorum: u64) -> MasterConfig {
        MasterConfig::from(MasterSettings::new(name, addr, quorum))
    }
}

/// A master with these settings and no known replicas or sentinels.
impl From<MasterSettings> for MasterConfig {
    fn from(settings: MasterSettings) -> MasterConfig {
        MasterConfig {
            settings,
            known_replicas: Vec::new(),
            known_sentinels: Vec::new(),
        }
    }
}

/// Everything sentinel.conf says about sentinel mode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SentinelConfig {
    pub myid: Option<String>,
    pub current_epoch: u64,
    pub announce_ip: Option<String>,
    pub announce_port: u16,
    pub resolve_hostnames: bool,
    pub announce_hostnames: bool,
    pub deny_scripts_reconfig: bool,
    pub sentinel_user: Option<String>,
    pub sentinel_pass: Option<String>,
    pub masters: Vec<MasterConfig>,
}

impl SentinelConfig {
    /// Applies one `sentinel <words...>` line (`words` without the leading `sentinel`).
    pub fn apply(&mut self, words: &[String]) -> Result<(), String> {
        let Some((directive, args)) = words.split_first() else {
            return Err(UNRECOGNIZED.to_owned());
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match (directive.to_ascii_lowercase().as_str(), args.as_slice()) {
            ("monitor", [name, host, port, quorum]) => self.monitor(name, host, port, quorum),
            ("myid", [id]) => {
                if id.len() != 40 {
                    return Err("Malformed Sentinel id in myid option.".to_owned());
                }
                self.myid = Some((*id).to_owned());
                Ok(())
            }
            ("current-epoch", [epoch]) => parse_u64(epoch).map(|e| self.current_epoch = e),
            ("announce-ip", [ip]) => {
                self.announce_ip = (!ip.is_empty()).then(|| (*ip).to_owned());
                Ok(())
            }
            ("announce-port", [port]) => port
                .parse()
                .map(|p| self.announce_port = p)
                .map_err(|_| "Invalid port".to_owned()),
            ("resolve-hostnames", [v]) => yes_no(v).map(|b| self.resolve_hostnames = b),
            ("announce-hostnames", [v]) => yes_no(v).map(|b| self.announce_hostnames = b),
            ("deny-scripts-reconfig", [v]) => yes_no(v).map(|b| self.deny_scripts_reconfig = b),
            ("sentinel-user", [user]) => {
                self.sentinel_user = (!user.is_empty()).then(|| (*user).to_owned());
                Ok(())
            }
            ("sentinel-pass", [pass]) => {
                self.sentinel_pass = (!pass.is_empty()).then(|| (*pass).to_owned());
                Ok(())
            }
            (directive, [name, rest @ ..]) => self.apply_to_master(directive, name, rest),
            _ => Err(UNRECOGNIZED.to_owned()),
        }
    }

    /// Whether `host`, named as a master's address, is a hostname to look up: not an IP
    /// literal, under resolve-hostnames yes (with `no` only IP literals are taken). An
    /// empty word, or one with spaces, is no name at all.
    pub fn looks_up(&self, host: &str) -> bool {
        self.resolve_hostnames
            && !host.is_empty()
            && !host.contains(char::is_whitespace)
            && host.parse::<IpAddr>().is_err()
    }

    /// The host to keep for a master named at `host` (SENTINEL MONITOR, a `sentinel monitor`
    /// line), as Redis's "IP addresses and DNS names" describes: an IP literal as given; a
    /// hostname only under resolve-hostnames yes and when `resolve` finds its address, then
    /// kept as the hostname under announce-hostnames yes (links look it up again at each
    /// connect, so a moved instance is found) and as that address otherwise, which is then
    /// what replies, events, hellos and the rewritten file show. `None`: refused.
    pub fn admit_host(
        &self,
        host: &str,
        resolve: impl FnOnce(&str) -> Option<IpAddr>,
    ) -> Option<String> {
        if !self.looks_up(host) {
            return host.parse::<IpAddr>().is_ok().then(|| host.to_owned());
        }
        let ip = resolve(host)?;
        Some(if self.announce_hostnames {
            host.to_owned()
        } else {
            ip.to_string()
        })
    }

    /// Passes the address of every `sentinel monitor` line read through [`Self::admit_host`].
    /// Called once the whole file is read, so the resolve-hostnames and announce-hostnames
    /// lines count wherever they stand in it; a refused host fails as in Redis.
    pub fn resolve_monitored_hosts(
        &mut self,
        resolve: impl Fn(&str) -> Option<IpAddr>,
    ) -> Result<(), String> {
        let mut masters = std::mem::take(&mut self.masters);
        let result = masters.iter_mut().try_for_each(|m| {
            let addr = &mut m.settings.addr;
            let host = self.admit_host(&addr.host, &resolve).ok_or_else(|| {
                format!(
                    "sentinel monitor {} {} {}: {UNRESOLVED}",
                    m.settings.name, addr.host, addr.port
                )
            })?;
            addr.host = host;
            Ok(())
        });
        self.masters = masters;
        result
    }

    fn monitor(&mut self, name: &str, host: &str, port: &str, quorum: &str) -> Result<(), String> {
        let quorum = parse_u64(quorum)?;
        if quorum == 0 {
            return Err("Quorum must be 1 or greater.".to_owned());
        }
        let addr = Addr::parse(host, port).ok_or("Invalid port")?;
        if self.masters.iter().any(|m| m.settings.name == name) {
            return Err("Duplicated master name.".to_owned());
        }
        if self.masters.len() >= MASTERS_MAX {
            return Err(format!("more than {MASTERS_MAX} masters"));
        }
        self.masters.push(MasterConfig::new(name, addr, quorum));
        Ok(())
    }

    fn apply_to_master(
        &mut self,
        directive: &str,
        name: &str,
        args: &[&str],
    ) -> Result<(), String> {
        let master = self
            .masters
            .iter_mut()
            .find(|m| m.settings.name == name)
            .ok_or(NO_SUCH_MASTER)?;
        match (directive, args) {
            ("down-after-milliseconds", [ms]) => {
                master.settings.down_after_ms = parse_positive(ms)?;
            }
            ("failover-timeout", [ms]) => master.settings.failover_timeout_ms = parse_positive(ms)?,
            ("parallel-syncs", [n]) => master.settings.parallel_syncs = parse_positive(n)?,
            ("auth-pass", [pass]) => master.settings.auth_pass = Some((*pass).to_owned()),
            ("auth-user", [user]) => master.settings.auth_user = Some((*user).to_owned()),
            ("config-epoch", [epoch]) => master.settings.config_epoch = parse_u64(epoch)?,
            ("leader-epoch", [epoch]) => master.settings.leader_epoch = parse_u64(epoch)?,
            ("known-replica" | "known-slave", [host, port]) => {
                let addr = Addr::parse(host, port).ok_or("Invalid port")?;
                if master.known_replicas.len() < KNOWN_MAX && !master.known_replicas.contains(&addr)
                {
                    master.known_replicas.push(addr);
                }
            }
            ("known-sentinel", [host, port, runid]) => {
                let addr = Addr::parse(host, port).ok_or("Invalid port")?;
                if runid.len() != 40 {
                    return Err("Malformed Sentinel id in known-sentinel option.".to_owned());
                }
                if master.known_sentinels.len() < KNOWN_MAX {
                    master.known_sentinels.push((addr, (*runid).to_owned()));
                }
            }
            ("notification-script" | "client-reconfig-script", [_])
            | ("rename-command", [_, _])
            | ("master-reboot-down-after-period", [_]) => {
                if master.settings.kept_lines.len() >= KNOWN_MAX {
                    return Err(format!("more than {KNOWN_MAX} kept lines"));
                }
                let mut line = vec![directive.to_owned(), name.to_owned()];
                line.extend(args.iter().map(|a| (*a).to_owned()));
                master.settings.kept_lines.push(line);
            }
            _ => return Err(UNRECOGNIZED.to_owned()),
        }
        Ok(())
    }

    /// The `sentinel ...` lines that describe this configuration, in Redis's order.
    pub fn render(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(id) = &self.myid {
            lines.push(format!("sentinel myid {}", quote(id)));
        }
        if self.deny_scripts_reconfig {
            lines.push("sentinel deny-scripts-reconfig yes".to_owned());
        }
        if self.resolve_hostnames {
            lines.push("sentinel resolve-hostnames yes".to_owned());
        }
        if self.announce_hostnames {
            lines.push("sentinel announce-hostnames yes".to_owned());
        }
        for m in &self.masters {
            render_master(m, &mut lines);
        }
        lines.push(format!("sentinel current-epoch {}", self.current_epoch));
        if let Some(ip) = &self.announce_ip {
            lines.push(format!("sentinel announce-ip {}", quote(ip)));
        }
        if self.announce_port != 0 {
            lines.push(format!("sentinel announce-port {}", self.announce_port));
        }
        if let Some(user) = &self.sentinel_user {
            lines.push(format!("sentinel sentinel-user {}", quote(user)));
        }
        if let Some(pass) = &self.sentinel_pass {
            lines.push(format!("sentinel sentinel-pass {}", quote(pass)));
        }
        lines
    }
}

fn render_master(m: &MasterConfig, lines: &mut Vec<String>) {
    let settings = &m.settings;
    let name = quote(&settings.name);
    lines.push(format!(
        "sentinel monitor {name} {} {} {}",
        quote(&settings.addr.host),
        settings.addr.port,
        settings.quorum
    ));
    if settings.down_after_ms != DEFAULT_DOWN_AFTER_MS {
        lines.push(format!(
            "sentinel down-after-milliseconds {name} {}",
            settings.down_after_ms
        ));
    }
    if settings.failover_timeout_ms != DEFAULT_FAILOVER_TIMEOUT_MS {
        lines.push(format!(
            "sentinel failover-timeout {name} {}",
            settings.failover_timeout_ms
        ));
    }
    if settings.parallel_syncs != DEFAULT_PARALLEL_SYNCS {
        lines.push(format!(
            "sentinel parallel-syncs {name} {}",
            settings.parallel_syncs
        ));
    }
    if let Some(pass) = &settings.auth_pass {
        lines.push(format!("sentinel auth-pass {name} {}", quote(pass)));
    }
    if let Some(user) = &settings.auth_user {
        lines.push(format!("sentinel auth-user {name} {}", quote(user)));
    }
    lines.push(format!(
        "sentinel config-epoch {name} {}",
        settings.config_epoch
    ));
    lines.push(format!(
        "sentinel leader-epoch {name} {}",
        settings.leader_epoch
    ));
    for addr in &m.known_replicas {
        lines.push(format!(
            "sentinel known-replica {name} {} {}",
            quote(&addr.host),
            addr.port
        ));
    }
    for (addr, runid) in &m.known_sentinels {
        lines.push(format!(
            "sentinel known-sentinel {name} {} {} {}",
            quote(&addr.host),
            addr.port,
            quote(runid)
        ));
    }
    for words in &settings.kept_lines {
        let words: Vec<String> = words.iter().map(|w| quote(w)).collect();
        lines.push(format!("sentinel {}", words.join(" ")));
    }
}

/// `text` with every `sentinel` directive line replaced by `config`'s, other lines and
/// comments kept in place. `split` splits a line into words as the file reader does.
pub fn rewrite(
    text: &str,
    config: &SentinelConfig,
    split: impl Fn(&str) -> Option<Vec<String>>,
) -> String {
    let mut out = String::with_capacity(text.len() + 512);
    for line in text.lines() {
        let is_sentinel = split(line.trim()).is_some_and(|words| {
            words
                .first()
                .is_some_and(|w| w.eq_ignore_ascii_case("sentinel"))
        });
        if is_sentinel || line.trim() == GENERATED_MARK {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out.push_str(GENERATED_MARK);
    out.push('\n');
    for line in config.render() {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The comment Redis puts above the lines a rewrite adds.
const GENERATED_MARK: &str = "# Generated by CONFIG REWRITE";

/// `word` as a configuration word: bare when safe, else double-quoted with escapes.
pub fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\'' && b != b'\\');
    if safe {
        return word.to_owned();
    }
    let mut text = String::from("\"");
    for byte in word.bytes() {
        match byte {
            b'\\' => text.push_str("\\\\"),
            b'"' => text.push_str("\\\""),
            b' '..=b'~' => text.push(char::from(byte)),
            other => text.push_str(&format!("\\x{other:02x}")),
        }
    }
    text.push('"');
    text
}

fn parse_u64(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("Invalid argument '{text}'"))
}

fn parse_positive(text: &str) -> Result<u64, String> {
    parse_u64(text).and_then(|n| {
        if n == 0 {
            Err(format!("Invalid argument '{text}'"))
        } else {
            Ok(n)
        }
    })
}

fn yes_no(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("Please specify yes or no for the option.".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    fn split(line: &str) -> Option<Vec<String>> {
        Some(words(line))
    }

    #[test]
    fn parses_redis_lines_and_writes_them_back() {
        let mut config = SentinelConfig::default();
        for line in [
            "monitor mymaster 127.0.0.1 6379 2",
            "down-after-milliseconds mymaster 1000",
            "failover-timeout mymaster 5000",
            "parallel-syncs mymaster 2",
            "auth-pass mymaster secret",
            "config-epoch mymaster 3",
            "leader-epoch mymaster 3",
            "known-replica mymaster 127.0.0.1 6380",
            "known-sentinel mymaster 127.0.0.1 26380 0123456789012345678901234567890123456789",
            "current-epoch 3",
            "myid 9876543210987654321098765432109876543210",
            "deny-scripts-reconfig yes",
            "notification-script mymaster /var/redis/notify.sh",
        ] {
            config.apply(&words(line)).expect(line);
        }
        let master = &config.masters[0];
        assert_eq!(
            (
                master.settings.down_after_ms,
                master.settings.parallel_syncs
            ),
            (1000, 2)
        );
        assert_eq!(master.known_replicas, vec![Addr::new("127.0.0.1", 6380)]);
        let text = rewrite(
            "port 26379\nsentinel monitor old 1.2.3.4 5 1\n# keep me\n",
            &config,
            split,
        );
        assert!(text.starts_with("port 26379\n# keep me\n# Generated by CONFIG REWRITE\n"));
        let mut again = SentinelConfig::default();
        for line in text.lines().filter(|l| l.starts_with("sentinel ")) {
            again.apply(&words(line)[1..]).expect(line);
        }
        assert_eq!(again, config);
        assert_eq!(rewrite(&text, &config, split), text, "a rewrite is stable");
    }

    #[test]
    fn refuses_bad_lines_as_redis_words_them() {
        let mut config = SentinelConfig::default();
        assert_eq!(
            config.apply(&words("down-after-milliseconds nope 10")),
            Err(NO_SUCH_MASTER.to_owned())
        );
        assert_eq!(config.apply(&words("bogus")), Err(UNRECOGNIZED.to_owned()));
        assert!(config.apply(&words("monitor m 127.0.0.1 6379 0")).is_err());
        config
            .apply(&words("monitor m 127.0.0.1 6379 1"))
            .expect("monitor");
        assert!(config.apply(&words("monitor m 127.0.0.1 6380 1")).is_err());
        assert!(config.apply(&words("parallel-syncs m 0")).is_err());
    }

    /// Found by the sentinel_conf fuzz target: a host that needs quotes was written bare,
    /// and the rewritten file lost the replica.
    #[test]
    fn hosts_that_need_quotes_survive_a_rewrite() {
        let mut config = SentinelConfig::default();
        config
            .apply(&words("monitor m 127.0.0.1 6380 1"))
            .expect("monitor");
        let replica: Vec<String> = ["known-replica", "m", "myp'b!ter", "4"]
            .iter()
            .map(|w| (*w).to_owned())
            .collect();
        config.apply(&replica).expect("known-replica");
        let mut lines = Vec::new();
        render_master(&config.masters[0], &mut lines);
        assert!(
            lines.contains(&"sentinel known-replica m \"myp'b!ter\" 4".to_owned()),
            "{lines:?}"
        );
    }

    /// Knows `db.example` only.
    fn dns(host: &str) -> Option<IpAddr> {
        (host == "db.example").then(|| IpAddr::from([10, 0, 0, 9]))
    }

    fn read(lines: &[&str]) -> SentinelConfig {
        let mut config = SentinelConfig::default();
        for line in lines {
            config.apply(&words(line)).expect(line);
        }
        config
    }

    #[test]
    fn monitored_hostnames_resolve_once_the_file_is_read() {
        // resolve-hostnames after the monitor line counts all the same.
        let mut config = read(&["monitor m db.example 6379 1", "resolve-hostnames yes"]);
        config.resolve_monitored_hosts(dns).expect("resolves");
        assert_eq!(config.masters[0].settings.addr, Addr::new("10.0.0.9", 6379));
        assert!(config
            .render()
            .contains(&"sentinel monitor m 10.0.0.9 6379 1".to_owned()));

        let mut config = read(&[
            "announce-hostnames yes",
            "monitor m db.example 6379 1",
            "resolve-hostnames yes",
        ]);
        config.resolve_monitored_hosts(dns).expect("resolves");
        assert_eq!(
            config.masters[0].settings.addr,
            Addr::new("db.example", 6379),
            "announce-hostnames yes keeps the name"
        );

        let mut config = read(&["monitor m 10.0.0.1 6379 1", "monitor n ::1 6380 1"]);
        let before = config.clone();
        config
            .resolve_monitored_hosts(|host| panic!("{host} looked up"))
            .expect("IP literals need no resolving");
        assert_eq!(config, before);
    }

    #[test]
    fn monitored_hostnames_that_do_not_resolve_are_refused_as_redis_does() {
        let refused = "sentinel monitor m db.example 6379: Can't resolve instance hostname.";
        let mut config = read(&["monitor m db.example 6379 1"]);
        assert_eq!(
            config.resolve_monitored_hosts(dns),
            Err(refused.to_owned()),
            "resolve-hostnames no takes IP literals only"
        );
        let mut config = read(&["resolve-hostnames yes", "monitor m db.example 6379 1"]);
        assert_eq!(
            config.resolve_monitored_hosts(|_| None),
            Err(refused.to_owned())
        );
        assert_eq!(config.masters.len(), 1, "the configuration stays whole");
    }

    #[test]
    fn quotes_words_that_need_it() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("two words"), "\"two words\"");
        assert_eq!(quote(""), "\"\"");
    }
}
