//! Sentinel mode end to end, with real processes on loopback ports: the seed scenario of
//! issue 8 (a primary, two replicas, three sentinels with quorum 2 and
//! down-after-milliseconds 1000; the primary is killed; the sentinels promote a replica,
//! clients find it, the data is intact and the old primary rejoins as a replica).

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::TestServer;
use redis::Value;

const MASTER: &str = "mymaster";

fn sentinel_conf(dir: &std::path::Path, index: usize, primary_port: u16) -> std::path::PathBuf {
    let path = dir.join(format!("sentinel-{index}.conf"));
    std::fs::write(
        &path,
        format!(
            "# test sentinel\nsentinel monitor {MASTER} 127.0.0.1 {primary_port} 2\n\
             sentinel down-after-milliseconds {MASTER} 1000\n\
             sentinel failover-timeout {MASTER} 10000\n"
        ),
    )
    .expect("write sentinel.conf");
    path
}

/// SENTINEL MASTER's fields as a map.
fn master_fields(sentinel: &TestServer) -> HashMap<String, String> {
    let fields: Vec<String> = redis::cmd("SENTINEL")
        .arg("MASTER")
        .arg(MASTER)
        .query(&mut sentinel.client())
        .expect("SENTINEL MASTER");
    fields
        .chunks(2)
        .filter_map(|pair| match pair {
            [k, v] => Some((k.clone(), v.clone())),
            _ => None,
        })
        .collect()
}

fn master_addr(sentinel: &TestServer) -> Option<(String, u16)> {
    let mut client = redis::Client::open(format!("redis://127.0.0.1:{}/", sentinel.port))
        .ok()?
        .get_connection()
        .ok()?;
    redis::cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg(MASTER)
        .query(&mut client)
        .ok()
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn role(port: u16) -> Option<Vec<Value>> {
    let mut client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .ok()?
        .get_connection()
        .ok()?;
    redis::cmd("ROLE").query(&mut client).ok()
}

/// A slotkv-server started on a given port (the old primary coming back), killed by PID
/// when dropped.
struct Restarted(Child);

impl Restarted {
    /// Starts a server on `port` and waits until it answers.
    fn start(port: u16, extra: &[&str]) -> Restarted {
        let port_text = port.to_string();
        let mut args = vec!["--port", &port_text, "--bind", "127.0.0.1", "--save", ""];
        args.extend_from_slice(extra);
        let server = Restarted(
            Command::new(env!("CARGO_BIN_EXE_slotkv-server"))
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start slotkv-server"),
        );
        wait_for("the server answers", Duration::from_secs(10), || {
            role(port).is_some()
        });
        server
    }
}

impl Drop for Restarted {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn seed_scenario_fails_over_and_the_old_primary_rejoins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let primary = TestServer::start(&[]);
    let primary_port = primary.port;
    let replica_of = ["--replicaof", "127.0.0.1", &primary_port.to_string()].map(str::to_owned);
    let replica_args: Vec<&str> = replica_of.iter().map(String::as_str).collect();
    let replicas = [
        TestServer::start(&replica_args),
        TestServer::start(&replica_args),
    ];
    let confs: Vec<String> = (0..3)
        .map(|i| {
            sentinel_conf(dir.path(), i, primary_port)
                .display()
                .to_string()
        })
        .collect();
    let sentinels: Vec<TestServer> = confs
        .iter()
        .map(|conf| TestServer::start(&[conf, "--sentinel"]))
        .collect();

    // Discovery: every sentinel knows both replicas and the two other sentinels.
    wait_for("discovery", Duration::from_secs(30), || {
        sentinels.iter().all(|s| {
            let fields = master_fields(s);
            fields.get("num-slaves").map(String::as_str) == Some("2")
                && fields.get("num-other-sentinels").map(String::as_str) == Some("2")
        })
    });
    let ckquorum: String = redis::cmd("SENTINEL")
        .arg("CKQUORUM")
        .arg(MASTER)
        .query(&mut sentinels[0].client())
        .expect("CKQUORUM");
    assert_eq!(
        ckquorum,
        "OK 3 usable Sentinels. Quorum and failover authorization can be reached"
    );

    // Data: written on the primary, read on the replicas; replicas refuse writes.
    let mut client = primary.client();
    let _: () = redis::cmd("SET")
        .arg("scott")
        .arg("tiger")
        .query(&mut client)
        .expect("SET");
    let acked: i64 = redis::cmd("WAIT")
        .arg(2)
        .arg(5000)
        .query(&mut client)
        .expect("WAIT");
    assert_eq!(acked, 2);
    for replica in &replicas {
        let value: String = redis::cmd("GET")
            .arg("scott")
            .query(&mut replica.client())
            .expect("GET");
        assert_eq!(value, "tiger");
        let refused: redis::RedisResult<()> = redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query(&mut replica.client());
        let error = refused.expect_err("a replica refuses writes");
        assert_eq!(error.code(), Some("READONLY"), "{error}");
    }

    // The primary dies.
    let killed_at = Instant::now();
    drop(client);
    drop(primary);
    let mut new_port = 0;
    wait_for("a new primary", Duration::from_secs(30), || {
        let addrs: Vec<Option<(String, u16)>> = sentinels.iter().map(master_addr).collect();
        match addrs.as_slice() {
            [Some(a), Some(b), Some(c)] if a == b && b == c && a.1 != primary_port => {
                new_port = a.1;
                true
            }
            _ => false,
        }
    });
    let failover_time = killed_at.elapsed();
    assert!(replicas.iter().any(|r| r.port == new_port));
    let new_primary = replicas
        .iter()
        .find(|r| r.port == new_port)
        .expect("promoted replica");
    wait_for(
        "the promoted replica takes writes",
        Duration::from_secs(10),
        || {
            redis::cmd("SET")
                .arg("after")
                .arg("failover")
                .query::<()>(&mut new_primary.client())
                .is_ok()
        },
    );
    let value: String = redis::cmd("GET")
        .arg("scott")
        .query(&mut new_primary.client())
        .expect("GET");
    assert_eq!(value, "tiger", "acknowledged data survives the failover");
    eprintln!("failover took {failover_time:?}");

    // The old primary comes back on its port and is turned into a replica of the new one.
    let old = Restarted(
        Command::new(env!("CARGO_BIN_EXE_slotkv-server"))
            .args([
                "--port",
                &primary_port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("restart the old primary"),
    );
    wait_for(
        "the old primary rejoins as a replica",
        Duration::from_secs(40),
        || {
            matches!(role(primary_port).as_deref(), Some([Value::BulkString(kind), _, Value::Int(port), ..])
            if kind == b"slave" && *port == i64::from(new_port))
        },
    );
    wait_for(
        "the old primary has the data",
        Duration::from_secs(20),
        || {
            let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{primary_port}/"))
            else {
                return false;
            };
            let Ok(mut conn) = client.get_connection() else {
                return false;
            };
            redis::cmd("GET")
                .arg("after")
                .query::<Option<String>>(&mut conn)
                .ok()
                .flatten()
                == Some("failover".into())
        },
    );
    drop(old);

    // The state reached every sentinel.conf.
    for conf in &confs {
        let text = std::fs::read_to_string(conf).expect("read sentinel.conf");
        assert!(text.starts_with("# test sentinel\n"), "{text}");
        assert!(
            text.contains(&format!("sentinel monitor {MASTER} 127.0.0.1 {new_port} 2")),
            "{text}"
        );
        assert_eq!(text.matches("sentinel known-sentinel").count(), 2, "{text}");
        assert!(text.contains("sentinel myid "), "{text}");
        assert!(text.contains("sentinel current-epoch "), "{text}");
    }
}

#[test]
fn answers_commands_as_redis_sentinel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = sentinel_conf(dir.path(), 0, 1).display().to_string();
    let sentinel = TestServer::start(&[&conf, "--sentinel"]);
    let mut client = sentinel.client();
    let pong: String = redis::cmd("PING").query(&mut client).expect("PING");
    assert_eq!(pong, "PONG");
    let role: (String, Vec<String>) = redis::cmd("ROLE").query(&mut client).expect("ROLE");
    assert_eq!(role, ("sentinel".into(), vec![MASTER.to_owned()]));
    let addr: (String, u16) = redis::cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg(MASTER)
        .query(&mut client)
        .expect("address");
    assert_eq!(addr, ("127.0.0.1".into(), 1));
    let none: Option<Vec<String>> = redis::cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg("nope")
        .query(&mut client)
        .expect("null");
    assert_eq!(none, None);
    let error = redis::cmd("SENTINEL")
        .arg("MASTER")
        .arg("nope")
        .query::<Value>(&mut client)
        .expect_err("unknown master");
    assert!(
        error.to_string().contains("No such master with that name"),
        "{error}"
    );
    let id: String = redis::cmd("SENTINEL")
        .arg("MYID")
        .query(&mut client)
        .expect("MYID");
    assert_eq!(id.len(), 40);
    let ok: String = redis::cmd("SENTINEL")
        .arg("MONITOR")
        .arg("other")
        .arg("127.0.0.1")
        .arg(2)
        .arg(1)
        .query(&mut client)
        .expect("MONITOR");
    assert_eq!(ok, "OK");
    let duplicate = redis::cmd("SENTINEL")
        .arg("MONITOR")
        .arg("other")
        .arg("127.0.0.1")
        .arg(2)
        .arg(1)
        .query::<Value>(&mut client)
        .expect_err("duplicate");
    assert!(
        duplicate.to_string().contains("Duplicated master name"),
        "{duplicate}"
    );
    let info: String = redis::cmd("INFO")
        .arg("sentinel")
        .query(&mut client)
        .expect("INFO");
    assert!(info.contains("sentinel_masters:2"), "{info}");
    let text = std::fs::read_to_string(&conf).expect("conf");
    assert!(
        text.contains("sentinel monitor other 127.0.0.1 2 1"),
        "{text}"
    );
    let nogood = redis::cmd("SENTINEL")
        .arg("FAILOVER")
        .arg(MASTER)
        .query::<Value>(&mut client)
        .expect_err("no replica");
    assert!(
        nogood
            .to_string()
            .contains("No suitable replica to promote"),
        "{nogood}"
    );
    // A restarted sentinel remembers what it wrote: its id and the masters it monitors.
    drop(client);
    drop(sentinel);
    let sentinel = TestServer::start(&[&conf, "--sentinel"]);
    let mut client = sentinel.client();
    let again: String = redis::cmd("SENTINEL")
        .arg("MYID")
        .query(&mut client)
        .expect("MYID");
    assert_eq!(again, id);
    let role: (String, Vec<String>) = redis::cmd("ROLE").query(&mut client).expect("ROLE");
    assert_eq!(role.1, vec!["mymaster".to_owned(), "other".to_owned()]);
}

/// The connected replicas a server reports (ROLE), when it is a master.
fn replica_count(port: u16) -> Option<usize> {
    match role(port)?.as_slice() {
        [Value::BulkString(kind), _, Value::Array(replicas)] if kind == b"master" => {
            Some(replicas.len())
        }
        _ => None,
    }
}

fn client(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .expect("client")
        .get_connection()
        .expect("connect")
}

/// Redis's known pain, which must not happen here: the primary killed again and again.
/// Each time a replica exists, a new primary is elected, and every write acknowledged by
/// all connected replicas (WAIT) is still there at the end.
#[test]
fn primary_killed_five_times_in_a_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports: Vec<u16> = (0..3).map(|_| common::free_port()).collect();
    let primary_text = ports[0].to_string();
    let mut servers: HashMap<u16, Restarted> = HashMap::new();
    servers.insert(ports[0], Restarted::start(ports[0], &[]));
    for &port in &ports[1..] {
        servers.insert(
            port,
            Restarted::start(port, &["--replicaof", "127.0.0.1", &primary_text]),
        );
    }
    let confs: Vec<String> = (0..3)
        .map(|i| sentinel_conf(dir.path(), i, ports[0]).display().to_string())
        .collect();
    let sentinels: Vec<TestServer> = confs
        .iter()
        .map(|conf| TestServer::start(&[conf, "--sentinel"]))
        .collect();
    wait_for("discovery", Duration::from_secs(30), || {
        sentinels.iter().all(|s| {
            let fields = master_fields(s);
            fields.get("num-slaves").map(String::as_str) == Some("2")
                && fields.get("num-other-sentinels").map(String::as_str) == Some("2")
        })
    });
    let mut primary = ports[0];
    let mut written = Vec::new();
    for round in 1..=5 {
        wait_for(
            &format!("round {round}: a replica is attached"),
            Duration::from_secs(40),
            || replica_count(primary).is_some_and(|n| n >= 1),
        );
        let key = format!("round:{round}");
        let mut conn = client(primary);
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(round)
            .query(&mut conn)
            .expect("SET");
        let replicas = replica_count(primary).unwrap_or(0);
        let acked: usize = redis::cmd("WAIT")
            .arg(replicas)
            .arg(5000)
            .query(&mut conn)
            .expect("WAIT");
        assert_eq!(acked, replicas, "round {round}: every replica acknowledges");
        written.push(key);
        drop(conn);
        drop(servers.remove(&primary));
        let killed = primary;
        wait_for(
            &format!("round {round}: a new primary"),
            Duration::from_secs(20),
            || {
                let addrs: Vec<Option<(String, u16)>> = sentinels.iter().map(master_addr).collect();
                match addrs.as_slice() {
                    [Some(a), Some(b), Some(c)] if a == b && b == c && a.1 != killed => {
                        primary = a.1;
                        true
                    }
                    _ => false,
                }
            },
        );
        wait_for(
            &format!("round {round}: the new primary takes writes"),
            Duration::from_secs(10),
            || {
                redis::cmd("SET")
                    .arg("probe")
                    .arg(round)
                    .query::<()>(&mut client(primary))
                    .is_ok()
            },
        );
        servers.insert(killed, Restarted::start(killed, &[]));
    }
    let mut conn = client(primary);
    for key in &written {
        let value: Option<String> = redis::cmd("GET").arg(key).query(&mut conn).expect("GET");
        assert!(
            value.is_some(),
            "{key}, acknowledged by every replica, survived five failovers"
        );
    }
}

/// `sentinel auth-pass` reaches servers that need a password, and a sentinel with
/// `requirepass` wants AUTH from its own clients.
#[test]
fn authentication_on_both_sides() {
    let dir = tempfile::tempdir().expect("tempdir");
    let primary = TestServer::start(&["--requirepass", "secret"]);
    let primary_text = primary.port.to_string();
    let _replica = TestServer::start(&[
        "--requirepass",
        "secret",
        "--masterauth",
        "secret",
        "--replicaof",
        "127.0.0.1",
        &primary_text,
    ]);
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "requirepass guard\nsentinel monitor {MASTER} 127.0.0.1 {} 1\n\
             sentinel down-after-milliseconds {MASTER} 1000\nsentinel auth-pass {MASTER} secret\n",
            primary.port
        ),
    )
    .expect("write sentinel.conf");
    let conf = conf.display().to_string();
    let sentinel = TestServer::start(&[&conf, "--sentinel", "--requirepass", "guard"]);
    let mut client = redis::Client::open(format!("redis://127.0.0.1:{}/", sentinel.port))
        .expect("client")
        .get_connection()
        .expect("connect");
    let refused = redis::cmd("PING")
        .query::<String>(&mut client)
        .expect_err("NOAUTH");
    assert_eq!(refused.code(), Some("NOAUTH"), "{refused}");
    let wrong = redis::cmd("AUTH")
        .arg("nope")
        .query::<String>(&mut client)
        .expect_err("WRONGPASS");
    assert_eq!(wrong.code(), Some("WRONGPASS"), "{wrong}");
    let ok: String = redis::cmd("AUTH")
        .arg("guard")
        .query(&mut client)
        .expect("AUTH");
    assert_eq!(ok, "OK");
    // Authenticated PINGs keep the master up, and its INFO lists the replica.
    wait_for("the replica is discovered", Duration::from_secs(20), || {
        let fields: Vec<String> = redis::cmd("SENTINEL")
            .arg("MASTER")
            .arg(MASTER)
            .query(&mut client)
            .expect("SENTINEL MASTER");
        let fields: HashMap<&str, &str> = fields
            .chunks(2)
            .filter_map(|pair| match pair {
                [k, v] => Some((k.as_str(), v.as_str())),
                _ => None,
            })
            .collect();
        fields.get("num-slaves") == Some(&"1") && fields.get("flags") == Some(&"master")
    });
    let text = std::fs::read_to_string(&conf).expect("read sentinel.conf");
    assert!(
        text.contains(&format!("sentinel auth-pass {MASTER} secret")),
        "{text}"
    );
    assert!(text.starts_with("requirepass guard\n"), "{text}");
}

/// `INFO`'s lines as a map, and its section titles in order.
fn parse_info(text: &str) -> (HashMap<String, String>, Vec<String>) {
    let mut fields = HashMap::new();
    let mut titles = Vec::new();
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("# ") {
            titles.push(title.to_owned());
        } else if let Some((name, value)) = line.split_once(':') {
            fields.insert(name.to_owned(), value.to_owned());
        }
    }
    (fields, titles)
}

fn info(
    client: &mut redis::Connection,
    sections: &[&str],
) -> (HashMap<String, String>, Vec<String>) {
    let text: String = redis::cmd("INFO")
        .arg(sections)
        .query(client)
        .expect("INFO");
    parse_info(&text)
}

#[test]
fn info_shows_redis_sentinel_sections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = sentinel_conf(dir.path(), 0, 1).display().to_string();
    let sentinel = TestServer::start(&[&conf, "--sentinel"]);
    let mut client = sentinel.client();
    let all = ["Server", "Clients", "Stats", "CPU", "Sentinel"].map(str::to_owned);
    for asked in [&[][..], &["default"], &["all"], &["EVERYTHING"]] {
        let (_, titles) = info(&mut client, asked);
        assert_eq!(titles, all, "INFO {asked:?}");
    }
    let (fields, _) = info(&mut client, &[]);
    for (name, value) in [
        ("redis_mode", "sentinel".to_owned()),
        ("tcp_port", sentinel.port.to_string()),
        ("process_id", sentinel.pid().to_string()),
        ("config_file", conf.clone()),
        ("arch_bits", usize::BITS.to_string()),
        ("maxclients", "10000".to_owned()),
        ("blocked_clients", "0".to_owned()),
        ("rejected_connections", "0".to_owned()),
        ("sentinel_masters", "1".to_owned()),
        ("sentinel_simulate_failure_flags", "0".to_owned()),
    ] {
        assert_eq!(fields.get(name), Some(&value), "{name}");
    }
    for name in [
        "redis_version",
        "os",
        "run_id",
        "uptime_in_seconds",
        "uptime_in_days",
        "executable",
        "connected_clients",
        "total_connections_received",
        "total_commands_processed",
        "used_cpu_sys",
        "used_cpu_user",
        "used_cpu_sys_children",
        "used_cpu_user_children",
    ] {
        assert!(fields.contains_key(name), "{name} is missing");
    }
    let (cpu, titles) = info(&mut client, &["Cpu"]);
    assert_eq!(titles, ["CPU"]);
    assert!(cpu.contains_key("used_cpu_user"));
    let (_, titles) = info(&mut client, &["clients", "server"]);
    assert_eq!(titles, ["Server", "Clients"], "in INFO's own order");
    let empty: String = redis::cmd("INFO")
        .arg("keyspace")
        .query(&mut client)
        .expect("INFO keyspace");
    assert_eq!(empty, "", "not a sentinel section");

    // Counters: commands, and subscriptions of a client until it leaves.
    let (before, _) = info(&mut client, &["stats"]);
    let (after, _) = info(&mut client, &["stats"]);
    let processed = |f: &HashMap<String, String>| -> u64 {
        f["total_commands_processed"].parse().expect("number")
    };
    assert_eq!(
        processed(&after),
        processed(&before) + 1,
        "an INFO counts once done"
    );
    let mut subscriber = sentinel.raw();
    subscriber.cmd("SUBSCRIBE +sdown +odown");
    subscriber.reply();
    subscriber.cmd("PSUBSCRIBE *");
    let (stats, _) = info(&mut client, &["stats"]);
    assert_eq!(stats["pubsub_channels"], "2");
    assert_eq!(stats["pubsub_patterns"], "1");
    drop(subscriber);
    wait_for("the subscriber is gone", Duration::from_secs(5), || {
        let (stats, _) = info(&mut client, &["stats"]);
        stats["pubsub_channels"] == "0" && stats["pubsub_patterns"] == "0"
    });

    let ok: String = redis::cmd("SENTINEL")
        .arg("SIMULATE-FAILURE")
        .arg("crash-after-election")
        .arg("crash-after-promotion")
        .query(&mut client)
        .expect("SIMULATE-FAILURE");
    assert_eq!(ok, "OK");
    let (fields, _) = info(&mut client, &["sentinel"]);
    assert_eq!(fields["sentinel_simulate_failure_flags"], "3");
    let unknown = redis::cmd("SENTINEL")
        .arg("SIMULATE-FAILURE")
        .arg("crash-now")
        .query::<Value>(&mut client)
        .expect_err("unknown flag");
    assert!(
        unknown
            .to_string()
            .contains("Unknown failure simulation specified"),
        "{unknown}"
    );
}

#[test]
fn maxclients_refuses_clients_beyond_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = sentinel_conf(dir.path(), 0, 1).display().to_string();
    let sentinel = TestServer::start(&[&conf, "--sentinel", "--maxclients", "2"]);
    let mut first = sentinel.raw();
    // The start-up probe's connection may still be closing.
    wait_for("one client connected", Duration::from_secs(5), || {
        first
            .cmd("INFO clients")
            .contains("connected_clients:1\r\n")
    });
    assert!(first.cmd("INFO clients").contains("maxclients:2\r\n"));
    let mut second = sentinel.raw();
    assert_eq!(second.cmd("PING"), "+PONG");
    let mut third = sentinel.raw();
    assert_eq!(third.line(), "-ERR max number of clients reached\r\n");
    assert!(third.is_closed());
    let stats = first.cmd("INFO stats");
    assert!(stats.contains("rejected_connections:1\r\n"), "{stats}");
    // A client that leaves gives its place back.
    drop(second);
    wait_for("the second client is gone", Duration::from_secs(5), || {
        first
            .cmd("INFO clients")
            .contains("connected_clients:1\r\n")
    });
    let mut fourth = sentinel.raw();
    assert_eq!(fourth.cmd("PING"), "+PONG");
}

/// A sentinel alone (quorum 1) watching a fresh primary, logging to a file in `dir`;
/// returns the sentinel, its conf path and its log path.
fn lone_sentinel(
    dir: &std::path::Path,
    primary_port: u16,
) -> (TestServer, std::path::PathBuf, std::path::PathBuf) {
    let conf = dir.join("sentinel.conf");
    let log = dir.join("sentinel.log");
    std::fs::write(
        &conf,
        format!(
            "sentinel monitor {MASTER} 127.0.0.1 {primary_port} 1\n\
             sentinel down-after-milliseconds {MASTER} 1000\n\
             sentinel failover-timeout {MASTER} 10000\n"
        ),
    )
    .expect("write sentinel.conf");
    let conf_text = conf.display().to_string();
    let log_text = log.display().to_string();
    let sentinel = TestServer::start(&[&conf_text, "--sentinel", "--logfile", &log_text]);
    (sentinel, conf, log)
}

/// A primary with one replica, and a [`lone_sentinel`] that has discovered the replica;
/// returns the primary, the replica, the sentinel and its log path.
fn lone_sentinel_with_replica(
    dir: &std::path::Path,
) -> (TestServer, TestServer, TestServer, std::path::PathBuf) {
    let primary = TestServer::start(&[]);
    let primary_text = primary.port.to_string();
    let replica = TestServer::start(&["--replicaof", "127.0.0.1", &primary_text]);
    let (sentinel, _, log) = lone_sentinel(dir, primary.port);
    wait_for("the replica is discovered", Duration::from_secs(30), || {
        master_fields(&sentinel)
            .get("num-slaves")
            .map(String::as_str)
            == Some("1")
    });
    (primary, replica, sentinel, log)
}

fn simulate_failure(sentinel: &TestServer, flag: &str) {
    let ok: String = redis::cmd("SENTINEL")
        .arg("SIMULATE-FAILURE")
        .arg(flag)
        .query(&mut sentinel.client())
        .expect("SIMULATE-FAILURE");
    assert_eq!(ok, "OK");
}

/// Waits for the sentinel to exit as SIMULATE-FAILURE makes it: status 99, Redis's line in
/// the log.
fn assert_simulated_crash(sentinel: &mut TestServer, log: &std::path::Path) {
    let status = sentinel
        .wait_exit(Duration::from_secs(30))
        .expect("the sentinel exits");
    assert_eq!(status.code(), Some(99));
    let text = std::fs::read_to_string(log).expect("read the log");
    assert!(
        text.contains("Sentinel CRASH because of SENTINEL simulate-failure"),
        "{text}"
    );
}

#[test]
fn crash_after_election_exits_with_status_99() {
    let dir = tempfile::tempdir().expect("tempdir");
    let primary = TestServer::start(&[]);
    let (mut sentinel, conf, log) = lone_sentinel(dir.path(), primary.port);
    simulate_failure(&sentinel, "crash-after-election");
    drop(primary);
    assert_simulated_crash(&mut sentinel, &log);
    let text = std::fs::read_to_string(&conf).expect("read sentinel.conf");
    assert!(
        text.contains("sentinel current-epoch 1"),
        "the epoch of the election was saved: {text}"
    );
}

#[test]
fn crash_after_promotion_exits_once_the_replica_is_promoted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (primary, replica, mut sentinel, log) = lone_sentinel_with_replica(dir.path());
    simulate_failure(&sentinel, "crash-after-promotion");
    drop(primary);
    assert_simulated_crash(&mut sentinel, &log);
    assert!(
        matches!(role(replica.port).as_deref(), Some([Value::BulkString(kind), ..]) if kind == b"master"),
        "the replica was promoted before the crash"
    );
}

#[test]
fn a_forced_failover_replies_before_the_crash_after_election() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_primary, _replica, mut sentinel, log) = lone_sentinel_with_replica(dir.path());
    simulate_failure(&sentinel, "crash-after-election");
    let mut client = sentinel.client();
    let mut reply = None;
    // The replica is good to promote once the sentinel has its INFO with the link up.
    wait_for(
        "SENTINEL FAILOVER accepted",
        Duration::from_secs(30),
        || {
            let answer = redis::cmd("SENTINEL")
                .arg("FAILOVER")
                .arg(MASTER)
                .query::<String>(&mut client);
            match answer {
                Ok(ok) => reply = Some(ok),
                Err(error) => assert!(error.to_string().contains("NOGOODSLAVE"), "{error}"),
            }
            reply.is_some()
        },
    );
    assert_eq!(
        reply.as_deref(),
        Some("OK"),
        "the +OK comes before the crash"
    );
    assert_simulated_crash(&mut sentinel, &log);
}

/// `SENTINEL MONITOR name host port 1` on `sentinel`.
fn monitor(sentinel: &TestServer, name: &str, host: &str, port: u16) -> redis::RedisResult<String> {
    redis::cmd("SENTINEL")
        .arg("MONITOR")
        .arg(name)
        .arg(host)
        .arg(port)
        .arg(1)
        .query(&mut sentinel.client())
}

/// GET-MASTER-ADDR-BY-NAME `name` on `sentinel`.
fn addr_of(sentinel: &TestServer, name: &str) -> (String, u16) {
    redis::cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg(name)
        .query(&mut sentinel.client())
        .expect("GET-MASTER-ADDR-BY-NAME")
}

/// A field of SENTINEL MASTER `name`.
fn master_field(sentinel: &TestServer, name: &str, field: &str) -> Option<String> {
    let fields: Vec<String> = redis::cmd("SENTINEL")
        .arg("MASTER")
        .arg(name)
        .query(&mut sentinel.client())
        .ok()?;
    fields
        .chunks(2)
        .find(|pair| pair[0] == field)
        .and_then(|pair| pair.get(1).cloned())
}

fn assert_refused(result: redis::RedisResult<String>) {
    let error = result.expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("Invalid IP address or hostname specified"),
        "{error}"
    );
}

/// resolve-hostnames and announce-hostnames as Redis documents them ("IP addresses and DNS
/// names"), with `localhost` (127.0.0.1 here): a name is refused under resolve-hostnames
/// no; under yes it is resolved (one that does not resolve is refused) and shown as its
/// address, or as the name under announce-hostnames yes, set at run time for the masters
/// added afterwards, whose links look the name up.
#[test]
fn hostnames_are_resolved_and_announced_as_configured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let primary = TestServer::start(&[]);
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(&conf, "# no master yet\n").expect("write sentinel.conf");
    let conf_text = conf.display().to_string();
    let sentinel = TestServer::start(&[&conf_text, "--sentinel"]);

    assert_refused(monitor(&sentinel, "m", "localhost", primary.port));
    let set = |option: &str, value: &str| {
        let ok: String = redis::cmd("SENTINEL")
            .arg("CONFIG")
            .arg("SET")
            .arg(option)
            .arg(value)
            .query(&mut sentinel.client())
            .expect("CONFIG SET");
        assert_eq!(ok, "OK");
    };
    set("resolve-hostnames", "yes");
    assert_refused(monitor(
        &sentinel,
        "m",
        "no-such-host.invalid",
        primary.port,
    ));
    assert_eq!(
        monitor(&sentinel, "m", "localhost", primary.port).expect("MONITOR"),
        "OK"
    );
    assert_eq!(addr_of(&sentinel, "m"), ("127.0.0.1".into(), primary.port));
    assert_eq!(
        master_field(&sentinel, "m", "ip").as_deref(),
        Some("127.0.0.1")
    );
    let text = std::fs::read_to_string(&conf).expect("read sentinel.conf");
    assert!(
        text.contains(&format!("sentinel monitor m 127.0.0.1 {} 1", primary.port)),
        "{text}"
    );

    set("announce-hostnames", "yes");
    assert_refused(monitor(
        &sentinel,
        "n",
        "no-such-host.invalid",
        primary.port,
    ));
    assert_eq!(
        monitor(&sentinel, "n", "localhost", primary.port).expect("MONITOR"),
        "OK"
    );
    assert_eq!(addr_of(&sentinel, "n"), ("localhost".into(), primary.port));
    assert_eq!(
        master_field(&sentinel, "n", "ip").as_deref(),
        Some("localhost")
    );
    assert_eq!(
        addr_of(&sentinel, "m"),
        ("127.0.0.1".into(), primary.port),
        "an address kept before the change stays"
    );
    // The link to `localhost` resolves it: the primary's INFO (its run id) comes back.
    wait_for(
        "INFO through the named link",
        Duration::from_secs(10),
        || master_field(&sentinel, "n", "runid").is_some_and(|id| id.len() == 40),
    );
    let text = std::fs::read_to_string(&conf).expect("read sentinel.conf");
    assert!(
        text.contains(&format!("sentinel monitor n localhost {} 1", primary.port)),
        "{text}"
    );
}

/// A sentinel started on `conf` that is expected to refuse it: its exit status and stderr
/// (killed by its PID if it keeps running).
fn start_refused(conf: &std::path::Path) -> (Option<std::process::ExitStatus>, String) {
    let port = common::free_port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_slotkv-server"))
        .args([&conf.display().to_string(), "--sentinel", "--port", &port])
        .args(["--bind", "127.0.0.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn slotkv-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = None;
    while status.is_none() && Instant::now() < deadline {
        status = child.try_wait().ok().flatten();
        std::thread::sleep(Duration::from_millis(20));
    }
    // Kills it only if it still runs (std knows an exited child and signals nothing).
    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    (status, stderr)
}

/// The `sentinel monitor` lines of sentinel.conf: a name is resolved at start-up whatever
/// the order of the lines, shown as configured, and refused as Redis refuses it (the
/// sentinel does not start) when it does not resolve or resolve-hostnames is no.
#[test]
fn monitored_hostnames_in_sentinel_conf() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("sentinel.conf");
    let conf_text = conf.display().to_string();
    for (announce, shown) in [("no", "127.0.0.1"), ("yes", "localhost")] {
        std::fs::write(
            &conf,
            format!(
                "sentinel monitor {MASTER} localhost 1 1\nsentinel resolve-hostnames yes\n\
                 sentinel announce-hostnames {announce}\n"
            ),
        )
        .expect("write sentinel.conf");
        let sentinel = TestServer::start(&[&conf_text, "--sentinel"]);
        assert_eq!(addr_of(&sentinel, MASTER), (shown.to_owned(), 1));
    }
    for text in [
        format!("sentinel monitor {MASTER} localhost 1 1\n"),
        format!(
            "sentinel resolve-hostnames yes\nsentinel monitor {MASTER} no-such-host.invalid 1 1\n"
        ),
    ] {
        std::fs::write(&conf, &text).expect("write sentinel.conf");
        let (status, stderr) = start_refused(&conf);
        assert!(status.is_some_and(|s| !s.success()), "{text}: {status:?}");
        assert!(
            stderr.contains("Can't resolve instance hostname."),
            "{text}: {stderr}"
        );
    }
}
