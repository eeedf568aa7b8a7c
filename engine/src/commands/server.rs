//! Server and connection commands. Those that touch only the keyspace (PING, SELECT, FLUSHDB,
//! SWAPDB, ...) run here; those that need the connection or the process (CLIENT, HELLO, INFO,
//! CONFIG, ...) are listed with [`Handler::Server`] so one table still describes them all.

use bytes::Bytes;

use crate::command::{Args, CommandSpec, Flags, Group, Handler};
use crate::error::CommandError;
use crate::exec::Ctx;
use crate::reply::Reply;

pub(crate) static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, Handler::Engine(ping))
        .flags(Flags::FAST.and(Flags::STALE))
        .doc(
            Group::Connection,
            "1.0.0",
            "Returns the server's liveliness response.",
        ),
    CommandSpec::new("select", 2, Handler::Engine(select))
        .flags(Flags::LOADING.and(Flags::STALE).and(Flags::FAST))
        .doc(Group::Connection, "1.0.0", "Changes the selected database."),
];

fn ping(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    match args.len() {
        1 => Ok(Reply::Simple("PONG".into())),
        2 => Ok(Reply::Bulk(args[1].clone())),
        _ => Err(CommandError::WrongArity("ping".into())),
    }
}

fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let index = parser
        .next_i64()
        .map_err(|_| CommandError::InvalidDbIndex)?;
    let index = usize::try_from(index).map_err(|_| CommandError::DbIndexOutOfRange)?;
    if index >= ctx.engine.dbs.len() {
        return Err(CommandError::DbIndexOutOfRange);
    }
    ctx.session.db = index;
    Ok(Reply::Ok)
}
