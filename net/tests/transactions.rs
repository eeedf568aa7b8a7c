//! MULTI/EXEC/DISCARD/WATCH/UNWATCH end to end, on a real server.

mod common;

use std::time::{Duration, Instant};

use common::{RawClient, TestServer};

/// Runs `commands` between MULTI and EXEC, checking each is queued; returns EXEC's reply.
fn exec(client: &mut RawClient, commands: &[&str]) -> String {
    let mut request = String::from("MULTI\r\n");
    for command in commands {
        request.push_str(command);
        request.push_str("\r\n");
    }
    request.push_str("EXEC\r\n");
    client.send(request.as_bytes());
    assert_eq!(client.line(), "+OK\r\n");
    for _ in commands {
        assert_eq!(client.line(), "+QUEUED\r\n");
    }
    client.reply()
}

#[test]
fn queued_commands_run_on_exec_in_order() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    raw.send(b"MULTI\r\nSET n 1\r\nINCR n\r\nGET n\r\nEXEC\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    for _ in 0..3 {
        assert_eq!(raw.line(), "+QUEUED\r\n");
    }
    assert_eq!(raw.reply(), "*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n");
}

#[test]
fn runtime_errors_do_not_roll_back_and_queue_errors_abort() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    raw.send(b"SET s text\r\nMULTI\r\nINCR s\r\nSET t 1\r\nEXEC\r\nGET t\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert_eq!(raw.line(), "+QUEUED\r\n");
    assert_eq!(raw.line(), "+QUEUED\r\n");
    assert_eq!(
        raw.reply(),
        "*2\r\n-ERR value is not an integer or out of range\r\n+OK\r\n"
    );
    assert_eq!(raw.reply(), "$1\r\n1\r\n");

    raw.send(b"MULTI\r\nSET u 1\r\nGET\r\nNOSUCHCMD\r\nEXEC\r\nEXISTS u\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert_eq!(raw.line(), "+QUEUED\r\n");
    assert_eq!(
        raw.line(),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert!(raw.line().starts_with("-ERR unknown command 'NOSUCHCMD'"));
    assert_eq!(
        raw.line(),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(raw.line(), ":0\r\n");
}

#[test]
fn misuse_gets_redis_errors() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    raw.send(b"EXEC\r\nDISCARD\r\nMULTI\r\nMULTI\r\nWATCH k\r\nSHUTDOWN\r\nEXEC\r\n");
    assert_eq!(raw.line(), "-ERR EXEC without MULTI\r\n");
    assert_eq!(raw.line(), "-ERR DISCARD without MULTI\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert_eq!(raw.line(), "-ERR MULTI calls can not be nested\r\n");
    assert_eq!(raw.line(), "-ERR WATCH inside MULTI is not allowed\r\n");
    assert_eq!(
        raw.line(),
        "-ERR Command not allowed inside a transaction\r\n"
    );
    assert_eq!(
        raw.line(),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    raw.send(b"MULTI\r\nSET d 1\r\nDISCARD\r\nEXISTS d\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert_eq!(raw.line(), "+QUEUED\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert_eq!(raw.line(), ":0\r\n");
}

#[test]
fn a_write_to_a_watched_key_makes_exec_fail_once() {
    let server = TestServer::start(&[]);
    let mut watcher = server.raw();
    let mut writer = server.raw();
    watcher.send(b"WATCH k\r\n");
    assert_eq!(watcher.line(), "+OK\r\n");
    writer.send(b"SET k changed\r\n");
    assert_eq!(writer.line(), "+OK\r\n");
    watcher.send(b"MULTI\r\nSET k mine\r\nEXEC\r\nGET k\r\n");
    assert_eq!(watcher.line(), "+OK\r\n");
    assert_eq!(watcher.line(), "+QUEUED\r\n");
    assert_eq!(watcher.line(), "*-1\r\n");
    assert_eq!(watcher.reply(), "$7\r\nchanged\r\n");
    // EXEC unwatched everything: the next transaction runs.
    assert_eq!(exec(&mut watcher, &["SET k mine"]), "*1\r\n+OK\r\n");
}

#[test]
fn writes_that_change_nothing_and_unwatch_leave_exec_alone() {
    let server = TestServer::start(&[]);
    let mut watcher = server.raw();
    let mut writer = server.raw();
    watcher.send(b"SET k v\r\nWATCH k\r\n");
    assert_eq!(watcher.line(), "+OK\r\n");
    assert_eq!(watcher.line(), "+OK\r\n");
    writer.send(b"SET k other NX\r\nGET k\r\n");
    assert_eq!(writer.line(), "$-1\r\n");
    assert_eq!(writer.reply(), "$1\r\nv\r\n");
    assert_eq!(exec(&mut watcher, &["INCR c"]), "*1\r\n:1\r\n");

    watcher.send(b"WATCH k\r\nUNWATCH\r\n");
    assert_eq!(watcher.line(), "+OK\r\n");
    assert_eq!(watcher.line(), "+OK\r\n");
    writer.send(b"APPEND k x\r\n");
    assert_eq!(writer.line(), ":2\r\n");
    assert_eq!(exec(&mut watcher, &["INCR c"]), "*1\r\n:2\r\n");
}

#[test]
fn flushall_and_expiry_break_watches() {
    let server = TestServer::start(&[]);
    let mut watcher = server.raw();
    let mut writer = server.raw();
    watcher.send(b"SET k v\r\nWATCH k\r\n");
    assert_eq!(watcher.line(), "+OK\r\n");
    assert_eq!(watcher.line(), "+OK\r\n");
    writer.send(b"FLUSHALL\r\n");
    assert_eq!(writer.line(), "+OK\r\n");
    assert_eq!(exec(&mut watcher, &["PING"]), "*-1\r\n");

    watcher.send(b"SET e v PX 100\r\nWATCH e\r\n");
    assert_eq!(watcher.line(), "+OK\r\n");
    assert_eq!(watcher.line(), "+OK\r\n");
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(exec(&mut watcher, &["PING"]), "*-1\r\n");
}

#[test]
fn nothing_runs_between_the_commands_of_a_transaction() {
    let server = TestServer::start(&[]);
    let mut transaction = server.raw();
    transaction.send(b"SET k 0\r\n");
    assert_eq!(transaction.line(), "+OK\r\n");
    // The transaction leaves k at 1 for 300 ms (DEBUG SLEEP inside EXEC) before setting it
    // to 2; a reader must never see the 1.
    transaction.send(b"MULTI\r\nSET k 1\r\nDEBUG SLEEP 0.3\r\nSET k 2\r\nEXEC\r\n");
    let mut reader = server.raw();
    let started = Instant::now();
    let mut seen = Vec::new();
    while started.elapsed() < Duration::from_millis(500) {
        reader.send(b"GET k\r\n");
        seen.push(reader.reply());
    }
    assert!(
        !seen.contains(&"$1\r\n1\r\n".to_owned()),
        "a reader saw the middle of a transaction"
    );
    assert!(seen.contains(&"$1\r\n2\r\n".to_owned()));
    assert_eq!(transaction.line(), "+OK\r\n");
}

#[test]
fn resp3_exec_and_a_failed_watch_reply_with_resp3_types() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    raw.send(b"HELLO 3\r\n");
    raw.reply();
    raw.send(b"WATCH w\r\nSET w 1\r\nMULTI\r\nGET w\r\nEXEC\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    assert_eq!(raw.line(), "+QUEUED\r\n");
    assert_eq!(raw.line(), "_\r\n");
}
