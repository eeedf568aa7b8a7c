//! Blocking pops end to end: waiting, waking on push, first-come first-served, timeouts,
//! CLIENT UNBLOCK, MULTI, and a client that leaves while blocked.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;

#[test]
fn blpop_answers_at_once_when_data_is_there() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    raw.send(b"RPUSH b x y\r\nBLPOP a b 1\r\n");
    assert_eq!(raw.line(), ":2\r\n");
    assert_eq!(raw.reply(), "*2\r\n$1\r\nb\r\n$1\r\nx\r\n");
}

#[test]
fn a_push_wakes_the_waiting_client() {
    let server = TestServer::start(&[]);
    let mut waiter = server.raw();
    waiter.send(b"BRPOP q 0\r\n");
    std::thread::sleep(Duration::from_millis(100));
    let mut pusher = server.raw();
    pusher.send(b"CLIENT LIST\r\nLPUSH q job\r\n");
    let list = pusher.reply();
    assert!(
        list.contains("flags=b"),
        "the waiter shows as blocked: {list}"
    );
    assert_eq!(pusher.line(), ":1\r\n");
    assert_eq!(waiter.reply(), "*2\r\n$1\r\nq\r\n$3\r\njob\r\n");
    pusher.send(b"EXISTS q\r\n");
    assert_eq!(pusher.line(), ":0\r\n", "the popped list is gone");
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let server = TestServer::start(&[]);
    let mut waiters = Vec::new();
    for _ in 0..3 {
        let mut waiter = server.raw();
        waiter.send(b"BLPOP fifo 5\r\n");
        waiters.push(waiter);
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut pusher = server.raw();
    pusher.send(b"RPUSH fifo one two three\r\n");
    assert_eq!(pusher.line(), ":3\r\n");
    for (waiter, expected) in waiters.iter_mut().zip(["one", "two", "three"]) {
        assert_eq!(
            waiter.reply(),
            format!("*2\r\n$4\r\nfifo\r\n${}\r\n{expected}\r\n", expected.len())
        );
    }
}

#[test]
fn timeouts_are_fractional_and_zero_waits_forever() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    let started = Instant::now();
    raw.send(b"BLPOP none 0.2\r\n");
    assert_eq!(raw.line(), "*-1\r\n");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    raw.send(b"BLMOVE none other LEFT RIGHT 0.1\r\nBLPOP k -1\r\nBLPOP k abc\r\n");
    assert_eq!(raw.line(), "$-1\r\n");
    assert_eq!(raw.line(), "-ERR timeout is negative\r\n");
    assert_eq!(
        raw.line(),
        "-ERR timeout is not a float or out of range\r\n"
    );
}

#[test]
fn bad_arguments_are_reported_in_redis_order_and_huge_timeouts_refused() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    // The ends and the multi-pop arguments are read before the timeout, as Redis reads them.
    raw.send(b"BLMOVE a b LEFT UP -1\r\nBLMPOP -1 1 a LEFT COUNT 0\r\nBZMPOP x 2 a b\r\n");
    assert_eq!(raw.line(), "-ERR syntax error\r\n");
    assert_eq!(raw.line(), "-ERR count should be greater than 0\r\n");
    assert_eq!(raw.line(), "-ERR syntax error\r\n");
    raw.send(b"BLPOP a inf\r\nBRPOP a 1e16\r\nBZPOPMIN a -inf\r\nBLMPOP nan 1 a LEFT\r\n");
    assert_eq!(raw.line(), "-ERR timeout is out of range\r\n");
    assert_eq!(raw.line(), "-ERR timeout is out of range\r\n");
    assert_eq!(raw.line(), "-ERR timeout is negative\r\n");
    assert_eq!(
        raw.line(),
        "-ERR timeout is not a float or out of range\r\n"
    );
    // A timeout past what a deadline can hold still waits, and data ends the wait.
    raw.send(b"BLPOP a 1e15\r\n");
    let mut pusher = server.raw();
    pusher.send(b"RPUSH a x\r\n");
    assert_eq!(pusher.line(), ":1\r\n");
    assert_eq!(raw.reply(), "*2\r\n$1\r\na\r\n$1\r\nx\r\n");
}

#[test]
fn client_unblock_ends_the_wait_as_timeout_or_error() {
    let server = TestServer::start(&[]);
    let mut waiter = server.raw();
    waiter.send(b"CLIENT ID\r\n");
    let id: u64 = waiter
        .line()
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    waiter.send(b"BLPOP k 0\r\n");
    std::thread::sleep(Duration::from_millis(100));
    let mut admin = server.raw();
    admin.send(format!("CLIENT UNBLOCK {id}\r\n").as_bytes());
    assert_eq!(admin.line(), ":1\r\n");
    assert_eq!(waiter.line(), "*-1\r\n");
    waiter.send(b"BLPOP k 0\r\n");
    std::thread::sleep(Duration::from_millis(100));
    admin.send(format!("CLIENT UNBLOCK {id} ERROR\r\nCLIENT UNBLOCK {id}\r\n").as_bytes());
    assert_eq!(admin.line(), ":1\r\n");
    assert_eq!(
        waiter.line(),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    assert_eq!(
        admin.line(),
        ":0\r\n",
        "a client that is not blocked is not unblocked"
    );
}

#[test]
fn inside_multi_a_blocking_pop_does_not_wait() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    raw.send(b"MULTI\r\nBLPOP empty 0\r\nRPUSH full a\r\nBLPOP full 0\r\nEXEC\r\n");
    assert_eq!(raw.line(), "+OK\r\n");
    for _ in 0..3 {
        assert_eq!(raw.line(), "+QUEUED\r\n");
    }
    assert_eq!(
        raw.reply(),
        "*3\r\n*-1\r\n:1\r\n*2\r\n$4\r\nfull\r\n$1\r\na\r\n"
    );
}

#[test]
fn a_waiter_that_leaves_does_not_take_data() {
    let server = TestServer::start(&[]);
    {
        let mut gone = server.raw();
        gone.send(b"BLPOP k 0\r\n");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(100));
    let mut raw = server.raw();
    raw.send(b"RPUSH k v\r\nLLEN k\r\nINFO clients\r\n");
    assert_eq!(raw.line(), ":1\r\n");
    assert_eq!(raw.line(), ":1\r\n");
    assert!(raw.reply().contains("blocked_clients:0\r\n"));
}

#[test]
fn bzpopmin_and_blmpop_wait_for_sorted_sets_and_lists() {
    let server = TestServer::start(&[]);
    let mut waiter = server.raw();
    waiter.send(b"BZPOPMIN z 5\r\n");
    std::thread::sleep(Duration::from_millis(100));
    let mut writer = server.raw();
    writer.send(b"ZADD z 2 b 1 a\r\n");
    assert_eq!(writer.line(), ":2\r\n");
    assert_eq!(waiter.reply(), "*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n");
    waiter.send(b"BLMPOP 5 2 l1 l2 RIGHT COUNT 2\r\n");
    std::thread::sleep(Duration::from_millis(100));
    writer.send(b"RPUSH l2 a b c\r\n");
    assert_eq!(writer.line(), ":3\r\n");
    assert_eq!(
        waiter.reply(),
        "*2\r\n$2\r\nl2\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n"
    );
}
