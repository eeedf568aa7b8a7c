//! String commands: GET, SET and the rest of Redis's string family.

use bytes::Bytes;

use crate::command::{Args, CommandSpec, Flags, Group, Handler, KeyRange};
use crate::error::CommandError;
use crate::exec::Ctx;
use crate::keyspace::Entry;
use crate::reply::Reply;
use crate::value::{StrValue, Value};

pub(crate) static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, Handler::Engine(get))
        .flags(Flags::READONLY.and(Flags::FAST))
        .keys(KeyRange::FIRST)
        .doc(Group::String, "1.0.0", "Returns the string value of a key."),
    CommandSpec::new("set", -3, Handler::Engine(set))
        .flags(Flags::WRITE.and(Flags::DENYOOM))
        .keys(KeyRange::FIRST)
        .doc(
            Group::String,
            "1.0.0",
            "Sets the string value of a key, ignoring its type.",
        ),
];

/// The string at `key`: `Ok(None)` when absent, WRONGTYPE for other types.
pub fn get_string(ctx: &Ctx<'_>, key: &[u8]) -> Result<Option<Bytes>, CommandError> {
    let mut locks = ctx.lock_key(key);
    match locks.read(key) {
        None => Ok(None),
        Some(entry) => match &entry.value {
            Value::Str(s) => Ok(Some(s.to_bytes())),
        },
    }
}

fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(Reply::bulk_or_nil(get_string(ctx, &args[1])?))
}

fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let value = parser.next_bytes()?;
    parser.finish()?;
    let mut locks = ctx.lock_key(key);
    locks.insert(key, Entry::new(Value::Str(StrValue::from_bytes(value))));
    locks.propagate(|| args.to_vec());
    Ok(Reply::Ok)
}
