//! Interop with a real redis-server 7 (skipped, with a note, when none is on PATH):
//! - a dump.rdb that Redis saves, with every type and encoding, reads back with identical
//!   contents and deadlines;
//! - a file slotkv writes loads into Redis with identical contents;
//! - DUMP payloads from Redis restore in slotkv, and slotkv's payloads RESTORE in Redis.
//!
//! Each test starts its own redis-server on an ephemeral loopback port with a temporary
//! directory; a guard kills it (by its PID, through `Child::kill`) even when the test panics.

use slotkv_engine::types::encodings::Encodings;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use bytes::Bytes;
use slotkv_engine::types::hash::HashValue;
use slotkv_engine::types::list::{End, ListValue};
use slotkv_engine::types::set::SetValue;
use slotkv_engine::types::zset::SortedSetValue;
use slotkv_engine::value::{StrValue, Value};
use slotkv_persistence::rdb::{
    dump_payload, restore_payload, Item, RdbReader, RdbWriter, WriterInfo, WriterOptions,
};

/// The thresholds test values are built under.
const DEFAULTS: Encodings = Encodings::DEFAULT;

// ---------------------------------------------------------------------------------------------
// a redis-server process and a raw RESP connection

/// A redis-server child process, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn redis_available() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        eprintln!("note: redis-server not on PATH; interop test skipped");
    }
    found
}

impl Redis {
    /// Starts redis-server with `dir` as its directory (loading `dir/dump.rdb` if present)
    /// and the extra arguments `args`.
    fn start(dir: &Path, args: &[&str]) -> Redis {
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("ephemeral port")
                .port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dbfilename",
                    "dump.rdb",
                ])
                .arg("--dir")
                .arg(dir)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let mut redis = Redis { child, port };
            if redis.wait_ready() {
                return redis;
            }
        }
        panic!("redis-server did not start");
    }

    /// Waits until the server answers PING (not LOADING); false if it exited or timed out.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return false;
            }
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                let mut conn = Conn::new(stream);
                if conn.call(&[b"PING"]) == Reply::Simple("PONG".into()) {
                    return true;
                }
            }
            sleep(Duration::from_millis(50));
        }
        false
    }

    fn connect(&self) -> Conn {
        Conn::new(TcpStream::connect(("127.0.0.1", self.port)).expect("connect"))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    fn bulk(self) -> Vec<u8> {
        match self {
            Reply::Bulk(Some(data)) => data,
            other => panic!("expected a bulk string, got {other:?}"),
        }
    }

    fn int(self) -> i64 {
        match self {
            Reply::Int(n) => n,
            other => panic!("expected an integer, got {other:?}"),
        }
    }

    fn array(self) -> Vec<Reply> {
        match self {
            Reply::Array(Some(items)) => items,
            other => panic!("expected an array, got {other:?}"),
        }
    }

    fn bulks(self) -> Vec<Vec<u8>> {
        self.array().into_iter().map(Reply::bulk).collect()
    }
}

struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn new(stream: TcpStream) -> Conn {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        Conn {
            reader: BufReader::new(stream),
        }
    }

    fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            let arg = arg.as_ref();
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        self.reader.get_mut().write_all(&request).expect("write");
        self.read_reply()
    }

    /// Calls and requires a reply that is not an error.
    fn ok<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        let reply = self.call(args);
        if let Reply::Error(message) = &reply {
            panic!(
                "{:?} failed: {message}",
                String::from_utf8_lossy(args[0].as_ref())
            );
        }
        reply
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read");
        line.trim_end_matches("\r\n").to_owned()
    }

    fn read_reply(&mut self) -> Reply {
        let line = self.line();
        let (kind, rest) = line.split_at(1);
        match kind {
            "+" => Reply::Simple(rest.to_owned()),
            "-" => Reply::Error(rest.to_owned()),
            ":" => Reply::Int(rest.parse().expect("integer")),
            "$" => {
                let len: i64 = rest.parse().expect("length");
                if len < 0 {
                    return Reply::Bulk(None);
                }
                let mut data = vec![0; len as usize + 2];
                self.reader.read_exact(&mut data).expect("bulk");
                data.truncate(len as usize);
                Reply::Bulk(Some(data))
            }
            "*" => {
                let len: i64 = rest.parse().expect("length");
                if len < 0 {
                    return Reply::Array(None);
                }
                Reply::Array(Some((0..len).map(|_| self.read_reply()).collect()))
            }
            _ => panic!("unexpected reply line {line:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// the data set: a model of each key, how to create it in Redis, read it back, and as a Value

#[derive(Debug, Clone, PartialEq)]
enum Model {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Zset(Vec<(Vec<u8>, f64)>),
}

fn texts(prefix: &str, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| format!("{prefix}{i}").into_bytes())
        .collect()
}

fn ints(range: std::ops::Range<i64>, step: i64) -> Vec<Vec<u8>> {
    range
        .step_by(step as usize)
        .map(|n| (n * 7919).to_string().into_bytes())
        .collect()
}

/// Every type in every encoding Redis 7.0 keeps and writes, keyed by name; the second part of
/// each tuple says whether the key gets a deadline.
fn data_set() -> Vec<(Vec<u8>, Model, bool)> {
    let binary: Vec<u8> = (0..=255u8).collect();
    let mut sets_mixed: BTreeSet<Vec<u8>> = ints(0..20, 1).into_iter().collect();
    sets_mixed.insert(b"not a number".to_vec());
    let zset_small = vec![
        (b"a".to_vec(), 1.0),
        (b"b".to_vec(), -2.5),
        (b"c".to_vec(), 0.1),
        (b"inf".to_vec(), f64::INFINITY),
        (b"-inf".to_vec(), f64::NEG_INFINITY),
        (b"big".to_vec(), 1e300),
        (b"int".to_vec(), 1234567.0),
    ];
    let zset_large: Vec<(Vec<u8>, f64)> = texts("member-", 500)
        .into_iter()
        .enumerate()
        .map(|(i, m)| (m, i as f64 * 1.25 - 100.0))
        .collect();
    let pairs = |n: usize, value_len: usize| -> BTreeMap<Vec<u8>, Vec<u8>> {
        texts("field-", n)
            .into_iter()
            .zip(texts("v", n).into_iter().map(|v| {
                let mut v = v;
                v.resize(value_len.max(v.len()), b'.');
                v
            }))
            .collect()
    };
    vec![
        (b"str:small".to_vec(), Model::Str(b"hello".to_vec()), false),
        (b"str:int".to_vec(), Model::Str(b"12345".to_vec()), false),
        (
            b"str:negative".to_vec(),
            Model::Str(b"-9000000000".to_vec()),
            true,
        ),
        (b"str:empty".to_vec(), Model::Str(Vec::new()), false),
        (b"str:binary".to_vec(), Model::Str(binary), false),
        (
            b"str:leading-zero".to_vec(),
            Model::Str(b"007".to_vec()),
            false,
        ),
        (
            b"str:long".to_vec(),
            Model::Str(b"compress me ".repeat(200)),
            false,
        ),
        (
            b"12345".to_vec(),
            Model::Str(b"an integer key".to_vec()),
            false,
        ),
        (
            b"list:small".to_vec(),
            Model::List(vec![
                b"a".to_vec(),
                b"7".to_vec(),
                b"-70000".to_vec(),
                Vec::new(),
            ]),
            false,
        ),
        (
            b"list:large".to_vec(),
            Model::List(texts("element-", 10_000)),
            true,
        ),
        (
            b"list:big-elements".to_vec(),
            Model::List(vec![
                vec![b'x'; 10_000],
                vec![b'y'; 100],
                vec![b'z'; 20_000],
            ]),
            false,
        ),
        (
            b"set:intset".to_vec(),
            Model::Set(ints(-50..50, 1).into_iter().collect()),
            false,
        ),
        (
            b"set:many-ints".to_vec(),
            Model::Set(ints(0..2000, 2).into_iter().collect()),
            false,
        ),
        (
            b"set:strings".to_vec(),
            Model::Set(texts("s", 50).into_iter().collect()),
            true,
        ),
        (b"set:mixed".to_vec(), Model::Set(sets_mixed), false),
        (
            b"set:large".to_vec(),
            Model::Set(texts("member-", 3000).into_iter().collect()),
            false,
        ),
        (b"hash:small".to_vec(), Model::Hash(pairs(10, 0)), false),
        (b"hash:large".to_vec(), Model::Hash(pairs(1000, 0)), true),
        (
            b"hash:long-value".to_vec(),
            Model::Hash(pairs(3, 100)),
            false,
        ),
        (
            b"zset:small".to_vec(),
            Model::Zset(zset_order(zset_small)),
            false,
        ),
        (b"zset:large".to_vec(), Model::Zset(zset_large), false),
        (
            b"zset:long-member".to_vec(),
            Model::Zset(zset_order(vec![
                (vec![b'm'; 100], 3.5),
                (b"short".to_vec(), -1.0),
            ])),
            true,
        ),
    ]
}

/// Keys placed in database 2 rather than 0.
fn db2_data_set() -> Vec<(Vec<u8>, Model, bool)> {
    vec![(b"db2:str".to_vec(), Model::Str(b"in db 2".to_vec()), false)]
}

/// Sorted set entries in the set's order: by score, then member.
fn zset_order(mut entries: Vec<(Vec<u8>, f64)>) -> Vec<(Vec<u8>, f64)> {
    entries.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    entries
}

fn score_text(score: f64) -> Vec<u8> {
    if score.is_infinite() {
        return if score > 0.0 {
            b"+inf".to_vec()
        } else {
            b"-inf".to_vec()
        };
    }
    format!("{score:?}").into_bytes()
}

impl Model {
    /// Commands that create `key` with this content (in batches, as a client would).
    fn commands(&self, key: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let batch = |name: &str, items: Vec<Vec<u8>>, per: usize| -> Vec<Vec<Vec<u8>>> {
            items
                .chunks(per * 1000)
                .map(|chunk| {
                    let mut command = vec![name.as_bytes().to_vec(), key.to_vec()];
                    command.extend(chunk.iter().cloned());
                    command
                })
                .collect()
        };
        match self {
            Model::Str(data) => vec![vec![b"SET".to_vec(), key.to_vec(), data.clone()]],
            Model::List(items) => batch("RPUSH", items.clone(), 1),
            Model::Set(members) => batch("SADD", members.iter().cloned().collect(), 1),
            Model::Hash(pairs) => batch(
                "HSET",
                pairs
                    .iter()
                    .flat_map(|(f, v)| [f.clone(), v.clone()])
                    .collect(),
                2,
            ),
            Model::Zset(entries) => batch(
                "ZADD",
                entries
                    .iter()
                    .flat_map(|(m, s)| [score_text(*s), m.clone()])
                    .collect(),
                2,
            ),
        }
    }

    /// The key's content as Redis reports it.
    fn read(conn: &mut Conn, key: &[u8]) -> Model {
        let kind = match conn.ok(&[&b"TYPE"[..], key]) {
            Reply::Simple(kind) => kind,
            other => panic!("TYPE gave {other:?}"),
        };
        match kind.as_str() {
            "string" => Model::Str(conn.ok(&[&b"GET"[..], key]).bulk()),
            "list" => Model::List(conn.ok(&[&b"LRANGE"[..], key, b"0", b"-1"]).bulks()),
            "set" => Model::Set(
                conn.ok(&[&b"SMEMBERS"[..], key])
                    .bulks()
                    .into_iter()
                    .collect(),
            ),
            "hash" => {
                let flat = conn.ok(&[&b"HGETALL"[..], key]).bulks();
                Model::Hash(
                    flat.chunks(2)
                        .map(|p| (p[0].clone(), p[1].clone()))
                        .collect(),
                )
            }
            "zset" => {
                let flat = conn
                    .ok(&[&b"ZRANGE"[..], key, b"0", b"-1", b"WITHSCORES"])
                    .bulks();
                Model::Zset(
                    flat.chunks(2)
                        .map(|p| {
                            let score = String::from_utf8_lossy(&p[1]).parse().expect("score");
                            (p[0].clone(), score)
                        })
                        .collect(),
                )
            }
            other => panic!("unexpected type {other}"),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Model::Str(data) => Value::Str(StrValue::from_bytes(data)),
            Model::List(items) => {
                let mut list = ListValue::new();
                for item in items {
                    list.push(End::Right, item, DEFAULTS.list_limit());
                }
                Value::List(list)
            }
            Model::Set(members) => {
                let mut set = SetValue::default();
                for member in members {
                    set.insert(member, &DEFAULTS);
                }
                Value::Set(set)
            }
            Model::Hash(pairs) => {
                let mut hash = HashValue::new();
                for (field, value) in pairs {
                    hash.insert(field, value, &DEFAULTS);
                }
                Value::Hash(hash)
            }
            Model::Zset(entries) => Value::SortedSet(SortedSetValue::from_entries(
                entries
                    .iter()
                    .map(|(m, s)| (Bytes::copy_from_slice(m), *s))
                    .collect(),
                &DEFAULTS,
            )),
        }
    }
}

const HOUR_MS: u64 = 3_600_000;

/// Fills the server with the data set (db 0 and db 2); returns each key's deadline.
fn fill(conn: &mut Conn) -> BTreeMap<(u64, Vec<u8>), Option<u64>> {
    let mut deadlines = BTreeMap::new();
    for (db, keys) in [(0u64, data_set()), (2, db2_data_set())] {
        conn.ok(&[b"SELECT".to_vec(), db.to_string().into_bytes()]);
        for (key, model, expires) in keys {
            for command in model.commands(&key) {
                conn.ok(&command);
            }
            if expires {
                conn.ok(&[
                    b"PEXPIRE".to_vec(),
                    key.clone(),
                    HOUR_MS.to_string().into_bytes(),
                ]);
            }
            let deadline = conn.ok(&[&b"PEXPIRETIME"[..], &key]).int();
            deadlines.insert((db, key), u64::try_from(deadline).ok());
        }
    }
    conn.ok(&[&b"SELECT"[..], b"0"]);
    deadlines
}

fn all_keys() -> Vec<(u64, Vec<u8>, Model, bool)> {
    let zero = data_set().into_iter().map(|(k, m, e)| (0, k, m, e));
    let two = db2_data_set().into_iter().map(|(k, m, e)| (2, k, m, e));
    zero.chain(two).collect()
}

/// The encodings Redis reports for the data set: the test must cover each of them.
fn check_encodings_covered(conn: &mut Conn) {
    let mut seen = BTreeSet::new();
    for (key, _, _) in data_set() {
        let encoding = conn.ok(&[&b"OBJECT"[..], b"ENCODING", &key]).bulk();
        seen.insert(String::from_utf8(encoding).expect("name"));
    }
    for expected in [
        "int",
        "embstr",
        "raw",
        "quicklist",
        "intset",
        "hashtable",
        "listpack",
        "skiplist",
    ] {
        assert!(
            seen.contains(expected),
            "no key with encoding {expected}: {seen:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// tests

#[test]
fn redis_dump_rdb_reads_back_identically() {
    if !redis_available() {
        return;
    }
    for (compression, checksum) in [("yes", "yes"), ("no", "no")] {
        let dir = tempfile::tempdir().expect("temp dir");
        let args = ["--rdbcompression", compression, "--rdbchecksum", checksum];
        let redis = Redis::start(dir.path(), &args);
        let mut conn = redis.connect();
        let deadlines = fill(&mut conn);
        check_encodings_covered(&mut conn);
        conn.ok(&[b"SAVE"]);
        let file = std::fs::read(dir.path().join("dump.rdb")).expect("dump.rdb");
        let mut reader = RdbReader::new(&file).expect("header");
        assert_eq!(reader.version(), 10);
        let mut entries = BTreeMap::new();
        let mut aux = BTreeMap::new();
        for item in reader.by_ref() {
            match item.expect("readable item") {
                Item::Entry(entry) => {
                    entries.insert((entry.db, entry.key), (entry.value, entry.expire_at_ms));
                }
                Item::Aux { key, value } => {
                    aux.insert(key, value);
                }
                Item::SelectDb(_) | Item::ResizeDb { .. } => {}
            }
        }
        assert!(reader.is_complete());
        assert_eq!(reader.position(), file.len());
        assert_eq!(
            aux.get(&b"redis-bits"[..]).map(Vec::as_slice),
            Some(&b"64"[..])
        );
        let expected: BTreeMap<_, _> = all_keys()
            .into_iter()
            .map(|(db, key, model, _)| {
                let deadline = deadlines[&(db, key.clone())];
                ((db, key), (model.to_value(), deadline))
            })
            .collect();
        assert_eq!(entries.len(), expected.len());
        for (key, (value, deadline)) in &expected {
            let (read_value, read_deadline) = &entries[key];
            assert_eq!(read_value, value, "value of {key:?}");
            assert_eq!(read_deadline, deadline, "deadline of {key:?}");
        }
    }
}

#[test]
fn slotkv_rdb_loads_into_redis_identically() {
    if !redis_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
        + HOUR_MS;
    let keys = all_keys();
    for (compression, checksum) in [(true, true), (false, false)] {
        let file = std::fs::File::create(dir.path().join("dump.rdb")).expect("create");
        let info = WriterInfo {
            redis_ver: "7.0.15".to_owned(),
            ctime_secs: 1_700_000_000,
            used_mem: 1_000_000,
            aof_base: false,
        };
        let options = WriterOptions {
            compression,
            checksum,
        };
        let mut writer =
            RdbWriter::new(std::io::BufWriter::new(file), options, &info).expect("header");
        for db in [0, 2] {
            let in_db: Vec<_> = keys.iter().filter(|k| k.0 == db).collect();
            let expiring = in_db.iter().filter(|k| k.3).count() as u64;
            writer
                .select_db(db, in_db.len() as u64, expiring)
                .expect("select");
            for (_, key, model, expires) in in_db {
                writer
                    .entry(key, &model.to_value(), expires.then_some(deadline))
                    .expect("entry");
            }
        }
        writer
            .finish()
            .expect("finish")
            .into_inner()
            .expect("flush")
            .sync_all()
            .expect("sync");

        let redis = Redis::start(dir.path(), &[]);
        let mut conn = redis.connect();
        for db in [0u64, 2] {
            conn.ok(&[b"SELECT".to_vec(), db.to_string().into_bytes()]);
            let in_db: Vec<_> = keys.iter().filter(|k| k.0 == db).collect();
            assert_eq!(conn.ok(&[b"DBSIZE"]).int(), in_db.len() as i64);
            for (_, key, model, expires) in in_db {
                assert_eq!(&Model::read(&mut conn, key), model, "content of {key:?}");
                let read_deadline = conn.ok(&[&b"PEXPIRETIME"[..], key]).int();
                let expected = if *expires { deadline as i64 } else { -1 };
                assert_eq!(read_deadline, expected, "deadline of {key:?}");
            }
        }
        drop(redis);
    }
}

#[test]
fn dump_and_restore_work_both_ways() {
    if !redis_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let redis = Redis::start(dir.path(), &[]);
    let mut conn = redis.connect();
    fill(&mut conn);
    for (key, model, _) in data_set() {
        let payload = conn.ok(&[&b"DUMP"[..], &key]).bulk();
        let value = restore_payload(&payload).unwrap_or_else(|e| panic!("payload of {key:?}: {e}"));
        assert_eq!(value, model.to_value(), "restored {key:?}");

        let ours = dump_payload(&model.to_value()).expect("payload");
        let mut copy = b"copy:".to_vec();
        copy.extend_from_slice(&key);
        conn.ok(&[&b"RESTORE"[..], &copy, b"0", &ours]);
        assert_eq!(
            Model::read(&mut conn, &copy),
            model,
            "RESTORE of {key:?} in redis"
        );
    }
    let mut damaged = dump_payload(&Value::Str(StrValue::from_bytes(b"x"))).expect("payload");
    damaged[2] ^= 1;
    let reply = conn.call(&[&b"RESTORE"[..], b"bad", b"0", &damaged]);
    assert_eq!(
        reply,
        Reply::Error("ERR DUMP payload version or checksum are wrong".into())
    );
}
