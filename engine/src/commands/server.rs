//! Server commands the engine answers itself because they touch only the keyspace and the
//! clock: PING, ECHO, SELECT, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME and CLUSTER KEYSLOT.
//! Those that need the connection or the process (CLIENT, HELLO, INFO, CONFIG, ...) are listed
//! in [`super::connection`].
//!
//! FLUSHDB, FLUSHALL and SWAPDB change whole databases: they lock every slot of the databases
//! involved (in ascending order, like every multi-slot lock) and propagate while holding them,
//! so no other write can land between their effect and their record in the stream.

use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::OnceLock;

use bytes::Bytes;

use crate::command::{is_keyword, Args, CommandSpec, Flags, Group, Handler};
use crate::error::CommandError;
use crate::exec::Ctx;
use crate::keyspace::{Keyspace, SlotTable, WholeKeyspace};
use crate::reply::Reply;
use crate::slot::key_slot;

/// CLUSTER's subcommands. KEYSLOT needs nothing but the key; the others are answered by the
/// server's cluster module (they need cluster mode and, but for the slot key counts, its
/// state machine).
static CLUSTER_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("cluster|keyslot", 3, Handler::Engine(cluster_keyslot))
        .flags(Flags::STALE)
        .doc(Group::Cluster, "3.0.0", "Returns the hash slot for a key."),
    CommandSpec::new("cluster|countkeysinslot", 3, Handler::Server)
        .flags(Flags::STALE)
        .doc(
            Group::Cluster,
            "3.0.0",
            "Returns the number of keys in a hash slot.",
        ),
    CommandSpec::new("cluster|getkeysinslot", 4, Handler::Server)
        .flags(Flags::STALE)
        .doc(
            Group::Cluster,
            "3.0.0",
            "Returns the key names in a hash slot.",
        ),
    CommandSpec::new("cluster|info", 2, Handler::Server)
        .flags(Flags::STALE)
        .doc(
            Group::Cluster,
            "3.0.0",
            "Returns information about the state of a node.",
        ),
    CommandSpec::new("cluster|nodes", 2, Handler::Server)
        .flags(Flags::STALE)
        .doc(
            Group::Cluster,
            "3.0.0",
            "Returns the cluster configuration for a node.",
        ),
    CommandSpec::new("cluster|myid", 2, Handler::Server)
        .flags(Flags::STALE)
        .doc(Group::Cluster, "3.0.0", "Returns the ID of a node."),
    CommandSpec::new("cluster|myshardid", 2, Handler::Server)
        .flags(Flags::STALE)
        .doc(Group::Cluster, "7.2.0", "Returns the shard ID of a node."),
    CommandSpec::new("cluster|slots", 2, Handler::Server)
        .flags(Flags::STALE)
        .doc(
            Group::Cluster,
            "3.0.0",
            "Returns the mapping of cluster slots to nodes.",
        ),
    CommandSpec::new("cluster|shards", 2, Handler::Server)
        .flags(Flags::STALE)
        .doc(
            Group::Cluster,
            "7.0.0",
            "Returns the mapping of cluster slots to shards.",
        ),
    CommandSpec::new("cluster|links", 2, Handler::Server)
        .flags(Flags::STALE)
        .doc(
            Group::Cluster,
            "7.0.0",
            "Returns a list of all TCP links to and from peer nodes.",
        ),
    CommandSpec::new("cluster|addslots", -3, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE))
        .doc(Group::Cluster, "3.0.0", "Assigns new hash slots to a node."),
    CommandSpec::new("cluster|addslotsrange", -4, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE))
        .doc(
            Group::Cluster,
            "7.0.0",
            "Assigns new hash slot ranges to a node.",
        ),
    CommandSpec::new("cluster|delslots", -3, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE))
        .doc(
            Group::Cluster,
            "3.0.0",
            "Sets hash slots as unbound for a node.",
        ),
    CommandSpec::new("cluster|delslotsrange", -4, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE))
        .doc(
            Group::Cluster,
            "7.0.0",
            "Sets hash slot ranges as unbound for a node.",
        ),
    CommandSpec::new("cluster|flushslots", 2, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE))
        .doc(
            Group::Cluster,
            "3.0.0",
            "Deletes all slots information from a node.",
        ),
    CommandSpec::new("cluster|meet", -4, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE))
        .doc(
            Group::Cluster,
            "3.0.0",
            "Forces a node to handshake with another node.",
        ),
    CommandSpec::new("cluster|forget", 3, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE))
        .doc(
            Group::Cluster,
            "3.0.0",
            "Removes a node from the nodes table.",
        ),
    CommandSpec::new("cluster|replicate", 3, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE))
        .doc(
            Group::Cluster,
            "3.0.0",
            "Configure a node as replica of a master node.",
        ),
    CommandSpec::new("cluster|replicas", 3, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE))
        .doc(
            Group::Cluster,
            "3.0.0",
            "Lists the replica nodes of a master node.",
        ),
    CommandSpec::new("cluster|slaves", 3, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE))
        .doc(
            Group::Cluster,
            "3.0.0",
            "Lists the replica nodes of a master node.",
        ),
    CommandSpec::new("cluster|reset", -2, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE).and(Flags::NOSCRIPT))
        .doc(Group::Cluster, "3.0.0", "Resets a node."),
    CommandSpec::new("cluster|saveconfig", 2, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE))
        .doc(
            Group::Cluster,
            "3.0.0",
            "Forces a node to save the cluster configuration to disk.",
        ),
    CommandSpec::new("cluster|set-config-epoch", 3, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE))
        .doc(
            Group::Cluster,
            "3.0.0",
            "Sets the configuration epoch for a new node.",
        ),
    CommandSpec::new("cluster|bumpepoch", 2, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE))
        .doc(
            Group::Cluster,
            "3.0.0",
            "Advances the cluster config epoch.",
        ),
    CommandSpec::new("cluster|setslot", -4, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE))
        .doc(Group::Cluster, "3.0.0", "Binds a hash slot to a node."),
    CommandSpec::new("cluster|count-failure-reports", 3, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE))
        .doc(
            Group::Cluster,
            "3.0.0",
            "Returns the number of active failure reports active for a node.",
        ),
    CommandSpec::new("cluster|failover", -2, Handler::Server)
        .flags(Flags::ADMIN.and(Flags::STALE))
        .doc(
            Group::Cluster,
            "3.0.0",
            "Forces a replica to perform a manual failover of its master.",
        ),
];

pub(crate) static COMMANDS: &[CommandSpec] = &[
    // Not `stale`: a replica cut from its primary under `replica-serve-stale-data no` answers
    // MASTERDOWN, as Redis's does (sentinels count that as alive).
    CommandSpec::new("ping", -1, Handler::Engine(ping))
        .flags(Flags::FAST)
        .doc(
            Group::Connection,
            "1.0.0",
            "Returns the server's liveliness response.",
        ),
    CommandSpec::new("echo", 2, Handler::Engine(echo))
        .flags(Flags::FAST.and(Flags::LOADING).and(Flags::STALE))
        .doc(Group::Connection, "1.0.0", "Returns the given string."),
    CommandSpec::new("select", 2, Handler::Engine(select))
        .flags(Flags::LOADING.and(Flags::STALE).and(Flags::FAST))
        .doc(Group::Connection, "1.0.0", "Changes the selected database."),
    CommandSpec::new("dbsize", 1, Handler::Engine(dbsize))
        .flags(Flags::READONLY.and(Flags::FAST))
        .doc(
            Group::Server,
            "1.0.0",
            "Returns the number of keys in the database.",
        ),
    CommandSpec::new("flushdb", -1, Handler::Engine(flushdb))
        .flags(Flags::WRITE)
        .doc(
            Group::Server,
            "1.0.0",
            "Removes all keys from the current database.",
        ),
    CommandSpec::new("flushall", -1, Handler::Engine(flushall))
        .flags(Flags::WRITE)
        .doc(
            Group::Server,
            "1.0.0",
            "Removes all keys from all databases.",
        ),
    CommandSpec::new("swapdb", 3, Handler::Engine(swapdb))
        .flags(Flags::WRITE.and(Flags::FAST))
        .doc(Group::Server, "4.0.0", "Swaps two Redis databases."),
    CommandSpec::new("time", 1, Handler::Engine(time))
        .flags(Flags::LOADING.and(Flags::STALE).and(Flags::FAST))
        .doc(Group::Server, "2.6.0", "Returns the server time."),
    CommandSpec::new("cluster", -2, Handler::Container)
        .doc(
            Group::Cluster,
            "3.0.0",
            "A container for Redis Cluster commands.",
        )
        .subcommands(CLUSTER_SUBCOMMANDS),
];

fn ping(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    match args.len() {
        1 => Ok(Reply::Simple("PONG".into())),
        2 => Ok(Reply::Bulk(args[1].clone())),
        _ => Err(CommandError::WrongArity("ping".into())),
    }
}

fn echo(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(Reply::Bulk(args[1].clone()))
}

/// A database index given as an argument, checked against the configured number of databases.
pub(crate) fn database_index(ctx: &Ctx<'_>, index: i64) -> Result<usize, CommandError> {
    usize::try_from(index)
        .ok()
        .filter(|&db| db < ctx.engine.dbs.len())
        .ok_or(CommandError::DbIndexOutOfRange)
}

fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let index = parser
        .next_i64()
        .map_err(|_| CommandError::InvalidDbIndex)?;
    ctx.session.db = database_index(ctx, index)?;
    Ok(Reply::Ok)
}

/// Number of keys in the selected database, expired ones not yet reclaimed included, as Redis
/// counts them.
pub(crate) fn db_size(ctx: &Ctx<'_>) -> u64 {
    ctx.engine.dbs[ctx.db()].key_count()
}

fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(Reply::Integer(
        i64::try_from(db_size(ctx)).unwrap_or(i64::MAX),
    ))
}

// ---- FLUSHDB, FLUSHALL ----

/// Which databases a flush empties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlushScope {
    /// The selected database (FLUSHDB).
    Selected,
    /// Every database (FLUSHALL).
    All,
}

/// When the keys a flush removes are freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FreeMode {
    /// Before the command replies (SYNC, the default).
    Sync,
    /// On a background thread, after the command replied (ASYNC).
    Async,
}

/// The tables a flush took out of its databases.
type TakenTables = Vec<SlotTable>;

/// Empties the databases of `scope` and propagates the flush (`FLUSHDB` or `FLUSHALL`, with
/// `ASYNC` when freeing in the background) before any other write can reach them.
///
/// A database never used holds no keys and is not locked, since locking allocates its tables.
/// The one write this can miss is the very first write to such a database racing with
/// FLUSHALL: it may survive the flush here while a replica applies it before the flush.
pub(crate) fn flush(ctx: &Ctx<'_>, scope: FlushScope, mode: FreeMode) {
    let dbs: &[Keyspace] = match scope {
        FlushScope::Selected => std::slice::from_ref(&ctx.engine.dbs[ctx.db()]),
        FlushScope::All => &ctx.engine.dbs,
    };
    let mut locked: Vec<WholeKeyspace<'_>> = dbs
        .iter()
        .filter(|keyspace| keyspace.is_allocated())
        .map(Keyspace::lock_all)
        .collect();
    let taken: TakenTables = locked
        .iter_mut()
        .flat_map(WholeKeyspace::take_all)
        .collect();
    ctx.engine.note_write(ctx.db(), || {
        let name: &'static [u8] = match scope {
            FlushScope::Selected => b"FLUSHDB",
            FlushScope::All => b"FLUSHALL",
        };
        let mut record = vec![Bytes::from_static(name)];
        if mode == FreeMode::Async {
            record.push(Bytes::from_static(b"ASYNC"));
        }
        record
    });
    drop(locked);
    free_tables(taken, mode);
}

/// Frees the tables a flush took, outside the slot locks.
fn free_tables(tables: TakenTables, mode: FreeMode) {
    if mode == FreeMode::Async && !tables.is_empty() {
        // Dropping millions of keys takes a while; ASYNC replies first and one background
        // thread frees. When that thread is missing or its queue is full, the tables are
        // dropped right here: slower, same result.
        if let Some(queue) = lazyfree_queue() {
            let _ = queue.try_send(tables);
        }
    }
}

/// Flushes waiting to be freed at most; past this, ASYNC frees synchronously.
const LAZYFREE_QUEUE_MAX: usize = 16;

/// The queue of the one thread that frees flushed tables, started on first use.
fn lazyfree_queue() -> Option<&'static SyncSender<TakenTables>> {
    static QUEUE: OnceLock<Option<SyncSender<TakenTables>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (sender, receiver) = sync_channel::<TakenTables>(LAZYFREE_QUEUE_MAX);
            let spawned = std::thread::Builder::new()
                .name("slotkv-lazyfree".into())
                .spawn(move || receiver.into_iter().for_each(drop));
            spawned.ok().map(|_| sender)
        })
        .as_ref()
}

/// FLUSHDB's and FLUSHALL's optional ASYNC | SYNC.
fn parse_free_mode(args: &[Bytes]) -> Result<FreeMode, CommandError> {
    match args.get(1..).unwrap_or_default() {
        [] => Ok(FreeMode::Sync),
        [mode] if is_keyword(mode, "sync") => Ok(FreeMode::Sync),
        [mode] if is_keyword(mode, "async") => Ok(FreeMode::Async),
        _ => Err(CommandError::Syntax),
    }
}

fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    flush(ctx, FlushScope::Selected, parse_free_mode(args)?);
    Ok(Reply::Ok)
}

fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    flush(ctx, FlushScope::All, parse_free_mode(args)?);
    Ok(Reply::Ok)
}

// ---- SWAPDB ----

/// A SWAPDB index: an integer that fits Redis's `int`, or the error `invalid`.
fn parse_swap_index(arg: &[u8], invalid: &str) -> Result<i64, CommandError> {
    crate::value::parse_i64(arg)
        .filter(|&n| i32::try_from(n).is_ok())
        .ok_or_else(|| CommandError::err(invalid))
}

/// Exchanges the contents of databases `a` and `b` (both valid) and propagates SWAPDB while
/// both are locked; swapping a database with itself changes nothing and propagates nothing.
pub(crate) fn swap_databases(ctx: &Ctx<'_>, a: usize, b: usize) {
    if a == b {
        return;
    }
    let dbs = &ctx.engine.dbs;
    let mut lower = dbs[a.min(b)].lock_all();
    let mut upper = dbs[a.max(b)].lock_all();
    lower.swap(&mut upper);
    ctx.engine.note_write(ctx.db(), || {
        vec![
            Bytes::from_static(b"SWAPDB"),
            Bytes::from(a.to_string()),
            Bytes::from(b.to_string()),
        ]
    });
}

fn swapdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    // Both indexes are parsed before either is range-checked, as in Redis.
    let first = parse_swap_index(&args[1], "invalid first DB index")?;
    let second = parse_swap_index(&args[2], "invalid second DB index")?;
    let (a, b) = (database_index(ctx, first)?, database_index(ctx, second)?);
    swap_databases(ctx, a, b);
    Ok(Reply::Ok)
}

// ---- TIME, CLUSTER KEYSLOT ----

fn time(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply, CommandError> {
    let now_us = ctx.engine.clock.now_us();
    Ok(Reply::Array(vec![
        Reply::text((now_us / 1_000_000).to_string()),
        Reply::text((now_us % 1_000_000).to_string()),
    ]))
}

fn cluster_keyslot(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(Reply::Integer(i64::from(key_slot(&args[2]))))
}

#[cfg(test)]
mod tests {
    use crate::commands::keys::tests::{
        bulk, engine, err, int, recorded_engine, run, run_in, simple, START_MS,
    };
    use crate::{Reply, Session};

    fn selected(engine: &crate::Engine, db: &str) -> Session {
        let mut session = Session::new();
        assert_eq!(run_in(engine, &mut session, &["SELECT", db]), Reply::Ok);
        session
    }

    #[test]
    fn ping_echo_and_select() {
        let (engine, _) = engine();
        assert_eq!(run(&engine, &["PING"]), simple("PONG"));
        assert_eq!(run(&engine, &["PING", "hi"]), bulk("hi"));
        assert_eq!(run(&engine, &["ECHO", "hello"]), bulk("hello"));
        assert_eq!(
            run(&engine, &["ECHO"]),
            err("ERR wrong number of arguments for 'echo' command")
        );
        assert_eq!(
            run(&engine, &["SELECT", "16"]),
            err("ERR DB index is out of range")
        );
        assert_eq!(
            run(&engine, &["SELECT", "-1"]),
            err("ERR DB index is out of range")
        );
        assert_eq!(run(&engine, &["SELECT", "x"]), err("ERR invalid DB index"));
    }

    #[test]
    fn dbsize_counts_the_selected_database() {
        let (engine, clock) = engine();
        let mut db2 = selected(&engine, "2");
        assert_eq!(run(&engine, &["SET", "a", "1"]), Reply::Ok);
        assert_eq!(run(&engine, &["SET", "b", "1"]), Reply::Ok);
        assert_eq!(run_in(&engine, &mut db2, &["SET", "c", "1"]), Reply::Ok);
        assert_eq!(run(&engine, &["DBSIZE"]), int(2));
        assert_eq!(run_in(&engine, &mut db2, &["DBSIZE"]), int(1));
        assert_eq!(run(&engine, &["PEXPIRE", "a", "1"]), int(1));
        clock.advance(1);
        assert_eq!(run(&engine, &["DBSIZE"]), int(2), "not reclaimed yet");
        assert_eq!(run(&engine, &["EXISTS", "a"]), int(0));
        assert_eq!(run(&engine, &["DBSIZE"]), int(1));
    }

    #[test]
    fn flushdb_empties_only_the_selected_database() {
        let (engine, _, sink) = recorded_engine();
        let mut db1 = selected(&engine, "1");
        assert_eq!(run(&engine, &["SET", "a", "1"]), Reply::Ok);
        assert_eq!(run_in(&engine, &mut db1, &["SET", "b", "1"]), Reply::Ok);
        assert_eq!(run_in(&engine, &mut db1, &["FLUSHDB"]), Reply::Ok);
        assert_eq!(run_in(&engine, &mut db1, &["DBSIZE"]), int(0));
        assert_eq!(run(&engine, &["DBSIZE"]), int(1));
        assert_eq!(run(&engine, &["FLUSHDB", "ASYNC"]), Reply::Ok);
        assert_eq!(run(&engine, &["DBSIZE"]), int(0));
        assert_eq!(run(&engine, &["FLUSHDB", "sync"]), Reply::Ok);
        assert_eq!(run(&engine, &["FLUSHDB", "NOW"]), err("ERR syntax error"));
        assert_eq!(
            run(&engine, &["FLUSHDB", "ASYNC", "SYNC"]),
            err("ERR syntax error")
        );
        assert_eq!(
            sink.commands(),
            [
                "SELECT 0",
                "SET a 1",
                "SELECT 1",
                "SET b 1",
                "FLUSHDB",
                "SELECT 0",
                "FLUSHDB ASYNC",
                "FLUSHDB"
            ]
        );
    }

    #[test]
    fn flushall_empties_every_database() {
        let (engine, _, sink) = recorded_engine();
        let mut db7 = selected(&engine, "7");
        assert_eq!(run(&engine, &["SET", "a", "1"]), Reply::Ok);
        assert_eq!(run(&engine, &["PEXPIRE", "a", "100"]), int(1));
        assert_eq!(run_in(&engine, &mut db7, &["SET", "b", "1"]), Reply::Ok);
        assert_eq!(run_in(&engine, &mut db7, &["FLUSHALL", "ASYNC"]), Reply::Ok);
        assert_eq!((engine.key_count(0), engine.key_count(7)), (0, 0));
        assert_eq!(engine.volatile_count(0), 0);
        assert_eq!(run(&engine, &["SET", "c", "1"]), Reply::Ok);
        assert_eq!(run(&engine, &["FLUSHALL"]), Reply::Ok);
        assert_eq!(run(&engine, &["GET", "c"]), Reply::Nil);
        assert_eq!(run(&engine, &["FLUSHALL", "x"]), err("ERR syntax error"));
        assert_eq!(
            sink.commands(),
            [
                "SELECT 0".to_owned(),
                "SET a 1".to_owned(),
                format!("PEXPIREAT a {}", START_MS + 100),
                "SELECT 7".to_owned(),
                "SET b 1".to_owned(),
                "FLUSHALL ASYNC".to_owned(),
                "SELECT 0".to_owned(),
                "SET c 1".to_owned(),
                "FLUSHALL".to_owned(),
            ]
        );
    }

    #[test]
    fn swapdb_exchanges_contents_and_propagates_itself() {
        let (engine, _, sink) = recorded_engine();
        let mut db3 = selected(&engine, "3");
        assert_eq!(run(&engine, &["SET", "a", "zero"]), Reply::Ok);
        assert_eq!(run(&engine, &["PEXPIRE", "a", "1000"]), int(1));
        assert_eq!(run_in(&engine, &mut db3, &["SET", "a", "three"]), Reply::Ok);
        assert_eq!(run(&engine, &["SWAPDB", "3", "0"]), Reply::Ok);
        assert_eq!(run(&engine, &["GET", "a"]), bulk("three"));
        assert_eq!(run(&engine, &["PTTL", "a"]), int(-1));
        assert_eq!(run_in(&engine, &mut db3, &["GET", "a"]), bulk("zero"));
        assert_eq!(run_in(&engine, &mut db3, &["PTTL", "a"]), int(1000));
        assert_eq!((engine.volatile_count(0), engine.volatile_count(3)), (0, 1));
        assert_eq!(run(&engine, &["SWAPDB", "5", "5"]), Reply::Ok);
        let commands = sink.commands();
        assert_eq!(commands.last().map(String::as_str), Some("SWAPDB 3 0"));
    }

    #[test]
    fn swapdb_errors() {
        let (engine, _) = engine();
        let out_of_range = err("ERR DB index is out of range");
        assert_eq!(run(&engine, &["SWAPDB", "0", "16"]), out_of_range);
        assert_eq!(run(&engine, &["SWAPDB", "-1", "0"]), out_of_range);
        assert_eq!(
            run(&engine, &["SWAPDB", "x", "0"]),
            err("ERR invalid first DB index")
        );
        assert_eq!(
            run(&engine, &["SWAPDB", "99", "y"]),
            err("ERR invalid second DB index")
        );
        assert_eq!(
            run(&engine, &["SWAPDB", "4294967296", "0"]),
            err("ERR invalid first DB index")
        );
        assert_eq!(
            run(&engine, &["SWAPDB", "0"]),
            err("ERR wrong number of arguments for 'swapdb' command")
        );
    }

    #[test]
    fn time_reads_the_clock() {
        let (engine, clock) = engine();
        clock.set(1_700_000_123_456);
        assert_eq!(
            run(&engine, &["TIME"]),
            Reply::Array(vec![bulk("1700000123"), bulk("456000")])
        );
    }

    #[test]
    fn cluster_keyslot_hashes_like_redis_cluster() {
        let (engine, _) = engine();
        assert_eq!(run(&engine, &["CLUSTER", "KEYSLOT", "a"]), int(15495));
        assert_eq!(run(&engine, &["CLUSTER", "KEYSLOT", "somekey"]), int(11058));
        assert_eq!(
            run(&engine, &["cluster", "keyslot", "foo{hash_tag}"]),
            int(2515)
        );
        assert_eq!(
            run(&engine, &["CLUSTER", "NOPE"]),
            err("ERR unknown subcommand 'NOPE'. Try CLUSTER HELP.")
        );
    }

    #[test]
    fn specs_match_command_info() {
        let table = crate::command::CommandTable::global();
        let flags = |name: &str| {
            let spec = table.lookup(name.as_bytes()).expect("registered");
            (spec.arity, spec.flags.names().collect::<Vec<_>>())
        };
        assert_eq!(flags("flushall"), (-1, vec!["write"]));
        assert_eq!(flags("swapdb"), (3, vec!["write", "fast"]));
        assert_eq!(flags("dbsize"), (1, vec!["readonly", "fast"]));
        assert_eq!(flags("time"), (1, vec!["loading", "stale", "fast"]));
        assert_eq!(flags("echo"), (2, vec!["loading", "stale", "fast"]));
    }
}
