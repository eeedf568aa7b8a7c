//! Replication end to end with real processes on ephemeral loopback ports: full sync and
//! streaming, partial resync after the link is cut (the connection, not the process), the
//! READONLY refusal, WAIT, promotion with REPLICAOF NO ONE and a sibling continuing
//! partially, a chained replica, CLIENT KILL TYPE master/replica, repl-timeout, PUBLISH to
//! subscribers on replicas, FAILOVER, and both directions with Debian's redis-server 7.0 (skipped
//! with a note when /usr/bin/redis-server is missing).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::Rng;

use common::{RawClient, RedisServer, TestServer};
use redis::{Connection, Value};

const DATABASES: i64 = 4;

fn replica_of(primary_port: u16, extra: &[&str]) -> TestServer {
    let port = primary_port.to_string();
    let mut args = vec!["--replicaof", "127.0.0.1", port.as_str()];
    args.extend_from_slice(extra);
    TestServer::start(&args)
}

/// A field of INFO's default sections (replication, stats, ...).
fn info_field(conn: &mut Connection, name: &str) -> Option<String> {
    let info: String = redis::cmd("INFO").query(conn).ok()?;
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:")).map(str::to_owned))
}

/// A replica played by the test on a raw connection: it announces `port`, asks for a full
/// sync and reads the RDB; from then on it acknowledges only what the test sends.
fn hand_driven_replica(primary: &TestServer, port: u16) -> RawClient {
    let mut replica = primary.raw();
    replica.send(format!("REPLCONF listening-port {port}\r\n").as_bytes());
    assert_eq!(replica.reply(), "+OK\r\n");
    replica.send(b"PSYNC ? -1\r\n");
    assert!(replica.line().starts_with("+FULLRESYNC "));
    let header = replica.line();
    replica.exact(header.trim_end().trim_start_matches('$').parse().unwrap());
    replica
}

/// Waits up to 20 s for `done`.
fn wait_until(what: &str, done: impl FnMut() -> bool) {
    common::wait_until(what, Duration::from_secs(20), done);
}

/// Waits until `replica` is linked and has applied everything `primary` streamed.
fn wait_caught_up(primary: &mut Connection, replica: &mut Connection) {
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        let target = info_field(primary, "master_repl_offset");
        let link = info_field(replica, "master_link_status");
        let offset = info_field(replica, "slave_repl_offset");
        if link.as_deref() == Some("up") && target.is_some() && offset == target {
            return;
        }
        seen = format!("primary offset {target:?}, replica link {link:?} at {offset:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for the replica to catch up: {seen}");
}

/// Every key of every database with its type, value and whether it has a deadline.
fn dataset(conn: &mut Connection) -> BTreeMap<(i64, String), String> {
    let mut all = BTreeMap::new();
    for db in 0..DATABASES {
        let _: () = redis::cmd("SELECT").arg(db).query(conn).unwrap();
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(conn).unwrap();
        for key in keys {
            let kind: String = redis::cmd("TYPE").arg(&key).query(conn).unwrap();
            let value = match kind.as_str() {
                "string" => format!("{:?}", redis::cmd("GET").arg(&key).query::<Value>(conn)),
                "list" => format!(
                    "{:?}",
                    redis::cmd("LRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .query::<Vec<String>>(conn)
                ),
                "set" => {
                    let mut members: Vec<String> =
                        redis::cmd("SMEMBERS").arg(&key).query(conn).unwrap();
                    members.sort();
                    format!("{members:?}")
                }
                "zset" => format!(
                    "{:?}",
                    redis::cmd("ZRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query::<Vec<String>>(conn)
                ),
                "hash" => format!(
                    "{:?}",
                    redis::cmd("HGETALL")
                        .arg(&key)
                        .query::<BTreeMap<String, String>>(conn)
                ),
                other => other.to_owned(),
            };
            let ttl: i64 = redis::cmd("PTTL").arg(&key).query(conn).unwrap();
            all.insert((db, key), format!("{kind} {value} ttl={}", ttl > 0));
        }
    }
    let _: () = redis::cmd("SELECT").arg(0).query(conn).unwrap();
    all
}

/// Writes of every type, in several databases, with deadlines and transactions.
fn write_mix(conn: &mut Connection, round: u32) {
    for i in 0..50 {
        let db = i64::from(i % 3);
        let _: () = redis::cmd("SELECT").arg(db).query(conn).unwrap();
        let k = format!("r{round}:{i}");
        let _: () = redis::cmd("SET")
            .arg(format!("{k}:s"))
            .arg(i)
            .query(conn)
            .unwrap();
        let _: () = redis::cmd("INCRBY")
            .arg(format!("{k}:s"))
            .arg(5)
            .query(conn)
            .unwrap();
        let _: () = redis::cmd("RPUSH")
            .arg(format!("{k}:l"))
            .arg(&["a", "b", "c"])
            .query(conn)
            .unwrap();
        let _: () = redis::cmd("LPOP")
            .arg(format!("{k}:l"))
            .query(conn)
            .unwrap();
        let _: () = redis::cmd("SADD")
            .arg(format!("{k}:set"))
            .arg(&["x", "y"])
            .query(conn)
            .unwrap();
        let _: () = redis::cmd("ZADD")
            .arg(format!("{k}:z"))
            .arg(1.5)
            .arg("m")
            .query(conn)
            .unwrap();
        let _: () = redis::cmd("HSET")
            .arg(format!("{k}:h"))
            .arg("f")
            .arg(i)
            .query(conn)
            .unwrap();
        let _: () = redis::cmd("EXPIRE")
            .arg(format!("{k}:h"))
            .arg(1000)
            .query(conn)
            .unwrap();
        let _: () = redis::cmd("INCRBYFLOAT")
            .arg(format!("{k}:f"))
            .arg("0.25")
            .query(conn)
            .unwrap();
    }
    let _: () = redis::cmd("SELECT").arg(0).query(conn).unwrap();
    let _: Value = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(format!("tx{round}"))
        .arg("1")
        .cmd("DEL")
        .arg(format!("r{round}:0:s"))
        .cmd("SPOP")
        .arg(format!("r{round}:3:set"))
        .query(conn)
        .unwrap();
}

fn set(conn: &mut Connection, key: &str, value: &str) {
    let _: () = redis::cmd("SET").arg(key).arg(value).query(conn).unwrap();
}

fn get(conn: &mut Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(conn).unwrap()
}

#[test]
fn full_sync_then_streaming_converge() {
    let primary = TestServer::start(&[]);
    let mut p = primary.client();
    write_mix(&mut p, 0);
    let replica = replica_of(primary.port, &[]);
    let mut r = replica.client();
    wait_caught_up(&mut p, &mut r);
    assert_eq!(dataset(&mut r), dataset(&mut p), "after the full sync");
    write_mix(&mut p, 1);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(dataset(&mut r), dataset(&mut p), "after streaming");
}

#[test]
fn seed_scenario_two_replicas_readonly_role_and_info() {
    let primary = TestServer::start(&[]);
    let replicas = [replica_of(primary.port, &[]), replica_of(primary.port, &[])];
    let mut p = primary.client();
    set(&mut p, "scott", "tiger");
    for replica in &replicas {
        let mut r = replica.client();
        wait_caught_up(&mut p, &mut r);
        assert_eq!(get(&mut r, "scott").as_deref(), Some("tiger"));
        let refused = redis::cmd("SET")
            .arg("a")
            .arg("b")
            .query::<()>(&mut r)
            .unwrap_err();
        assert_eq!(refused.code(), Some("READONLY"));
        assert_eq!(
            refused.detail(),
            Some("You can't write against a read only replica.")
        );
        let role: Value = redis::cmd("ROLE").query(&mut r).unwrap();
        let Value::Array(fields) = role else {
            panic!("ROLE: {role:?}")
        };
        assert_eq!(fields[0], Value::BulkString(b"slave".to_vec()));
        assert_eq!(fields[2], Value::Int(i64::from(primary.port)));
        assert_eq!(fields[3], Value::BulkString(b"connected".to_vec()));
        assert_eq!(info_field(&mut r, "role").as_deref(), Some("slave"));
        assert_eq!(info_field(&mut r, "slave_read_only").as_deref(), Some("1"));
        assert_eq!(
            info_field(&mut r, "master_replid"),
            info_field(&mut p, "master_replid")
        );
    }
    assert_eq!(info_field(&mut p, "connected_slaves").as_deref(), Some("2"));
    let slave0 = info_field(&mut p, "slave0").unwrap();
    assert!(slave0.starts_with("ip=127.0.0.1,port="), "{slave0}");
    assert!(slave0.contains(",state=online,offset="), "{slave0}");
    let role: Value = redis::cmd("ROLE").query(&mut p).unwrap();
    let Value::Array(fields) = role else {
        panic!("ROLE: {role:?}")
    };
    assert_eq!(fields[0], Value::BulkString(b"master".to_vec()));
    assert!(matches!(&fields[2], Value::Array(listed) if listed.len() == 2));
}

#[test]
fn wait_counts_acknowledging_replicas() {
    let primary = TestServer::start(&[]);
    let mut p = primary.client();
    let none: i64 = redis::cmd("WAIT").arg(1).arg(100).query(&mut p).unwrap();
    assert_eq!(none, 0);
    let replica = replica_of(primary.port, &[]);
    let mut r = replica.client();
    set(&mut p, "k", "v");
    wait_caught_up(&mut p, &mut r);
    set(&mut p, "k", "w");
    let one: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut p).unwrap();
    assert_eq!(one, 1);
    let started = Instant::now();
    let still_one: i64 = redis::cmd("WAIT").arg(2).arg(300).query(&mut p).unwrap();
    assert_eq!(still_one, 1);
    assert!(started.elapsed() >= Duration::from_millis(250));
    let refused = redis::cmd("WAIT")
        .arg(1)
        .arg(10)
        .query::<i64>(&mut r)
        .unwrap_err();
    assert!(refused
        .to_string()
        .contains("WAIT cannot be used with replica instances"));
}

#[test]
fn wait_waits_for_the_clients_own_last_write_only() {
    let primary = TestServer::start(&[]);
    let (mut writer, mut other) = (primary.client(), primary.client());
    let mut replica = hand_driven_replica(&primary, 4243);
    set(&mut writer, "mine", "1");
    let after_mine = info_field(&mut writer, "master_repl_offset").unwrap();
    set(&mut other, "theirs", "2");
    replica.send(
        format!(
            "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n${}\r\n{after_mine}\r\n",
            after_mine.len()
        )
        .as_bytes(),
    );
    let started = Instant::now();
    let mine: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(5000)
        .query(&mut writer)
        .unwrap();
    assert_eq!(mine, 1, "the acknowledged offset covers the writer's SET");
    assert!(started.elapsed() < Duration::from_secs(4));
    let theirs: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(200)
        .query(&mut other)
        .unwrap();
    assert_eq!(theirs, 0, "the later SET is not acknowledged");
}

#[test]
fn a_replica_cut_from_its_primary_serves_stale_data_only_if_told_to() {
    // The primary's port has no server: the link stays down.
    let gone = common::free_port().to_string();
    let strict = TestServer::start(&[
        "--replicaof",
        "127.0.0.1",
        &gone,
        "--replica-serve-stale-data",
        "no",
    ]);
    let mut s = strict.client();
    let masterdown = "Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    for command in [redis::cmd("GET").arg("k"), &mut redis::cmd("PING")] {
        let error = error_of(&mut s, command);
        assert!(error.contains(masterdown), "{error}");
    }
    assert_eq!(
        info_field(&mut s, "master_link_status").as_deref(),
        Some("down"),
        "INFO still answers"
    );
    let lenient = TestServer::start(&["--replicaof", "127.0.0.1", &gone]);
    let mut l = lenient.client();
    assert_eq!(get(&mut l, "k"), None, "the default serves what it has");
    let pong: String = redis::cmd("PING").query(&mut l).unwrap();
    assert_eq!(pong, "PONG");
}

/// Kills the connection of the replica(s) of `primary` (their PSYNC connection).
fn cut_replica_links(primary: &mut Connection) {
    for id in replica_link_ids(primary) {
        let _: Value = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query(primary)
            .unwrap();
    }
}

/// The client ids of the replicas' links on `primary`.
fn replica_link_ids(primary: &mut Connection) -> Vec<String> {
    let list: String = redis::cmd("CLIENT").arg("LIST").query(primary).unwrap();
    let ids: Vec<String> = list
        .lines()
        .filter(|line| line.contains("cmd=psync"))
        .filter_map(|line| {
            line.split(' ')
                .next()?
                .strip_prefix("id=")
                .map(str::to_owned)
        })
        .collect();
    assert!(!ids.is_empty(), "no replica connection in {list}");
    ids
}

/// A key written on the replica itself: a full sync would flush it, a partial one keeps it.
fn mark_replica(replica: &mut Connection) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("replica-read-only")
        .arg("no")
        .query(replica)
        .unwrap();
    set(replica, "local-marker", "1");
}

#[test]
fn a_cut_link_resumes_with_a_partial_resync() {
    let primary = TestServer::start(&[]);
    let mut p = primary.client();
    let replica = replica_of(primary.port, &[]);
    let mut r = replica.client();
    write_mix(&mut p, 0);
    wait_caught_up(&mut p, &mut r);
    mark_replica(&mut r);
    cut_replica_links(&mut p);
    write_mix(&mut p, 1);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(get(&mut r, "local-marker").as_deref(), Some("1"), "partial");
    let _: () = redis::cmd("DEL").arg("local-marker").query(&mut r).unwrap();
    assert_eq!(dataset(&mut r), dataset(&mut p));
    // INFO stats counts the first sync as full, the second as a partial one.
    let counts = ["sync_full", "sync_partial_ok"]
        .map(|name| info_field(&mut p, name).unwrap_or_else(|| panic!("INFO has no {name}")));
    assert_eq!(counts, ["1", "1"]);
}

/// The lines of CLIENT LIST TYPE `kind`.
fn client_list_of(conn: &mut Connection, kind: &str) -> Vec<String> {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg(kind)
        .query(conn)
        .unwrap();
    list.lines().map(str::to_owned).collect()
}

fn client_kill_type(conn: &mut Connection, kind: &str) -> i64 {
    redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg(kind)
        .query(conn)
        .unwrap()
}

#[test]
fn client_kill_type_master_on_the_replica_resumes_partially() {
    let primary = TestServer::start(&[]);
    let mut p = primary.client();
    let replica = replica_of(primary.port, &[]);
    let mut r = replica.client();
    write_mix(&mut p, 0);
    wait_caught_up(&mut p, &mut r);
    let links = client_list_of(&mut r, "master");
    assert_eq!(links.len(), 1, "{links:?}");
    assert!(links[0].contains(" flags=M "), "{}", links[0]);
    assert!(links[0].contains(&format!(" addr=127.0.0.1:{} ", primary.port)));
    assert!(client_list_of(&mut r, "normal")
        .iter()
        .all(|line| line.contains(" flags=N ")));
    mark_replica(&mut r);
    assert_eq!(client_kill_type(&mut r, "master"), 1);
    write_mix(&mut p, 1);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(get(&mut r, "local-marker").as_deref(), Some("1"), "partial");
    let _: () = redis::cmd("DEL").arg("local-marker").query(&mut r).unwrap();
    assert_eq!(dataset(&mut r), dataset(&mut p));
    // The new link is listed again.
    assert_eq!(client_list_of(&mut r, "master").len(), 1);
}

#[test]
fn client_kill_type_replica_on_the_primary_resumes_partially() {
    let primary = TestServer::start(&[]);
    let mut p = primary.client();
    let replica = replica_of(primary.port, &[]);
    let mut r = replica.client();
    set(&mut p, "before", "1");
    wait_caught_up(&mut p, &mut r);
    let replicas = client_list_of(&mut p, "replica");
    assert_eq!(replicas.len(), 1, "{replicas:?}");
    assert!(replicas[0].contains(" flags=S "), "{}", replicas[0]);
    assert_eq!(client_list_of(&mut p, "slave"), replicas);
    assert!(client_list_of(&mut p, "master").is_empty());
    mark_replica(&mut r);
    assert_eq!(client_kill_type(&mut p, "normal"), 0, "only this client");
    assert_eq!(client_kill_type(&mut p, "pubsub"), 0);
    assert_eq!(client_kill_type(&mut p, "slave"), 1);
    set(&mut p, "after", "2");
    wait_caught_up(&mut p, &mut r);
    assert_eq!(get(&mut r, "after").as_deref(), Some("2"));
    assert_eq!(get(&mut r, "local-marker").as_deref(), Some("1"), "partial");
    assert_eq!(client_list_of(&mut p, "replica").len(), 1);
    let unknown = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("robot")
        .query::<i64>(&mut p)
        .unwrap_err();
    assert!(unknown.to_string().contains("Unknown client type 'robot'"));
}

#[test]
fn a_replica_that_stops_acknowledging_is_dropped_after_repl_timeout() {
    let primary = TestServer::start(&["--repl-timeout", "2"]);
    let mut p = primary.client();
    let replica = replica_of(primary.port, &[]);
    let mut r = replica.client();
    set(&mut p, "k", "v");
    wait_caught_up(&mut p, &mut r);
    // A replica that syncs and then never sends REPLCONF ACK.
    let mut silent = hand_driven_replica(&primary, 4242);
    let synced = Instant::now();
    wait_until("both replicas listed", || {
        info_field(&mut p, "connected_slaves").as_deref() == Some("2")
    });
    silent
        .drain_until_closed()
        .expect("dropped before the read timeout");
    let waited = synced.elapsed();
    assert!(waited >= Duration::from_millis(1900), "{waited:?}");
    assert!(waited < Duration::from_secs(8), "{waited:?}");
    // The replica that acknowledges every second stays.
    wait_until("the silent replica to be forgotten", || {
        info_field(&mut p, "connected_slaves").as_deref() == Some("1")
    });
    let slave0 = info_field(&mut p, "slave0").unwrap();
    assert!(!slave0.contains("port=4242"), "{slave0}");
    set(&mut p, "k", "w");
    wait_caught_up(&mut p, &mut r);
    assert_eq!(get(&mut r, "k").as_deref(), Some("w"));
}

#[test]
fn publish_reaches_subscribers_on_replicas_and_chained_replicas() {
    let primary = TestServer::start(&[]);
    let mut p = primary.client();
    let replica = replica_of(primary.port, &[]);
    let mut r = replica.client();
    let chained = replica_of(replica.port, &[]);
    let mut c = chained.client();
    set(&mut p, "k", "v");
    wait_caught_up(&mut p, &mut r);
    wait_caught_up(&mut r, &mut c);
    let mut on_replica = replica.raw();
    on_replica.send(b"SUBSCRIBE news\r\n");
    on_replica.reply();
    on_replica.send(b"SSUBSCRIBE shard\r\n");
    on_replica.reply();
    let mut on_chained = chained.raw();
    on_chained.send(b"PSUBSCRIBE n*\r\n");
    on_chained.reply();
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("hello")
        .query(&mut p)
        .unwrap();
    assert_eq!(receivers, 0, "nobody listens on the primary itself");
    assert_eq!(
        on_replica.reply(),
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    assert_eq!(
        on_chained.reply(),
        "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    let _: i64 = redis::cmd("SPUBLISH")
        .arg("shard")
        .arg("s1")
        .query(&mut p)
        .unwrap();
    assert_eq!(
        on_replica.reply(),
        "*3\r\n$8\r\nsmessage\r\n$5\r\nshard\r\n$2\r\ns1\r\n"
    );
    // Inside a transaction, with a write before it.
    let (_, published): ((), i64) = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("k")
        .arg("w")
        .cmd("PUBLISH")
        .arg("news")
        .arg("in-exec")
        .query(&mut p)
        .unwrap();
    assert_eq!(published, 0);
    assert_eq!(
        on_replica.reply(),
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$7\r\nin-exec\r\n"
    );
    // The offsets still agree, and the data followed.
    wait_caught_up(&mut p, &mut r);
    wait_caught_up(&mut r, &mut c);
    assert_eq!(get(&mut c, "k").as_deref(), Some("w"));
    // A full sync after published messages starts at the right offset.
    let late = replica_of(primary.port, &[]);
    let mut l = late.client();
    wait_caught_up(&mut p, &mut l);
    set(&mut p, "k", "x");
    wait_caught_up(&mut p, &mut l);
    assert_eq!(get(&mut l, "k").as_deref(), Some("x"));
}

fn error_of(conn: &mut Connection, command: &mut redis::Cmd) -> String {
    command.query::<Value>(conn).unwrap_err().to_string()
}

#[test]
fn failover_switches_roles_without_losing_acknowledged_writes() {
    let primary = TestServer::start(&[]);
    let mut p = primary.client();
    let replica = replica_of(primary.port, &[]);
    let mut r = replica.client();
    set(&mut p, "before", "1");
    wait_caught_up(&mut p, &mut r);
    let port = replica.port.to_string();
    let refusals = [
        (
            redis::cmd("FAILOVER").arg("ABORT").clone(),
            "No failover in progress.",
        ),
        (
            redis::cmd("FAILOVER")
                .arg("TO")
                .arg("127.0.0.1")
                .arg(1)
                .clone(),
            "FAILOVER target HOST and PORT is not a replica.",
        ),
        (
            redis::cmd("FAILOVER")
                .arg("TO")
                .arg("127.0.0.1")
                .arg(&port)
                .arg("FORCE")
                .clone(),
            "FAILOVER with force option requires both a timeout and target HOST and IP.",
        ),
        (
            redis::cmd("FAILOVER").arg("TIMEOUT").arg(0).clone(),
            "FAILOVER timeout must be greater than 0",
        ),
    ];
    for (mut command, message) in refusals {
        let error = error_of(&mut p, &mut command);
        assert!(error.contains(message), "{error}");
    }
    let error = error_of(&mut r, &mut redis::cmd("FAILOVER"));
    assert!(error.contains("FAILOVER is not valid when server is a replica."));

    // A writer keeps writing through the switch and notes what the primary acknowledged.
    let writer_server = primary.client();
    let writer = std::thread::spawn(move || {
        let mut conn = writer_server;
        let mut acknowledged = Vec::new();
        for i in 0..100_000 {
            match redis::cmd("SET")
                .arg(format!("w:{i}"))
                .arg(i)
                .query::<()>(&mut conn)
            {
                Ok(()) => acknowledged.push(i),
                Err(error) if error.code() == Some("READONLY") => break,
                Err(error) => panic!("write {i}: {error}"),
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        acknowledged
    });
    std::thread::sleep(Duration::from_millis(200));
    let _: () = redis::cmd("FAILOVER")
        .arg("TO")
        .arg("127.0.0.1")
        .arg(&port)
        .arg("TIMEOUT")
        .arg(10_000)
        .query(&mut p)
        .unwrap();
    wait_until("the switch", || {
        info_field(&mut r, "role").as_deref() == Some("master")
            && info_field(&mut p, "role").as_deref() == Some("slave")
            && info_field(&mut p, "master_link_status").as_deref() == Some("up")
            && info_field(&mut p, "master_failover_state").as_deref() == Some("no-failover")
    });
    assert_eq!(info_field(&mut p, "master_port"), Some(port.clone()));
    let acknowledged = writer.join().unwrap();
    assert!(!acknowledged.is_empty());
    for i in &acknowledged {
        assert_eq!(get(&mut r, &format!("w:{i}")), Some(i.to_string()), "w:{i}");
    }
    // The old primary continued partially (it kept its data) and now follows.
    set(&mut r, "after", "x");
    wait_caught_up(&mut r, &mut p);
    assert_eq!(get(&mut p, "after").as_deref(), Some("x"));
    assert_eq!(dataset(&mut p), dataset(&mut r));
}

#[test]
fn failover_waits_pauses_writes_and_aborts_or_times_out() {
    let primary = TestServer::start(&[]);
    let mut p = primary.client();
    // A replica that never acknowledges, so the failover cannot complete.
    let _silent = hand_driven_replica(&primary, 4242);
    wait_until("the replica online", || {
        info_field(&mut p, "slave0").is_some_and(|s| s.contains("state=online"))
    });
    // Past offset 0, which the silent replica never acknowledges.
    set(&mut p, "k0", "v");
    let _: () = redis::cmd("FAILOVER")
        .arg("TO")
        .arg("127.0.0.1")
        .arg(4242)
        .query(&mut p)
        .unwrap();
    assert_eq!(
        info_field(&mut p, "master_failover_state").as_deref(),
        Some("waiting-for-sync")
    );
    let error = error_of(&mut p, &mut redis::cmd("FAILOVER"));
    assert!(error.contains("FAILOVER already in progress."), "{error}");
    let error = error_of(&mut p, redis::cmd("REPLICAOF").arg("NO").arg("ONE"));
    assert!(
        error.contains("REPLICAOF not allowed while failing over."),
        "{error}"
    );
    // A write waits; reads do not.
    let mut paused = primary.raw();
    paused
        .stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    paused.send(b"SET paused 1\r\n");
    assert!(
        paused.drain_until_closed().is_err(),
        "no reply while paused"
    );
    assert_eq!(get(&mut p, "paused"), None);
    let _: () = redis::cmd("FAILOVER").arg("ABORT").query(&mut p).unwrap();
    assert_eq!(
        info_field(&mut p, "master_failover_state").as_deref(),
        Some("no-failover")
    );
    paused
        .stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(paused.reply(), "+OK\r\n");
    assert_eq!(info_field(&mut p, "role").as_deref(), Some("master"));
    // With a timeout and no FORCE, the failover gives up by itself.
    let started = Instant::now();
    let _: () = redis::cmd("FAILOVER")
        .arg("TIMEOUT")
        .arg(300)
        .query(&mut p)
        .unwrap();
    wait_until("the timeout", || {
        info_field(&mut p, "master_failover_state").as_deref() == Some("no-failover")
    });
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(info_field(&mut p, "role").as_deref(), Some("master"));
    set(&mut p, "k", "v");
}

#[test]
fn an_overrun_backlog_forces_a_full_resync() {
    let primary = TestServer::start(&["--repl-backlog-size", "16kb"]);
    let mut p = primary.client();
    let replica = replica_of(primary.port, &[]);
    let mut r = replica.client();
    wait_caught_up(&mut p, &mut r);
    mark_replica(&mut r);
    // Cut the link and write more than the backlog holds in one transaction, so the replica
    // (which reconnects at once) is back only after the backlog moved on.
    let mut cut_and_write = redis::pipe();
    cut_and_write.atomic();
    for id in replica_link_ids(&mut p) {
        cut_and_write
            .cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .ignore();
    }
    cut_and_write.set("big", "x".repeat(40 * 1024)).ignore();
    let () = cut_and_write.query(&mut p).unwrap();
    wait_caught_up(&mut p, &mut r);
    wait_until("the full resync", || get(&mut r, "big").is_some());
    assert_eq!(get(&mut r, "local-marker"), None, "a full sync flushed it");
    assert_eq!(dataset(&mut r), dataset(&mut p));
    // INFO stats: the first sync and this one were full; this one was asked as a partial one.
    let counts = ["sync_full", "sync_partial_err"]
        .map(|name| info_field(&mut p, name).unwrap_or_else(|| panic!("INFO has no {name}")));
    assert_eq!(counts[0], "2");
    assert!(counts[1] != "0", "{counts:?}");
}

#[test]
fn promotion_keeps_the_history_for_siblings_and_chains_follow() {
    let primary = TestServer::start(&[]);
    let mut p = primary.client();
    let a = replica_of(primary.port, &[]);
    let b = replica_of(primary.port, &[]);
    let (mut ca, mut cb) = (a.client(), b.client());
    write_mix(&mut p, 0);
    wait_caught_up(&mut p, &mut ca);
    wait_caught_up(&mut p, &mut cb);
    let old_replid = info_field(&mut p, "master_replid");
    // A chained replica of B receives the same stream.
    let c = replica_of(b.port, &[]);
    let mut cc = c.client();
    wait_caught_up(&mut cb, &mut cc);
    assert_eq!(dataset(&mut cc), dataset(&mut p));
    assert_eq!(info_field(&mut cc, "master_replid"), old_replid);
    drop(primary);
    let _: () = redis::cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .query(&mut ca)
        .unwrap();
    assert_eq!(info_field(&mut ca, "role").as_deref(), Some("master"));
    assert_eq!(info_field(&mut ca, "master_replid2"), old_replid);
    assert_ne!(info_field(&mut ca, "master_replid"), old_replid);
    mark_replica(&mut cb);
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(a.port)
        .query(&mut cb)
        .unwrap();
    set(&mut ca, "after-promotion", "yes");
    wait_caught_up(&mut ca, &mut cb);
    assert_eq!(
        get(&mut cb, "local-marker").as_deref(),
        Some("1"),
        "partial"
    );
    assert_eq!(get(&mut cb, "after-promotion").as_deref(), Some("yes"));
    wait_caught_up(&mut cb, &mut cc);
    assert_eq!(get(&mut cc, "after-promotion").as_deref(), Some("yes"));
    assert_eq!(
        info_field(&mut cc, "master_replid"),
        info_field(&mut ca, "master_replid")
    );
}

#[test]
fn a_redis_server_replica_of_slotkv_converges() {
    let primary = TestServer::start(&[]);
    let mut p = primary.client();
    write_mix(&mut p, 0);
    let port = primary.port.to_string();
    let Some(redis) = RedisServer::start(&["--replicaof", "127.0.0.1", &port]) else {
        return;
    };
    let mut r = redis.client().unwrap();
    wait_caught_up(&mut p, &mut r);
    assert_eq!(dataset(&mut r), dataset(&mut p), "after the full sync");
    write_mix(&mut p, 1);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(dataset(&mut r), dataset(&mut p), "after streaming");
    // The cut link continues partially in this direction too.
    mark_replica(&mut r);
    cut_replica_links(&mut p);
    write_mix(&mut p, 2);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(get(&mut r, "local-marker").as_deref(), Some("1"), "partial");
}

#[test]
fn a_slotkv_replica_of_redis_server_converges() {
    let Some(redis) = RedisServer::start(&[]) else {
        return;
    };
    let mut p = redis.client().unwrap();
    write_mix(&mut p, 0);
    let replica = replica_of(redis.port, &[]);
    let mut r = replica.client();
    wait_caught_up(&mut p, &mut r);
    assert_eq!(dataset(&mut r), dataset(&mut p), "after the full sync");
    write_mix(&mut p, 1);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(dataset(&mut r), dataset(&mut p), "after streaming");
    mark_replica(&mut r);
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .query(&mut p)
        .unwrap();
    assert_eq!(killed, 1);
    write_mix(&mut p, 2);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(get(&mut r, "local-marker").as_deref(), Some("1"), "partial");
    let _: () = redis::cmd("DEL").arg("local-marker").query(&mut r).unwrap();
    assert_eq!(dataset(&mut r), dataset(&mut p));
}

/// The key names of the convergence test: a prefix per type, so no command meets a key of
/// another type, and a small key space, so keys are overwritten, emptied and deleted.
fn random_key(rng: &mut impl rand::Rng, prefix: &str) -> String {
    format!("{prefix}:{}", rng.gen_range(0..40))
}

/// A deadline that is either over before the end of the test (so keys expire on the
/// primary while the replica follows) or far beyond it, never in between, so both digests
/// are taken on the same logical contents.
fn random_ttl_ms(rng: &mut impl rand::Rng) -> u64 {
    if rng.gen_bool(0.5) {
        rng.gen_range(1..300)
    } else {
        rng.gen_range(100_000..200_000)
    }
}

/// One random write of any type (sometimes with an expiry).
fn random_write(rng: &mut impl rand::Rng) -> redis::Cmd {
    let n = rng.gen_range(0..1000).to_string();
    let mut cmd;
    match rng.gen_range(0..16) {
        0 => {
            cmd = redis::cmd("SET");
            cmd.arg(random_key(rng, "s")).arg(&n);
            if rng.gen_bool(0.3) {
                cmd.arg("PX").arg(random_ttl_ms(rng));
            }
        }
        1 => {
            cmd = redis::cmd("APPEND");
            cmd.arg(random_key(rng, "s")).arg(&n);
        }
        2 => {
            cmd = redis::cmd("INCRBY");
            cmd.arg(random_key(rng, "i")).arg(&n);
        }
        3 => {
            cmd = redis::cmd(if rng.gen_bool(0.5) { "RPUSH" } else { "LPUSH" });
            cmd.arg(random_key(rng, "l")).arg(&n).arg("x");
        }
        4 => {
            cmd = redis::cmd("LPOP");
            cmd.arg(random_key(rng, "l"));
        }
        5 => {
            cmd = redis::cmd("LTRIM");
            cmd.arg(random_key(rng, "l"))
                .arg(0)
                .arg(rng.gen_range(0..5));
        }
        6 => {
            cmd = redis::cmd("SADD");
            cmd.arg(random_key(rng, "t"))
                .arg(&n)
                .arg(rng.gen_range(0..10));
        }
        7 => {
            cmd = redis::cmd("SREM");
            cmd.arg(random_key(rng, "t")).arg(rng.gen_range(0..10));
        }
        8 => {
            cmd = redis::cmd("HSET");
            cmd.arg(random_key(rng, "h"))
                .arg(format!("f{}", rng.gen_range(0..8)))
                .arg(&n);
        }
        9 => {
            cmd = redis::cmd("HDEL");
            cmd.arg(random_key(rng, "h"))
                .arg(format!("f{}", rng.gen_range(0..8)));
        }
        10 => {
            cmd = redis::cmd("ZADD");
            cmd.arg(random_key(rng, "z"))
                .arg(rng.gen_range(-100.0..100.0f64))
                .arg(format!("m{}", rng.gen_range(0..8)));
        }
        11 => {
            cmd = redis::cmd("ZINCRBY");
            cmd.arg(random_key(rng, "z"))
                .arg(rng.gen_range(-5..5))
                .arg(format!("m{}", rng.gen_range(0..8)));
        }
        12 => {
            let prefix = ["s", "i", "l", "t", "h", "z"][rng.gen_range(0..6)];
            cmd = redis::cmd("PEXPIRE");
            cmd.arg(random_key(rng, prefix)).arg(random_ttl_ms(rng));
        }
        13 => {
            let prefix = ["s", "i", "l", "t", "h", "z"][rng.gen_range(0..6)];
            cmd = redis::cmd("PERSIST");
            cmd.arg(random_key(rng, prefix));
        }
        14 => {
            let prefix = ["s", "i", "l", "t", "h", "z"][rng.gen_range(0..6)];
            cmd = redis::cmd("DEL");
            cmd.arg(random_key(rng, prefix));
        }
        _ => {
            cmd = redis::cmd("SETEX");
            cmd.arg(random_key(rng, "s")).arg(150).arg(&n);
        }
    }
    cmd
}

fn debug_digest(conn: &mut Connection) -> String {
    redis::cmd("DEBUG").arg("DIGEST").query(conn).unwrap()
}

#[test]
fn debug_digest_is_order_independent_and_tracks_contents() {
    let (a, b) = (TestServer::start(&[]), TestServer::start(&[]));
    let (mut a, mut b) = (a.client(), b.client());
    assert_eq!(debug_digest(&mut a), "0".repeat(40));
    let _: () = redis::pipe()
        .cmd("SADD")
        .arg("s")
        .arg("1")
        .arg("2")
        .arg("x")
        .cmd("SET")
        .arg("k")
        .arg("v")
        .cmd("ZADD")
        .arg("z")
        .arg(1)
        .arg("a")
        .arg(2)
        .arg("b")
        .query(&mut a)
        .unwrap();
    let _: () = redis::pipe()
        .cmd("ZADD")
        .arg("z")
        .arg(2)
        .arg("b")
        .arg(1)
        .arg("a")
        .cmd("SET")
        .arg("k")
        .arg("v")
        .cmd("SADD")
        .arg("s")
        .arg("x")
        .arg("2")
        .arg("1")
        .query(&mut b)
        .unwrap();
    let digest = debug_digest(&mut a);
    assert_eq!(digest.len(), 40);
    assert_eq!(digest, debug_digest(&mut b));
    let values: Vec<String> = redis::cmd("DEBUG")
        .arg("DIGEST-VALUE")
        .arg("k")
        .arg("nope")
        .query(&mut a)
        .unwrap();
    assert_eq!(values[1], "0".repeat(40));
    assert_ne!(values[0], values[1]);
    let _: () = redis::cmd("EXPIRE")
        .arg("k")
        .arg(1000)
        .query(&mut b)
        .unwrap();
    assert_ne!(debug_digest(&mut b), digest, "an expiry changes the digest");
    let expiring: Vec<String> = redis::cmd("DEBUG")
        .arg("DIGEST-VALUE")
        .arg("k")
        .query(&mut b)
        .unwrap();
    assert_ne!(expiring[0], values[0]);
}

/// Random writes of every type, with expiries and MULTI/EXEC, on a primary with a seeded RNG
/// while the replica's link is cut a few times (CLIENT KILL TYPE master on the replica); at
/// the end, after WAIT, both have the same DEBUG DIGEST.
#[test]
fn random_writes_with_cut_links_converge_by_digest() {
    use rand::SeedableRng;
    let primary = TestServer::start(&[]);
    let mut p = primary.client();
    let replica = replica_of(primary.port, &[]);
    let mut r = replica.client();
    wait_caught_up(&mut p, &mut r);
    for seed in [1u64, 2, 3] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let rounds = 60;
        for round in 0..rounds {
            if round % 15 == 7 {
                // The link is back (it reconnects after a second) before it is cut again.
                wait_until("the link to be up", || {
                    info_field(&mut r, "master_link_status").as_deref() == Some("up")
                });
                assert_eq!(client_kill_type(&mut r, "master"), 1, "seed {seed}");
            }
            let mut pipe = redis::pipe();
            pipe.cmd("SELECT").arg(rng.gen_range(0..DATABASES)).ignore();
            if rng.gen_bool(0.3) {
                pipe.atomic();
            }
            for _ in 0..rng.gen_range(1..30) {
                pipe.add_command(random_write(&mut rng)).ignore();
            }
            let _: () = pipe.query(&mut p).unwrap();
        }
        let _: () = redis::cmd("SELECT").arg(0).query(&mut p).unwrap();
        // Every short deadline has passed; the long ones stay far away.
        std::thread::sleep(Duration::from_millis(400));
        wait_until("WAIT 1 to count the replica", || {
            redis::cmd("WAIT")
                .arg(1)
                .arg(2000)
                .query::<i64>(&mut p)
                .ok()
                == Some(1)
        });
        let digest = debug_digest(&mut p);
        assert_ne!(digest, "0".repeat(40), "seed {seed}");
        assert_eq!(dataset(&mut r), dataset(&mut p), "seed {seed}");
        assert_eq!(debug_digest(&mut r), digest, "seed {seed}");
    }
}
