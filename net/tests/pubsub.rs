//! Pub/Sub end to end: channels, patterns, shard channels, RESP2 restrictions, RESP3 pushes.

mod common;

use common::TestServer;
use redis::cmd;

#[test]
fn subscribers_receive_published_messages() {
    let server = TestServer::start(&[]);
    let mut subscriber = server.raw();
    subscriber.send(b"SUBSCRIBE news sport\r\n");
    assert_eq!(
        subscriber.reply(),
        "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    assert_eq!(
        subscriber.reply(),
        "*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n"
    );
    subscriber.send(b"PSUBSCRIBE n*\r\n");
    assert_eq!(
        subscriber.reply(),
        "*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:3\r\n"
    );

    let mut publisher = server.client();
    let receivers: i64 = cmd("PUBLISH")
        .arg("news")
        .arg("hello")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(receivers, 2, "the channel and the pattern");
    assert_eq!(
        subscriber.reply(),
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    assert_eq!(
        subscriber.reply(),
        "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    let none: i64 = cmd("PUBLISH")
        .arg("weather")
        .arg("rain")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(none, 0);

    let channels: Vec<String> = cmd("PUBSUB")
        .arg("CHANNELS")
        .arg("s*")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(channels, ["sport"]);
    let numsub: Vec<redis::Value> = cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("news")
        .arg("nobody")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(numsub.len(), 4);
    let numpat: i64 = cmd("PUBSUB").arg("NUMPAT").query(&mut publisher).unwrap();
    assert_eq!(numpat, 1);

    subscriber.send(b"UNSUBSCRIBE\r\n");
    let first = subscriber.reply();
    let second = subscriber.reply();
    assert!(
        first.starts_with("*3\r\n$11\r\nunsubscribe\r\n") && second.ends_with(":1\r\n"),
        "{first}{second}"
    );
    subscriber.send(b"PUNSUBSCRIBE\r\nUNSUBSCRIBE\r\n");
    assert_eq!(
        subscriber.reply(),
        "*3\r\n$12\r\npunsubscribe\r\n$2\r\nn*\r\n:0\r\n"
    );
    assert_eq!(
        subscriber.reply(),
        "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
    );
    subscriber.send(b"GET k\r\n");
    assert_eq!(
        subscriber.line(),
        "$-1\r\n",
        "normal commands work again once unsubscribed"
    );
}

#[test]
fn resp2_subscribers_may_only_subscribe_ping_and_quit() {
    let server = TestServer::start(&[]);
    let mut subscriber = server.raw();
    subscriber.send(b"SUBSCRIBE c\r\n");
    subscriber.reply();
    subscriber.send(b"GET k\r\nPING\r\nPING hi\r\n");
    assert_eq!(
        subscriber.line(),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(subscriber.reply(), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert_eq!(subscriber.reply(), "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
}

#[test]
fn subscribe_inside_multi_subscribes_at_exec_as_in_redis() {
    let server = TestServer::start(&[]);
    let mut subscriber = server.raw();
    subscriber.send(b"MULTI\r\nSUBSCRIBE c\r\nSET k 1\r\nEXEC\r\n");
    assert_eq!(subscriber.reply(), "+OK\r\n");
    assert_eq!(subscriber.reply(), "+QUEUED\r\n");
    assert_eq!(subscriber.reply(), "+QUEUED\r\n");
    // The bytes redis-server 7.0 sends for the same transaction.
    assert_eq!(
        subscriber.reply(),
        "*2\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n+OK\r\n"
    );
    // Subscribed from then on.
    subscriber.send(b"PING\r\n");
    assert_eq!(subscriber.reply(), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    let mut publisher = server.client();
    let receivers: i64 = cmd("PUBLISH")
        .arg("c")
        .arg("hi")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(receivers, 1);
    assert_eq!(
        subscriber.reply(),
        "*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n"
    );
}

#[test]
fn resp3_subscribers_get_push_messages_and_keep_every_command() {
    let server = TestServer::start(&[]);
    let mut subscriber = server.raw();
    subscriber.send(b"HELLO 3\r\n");
    subscriber.reply();
    subscriber.send(b"SSUBSCRIBE orders\r\nSET k v\r\nGET k\r\n");
    assert_eq!(
        subscriber.reply(),
        ">3\r\n$10\r\nssubscribe\r\n$6\r\norders\r\n:1\r\n"
    );
    assert_eq!(subscriber.line(), "+OK\r\n");
    assert_eq!(subscriber.reply(), "$1\r\nv\r\n");
    let mut publisher = server.client();
    let shard: i64 = cmd("SPUBLISH")
        .arg("orders")
        .arg("42")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(shard, 1);
    let plain: i64 = cmd("PUBLISH")
        .arg("orders")
        .arg("43")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(plain, 0, "shard channels are their own namespace");
    assert_eq!(
        subscriber.reply(),
        ">3\r\n$8\r\nsmessage\r\n$6\r\norders\r\n$2\r\n42\r\n"
    );
    let channels: Vec<String> = cmd("PUBSUB")
        .arg("SHARDCHANNELS")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(channels, ["orders"]);
}

#[test]
fn a_closed_subscriber_is_forgotten() {
    let server = TestServer::start(&[]);
    {
        let mut subscriber = server.raw();
        subscriber.send(b"SUBSCRIBE gone\r\n");
        subscriber.reply();
    }
    let mut publisher = server.client();
    for _ in 0..100 {
        let receivers: i64 = cmd("PUBLISH")
            .arg("gone")
            .arg("x")
            .query(&mut publisher)
            .unwrap();
        if receivers == 0 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the closed subscriber still counts as a receiver");
}

#[test]
fn a_subscriber_that_stops_reading_is_disconnected_not_buffered_forever() {
    let server = TestServer::start(&[]);
    let mut subscriber = server.raw();
    subscriber.send(b"SUBSCRIBE flood\r\n");
    subscriber.reply();
    // The subscriber never reads again: its socket buffers fill, then its queue, then the
    // server drops it. Publish until PUBLISH reports no receiver.
    let mut publisher = server.client();
    let payload = vec![b'x'; 16 * 1024];
    let mut dropped = false;
    for _ in 0..200_000 {
        let receivers: i64 = cmd("PUBLISH")
            .arg("flood")
            .arg(&payload)
            .query(&mut publisher)
            .unwrap();
        if receivers == 0 {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "a stalled subscriber must be disconnected");
}

#[test]
fn keyspace_notifications_follow_config_set() {
    let server = TestServer::start(&[]);
    let mut admin = server.client();
    let bad = cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEQ")
        .query::<()>(&mut admin)
        .unwrap_err();
    assert!(
        bad.to_string().contains("Invalid event class character"),
        "{bad}"
    );
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("Ex")
        .query(&mut admin)
        .unwrap();
    let value: Vec<String> = cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query(&mut admin)
        .unwrap();
    assert_eq!(value, ["notify-keyspace-events", "xE"]);

    let mut subscriber = server.raw();
    subscriber.send(b"SUBSCRIBE __keyevent@0__:expired\r\n");
    subscriber.reply();
    let _: () = cmd("SET")
        .arg("session")
        .arg("v")
        .arg("PX")
        .arg(30)
        .query(&mut admin)
        .unwrap();
    // Expired by the active cycle or by this later read: either way, one event.
    std::thread::sleep(std::time::Duration::from_millis(80));
    let _: Option<String> = cmd("GET").arg("session").query(&mut admin).unwrap();
    assert_eq!(
        subscriber.reply(),
        "*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:expired\r\n$7\r\nsession\r\n"
    );

    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("Kx")
        .query(&mut admin)
        .unwrap();
    subscriber.send(b"PSUBSCRIBE __keyspace@0__:*\r\n");
    subscriber.reply();
    let _: () = cmd("SET")
        .arg("other")
        .arg("v")
        .arg("PX")
        .arg(30)
        .query(&mut admin)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(80));
    let _: Option<String> = cmd("GET").arg("other").query(&mut admin).unwrap();
    assert_eq!(
        subscriber.reply(),
        "*4\r\n$8\r\npmessage\r\n$16\r\n__keyspace@0__:*\r\n$20\r\n__keyspace@0__:other\r\n$7\r\nexpired\r\n"
    );
}

#[test]
fn new_key_and_key_miss_events_need_their_own_classes() {
    let server = TestServer::start(&["--notify-keyspace-events", "KEA"]);
    let mut admin = server.client();
    let mut subscriber = server.raw();
    subscriber.send(b"PSUBSCRIBE __keyevent@0__:*\r\n");
    subscriber.reply();
    // KEA: only the command's own event; no `new` for the created key, no `keymiss`.
    let _: () = cmd("SET").arg("first").arg("v").query(&mut admin).unwrap();
    let _: Option<String> = cmd("GET").arg("nothing").query(&mut admin).unwrap();
    assert_eq!(
        subscriber.reply(),
        "*4\r\n$8\r\npmessage\r\n$16\r\n__keyevent@0__:*\r\n$18\r\n__keyevent@0__:set\r\n$5\r\nfirst\r\n"
    );

    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("Enm")
        .query(&mut admin)
        .unwrap();
    let value: Vec<String> = cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query(&mut admin)
        .unwrap();
    assert_eq!(value, ["notify-keyspace-events", "nEm"]);
    let _: () = cmd("SET").arg("second").arg("v").query(&mut admin).unwrap();
    let _: Option<String> = cmd("GET").arg("absent").query(&mut admin).unwrap();
    assert_eq!(
        subscriber.reply(),
        "*4\r\n$8\r\npmessage\r\n$16\r\n__keyevent@0__:*\r\n$18\r\n__keyevent@0__:new\r\n$6\r\nsecond\r\n"
    );
    assert_eq!(
        subscriber.reply(),
        "*4\r\n$8\r\npmessage\r\n$16\r\n__keyevent@0__:*\r\n$22\r\n__keyevent@0__:keymiss\r\n$6\r\nabsent\r\n"
    );
}

#[test]
fn subscribers_are_the_pubsub_client_type() {
    let server = TestServer::start(&[]);
    let mut subscriber = server.raw();
    subscriber.send(b"SUBSCRIBE a b\r\n");
    subscriber.reply();
    subscriber.reply();
    subscriber.send(b"PSUBSCRIBE p*\r\n");
    subscriber.reply();
    let mut admin = server.client();
    let listed: String = cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut admin)
        .unwrap();
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 1, "{listed}");
    assert!(lines[0].contains(" flags=P "), "{}", lines[0]);
    assert!(lines[0].contains(" sub=2 psub=1 ssub=0 "), "{}", lines[0]);
    let normal: String = cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("normal")
        .query(&mut admin)
        .unwrap();
    assert_eq!(normal.lines().count(), 1, "only the admin: {normal}");
    let killed: i64 = cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut admin)
        .unwrap();
    assert_eq!(killed, 1);
}
