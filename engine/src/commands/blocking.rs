//! The blocking list and sorted-set commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP,
//! BZPOPMIN, BZPOPMAX, BZMPOP). Waiting needs the server's connection, so they are listed here
//! with [`Handler::Server`]; each attempt runs the matching non-blocking command (LPOP, LMOVE,
//! ZPOPMIN, ...), which is also what gets propagated, as in Redis.

use crate::command::{CommandSpec, Flags, Group, Handler, KeyRange, MovableKeys};

const BLOCKING_WRITE: Flags = Flags::WRITE.and(Flags::BLOCKING).and(Flags::NOSCRIPT);

const fn blocking(
    name: &'static str,
    arity: i32,
    keys: KeyRange,
    group: Group,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, arity, Handler::Server)
        .flags(BLOCKING_WRITE)
        .keys(keys)
        .doc(group, since, summary)
}

/// Keys from the first argument to the one before the timeout.
const KEYS_THEN_TIMEOUT: KeyRange = KeyRange::new(1, -2, 1);

pub(crate) static COMMANDS: &[CommandSpec] = &[
    blocking("blpop", -3, KEYS_THEN_TIMEOUT, Group::List, "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    blocking("brpop", -3, KEYS_THEN_TIMEOUT, Group::List, "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    blocking("blmove", 6, KeyRange::new(1, 2, 1), Group::List, "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.")
        .flags(BLOCKING_WRITE.and(Flags::DENYOOM)),
    blocking("brpoplpush", 4, KeyRange::new(1, 2, 1), Group::List, "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.")
        .flags(BLOCKING_WRITE.and(Flags::DENYOOM)),
    CommandSpec::new("blmpop", -5, Handler::Server)
        .flags(Flags::WRITE.and(Flags::BLOCKING).and(Flags::MOVABLE_KEYS))
        .movable_keys(MovableKeys::numkeys_at(2))
        .doc(Group::List, "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    blocking("bzpopmin", -3, KEYS_THEN_TIMEOUT, Group::SortedSet, "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.")
        .flags(BLOCKING_WRITE.and(Flags::FAST)),
    blocking("bzpopmax", -3, KEYS_THEN_TIMEOUT, Group::SortedSet, "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise. Deletes the sorted set if the last element was popped.")
        .flags(BLOCKING_WRITE.and(Flags::FAST)),
    CommandSpec::new("bzmpop", -5, Handler::Server)
        .flags(Flags::WRITE.and(Flags::BLOCKING).and(Flags::MOVABLE_KEYS))
        .movable_keys(MovableKeys::numkeys_at(2))
        .doc(Group::SortedSet, "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
];
