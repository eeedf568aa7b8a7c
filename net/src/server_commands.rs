//! Commands the server answers itself (the engine's table lists them with `Handler::Server`):
//! CLIENT, CONFIG, COMMAND, INFO, HELLO, AUTH, ACL (in [`crate::acl::command`]), QUIT,
//! SHUTDOWN and DEBUG.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use slotkv_engine::command::{is_keyword, parse_i64_arg, CommandSpec};
use slotkv_engine::{CommandError, Reply};

use crate::blocking::{self, BlockRequest};
use crate::clients::{ClientInfo, ClientType, CLIENT_NAME_LEN_MAX};
use crate::connection::{ClientState, Outcome};
use crate::pubsub::{self, Kind, SubscriberState};
use crate::resp::Protocol;
use crate::server::Shared;
use crate::transaction;

/// Longest DEBUG SLEEP accepted, so a typo cannot park a connection for years.
const DEBUG_SLEEP_SECS_MAX: f64 = 3600.0;

/// Runs a server-answered command.
pub fn run(
    shared: &Shared,
    client: &mut ClientState,
    spec: &CommandSpec,
    args: &[Bytes],
) -> Outcome {
    let result = match spec.name {
        "quit" => return Outcome::Close(Reply::Ok),
        "subscribe" => return subscribe(shared, client, Kind::Channel, &args[1..]),
        "psubscribe" => return subscribe(shared, client, Kind::Pattern, &args[1..]),
        "ssubscribe" => return subscribe(shared, client, Kind::Shard, &args[1..]),
        "unsubscribe" => return unsubscribe(shared, client, Kind::Channel, &args[1..]),
        "punsubscribe" => return unsubscribe(shared, client, Kind::Pattern, &args[1..]),
        "sunsubscribe" => return unsubscribe(shared, client, Kind::Shard, &args[1..]),
        "publish" | "spublish" => {
            shared.replication.propagate_publish(args, client.in_exec);
            if let Some(node) = shared.cluster.as_ref().and_then(|view| view.node()) {
                // Cluster mode: every node's subscribers (SPUBLISH: the shard's) get it too.
                let sharded = spec.name == "spublish";
                node.with(|machine, _| machine.publish(&args[1], &args[2], sharded));
            }
            let receivers = if spec.name == "publish" {
                shared.pubsub.publish(&args[1], &args[2])
            } else {
                shared.pubsub.publish_shard(&args[1], &args[2])
            };
            Ok(Reply::Integer(receivers as i64))
        }
        "pubsub|help" => Ok(help(PUBSUB_HELP)),
        name if name.starts_with("pubsub|") => pubsub::pubsub_command(&shared.pubsub, args),
        name if blocking::is_blocking(name) => {
            return match BlockRequest::parse(name, args) {
                Ok(request) => Outcome::Block(Box::new(request)),
                Err(error) => Outcome::Reply(error.into()),
            }
        }
        "client|unblock" => client_unblock(shared, args),
        "multi" => transaction::multi(client),
        "exec" => transaction::exec(shared, client),
        "discard" => transaction::discard(shared, client),
        "watch" => transaction::watch(shared, client, &args[1..]),
        "unwatch" => Ok(transaction::unwatch(shared, client)),
        "shutdown" => return shutdown(shared, args),
        "replconf" => return crate::replication::commands::replconf(client, args),
        "psync" | "sync" => {
            let request = crate::replication::primary::SyncRequest::parse(args);
            return Outcome::Replicate(Box::new(request));
        }
        "wait" => return crate::replication::commands::wait(shared, client, args),
        "replicaof" | "slaveof" => crate::replication::commands::replicaof(shared, args),
        "failover" => crate::replication::failover::failover_command(shared, args),
        "role" => Ok(crate::replication::commands::role(&shared.replication)),
        "readonly" | "readwrite" | "asking" => {
            crate::cluster::commands::connection_flag(shared, client, spec.name)
        }
        name if name.starts_with("cluster|") => {
            crate::cluster::commands::cluster(shared, spec, args)
        }
        "migrate" => {
            return match crate::migrate::MigrateRequest::parse(args, shared.cluster.is_some()) {
                Ok(request) => Outcome::Migrate(Box::new(request)),
                Err(error) => Outcome::Reply(error.into()),
            }
        }
        "save" => crate::persist::save_command(shared),
        "bgsave" => crate::persist::bgsave_command(shared, args, client.in_exec),
        "lastsave" => Ok(Reply::Integer(shared.rdb.last_save_unix() as i64)),
        "debug" => return debug(shared, client, args),
        "bgrewriteaof" => Ok(shared.aof.bgrewriteaof(&shared.engine)),
        "info" => Ok(crate::info::reply(shared, client, &args[1..])),
        "memory|stats" => Ok(crate::memory::stats(&shared.engine)),
        "memory|doctor" => Ok(Reply::Verbatim(Bytes::from(crate::memory::doctor(
            &shared.engine,
        )))),
        "memory|malloc-stats" => Ok(Reply::Verbatim(Bytes::from(crate::memory::malloc_stats()))),
        // jemalloc returns dirty pages to the system on its own decay schedule.
        "memory|purge" => Ok(Reply::Ok),
        "memory|help" => Ok(help(MEMORY_HELP)),
        name if name.starts_with("acl|") => crate::acl::command::run(shared, client, spec, args),
        "hello" => hello(shared, client, args),
        "auth" => auth(shared, client, args),
        "client|id" => Ok(Reply::Integer(client.info.id as i64)),
        "client|setname" => set_client_name(client, &args[2]).map(|()| Reply::Ok),
        "client|getname" => Ok(client.info.name().map_or(Reply::Nil, Reply::text)),
        "client|list" => client_list(shared, args),
        "client|info" => Ok(Reply::Verbatim(Bytes::from(client.info.describe() + "\n"))),
        "client|kill" => client_kill(shared, client, args),
        "client|help" => Ok(help(CLIENT_HELP)),
        "config|get" => Ok(shared.config.get(&args[2..])),
        "config|set" => config_set(shared, client, args),
        "config|rewrite" => config_rewrite(shared),
        "config|resetstat" => {
            shared.stats.reset();
            shared.acl.denied.reset();
            shared.engine.reset_stats();
            Ok(Reply::Ok)
        }
        "config|help" => Ok(help(CONFIG_HELP)),
        name if name == "command" || name.starts_with("command|") => {
            crate::introspect::command_reply(args)
        }
        other => Err(CommandError::err(format!(
            "'{other}' is not served by this server"
        ))),
    };
    Outcome::Reply(result.unwrap_or_else(Reply::from))
}

fn subscribe(shared: &Shared, client: &mut ClientState, kind: Kind, names: &[Bytes]) -> Outcome {
    let info = client.info.clone();
    let state = client
        .pubsub
        .get_or_insert_with(|| SubscriberState::new(info));
    Outcome::Many(pubsub::subscribe(&shared.pubsub, state, kind, names))
}

fn unsubscribe(shared: &Shared, client: &mut ClientState, kind: Kind, names: &[Bytes]) -> Outcome {
    let info = client.info.clone();
    let state = client
        .pubsub
        .get_or_insert_with(|| SubscriberState::new(info));
    Outcome::Many(pubsub::unsubscribe(&shared.pubsub, state, kind, names))
}

const PUBSUB_HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Print this help.",
];

const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Report the memory problems the figures show.",
    "MALLOC-STATS",
    "    Show the allocator's figures.",
    "PURGE",
    "    Ask the allocator to give freed pages back (jemalloc does it on its own schedule).",
    "STATS",
    "    Show how the allocated memory divides.",
    "USAGE <key> [SAMPLES <count>]",
    "    Estimate the bytes <key> and its value take, sampling <count> elements of a",
    "    collection (default 5, 0 for all of them).",
    "HELP",
    "    Print this help.",
];

fn help(lines: &[&str]) -> Reply {
    Reply::Array(
        lines
            .iter()
            .map(|line| Reply::Simple((*line).to_owned()))
            .collect(),
    )
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are: ID <client-id>, TYPE normal|master|replica|pubsub,",
    "    USER <username>, ADDR <ip:port>, LADDR <ip:port>, SKIPME yes|no, MAXAGE <seconds>.",
    "LIST [options ...]",
    "    Return information about client connections. Options: TYPE normal|master|replica|pubsub,",
    "    ID id [id ...].",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "HELP",
    "    Print this help.",
];

const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Print this help.",
];

fn set_client_name(client: &ClientState, name: &[u8]) -> Result<(), CommandError> {
    let valid =
        name.len() <= CLIENT_NAME_LEN_MAX && name.iter().all(|&b| (b'!'..=b'~').contains(&b));
    if !valid {
        return Err(CommandError::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    // Validated as printable ASCII above, so the conversion is lossless.
    client.info.set_name(&String::from_utf8_lossy(name));
    Ok(())
}

fn client_list(shared: &Shared, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut clients = shared.clients.all();
    let mut rest = args[2..].iter();
    while let Some(option) = rest.next() {
        if is_keyword(option, "type") {
            let kind = rest.next().ok_or(CommandError::Syntax)?;
            let kind = parse_client_type(kind)?;
            clients.retain(|c| c.client_type() == kind);
        } else if is_keyword(option, "id") {
            let ids = rest
                .by_ref()
                .map(|id| parse_client_id(id))
                .collect::<Result<Vec<_>, _>>()?;
            if ids.is_empty() {
                return Err(CommandError::Syntax);
            }
            clients.retain(|c| ids.contains(&c.id));
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let text: String = clients.iter().map(|c| c.describe() + "\n").collect();
    Ok(Reply::Verbatim(Bytes::from(text)))
}

fn client_unblock(shared: &Shared, args: &[Bytes]) -> Result<Reply, CommandError> {
    if args.len() > 4 {
        return Err(CommandError::Syntax);
    }
    let id = parse_client_id(&args[2])?;
    let how = crate::blocking::parse_unblock_mode(args.get(3))?;
    let unblocked = shared
        .clients
        .get(id)
        .is_some_and(|client| client.unblock(how));
    Ok(Reply::Integer(unblocked.into()))
}

fn parse_client_type(word: &[u8]) -> Result<ClientType, CommandError> {
    ClientType::parse(word).ok_or_else(|| {
        CommandError::err(format!(
            "Unknown client type '{}'",
            String::from_utf8_lossy(word)
        ))
    })
}

fn parse_client_id(arg: &[u8]) -> Result<u64, CommandError> {
    let id = parse_i64_arg(arg).map_err(|_| CommandError::err("Invalid client ID"))?;
    u64::try_from(id).map_err(|_| CommandError::err("Invalid client ID"))
}

/// Filters of CLIENT KILL's new form.
#[derive(Debug, Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    user: Option<String>,
    max_age_secs: Option<u64>,
    skip_me: bool,
    kind: Option<ClientType>,
}

impl KillFilter {
    fn matches(&self, client: &ClientInfo, me: u64) -> bool {
        (!self.skip_me || client.id != me)
            && self.id.is_none_or(|id| client.id == id)
            && self
                .addr
                .as_ref()
                .is_none_or(|a| client.peer.to_string() == *a)
            && self
                .laddr
                .as_ref()
                .is_none_or(|a| client.local.to_string() == *a)
            && self.user.as_ref().is_none_or(|u| *u == client.user())
            && self.max_age_secs.is_none_or(|age| client.age_secs() >= age)
            && self.kind.is_none_or(|kind| client.client_type() == kind)
    }
}

fn client_kill(
    shared: &Shared,
    client: &ClientState,
    args: &[Bytes],
) -> Result<Reply, CommandError> {
    if args.len() == 3 {
        // Old form: CLIENT KILL ip:port.
        let addr = String::from_utf8_lossy(&args[2]).into_owned();
        let target = shared
            .clients
            .all()
            .into_iter()
            .find(|c| c.peer.to_string() == addr);
        return match target {
            Some(target) => {
                kill(&target, client);
                Ok(Reply::Ok)
            }
            None => Err(CommandError::err("No such client")),
        };
    }
    let filter = parse_kill_filter(&args[2..])?;
    if let Some(user) = &filter.user {
        if shared.acl.get(user.as_bytes()).is_none() {
            return Err(CommandError::err(format!("No such user '{user}'")));
        }
    }
    let mut killed = 0;
    for target in shared.clients.all() {
        if filter.matches(&target, client.info.id) {
            kill(&target, client);
            killed += 1;
        }
    }
    Ok(Reply::Integer(killed))
}

/// Kills `target`; a client killing itself still gets its reply first, as in Redis.
fn kill(target: &ClientInfo, client: &ClientState) {
    if target.id == client.info.id {
        target.close_after_reply();
    } else {
        target.kill();
    }
}

fn parse_kill_filter(options: &[Bytes]) -> Result<KillFilter, CommandError> {
    if options.len() % 2 != 0 {
        return Err(CommandError::Syntax);
    }
    let mut filter = KillFilter {
        skip_me: true,
        ..KillFilter::default()
    };
    for pair in options.chunks_exact(2) {
        let (option, value) = (&pair[0], &pair[1]);
        let text = String::from_utf8_lossy(value).into_owned();
        if is_keyword(option, "id") {
            filter.id = Some(parse_client_id(value)?);
        } else if is_keyword(option, "addr") {
            filter.addr = Some(text);
        } else if is_keyword(option, "laddr") {
            filter.laddr = Some(text);
        } else if is_keyword(option, "user") {
            filter.user = Some(text);
        } else if is_keyword(option, "maxage") {
            filter.max_age_secs =
                Some(u64::try_from(parse_i64_arg(value)?).map_err(|_| CommandError::NotInteger)?);
        } else if is_keyword(option, "type") {
            filter.kind = Some(parse_client_type(value)?);
        } else if is_keyword(option, "skipme") {
            filter.skip_me = match text.to_ascii_lowercase().as_str() {
                "yes" => true,
                "no" => false,
                _ => return Err(CommandError::Syntax),
            };
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(filter)
}

fn config_set(
    shared: &Shared,
    client: &ClientState,
    args: &[Bytes],
) -> Result<Reply, CommandError> {
    check_maxclients_fits(&args[2..])?;
    let (changed, tls) =
        shared
            .config
            .set_prepared(&args[2..], &client.info.peer, crate::tls::reload_for)?;
    if let Some(context) = tls {
        shared.tls.replace(context);
    }
    let settings = shared.config.snapshot();
    for name in changed {
        match name {
            "loglevel" => crate::logging::set_level(settings.loglevel),
            "proto-max-bulk-len" => shared
                .engine
                .set_proto_max_bulk_len(settings.proto_max_bulk_len),
            "hz" => shared.engine.set_hz(settings.hz),
            "client-output-buffer-limit" => shared.pubsub.set_output_limit(settings.pubsub_output),
            "requirepass" => shared.acl.set_requirepass(settings.requirepass.as_deref()),
            "acl-pubsub-default" => shared
                .acl
                .set_pubsub_default(settings.acl_pubsub_default_all),
            "maxmemory"
            | "maxmemory-policy"
            | "maxmemory-samples"
            | "maxmemory-eviction-tenacity"
            | "lfu-log-factor"
            | "lfu-decay-time" => shared.engine.set_memory_limits(settings.memory),
            name if name.starts_with("cluster-") => {
                if let Some(view) = &shared.cluster {
                    view.apply_settings(&settings.cluster);
                }
            }
            "appendonly" | "appendfsync" | "aof-use-rdb-preamble" => {
                shared.aof.apply_setting(name, &settings, &shared.engine)
            }
            "notify-keyspace-events" => shared
                .engine
                .set_keyspace_events(settings.notify_keyspace_events),
            "hash-max-listpack-entries"
            | "hash-max-listpack-value"
            | "set-max-intset-entries"
            | "set-max-listpack-entries"
            | "set-max-listpack-value"
            | "zset-max-listpack-entries"
            | "zset-max-listpack-value"
            | "list-max-listpack-size" => shared.engine.set_encodings(settings.encodings),
            "repl-backlog-size" => shared.replication.resize_backlog(&settings.repl),
            "replica-read-only"
            | "replica-serve-stale-data"
            | "min-replicas-to-write"
            | "min-replicas-max-lag" => shared.replication.update_refusals(&settings.repl),
            "replica-ignore-maxmemory" if shared.replication.is_replica() => shared
                .engine
                .set_evictions_paused(settings.replica_ignore_maxmemory),
            // The others are read where they are used (timeout, maxclients, query buffer ...).
            _ => {}
        }
    }
    Ok(Reply::Ok)
}

/// Refuses a `maxclients` among CONFIG SET's pairs that the open-files limit cannot hold,
/// as Redis does, before anything is set.
fn check_maxclients_fits(pairs: &[Bytes]) -> Result<(), CommandError> {
    for pair in pairs.chunks_exact(2) {
        if !is_keyword(&pair[0], "maxclients") {
            continue;
        }
        // A value that is not a number is left to CONFIG SET's own error.
        if let Ok(wanted) = u64::try_from(parse_i64_arg(&pair[1]).unwrap_or(0)) {
            crate::fd_limit::reserve_for(wanted).map_err(|fitting| {
                CommandError::err(format!(
                    "CONFIG SET failed (possibly related to argument 'maxclients') - The operating system is not able to handle the specified number of clients, try with {fitting}"
                ))
            })?;
        }
    }
    Ok(())
}

fn auth(shared: &Shared, client: &mut ClientState, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (user, password) = match args.len() {
        2 => (&b"default"[..], &args[1]),
        3 => (&args[1][..], &args[2]),
        _ => return Err(CommandError::Syntax),
    };
    if args.len() == 2 && shared.acl.default_user().rules().nopass {
        return Err(CommandError::err(
            "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    crate::acl::command::authenticate(shared, client, "auth", user, password)?;
    Ok(Reply::Ok)
}

fn hello(shared: &Shared, client: &mut ClientState, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut protocol = client.protocol;
    let mut rest = args[1..].iter();
    if let Some(version) = rest.next() {
        protocol = match parse_i64_arg(version) {
            Ok(2) => Protocol::Resp2,
            Ok(3) => Protocol::Resp3,
            Ok(_) => {
                return Err(CommandError::Other(
                    "NOPROTO unsupported protocol version".into(),
                ))
            }
            Err(_) => {
                return Err(CommandError::err(
                    "Protocol version is not an integer or out of range",
                ))
            }
        };
    }
    let mut new_name = None;
    while let Some(option) = rest.next() {
        if is_keyword(option, "auth") {
            let (Some(user), Some(password)) = (rest.next(), rest.next()) else {
                return Err(CommandError::err(format!(
                    "Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(option)
                )));
            };
            crate::acl::command::authenticate(shared, client, "hello", user, password)?;
        } else if is_keyword(option, "setname") {
            new_name = Some(rest.next().ok_or(CommandError::Syntax)?.clone());
        } else {
            return Err(CommandError::err(format!(
                "Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(option)
            )));
        }
    }
    if !client.authenticated {
        return Err(CommandError::Other(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into(),
        ));
    }
    if let Some(name) = new_name {
        set_client_name(client, &name)?;
    }
    client.protocol = protocol;
    let version = if protocol == Protocol::Resp3 { 3 } else { 2 };
    client.info.resp.store(version as u8, Ordering::Relaxed);
    Ok(Reply::Map(vec![
        (Reply::text("server"), Reply::text("redis")),
        (Reply::text("version"), Reply::text(crate::REDIS_VERSION)),
        (Reply::text("proto"), Reply::Integer(version)),
        (Reply::text("id"), Reply::Integer(client.info.id as i64)),
        (Reply::text("mode"), Reply::text("standalone")),
        (Reply::text("role"), Reply::text("master")),
        (Reply::text("modules"), Reply::Array(Vec::new())),
    ]))
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: saves first when asked to (SAVE) or when
/// save points are configured (unless NOSAVE); a failed save keeps the server running unless
/// FORCE is given.
fn shutdown(shared: &Shared, args: &[Bytes]) -> Outcome {
    let (mut save, mut nosave, mut force) = (false, false, false);
    for option in &args[1..] {
        if is_keyword(option, "nosave") {
            nosave = true;
        } else if is_keyword(option, "save") {
            save = true;
        } else if is_keyword(option, "force") {
            force = true;
        } else if is_keyword(option, "now") {
            continue;
        } else if is_keyword(option, "abort") {
            return Outcome::Reply(Reply::Error("ERR No shutdown in progress.".into()));
        } else {
            return Outcome::Reply(CommandError::Syntax.into());
        }
    }
    if save && nosave {
        return Outcome::Reply(CommandError::Syntax.into());
    }
    tracing::warn!("User requested shutdown...");
    let wants_save = save || (!nosave && !shared.config.read().save_points.is_empty());
    if wants_save {
        tracing::info!("Saving the final RDB snapshot before exiting.");
        if crate::persist::save_now(shared).is_err() && !force {
            return Outcome::Reply(Reply::Error(
                "ERR Errors trying to SHUTDOWN. Check logs.".into(),
            ));
        }
    }
    shared
        .final_save_handled
        .store(true, std::sync::atomic::Ordering::Release);
    Outcome::Shutdown
}

/// CONFIG REWRITE: the file the server started with gets the current settings, the current
/// primary (REPLICAOF may have changed it) and the users (unless an ACL file holds them).
fn config_rewrite(shared: &Shared) -> Result<Reply, CommandError> {
    let Some(path) = &shared.config_file else {
        return Err(CommandError::err(
            "The server is running without a config file",
        ));
    };
    let runtime = crate::config::RuntimeState {
        replicaof: shared.replication.primary_address(),
        users: shared
            .config
            .read()
            .aclfile
            .is_empty()
            .then(|| shared.acl.describe_all()),
    };
    match shared.config.rewrite(path, &runtime) {
        Ok(()) => {
            tracing::info!("CONFIG REWRITE executed with success.");
            Ok(Reply::Ok)
        }
        Err(error) => {
            tracing::warn!("CONFIG REWRITE failed: {error}");
            Err(CommandError::err(format!("Rewriting config file: {error}")))
        }
    }
}

fn debug(shared: &Shared, client: &mut ClientState, args: &[Bytes]) -> Outcome {
    let sub = &args[1];
    let digest = is_keyword(sub, "digest") && args.len() == 2;
    let digest_value = is_keyword(sub, "digest-value");
    if (digest || digest_value) && client.in_exec {
        // A transaction holds every other command off; the digest's snapshot waits for that.
        return Outcome::Reply(Reply::Error(
            "ERR DEBUG DIGEST is not allowed inside MULTI".into(),
        ));
    }
    if digest {
        let digest = crate::digest::dataset_digest(&shared.engine);
        return Outcome::Reply(Reply::Simple(digest.hex()));
    }
    if digest_value {
        return Outcome::Reply(crate::digest::value_digests(
            &shared.engine,
            &mut client.session,
            &args[2..],
        ));
    }
    if is_keyword(sub, "sleep") && args.len() == 3 {
        let seconds = match slotkv_engine::value::parse_f64(&args[2]) {
            Some(s) if (0.0..=DEBUG_SLEEP_SECS_MAX).contains(&s) => s,
            _ => return Outcome::Reply(CommandError::NotFloat.into()),
        };
        return Outcome::Sleep(Duration::from_secs_f64(seconds));
    }
    if is_keyword(sub, "help") {
        return Outcome::Reply(help(&[
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "SLEEP <seconds>",
            "    Wait <seconds> before replying (only this connection waits). Decimals allowed.",
            "HELP",
            "    Print this help.",
        ]));
    }
    Outcome::Reply(
        CommandError::UnknownSubcommand {
            command: "debug".into(),
            subcommand: String::from_utf8_lossy(sub).into_owned(),
        }
        .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_filters_parse() {
        let args: Vec<Bytes> = ["ID", "7", "SKIPME", "no"]
            .iter()
            .map(|s| Bytes::from(*s))
            .collect();
        let filter = parse_kill_filter(&args).unwrap_or_default();
        assert_eq!(filter.id, Some(7));
        assert!(!filter.skip_me);
        let odd: Vec<Bytes> = vec![Bytes::from("ID")];
        assert!(parse_kill_filter(&odd).is_err());
    }
}
