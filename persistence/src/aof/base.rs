//! Writing an AOF base from an engine snapshot: an RDB (`aof-use-rdb-preamble yes`, the
//! default, with the `aof-base` aux field set) or RESP commands that rebuild every key, as
//! Redis's rewrite emits them (at most 64 items per command, then `PEXPIREAT` for a deadline).
//! Keys whose deadline has already passed are left out, as Redis leaves them out.

use std::io::{self, Write};

use bytes::Bytes;
use slotkv_engine::float::format_double;
use slotkv_engine::keyspace::Entry;
use slotkv_engine::snapshot::Snapshot;
use slotkv_engine::value::Value;

use crate::rdb::{RdbWriter, WriterInfo, WriterOptions};
use slotkv_engine::propagate::encode_resp_array;

/// Items per command when a collection is rebuilt (Redis's AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_COMMAND: usize = 64;
/// The Redis version an RDB base claims (the one slotkv is compatible with).
const REDIS_VER: &str = "7.0.15";

/// Writes the snapshot to `out` as an RDB (`rdb`) or as commands.
pub fn write_base(out: &mut impl Write, snapshot: Snapshot, rdb: bool) -> io::Result<()> {
    let now_ms = super::writer::unix_secs().saturating_mul(1000);
    if rdb {
        write_rdb(out, snapshot, now_ms)
    } else {
        write_commands(out, snapshot, now_ms)
    }
}

fn is_live(entry: &Entry, now_ms: u64) -> bool {
    entry
        .expire_at_ms()
        .is_none_or(|deadline| deadline > now_ms)
}

fn write_rdb(out: &mut impl Write, mut snapshot: Snapshot, now_ms: u64) -> io::Result<()> {
    let info = WriterInfo {
        redis_ver: REDIS_VER.to_owned(),
        ctime_secs: now_ms / 1000,
        used_mem: 0,
        aof_base: true,
    };
    let mut writer = RdbWriter::new(out, WriterOptions::default(), &info)?;
    let mut current_db = None;
    while let Some(slot) = snapshot.next() {
        if current_db != Some(slot.db) {
            let size = snapshot.db_size(slot.db);
            writer.select_db(slot.db as u64, size.keys, size.expires)?;
            current_db = Some(slot.db);
        }
        for (key, entry) in &slot.entries {
            if is_live(entry, now_ms) {
                writer.entry(key, &entry.value, entry.expire_at_ms())?;
            }
        }
    }
    writer.finish()?;
    Ok(())
}

fn write_commands(out: &mut impl Write, snapshot: Snapshot, now_ms: u64) -> io::Result<()> {
    let mut current_db = None;
    let mut buf = Vec::with_capacity(64 * 1024);
    for slot in snapshot {
        if current_db != Some(slot.db) {
            let select = [
                Bytes::from_static(b"SELECT"),
                Bytes::from(slot.db.to_string()),
            ];
            encode_resp_array(&select, &mut buf);
            current_db = Some(slot.db);
        }
        for (key, entry) in &slot.entries {
            if !is_live(entry, now_ms) {
                continue;
            }
            let key = Bytes::copy_from_slice(key);
            rebuild(&key, &entry.value, &mut buf)?;
            if let Some(deadline) = entry.expire_at_ms() {
                let args = [
                    Bytes::from_static(b"PEXPIREAT"),
                    key,
                    Bytes::from(deadline.to_string()),
                ];
                encode_resp_array(&args, &mut buf);
            }
            if buf.len() >= 64 * 1024 {
                out.write_all(&buf)?;
                buf.clear();
            }
        }
    }
    out.write_all(&buf)?;
    out.flush()
}

/// Appends the commands that rebuild `key` holding `value`.
fn rebuild(key: &Bytes, value: &Value, out: &mut Vec<u8>) -> io::Result<()> {
    let bytes = |data: &[u8]| Bytes::copy_from_slice(data);
    match value {
        Value::Str(s) => encode_resp_array(
            &[Bytes::from_static(b"SET"), key.clone(), s.to_bytes()],
            out,
        ),
        Value::List(list) => chunked(b"RPUSH", key, list.iter().map(bytes), out),
        Value::Set(set) => chunked(b"SADD", key, set.iter().map(|m| m.to_bytes()), out),
        Value::Hash(hash) => chunked(
            b"HMSET",
            key,
            hash.iter().flat_map(|(f, v)| [bytes(f), bytes(v)]),
            out,
        ),
        Value::SortedSet(zset) => chunked(
            b"ZADD",
            key,
            zset.iter()
                .flat_map(|(m, score)| [Bytes::from(format_double(score)), bytes(m)]),
            out,
        ),
        other => {
            let reason = format!("cannot rewrite a {} as commands", other.type_name());
            return Err(io::Error::new(io::ErrorKind::InvalidInput, reason));
        }
    }
    Ok(())
}

/// Emits `command key item...` commands of at most [`ITEMS_PER_COMMAND`] items (pairs count
/// as two arguments each, so pairs are never split when the count is even).
fn chunked(
    command: &'static [u8],
    key: &Bytes,
    items: impl Iterator<Item = Bytes>,
    out: &mut Vec<u8>,
) {
    let mut args = vec![Bytes::from_static(command), key.clone()];
    for item in items {
        args.push(item);
        if args.len() == 2 + ITEMS_PER_COMMAND {
            encode_resp_array(&args, out);
            args.truncate(2);
        }
    }
    if args.len() > 2 {
        encode_resp_array(&args, out);
    }
}
