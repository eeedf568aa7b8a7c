//! End-to-end tests: a real slotkv-server process driven by the `redis` crate and by raw RESP.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use redis::{cmd, Value};

#[test]
fn strings_round_trip_through_a_real_client() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let _: () = cmd("SET")
        .arg("greeting")
        .arg("hello")
        .query(&mut con)
        .unwrap();
    let got: String = cmd("GET").arg("greeting").query(&mut con).unwrap();
    assert_eq!(got, "hello");
    let missing: Option<String> = cmd("GET").arg("nothing").query(&mut con).unwrap();
    assert_eq!(missing, None);
    let binary = vec![0u8, 255, 13, 10, 7];
    let _: () = cmd("SET")
        .arg(&b"bin\r\nkey"[..])
        .arg(&binary)
        .query(&mut con)
        .unwrap();
    let back: Vec<u8> = cmd("GET").arg(&b"bin\r\nkey"[..]).query(&mut con).unwrap();
    assert_eq!(back, binary);
    let removed: i64 = cmd("DEL")
        .arg("greeting")
        .arg("bin\r\nkey")
        .arg("none")
        .query(&mut con)
        .unwrap();
    assert_eq!(removed, 2);
}

#[test]
fn a_pipeline_of_ten_thousand_commands_answers_in_order() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let mut pipe = redis::pipe();
    for i in 0..5_000 {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    for i in 0..5_000 {
        pipe.cmd("GET").arg(format!("key:{i}"));
    }
    let values: Vec<i64> = pipe.query(&mut con).unwrap();
    assert_eq!(values, (0..5_000).collect::<Vec<i64>>());
    let size: i64 = cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 5_000);
}

#[test]
fn raw_pipelined_requests_get_all_replies() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    let mut batch = Vec::new();
    for i in 0..1000 {
        batch.extend_from_slice(
            format!("*3\r\n$3\r\nSET\r\n$2\r\nk{}\r\n$1\r\nv\r\n", i % 10).as_bytes(),
        );
    }
    batch.extend_from_slice(b"PING\r\n");
    raw.send(&batch);
    for _ in 0..1000 {
        assert_eq!(raw.line(), "+OK\r\n");
    }
    assert_eq!(raw.line(), "+PONG\r\n");
}

#[test]
fn inline_commands_work_as_from_telnet() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    raw.send(b"SET \"a key\" 'quoted value'\r\nGET \"a key\"\nPING\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert_eq!(raw.reply(), "$12\r\nquoted value\r\n");
    assert_eq!(raw.line(), "+PONG\r\n");
}

#[test]
fn hello_3_switches_to_resp3() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    raw.send(b"HELLO 3\r\n");
    let hello = raw.reply();
    assert!(hello.starts_with("%7\r\n"), "{hello}");
    assert!(hello.contains("proto\r\n:3\r\n"), "{hello}");
    raw.send(b"GET missing\r\nCLIENT INFO\r\n");
    assert_eq!(raw.line(), "_\r\n");
    let info = raw.reply();
    assert!(
        info.starts_with('=') && info.contains("txt:id=") && info.contains("resp=3"),
        "{info}"
    );
    raw.send(b"HELLO 4\r\nHELLO 2\r\n");
    assert_eq!(raw.line(), "-NOPROTO unsupported protocol version\r\n");
    assert!(raw.reply().starts_with("*14\r\n"));
}

#[test]
fn resp3_works_for_a_real_client() {
    let server = TestServer::start(&[]);
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{}/?protocol=resp3", server.port)).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: () = cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let value: String = cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(value, "v");
    let hello: Value = cmd("HELLO").arg(3).query(&mut con).unwrap();
    assert!(matches!(hello, Value::Map(_)), "{hello:?}");
}

#[test]
fn protocol_errors_reply_and_close() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    raw.send(b"*1\r\n$x\r\n");
    assert_eq!(raw.line(), "-ERR Protocol error: invalid bulk length\r\n");
    assert!(raw.is_closed());

    let mut raw = server.raw();
    raw.send(b"*2\r\n+GET\r\n");
    assert_eq!(raw.line(), "-ERR Protocol error: expected '$', got '+'\r\n");
    assert!(raw.is_closed());

    let mut raw = server.raw();
    raw.send(b"GET \"unbalanced\r\n");
    assert_eq!(
        raw.line(),
        "-ERR Protocol error: unbalanced quotes in request\r\n"
    );
    assert!(raw.is_closed());
}

#[test]
fn huge_declared_lengths_cost_nothing_and_limits_hold() {
    let server = TestServer::start(&["--client-query-buffer-limit", "1mb"]);
    let mut raw = server.raw();
    // Declares a 500 MB argument but sends 5 bytes: the server must just wait.
    raw.send(b"*2\r\n$3\r\nGET\r\n$524288000\r\nhello");
    let mut other = server.raw();
    other.send(b"PING\r\n");
    assert_eq!(other.line(), "+PONG\r\n");
    // Past proto-max-bulk-len the length itself is refused.
    other.send(b"*1\r\n$600000000\r\n");
    assert_eq!(other.line(), "-ERR Protocol error: invalid bulk length\r\n");
    // Filling the query buffer past client-query-buffer-limit closes the connection.
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..20 {
        if raw.stream.write_all_ok(&chunk).is_err() {
            break;
        }
    }
    assert!(raw.is_closed());
}

trait WriteAllOk {
    fn write_all_ok(&mut self, data: &[u8]) -> std::io::Result<()>;
}

impl WriteAllOk for std::net::TcpStream {
    fn write_all_ok(&mut self, data: &[u8]) -> std::io::Result<()> {
        std::io::Write::write_all(self, data)
    }
}

#[test]
fn unknown_commands_and_arity_errors_use_redis_wording() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    raw.send(b"NOSUCH a b\r\nGET\r\nGET a b\r\n");
    assert_eq!(
        raw.line(),
        "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n"
    );
    assert_eq!(
        raw.line(),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        raw.line(),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
}

#[test]
fn maxclients_rejects_the_extra_client() {
    let server = TestServer::start(&["--maxclients", "2"]);
    // The start-up probe's connection must be gone from the server's count first.
    std::thread::sleep(Duration::from_millis(200));
    let mut first = server.raw();
    let mut second = server.raw();
    first.send(b"PING\r\n");
    second.send(b"PING\r\n");
    assert_eq!(first.line(), "+PONG\r\n");
    assert_eq!(second.line(), "+PONG\r\n");
    let mut third = server.raw();
    assert_eq!(third.line(), "-ERR max number of clients reached\r\n");
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let server = TestServer::start(&["--timeout", "1"]);
    let mut raw = server.raw();
    raw.send(b"PING\r\n");
    assert_eq!(raw.line(), "+PONG\r\n");
    let started = Instant::now();
    assert!(raw.is_closed());
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[test]
fn client_commands() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let id: i64 = cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    assert!(id > 0);
    let _: () = cmd("CLIENT")
        .arg("SETNAME")
        .arg("worker-1")
        .query(&mut con)
        .unwrap();
    let name: String = cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
    assert_eq!(name, "worker-1");
    let bad = cmd("CLIENT")
        .arg("SETNAME")
        .arg("has space")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(
        bad.to_string()
            .contains("Client names cannot contain spaces"),
        "{bad}"
    );
    let list: String = cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    assert!(
        list.contains(&format!("id={id} ")) && list.contains("name=worker-1"),
        "{list}"
    );
    let mut victim = server.raw();
    victim.send(b"CLIENT ID\r\n");
    let victim_id: i64 = victim
        .line()
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    let killed: i64 = cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(victim_id)
        .query(&mut con)
        .unwrap();
    assert_eq!(killed, 1);
    assert!(victim.is_closed());
    let none: i64 = cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(999_999)
        .query(&mut con)
        .unwrap();
    assert_eq!(none, 0);
}

#[test]
fn info_reports_sections_and_keyspace() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let _: () = cmd("SET").arg("a").arg("1").query(&mut con).unwrap();
    let _: () = cmd("SELECT").arg(3).query(&mut con).unwrap();
    let _: () = cmd("SET").arg("b").arg("1").query(&mut con).unwrap();
    let info: String = cmd("INFO").query(&mut con).unwrap();
    for section in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# CPU",
        "# Keyspace",
    ] {
        assert!(info.contains(section), "missing {section}");
    }
    assert!(
        info.contains("db0:keys=1,expires=0,avg_ttl=0\r\n"),
        "{info}"
    );
    assert!(
        info.contains("db3:keys=1,expires=0,avg_ttl=0\r\n"),
        "{info}"
    );
    assert!(info.contains(&format!("tcp_port:{}\r\n", server.port)));
    let used: u64 = field(&info, "used_memory").parse().unwrap();
    assert!(used > 0);
    let only: String = cmd("INFO").arg("keyspace").query(&mut con).unwrap();
    assert!(only.starts_with("# Keyspace\r\n") && !only.contains("# Server"));
}

fn field<'a>(info: &'a str, name: &str) -> &'a str {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or("")
}

#[test]
fn requirepass_guards_every_command_but_auth() {
    let server = TestServer::start(&["--requirepass", "s3cret"]);
    let mut raw = server.raw();
    raw.send(b"GET a\r\nAUTH wrong\r\nAUTH s3cret\r\nGET a\r\n");
    assert_eq!(raw.line(), "-NOAUTH Authentication required.\r\n");
    assert_eq!(
        raw.line(),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(raw.line(), "+OK\r\n");
    assert_eq!(raw.line(), "$-1\r\n");
    let mut hello = server.raw();
    hello.send(b"HELLO 3 AUTH default s3cret\r\nPING\r\n");
    assert!(hello.reply().starts_with("%7"));
    assert_eq!(hello.line(), "+PONG\r\n");
}

#[test]
fn config_get_and_set_at_run_time() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let timeout: Vec<String> = cmd("CONFIG")
        .arg("GET")
        .arg("timeout")
        .query(&mut con)
        .unwrap();
    assert_eq!(timeout, ["timeout", "0"]);
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("timeout")
        .arg("30")
        .query(&mut con)
        .unwrap();
    let timeout: Vec<String> = cmd("CONFIG")
        .arg("GET")
        .arg("timeout")
        .query(&mut con)
        .unwrap();
    assert_eq!(timeout, ["timeout", "30"]);
    let immutable = cmd("CONFIG")
        .arg("SET")
        .arg("databases")
        .arg("4")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(
        immutable.to_string().contains("can't set immutable config"),
        "{immutable}"
    );
    let _: () = cmd("CONFIG").arg("RESETSTAT").query(&mut con).unwrap();
}

#[test]
fn debug_sleep_delays_only_the_caller() {
    let server = TestServer::start(&[]);
    let mut sleeper = server.raw();
    let started = Instant::now();
    sleeper.send(b"DEBUG SLEEP 0.3\r\n");
    let mut other = server.raw();
    other.send(b"PING\r\n");
    assert_eq!(other.line(), "+PONG\r\n");
    assert_eq!(sleeper.line(), "+OK\r\n");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn quit_replies_then_closes() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    raw.send(b"QUIT\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert!(raw.is_closed());
}

#[test]
fn shutdown_stops_the_process() {
    let mut server = TestServer::start(&[]);
    let mut raw = server.raw();
    raw.send(b"SHUTDOWN NOSAVE\r\n");
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("server exits");
    assert!(status.success());
}

#[test]
fn sigterm_stops_the_process_gracefully() {
    let mut server = TestServer::start(&[]);
    let killed = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(server.pid().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("server exits");
    assert!(status.success());
}

#[test]
fn config_file_errors_name_the_directive_and_line() {
    let dir = std::env::temp_dir().join(format!("slotkv-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.conf");
    std::fs::write(&path, "port 7000\nno-such-directive yes\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_slotkv-server"))
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("no-such-directive"),
        "{stderr}"
    );
}

#[test]
fn config_file_settings_apply() {
    let dir = std::env::temp_dir().join(format!("slotkv-conf-ok-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("good.conf");
    std::fs::write(&path, "# a comment\ndatabases 4\nmaxclients 50\n").unwrap();
    let server = TestServer::start(&[path.to_str().unwrap()]);
    let mut con = server.client();
    let err = cmd("SELECT").arg(4).query::<()>(&mut con).unwrap_err();
    assert!(
        err.to_string().contains("DB index is out of range"),
        "{err}"
    );
    let maxclients: Vec<String> = cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut con)
        .unwrap();
    assert_eq!(maxclients, ["maxclients", "50"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn config_set_reaches_connections_already_open() {
    let server = TestServer::start(&[]);
    let mut idle = server.raw();
    idle.send(b"PING\r\n");
    assert_eq!(idle.line(), "+PONG\r\n");
    let mut con = server.client();
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("timeout")
        .arg("1")
        .query(&mut con)
        .unwrap();
    // The idle connection picks the new timeout up at its next wake-up.
    idle.send(b"PING\r\n");
    assert_eq!(idle.line(), "+PONG\r\n");
    let started = Instant::now();
    assert!(idle.is_closed());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_client_killing_itself_gets_its_reply_then_is_closed() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    raw.send(b"CLIENT ID\r\n");
    let id: i64 = raw.line().trim_start_matches(':').trim().parse().unwrap();
    raw.send(format!("CLIENT KILL ID {id} SKIPME no\r\n").as_bytes());
    assert_eq!(raw.line(), ":1\r\n");
    assert!(raw.is_closed());
}
