//! The embedded follower (`slotkv_net::replication::follow`): an `Engine` in this process
//! follows a slotkv-server primary on an ephemeral loopback port: the full sync, the stream
//! (every database, expiries), a cut link resuming, and stopping hands the engine back; and a
//! redis-server primary (skipped when /usr/bin/redis-server is missing).

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::TestServer;
use slotkv_engine::{Engine, Reply, Session};
use slotkv_net::replication::{follow, FollowOptions};

fn run(engine: &Engine, session: &mut Session, words: &[&str]) -> Reply {
    let args: Vec<Bytes> = words.iter().map(|w| Bytes::from(w.to_string())).collect();
    engine.execute_in(session, &args)
}

fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

fn bulk(text: &str) -> Reply {
    Reply::Bulk(Bytes::from(text.to_owned()))
}

/// `engine` following the primary on `port`, once its link is up.
fn follow_connected(engine: &Engine, port: u16) -> slotkv_net::replication::FollowerHandle {
    let follower =
        follow(engine.clone(), "127.0.0.1", port, FollowOptions::default()).expect("follow");
    assert!(
        follower.wait_connected(Duration::from_secs(20)),
        "the link comes up"
    );
    follower
}

#[test]
fn an_embedded_engine_follows_a_slotkv_primary() {
    let primary = TestServer::start(&[]);
    let mut p = primary.client();
    let _: () = redis::cmd("SET")
        .arg("before")
        .arg("sync")
        .query(&mut p)
        .unwrap();
    let engine = Engine::open(slotkv_engine::Config::default()).unwrap();
    let mut session = Session::new();
    run(
        &engine,
        &mut session,
        &["SET", "local", "gone after the sync"],
    );
    let follower = follow_connected(&engine, primary.port);
    assert_eq!(run(&engine, &mut session, &["GET", "before"]), bulk("sync"));
    assert_eq!(run(&engine, &mut session, &["GET", "local"]), Reply::Nil);

    // The stream: every database, a transaction, an expiry the primary then reclaims.
    let _: () = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("scott")
        .arg("tiger")
        .cmd("SELECT")
        .arg(2)
        .cmd("RPUSH")
        .arg("list")
        .arg("a")
        .arg("b")
        .cmd("SET")
        .arg("short")
        .arg("1")
        .arg("PX")
        .arg(50)
        .cmd("SELECT")
        .arg(0)
        .query(&mut p)
        .unwrap();
    eventually("the stream to arrive", || {
        run(&engine, &mut session, &["GET", "scott"]) == bulk("tiger")
    });
    let mut db2 = Session::new();
    run(&engine, &mut db2, &["SELECT", "2"]);
    assert_eq!(run(&engine, &mut db2, &["LLEN", "list"]), Reply::Integer(2));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        run(&engine, &mut db2, &["GET", "short"]),
        Reply::Nil,
        "hidden when due"
    );
    let offset = follower.state().offset;
    assert!(offset > 0);

    // A cut link (the primary drops its replica) resumes and catches up.
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .query(&mut p)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("cut")
        .query(&mut p)
        .unwrap();
    eventually("the link to resume", || {
        run(&engine, &mut session, &["GET", "after"]) == bulk("cut")
    });
    assert!(follower.state().offset > offset);

    // Stopped, the engine is a primary with the data it had.
    let engine = follower.stop();
    let _: () = redis::cmd("SET")
        .arg("late")
        .arg("write")
        .query(&mut p)
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(run(&engine, &mut session, &["GET", "late"]), Reply::Nil);
    assert_eq!(run(&engine, &mut session, &["GET", "scott"]), bulk("tiger"));
    assert_eq!(run(&engine, &mut session, &["SET", "mine", "1"]), Reply::Ok);
}

#[test]
fn a_follower_of_an_unreachable_primary_is_not_connected() {
    let port = common::free_port();
    let engine = Engine::open(slotkv_engine::Config::default()).unwrap();
    let follower = follow(engine, "127.0.0.1", port, FollowOptions::default()).expect("follow");
    assert!(!follower.wait_connected(Duration::from_millis(300)));
    assert!(!follower.state().is_connected());
    drop(follower);
}

#[test]
fn an_embedded_engine_follows_a_redis_server_primary() {
    let Some(primary) = common::RedisServer::start(&[]) else {
        return;
    };
    let mut p = primary.client().unwrap();
    let _: () = redis::cmd("SET")
        .arg("scott")
        .arg("tiger")
        .query(&mut p)
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("v")
        .query(&mut p)
        .unwrap();
    let engine = Engine::open(slotkv_engine::Config::default()).unwrap();
    let follower = follow_connected(&engine, primary.port);
    let mut session = Session::new();
    assert_eq!(run(&engine, &mut session, &["GET", "scott"]), bulk("tiger"));
    assert_eq!(run(&engine, &mut session, &["HGET", "h", "f"]), bulk("v"));
    let _: () = redis::cmd("SET")
        .arg("streamed")
        .arg("yes")
        .query(&mut p)
        .unwrap();
    eventually("the stream to arrive", || {
        run(&engine, &mut session, &["GET", "streamed"]) == bulk("yes")
    });
    follower.stop();
}
