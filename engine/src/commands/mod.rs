//! The command families, one file each: parse the arguments, apply, reply. Each family lists its
//! commands in a `COMMANDS` table that [`crate::command::CommandTable`] merges.

pub mod bitmaps;
pub mod blocking;
pub mod connection;
pub mod dump;
pub mod hashes;
pub mod hyperloglog;
pub mod keys;
pub mod lists;
pub mod memory;
pub mod replication;
pub mod server;
pub mod sets;
pub mod sort;
pub mod sorted_sets;
pub mod strings;

use crate::command::CommandSpec;

/// Every top-level command of every family.
pub(crate) fn all() -> impl Iterator<Item = &'static CommandSpec> {
    strings::COMMANDS
        .iter()
        .chain(keys::COMMANDS)
        .chain(server::COMMANDS)
        .chain(connection::COMMANDS)
        .chain(hashes::COMMANDS)
        .chain(lists::COMMANDS)
        .chain(sets::COMMANDS)
        .chain(sorted_sets::COMMANDS)
        .chain(bitmaps::COMMANDS)
        .chain(hyperloglog::COMMANDS)
        .chain(blocking::COMMANDS)
        .chain(sort::COMMANDS)
        .chain(memory::COMMANDS)
        .chain(dump::COMMANDS)
        .chain(replication::COMMANDS)
}
