//! MIGRATE between real servers: slotkv to slotkv (keys, the KEYS form, COPY, REPLACE, AUTH,
//! databases, NOKEY, errors), slotkv to Redis 7 and back when redis-server is installed, and
//! a target that never answers (IOERR after the timeout, other clients served meanwhile).

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{RawClient, RedisServer, TestServer};

fn migrate(source: &mut RawClient, target_port: u16, rest: &str) -> String {
    source.cmd(&format!("MIGRATE 127.0.0.1 {target_port} {rest}"))
}

/// MIGRATE's KEYS form, whose key argument is the empty string.
fn migrate_keys(source: &mut RawClient, target_port: u16, rest: &str) -> String {
    let port = target_port.to_string();
    let mut words: Vec<&[u8]> = vec![b"MIGRATE", b"127.0.0.1", port.as_bytes(), b""];
    words.extend(rest.split(' ').map(str::as_bytes));
    source.call(&words)
}

#[test]
fn keys_move_with_their_values_and_deadlines() {
    let (source, target) = (TestServer::start(&[]), TestServer::start(&[]));
    let (mut src, mut dst) = (source.raw(), target.raw());
    src.cmd("SET plain hello");
    src.cmd("HSET h f1 v1 f2 v2");
    src.cmd("PEXPIRE h 100000");
    src.cmd("RPUSH l a b c");
    assert_eq!(migrate(&mut src, target.port, "plain 0 5000"), "+OK");
    assert_eq!(migrate(&mut src, target.port, "h 0 5000"), "+OK");
    assert_eq!(src.cmd("EXISTS plain h"), ":0");
    assert_eq!(dst.cmd("GET plain"), "$5\r\nhello");
    assert_eq!(dst.cmd("HGET h f2"), "$2\r\nv2");
    let ttl: i64 = dst.cmd("PTTL h")[1..].parse().expect("integer");
    assert!((90_000..=100_000).contains(&ttl), "{ttl}");
    assert_eq!(dst.cmd("TTL plain"), ":-1");
    // Another database, over the cached connection.
    assert_eq!(migrate(&mut src, target.port, "l 3 5000"), "+OK");
    assert_eq!(dst.cmd("SELECT 3"), "+OK");
    assert_eq!(
        dst.cmd("LRANGE l 0 -1"),
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc"
    );
    assert_eq!(dst.cmd("EXISTS plain"), ":0");
    // Nothing to move.
    assert_eq!(migrate(&mut src, target.port, "missing 0 5000"), "+NOKEY");
}

#[test]
fn the_keys_form_moves_those_that_exist() {
    let (source, target) = (TestServer::start(&[]), TestServer::start(&[]));
    let (mut src, mut dst) = (source.raw(), target.raw());
    src.cmd("MSET a 1 b 2 c 3");
    assert_eq!(
        migrate_keys(&mut src, target.port, "0 5000 KEYS a b nothing"),
        "+OK"
    );
    assert_eq!(src.cmd("DBSIZE"), ":1");
    assert_eq!(dst.cmd("MGET a b c"), "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1");
    assert_eq!(
        migrate_keys(&mut src, target.port, "0 5000 KEYS x y"),
        "+NOKEY"
    );
    assert_eq!(
        migrate(&mut src, target.port, "c 0 5000 KEYS c"),
        "-ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
    );
}

#[test]
fn copy_keeps_the_source_and_replace_overwrites_the_target() {
    let (source, target) = (TestServer::start(&[]), TestServer::start(&[]));
    let (mut src, mut dst) = (source.raw(), target.raw());
    src.cmd("SET k new");
    dst.cmd("SET k old");
    assert_eq!(
        migrate(&mut src, target.port, "k 0 5000"),
        "-ERR Target instance replied with error: BUSYKEY Target key name already exists."
    );
    assert_eq!(src.cmd("GET k"), "$3\r\nnew");
    assert_eq!(
        migrate(&mut src, target.port, "k 0 5000 COPY REPLACE"),
        "+OK"
    );
    assert_eq!(src.cmd("GET k"), "$3\r\nnew");
    assert_eq!(dst.cmd("GET k"), "$3\r\nnew");
    // A partial failure: keys the target took go, the refused one stays.
    src.cmd("MSET k newer j 1");
    assert_eq!(
        migrate_keys(&mut src, target.port, "0 5000 KEYS j k"),
        "-ERR Target instance replied with error: BUSYKEY Target key name already exists."
    );
    assert_eq!(src.cmd("MGET j k"), "*2\r\n$-1\r\n$5\r\nnewer");
    assert_eq!(dst.cmd("GET j"), "$1\r\n1");
}

#[test]
fn auth_and_auth2_reach_a_protected_target() {
    let source = TestServer::start(&[]);
    let target = TestServer::start(&["--requirepass", "s3cret"]);
    let mut src = source.raw();
    src.cmd("MSET a 1 b 2");
    assert_eq!(
        migrate(&mut src, target.port, "a 0 5000"),
        "-ERR Target instance replied with error: NOAUTH Authentication required."
    );
    assert_eq!(
        migrate(&mut src, target.port, "a 0 5000 AUTH wrong"),
        "-ERR Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(src.cmd("EXISTS a"), ":1");
    assert_eq!(
        migrate(&mut src, target.port, "a 0 5000 AUTH s3cret"),
        "+OK"
    );
    assert_eq!(
        migrate(&mut src, target.port, "b 0 5000 AUTH2 default s3cret"),
        "+OK"
    );
    let mut dst = target.raw();
    dst.cmd("AUTH s3cret");
    assert_eq!(dst.cmd("MGET a b"), "*2\r\n$1\r\n1\r\n$1\r\n2");
}

#[test]
fn a_dead_target_is_an_io_error_and_the_key_stays() {
    let source = TestServer::start(&[]);
    let mut src = source.raw();
    src.cmd("SET k v");
    let dead = common::free_port();
    assert_eq!(
        migrate(&mut src, dead, "k 0 1000"),
        "-IOERR error or timeout connecting to the client"
    );
    assert_eq!(
        src.cmd("MIGRATE 127.0.0.1 notaport k 0 1000"),
        "-IOERR error or timeout connecting to the client"
    );
    assert_eq!(src.cmd("GET k"), "$1\r\nv");
    assert_eq!(
        src.cmd("MIGRATE 127.0.0.1 1 k 0 10 BOGUS"),
        "-ERR syntax error"
    );
}

#[test]
fn a_silent_target_times_out_without_blocking_other_clients() {
    let source = TestServer::start(&[]);
    // Accepts connections (the kernel completes them) but never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_port = silent.local_addr().expect("address").port();
    let mut src = source.raw();
    src.cmd("SET k v");
    let mut other = source.raw();
    let started = Instant::now();
    src.send(format!("*6\r\n$7\r\nMIGRATE\r\n$9\r\n127.0.0.1\r\n${}\r\n{silent_port}\r\n$1\r\nk\r\n$1\r\n0\r\n$4\r\n1500\r\n", silent_port.to_string().len()).as_bytes());
    std::thread::sleep(Duration::from_millis(200));
    // The server goes on serving while MIGRATE waits for the target.
    assert_eq!(other.cmd("SET other 1"), "+OK");
    assert_eq!(other.cmd("GET k"), "$1\r\nv");
    assert!(started.elapsed() < Duration::from_millis(1200));
    assert_eq!(
        src.reply().trim_end(),
        "-IOERR error or timeout reading to target instance"
    );
    assert!(started.elapsed() >= Duration::from_millis(1400));
    assert_eq!(src.cmd("GET k"), "$1\r\nv");
    drop(silent);
}

#[test]
fn payloads_cross_to_redis_and_back() {
    let Some(redis) = RedisServer::start(&[]) else {
        eprintln!("skipped: {} is not installed", common::REDIS_SERVER);
        return;
    };
    let source = TestServer::start(&[]);
    let mut src = source.raw();
    let mut theirs = RawClient::connect(redis.port);
    src.cmd("ZADD z 1 a 2 b");
    src.cmd("SADD s x y z");
    src.cmd("SET n 12345");
    assert_eq!(
        migrate_keys(&mut src, redis.port, "0 5000 KEYS z s n"),
        "+OK"
    );
    assert_eq!(theirs.cmd("ZSCORE z b"), "$1\r\n2");
    assert_eq!(theirs.cmd("SCARD s"), ":3");
    assert_eq!(theirs.cmd("GET n"), "$5\r\n12345");
    // And Redis's own MIGRATE into slotkv.
    let back = format!("MIGRATE 127.0.0.1 {} z 0 5000", source.port);
    assert_eq!(theirs.cmd(&back), "+OK");
    assert_eq!(src.cmd("ZRANGE z 0 -1"), "*2\r\n$1\r\na\r\n$1\r\nb");
}

#[test]
fn client_kill_ends_a_waiting_migrate_and_the_key_stays() {
    let source = TestServer::start(&[]);
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_port = silent.local_addr().expect("address").port();
    let mut src = source.raw();
    src.cmd("SET k v");
    let id = src.cmd("CLIENT ID");
    let port = silent_port.to_string();
    src.send(
        format!(
            "*6\r\n$7\r\nMIGRATE\r\n$9\r\n127.0.0.1\r\n${}\r\n{port}\r\n$1\r\nk\r\n$1\r\n0\r\n$5\r\n60000\r\n",
            port.len()
        )
        .as_bytes(),
    );
    std::thread::sleep(Duration::from_millis(200));
    let mut other = source.raw();
    assert_eq!(other.cmd(&format!("CLIENT KILL ID {}", &id[1..])), ":1");
    assert!(src.is_closed());
    assert_eq!(other.cmd("GET k"), "$1\r\nv");
    drop(silent);
}
