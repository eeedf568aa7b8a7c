//! The command families, one file each: parse the arguments, apply, reply. Each family lists its
//! commands in a `COMMANDS` table that [`crate::command::CommandTable`] merges.

pub mod connection;
pub mod keys;
pub mod server;
pub mod strings;

use crate::command::CommandSpec;

/// Every top-level command of every family.
pub(crate) fn all() -> impl Iterator<Item = &'static CommandSpec> {
    strings::COMMANDS
        .iter()
        .chain(keys::COMMANDS)
        .chain(server::COMMANDS)
        .chain(connection::COMMANDS)
}
