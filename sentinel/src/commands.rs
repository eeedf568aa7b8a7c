//! The commands a sentinel answers: SENTINEL and its subcommands, ROLE and INFO's sentinel
//! section, with Redis Sentinel's replies and error texts.

use std::net::IpAddr;

use crate::addr::Addr;
use crate::config::MasterConfig;
use crate::machine::{master_subject, Sentinel, CRASH_AFTER_ELECTION, CRASH_AFTER_PROMOTION};
use crate::reply::Reply;
use crate::state::{Master, Reconf};

const NO_SUCH_MASTER: &str = "ERR No such master with that name";

impl Sentinel {
    /// `SENTINEL <subcommand> [args...]` (`args` without the leading SENTINEL), with no
    /// hostname resolving (SENTINEL MONITOR then takes IP literals only).
    pub fn sentinel_command(&mut self, now_ms: u64, args: &[String]) -> Reply {
        self.sentinel_command_resolving(now_ms, args, &|_| None)
    }

    /// The hostname a SENTINEL command (`args`) needs looked up: SENTINEL MONITOR's host
    /// when it is one to resolve (see [`SentinelConfig::looks_up`]). The driver looks it up
    /// before [`Sentinel::sentinel_command_resolving`], outside the machine's lock, so a
    /// slow DNS answer holds neither the timer nor the links.
    ///
    /// [`SentinelConfig::looks_up`]: crate::config::SentinelConfig::looks_up
    pub fn host_to_resolve<'a>(&self, args: &'a [String]) -> Option<&'a str> {
        match args {
            [sub, _, host, _, _] if sub.eq_ignore_ascii_case("monitor") => {
                self.global.looks_up(host).then_some(host.as_str())
            }
            _ => None,
        }
    }

    /// [`Sentinel::sentinel_command`] where `resolve` gives the address a hostname resolves
    /// to (`None`: it does not): the machine does no I/O, so the driver answers from its
    /// lookup of [`Sentinel::host_to_resolve`] and a simulation from a table.
    pub fn sentinel_command_resolving(
        &mut self,
        now_ms: u64,
        args: &[String],
        resolve: &dyn Fn(&str) -> Option<IpAddr>,
    ) -> Reply {
        let Some((typed, rest)) = args.split_first() else {
            return arity("sentinel");
        };
        let sub = typed.to_ascii_lowercase();
        let reply = match (sub.as_str(), rest) {
            ("help", []) => help(),
            ("masters", []) => Reply::Array(
                self.masters
                    .values()
                    .map(|m| self.master_fields(m, now_ms))
                    .collect(),
            ),
            ("master", [name]) => self.with_master(name, |s, m| s.master_fields(m, now_ms)),
            ("replicas" | "slaves", [name]) => self.with_master(name, |s, m| {
                Reply::Array(
                    m.replicas
                        .values()
                        .filter(|r| r.announced)
                        .map(|r| s.replica_fields(m, &r.addr, now_ms))
                        .collect(),
                )
            }),
            ("sentinels", [name]) => self.with_master(name, |_, m| {
                Reply::Array(
                    m.sentinels
                        .values()
                        .map(|p| peer_fields(m, p, now_ms))
                        .collect(),
                )
            }),
            ("myid", []) => Reply::bulk(&self.myid),
            ("get-master-addr-by-name", [name]) => match self.masters.get(name) {
                Some(m) => {
                    let addr = m.current_addr();
                    Reply::Array(vec![Reply::bulk(&addr.host), Reply::bulk(addr.port)])
                }
                None => Reply::NilArray,
            },
            ("is-master-down-by-addr", [ip, port, epoch, runid]) => {
                self.is_master_down_by_addr(now_ms, ip, port, epoch, runid)
            }
            ("reset", [pattern]) => Reply::Integer(self.reset(now_ms, pattern)),
            ("failover", [name]) => self.failover_command(now_ms, name),
            ("ckquorum", [name]) => self.with_master(name, |_, m| ckquorum(m)),
            ("flushconfig", []) => {
                self.mark_dirty();
                Reply::Ok
            }
            ("monitor", [name, host, port, quorum]) => {
                self.monitor(now_ms, name, host, port, quorum, resolve)
            }
            ("remove", [name]) => match self.masters.remove(name.as_str()) {
                Some(m) => {
                    self.event("-monitor", master_subject(&m));
                    self.mark_dirty();
                    Reply::Ok
                }
                None => Reply::error(NO_SUCH_MASTER),
            },
            ("set", [name, options @ ..]) if !options.is_empty() => self.set(name, options),
            ("info-cache", names) => self.info_cache(now_ms, names),
            ("config", [op, option]) if op.eq_ignore_ascii_case("get") => self.config_get(option),
            ("config", [op, option, value]) if op.eq_ignore_ascii_case("set") => {
                self.config_set(option, value)
            }
            ("config", [_, ..]) => Reply::error(
                "ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.",
            ),
            ("debug", []) => self.debug_info(),
            ("debug", options) => self.debug_set(options),
            ("pending-scripts", []) => Reply::Array(Vec::new()),
            ("simulate-failure", flags) if !flags.is_empty() => self.simulate_failure(flags),
            (
                "masters"
                | "master"
                | "replicas"
                | "slaves"
                | "sentinels"
                | "myid"
                | "get-master-addr-by-name"
                | "is-master-down-by-addr"
                | "reset"
                | "failover"
                | "ckquorum"
                | "flushconfig"
                | "monitor"
                | "remove"
                | "set"
                | "config"
                | "pending-scripts"
                | "simulate-failure",
                _,
            ) => arity(&format!("sentinel|{sub}")),
            _ => Reply::error(format!(
                "ERR unknown subcommand '{}'. Try SENTINEL HELP.",
                typed
            )),
        };
        reply
    }

    /// `SENTINEL SIMULATE-FAILURE flag...`: the flags given replace the previous ones (an
    /// unknown one ends the list with an error, keeping those before it, as Redis does);
    /// `HELP` lists the flags.
    fn simulate_failure(&mut self, flags: &[String]) -> Reply {
        self.simulate_failure = 0;
        for flag in flags {
            match flag.to_ascii_lowercase().as_str() {
                "crash-after-election" => self.simulate_failure |= CRASH_AFTER_ELECTION,
                "crash-after-promotion" => self.simulate_failure |= CRASH_AFTER_PROMOTION,
                "help" => {
                    return Reply::Array(vec![
                        Reply::bulk("crash-after-election"),
                        Reply::bulk("crash-after-promotion"),
                    ])
                }
                _ => return Reply::error("ERR Unknown failure simulation specified"),
            }
        }
        Reply::Ok
    }

    /// ROLE: `sentinel` and the names of the monitored masters.
    pub fn role(&self) -> Reply {
        Reply::Array(vec![
            Reply::bulk("sentinel"),
            Reply::Array(self.masters.keys().map(Reply::bulk).collect()),
        ])
    }

    /// INFO's `# Sentinel` section, lines ending in CRLF.
    pub fn info_section(&self, now_ms: u64) -> String {
        let mut text = format!(
            "# Sentinel\r\nsentinel_masters:{}\r\nsentinel_tilt:{}\r\nsentinel_tilt_since_seconds:{}\r\n\
             sentinel_running_scripts:0\r\nsentinel_scripts_queue_length:0\r\n\
             sentinel_simulate_failure_flags:{}\r\n",
            self.masters.len(),
            u8::from(self.in_tilt()),
            self.tilt_since_ms
                .map_or(-1, |since| i64::try_from(now_ms.saturating_sub(since) / 1000).unwrap_or(-1)),
            self.simulate_failure,
        );
        for (index, m) in self.masters.values().enumerate() {
            let status = if m.is_odown() {
                "odown"
            } else if m.is_sdown() {
                "sdown"
            } else {
                "ok"
            };
            let addr = m.current_addr();
            text.push_str(&format!(
                "master{index}:name={},status={status},address={}:{},slaves={},sentinels={}\r\n",
                m.settings.name,
                addr.host,
                addr.port,
                m.replicas.len(),
                m.sentinels.len() + 1
            ));
        }
        text
    }

    fn with_master(&self, name: &str, f: impl FnOnce(&Sentinel, &Master) -> Reply) -> Reply {
        match self.masters.get(name) {
            Some(m) => f(self, m),
            None => Reply::error(NO_SUCH_MASTER),
        }
    }

    fn master_fields(&self, m: &Master, now_ms: u64) -> Reply {
        let mut flags = Vec::new();
        if m.is_sdown() {
            flags.push("s_down");
        }
        if m.is_odown() {
            flags.push("o_down");
        }
        flags.push("master");
        if m.failover.is_some() {
            flags.push("failover_in_progress");
        }
        if m.failover.as_ref().is_some_and(|f| f.forced) {
            flags.push("force_failover");
        }
        let mut fields = common_fields(
            &m.settings.name,
            &m.settings.addr,
            m.reported.run_id.as_deref(),
            &flags,
        );
        if let Some(f) = &m.failover {
            fields.push(("failover-state".into(), Reply::bulk(f.state.name())));
        }
        health_fields(&mut fields, &m.health, m.odown_since, now_ms);
        fields.push((
            "down-after-milliseconds".into(),
            Reply::bulk(m.settings.down_after_ms),
        ));
        reported_fields(&mut fields, &m.reported, now_ms);
        let mut push = |name: &str, value: u64| fields.push((name.into(), Reply::bulk(value)));
        push("config-epoch", m.settings.config_epoch);
        push("num-slaves", m.replicas.len() as u64);
        push("num-other-sentinels", m.sentinels.len() as u64);
        push("quorum", m.settings.quorum);
        push("failover-timeout", m.settings.failover_timeout_ms);
        push("parallel-syncs", m.settings.parallel_syncs);
        Reply::Map(fields)
    }

    fn replica_fields(&self, m: &Master, addr: &Addr, now_ms: u64) -> Reply {
        let Some(r) = m.replicas.get(addr) else {
            return Reply::Nil;
        };
        let mut flags = Vec::new();
        if r.health.is_sdown() {
            flags.push("s_down");
        }
        flags.push("slave");
        if m.failover.as_ref().and_then(|f| f.promoted.as_ref()) == Some(addr) {
            flags.push("promoted");
        }
        match r.reconf {
            Reconf::Sent => flags.push("reconf_sent"),
            Reconf::InProgress => flags.push("reconf_inprog"),
            Reconf::Done => flags.push("reconf_done"),
            Reconf::None => {}
        }
        let name = r.addr.to_string();
        let mut fields = common_fields(&name, &r.addr, r.reported.run_id.as_deref(), &flags);
        health_fields(&mut fields, &r.health, None, now_ms);
        fields.push((
            "down-after-milliseconds".into(),
            Reply::bulk(m.settings.down_after_ms),
        ));
        reported_fields(&mut fields, &r.reported, now_ms);
        let (host, port) = r
            .master
            .as_ref()
            .map_or(("?".to_owned(), 0), |a| (a.host.clone(), a.port));
        fields.extend([
            (
                "master-link-down-time".into(),
                Reply::bulk(r.master_link_down_ms),
            ),
            (
                "master-link-status".into(),
                Reply::bulk(if r.master_link_up { "ok" } else { "err" }),
            ),
            ("master-host".into(), Reply::bulk(host)),
            ("master-port".into(), Reply::bulk(port)),
            ("slave-priority".into(), Reply::bulk(r.priority)),
            ("slave-repl-offset".into(), Reply::bulk(r.offset)),
            (
                "replica-announced".into(),
                Reply::bulk(u8::from(r.announced)),
            ),
        ]);
        Reply::Map(fields)
    }

    fn is_master_down_by_addr(
        &mut self,
        now_ms: u64,
        ip: &str,
        port: &str,
        epoch: &str,
        runid: &str,
    ) -> Reply {
        let (Ok(port), Ok(epoch)) = (port.parse::<u16>(), epoch.parse::<u64>()) else {
            return Reply::error("ERR value is not an integer or out of range");
        };
        let addr = Addr::new(ip, port);
        let Some(name) = self
            .masters
            .values()
            .find(|m| m.settings.addr == addr)
            .map(|m| m.settings.name.clone())
        else {
            return Reply::Array(vec![Reply::Integer(0), Reply::bulk("*"), Reply::Integer(0)]);
        };
        let down = !self.in_tilt() && self.masters.get(&name).is_some_and(Master::is_sdown);
        let (leader, leader_epoch) = if runid == "*" {
            (None, 0)
        } else {
            self.vote(now_ms, &name, epoch, runid)
        };
        Reply::Array(vec![
            Reply::Integer(i64::from(down)),
            Reply::bulk(leader.as_deref().unwrap_or("*")),
            Reply::Integer(i64::try_from(leader_epoch).unwrap_or(i64::MAX)),
        ])
    }

    fn reset(&mut self, now_ms: u64, pattern: &str) -> i64 {
        let names: Vec<String> = self
            .masters
            .keys()
            .filter(|name| glob_match(pattern.as_bytes(), name.as_bytes()))
            .cloned()
            .collect();
        for name in &names {
            let Some(m) = self.masters.get(name) else {
                continue;
            };
            let config = MasterConfig::from(m.settings.clone());
            let subject = master_subject(m);
            self.add_master(&config, now_ms);
            self.event("+reset-master", subject);
        }
        if !names.is_empty() {
            self.mark_dirty();
        }
        i64::try_from(names.len()).unwrap_or(i64::MAX)
    }

    fn failover_command(&mut self, now_ms: u64, name: &str) -> Reply {
        let (ping, info) = (self.timing.ping_period_ms, self.timing.info_period_ms);
        let Some(m) = self.masters.get(name) else {
            return Reply::error(NO_SUCH_MASTER);
        };
        if m.failover.is_some() {
            return Reply::error("INPROG Failover already in progress");
        }
        if crate::failover::select_replica(m, now_ms, ping, info).is_none() {
            return Reply::error("NOGOODSLAVE No suitable replica to promote");
        }
        self.start_failover(now_ms, name, true);
        self.failover_step(now_ms, name);
        Reply::Ok
    }

    /// `SENTINEL MONITOR name host port quorum`, checked in Redis's order; a hostname is
    /// taken as [`SentinelConfig::admit_host`] says.
    ///
    /// [`SentinelConfig::admit_host`]: crate::config::SentinelConfig::admit_host
    fn monitor(
        &mut self,
        now_ms: u64,
        name: &str,
        host: &str,
        port: &str,
        quorum: &str,
        resolve: &dyn Fn(&str) -> Option<IpAddr>,
    ) -> Reply {
        let Ok(quorum) = quorum.parse::<i64>() else {
            return Reply::error("ERR Invalid quorum");
        };
        let Ok(port) = port.parse::<i64>() else {
            return Reply::error("ERR Invalid port");
        };
        if quorum <= 0 {
            return Reply::error("ERR Quorum must be 1 or greater.");
        }
        let Some(host) = self.global.admit_host(host, resolve) else {
            return Reply::error("ERR Invalid IP address or hostname specified");
        };
        let Some(port) = u16::try_from(port).ok().filter(|&p| p > 0) else {
            return Reply::error("ERR Invalid port number");
        };
        if self.masters.contains_key(name) {
            return Reply::error("ERR Duplicated master name");
        }
        if self.masters.len() >= crate::config::MASTERS_MAX {
            return Reply::error("ERR too many monitored masters");
        }
        let quorum = quorum.unsigned_abs();
        let mut config = MasterConfig::new(name, Addr::new(host, port), quorum);
        config.settings.down_after_ms = self.timing.default_down_after_ms;
        config.settings.failover_timeout_ms = self.timing.default_failover_timeout_ms;
        self.add_master(&config, now_ms);
        self.mark_dirty();
        let subject = self
            .masters
            .get(name)
            .map(master_subject)
            .unwrap_or_default();
        self.event("+monitor", format!("{subject} quorum {quorum}"));
        Reply::Ok
    }

    fn set(&mut self, name: &str, options: &[String]) -> Reply {
        if !self.masters.contains_key(name) {
            return Reply::error(NO_SUCH_MASTER);
        }
        let mut changed = false;
        let mut index = 0;
        let mut reply = Reply::Ok;
        while index < options.len() {
            let option = &options[index];
            let value = options.get(index + 1);
            match self.set_one(name, option, value.map(String::as_str)) {
                Ok(shown) => {
                    changed = true;
                    let subject = self
                        .masters
                        .get(name)
                        .map(master_subject)
                        .unwrap_or_default();
                    self.event("+set", format!("{subject} {option} {shown}"));
                    index += 2;
                }
                Err(error) => {
                    reply = Reply::error(error);
                    break;
                }
            }
        }
        if changed {
            self.mark_dirty();
        }
        reply
    }

    /// One `SENTINEL SET` option; returns the value as the event shows it.
    fn set_one(&mut self, name: &str, option: &str, value: Option<&str>) -> Result<String, String> {
        let unknown =
            || format!("ERR Unknown option or number of arguments for SENTINEL SET '{option}'");
        let value = value.ok_or_else(unknown)?;
        let bad = || format!("ERR Invalid argument '{value}' for SENTINEL SET '{option}'");
        let positive = || value.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(bad);
        let deny = self.global.deny_scripts_reconfig;
        let Some(m) = self.masters.get_mut(name) else {
            return Err(NO_SUCH_MASTER.to_owned());
        };
        match option.to_ascii_lowercase().as_str() {
            "down-after-milliseconds" => m.settings.down_after_ms = positive()?,
            "failover-timeout" => m.settings.failover_timeout_ms = positive()?,
            "parallel-syncs" => m.settings.parallel_syncs = positive()?,
            "quorum" => m.settings.quorum = positive()?,
            "auth-pass" => {
                m.settings.auth_pass = (!value.is_empty()).then(|| value.to_owned());
                return Ok("******".to_owned());
            }
            "auth-user" => m.settings.auth_user = (!value.is_empty()).then(|| value.to_owned()),
            "notification-script" | "client-reconfig-script" if deny => {
                return Err(
                    "ERR Reconfiguration of scripts path is denied for security reasons. \
                    Check the deny-scripts-reconfig configuration directive in your Sentinel \
                    configuration"
                        .to_owned(),
                )
            }
            // Kept for the file (see MasterSettings::kept_lines); slotkv runs no scripts.
            script @ ("notification-script" | "client-reconfig-script") => {
                m.settings
                    .kept_lines
                    .retain(|line| line.first().map(String::as_str) != Some(script));
                if !value.is_empty() {
                    m.settings.kept_lines.push(vec![
                        script.to_owned(),
                        name.to_owned(),
                        value.to_owned(),
                    ]);
                }
            }
            _ => return Err(unknown()),
        }
        Ok(value.to_owned())
    }

    fn info_cache(&self, now_ms: u64, names: &[String]) -> Reply {
        let chosen: Vec<&Master> = if names.is_empty() {
            self.masters.values().collect()
        } else {
            names.iter().filter_map(|n| self.masters.get(n)).collect()
        };
        let entry = |reported: &crate::state::Reported| {
            let age = reported
                .info_at_ms
                .map_or(0, |at| now_ms.saturating_sub(at));
            let info = reported.info.as_ref().map_or(Reply::Nil, Reply::bulk);
            Reply::Array(vec![
                Reply::Integer(i64::try_from(age).unwrap_or(i64::MAX)),
                info,
            ])
        };
        let mut items = Vec::new();
        for m in chosen {
            items.push(Reply::bulk(&m.settings.name));
            let mut entries = vec![entry(&m.reported)];
            entries.extend(m.replicas.values().map(|r| entry(&r.reported)));
            items.push(Reply::Array(entries));
        }
        Reply::Array(items)
    }

    fn config_get(&self, pattern: &str) -> Reply {
        let g = &self.global;
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
        let all = [
            ("resolve-hostnames", yes_no(g.resolve_hostnames)),
            ("announce-hostnames", yes_no(g.announce_hostnames)),
            ("announce-ip", g.announce_ip.clone().unwrap_or_default()),
            ("announce-port", g.announce_port.to_string()),
            ("sentinel-user", g.sentinel_user.clone().unwrap_or_default()),
            ("sentinel-pass", g.sentinel_pass.clone().unwrap_or_default()),
        ];
        Reply::Map(
            all.into_iter()
                .filter(|(name, _)| {
                    glob_match(pattern.to_ascii_lowercase().as_bytes(), name.as_bytes())
                })
                .map(|(name, value)| (name.to_owned(), Reply::bulk(value)))
                .collect(),
        )
    }

    fn config_set(&mut self, option: &str, value: &str) -> Reply {
        let option_name = option.to_ascii_lowercase();
        if !matches!(
            option_name.as_str(),
            "resolve-hostnames"
                | "announce-hostnames"
                | "announce-ip"
                | "announce-port"
                | "sentinel-user"
                | "sentinel-pass"
        ) {
            return Reply::error(format!(
                "ERR Invalid argument '{option}' to SENTINEL CONFIG SET"
            ));
        }
        let mut global = self.global.clone();
        let value = if value.is_empty() && option_name == "announce-port" {
            "0"
        } else {
            value
        };
        match global.apply(&[option_name.clone(), value.to_owned()]) {
            Ok(()) => {
                self.global = global;
                self.mark_dirty();
                Reply::Ok
            }
            Err(_) => Reply::error(format!(
                "ERR Invalid value '{value}' to SENTINEL CONFIG SET '{option}'"
            )),
        }
    }

    fn debug_info(&self) -> Reply {
        let t = &self.timing;
        let fields = [
            ("INFO-PERIOD", t.info_period_ms),
            ("PING-PERIOD", t.ping_period_ms),
            ("ASK-PERIOD", t.ask_period_ms),
            ("PUBLISH-PERIOD", t.publish_period_ms),
            ("DEFAULT-DOWN-AFTER", t.default_down_after_ms),
            ("DEFAULT-FAILOVER-TIMEOUT", t.default_failover_timeout_ms),
            ("SLAVE-RECONF-TIMEOUT", t.slave_reconf_timeout_ms),
            ("ELECTION-TIMEOUT", t.election_timeout_ms),
            ("TILT-TRIGGER", t.tilt_trigger_ms),
            ("TILT-PERIOD", t.tilt_period_ms),
        ];
        Reply::Map(
            fields
                .into_iter()
                .map(|(name, value)| (name.to_owned(), Reply::bulk(value)))
                .collect(),
        )
    }

    fn debug_set(&mut self, options: &[String]) -> Reply {
        let mut timing = self.timing.clone();
        for pair in options.chunks(2) {
            let [option, value] = pair else {
                return Reply::error(format!(
                    "ERR Unknown option or number of arguments for SENTINEL DEBUG '{}'",
                    pair.first().map_or("", String::as_str)
                ));
            };
            let Some(ms) = value.parse::<u64>().ok().filter(|&n| n > 0) else {
                return Reply::error(format!(
                    "ERR Invalid argument '{value}' for SENTINEL DEBUG '{option}'"
                ));
            };
            let slot = match option.to_ascii_lowercase().as_str() {
                "info-period" => &mut timing.info_period_ms,
                "ping-period" => &mut timing.ping_period_ms,
                "ask-period" => &mut timing.ask_period_ms,
                "publish-period" => &mut timing.publish_period_ms,
                "default-down-after" => &mut timing.default_down_after_ms,
                "default-failover-timeout" => &mut timing.default_failover_timeout_ms,
                "slave-reconf-timeout" => &mut timing.slave_reconf_timeout_ms,
                "election-timeout" => &mut timing.election_timeout_ms,
                "tilt-trigger" => &mut timing.tilt_trigger_ms,
                "tilt-period" => &mut timing.tilt_period_ms,
                _ => {
                    return Reply::error(format!(
                        "ERR Unknown option or number of arguments for SENTINEL DEBUG '{option}'"
                    ))
                }
            };
            *slot = ms;
        }
        self.timing = timing;
        Reply::Ok
    }
}

fn arity(name: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

fn common_fields(
    name: &str,
    addr: &Addr,
    runid: Option<&str>,
    flags: &[&str],
) -> Vec<(String, Reply)> {
    vec![
        ("name".into(), Reply::bulk(name)),
        ("ip".into(), Reply::bulk(&addr.host)),
        ("port".into(), Reply::bulk(addr.port)),
        ("runid".into(), Reply::bulk(runid.unwrap_or(""))),
        ("flags".into(), Reply::bulk(flags.join(","))),
        ("link-pending-commands".into(), Reply::bulk(0)),
        ("link-refcount".into(), Reply::bulk(1)),
    ]
}

fn health_fields(
    fields: &mut Vec<(String, Reply)>,
    h: &crate::state::Health,
    odown_since: Option<u64>,
    now_ms: u64,
) {
    let ago = |at: u64| Reply::bulk(now_ms.saturating_sub(at));
    fields.push((
        "last-ping-sent".into(),
        Reply::bulk(h.pending_since.map_or(0, |at| now_ms.saturating_sub(at))),
    ));
    fields.push(("last-ok-ping-reply".into(), ago(h.last_ok_ms)));
    fields.push(("last-ping-reply".into(), ago(h.last_reply_ms)));
    if let Some(since) = h.sdown_since {
        fields.push(("s-down-time".into(), ago(since)));
    }
    if let Some(since) = odown_since {
        fields.push(("o-down-time".into(), ago(since)));
    }
}

fn reported_fields(fields: &mut Vec<(String, Reply)>, r: &crate::state::Reported, now_ms: u64) {
    let role = match r.role {
        Some(crate::info::Role::Replica) => "slave",
        _ => "master",
    };
    fields.push((
        "info-refresh".into(),
        Reply::bulk(r.info_at_ms.map_or(0, |at| now_ms.saturating_sub(at))),
    ));
    fields.push(("role-reported".into(), Reply::bulk(role)));
    fields.push((
        "role-reported-time".into(),
        Reply::bulk(now_ms.saturating_sub(r.role_since_ms)),
    ));
}

fn peer_fields(m: &Master, p: &crate::state::Peer, now_ms: u64) -> Reply {
    let mut flags = Vec::new();
    if p.health.is_sdown() {
        flags.push("s_down");
    }
    flags.push("sentinel");
    if p.master_down {
        flags.push("master_down");
    }
    let mut fields = common_fields(&p.runid, &p.addr, Some(&p.runid), &flags);
    health_fields(&mut fields, &p.health, None, now_ms);
    fields.push((
        "down-after-milliseconds".into(),
        Reply::bulk(m.settings.down_after_ms),
    ));
    fields.push((
        "last-hello-message".into(),
        Reply::bulk(now_ms.saturating_sub(p.last_hello_ms)),
    ));
    fields.push((
        "voted-leader".into(),
        Reply::bulk(p.leader.as_deref().unwrap_or("?")),
    ));
    fields.push(("voted-leader-epoch".into(), Reply::bulk(p.leader_epoch)));
    Reply::Map(fields)
}

fn ckquorum(m: &Master) -> Reply {
    let usable = 1 + m
        .sentinels
        .values()
        .filter(|p| !p.health.is_sdown())
        .count() as u64;
    let voters = m.sentinels.len() as u64 + 1;
    let no_quorum = usable < m.settings.quorum;
    let no_auth = usable < voters / 2 + 1;
    if !no_quorum && !no_auth {
        return Reply::Simple(format!(
            "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
        ));
    }
    let mut text = format!("NOQUORUM {usable} usable Sentinels. ");
    if no_quorum {
        text.push_str(
            "Not enough available Sentinels to reach the specified quorum for this master",
        );
    }
    if no_auth {
        if no_quorum {
            text.push_str(". ");
        }
        text.push_str(
            "Not enough available Sentinels to reach the majority and authorize a failover",
        );
    }
    Reply::Error(text)
}

fn help() -> Reply {
    let lines = [
        "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CKQUORUM <master-name>",
        "    Check if the current Sentinel configuration is able to reach the quorum",
        "    needed to failover a master and the majority needed to authorize the",
        "    failover.",
        "CONFIG SET <param> <value>",
        "    Set a global Sentinel configuration parameter.",
        "CONFIG GET <param>",
        "    Get global Sentinel configuration parameter.",
        "DEBUG [<param> <value> ...]",
        "    Show a list of configurable time parameters and their values (milliseconds).",
        "    Or update current configurable parameters values (one or more).",
        "GET-MASTER-ADDR-BY-NAME <master-name>",
        "    Return the ip and port number of the master with that name.",
        "FAILOVER <master-name>",
        "    Manually failover a master node without asking for agreement from other",
        "    Sentinels",
        "FLUSHCONFIG",
        "    Force Sentinel to rewrite its configuration on disk, including the current",
        "    Sentinel state.",
        "INFO-CACHE <master-name>",
        "    Return last cached INFO output from masters and all its replicas.",
        "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
        "    Check if the master specified by ip:port is down from current Sentinel's",
        "    point of view.",
        "MASTER <master-name>",
        "    Show the state and info of the specified master.",
        "MASTERS",
        "    Show a list of monitored masters and their state.",
        "MONITOR <name> <ip> <port> <quorum>",
        "    Start monitoring a new master with the specified name, ip, port and quorum.",
        "MYID",
        "    Return the ID of the Sentinel instance.",
        "PENDING-SCRIPTS",
        "    Get pending scripts information.",
        "REMOVE <master-name>",
        "    Remove master from Sentinel's monitor list.",
        "REPLICAS <master-name>",
        "    Show a list of replicas for this master and their state.",
        "RESET <pattern>",
        "    Reset masters for specific master name matching this pattern.",
        "SENTINELS <master-name>",
        "    Show a list of Sentinel instances for this master and their state.",
        "SET <master-name> <option> <value> [<option> <value> ...]",
        "    Set configuration parameters for certain masters.",
        "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
        "    Simulate a Sentinel crash.",
        "HELP",
        "    Prints this help.",
    ];
    Reply::Array(
        lines
            .iter()
            .map(|l| Reply::Simple((*l).to_owned()))
            .collect(),
    )
}

/// `*`, `?` and `[...]` glob matching, as SENTINEL RESET and CONFIG GET patterns use.
pub(crate) fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.split_first(), text.split_first()) {
        (None, _) => text.is_empty(),
        (Some((b'*', rest)), _) => {
            (0..=text.len()).any(|skip| text.get(skip..).is_some_and(|t| glob_match(rest, t)))
        }
        (Some((b'?', rest)), Some((_, t))) => glob_match(rest, t),
        (Some((b'[', rest)), Some((&c, t))) => match rest.iter().position(|&b| b == b']') {
            Some(end) => rest[..end].contains(&c) && glob_match(&rest[end + 1..], t),
            None => c == b'[' && glob_match(rest, t),
        },
        (Some((&p, rest)), Some((&c, t))) => p == c && glob_match(rest, t),
        (Some(_), None) => false,
    }
}
