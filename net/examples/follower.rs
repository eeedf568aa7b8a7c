//! An embedded read-only replica: this process keeps a local copy of a remote primary's data
//! (slotkv-server or redis-server) and reads it with no network hop.
//!
//!     cargo run -p slotkv-net --example follower -- 127.0.0.1 6379 [key]
//!
//! Follows the primary at the given address, waits for the first sync, then prints the key
//! count and the value of `key` (default `scott`) every second, five times, and stops.

// An example prints its results.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use bytes::Bytes;
use slotkv_engine::{Engine, Reply, Session};
use slotkv_net::replication::{follow, FollowOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let host = args.next().unwrap_or_else(|| "127.0.0.1".to_owned());
    let port: u16 = args.next().unwrap_or_else(|| "6379".to_owned()).parse()?;
    let key = Bytes::from(args.next().unwrap_or_else(|| "scott".to_owned()));
    let engine = Engine::open(slotkv_engine::Config::default())?;
    let options = FollowOptions {
        password: std::env::var("PRIMARY_PASSWORD").ok(),
        ..FollowOptions::default()
    };
    let follower = follow(engine.clone(), &host, port, options)?;
    if !follower.wait_connected(Duration::from_secs(30)) {
        return Err(format!("no link to {host}:{port} within 30 s").into());
    }
    let mut session = Session::new();
    for _ in 0..5 {
        let state = follower.state();
        let keys = engine.execute_in(&mut session, &[Bytes::from_static(b"DBSIZE")]);
        let value = engine.execute_in(&mut session, &[Bytes::from_static(b"GET"), key.clone()]);
        println!(
            "offset {} link {:?}: {} keys, {} = {}",
            state.offset,
            state.link,
            show(&keys),
            String::from_utf8_lossy(&key),
            show(&value)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    follower.stop();
    Ok(())
}

fn show(reply: &Reply) -> String {
    match reply {
        Reply::Integer(n) => n.to_string(),
        Reply::Bulk(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Reply::Nil => "(nil)".to_owned(),
        other => format!("{other:?}"),
    }
}
