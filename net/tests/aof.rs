//! The AOF end to end with real processes: data back after a restart, every acknowledged
//! write present after SIGKILL under `appendfsync always`, MISCONF while the disk fails,
//! BGREWRITEAOF, the check tool, and directories exchanged with redis-server.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TestServer;
use rand::Rng;
use redis::Commands;

fn start(dir: &Path, extra: &[&str]) -> TestServer {
    let dir = dir.to_str().expect("utf-8 path");
    let mut args = vec!["--dir", dir, "--appendonly", "yes"];
    args.extend_from_slice(extra);
    TestServer::start(&args)
}

fn info_field(client: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg("persistence").query(client).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn data_comes_back_after_a_restart_and_a_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    {
        let server = start(dir.path(), &[]);
        let mut client = server.client();
        let _: () = client.set("a", "1").unwrap();
        let _: () = client.rpush("list", &["x", "y"]).unwrap();
        let _: () = redis::cmd("SELECT").arg(5).query(&mut client).unwrap();
        let _: () = client.hset("h", "f", "v").unwrap();
        assert_eq!(info_field(&mut client, "aof_enabled"), "1");
        let reply: String = redis::cmd("BGREWRITEAOF").query(&mut client).unwrap();
        assert_eq!(reply, "Background append only file rewriting started");
        let deadline = Instant::now() + Duration::from_secs(10);
        while info_field(&mut client, "aof_rewrite_in_progress") != "0" && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _: () = client.set("after", "rewrite").unwrap();
        let mut raw = server.raw();
        raw.send(b"SHUTDOWN\r\n");
    }
    let manifest =
        std::fs::read_to_string(dir.path().join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert_eq!(
        manifest,
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    let server = start(dir.path(), &[]);
    let mut client = server.client();
    let a: String = client.get("a").unwrap();
    let list: Vec<String> = client.lrange("list", 0, -1).unwrap();
    assert_eq!(
        (a.as_str(), list),
        ("1", vec!["x".to_owned(), "y".to_owned()])
    );
    let _: () = redis::cmd("SELECT").arg(5).query(&mut client).unwrap();
    let field: String = client.hget("h", "f").unwrap();
    let after: String = client.get("after").unwrap();
    assert_eq!((field.as_str(), after.as_str()), ("v", "rewrite"));
}

#[test]
fn every_acknowledged_write_survives_sigkill_under_appendfsync_always() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::thread_rng();
    let mut acknowledged: u64 = 0;
    // As many rounds as fit in about 12 s (some 30 to 60 here), then one full check.
    let started = Instant::now();
    let mut rounds = 0;
    while started.elapsed() < Duration::from_secs(12) {
        rounds += 1;
        let server = start(dir.path(), &["--appendfsync", "always"]);
        let mut client = server.client();
        let present: Option<String> = client.get(format!("k{acknowledged}")).unwrap();
        if acknowledged > 0 {
            assert_eq!(
                present.as_deref(),
                Some(acknowledged.to_string().as_str()),
                "round {rounds}: acknowledged write {acknowledged} lost"
            );
        }
        let port = server.port;
        let writer = std::thread::spawn(move || {
            let mut client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .and_then(|c| c.get_connection())
                .expect("connect");
            let mut last = acknowledged;
            loop {
                let next = last + 1;
                let reply: redis::RedisResult<()> =
                    client.set(format!("k{next}"), next.to_string());
                if reply.is_err() {
                    return last;
                }
                last = next;
            }
        });
        std::thread::sleep(Duration::from_millis(rng.gen_range(50..400)));
        drop(server); // SIGKILL
        acknowledged = writer.join().unwrap();
    }
    let server = start(dir.path(), &[]);
    let mut client = server.client();
    let keys: Vec<String> = (1..=acknowledged).map(|i| format!("k{i}")).collect();
    for chunk in keys.chunks(1000) {
        let values: Vec<Option<String>> = client.mget(chunk).unwrap();
        for (key, value) in chunk.iter().zip(values) {
            assert_eq!(
                value.as_deref(),
                Some(&key[1..]),
                "acknowledged write {key} lost"
            );
        }
    }
    eprintln!("{rounds} SIGKILL rounds, {acknowledged} acknowledged writes, none lost");
    assert!(
        rounds >= 10 && acknowledged > 0,
        "{rounds} rounds, {acknowledged} writes"
    );
}

#[test]
fn a_failing_disk_refuses_writes_with_misconf() {
    let dir = tempfile::tempdir().unwrap();
    let aof_dir = dir.path().join("appendonlydir");
    std::fs::create_dir(&aof_dir).unwrap();
    std::fs::write(
        aof_dir.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    std::fs::write(aof_dir.join("appendonly.aof.1.base.aof"), b"").unwrap();
    // Every write to /dev/full fails with ENOSPC, as on a full disk.
    std::os::unix::fs::symlink("/dev/full", aof_dir.join("appendonly.aof.1.incr.aof")).unwrap();
    let server = start(dir.path(), &[]);
    let mut raw = server.raw();
    raw.send(b"SET a 1\r\n");
    assert_eq!(
        raw.line(),
        "+OK\r\n",
        "buffered under everysec, the failure comes after"
    );
    raw.send(b"SET b 2\r\nGET a\r\n");
    assert_eq!(
        raw.line(),
        "-MISCONF Errors writing to the AOF file: No space left on device\r\n"
    );
    assert_eq!(raw.reply(), "$1\r\n1\r\n", "reads go on");
    let mut client = server.client();
    assert_eq!(info_field(&mut client, "aof_last_write_status"), "err");
}

#[test]
fn the_check_tool_reports_and_fixes_a_truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("single.aof");
    std::fs::write(&file, b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nDEL\r\n$1").unwrap();
    let run = |fix: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_slotkv-server"));
        command.arg("--check-aof");
        if fix {
            command.arg("--fix");
        }
        let output = command.arg(&file).stderr(Stdio::null()).output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let (ok, report) = run(false);
    assert!(!ok);
    assert!(
        report.contains("is truncated: valid up to offset 14 of 29 bytes"),
        "{report}"
    );
    let (ok, report) = run(true);
    assert!(ok, "{report}");
    assert_eq!(std::fs::read(&file).unwrap(), b"*1\r\n$4\r\nPING\r\n");
    assert!(run(false).0);
}

fn redis_server() -> Option<&'static str> {
    let path = "/usr/bin/redis-server";
    Path::new(path).exists().then_some(path)
}

/// Starts redis-server on a free port in `dir` with appendonly yes.
fn start_redis(dir: &Path) -> (std::process::Child, u16) {
    let port = common::free_port();
    let child = Command::new(redis_server().expect("redis-server"))
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "yes", "--dir", dir.to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let ready = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .and_then(|c| c.get_connection())
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
        if ready.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, port)
}

#[test]
fn directories_move_between_redis_and_slotkv() {
    if redis_server().is_none() {
        return;
    }
    // slotkv -> redis-server
    let ours = tempfile::tempdir().unwrap();
    {
        let server = start(ours.path(), &[]);
        let mut client = server.client();
        let _: () = client.set("from", "slotkv").unwrap();
        let _: () = client.zadd("z", "m", 2.5).unwrap();
        let _: () = redis::cmd("BGREWRITEAOF").query(&mut client).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let _: () = client.sadd("s", &["1", "2"]).unwrap();
        let mut raw = server.raw();
        raw.send(b"SHUTDOWN\r\n");
    }
    let (mut redis, port) = start_redis(ours.path());
    let mut client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .and_then(|c| c.get_connection())
        .unwrap();
    let from: String = client.get("from").unwrap();
    let score: f64 = client.zscore("z", "m").unwrap();
    let members: usize = client.scard("s").unwrap();
    assert_eq!((from.as_str(), score, members), ("slotkv", 2.5, 2));
    // redis-server -> slotkv (its own directory, with what it appended)
    let _: () = client.set("from", "redis").unwrap();
    let _: () = client.rpush("l", &["a", "b", "c"]).unwrap();
    let _: () = client.pexpire("l", 600_000).unwrap();
    let _: () = redis::cmd("SHUTDOWN").query(&mut client).unwrap_or(());
    let _ = redis.wait();
    let server = start(ours.path(), &[]);
    let mut client = server.client();
    let from: String = client.get("from").unwrap();
    let list: Vec<String> = client.lrange("l", 0, -1).unwrap();
    let ttl: i64 = client.pttl("l").unwrap();
    assert_eq!(from, "redis");
    assert_eq!(list, ["a", "b", "c"]);
    assert!(ttl > 500_000, "{ttl}");
}

fn wait_for_rewrite(client: &mut redis::Connection) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(client, "aof_rewrite_in_progress") != "0" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bgrewriteaof_with_appendonly_no_writes_a_base_only() {
    let dir = tempfile::tempdir().unwrap();
    let aof_dir = dir.path().join("appendonlydir");
    let manifest = || std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).unwrap();
    {
        let path = dir.path().to_str().unwrap();
        let server = TestServer::start(&["--dir", path, "--appendonly", "no"]);
        let mut client = server.client();
        let _: () = client.set("kept", "in the base").unwrap();
        for expected_seq in [1, 2] {
            let reply: String = redis::cmd("BGREWRITEAOF").query(&mut client).unwrap();
            assert_eq!(reply, "Background append only file rewriting started");
            wait_for_rewrite(&mut client);
            assert_eq!(info_field(&mut client, "aof_last_bgrewrite_status"), "ok");
            assert_eq!(
                manifest(),
                format!("file appendonly.aof.{expected_seq}.base.rdb seq {expected_seq} type b\n")
            );
        }
        assert_eq!(info_field(&mut client, "aof_enabled"), "0");
        let _: () = client.set("later", "not appended").unwrap();
        let mut files: Vec<String> = std::fs::read_dir(&aof_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(
            files,
            ["appendonly.aof.2.base.rdb", "appendonly.aof.manifest"]
        );
    }
    let server = start(dir.path(), &[]);
    let mut client = server.client();
    let kept: Option<String> = client.get("kept").unwrap();
    let later: Option<String> = client.get("later").unwrap();
    assert_eq!((kept.as_deref(), later), (Some("in the base"), None));
}
