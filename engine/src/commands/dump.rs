//! DUMP and RESTORE: a key's value as Redis's serialized payload and back. The payload format
//! comes from the [`crate::codec::PayloadCodec`] the persistence crate installs; everything
//! else (locking, REPLACE, deadlines, IDLETIME/FREQ, events, propagation) is here, as for any
//! other write. RESTORE propagates its deadline as an absolute time (ABSTTL), as Redis does,
//! so a replica or an AOF replay gives the key the same deadline whenever it runs.

use bytes::Bytes;

use crate::codec::{PayloadCodec, PayloadError};
use crate::command::{is_keyword, parse_i64_arg, CommandSpec, Flags, Group, Handler, KeyRange};
use crate::error::CommandError;
use crate::evict::access::AccessHint;
use crate::exec::Ctx;
use crate::keyspace::Entry;
use crate::notify::Events;
use crate::reply::Reply;

/// The commands of this family.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("dump", 2, Handler::Engine(dump))
        .flags(Flags::READONLY)
        .keys(KeyRange::FIRST)
        .doc(
            Group::Generic,
            "2.6.0",
            "Returns a serialized representation of the value stored at a key.",
        ),
    CommandSpec::new("restore", -4, Handler::Engine(restore))
        .flags(Flags::WRITE.and(Flags::DENYOOM))
        .keys(KeyRange::FIRST)
        .doc(
            Group::Generic,
            "2.6.0",
            "Creates a key from the serialized representation of a value.",
        ),
    // What MIGRATE sends in cluster mode: RESTORE, served for a slot being imported without
    // a preceding ASKING.
    CommandSpec::new("restore-asking", -4, Handler::Engine(restore))
        .flags(Flags::WRITE.and(Flags::DENYOOM).and(Flags::ASKING))
        .keys(KeyRange::FIRST)
        .doc(
            Group::Server,
            "3.0.0",
            "An internal command for migrating keys in a cluster.",
        ),
];

const NO_CODEC: &str =
    "DUMP and RESTORE need a payload codec: open the engine through slotkv-persistence";

fn codec<'a>(ctx: &Ctx<'a>) -> Result<&'a dyn PayloadCodec, CommandError> {
    ctx.engine
        .payload_codec
        .get()
        .map(|codec| &**codec)
        .ok_or_else(|| CommandError::err(NO_CODEC))
}

fn dump(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let codec = codec(ctx)?;
    let key = &args[1];
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        return Ok(Reply::Nil);
    };
    let payload = codec.dump(&entry.value).map_err(CommandError::err)?;
    Ok(Reply::Bulk(Bytes::from(payload)))
}

/// RESTORE's options after the payload.
#[derive(Debug, Default)]
struct RestoreOptions {
    replace: bool,
    absttl: bool,
    hint: AccessHint,
}

fn parse_restore_options(options: &[Bytes]) -> Result<RestoreOptions, CommandError> {
    let mut parsed = RestoreOptions::default();
    let mut index = 0;
    while let Some(option) = options.get(index) {
        let value = options.get(index + 1);
        if is_keyword(option, "replace") {
            parsed.replace = true;
        } else if is_keyword(option, "absttl") {
            parsed.absttl = true;
        } else if let (true, Some(value), None) =
            (is_keyword(option, "idletime"), value, parsed.hint.freq)
        {
            let idle = parse_i64_arg(value)?;
            let idle = u64::try_from(idle)
                .map_err(|_| CommandError::err("Invalid IDLETIME value, must be >= 0"))?;
            parsed.hint.idle_secs = Some(idle);
            index += 1;
        } else if let (true, Some(value), None) =
            (is_keyword(option, "freq"), value, parsed.hint.idle_secs)
        {
            let freq = u8::try_from(parse_i64_arg(value)?)
                .map_err(|_| CommandError::err("Invalid FREQ value, must be >= 0 and <= 255"))?;
            parsed.hint.freq = Some(freq);
            index += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        index += 1;
    }
    Ok(parsed)
}

fn restore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let options = parse_restore_options(&args[4..])?;
    let key = &args[1];
    let now_ms = ctx.now_ms();
    let codec = codec(ctx)?;
    let mut locks = ctx.lock_key(key);
    if !options.replace && locks.contains(key) {
        return Err(CommandError::Other(
            "BUSYKEY Target key name already exists.".into(),
        ));
    }
    let ttl = u64::try_from(parse_i64_arg(&args[2])?)
        .map_err(|_| CommandError::err("Invalid TTL value, must be >= 0"))?;
    let value = codec.restore(&args[3]).map_err(|error| match error {
        PayloadError::VersionOrChecksum => {
            CommandError::err("DUMP payload version or checksum are wrong")
        }
        PayloadError::BadData => CommandError::err("Bad data format"),
    })?;
    let deadline = match (ttl, options.absttl) {
        (0, _) => None,
        (at, true) => Some(at),
        (ttl, false) => Some(now_ms.saturating_add(ttl)),
    };
    if deadline.is_some_and(|at| at <= now_ms) {
        // Already expired: the key is not created; a key REPLACE removed is a deletion.
        if options.replace && locks.remove(key).is_some() {
            locks.notify(Events::GENERIC, "del", key);
            locks.propagate(|| vec![Bytes::from_static(b"DEL"), key.clone()]);
        }
        return Ok(Reply::Ok);
    }
    locks.insert_restored(key, Entry::with_expiry(value, deadline), options.hint);
    locks.notify(Events::GENERIC, "restore", key);
    locks.propagate(|| {
        let mut record = args.to_vec();
        if let Some(at) = deadline.filter(|_| !options.absttl) {
            record[2] = Bytes::from(at.to_string());
            record.push(Bytes::from_static(b"ABSTTL"));
        }
        record
    });
    Ok(Reply::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<Bytes> {
        list.iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn options_parse_as_redis_does() {
        let parsed =
            parse_restore_options(&words(&["REPLACE", "absttl", "IDLETIME", "7"])).expect("valid");
        assert!(parsed.replace && parsed.absttl);
        assert_eq!(parsed.hint.idle_secs, Some(7));
        let error = |list: &[&str]| parse_restore_options(&words(list)).unwrap_err().to_string();
        assert_eq!(
            error(&["IDLETIME", "-1"]),
            "ERR Invalid IDLETIME value, must be >= 0"
        );
        assert_eq!(
            error(&["FREQ", "256"]),
            "ERR Invalid FREQ value, must be >= 0 and <= 255"
        );
        assert_eq!(error(&["FREQ", "1", "IDLETIME", "2"]), "ERR syntax error");
        assert_eq!(error(&["IDLETIME"]), "ERR syntax error");
        assert_eq!(
            error(&["FREQ", "x"]),
            "ERR value is not an integer or out of range"
        );
    }
}
