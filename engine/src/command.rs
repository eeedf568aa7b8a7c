//! The command table: one description per command (name, arity, flags, key positions, docs and
//! handler). It drives the embedded API, the server's dispatch, `COMMAND INFO/DOCS/GETKEYS`
//! and, later, ACL categories and cluster key checks: nothing else lists commands.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::error::CommandError;
use crate::exec::Ctx;
use crate::reply::Reply;

/// Command flags, named as `COMMAND INFO` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(u32);

impl Flags {
    pub const NONE: Flags = Flags(0);
    pub const WRITE: Flags = Flags(1);
    pub const READONLY: Flags = Flags(1 << 1);
    pub const DENYOOM: Flags = Flags(1 << 2);
    pub const ADMIN: Flags = Flags(1 << 3);
    pub const PUBSUB: Flags = Flags(1 << 4);
    pub const NOSCRIPT: Flags = Flags(1 << 5);
    pub const BLOCKING: Flags = Flags(1 << 6);
    pub const LOADING: Flags = Flags(1 << 7);
    pub const STALE: Flags = Flags(1 << 8);
    pub const SKIP_MONITOR: Flags = Flags(1 << 9);
    pub const SKIP_SLOWLOG: Flags = Flags(1 << 10);
    pub const FAST: Flags = Flags(1 << 11);
    pub const NO_AUTH: Flags = Flags(1 << 12);
    pub const MAY_REPLICATE: Flags = Flags(1 << 13);
    pub const NO_MULTI: Flags = Flags(1 << 14);
    pub const MOVABLE_KEYS: Flags = Flags(1 << 15);
    pub const ALLOW_BUSY: Flags = Flags(1 << 16);
    /// Served for a slot being imported without a preceding ASKING (RESTORE-ASKING).
    pub const ASKING: Flags = Flags(1 << 17);

    const NAMES: [(Flags, &'static str); 18] = [
        (Flags::WRITE, "write"),
        (Flags::READONLY, "readonly"),
        (Flags::DENYOOM, "denyoom"),
        (Flags::ADMIN, "admin"),
        (Flags::PUBSUB, "pubsub"),
        (Flags::NOSCRIPT, "noscript"),
        (Flags::BLOCKING, "blocking"),
        (Flags::LOADING, "loading"),
        (Flags::STALE, "stale"),
        (Flags::SKIP_MONITOR, "skip_monitor"),
        (Flags::SKIP_SLOWLOG, "skip_slowlog"),
        (Flags::FAST, "fast"),
        (Flags::NO_AUTH, "no_auth"),
        (Flags::MAY_REPLICATE, "may_replicate"),
        (Flags::NO_MULTI, "no_multi"),
        (Flags::MOVABLE_KEYS, "movablekeys"),
        (Flags::ALLOW_BUSY, "allow_busy"),
        (Flags::ASKING, "asking"),
    ];

    /// Both sets of flags.
    pub const fn and(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names of the flags that are set, in COMMAND INFO's order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(flag, _)| self.contains(*flag))
            .map(|(_, name)| name)
    }
}

/// Documentation group, as COMMAND DOCS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Generic,
    String,
    Hash,
    List,
    Set,
    SortedSet,
    Bitmap,
    HyperLogLog,
    Transactions,
    PubSub,
    Server,
    Connection,
    Cluster,
}

impl Group {
    /// COMMAND DOCS's name of the group.
    pub fn name(self) -> &'static str {
        match self {
            Group::Generic => "generic",
            Group::String => "string",
            Group::Hash => "hash",
            Group::List => "list",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::Bitmap => "bitmap",
            Group::HyperLogLog => "hyperloglog",
            Group::Transactions => "transactions",
            Group::PubSub => "pubsub",
            Group::Server => "server",
            Group::Connection => "connection",
            Group::Cluster => "cluster",
        }
    }

    /// The ACL category the group maps to; server and cluster commands take theirs from
    /// their flags only (`admin` gives `@admin`), so DBSIZE or INFO are not `@admin`.
    pub fn acl_category(self) -> Option<&'static [&'static str]> {
        Some(match self {
            Group::Generic => &["@keyspace"],
            Group::String => &["@string"],
            Group::Hash => &["@hash"],
            Group::List => &["@list"],
            Group::Set => &["@set"],
            Group::SortedSet => &["@sortedset"],
            Group::Bitmap => &["@bitmap"],
            Group::HyperLogLog => &["@hyperloglog"],
            Group::Transactions => &["@transaction"],
            Group::PubSub => &["@pubsub"],
            Group::Server | Group::Cluster => return None,
            Group::Connection => &["@connection"],
        })
    }
}

/// How a command runs.
#[derive(Clone, Copy)]
pub enum Handler {
    /// Applied by the engine.
    Engine(fn(&mut Ctx<'_>, &[Bytes]) -> Result<Reply, CommandError>),
    /// Connection or process state: the server answers it (CLIENT, HELLO, INFO, ...).
    Server,
    /// A container whose subcommands carry the handlers (OBJECT, CLUSTER, ...).
    Container,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Handler::Engine(_) => "Engine",
            Handler::Server => "Server",
            Handler::Container => "Container",
        })
    }
}

/// Key positions in the argument vector (0 is the command name), as Redis's legacy
/// first/last/step triple: last may be negative, counting from the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange {
    pub first: i32,
    pub last: i32,
    pub step: i32,
}

impl KeyRange {
    /// No keys.
    pub const NONE: KeyRange = KeyRange {
        first: 0,
        last: 0,
        step: 0,
    };
    /// One key at position 1.
    pub const FIRST: KeyRange = KeyRange {
        first: 1,
        last: 1,
        step: 1,
    };
    /// Every argument after the name.
    pub const ALL: KeyRange = KeyRange {
        first: 1,
        last: -1,
        step: 1,
    };

    /// A range from `first` to `last` every `step`.
    pub const fn new(first: i32, last: i32, step: i32) -> KeyRange {
        KeyRange { first, last, step }
    }

    /// Indexes of the keys in an argument vector of `argc` elements.
    pub fn positions(self, argc: usize) -> Vec<usize> {
        if self.first <= 0 || self.step <= 0 {
            return Vec::new();
        }
        let argc = argc as i64;
        let last = if self.last < 0 {
            argc + i64::from(self.last)
        } else {
            i64::from(self.last)
        };
        let last = last.min(argc - 1);
        (i64::from(self.first)..=last)
            .step_by(self.step as usize)
            .map(|i| i as usize)
            .collect()
    }
}

/// Keys a command names through its other arguments (Redis's `movablekeys`), beyond the legacy
/// [`KeyRange`]. Both shapes that Redis 7 describes for the commands slotkv has are covered:
/// a `numkeys` count followed by the keys, and SORT's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovableKeys {
    /// A key count at `numkeys_index` (an absolute argument index), then that many keys from
    /// `first_key_offset` arguments after it, one every `step`: Redis's "keynum" key
    /// specification. A legacy range beside it names the destination of a `*STORE` command.
    KeyNum {
        numkeys_index: u8,
        first_key_offset: u8,
        step: u8,
    },
    /// SORT and SORT_RO: BY and GET patterns reach keys only through the sorted values, so they
    /// are never reported as keys; with `store`, the argument of the last STORE option is the
    /// destination.
    Sort { store: bool },
    /// MIGRATE: its key argument (position 3), or, when it is empty and a KEYS option
    /// follows, every argument after KEYS.
    Migrate,
}

impl MovableKeys {
    /// `numkeys` at `numkeys_index`, the keys right after it: every such command in Redis.
    pub const fn numkeys_at(numkeys_index: u8) -> MovableKeys {
        MovableKeys::KeyNum {
            numkeys_index,
            first_key_offset: 1,
            step: 1,
        }
    }
}

/// Indexes of the keys announced by the count at `numkeys_index`; empty when the count is not
/// a positive integer or the arguments end before the last key, as Redis then reports no keys
/// and leaves the error to the command itself.
fn keynum_positions(
    args: &[Bytes],
    numkeys_index: u8,
    first_key_offset: u8,
    step: u8,
) -> Vec<usize> {
    let count = args
        .get(usize::from(numkeys_index))
        .and_then(|arg| crate::value::parse_i64(arg))
        .and_then(|count| usize::try_from(count).ok())
        .unwrap_or(0);
    let first = usize::from(numkeys_index) + usize::from(first_key_offset);
    let step = usize::from(step);
    let last = count
        .checked_sub(1)
        .and_then(|more| more.checked_mul(step))
        .and_then(|span| span.checked_add(first));
    match last {
        Some(last) if step > 0 && last < args.len() => (first..=last).step_by(step).collect(),
        _ => Vec::new(),
    }
}

/// SORT's destination: the argument after the last STORE, option arguments skipped the way
/// SORT parses them (LIMIT takes two, BY, GET and STORE one each), so a pattern or a
/// destination spelled like a keyword is not mistaken for one.
fn sort_store_position(args: &[Bytes]) -> Option<usize> {
    let mut destination = None;
    let mut index = 2;
    while let Some(option) = args.get(index) {
        let option_args = if is_keyword(option, "limit") {
            2
        } else if is_keyword(option, "by") || is_keyword(option, "get") {
            1
        } else if is_keyword(option, "store") && index + 1 < args.len() {
            destination = Some(index + 1);
            1
        } else {
            0
        };
        index += 1 + option_args;
    }
    destination
}

/// MIGRATE's keys: every argument after its KEYS option (options skipped the way MIGRATE
/// parses them: AUTH takes one argument, AUTH2 two), or else its key argument unless empty.
fn migrate_key_positions(args: &[Bytes]) -> Vec<usize> {
    const OPTIONS_START: usize = 6;
    let mut index = OPTIONS_START;
    while let Some(option) = args.get(index) {
        if is_keyword(option, "keys") {
            return (index + 1..args.len()).collect();
        }
        index += if is_keyword(option, "auth") {
            2
        } else if is_keyword(option, "auth2") {
            3
        } else {
            1
        };
    }
    match args.get(3) {
        Some(key) if !key.is_empty() => vec![3],
        _ => Vec::new(),
    }
}

/// One command's description.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name (`get`, or `object|encoding` for a subcommand).
    pub name: &'static str,
    /// Redis arity: positive is exact, negative is a minimum (name included).
    pub arity: i32,
    pub flags: Flags,
    pub keys: KeyRange,
    /// Keys found by reading the arguments; `None` when the legacy range names them all.
    pub movable_keys: Option<MovableKeys>,
    pub group: Group,
    pub since: &'static str,
    pub summary: &'static str,
    pub handler: Handler,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// A command with no keys, flags or docs yet; refine with the `const fn` setters.
    pub const fn new(name: &'static str, arity: i32, handler: Handler) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags: Flags::NONE,
            keys: KeyRange::NONE,
            movable_keys: None,
            group: Group::Generic,
            since: "1.0.0",
            summary: "",
            handler,
            subcommands: &[],
        }
    }

    pub const fn flags(mut self, flags: Flags) -> CommandSpec {
        self.flags = flags;
        self
    }

    pub const fn keys(mut self, keys: KeyRange) -> CommandSpec {
        self.keys = keys;
        self
    }

    /// Keys found through the arguments; the table entry also sets [`Flags::MOVABLE_KEYS`].
    pub const fn movable_keys(mut self, movable_keys: MovableKeys) -> CommandSpec {
        self.movable_keys = Some(movable_keys);
        self
    }

    pub const fn doc(
        mut self,
        group: Group,
        since: &'static str,
        summary: &'static str,
    ) -> CommandSpec {
        self.group = group;
        self.since = since;
        self.summary = summary;
        self
    }

    pub const fn subcommands(mut self, subcommands: &'static [CommandSpec]) -> CommandSpec {
        self.subcommands = subcommands;
        self
    }

    /// Whether `argc` arguments (name included) satisfy the arity.
    pub fn arity_accepts(&self, argc: usize) -> bool {
        let arity = self.arity.unsigned_abs() as usize;
        if self.arity >= 0 {
            argc == arity
        } else {
            argc >= arity
        }
    }

    /// Whether the command can take key arguments at all.
    pub fn has_key_arguments(&self) -> bool {
        self.keys.first > 0 || self.movable_keys.is_some()
    }

    /// Indexes of the keys in `args`, a full command line (name at 0), in Redis's order:
    /// counted keys before a `*STORE` destination, SORT's key before its STORE destination.
    /// Empty when a bad `numkeys` means the command cannot name its keys: it will fail with its
    /// own error when run.
    pub fn key_positions(&self, args: &[Bytes]) -> Vec<usize> {
        let fixed = self.keys.positions(args.len());
        match self.movable_keys {
            None => fixed,
            Some(MovableKeys::KeyNum {
                numkeys_index,
                first_key_offset,
                step,
            }) => {
                let mut keys = keynum_positions(args, numkeys_index, first_key_offset, step);
                if !keys.is_empty() {
                    keys.extend(fixed);
                }
                keys
            }
            Some(MovableKeys::Sort { store }) => {
                let mut keys = fixed;
                if store {
                    keys.extend(sort_store_position(args));
                }
                keys
            }
            Some(MovableKeys::Migrate) => migrate_key_positions(args),
        }
    }

    /// The name shown in errors and COMMAND output (`object|encoding` for subcommands).
    pub fn display_name(&self) -> &'static str {
        self.name
    }

    /// The subcommand named `sub` (case-insensitive), if this is a container.
    pub fn subcommand(&self, sub: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands.iter().find(|spec| {
            spec.name
                .split_once('|')
                .is_some_and(|(_, name)| name.as_bytes().eq_ignore_ascii_case(sub))
        })
    }

    /// Redis 7's ACL categories (COMMAND INFO, ACL CAT): `@write`/`@read`, `@admin`,
    /// `@dangerous`, `@blocking` and `@fast`/`@slow` from the flags, the data category from
    /// the group, with Redis's exceptions. A command with subcommands is `@slow` (and COMMAND
    /// `@connection`): its subcommands carry the categories.
    pub fn acl_categories(&self) -> Vec<&'static str> {
        if !self.subcommands.is_empty() {
            let mut categories = self.category_exception().unwrap_or(&[]).to_vec();
            categories.push("@slow");
            return categories;
        }
        let mut categories = Vec::new();
        if self.flags.contains(Flags::WRITE) {
            categories.push("@write");
        }
        if self.flags.contains(Flags::READONLY) {
            categories.push("@read");
        }
        categories.extend_from_slice(
            self.category_exception()
                .or(self.group.acl_category())
                .unwrap_or(&[]),
        );
        if self.flags.contains(Flags::ADMIN) || ADMIN_UNFLAGGED.contains(&self.name) {
            categories.push("@admin");
        }
        if self.flags.contains(Flags::ADMIN) || DANGEROUS.contains(&self.name) {
            categories.push("@dangerous");
        }
        if self.flags.contains(Flags::BLOCKING) {
            categories.push("@blocking");
        }
        categories.push(if self.flags.contains(Flags::FAST) {
            "@fast"
        } else {
            "@slow"
        });
        categories
    }

    /// The data categories Redis 7 gives a command in place of its group's.
    fn category_exception(&self) -> Option<&'static [&'static str]> {
        Some(match self.name {
            "sort" | "sort_ro" => &["@set", "@sortedset", "@list"],
            "dbsize" | "flushall" | "flushdb" | "swapdb" | "restore-asking" => &["@keyspace"],
            "wait" | "asking" | "readonly" | "readwrite" | "command" => &["@connection"],
            name if name.starts_with("command|") => &["@connection"],
            "pubsub|help" => &[],
            _ => return None,
        })
    }
}

/// Commands Redis 7 puts in `@admin` without the `admin` flag.
const ADMIN_UNFLAGGED: &[&str] = &["lastsave", "role"];

/// Commands Redis 7 puts in `@dangerous` although they are not all `admin` (ACL CAT dangerous),
/// as far as slotkv has them; admin commands and subcommands are dangerous anyway.
const DANGEROUS: &[&str] = &[
    "bgrewriteaof",
    "bgsave",
    "debug",
    "flushall",
    "flushdb",
    "info",
    "keys",
    "lastsave",
    "migrate",
    "psync",
    "replconf",
    "replicaof",
    "restore",
    "restore-asking",
    "role",
    "save",
    "shutdown",
    "slaveof",
    "sort",
    "sort_ro",
    "swapdb",
    "sync",
];

/// The top-level command a connection resolved last: a pipeline that repeats one command
/// looks it up in the table once.
#[derive(Debug, Default, Clone, Copy)]
pub struct LastCommand(Option<&'static CommandSpec>);

/// All commands, indexed by lower-case name.
#[derive(Debug)]
pub struct CommandTable {
    by_name: HashMap<&'static str, &'static CommandSpec, ahash::RandomState>,
}

/// Longest command name accepted for lookup; longer names cannot exist.
const NAME_LEN_MAX: usize = 32;

impl CommandTable {
    /// The table of every command, built once.
    pub fn global() -> &'static CommandTable {
        static TABLE: OnceLock<CommandTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            let mut by_name = HashMap::with_hasher(ahash::RandomState::new());
            for spec in crate::commands::all() {
                assert!(
                    spec.name.len() <= NAME_LEN_MAX,
                    "command name too long: {}",
                    spec.name
                );
                let previous = by_name.insert(spec.name, spec);
                assert!(
                    previous.is_none(),
                    "command registered twice: {}",
                    spec.name
                );
            }
            CommandTable { by_name }
        })
    }

    /// The command named `name`, case-insensitive.
    pub fn lookup(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        if name.len() > NAME_LEN_MAX {
            return None;
        }
        let mut lower = [0u8; NAME_LEN_MAX];
        for (dst, src) in lower.iter_mut().zip(name) {
            *dst = src.to_ascii_lowercase();
        }
        let lower = std::str::from_utf8(&lower[..name.len()]).ok()?;
        self.by_name.get(lower).copied()
    }

    /// Every top-level command.
    pub fn iter(&self) -> impl Iterator<Item = &'static CommandSpec> + '_ {
        self.by_name.values().copied()
    }

    /// Number of top-level commands (COMMAND COUNT).
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether the table is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Resolves a full argument vector to the command or subcommand that runs it, checking
    /// arity, as Redis does before calling anything.
    pub fn resolve(&self, args: &[Bytes]) -> Result<&'static CommandSpec, CommandError> {
        self.resolve_after(args, &mut LastCommand::default())
    }

    /// Like [`CommandTable::resolve`], without the table lookup when the command is the one
    /// `last` resolved; `last` then remembers this one.
    pub fn resolve_after(
        &self,
        args: &[Bytes],
        last: &mut LastCommand,
    ) -> Result<&'static CommandSpec, CommandError> {
        let name = args
            .first()
            .ok_or_else(|| CommandError::err("empty command"))?;
        let spec = match last.0 {
            Some(spec) if name.eq_ignore_ascii_case(spec.name.as_bytes()) => spec,
            _ => self
                .lookup(name)
                .ok_or_else(|| CommandError::unknown_command(name, &args[1..]))?,
        };
        last.0 = Some(spec);
        if spec.subcommands.is_empty() {
            return check_arity(spec, args.len());
        }
        let Some(sub_name) = args.get(1) else {
            // A bare container: valid only if its own arity allows it (COMMAND alone lists all).
            return check_arity(spec, args.len());
        };
        match spec.subcommand(sub_name) {
            Some(sub) => check_arity(sub, args.len()),
            None => Err(CommandError::UnknownSubcommand {
                command: spec.name.to_owned(),
                subcommand: String::from_utf8_lossy(sub_name).into_owned(),
            }),
        }
    }
}

fn check_arity(
    spec: &'static CommandSpec,
    argc: usize,
) -> Result<&'static CommandSpec, CommandError> {
    if spec.arity_accepts(argc) {
        Ok(spec)
    } else {
        Err(CommandError::WrongArity(spec.name.to_owned()))
    }
}

/// A cursor over a command's arguments (after the name), in the style of mini-redis: take what
/// you expect, then [`Args::finish`] rejects anything left over.
#[derive(Debug)]
pub struct Args<'a> {
    rest: &'a [Bytes],
}

impl<'a> Args<'a> {
    /// A cursor over `args` without the command name.
    pub fn new(args: &'a [Bytes]) -> Args<'a> {
        Args {
            rest: args.get(1..).unwrap_or(&[]),
        }
    }

    /// Number of arguments left.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The next argument, or a syntax error if there is none.
    pub fn next_bytes(&mut self) -> Result<&'a Bytes, CommandError> {
        let (first, rest) = self.rest.split_first().ok_or(CommandError::Syntax)?;
        self.rest = rest;
        Ok(first)
    }

    /// The next argument if any.
    pub fn next_opt(&mut self) -> Option<&'a Bytes> {
        self.next_bytes().ok()
    }

    /// The next argument as an integer.
    pub fn next_i64(&mut self) -> Result<i64, CommandError> {
        parse_i64_arg(self.next_bytes()?)
    }

    /// The next argument as a double.
    pub fn next_f64(&mut self) -> Result<f64, CommandError> {
        crate::value::parse_f64(self.next_bytes()?).ok_or(CommandError::NotFloat)
    }

    /// Every remaining argument.
    pub fn rest(&mut self) -> &'a [Bytes] {
        std::mem::take(&mut self.rest)
    }

    /// Fails with a syntax error if arguments are left.
    pub fn finish(&self) -> Result<(), CommandError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(CommandError::Syntax)
        }
    }
}

/// An argument as a signed 64-bit integer, with Redis's error.
pub fn parse_i64_arg(arg: &[u8]) -> Result<i64, CommandError> {
    crate::value::parse_i64(arg).ok_or(CommandError::NotInteger)
}

/// A pop count (LPOP, SPOP, ZPOPMIN, ... `count`): a non-negative integer, with Redis's one
/// error for a negative number and for anything that is no integer.
pub fn parse_pop_count(arg: &[u8]) -> Result<usize, CommandError> {
    crate::value::parse_i64(arg)
        .and_then(|count| usize::try_from(count).ok())
        .ok_or_else(|| CommandError::err("value is out of range, must be positive"))
}

/// Whether `arg` equals the ASCII keyword `word`, ignoring case.
pub fn is_keyword(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_positions_follow_first_last_step() {
        assert_eq!(KeyRange::FIRST.positions(3), vec![1]);
        assert_eq!(KeyRange::ALL.positions(4), vec![1, 2, 3]);
        assert_eq!(KeyRange::new(1, -1, 2).positions(5), vec![1, 3]);
        assert_eq!(KeyRange::NONE.positions(5), Vec::<usize>::new());
    }

    fn words(line: &str) -> Vec<Bytes> {
        line.split(' ')
            .map(|word| Bytes::copy_from_slice(word.as_bytes()))
            .collect()
    }

    static ZUNIONSTORE: CommandSpec = CommandSpec::new("zunionstore", -4, Handler::Server)
        .keys(KeyRange::FIRST)
        .movable_keys(MovableKeys::numkeys_at(2));
    static LMPOP: CommandSpec =
        CommandSpec::new("lmpop", -4, Handler::Server).movable_keys(MovableKeys::numkeys_at(1));
    static SORT: CommandSpec = CommandSpec::new("sort", -2, Handler::Server)
        .keys(KeyRange::FIRST)
        .movable_keys(MovableKeys::Sort { store: true });

    #[test]
    fn resolving_after_the_last_command_agrees_with_the_table() {
        let table = CommandTable::global();
        let mut last = LastCommand::default();
        for line in [
            "GET k",
            "get k",
            "GeT k",
            "SET k v",
            "set k",
            "CONFIG GET maxmemory",
            "CONFIG NOSUCH",
            "NOSUCH a b",
            "GET k",
        ] {
            let args = words(line);
            let expected = table.resolve(&args).map(|spec| spec.name);
            let found = table.resolve_after(&args, &mut last).map(|spec| spec.name);
            assert_eq!(found, expected, "{line}");
        }
    }

    #[test]
    fn counted_keys_come_before_the_destination() {
        let args = words("zunionstore dst 2 a b WEIGHTS 1 2");
        assert_eq!(ZUNIONSTORE.key_positions(&args), [3, 4, 1]);
        assert_eq!(LMPOP.key_positions(&words("lmpop 2 a b LEFT")), [2, 3]);
        assert_eq!(LMPOP.key_positions(&words("lmpop 1 a LEFT COUNT 2")), [2]);
    }

    #[test]
    fn a_bad_numkeys_names_no_keys_at_all() {
        for line in [
            "zunionstore dst 0 a",
            "zunionstore dst -1 a",
            "zunionstore dst x a",
            "zunionstore dst 3 a b",
            "zunionstore dst 9223372036854775807 a",
            "zunionstore dst",
        ] {
            assert_eq!(
                ZUNIONSTORE.key_positions(&words(line)),
                Vec::<usize>::new(),
                "{line}"
            );
        }
    }

    #[test]
    fn keynum_with_a_step_skips_values() {
        let pairs = MovableKeys::KeyNum {
            numkeys_index: 1,
            first_key_offset: 1,
            step: 2,
        };
        let spec = CommandSpec::new("pairs", -2, Handler::Server).movable_keys(pairs);
        assert_eq!(spec.key_positions(&words("pairs 2 a 1 b 2")), [2, 4]);
        assert_eq!(spec.key_positions(&words("pairs 2 a 1 b")), [2, 4]);
        assert_eq!(
            spec.key_positions(&words("pairs 2 a 1")),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn sort_reports_its_key_and_last_store_destination_only() {
        assert_eq!(SORT.key_positions(&words("sort k BY w_* GET # ALPHA")), [1]);
        assert_eq!(
            SORT.key_positions(&words("sort k STORE d1 LIMIT 0 1 STORE d2")),
            [1, 8]
        );
        // Option arguments spelled like STORE are patterns or offsets, not the keyword.
        assert_eq!(SORT.key_positions(&words("sort k GET store BY store")), [1]);
        assert_eq!(SORT.key_positions(&words("sort k LIMIT store 1 DESC")), [1]);
        assert_eq!(SORT.key_positions(&words("sort k STORE")), [1]);
        let sort_ro = CommandSpec::new("sort_ro", -2, Handler::Server)
            .keys(KeyRange::FIRST)
            .movable_keys(MovableKeys::Sort { store: false });
        assert_eq!(sort_ro.key_positions(&words("sort_ro k STORE d")), [1]);
    }

    #[test]
    fn migrate_names_its_key_or_the_keys_after_keys() {
        let migrate = CommandTable::global()
            .lookup(b"migrate")
            .expect("registered");
        let keys = |line: &str| migrate.key_positions(&words(line));
        assert_eq!(keys("migrate h 1 k 0 10"), [3]);
        assert_eq!(keys("migrate h 1 k 0 10 COPY REPLACE"), [3]);
        let mut keyless = words("migrate h 1 x 0 10 AUTH keys KEYS a b");
        keyless[3] = Bytes::new();
        assert_eq!(migrate.key_positions(&keyless), [9, 10]);
        assert_eq!(keys("migrate h 1 k 0 10 AUTH2 keys keys"), [3]);
        keyless.truncate(6);
        assert_eq!(migrate.key_positions(&keyless), Vec::<usize>::new());
    }

    #[test]
    fn legacy_commands_keep_their_range() {
        let del = CommandSpec::new("del", -2, Handler::Server).keys(KeyRange::ALL);
        assert_eq!(del.key_positions(&words("del a b")), [1, 2]);
        assert!(del.has_key_arguments() && LMPOP.has_key_arguments());
        assert!(!CommandSpec::new("ping", -1, Handler::Server).has_key_arguments());
    }

    #[test]
    fn movable_flag_and_key_description_agree_across_the_table() {
        for spec in CommandTable::global()
            .iter()
            .flat_map(|spec| std::iter::once(spec).chain(spec.subcommands))
        {
            assert_eq!(
                spec.flags.contains(Flags::MOVABLE_KEYS),
                spec.movable_keys.is_some(),
                "{}",
                spec.name
            );
        }
    }

    #[test]
    fn table_finds_numkeys_keys() {
        let table = CommandTable::global();
        let cases = [
            ("sintercard 2 a b LIMIT 1", vec![2, 3]),
            ("zinter 2 a b WITHSCORES", vec![2, 3]),
            ("zinterstore d 1 a", vec![3, 1]),
            ("zdiffstore d 2 a b", vec![3, 4, 1]),
            ("zmpop 1 a MIN", vec![2]),
            ("blmpop 0 2 a b LEFT", vec![3, 4]),
            ("bzmpop 0 1 a MAX COUNT 2", vec![3]),
        ];
        for (line, expected) in cases {
            let args = words(line);
            let spec = table.lookup(&args[0]).expect("registered");
            assert_eq!(spec.key_positions(&args), expected, "{line}");
        }
    }

    #[test]
    fn arity_and_flags() {
        let spec =
            CommandSpec::new("get", 2, Handler::Server).flags(Flags::READONLY.and(Flags::FAST));
        assert!(spec.arity_accepts(2) && !spec.arity_accepts(3));
        assert_eq!(spec.flags.names().collect::<Vec<_>>(), ["readonly", "fast"]);
        let min = CommandSpec::new("del", -2, Handler::Server);
        assert!(min.arity_accepts(2) && min.arity_accepts(9) && !min.arity_accepts(1));
    }
}
