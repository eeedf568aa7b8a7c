//! RDB persistence end to end against a real slotkv-server: SAVE and a restart that loads the
//! file, BGSAVE while clients write, SHUTDOWN saving under save points, DUMP/RESTORE with
//! Redis's replies and the `restore` event, and MISCONF after a failed background save.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use redis::{Commands, Value};

fn start_in(dir: &std::path::Path, extra: &[&str]) -> TestServer {
    let dir = dir.to_str().expect("utf-8 path");
    let mut args = vec!["--dir", dir];
    args.extend_from_slice(extra);
    TestServer::start(&args)
}

fn info_field(con: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query(con)
        .expect("INFO");
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO has no {field}: {info}"))
        .to_owned()
}

fn wait_bgsave_done(con: &mut redis::Connection) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while info_field(con, "rdb_bgsave_in_progress") != "0" {
        assert!(Instant::now() < deadline, "BGSAVE did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn save_then_restart_loads_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_in(dir.path(), &[]);
    let mut con = server.client();
    let _: () = con.set("s", "hello").expect("SET");
    let _: () = con.set_ex("t", "v", 1000).expect("SETEX");
    let _: () = con.rpush("l", &["a", "b", "c"]).expect("RPUSH");
    let _: () = con
        .hset_multiple("h", &[("f", "1"), ("g", "2")])
        .expect("HSET");
    let _: () = redis::cmd("SELECT").arg(2).query(&mut con).expect("SELECT");
    let _: () = con.sadd("set", &[1, 2, 3]).expect("SADD");
    assert_eq!(info_field(&mut con, "rdb_changes_since_last_save"), "5");
    let reply: String = redis::cmd("SAVE").query(&mut con).expect("SAVE");
    assert_eq!(reply, "OK");
    assert_eq!(info_field(&mut con, "rdb_changes_since_last_save"), "0");
    let lastsave: i64 = redis::cmd("LASTSAVE").query(&mut con).expect("LASTSAVE");
    assert!(lastsave > 1_600_000_000);
    assert!(dir.path().join("dump.rdb").exists());
    drop(server);

    let server = start_in(dir.path(), &[]);
    let mut con = server.client();
    assert_eq!(con.get::<_, String>("s").expect("GET"), "hello");
    let ttl: i64 = con.ttl("t").expect("TTL");
    assert!((990..=1000).contains(&ttl), "deadline kept: {ttl}");
    assert_eq!(
        con.lrange::<_, Vec<String>>("l", 0, -1).expect("LRANGE"),
        ["a", "b", "c"]
    );
    assert_eq!(con.hget::<_, _, String>("h", "g").expect("HGET"), "2");
    let _: () = redis::cmd("SELECT").arg(2).query(&mut con).expect("SELECT");
    assert_eq!(con.scard::<_, i64>("set").expect("SCARD"), 3);
}

#[test]
fn bgsave_while_clients_write_saves_a_consistent_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_in(dir.path(), &[]);
    let mut con = server.client();
    let mut pipe = redis::pipe();
    for i in 0..20_000 {
        pipe.set(format!("base:{i}"), i).ignore();
    }
    let _: () = pipe.query(&mut con).expect("pipeline");
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut writer = server.client();
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _: () = writer
                    .set(format!("base:{}", n % 20_000), "overwritten")
                    .expect("SET");
                let _: () = writer.incr("counter", 1).expect("INCR");
                n += 1;
            }
        });
        std::thread::sleep(Duration::from_millis(50));
        let reply: String = redis::cmd("BGSAVE").query(&mut con).expect("BGSAVE");
        assert_eq!(reply, "Background saving started");
        wait_bgsave_done(&mut con);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    assert_ne!(
        info_field(&mut con, "rdb_changes_since_last_save"),
        "0",
        "writes after the snapshot still count"
    );
    drop(server);
    let server = start_in(dir.path(), &[]);
    let mut con = server.client();
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert!(
        size == 20_000 || size == 20_001,
        "every base key and maybe the counter: {size}"
    );
    for i in (0..20_000).step_by(997) {
        let value: String = con.get(format!("base:{i}")).expect("GET");
        assert!(value == i.to_string() || value == "overwritten");
    }
}

#[test]
fn shutdown_saves_when_save_points_are_configured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start_in(dir.path(), &["--save", "3600 1"]);
    let mut con = server.client();
    let _: () = con.set("kept", "yes").expect("SET");
    let _ = redis::cmd("SHUTDOWN").query::<Value>(&mut con);
    assert!(
        server.wait_exit(Duration::from_secs(10)).is_some(),
        "the server exits"
    );
    let server = start_in(dir.path(), &[]);
    let mut con = server.client();
    assert_eq!(con.get::<_, String>("kept").expect("GET"), "yes");
}

#[test]
fn dump_and_restore_answer_as_redis_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_in(dir.path(), &[]);
    let mut con = server.client();
    let _: () = con.rpush("src", &["1", "2", "3"]).expect("RPUSH");
    let payload: Vec<u8> = redis::cmd("DUMP").arg("src").query(&mut con).expect("DUMP");
    let missing: Value = redis::cmd("DUMP")
        .arg("nothing")
        .query(&mut con)
        .expect("DUMP");
    assert_eq!(missing, Value::Nil);
    let mut events = server.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("Eg")
        .query(&mut con)
        .expect("CONFIG SET");
    let mut pubsub = events.as_pubsub();
    pubsub
        .subscribe("__keyevent@0__:restore")
        .expect("SUBSCRIBE");
    let ok: String = redis::cmd("RESTORE")
        .arg("dst")
        .arg(0)
        .arg(&payload)
        .query(&mut con)
        .expect("RESTORE");
    assert_eq!(ok, "OK");
    let message = pubsub.get_message().expect("event");
    assert_eq!(message.get_payload::<String>().expect("key"), "dst");
    assert_eq!(
        con.lrange::<_, Vec<String>>("dst", 0, -1).expect("LRANGE"),
        ["1", "2", "3"]
    );
    let error = |cmd: &mut redis::Cmd, con: &mut redis::Connection| {
        cmd.query::<Value>(con).expect_err("an error").to_string()
    };
    let busy = error(
        redis::cmd("RESTORE").arg("dst").arg(0).arg(&payload),
        &mut con,
    );
    assert!(
        busy.contains("BUSYKEY") && busy.contains("Target key name already exists"),
        "{busy}"
    );
    let ttl = error(
        redis::cmd("RESTORE").arg("x").arg(-5).arg(&payload),
        &mut con,
    );
    assert!(ttl.contains("Invalid TTL value, must be >= 0"), "{ttl}");
    let bad = error(
        redis::cmd("RESTORE")
            .arg("x")
            .arg(0)
            .arg(&b"garbage payload"[..]),
        &mut con,
    );
    assert!(
        bad.contains("DUMP payload version or checksum are wrong"),
        "{bad}"
    );
    let ok: String = redis::cmd("RESTORE")
        .arg("dst")
        .arg(60_000)
        .arg(&payload)
        .arg("REPLACE")
        .arg("IDLETIME")
        .arg(100)
        .query(&mut con)
        .expect("RESTORE REPLACE");
    assert_eq!(ok, "OK");
    let idle: i64 = redis::cmd("OBJECT")
        .arg("IDLETIME")
        .arg("dst")
        .query(&mut con)
        .expect("OBJECT");
    assert!((100..=101).contains(&idle), "{idle}");
    let pttl: i64 = con.pttl("dst").expect("PTTL");
    assert!((59_000..=60_000).contains(&pttl), "{pttl}");
}

#[test]
fn a_failed_bgsave_refuses_writes_with_misconf() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_in(dir.path(), &["--save", "3600 1"]);
    // The target name becomes a non-empty directory: the final rename fails, even for root.
    std::fs::create_dir_all(dir.path().join("dump.rdb").join("blocker")).expect("mkdir");
    let mut con = server.client();
    let _: () = con.set("k", "v").expect("SET before the failure");
    let reply: String = redis::cmd("BGSAVE").query(&mut con).expect("BGSAVE");
    assert_eq!(reply, "Background saving started");
    wait_bgsave_done(&mut con);
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "err");
    let refused = con
        .set::<_, _, ()>("k", "w")
        .expect_err("MISCONF")
        .to_string();
    assert!(
        refused.contains("MISCONF") && refused.contains("stop-writes-on-bgsave-error"),
        "{refused}"
    );
    assert_eq!(con.get::<_, String>("k").expect("reads still work"), "v");
    let saved: Value = redis::cmd("SAVE").query(&mut con).unwrap_or(Value::Nil);
    assert_ne!(saved, Value::Okay, "SAVE fails too");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("stop-writes-on-bgsave-error")
        .arg("no")
        .query(&mut con)
        .expect("CONFIG SET");
    let _: () = con.set("k", "w").expect("writes allowed again");
    std::fs::remove_dir_all(dir.path().join("dump.rdb")).expect("rmdir");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("stop-writes-on-bgsave-error")
        .arg("yes")
        .query(&mut con)
        .expect("CONFIG SET");
    let _: String = redis::cmd("BGSAVE").query(&mut con).expect("BGSAVE");
    wait_bgsave_done(&mut con);
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    let _: () = con.set("k", "x").expect("recovered");
}
