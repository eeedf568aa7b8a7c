//! Embedding slotkv: open an in-memory engine, use the typed string API, then run an arbitrary
//! command by its arguments, exactly as a RESP client would send it.
//!
//! Run with `cargo run -p slotkv-engine --example embedded`.

#![allow(clippy::print_stdout)]

use bytes::Bytes;
use slotkv_engine::api::strings::{Expiry, SetCondition, SetOptions};
use slotkv_engine::{Config, Engine};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = Engine::open(Config::default())?;

    db.set(b"greeting", b"hello", SetOptions::default())?;
    let value = db.get(b"greeting")?;
    println!(
        "GET greeting -> {:?}",
        value.as_deref().map(String::from_utf8_lossy)
    );

    let session_options = SetOptions {
        expiry: Some(Expiry::Ex(60)),
        condition: SetCondition::IfAbsent,
        ..SetOptions::default()
    };
    let first = db.set(b"session:42", b"token", session_options)?;
    let second = db.set(b"session:42", b"other", session_options)?;
    println!(
        "SET NX EX 60 twice -> written {}, then {}",
        first.written, second.written
    );

    println!("INCRBY visits 5 -> {}", db.incr_by(b"visits", 5)?);
    println!(
        "INCRBYFLOAT price 10.5 -> {}",
        db.incr_by_float(b"price", 10.5)?
    );
    println!(
        "APPEND greeting -> length {}",
        db.append(b"greeting", b", world")?
    );

    let args: Vec<Bytes> = ["GETRANGE", "greeting", "0", "4"]
        .into_iter()
        .map(|word| Bytes::from_static(word.as_bytes()))
        .collect();
    println!("GETRANGE greeting 0 4 -> {:?}", db.execute(&args));
    Ok(())
}
