//! The AOF end to end inside one process: writing through the propagation stream, loading
//! back, rewriting under concurrent writes, truncated and corrupt files, the check tool, and
//! failing storage.

use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use slotkv_engine::{Engine, Reply, Session};
use slotkv_persistence::aof::check::{check, FileStatus};
use slotkv_persistence::aof::{
    load, Aof, AofError, AofOptions, DiskStorage, FaultyStorage, FsyncPolicy, LoadOptions,
    Manifest, Storage,
};

fn args(words: &[&str]) -> Vec<Bytes> {
    words
        .iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

fn run(engine: &Engine, session: &mut Session, words: &[&str]) -> Reply {
    engine.execute_in(session, &args(words))
}

fn engine() -> Engine {
    Engine::open(slotkv_engine::Config::default()).unwrap()
}

fn options(dir: &Path, fsync: FsyncPolicy, rdb_preamble: bool) -> AofOptions {
    AofOptions {
        dir: dir.join("appendonlydir"),
        filename: "appendonly.aof".into(),
        fsync,
        rdb_preamble,
    }
}

fn reload(dir: &Path) -> Engine {
    let engine = engine();
    load(
        &dir.join("appendonlydir"),
        "appendonly.aof",
        &engine,
        LoadOptions::default(),
    )
    .unwrap()
    .expect("an AOF");
    engine
}

fn get(engine: &Engine, db: &str, key: &str) -> Reply {
    let mut session = Session::new();
    run(engine, &mut session, &["SELECT", db]);
    run(engine, &mut session, &["GET", key])
}

fn write_some(engine: &Engine, aof: &Aof) {
    let mut session = Session::new();
    run(engine, &mut session, &["SET", "a", "1"]);
    run(engine, &mut session, &["SELECT", "2"]);
    run(engine, &mut session, &["SET", "b", "2"]);
    run(engine, &mut session, &["SET", "gone", "x", "PX", "1"]);
    run(engine, &mut session, &["INCRBYFLOAT", "f", "1.5"]);
    aof.commit().unwrap();
}

#[test]
fn writes_come_back_after_restart_in_both_base_formats() {
    for rdb in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine();
        let mut session = Session::new();
        run(&engine, &mut session, &["SET", "before", "start"]);
        let aof = Aof::new(
            Arc::new(DiskStorage),
            &options(dir.path(), FsyncPolicy::Always, rdb),
        );
        aof.start(&engine).unwrap();
        write_some(&engine, &aof);
        aof.stop(&engine).unwrap();
        let manifest =
            fs::read_to_string(dir.path().join("appendonlydir/appendonly.aof.manifest")).unwrap();
        let base = if rdb {
            "appendonly.aof.1.base.rdb"
        } else {
            "appendonly.aof.1.base.aof"
        };
        assert_eq!(
            manifest,
            format!("file {base} seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n")
        );
        let loaded = reload(dir.path());
        assert_eq!(get(&loaded, "0", "before"), Reply::bulk(b"start"));
        assert_eq!(get(&loaded, "0", "a"), Reply::bulk(b"1"));
        assert_eq!(get(&loaded, "2", "b"), Reply::bulk(b"2"));
        assert_eq!(get(&loaded, "2", "f"), Reply::bulk(b"1.5"));
        assert_eq!(get(&loaded, "0", "b"), Reply::Nil);
    }
}

#[test]
fn rewrite_under_concurrent_writes_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let aof = Aof::new(
        Arc::new(DiskStorage),
        &options(dir.path(), FsyncPolicy::Everysec, true),
    );
    aof.start(&engine).unwrap();
    let writer = {
        let (engine, aof) = (engine.clone(), aof.clone());
        std::thread::spawn(move || {
            let mut session = Session::new();
            for i in 0..20_000 {
                run(&engine, &mut session, &["INCR", "counter"]);
                run(&engine, &mut session, &["RPUSH", "list", &i.to_string()]);
                if i % 100 == 0 {
                    aof.commit().unwrap();
                }
            }
            aof.commit().unwrap();
        })
    };
    for _ in 0..3 {
        aof.rewrite(&engine).unwrap();
    }
    writer.join().unwrap();
    aof.stop(&engine).unwrap();
    let files: Vec<String> = fs::read_dir(dir.path().join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 3, "base, one incr, manifest: {files:?}");
    let loaded = reload(dir.path());
    assert_eq!(get(&loaded, "0", "counter"), Reply::bulk(b"20000"));
    let mut session = Session::new();
    assert_eq!(
        run(&loaded, &mut session, &["LLEN", "list"]),
        Reply::Integer(20_000)
    );
    assert_eq!(
        run(&loaded, &mut session, &["LINDEX", "list", "12345"]),
        Reply::bulk(b"12345")
    );
}

#[test]
fn resume_appends_to_the_last_incremental_file() {
    let dir = tempfile::tempdir().unwrap();
    let first = engine();
    let aof = Aof::new(
        Arc::new(DiskStorage),
        &options(dir.path(), FsyncPolicy::No, true),
    );
    aof.start(&first).unwrap();
    write_some(&first, &aof);
    aof.stop(&first).unwrap();

    let second = engine();
    let report = load(
        &dir.path().join("appendonlydir"),
        "appendonly.aof",
        &second,
        LoadOptions::default(),
    )
    .unwrap()
    .unwrap();
    let aof = Aof::new(
        Arc::new(DiskStorage),
        &options(dir.path(), FsyncPolicy::No, true),
    );
    aof.resume(&second, report.manifest).unwrap();
    let mut session = Session::new();
    run(&second, &mut session, &["SET", "a", "changed"]);
    aof.commit().unwrap();
    aof.stop(&second).unwrap();
    let third = reload(dir.path());
    assert_eq!(get(&third, "0", "a"), Reply::bulk(b"changed"));
    assert_eq!(get(&third, "2", "b"), Reply::bulk(b"2"));
}

/// A directory with an empty RDB base and one incremental file holding `incr`.
fn aof_dir(incr: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let aof = Aof::new(
        Arc::new(DiskStorage),
        &options(dir.path(), FsyncPolicy::Always, true),
    );
    aof.start(&engine).unwrap();
    aof.stop(&engine).unwrap();
    fs::write(
        dir.path().join("appendonlydir/appendonly.aof.1.incr.aof"),
        incr,
    )
    .unwrap();
    dir
}

const GOOD: &[u8] = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";

#[test]
fn a_truncated_tail_is_cut_off_or_refused() {
    let mut data = GOOD.to_vec();
    data.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$5\r\nhal");
    let dir = aof_dir(&data);
    let aof_dir = dir.path().join("appendonlydir");
    let strict = LoadOptions {
        load_truncated: false,
    };
    match load(&aof_dir, "appendonly.aof", &engine(), strict) {
        Err(AofError::Truncated { file, offset }) => {
            assert_eq!(file, "appendonly.aof.1.incr.aof");
            assert_eq!(offset, GOOD.len() as u64);
        }
        other => panic!("expected a truncation error, got {other:?}"),
    }
    let engine = engine();
    let report = load(&aof_dir, "appendonly.aof", &engine, LoadOptions::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        report.truncated,
        Some(("appendonly.aof.1.incr.aof".into(), GOOD.len() as u64))
    );
    assert_eq!(get(&engine, "0", "k"), Reply::bulk(b"v"));
    let incr = fs::read(aof_dir.join("appendonly.aof.1.incr.aof")).unwrap();
    assert_eq!(incr, GOOD, "the file was cut back");
}

#[test]
fn an_unfinished_multi_is_dropped_whole() {
    let mut data = GOOD.to_vec();
    data.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r\n");
    let dir = aof_dir(&data);
    let engine = engine();
    let aof_dir = dir.path().join("appendonlydir");
    let report = load(&aof_dir, "appendonly.aof", &engine, LoadOptions::default())
        .unwrap()
        .unwrap();
    assert_eq!(report.truncated.map(|t| t.1), Some(GOOD.len() as u64));
    assert_eq!(get(&engine, "0", "k"), Reply::bulk(b"v"));
}

#[test]
fn corruption_names_the_file_and_offset_and_check_fixes_the_last_file() {
    let mut data = GOOD.to_vec();
    data.extend_from_slice(b"garbage\r\n");
    data.extend_from_slice(GOOD);
    let dir = aof_dir(&data);
    let aof_dir = dir.path().join("appendonlydir");
    let error = load(
        &aof_dir,
        "appendonly.aof",
        &engine(),
        LoadOptions::default(),
    )
    .unwrap_err();
    match &error {
        AofError::Corrupt { file, offset, .. } => {
            assert_eq!(file, "appendonly.aof.1.incr.aof");
            assert_eq!(*offset, GOOD.len() as u64);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    assert!(error
        .to_string()
        .contains(&format!("at offset {}", GOOD.len())));

    let manifest = aof_dir.join("appendonly.aof.manifest");
    let report = check(&manifest, false).unwrap();
    assert_eq!(report.len(), 2);
    assert!(matches!(report[0].status, FileStatus::Valid { .. }));
    assert!(
        matches!(report[1].status, FileStatus::Corrupt { offset, valid_len, .. } if offset == GOOD.len() as u64 && valid_len == GOOD.len() as u64)
    );
    let fixed = check(&manifest, true).unwrap();
    assert!(fixed[1].fixed);
    assert!(fixed[1].to_string().contains("Successfully truncated"));
    let again = check(&manifest, false).unwrap();
    assert!(again
        .iter()
        .all(|f| matches!(f.status, FileStatus::Valid { .. })));
    let engine = engine();
    load(&aof_dir, "appendonly.aof", &engine, LoadOptions::default()).unwrap();
    assert_eq!(get(&engine, "0", "k"), Reply::bulk(b"v"));
}

#[test]
fn a_failing_disk_is_reported_and_writes_recover() {
    let dir = tempfile::tempdir().unwrap();
    let storage = FaultyStorage::default();
    let faults = storage.faults.clone();
    let engine = engine();
    let aof = Aof::new(
        Arc::new(storage),
        &options(dir.path(), FsyncPolicy::Always, true),
    );
    aof.start(&engine).unwrap();
    let mut session = Session::new();
    run(&engine, &mut session, &["SET", "k", "1"]);
    aof.commit().unwrap();
    faults.fail_writes.store(true, Ordering::Relaxed);
    run(&engine, &mut session, &["SET", "k", "2"]);
    assert!(aof.commit().is_err());
    assert_eq!(
        aof.write_error().as_deref(),
        Some("No space left on device")
    );
    assert!(!aof.status().last_write_ok);
    faults.fail_writes.store(false, Ordering::Relaxed);
    faults.fail_syncs.store(true, Ordering::Relaxed);
    assert!(aof.commit().is_err());
    assert_eq!(aof.write_error().as_deref(), Some("Input/output error"));
    faults.fail_syncs.store(false, Ordering::Relaxed);
    aof.commit().unwrap();
    assert_eq!(aof.write_error(), None);
    assert!(aof.status().last_write_ok);
    aof.stop(&engine).unwrap();
    let loaded = reload(dir.path());
    assert_eq!(
        get(&loaded, "0", "k"),
        Reply::bulk(b"2"),
        "the failed write was kept and retried"
    );
}

#[test]
fn a_directory_written_by_redis_loads() {
    // What redis-server 7.0 writes with appendonly yes: an RDB base and an incr file.
    let dir = tempfile::tempdir().unwrap();
    let aof_dir = dir.path().join("appendonlydir");
    DiskStorage.create_dir(&aof_dir).unwrap();
    fs::write(
        aof_dir.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    fs::write(aof_dir.join("appendonly.aof.1.base.aof"), b"").unwrap();
    fs::write(
        aof_dir.join("appendonly.aof.1.incr.aof"),
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n#TS:1700000000\r\n*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nset\r\n$1\r\nx\r\n$1\r\n1\r\n*1\r\n$4\r\nEXEC\r\n",
    )
    .unwrap();
    let engine = engine();
    let report = load(&aof_dir, "appendonly.aof", &engine, LoadOptions::default())
        .unwrap()
        .unwrap();
    assert_eq!(report.commands, 4);
    assert_eq!(get(&engine, "0", "x"), Reply::bulk(b"1"));
    assert_eq!(
        Manifest::parse(&fs::read(aof_dir.join("appendonly.aof.manifest")).unwrap())
            .unwrap()
            .incr
            .len(),
        1
    );
}
