//! Users and ACL end to end against the real binary: key patterns with %R/%W, categories and
//! subcommands, AUTH/HELLO failures, NOPERM inside MULTI and at EXEC, ACL LOG, connections
//! closed by ACL DELUSER and by lost channel rights, CLIENT KILL USER, ACL SAVE/LOAD, `user`
//! lines in a configuration file, and replicas (slotkv, and Debian's redis-server when it is
//! installed) authenticating with masteruser/masterauth.

mod common;

use std::time::Duration;

use common::{RawClient, RedisServer, TestServer};

/// Sends one command as a RESP array.
fn send(raw: &mut RawClient, words: &[&str]) {
    let mut out = format!("*{}\r\n", words.len());
    for word in words {
        out.push_str(&format!("${}\r\n{word}\r\n", word.len()));
    }
    raw.send(out.as_bytes());
}

/// Sends one command and reads its whole reply as raw RESP text.
fn call(raw: &mut RawClient, words: &[&str]) -> String {
    send(raw, words);
    raw.reply()
}

fn ok(raw: &mut RawClient, words: &[&str]) {
    assert_eq!(call(raw, words), "+OK\r\n", "{words:?}");
}

/// A raw connection authenticated as `user`.
fn login(server: &TestServer, user: &str, password: &str) -> RawClient {
    let mut raw = server.raw();
    ok(&mut raw, &["AUTH", user, password]);
    raw
}

/// Waits up to 20 s for `done`.
fn wait_until(what: &str, done: impl FnMut() -> bool) {
    common::wait_until(what, Duration::from_secs(20), done);
}

const NOKEY: &str = "-NOPERM No permissions to access a key\r\n";
const NOCHANNEL: &str = "-NOPERM No permissions to access a channel\r\n";
const WRONGPASS: &str = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

#[test]
fn key_patterns_read_write_categories_and_subcommands() {
    let server = TestServer::start(&[]);
    let mut admin = server.raw();
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "alice",
            "on",
            ">pw",
            "+@all",
            "-@dangerous",
            "~app:*",
            "%R~ro:*",
            "%W~wo:*",
            "-client|kill",
        ],
    );
    let mut alice = login(&server, "alice", "pw");
    ok(&mut alice, &["SET", "app:1", "v"]);
    assert_eq!(call(&mut alice, &["SET", "ro:1", "v"]), NOKEY);
    assert_eq!(call(&mut alice, &["GET", "ro:1"]), "$-1\r\n");
    ok(&mut alice, &["SET", "wo:1", "v"]);
    assert_eq!(call(&mut alice, &["GET", "wo:1"]), NOKEY);
    assert_eq!(call(&mut alice, &["MGET", "app:1", "other"]), NOKEY);
    assert_eq!(
        call(&mut alice, &["CONFIG", "SET", "hz", "10"]),
        "-NOPERM User alice has no permissions to run the 'config|set' command\r\n"
    );
    assert_eq!(
        call(&mut alice, &["CLIENT", "KILL", "ID", "999"]),
        "-NOPERM User alice has no permissions to run the 'client|kill' command\r\n"
    );
    assert_eq!(
        call(&mut alice, &["CLIENT", "ID"]).chars().next(),
        Some(':')
    );
    assert_eq!(call(&mut alice, &["ACL", "WHOAMI"]), "$5\r\nalice\r\n");
    assert!(call(&mut alice, &["CLIENT", "INFO"]).contains(" user=alice "));
    // The rules change under the open connection.
    ok(&mut admin, &["ACL", "SETUSER", "alice", "-get"]);
    assert_eq!(
        call(&mut alice, &["GET", "app:1"]),
        "-NOPERM User alice has no permissions to run the 'get' command\r\n"
    );
    let getuser = call(&mut admin, &["ACL", "GETUSER", "alice"]);
    assert!(
        getuser.contains("+@all -@dangerous -client|kill -get"),
        "{getuser}"
    );
    assert!(getuser.contains("~app:* %R~ro:* %W~wo:*"), "{getuser}");
    assert_eq!(
        call(&mut admin, &["ACL", "DRYRUN", "alice", "SET", "ro:1", "v"]),
        "$54\r\nUser alice has no permissions to access the 'ro:1' key\r\n"
    );
    assert_eq!(
        call(&mut admin, &["ACL", "DRYRUN", "alice", "SET", "app:2", "v"]),
        "+OK\r\n"
    );
    let stats = call(&mut admin, &["INFO", "stats"]);
    assert!(stats.contains("acl_access_denied_key:3\r\n"), "{stats}");
    assert!(stats.contains("acl_access_denied_cmd:3\r\n"), "{stats}");
}

#[test]
fn setuser_errors_use_redis_wording() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    let cases = [
        (
            vec!["bogus"],
            "-ERR Error in ACL SETUSER modifier 'bogus': Syntax error\r\n",
        ),
        (
            vec!["+nosuch"],
            "-ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL\r\n",
        ),
        (
            vec!["+@nosuch"],
            "-ERR Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL\r\n",
        ),
        (
            vec!["(+get", "~k"],
            "-ERR Unmatched parenthesis in acl selector starting at '(+get'.\r\n",
        ),
    ];
    for (rules, expected) in cases {
        let mut words = vec!["ACL", "SETUSER", "u"];
        words.extend(rules);
        assert_eq!(call(&mut raw, &words), expected);
    }
    assert_eq!(
        call(&mut raw, &["ACL", "SETUSER", "a b"]),
        "-ERR Usernames can't contain spaces or null characters\r\n"
    );
    assert_eq!(
        call(&mut raw, &["ACL", "DELUSER", "nobody", "default"]),
        "-ERR The 'default' user cannot be removed\r\n"
    );
    assert_eq!(
        call(&mut raw, &["ACL", "CAT", "nosuch"]),
        "-ERR Unknown category 'nosuch'\r\n"
    );
    let categories = call(&mut raw, &["ACL", "CAT"]);
    assert!(
        categories.starts_with("*21\r\n$8\r\nkeyspace\r\n"),
        "{categories}"
    );
    let strings = call(&mut raw, &["ACL", "CAT", "string"]);
    assert!(strings.contains("\r\nget\r\n") && !strings.contains("\r\nsadd\r\n"));
    let password = call(&mut raw, &["ACL", "GENPASS"]);
    assert!(password.starts_with("$64\r\n"), "{password}");
    assert!(call(&mut raw, &["ACL", "GENPASS", "5"]).starts_with("$2\r\n"));
    assert!(call(&mut raw, &["ACL", "GENPASS", "0"]).starts_with("-ERR ACL GENPASS argument"));
    assert_eq!(
        call(&mut raw, &["ACL", "LIST"]),
        "*1\r\n$51\r\nuser default on nopass sanitize-payload ~* &* +@all\r\n"
    );
    ok(
        &mut raw,
        &[
            "ACL", "SETUSER", "sel", "on", "nopass", "+get", "(+set", "~a:*)",
        ],
    );
    let list = call(&mut raw, &["ACL", "LIST"]);
    assert!(
        list.contains(
            "user sel on nopass sanitize-payload resetchannels -@all +get (~a:* resetchannels -@all +set)"
        ),
        "{list}"
    );
}

#[test]
fn auth_and_hello_failures_are_refused_logged_and_counted() {
    let server = TestServer::start(&[]);
    let mut admin = server.raw();
    assert_eq!(
        call(&mut admin, &["AUTH", "x"]),
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
    ok(
        &mut admin,
        &["ACL", "SETUSER", "bob", "on", ">right", "+@all", "allkeys"],
    );
    ok(
        &mut admin,
        &["ACL", "SETUSER", "carol", "off", ">c", "+@all"],
    );
    let mut raw = server.raw();
    assert_eq!(call(&mut raw, &["AUTH", "bob", "wrong"]), WRONGPASS);
    assert_eq!(call(&mut raw, &["AUTH", "nobody", "x"]), WRONGPASS);
    assert_eq!(call(&mut raw, &["AUTH", "carol", "c"]), WRONGPASS);
    assert_eq!(
        call(&mut raw, &["HELLO", "3", "AUTH", "bob", "wrong"]),
        WRONGPASS
    );
    assert!(call(&mut raw, &["HELLO", "3", "AUTH", "bob", "right"]).starts_with("%7"));
    assert_eq!(call(&mut raw, &["ACL", "WHOAMI"]), "$3\r\nbob\r\n");
    let stats = call(&mut admin, &["INFO", "stats"]);
    assert!(stats.contains("acl_access_denied_auth:4\r\n"), "{stats}");
    let log = call(&mut admin, &["ACL", "LOG", "1"]);
    for expected in [
        // AUTH and HELLO AUTH failures of one user group into one entry.
        "$5\r\ncount\r\n:2\r\n",
        "$6\r\nreason\r\n$4\r\nauth\r\n",
        "$7\r\ncontext\r\n$8\r\ntoplevel\r\n",
        "$6\r\nobject\r\n$4\r\nAUTH\r\n",
        "$8\r\nusername\r\n$3\r\nbob\r\n",
        "$11\r\nage-seconds\r\n",
        "cmd=hello user=default",
        "$8\r\nentry-id\r\n:0\r\n",
        "$17\r\ntimestamp-created\r\n:",
        "$22\r\ntimestamp-last-updated\r\n:",
    ] {
        assert!(log.contains(expected), "{expected:?} in {log}");
    }
    // A new connection is not authenticated once the default user has a password.
    ok(&mut admin, &["CONFIG", "SET", "requirepass", "pw"]);
    let mut fresh = server.raw();
    assert_eq!(
        call(&mut fresh, &["GET", "k"]),
        "-NOAUTH Authentication required.\r\n"
    );
    ok(&mut fresh, &["AUTH", "pw"]);
    ok(&mut fresh, &["CONFIG", "SET", "requirepass", ""]);
}

#[test]
fn acl_log_groups_bounds_and_resets() {
    let server = TestServer::start(&[]);
    let mut admin = server.raw();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "u", "on", "nopass", "+set", "~obj:1234"],
    );
    let mut u = login(&server, "u", "");
    for _ in 0..3 {
        assert!(call(&mut u, &["GET", "foo"]).starts_with("-NOPERM"));
    }
    assert_eq!(call(&mut u, &["SET", "secret", "1"]), NOKEY);
    let log = call(&mut admin, &["ACL", "LOG"]);
    assert!(log.starts_with("*2\r\n"), "{log}");
    assert!(log.contains("$6\r\nreason\r\n$3\r\nkey\r\n$7\r\ncontext\r\n$8\r\ntoplevel\r\n$6\r\nobject\r\n$6\r\nsecret\r\n"), "{log}");
    assert!(
        log.contains("$5\r\ncount\r\n:3\r\n$6\r\nreason\r\n$7\r\ncommand\r\n"),
        "{log}"
    );
    assert!(log.contains("cmd=get"), "{log}");
    ok(&mut admin, &["CONFIG", "SET", "acllog-max-len", "2"]);
    for n in 0..5 {
        assert_eq!(call(&mut u, &["SET", &format!("obj:{n}"), "1"]), NOKEY);
    }
    assert!(call(&mut admin, &["ACL", "LOG", "10"]).starts_with("*2\r\n"));
    ok(&mut admin, &["ACL", "LOG", "RESET"]);
    assert_eq!(call(&mut admin, &["ACL", "LOG"]), "*0\r\n");
}

#[test]
fn transactions_check_when_queued_and_at_exec() {
    let server = TestServer::start(&[]);
    let mut admin = server.raw();
    ok(
        &mut admin,
        &[
            "ACL", "SETUSER", "t", "on", "nopass", "+multi", "+exec", "+incr", "~c:*",
        ],
    );
    let mut t = login(&server, "t", "");
    ok(&mut t, &["MULTI"]);
    assert_eq!(call(&mut t, &["INCR", "other"]), NOKEY);
    assert_eq!(
        call(&mut t, &["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    ok(&mut t, &["MULTI"]);
    assert_eq!(call(&mut t, &["INCR", "c:1"]), "+QUEUED\r\n");
    ok(&mut admin, &["ACL", "SETUSER", "t", "-incr"]);
    assert_eq!(
        call(&mut t, &["EXEC"]),
        "*1\r\n-NOPERM User t has no permissions to run the 'incr' command\r\n"
    );
    let log = call(&mut admin, &["ACL", "LOG", "1"]);
    assert!(
        log.contains("$7\r\ncontext\r\n$5\r\nmulti\r\n$6\r\nobject\r\n$4\r\nincr\r\n"),
        "{log}"
    );
    assert!(log.contains("cmd=exec"), "{log}");
}

#[test]
fn deluser_and_client_kill_user_close_connections() {
    let server = TestServer::start(&[]);
    let mut admin = server.raw();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "gone", "on", ">p", "+@all", "allkeys"],
    );
    ok(
        &mut admin,
        &["ACL", "SETUSER", "kicked", "on", ">p", "+@all", "allkeys"],
    );
    let mut gone = login(&server, "gone", "p");
    let mut kicked = login(&server, "kicked", "p");
    let mut other = server.raw();
    assert!(call(&mut admin, &["CLIENT", "LIST"]).contains(" user=kicked "));
    assert_eq!(
        call(&mut admin, &["ACL", "DELUSER", "gone", "nobody"]),
        ":1\r\n"
    );
    assert!(gone.is_closed());
    assert_eq!(
        call(&mut admin, &["CLIENT", "KILL", "USER", "kicked"]),
        ":1\r\n"
    );
    assert!(kicked.is_closed());
    assert_eq!(
        call(&mut admin, &["CLIENT", "KILL", "USER", "nobody"]),
        "-ERR No such user 'nobody'\r\n"
    );
    assert_eq!(call(&mut other, &["PING"]), "+PONG\r\n");
    assert_eq!(
        call(&mut admin, &["ACL", "USERS"]),
        "*2\r\n$7\r\ndefault\r\n$6\r\nkicked\r\n"
    );
}

#[test]
fn channel_rights_are_checked_and_revoking_them_drops_subscribers() {
    let server = TestServer::start(&[]);
    let mut admin = server.raw();
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "ps",
            "on",
            ">p",
            "+@all",
            "resetchannels",
            "&news:*",
            "&chat",
        ],
    );
    let mut ps = login(&server, "ps", "p");
    assert_eq!(call(&mut ps, &["PUBLISH", "news:1", "x"]), ":0\r\n");
    assert_eq!(call(&mut ps, &["PUBLISH", "sport", "x"]), NOCHANNEL);
    assert_eq!(call(&mut ps, &["SPUBLISH", "sport", "x"]), NOCHANNEL);
    assert_eq!(call(&mut ps, &["PSUBSCRIBE", "news:1*"]), NOCHANNEL);
    assert_eq!(call(&mut ps, &["SUBSCRIBE", "sport"]), NOCHANNEL);
    let mut kept = login(&server, "ps", "p");
    assert!(call(&mut kept, &["PSUBSCRIBE", "news:*"]).contains("psubscribe"));
    let mut dropped = login(&server, "ps", "p");
    assert!(call(&mut dropped, &["SUBSCRIBE", "chat"]).contains("subscribe"));
    // Losing `&chat` drops the subscriber of chat; the pattern subscriber keeps its rights.
    ok(
        &mut admin,
        &["ACL", "SETUSER", "ps", "resetchannels", "&news:*", "&other"],
    );
    assert!(dropped.is_closed());
    send(&mut admin, &["PUBLISH", "news:5", "hello"]);
    assert_eq!(admin.reply(), ":1\r\n");
    assert!(kept.reply().contains("hello"));
    // New users get every channel under `acl-pubsub-default allchannels`.
    ok(
        &mut admin,
        &["CONFIG", "SET", "acl-pubsub-default", "allchannels"],
    );
    ok(
        &mut admin,
        &["ACL", "SETUSER", "open", "on", ">p", "+publish"],
    );
    let mut open = login(&server, "open", "p");
    assert_eq!(call(&mut open, &["PUBLISH", "anything", "x"]), ":0\r\n");
    assert_eq!(
        call(&mut admin, &["CONFIG", "GET", "acl-pubsub-default"]),
        "*2\r\n$18\r\nacl-pubsub-default\r\n$11\r\nallchannels\r\n"
    );
}

#[test]
fn a_blocked_command_is_refused_when_rights_are_lost_meanwhile() {
    let server = TestServer::start(&[]);
    let mut admin = server.raw();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "b", "on", "nopass", "+@all", "allkeys"],
    );
    let mut b = login(&server, "b", "");
    send(&mut b, &["BLPOP", "list1", "0"]);
    wait_until("the client to block", || {
        call(&mut admin, &["INFO", "clients"]).contains("blocked_clients:1")
    });
    ok(&mut admin, &["ACL", "SETUSER", "b", "resetkeys"]);
    assert_eq!(call(&mut admin, &["LPUSH", "list1", "x"]), ":1\r\n");
    assert_eq!(b.reply(), NOKEY);
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("slotkv-acl-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn aclfile_save_and_load_round_trip() {
    let dir = temp_dir("file");
    let path = dir.join("users.acl");
    std::fs::write(
        &path,
        "user default on nopass ~* &* +@all\nuser old on >o +get ~*\n",
    )
    .unwrap();
    let server = TestServer::start(&["--aclfile", path.to_str().unwrap()]);
    let mut admin = server.raw();
    assert_eq!(
        call(&mut admin, &["ACL", "USERS"]),
        "*2\r\n$7\r\ndefault\r\n$3\r\nold\r\n"
    );
    let mut old = login(&server, "old", "o");
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "new",
            "on",
            ">n",
            "%R~r:*",
            "+@read",
            "(+set ~w:*)",
        ],
    );
    ok(&mut admin, &["ACL", "SAVE"]);
    let saved = std::fs::read_to_string(&path).unwrap();
    assert!(saved.contains("user new on sanitize-payload #"), "{saved}");
    assert!(
        saved.contains("%R~r:* resetchannels -@all +@read (~w:* resetchannels -@all +set)"),
        "{saved}"
    );
    assert!(!saved.contains(">n"), "only hashes are stored");
    // Edit the file: `old` goes away, `new` keeps its definition.
    let edited: String = saved
        .lines()
        .filter(|line| !line.starts_with("user old "))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&path, edited).unwrap();
    ok(&mut admin, &["ACL", "LOAD"]);
    assert!(old.is_closed(), "a removed user's connection closes");
    assert_eq!(
        call(&mut admin, &["ACL", "USERS"]),
        "*2\r\n$7\r\ndefault\r\n$3\r\nnew\r\n"
    );
    let mut new = login(&server, "new", "n");
    ok(&mut new, &["SET", "w:1", "v"]);
    assert_eq!(call(&mut new, &["GET", "w:1"]), NOKEY);
    // A broken file changes nothing and names its line.
    std::fs::write(&path, "user default on nopass ~* &* +@all\nuser x +nope\n").unwrap();
    let error = call(&mut admin, &["ACL", "LOAD"]);
    assert!(error.starts_with("-ERR "), "{error}");
    assert!(
        error.contains("users.acl:2: Error in applying operation '+nope'"),
        "{error}"
    );
    assert_eq!(
        call(&mut admin, &["ACL", "USERS"]),
        "*2\r\n$7\r\ndefault\r\n$3\r\nnew\r\n"
    );
    // A missing file is an error too, and start-up refuses it.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        call(&mut admin, &["ACL", "LOAD"]),
        format!(
            "-ERR Error loading ACLs, opening file '{}': No such file or directory\r\n",
            path.display()
        )
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_slotkv-server"))
        .args(["--port", "0", "--aclfile", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Aborting Redis startup because of ACL errors: Error loading ACLs"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_an_aclfile_save_and_load_refuse() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    for sub in ["SAVE", "LOAD"] {
        let error = call(&mut raw, &["ACL", sub]);
        assert!(
            error.starts_with("-ERR This Redis instance is not configured to use an ACL file."),
            "{error}"
        );
    }
}

#[test]
fn user_lines_in_a_config_file_apply_and_conflict_with_aclfile() {
    let dir = temp_dir("conf");
    let conf = dir.join("users.conf");
    std::fs::write(
        &conf,
        "user reader on >r %R~* +@read\nuser default on nopass ~* &* +@all\n",
    )
    .unwrap();
    let server = TestServer::start(&[conf.to_str().unwrap()]);
    let mut reader = login(&server, "reader", "r");
    assert_eq!(call(&mut reader, &["GET", "k"]), "$-1\r\n");
    assert!(call(&mut reader, &["SET", "k", "v"]).starts_with("-NOPERM User reader"));
    let both = dir.join("both.conf");
    std::fs::write(&both, "user a on nopass\naclfile /nonexistent/users.acl\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_slotkv-server"))
        .args([both.to_str().unwrap(), "--port", "0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_replica_authenticates_with_masteruser_and_masterauth() {
    let primary = TestServer::start(&["--requirepass", "adminpw"]);
    let mut admin = login(&primary, "default", "adminpw");
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "repl",
            "on",
            ">replpw",
            "+psync",
            "+replconf",
            "+ping",
        ],
    );
    let port = primary.port.to_string();
    let replica = TestServer::start(&[
        "--replicaof",
        "127.0.0.1",
        &port,
        "--masteruser",
        "repl",
        "--masterauth",
        "replpw",
    ]);
    let mut replica_raw = replica.raw();
    wait_until("the link to come up", || {
        call(&mut replica_raw, &["INFO", "replication"]).contains("master_link_status:up")
    });
    ok(&mut admin, &["SET", "k", "v"]);
    wait_until("the write to arrive", || {
        call(&mut replica_raw, &["GET", "k"]) == "$1\r\nv\r\n"
    });
    assert!(call(&mut admin, &["CLIENT", "LIST"]).contains("flags=S"));
    assert!(call(&mut admin, &["CLIENT", "LIST", "TYPE", "replica"]).contains(" user=repl "));
}

#[test]
fn a_redis_server_replica_authenticates_to_slotkv_with_masteruser() {
    let primary = TestServer::start(&["--requirepass", "adminpw"]);
    let mut admin = login(&primary, "default", "adminpw");
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "repl",
            "on",
            ">replpw",
            "+psync",
            "+replconf",
            "+ping",
        ],
    );
    let port = primary.port.to_string();
    let Some(replica) = RedisServer::start(&[
        "--replicaof",
        "127.0.0.1",
        &port,
        "--masteruser",
        "repl",
        "--masterauth",
        "replpw",
    ]) else {
        return;
    };
    let mut conn = replica.client().expect("connect to redis-server");
    ok(&mut admin, &["SET", "k", "from-slotkv"]);
    wait_until("redis-server to replicate", || {
        redis::cmd("GET")
            .arg("k")
            .query::<Option<String>>(&mut conn)
            .ok()
            .flatten()
            .as_deref()
            == Some("from-slotkv")
    });
    assert!(call(&mut admin, &["CLIENT", "LIST", "TYPE", "replica"]).contains(" user=repl "));
}
