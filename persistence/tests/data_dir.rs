//! An embedded engine backed by a data directory: `open` restores what `save` wrote (every
//! type, deadlines, several databases), a missing file opens empty, a damaged one is refused,
//! and DUMP/RESTORE work through the installed codec with Redis's replies and propagation.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use slotkv_engine::propagate::RecordingSink;
use slotkv_engine::{Config, Engine, ManualClock, Reply, Session};
use slotkv_persistence::{open, save, OpenDataError, DEFAULT_DBFILENAME};

const NOW_MS: u64 = 1_700_000_000_000;

fn config(clock: &Arc<ManualClock>) -> Config {
    Config::with_clock(clock.clone())
}

fn run(engine: &Engine, session: &mut Session, words: &[&str]) -> Reply {
    let args: Vec<Bytes> = words
        .iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect();
    engine.execute_in(session, &args)
}

fn contents(engine: &Engine) -> BTreeMap<(usize, Vec<u8>), String> {
    let mut all = BTreeMap::new();
    engine.snapshot().for_each(|db, key, entry| {
        all.insert(
            (db, key.to_vec()),
            format!("{:?} {:?}", entry.value, entry.expire_at_ms()),
        );
    });
    all
}

#[test]
fn open_restores_what_save_wrote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(NOW_MS));
    let (engine, loaded) = open(dir.path(), config(&clock)).expect("opens");
    assert_eq!(loaded, None, "no file yet");
    let mut s = Session::new();
    for words in [
        &["SET", "str", "hello"][..],
        &["SET", "int", "42"],
        &["SET", "ttl", "v", "PX", "60000"],
        &["SET", "gone", "v", "PX", "10"],
        &["HSET", "hash", "a", "1", "b", "2"],
        &["RPUSH", "list", "x", "y", "z"],
        &["SADD", "set", "1", "2", "3"],
        &["SADD", "words", "p", "q"],
        &["ZADD", "zset", "1.5", "m", "2", "n"],
        &["SELECT", "3"],
        &["SET", "other", "db"],
    ] {
        assert!(!run(&engine, &mut s, words).is_error(), "{words:?}");
    }
    let before = contents(&engine);
    let report = save(&engine, dir.path()).expect("saves");
    assert_eq!(report.keys, 10);
    assert!(dir.path().join(DEFAULT_DBFILENAME).exists());
    let leftovers = std::fs::read_dir(dir.path()).expect("lists").count();
    assert_eq!(leftovers, 1, "no temporary file is left behind");
    clock.advance(100);
    let (reopened, loaded) = open(dir.path(), config(&clock)).expect("reopens");
    let loaded = loaded.expect("a file was loaded");
    assert_eq!(
        (loaded.keys, loaded.expired_skipped, loaded.version),
        (9, 1, 10)
    );
    let mut expected = before;
    expected.retain(|(_, key), _| key != b"gone");
    assert_eq!(contents(&reopened), expected);
}

#[test]
fn a_damaged_file_is_refused_with_its_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(NOW_MS));
    let (engine, _) = open(dir.path(), config(&clock)).expect("opens");
    run(
        &engine,
        &mut Session::new(),
        &["SET", "k", "some value that is long enough"],
    );
    save(&engine, dir.path()).expect("saves");
    let path = dir.path().join(DEFAULT_DBFILENAME);
    let mut data = std::fs::read(&path).expect("reads");
    let last = data.len() - 1;
    data[last] ^= 0xFF;
    std::fs::write(&path, &data).expect("writes");
    match open(dir.path(), config(&clock)) {
        Err(OpenDataError::Load(error)) => {
            assert!(error.to_string().contains("dump.rdb"), "{error}")
        }
        other => panic!("a bad checksum must be refused, got {other:?}"),
    }
}

#[test]
fn dump_and_restore_go_through_the_codec() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(NOW_MS));
    let (engine, _) = open(dir.path(), config(&clock)).expect("opens");
    let sink = Arc::new(RecordingSink::default());
    engine.subscribe(sink.clone());
    let mut s = Session::new();
    run(&engine, &mut s, &["RPUSH", "src", "a", "b"]);
    let Reply::Bulk(payload) = run(&engine, &mut s, &["DUMP", "src"]) else {
        panic!("DUMP gives a bulk string");
    };
    assert_eq!(run(&engine, &mut s, &["DUMP", "missing"]), Reply::Nil);
    let restore = |words: &[&[u8]]| {
        let args: Vec<Bytes> = words.iter().map(|w| Bytes::copy_from_slice(w)).collect();
        engine.execute_in(&mut Session::new(), &args)
    };
    assert_eq!(restore(&[b"RESTORE", b"dst", b"5000", &payload]), Reply::Ok);
    assert_eq!(run(&engine, &mut s, &["PTTL", "dst"]), Reply::Integer(5000));
    assert_eq!(
        restore(&[b"RESTORE", b"dst", b"0", &payload]),
        Reply::Error("BUSYKEY Target key name already exists.".into())
    );
    assert_eq!(
        restore(&[b"RESTORE", b"dst", b"-1", &payload, b"REPLACE"]),
        Reply::Error("ERR Invalid TTL value, must be >= 0".into())
    );
    let mut bad = payload.to_vec();
    bad[1] ^= 1;
    assert_eq!(
        restore(&[b"RESTORE", b"x", b"0", &bad]),
        Reply::Error("ERR DUMP payload version or checksum are wrong".into())
    );
    // An absolute deadline already past: REPLACE deletes the old key and creates nothing.
    assert_eq!(
        restore(&[b"RESTORE", b"dst", b"1", &payload, b"REPLACE", b"ABSTTL"]),
        Reply::Ok
    );
    assert_eq!(run(&engine, &mut s, &["EXISTS", "dst"]), Reply::Integer(0));
    let commands = sink.commands();
    let restored = commands
        .iter()
        .find(|c| c.starts_with("RESTORE dst"))
        .expect("propagated");
    assert!(
        restored.starts_with(&format!("RESTORE dst {} ", NOW_MS + 5000))
            && restored.ends_with(" ABSTTL"),
        "RESTORE propagates an absolute deadline: {restored}"
    );
    assert!(commands.iter().any(|c| c == "DEL dst"));
}

/// Found by the restore_command fuzz target: a hashtable set's DUMP follows its iteration
/// order, so a copy made by RESTORE may DUMP to other bytes; what must hold is that both
/// payloads restore to the same value.
#[test]
fn a_restored_copy_dumps_to_the_same_value_not_always_the_same_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(NOW_MS));
    let (engine, _) = open(dir.path(), config(&clock)).expect("opens");
    let mut s = Session::new();
    let members: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    let mut sadd = vec!["SADD", "set"];
    sadd.extend(members.iter().map(String::as_str));
    assert_eq!(run(&engine, &mut s, &sadd), Reply::Integer(300));
    let Reply::Bulk(first) = run(&engine, &mut s, &["DUMP", "set"]) else {
        panic!("DUMP gives a bulk string");
    };
    let args = [&b"RESTORE"[..], b"copy", b"0", &first].map(Bytes::copy_from_slice);
    assert_eq!(engine.execute_in(&mut s, &args), Reply::Ok);
    let Reply::Bulk(second) = run(&engine, &mut s, &["DUMP", "copy"]) else {
        panic!("DUMP gives a bulk string");
    };
    let decode = |payload: &Bytes| slotkv_persistence::rdb::restore_payload(payload).expect("ours");
    assert!(decode(&first) == decode(&second));
    assert_eq!(
        run(&engine, &mut s, &["SINTERCARD", "2", "set", "copy"]),
        Reply::Integer(300)
    );
}
