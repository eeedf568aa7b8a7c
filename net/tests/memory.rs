//! maxmemory end to end: a real server holds its limit under a stream of distinct keys
//! (allkeys-lru), refuses writes with Redis's OOM error under noeviction (also inside MULTI),
//! reports evictions in INFO and as keyspace events, and answers MEMORY and OBJECT FREQ.

mod common;

use common::TestServer;
use redis::{cmd, Connection, Value};

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// A numeric field of INFO.
fn info_field(con: &mut Connection, section: &str, name: &str) -> u64 {
    let text: String = cmd("INFO").arg(section).query(con).expect("INFO");
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO has no numeric {name}"))
}

fn config_set(con: &mut Connection, name: &str, value: &str) {
    let () = cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(con)
        .expect("CONFIG SET");
}

fn error_text(result: redis::RedisResult<Value>) -> String {
    let err = result.expect_err("the command must fail");
    format!(
        "{} {}",
        err.code().unwrap_or("?"),
        err.detail().unwrap_or("")
    )
}

#[test]
fn allkeys_lru_holds_the_limit_without_refusing_a_write() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let base = info_field(&mut con, "memory", "used_memory");
    let limit = base + 8 * 1024 * 1024;
    config_set(&mut con, "maxmemory", &limit.to_string());
    config_set(&mut con, "maxmemory-policy", "allkeys-lru");
    let value = vec![b'v'; 1000];
    for batch in 0..40 {
        let mut pipe = redis::pipe();
        for i in 0..1000 {
            pipe.cmd("SET")
                .arg(format!("key:{batch}:{i}"))
                .arg(&value)
                .ignore();
        }
        let () = pipe.query(&mut con).expect("no write is refused");
    }
    let used = info_field(&mut con, "memory", "used_memory");
    assert!(
        used <= limit + limit / 20,
        "used {used} over limit {limit} + 5%"
    );
    let keys: u64 = cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    let evicted = info_field(&mut con, "stats", "evicted_keys");
    assert!(
        keys < 40_000 && evicted > 0,
        "keys {keys}, evicted {evicted}"
    );
    assert_eq!(keys + evicted, 40_000);
    assert_eq!(info_field(&mut con, "memory", "maxmemory"), limit);
}

#[test]
fn noeviction_refuses_writes_but_serves_reads_and_deletes() {
    let server = TestServer::start(&["--maxmemory-policy", "noeviction"]);
    let mut con = server.client();
    let () = cmd("SET")
        .arg("kept")
        .arg("1")
        .query(&mut con)
        .expect("SET");
    config_set(&mut con, "maxmemory", "1");
    assert_eq!(
        error_text(cmd("SET").arg("k").arg("v").query(&mut con)),
        OOM
    );
    let kept: String = cmd("GET").arg("kept").query(&mut con).expect("GET");
    assert_eq!(kept, "1");
    let () = cmd("MULTI").query(&mut con).expect("MULTI");
    assert_eq!(
        error_text(cmd("SET").arg("k").arg("v").query(&mut con)),
        OOM
    );
    assert!(error_text(cmd("EXEC").query(&mut con)).starts_with("EXECABORT"));
    let deleted: i64 = cmd("DEL").arg("kept").query(&mut con).expect("DEL");
    assert_eq!(deleted, 1);
    config_set(&mut con, "maxmemory", "0");
    let () = cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut con)
        .expect("SET after the limit is lifted");
}

#[test]
fn memory_directives_round_trip_and_bad_values_are_refused() {
    let server = TestServer::start(&["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lfu"]);
    let mut con = server.client();
    let get = |con: &mut Connection, name: &str| -> String {
        let pair: Vec<String> = cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query(con)
            .expect("CONFIG GET");
        pair[1].clone()
    };
    assert_eq!(get(&mut con, "maxmemory"), "104857600");
    assert_eq!(get(&mut con, "maxmemory-policy"), "allkeys-lfu");
    for (name, value) in [
        ("maxmemory-samples", "10"),
        ("maxmemory-eviction-tenacity", "50"),
        ("lfu-log-factor", "20"),
        ("lfu-decay-time", "5"),
        ("replica-ignore-maxmemory", "no"),
        ("maxmemory-policy", "volatile-ttl"),
    ] {
        config_set(&mut con, name, value);
        assert_eq!(get(&mut con, name), value);
    }
    let refused = error_text(
        cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory-policy")
            .arg("lru")
            .query(&mut con),
    );
    assert!(
        refused.contains("argument(s) must be one of the following"),
        "{refused}"
    );
    let refused = error_text(
        cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory-samples")
            .arg("0")
            .query(&mut con),
    );
    assert!(refused.contains("between 1 and 64"), "{refused}");
    let policy: String = cmd("INFO").arg("memory").query(&mut con).expect("INFO");
    assert!(policy.contains("maxmemory_policy:volatile-ttl"));
}

#[test]
fn memory_commands_and_object_freq_answer() {
    let server = TestServer::start(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut con = server.client();
    let () = cmd("SET")
        .arg("k")
        .arg("v".repeat(500))
        .query(&mut con)
        .expect("SET");
    let usage: i64 = cmd("MEMORY")
        .arg("USAGE")
        .arg("k")
        .query(&mut con)
        .expect("USAGE");
    assert!(usage >= 500, "{usage}");
    let freq: i64 = cmd("OBJECT")
        .arg("FREQ")
        .arg("k")
        .query(&mut con)
        .expect("FREQ");
    assert!((5..=6).contains(&freq), "{freq}");
    let stats: Value = cmd("MEMORY").arg("STATS").query(&mut con).expect("STATS");
    let Value::Array(items) = stats else {
        panic!("MEMORY STATS is a flat array in RESP2: {stats:?}");
    };
    assert!(items.contains(&Value::BulkString(b"keys.count".to_vec())));
    let doctor: String = cmd("MEMORY").arg("DOCTOR").query(&mut con).expect("DOCTOR");
    assert!(!doctor.is_empty());
    let help: Vec<String> = cmd("MEMORY").arg("HELP").query(&mut con).expect("HELP");
    assert!(help.iter().any(|line| line.starts_with("USAGE")));
}

#[test]
fn evictions_are_published_as_keyspace_events() {
    let server = TestServer::start(&["--notify-keyspace-events", "Ee"]);
    let mut con = server.client();
    let mut subscriber = server.client();
    let mut pubsub = subscriber.as_pubsub();
    pubsub
        .subscribe("__keyevent@0__:evicted")
        .expect("SUBSCRIBE");
    let () = cmd("SET")
        .arg("victim")
        .arg("v")
        .query(&mut con)
        .expect("SET");
    config_set(&mut con, "maxmemory-policy", "allkeys-random");
    config_set(&mut con, "maxmemory", "1");
    let _ = cmd("GET").arg("victim").query::<Value>(&mut con);
    config_set(&mut con, "maxmemory", "0");
    pubsub
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let message = pubsub.get_message().expect("an eviction event");
    let key: String = message.get_payload().expect("payload");
    assert_eq!(key, "victim");
}
