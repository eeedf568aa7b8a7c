//! Generic key commands: DEL, EXISTS, TYPE, RENAME, SCAN, expiry and the rest of Redis's
//! keyspace family.

use bytes::Bytes;

use crate::command::{CommandSpec, Flags, Group, Handler, KeyRange};
use crate::error::CommandError;
use crate::exec::Ctx;
use crate::reply::Reply;

pub(crate) static COMMANDS: &[CommandSpec] = &[CommandSpec::new("del", -2, Handler::Engine(del))
    .flags(Flags::WRITE)
    .keys(KeyRange::ALL)
    .doc(Group::Generic, "1.0.0", "Deletes one or more keys.")];

fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let keys: Vec<&[u8]> = args[1..].iter().map(|k| &k[..]).collect();
    let mut locks = ctx.lock_keys(&keys);
    let mut removed = 0;
    for key in &keys {
        if locks.remove(key).is_some() {
            removed += 1;
            locks.propagate(|| vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(key)]);
        }
    }
    Ok(Reply::Integer(removed))
}
