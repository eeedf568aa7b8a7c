//! MEMORY: USAGE is answered here from the keyspace (an estimate per key, see
//! [`crate::usage`]); STATS, DOCTOR, MALLOC-STATS, PURGE and HELP need the allocator and are
//! answered by the server.

use bytes::Bytes;

use crate::command::{is_keyword, parse_i64_arg, CommandSpec, Flags, Group, Handler, KeyRange};
use crate::commands::connection::server;
use crate::error::CommandError;
use crate::exec::Ctx;
use crate::reply::Reply;
use crate::usage::{entry_bytes, DEFAULT_SAMPLES};

static MEMORY_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("memory|usage", -3, Handler::Engine(memory_usage))
        .flags(Flags::READONLY)
        .keys(KeyRange::new(2, 2, 1))
        .doc(
            Group::Server,
            "4.0.0",
            "Estimates the memory usage of a key.",
        ),
    server(
        "memory|stats",
        2,
        Flags::NONE,
        Group::Server,
        "4.0.0",
        "Returns details about memory usage.",
    ),
    server(
        "memory|doctor",
        2,
        Flags::NONE,
        Group::Server,
        "4.0.0",
        "Outputs a memory problems report.",
    ),
    server(
        "memory|malloc-stats",
        2,
        Flags::NONE,
        Group::Server,
        "4.0.0",
        "Returns the allocator statistics.",
    ),
    server(
        "memory|purge",
        2,
        Flags::NONE,
        Group::Server,
        "4.0.0",
        "Asks the allocator to release memory.",
    ),
    server(
        "memory|help",
        2,
        Flags::LOADING.and(Flags::STALE),
        Group::Server,
        "4.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

pub(crate) static COMMANDS: &[CommandSpec] = &[CommandSpec::new("memory", -2, Handler::Container)
    .doc(
        Group::Server,
        "4.0.0",
        "A container for memory diagnostics commands.",
    )
    .subcommands(MEMORY_SUBCOMMANDS)];

/// MEMORY USAGE key [SAMPLES count]: bytes the key and its value take, estimated from `count`
/// elements of a collection (5 by default, 0 for all of them).
fn memory_usage(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let samples = match &args[3..] {
        [] => DEFAULT_SAMPLES,
        [option, count] if is_keyword(option, "samples") => {
            let count = parse_i64_arg(count)?;
            if count < 0 {
                return Err(CommandError::Syntax);
            }
            usize::try_from(count).unwrap_or(usize::MAX)
        }
        _ => return Err(CommandError::Syntax),
    };
    let key = &args[2];
    let bytes = ctx
        .lock_key(key)
        .peek(key)
        .map(|entry| entry_bytes(key, entry, samples));
    Ok(bytes.map_or(Reply::Nil, |b| {
        Reply::Integer(i64::try_from(b).unwrap_or(i64::MAX))
    }))
}

#[cfg(test)]
mod tests {
    use crate::commands::keys::tests::{engine, run};
    use crate::reply::Reply;

    #[test]
    fn usage_grows_with_the_value_and_checks_its_options() {
        let (engine, _clock) = engine();
        run(&engine, &["SET", "small", "v"]);
        run(&engine, &["SET", "large", &"x".repeat(10_000)]);
        let Reply::Integer(small) = run(&engine, &["MEMORY", "USAGE", "small"]) else {
            panic!("integer expected");
        };
        let Reply::Integer(large) = run(&engine, &["MEMORY", "USAGE", "large", "SAMPLES", "0"])
        else {
            panic!("integer expected");
        };
        assert!(small > 0 && large >= small + 10_000, "{small} {large}");
        assert_eq!(run(&engine, &["MEMORY", "USAGE", "missing"]), Reply::Nil);
        assert!(run(&engine, &["MEMORY", "USAGE", "small", "SAMPLES", "-1"]).is_error());
        assert!(run(&engine, &["MEMORY", "USAGE", "small", "BOGUS"]).is_error());
    }
}
