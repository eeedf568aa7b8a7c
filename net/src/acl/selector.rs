//! A selector: which commands, keys and channels one set of rules allows, as Redis 7 defines
//! it. Every user has a root selector (the rules outside parentheses) and any number of extra
//! selectors (`(...)`); a command runs if one selector allows all of it.
//!
//! Commands are a bitmap over [`CommandIndex`] ids (top-level commands and subcommands), so a
//! check is one bit test. The command rules are also kept as text, compacted as Redis 7.2 does
//! (a later rule drops the earlier ones it overrides), so ACL LIST and GETUSER print rules that
//! rebuild the same bitmap.

use std::collections::HashMap;
use std::sync::OnceLock;

use slotkv_engine::command::{CommandSpec, CommandTable};
use slotkv_engine::glob::glob_match;

use super::user::Defaults;

/// Redis 7's ACL categories, in ACL CAT's order.
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Longest key or channel pattern a rule may carry (a bound on what one rule stores).
pub const PATTERN_LEN_MAX: usize = 64 * 1024;
/// Most first-argument rules (`+select|0`) one selector holds.
const FIRST_ARGS_MAX: usize = 4096;

/// Why a rule was refused; `Display` is Redis's wording after `Error in ACL SETUSER modifier`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleError {
    Syntax,
    UnknownCommand,
    PatternAfterAllKeys,
    PatternAfterAllChannels,
    FirstArgOfSubcommand,
    PasswordNotFound,
    BadHash,
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RuleError::Syntax => "Syntax error",
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::PatternAfterAllKeys => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::PatternAfterAllChannels => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::FirstArgOfSubcommand => "Allowing first-arg of a subcommand is not supported",
            RuleError::PasswordNotFound => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
        })
    }
}

/// Every command and subcommand with a dense id, and the categories of each.
#[derive(Debug)]
pub struct CommandIndex {
    specs: Vec<&'static CommandSpec>,
    ids: HashMap<&'static str, usize>,
    /// Bit `c` set when the command is in `CATEGORIES[c]`.
    categories: Vec<u32>,
    /// For each top-level id, the ids of its subcommands.
    children: Vec<Vec<usize>>,
}

impl CommandIndex {
    /// The index of the engine's command table, built once.
    pub fn global() -> &'static CommandIndex {
        static INDEX: OnceLock<CommandIndex> = OnceLock::new();
        INDEX.get_or_init(|| {
            let mut top: Vec<&'static CommandSpec> = CommandTable::global().iter().collect();
            top.sort_by_key(|spec| spec.name);
            let mut index = CommandIndex {
                specs: Vec::new(),
                ids: HashMap::new(),
                categories: Vec::new(),
                children: Vec::new(),
            };
            for spec in top {
                let parent = index.push(spec);
                for sub in spec.subcommands {
                    let child = index.push(sub);
                    index.children[parent].push(child);
                }
            }
            index
        })
    }

    fn push(&mut self, spec: &'static CommandSpec) -> usize {
        let id = self.specs.len();
        self.specs.push(spec);
        self.ids.insert(spec.name, id);
        self.categories.push(category_bits(spec));
        self.children.push(Vec::new());
        id
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.specs.len()
    }

    /// Whether the index is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// The id of a command or subcommand spec.
    pub fn id(&self, spec: &CommandSpec) -> Option<usize> {
        self.ids.get(spec.name).copied()
    }

    /// The specs in category `category` (an index into [`CATEGORIES`]).
    pub fn in_category(&self, category: usize) -> impl Iterator<Item = &'static CommandSpec> + '_ {
        self.specs
            .iter()
            .zip(&self.categories)
            .filter(move |(_, bits)| *bits & (1 << category) != 0)
            .map(|(spec, _)| *spec)
    }
}

fn category_bits(spec: &CommandSpec) -> u32 {
    spec.acl_categories()
        .iter()
        .filter_map(|name| category_index(name.trim_start_matches('@')))
        .fold(0, |bits, index| bits | (1 << index))
}

/// The index of a category name (any case) in [`CATEGORIES`].
pub fn category_index(name: &str) -> Option<usize> {
    CATEGORIES
        .iter()
        .position(|category| category.eq_ignore_ascii_case(name))
}

/// What a command rule names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Category(usize),
    /// A command or subcommand id.
    Command(usize),
    /// The first argument of a command without subcommands (`+select|0`, which Redis still
    /// takes though it calls it deprecated), lower-case.
    FirstArg(usize, Vec<u8>),
}

/// One `+...` or `-...` rule, kept for the description.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CommandRule {
    allow: bool,
    target: Target,
}

/// A key pattern and the access it grants (`~` both, `%R~` read, `%W~` write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    pub pattern: Vec<u8>,
    pub read: bool,
    pub write: bool,
}

impl KeyPattern {
    fn describe(&self) -> String {
        let prefix = match (self.read, self.write) {
            (true, false) => "%R~",
            (false, true) => "%W~",
            _ => "~",
        };
        format!("{prefix}{}", String::from_utf8_lossy(&self.pattern))
    }
}

/// The access a command needs on its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAccess {
    Read,
    Write,
    /// Neither flag: any grant on the key will do.
    Any,
}

/// One set of command, key and channel permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Whether the rules start from `+@all` (else `-@all`).
    base_all: bool,
    rules: Vec<CommandRule>,
    allowed: Vec<u64>,
    /// Commands allowed with one first argument only (`+select|0`).
    first_args: Vec<(usize, Vec<u8>)>,
    all_keys: bool,
    keys: Vec<KeyPattern>,
    all_channels: bool,
    channels: Vec<Vec<u8>>,
}

impl Default for Selector {
    /// No commands, keys or channels (a new user, a new selector, under Redis 7's defaults).
    fn default() -> Self {
        Selector::new(Defaults::default())
    }
}

impl Selector {
    /// No commands or keys; every channel or none, as `defaults` say.
    pub fn new(defaults: Defaults) -> Selector {
        Selector {
            base_all: false,
            rules: Vec::new(),
            allowed: vec![0; CommandIndex::global().len().div_ceil(64)],
            first_args: Vec::new(),
            all_keys: false,
            keys: Vec::new(),
            all_channels: defaults.all_channels,
            channels: Vec::new(),
        }
    }

    /// Everything allowed (the default user's root selector).
    pub fn everything() -> Selector {
        let mut selector = Selector::default();
        selector.set_all_commands(true);
        selector.all_keys = true;
        selector.all_channels = true;
        selector
    }

    /// Applies one selector rule (commands, keys or channels).
    pub fn apply(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        let lower = rule.to_ascii_lowercase();
        match lower.as_slice() {
            b"allkeys" | b"~*" => {
                self.all_keys = true;
                self.keys.clear();
            }
            b"resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
            }
            b"allchannels" | b"&*" => {
                self.all_channels = true;
                self.channels.clear();
            }
            b"resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            b"allcommands" | b"+@all" => self.set_all_commands(true),
            b"nocommands" | b"-@all" => self.set_all_commands(false),
            _ => return self.apply_pattern_or_command(rule),
        }
        Ok(())
    }

    fn apply_pattern_or_command(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        match rule.first() {
            Some(b'~') => self.add_key_pattern(&rule[1..], true, true),
            Some(b'%') => {
                let (read, write, pattern) = parse_key_flags(&rule[1..])?;
                self.add_key_pattern(pattern, read, write)
            }
            Some(b'&') => self.add_channel(&rule[1..]),
            Some(b'+') => self.add_command_rule(&rule[1..], true),
            Some(b'-') => self.add_command_rule(&rule[1..], false),
            _ => Err(RuleError::Syntax),
        }
    }

    fn add_key_pattern(
        &mut self,
        pattern: &[u8],
        read: bool,
        write: bool,
    ) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::PatternAfterAllKeys);
        }
        if pattern.len() > PATTERN_LEN_MAX {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|key| key.pattern == pattern) {
            Some(existing) => {
                existing.read |= read;
                existing.write |= write;
            }
            None => self.keys.push(KeyPattern {
                pattern: pattern.to_vec(),
                read,
                write,
            }),
        }
        Ok(())
    }

    fn add_channel(&mut self, pattern: &[u8]) -> Result<(), RuleError> {
        if self.all_channels {
            return Err(RuleError::PatternAfterAllChannels);
        }
        if pattern.len() > PATTERN_LEN_MAX {
            return Err(RuleError::Syntax);
        }
        if !self.channels.iter().any(|channel| channel == pattern) {
            self.channels.push(pattern.to_vec());
        }
        Ok(())
    }

    fn set_all_commands(&mut self, allow: bool) {
        self.base_all = allow;
        self.rules.clear();
        self.first_args.clear();
        let fill = if allow { u64::MAX } else { 0 };
        self.allowed.iter_mut().for_each(|word| *word = fill);
    }

    fn add_command_rule(&mut self, name: &[u8], allow: bool) -> Result<(), RuleError> {
        let target = parse_target(name)?;
        if matches!(target, Target::FirstArg(..)) && !allow {
            // Only allowing a first argument exists, as in Redis.
            return Err(RuleError::UnknownCommand);
        }
        let ids = affected_ids(&target);
        // Compaction: the new rule replaces every earlier rule it fully overrides.
        self.rules.retain(|rule| match (&rule.target, &target) {
            (Target::Category(old), Target::Category(new)) => old != new,
            (Target::Command(old), Target::Command(_)) => !ids.contains(old),
            (Target::FirstArg(old, _), Target::Command(_) | Target::Category(_)) => {
                !ids.contains(old)
            }
            (old @ Target::FirstArg(..), new @ Target::FirstArg(..)) => old != new,
            _ => true,
        });
        match &target {
            Target::FirstArg(id, arg) => {
                if self.first_args.len() >= FIRST_ARGS_MAX {
                    return Err(RuleError::Syntax);
                }
                let entry = (*id, arg.clone());
                if !self.first_args.contains(&entry) {
                    self.first_args.push(entry);
                }
            }
            Target::Command(_) | Target::Category(_) => {
                self.first_args.retain(|(id, _)| !ids.contains(id));
                for &id in &ids {
                    self.set_bit(id, allow);
                }
            }
        }
        self.rules.push(CommandRule { allow, target });
        Ok(())
    }

    fn set_bit(&mut self, id: usize, allow: bool) {
        if let Some(word) = self.allowed.get_mut(id / 64) {
            if allow {
                *word |= 1 << (id % 64);
            } else {
                *word &= !(1 << (id % 64));
            }
        }
    }

    /// Whether the command with `id` is allowed for this first argument only (`+select|0`).
    pub fn allows_first_arg(&self, id: usize, first: Option<&[u8]>) -> bool {
        let Some(first) = first else {
            return false;
        };
        self.first_args
            .iter()
            .any(|(allowed, arg)| *allowed == id && arg.eq_ignore_ascii_case(first))
    }

    /// Whether the command or subcommand with `id` is allowed.
    pub fn allows_command(&self, id: usize) -> bool {
        self.allowed
            .get(id / 64)
            .is_some_and(|word| word & (1 << (id % 64)) != 0)
    }

    /// Whether every command is allowed.
    fn allows_every_command(&self) -> bool {
        let count = CommandIndex::global().len();
        (0..count).all(|id| self.allows_command(id))
    }

    /// Whether this selector allows everything: the connection may skip every check.
    pub fn is_unrestricted(&self) -> bool {
        self.all_keys && self.all_channels && self.allows_every_command()
    }

    /// Whether `key` may be accessed as `access` asks.
    pub fn allows_key(&self, key: &[u8], access: KeyAccess) -> bool {
        self.all_keys
            || self.keys.iter().any(|grant| {
                let granted = match access {
                    KeyAccess::Read => grant.read,
                    KeyAccess::Write => grant.write,
                    KeyAccess::Any => grant.read || grant.write,
                };
                granted && glob_match(&grant.pattern, key, false)
            })
    }

    /// Whether `channel` may be used: a channel name matches the patterns as globs; a pattern
    /// (PSUBSCRIBE) must equal one of them literally, as in Redis.
    pub fn allows_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|allowed| {
                if is_pattern {
                    allowed == channel
                } else {
                    glob_match(allowed, channel, false)
                }
            })
    }

    /// The command rules as ACL SETUSER takes them (`+@all -@string +incr`).
    pub fn describe_commands(&self) -> String {
        let index = CommandIndex::global();
        let mut words = vec![if self.base_all { "+@all" } else { "-@all" }.to_owned()];
        for rule in &self.rules {
            let sign = if rule.allow { '+' } else { '-' };
            let name = match &rule.target {
                Target::Category(category) => format!("@{}", CATEGORIES[*category]),
                Target::Command(id) => index.specs[*id].name.to_owned(),
                Target::FirstArg(id, arg) => {
                    format!("{}|{}", index.specs[*id].name, String::from_utf8_lossy(arg))
                }
            };
            words.push(format!("{sign}{name}"));
        }
        words.join(" ")
    }

    /// The key patterns (`~*`, `%R~foo ~bar`), empty when none.
    pub fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".to_owned();
        }
        let patterns: Vec<String> = self.keys.iter().map(KeyPattern::describe).collect();
        patterns.join(" ")
    }

    /// The channel patterns (`&*`, `&foo &bar`), empty when none.
    pub fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".to_owned();
        }
        let patterns: Vec<String> = self
            .channels
            .iter()
            .map(|channel| format!("&{}", String::from_utf8_lossy(channel)))
            .collect();
        patterns.join(" ")
    }

    /// The whole selector as rules: keys, channels (after `resetchannels` unless all), commands.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if self.all_channels {
            parts.push("&*".to_owned());
        } else {
            parts.push("resetchannels".to_owned());
            let channels = self.describe_channels();
            if !channels.is_empty() {
                parts.push(channels);
            }
        }
        parts.push(self.describe_commands());
        parts.join(" ")
    }
}

/// `R`, `W` or both before `~`, then the pattern.
fn parse_key_flags(rule: &[u8]) -> Result<(bool, bool, &[u8]), RuleError> {
    let tilde = rule
        .iter()
        .position(|&b| b == b'~')
        .ok_or(RuleError::Syntax)?;
    let (flags, pattern) = (&rule[..tilde], &rule[tilde + 1..]);
    let (mut read, mut write) = (false, false);
    for flag in flags {
        match flag.to_ascii_uppercase() {
            b'R' => read = true,
            b'W' => write = true,
            _ => return Err(RuleError::Syntax),
        }
    }
    if !read && !write {
        return Err(RuleError::Syntax);
    }
    Ok((read, write, pattern))
}

/// `@category`, `command` or `command|subcommand`.
fn parse_target(name: &[u8]) -> Result<Target, RuleError> {
    let text = std::str::from_utf8(name).map_err(|_| RuleError::UnknownCommand)?;
    if let Some(category) = text.strip_prefix('@') {
        return category_index(category)
            .map(Target::Category)
            .ok_or(RuleError::UnknownCommand);
    }
    let table = CommandTable::global();
    let index = CommandIndex::global();
    let mut parts = text.split('|');
    let command = parts
        .next()
        .and_then(|name| table.lookup(name.as_bytes()))
        .ok_or(RuleError::UnknownCommand)?;
    let id = |spec| index.id(spec).ok_or(RuleError::UnknownCommand);
    match (parts.next(), parts.next()) {
        (None, _) => Ok(Target::Command(id(command)?)),
        // A plain command: `+select|0` allows that first argument only.
        (Some(first), None) if command.subcommands.is_empty() && !first.is_empty() => Ok(
            Target::FirstArg(id(command)?, first.to_ascii_lowercase().into_bytes()),
        ),
        (Some(_), _) if command.subcommands.is_empty() => Err(RuleError::UnknownCommand),
        (Some(sub), rest) => {
            let sub = command
                .subcommand(sub.as_bytes())
                .ok_or(RuleError::UnknownCommand)?;
            match rest {
                None => Ok(Target::Command(id(sub)?)),
                Some(_) => Err(RuleError::FirstArgOfSubcommand),
            }
        }
    }
}

/// The ids a command or category rule sets or clears (a command's subcommands included).
fn affected_ids(target: &Target) -> Vec<usize> {
    let index = CommandIndex::global();
    match target {
        Target::Category(category) => (0..index.len())
            .filter(|&id| index.categories[id] & (1 << category) != 0)
            .collect(),
        Target::Command(id) => std::iter::once(*id)
            .chain(index.children[*id].iter().copied())
            .collect(),
        Target::FirstArg(..) => Vec::new(),
    }
}
