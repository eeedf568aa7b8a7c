//! COMMAND and its subcommands (COUNT, INFO, DOCS, GETKEYS, LIST, HELP), answered from the
//! engine's command table in Redis 7's reply shapes: cluster clients read key positions from
//! COMMAND INFO, redis-cli reads its hints from COMMAND DOCS, so the shapes must match exactly.

use bytes::Bytes;
use slotkv_engine::command::{is_keyword, CommandSpec, CommandTable, Flags, KeyRange, MovableKeys};
use slotkv_engine::glob::glob_match;
use slotkv_engine::{CommandError, Reply};

const HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all commands.",
    "COUNT",
    "    Return the total number of commands in this server.",
    "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
    "    Return a list of all commands in this server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full command.",
    "HELP",
    "    Prints this help.",
];

/// Answers a COMMAND call; `args` is the whole command, `COMMAND` included.
pub fn command_reply(args: &[Bytes]) -> Result<Reply, CommandError> {
    let table = CommandTable::global();
    if args.len() == 1 {
        return Ok(Reply::Array(top_level(table).map(info_entry).collect()));
    }
    let spec = table.resolve(args)?;
    let rest = args.get(2..).unwrap_or_default();
    match spec.name {
        "command|count" => Ok(Reply::Integer(
            i64::try_from(table.len()).unwrap_or(i64::MAX),
        )),
        "command|info" => Ok(info(table, rest)),
        "command|docs" => Ok(docs(table, rest)),
        "command|getkeys" => getkeys(table, rest),
        "command|list" => list(table, rest),
        "command|help" => Ok(Reply::Array(
            HELP.iter()
                .map(|line| Reply::Simple((*line).to_owned()))
                .collect(),
        )),
        other => Err(CommandError::UnknownSubcommand {
            command: "command".to_owned(),
            subcommand: other.trim_start_matches("command|").to_owned(),
        }),
    }
}

/// Top-level commands in name order (the table itself has no order).
fn top_level(table: &CommandTable) -> impl Iterator<Item = &'static CommandSpec> {
    let mut specs: Vec<_> = table.iter().collect();
    specs.sort_unstable_by_key(|spec| spec.name);
    specs.into_iter()
}

/// Every command and subcommand, each container followed by its subcommands.
fn with_subcommands(table: &CommandTable) -> impl Iterator<Item = &'static CommandSpec> {
    top_level(table).flat_map(|spec| std::iter::once(spec).chain(spec.subcommands))
}

/// The command named `name`, or the subcommand named `container|sub`, ignoring case.
fn lookup_full_name(table: &CommandTable, name: &[u8]) -> Option<&'static CommandSpec> {
    match name.iter().position(|&b| b == b'|') {
        Some(bar) => table.lookup(&name[..bar])?.subcommand(&name[bar + 1..]),
        None => table.lookup(name),
    }
}

/// COMMAND INFO: every command when no name is given, nil for an unknown name.
fn info(table: &CommandTable, names: &[Bytes]) -> Reply {
    if names.is_empty() {
        return Reply::Array(top_level(table).map(info_entry).collect());
    }
    Reply::Array(
        names
            .iter()
            .map(|name| lookup_full_name(table, name).map_or(Reply::Nil, info_entry))
            .collect(),
    )
}

/// Redis 7's ten-element description of a command.
fn info_entry(spec: &CommandSpec) -> Reply {
    let subcommands = if spec.subcommands.is_empty() {
        Reply::Set(Vec::new())
    } else {
        Reply::Array(spec.subcommands.iter().map(info_entry).collect())
    };
    Reply::Array(vec![
        Reply::text(spec.name),
        Reply::Integer(i64::from(spec.arity)),
        simple_set(spec.flags.names()),
        Reply::Integer(i64::from(spec.keys.first)),
        Reply::Integer(i64::from(spec.keys.last)),
        Reply::Integer(i64::from(spec.keys.step)),
        simple_set(spec.acl_categories()),
        // Tips (request and response policies) are not published: clients then treat every
        // command as a plain single-node command, which is what slotkv does.
        Reply::Set(Vec::new()),
        key_specs(spec),
        subcommands,
    ])
}

fn simple_set(names: impl IntoIterator<Item = &'static str>) -> Reply {
    Reply::Set(
        names
            .into_iter()
            .map(|name| Reply::Simple(name.to_owned()))
            .collect(),
    )
}

/// Redis 7's key specifications: the legacy first/last/step range, then what the command finds
/// through its arguments (a `numkeys` list, SORT's patterns and destination).
fn key_specs(spec: &CommandSpec) -> Reply {
    let mut specs = Vec::new();
    if spec.keys.first > 0 {
        specs.push(range_key_spec(spec.keys, fixed_key_flags(spec)));
    }
    match spec.movable_keys {
        None => {}
        Some(MovableKeys::KeyNum {
            numkeys_index,
            first_key_offset,
            step,
        }) => specs.push(key_spec(
            None,
            counted_key_flags(spec),
            index_search(i64::from(numkeys_index)),
            typed_spec(
                "keynum",
                vec![
                    ("keynumidx", Reply::Integer(0)),
                    ("firstkey", Reply::Integer(i64::from(first_key_offset))),
                    ("keystep", Reply::Integer(i64::from(step))),
                ],
            ),
        )),
        Some(MovableKeys::Sort { store }) => {
            specs.push(unknown_key_spec(SORT_PATTERNS_NOTE, &["RO", "access"]));
            if store {
                specs.push(unknown_key_spec(SORT_STORE_NOTE, &["OW", "update"]));
            }
        }
        // The keys after KEYS, found by searching for the keyword from the end.
        Some(MovableKeys::Migrate) => specs.push(key_spec(
            None,
            MIGRATE_KEY_FLAGS.to_vec(),
            typed_spec(
                "keyword",
                vec![
                    ("keyword", Reply::text("KEYS")),
                    ("startfrom", Reply::Integer(-2)),
                ],
            ),
            typed_spec(
                "range",
                vec![
                    ("lastkey", Reply::Integer(-1)),
                    ("keystep", Reply::Integer(1)),
                    ("limit", Reply::Integer(0)),
                ],
            ),
        )),
    }
    Reply::Set(specs)
}

/// MIGRATE's keys are read and deleted; each of its two specifications may miss keys (the
/// key argument is empty in the KEYS form).
const MIGRATE_KEY_FLAGS: [&str; 4] = ["RW", "access", "delete", "incomplete"];

/// The `notes` of SORT's two "unknown" key specifications, saying why clients must ask.
const SORT_PATTERNS_NOTE: &str =
    "BY and GET patterns name keys built from the sorted values, so the arguments cannot locate them";
const SORT_STORE_NOTE: &str =
    "The STORE destination may follow any other option, so only parsing the options finds it";

/// A legacy range as a key specification: begin at `first`, then a range whose `lastkey` is
/// relative to it (negative counts from the end).
fn range_key_spec(keys: KeyRange, flags: Vec<&'static str>) -> Reply {
    let KeyRange { first, last, step } = keys;
    let last_relative = if last < 0 { last } else { last - first };
    key_spec(
        None,
        flags,
        index_search(i64::from(first)),
        typed_spec(
            "range",
            vec![
                ("lastkey", Reply::Integer(i64::from(last_relative))),
                ("keystep", Reply::Integer(i64::from(step))),
                ("limit", Reply::Integer(0)),
            ],
        ),
    )
}

/// A key specification Redis marks "unknown": clients fall back to COMMAND GETKEYS.
fn unknown_key_spec(note: &'static str, flags: &[&'static str]) -> Reply {
    key_spec(
        Some(note),
        flags.to_vec(),
        typed_spec("unknown", Vec::new()),
        typed_spec("unknown", Vec::new()),
    )
}

/// One key specification map, in Redis's field order.
fn key_spec(
    notes: Option<&'static str>,
    flags: Vec<&'static str>,
    begin_search: Reply,
    find_keys: Reply,
) -> Reply {
    let mut entries = Vec::with_capacity(4);
    if let Some(notes) = notes {
        entries.push(("notes", Reply::text(notes)));
    }
    entries.push(("flags", simple_set(flags)));
    entries.push(("begin_search", begin_search));
    entries.push(("find_keys", find_keys));
    map(entries)
}

/// A `begin_search` at a fixed argument index.
fn index_search(index: i64) -> Reply {
    typed_spec("index", vec![("index", Reply::Integer(index))])
}

/// A `{type, spec}` map, the shape of both `begin_search` and `find_keys`.
fn typed_spec(kind: &'static str, spec: Vec<(&'static str, Reply)>) -> Reply {
    map(vec![("type", Reply::text(kind)), ("spec", map(spec))])
}

/// Flags of the keys at the legacy range. Beside a `numkeys` list on a write, that key is the
/// destination the listed keys are combined into, overwritten; SORT only reads its key.
fn fixed_key_flags(spec: &CommandSpec) -> Vec<&'static str> {
    match spec.movable_keys {
        Some(MovableKeys::KeyNum { .. }) if spec.flags.contains(Flags::WRITE) => {
            vec!["OW", "update"]
        }
        Some(MovableKeys::Sort { .. }) => vec!["RO", "access"],
        Some(MovableKeys::Migrate) => MIGRATE_KEY_FLAGS.to_vec(),
        _ => key_flags(spec.flags),
    }
}

/// Flags of the keys a `numkeys` list names: only read when a destination takes the result.
fn counted_key_flags(spec: &CommandSpec) -> Vec<&'static str> {
    if spec.keys.first > 0 {
        vec!["RO", "access"]
    } else {
        key_flags(spec.flags)
    }
}

/// Key access flags from the command's flags. The table does not say how a write uses its
/// keys, so a write claims the widest access (read-write, reads and updates the value): a
/// client that routes by these flags then never sends a write where only reads may go.
fn key_flags(flags: Flags) -> Vec<&'static str> {
    if flags.contains(Flags::WRITE) {
        vec!["RW", "access", "update"]
    } else if flags.contains(Flags::READONLY) {
        vec!["RO", "access"]
    } else {
        vec!["RO"]
    }
}

fn map(entries: Vec<(&'static str, Reply)>) -> Reply {
    Reply::Map(
        entries
            .into_iter()
            .map(|(key, value)| (Reply::text(key), value))
            .collect(),
    )
}

/// COMMAND DOCS: a map from name to documentation; unknown names are left out, as in Redis.
fn docs(table: &CommandTable, names: &[Bytes]) -> Reply {
    let specs: Vec<&'static CommandSpec> = if names.is_empty() {
        top_level(table).collect()
    } else {
        names
            .iter()
            .filter_map(|name| lookup_full_name(table, name))
            .collect()
    };
    Reply::Map(
        specs
            .into_iter()
            .map(|spec| (Reply::text(spec.name), docs_entry(spec)))
            .collect(),
    )
}

/// Summary, since and group always (redis-cli prints them), then subcommands for containers.
fn docs_entry(spec: &CommandSpec) -> Reply {
    let mut entries = vec![
        ("summary", Reply::text(spec.summary)),
        ("since", Reply::text(spec.since)),
        ("group", Reply::text(spec.group.name())),
    ];
    if !spec.subcommands.is_empty() {
        let subcommands = spec
            .subcommands
            .iter()
            .map(|sub| (Reply::text(sub.name), docs_entry(sub)))
            .collect();
        entries.push(("subcommands", Reply::Map(subcommands)));
    }
    map(entries)
}

/// COMMAND GETKEYS: the keys a full command line would touch.
fn getkeys(table: &CommandTable, target: &[Bytes]) -> Result<Reply, CommandError> {
    let Some(name) = target.first() else {
        return Err(CommandError::WrongArity("command|getkeys".to_owned()));
    };
    let spec = table
        .lookup(name)
        .and_then(|spec| match target.get(1) {
            Some(sub) if !spec.subcommands.is_empty() => spec.subcommand(sub),
            _ => Some(spec),
        })
        .ok_or_else(|| CommandError::err("Invalid command specified"))?;
    let keys = key_arguments(spec, target)?;
    Ok(Reply::Array(
        keys.into_iter().cloned().map(Reply::Bulk).collect(),
    ))
}

/// The key arguments of `target` (a full command line for `spec`), with Redis's errors.
fn key_arguments<'a>(
    spec: &CommandSpec,
    target: &'a [Bytes],
) -> Result<Vec<&'a Bytes>, CommandError> {
    if !spec.has_key_arguments() {
        return Err(CommandError::err("The command has no key arguments"));
    }
    if !spec.arity_accepts(target.len()) {
        return Err(CommandError::err(
            "Invalid number of arguments specified for command",
        ));
    }
    let keys: Vec<&Bytes> = spec
        .key_positions(target)
        .into_iter()
        .filter_map(|position| target.get(position))
        .collect();
    if keys.is_empty() {
        return Err(CommandError::err("Invalid arguments specified for command"));
    }
    Ok(keys)
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN glob]: full names, the
/// subcommands included.
fn list(table: &CommandTable, options: &[Bytes]) -> Result<Reply, CommandError> {
    let filter: Box<dyn Fn(&CommandSpec) -> bool> = match options {
        [] => Box::new(|_| true),
        [by, kind, argument] if is_keyword(by, "filterby") => {
            if is_keyword(kind, "module") {
                // slotkv loads no modules, so no command belongs to one.
                Box::new(|_| false)
            } else if is_keyword(kind, "aclcat") {
                Box::new(move |spec| in_acl_category(spec, argument))
            } else if is_keyword(kind, "pattern") {
                Box::new(move |spec| glob_match(argument, spec.name.as_bytes(), true))
            } else {
                return Err(CommandError::Syntax);
            }
        }
        _ => return Err(CommandError::Syntax),
    };
    Ok(Reply::Array(
        with_subcommands(table)
            .filter(|spec| filter(spec))
            .map(|spec| Reply::text(spec.name))
            .collect(),
    ))
}

/// Whether `spec` is in the ACL category named `category` (without the `@`, any case).
fn in_acl_category(spec: &CommandSpec, category: &[u8]) -> bool {
    spec.acl_categories().iter().any(|name| {
        name.strip_prefix('@')
            .is_some_and(|name| name.as_bytes().eq_ignore_ascii_case(category))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotkv_engine::command::Handler;

    fn run(words: &[&str]) -> Result<Reply, CommandError> {
        let args: Vec<Bytes> = words
            .iter()
            .map(|word| Bytes::copy_from_slice(word.as_bytes()))
            .collect();
        command_reply(&args)
    }

    fn bulks(words: &[&str]) -> Reply {
        Reply::Array(words.iter().map(|word| Reply::text(*word)).collect())
    }

    fn simples(words: &[&str]) -> Reply {
        Reply::Set(
            words
                .iter()
                .map(|word| Reply::Simple((*word).to_owned()))
                .collect(),
        )
    }

    fn error(result: Result<Reply, CommandError>) -> String {
        result.expect_err("an error").to_string()
    }

    fn entries(reply: Reply) -> Vec<Reply> {
        match reply {
            Reply::Array(entries) => entries,
            other => panic!("not an array: {other:?}"),
        }
    }

    fn map_keys(reply: &Reply) -> Vec<Reply> {
        match reply {
            Reply::Map(entries) => entries.iter().map(|(key, _)| key.clone()).collect(),
            other => panic!("not a map: {other:?}"),
        }
    }

    fn map_value<'a>(reply: &'a Reply, key: &str) -> &'a Reply {
        match reply {
            Reply::Map(entries) => entries
                .iter()
                .find(|(k, _)| *k == Reply::text(key))
                .map(|(_, value)| value)
                .unwrap_or_else(|| panic!("no {key} in {reply:?}")),
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn info_get_matches_redis_layout() {
        let reply = run(&["COMMAND", "INFO", "get"]).unwrap();
        let expected_key_spec = map(vec![
            ("flags", simples(&["RO", "access"])),
            (
                "begin_search",
                map(vec![
                    ("type", Reply::text("index")),
                    ("spec", map(vec![("index", Reply::Integer(1))])),
                ]),
            ),
            (
                "find_keys",
                map(vec![
                    ("type", Reply::text("range")),
                    (
                        "spec",
                        map(vec![
                            ("lastkey", Reply::Integer(0)),
                            ("keystep", Reply::Integer(1)),
                            ("limit", Reply::Integer(0)),
                        ]),
                    ),
                ]),
            ),
        ]);
        assert_eq!(
            reply,
            Reply::Array(vec![Reply::Array(vec![
                Reply::text("get"),
                Reply::Integer(2),
                simples(&["readonly", "fast"]),
                Reply::Integer(1),
                Reply::Integer(1),
                Reply::Integer(1),
                simples(&["@read", "@string", "@fast"]),
                Reply::Set(vec![]),
                Reply::Set(vec![expected_key_spec]),
                Reply::Set(vec![]),
            ])])
        );
    }

    #[test]
    fn migrate_reports_its_key_and_the_keys_after_keys() {
        let mut line: Vec<Bytes> = ["MIGRATE", "h", "1", "", "0", "5", "KEYS", "a", "b"]
            .iter()
            .map(|word| Bytes::copy_from_slice(word.as_bytes()))
            .collect();
        assert_eq!(
            getkeys(CommandTable::global(), &line).unwrap(),
            bulks(&["a", "b"])
        );
        line[3] = Bytes::from_static(b"k");
        line.truncate(6);
        assert_eq!(
            getkeys(CommandTable::global(), &line).unwrap(),
            bulks(&["k"])
        );
        let info = entries(run(&["COMMAND", "INFO", "migrate"]).unwrap());
        let migrate = entries(info[0].clone());
        assert_eq!(migrate[2], simples(&["write", "movablekeys"]));
        let Reply::Set(specs) = &migrate[8] else {
            panic!("key specs: {:?}", migrate[8]);
        };
        assert_eq!(specs.len(), 2);
        let flags = simples(&["RW", "access", "delete", "incomplete"]);
        assert!(specs.iter().all(|spec| *map_value(spec, "flags") == flags));
        let search = map_value(&specs[1], "begin_search");
        assert_eq!(*map_value(search, "type"), Reply::text("keyword"));
    }

    #[test]
    fn info_unknown_is_nil_and_names_ignore_case() {
        let reply = entries(run(&["command", "info", "nosuch", "GET", "CLIENT|ID"]).unwrap());
        assert_eq!(reply[0], Reply::Nil);
        assert_eq!(entries(reply[1].clone())[0], Reply::text("get"));
        assert_eq!(entries(reply[2].clone())[0], Reply::text("client|id"));
        assert_eq!(reply.len(), 3);
    }

    #[test]
    fn info_of_container_nests_subcommands_and_has_no_keys() {
        let reply = entries(run(&["command", "info", "client"]).unwrap());
        let client = entries(reply[0].clone());
        assert_eq!(client.len(), 10);
        assert_eq!(
            client[3..6],
            [Reply::Integer(0), Reply::Integer(0), Reply::Integer(0)]
        );
        assert_eq!(client[8], Reply::Set(vec![]));
        let subcommands = entries(client[9].clone());
        let names: Vec<Reply> = subcommands
            .into_iter()
            .map(|sub| entries(sub)[0].clone())
            .collect();
        assert!(names.contains(&Reply::text("client|list")));
        assert!(names.contains(&Reply::text("client|setname")));
    }

    #[test]
    fn key_spec_of_negative_range_keeps_lastkey_negative() {
        let reply = entries(run(&["command", "info", "del"]).unwrap());
        let del = entries(reply[0].clone());
        assert_eq!(
            del[3..6],
            [Reply::Integer(1), Reply::Integer(-1), Reply::Integer(1)]
        );
        let Reply::Set(specs) = &del[8] else {
            panic!("key specs are a set")
        };
        assert_eq!(
            map_value(&specs[0], "flags"),
            &simples(&["RW", "access", "update"])
        );
        let find_keys = map_value(map_value(&specs[0], "find_keys"), "spec");
        assert_eq!(map_value(find_keys, "lastkey"), &Reply::Integer(-1));
    }

    #[test]
    fn all_commands_and_count_agree() {
        let table = CommandTable::global();
        let all = entries(run(&["COMMAND"]).unwrap());
        assert_eq!(all.len(), table.len());
        assert_eq!(entries(run(&["command", "info"]).unwrap()), all);
        assert_eq!(
            run(&["command", "count"]).unwrap(),
            Reply::Integer(table.len() as i64)
        );
        let names: Vec<Reply> = all.iter().map(|e| entries(e.clone())[0].clone()).collect();
        let mut sorted = names.clone();
        sorted.sort_by_key(|name| format!("{name:?}"));
        assert_eq!(names, sorted);
    }

    #[test]
    fn docs_give_summary_since_group_and_subcommands() {
        let reply = run(&["command", "docs", "get", "nosuch", "config"]).unwrap();
        assert_eq!(
            map_keys(&reply),
            [Reply::text("get"), Reply::text("config")]
        );
        let get = map_value(&reply, "get");
        assert_eq!(
            map_keys(get),
            [
                Reply::text("summary"),
                Reply::text("since"),
                Reply::text("group")
            ]
        );
        assert_eq!(map_value(get, "since"), &Reply::text("1.0.0"));
        assert_eq!(map_value(get, "group"), &Reply::text("string"));
        let config = map_value(&reply, "config");
        let subcommands = map_value(config, "subcommands");
        let config_get = map_value(subcommands, "config|get");
        assert_eq!(map_value(config_get, "group"), &Reply::text("server"));
        assert_eq!(
            map_value(config_get, "summary"),
            &Reply::text("Returns the effective values of configuration parameters.")
        );
    }

    #[test]
    fn docs_without_names_cover_every_command() {
        let reply = run(&["command", "docs"]).unwrap();
        assert_eq!(map_keys(&reply).len(), CommandTable::global().len());
        let docs = run(&["command", "docs", "client|id"]).unwrap();
        assert_eq!(map_keys(&docs), [Reply::text("client|id")]);
    }

    #[test]
    fn getkeys_follows_the_key_range() {
        assert_eq!(
            run(&["command", "getkeys", "get", "k"]).unwrap(),
            bulks(&["k"])
        );
        assert_eq!(
            run(&["command", "getkeys", "DEL", "a", "b", "c"]).unwrap(),
            bulks(&["a", "b", "c"])
        );
        assert_eq!(
            run(&["command", "getkeys", "set", "k", "v", "EX", "10"]).unwrap(),
            bulks(&["k"])
        );
    }

    #[test]
    fn getkeys_with_a_step_picks_every_other_argument() {
        static MSET: CommandSpec =
            CommandSpec::new("mset", -3, Handler::Server).keys(KeyRange::new(1, -1, 2));
        let target: Vec<Bytes> = ["mset", "a", "1", "b", "2"]
            .iter()
            .map(|w| Bytes::from_static(w.as_bytes()))
            .collect();
        let keys = key_arguments(&MSET, &target).unwrap();
        assert_eq!(keys, [&Bytes::from_static(b"a"), &Bytes::from_static(b"b")]);
    }

    #[test]
    fn getkeys_reads_numkeys() {
        // Redis lists a *STORE destination after the keys it combines.
        assert_eq!(
            run(&[
                "command",
                "getkeys",
                "ZUNIONSTORE",
                "dst",
                "2",
                "a",
                "b",
                "WEIGHTS",
                "1",
                "2"
            ])
            .unwrap(),
            bulks(&["a", "b", "dst"])
        );
        assert_eq!(
            run(&["command", "getkeys", "LMPOP", "2", "a", "b", "LEFT"]).unwrap(),
            bulks(&["a", "b"])
        );
        assert_eq!(
            run(&[
                "command",
                "getkeys",
                "SINTERCARD",
                "2",
                "a",
                "b",
                "LIMIT",
                "1"
            ])
            .unwrap(),
            bulks(&["a", "b"])
        );
        assert_eq!(
            run(&["command", "getkeys", "BLMPOP", "0", "2", "a", "b", "LEFT"]).unwrap(),
            bulks(&["a", "b"])
        );
        assert_eq!(
            run(&["command", "getkeys", "zdiff", "1", "a", "WITHSCORES"]).unwrap(),
            bulks(&["a"])
        );
    }

    #[test]
    fn getkeys_with_a_bad_numkeys_is_invalid() {
        for target in [
            &["zunionstore", "dst", "0", "a"][..],
            &["zunionstore", "dst", "3", "a", "b"],
            &["lmpop", "-1", "a", "LEFT"],
            &["sintercard", "two", "a", "b"],
            &["bzmpop", "0", "9223372036854775807", "a", "MIN"],
        ] {
            let mut words = vec!["command", "getkeys"];
            words.extend_from_slice(target);
            assert_eq!(
                error(run(&words)),
                "ERR Invalid arguments specified for command",
                "{target:?}"
            );
        }
        assert_eq!(
            error(run(&["command", "getkeys", "lmpop", "1", "a"])),
            "ERR Invalid number of arguments specified for command"
        );
    }

    fn keynum_spec(flags: &[&str], numkeys_index: i64) -> Reply {
        map(vec![
            ("flags", simples(flags)),
            ("begin_search", index_search(numkeys_index)),
            (
                "find_keys",
                typed_spec(
                    "keynum",
                    vec![
                        ("keynumidx", Reply::Integer(0)),
                        ("firstkey", Reply::Integer(1)),
                        ("keystep", Reply::Integer(1)),
                    ],
                ),
            ),
        ])
    }

    fn first_key_spec(flags: &[&str]) -> Reply {
        map(vec![
            ("flags", simples(flags)),
            ("begin_search", index_search(1)),
            (
                "find_keys",
                typed_spec(
                    "range",
                    vec![
                        ("lastkey", Reply::Integer(0)),
                        ("keystep", Reply::Integer(1)),
                        ("limit", Reply::Integer(0)),
                    ],
                ),
            ),
        ])
    }

    fn only_entry(reply: Reply) -> Vec<Reply> {
        entries(entries(reply).remove(0))
    }

    #[test]
    fn info_zunionstore_has_a_destination_and_a_keynum_spec() {
        let entry = only_entry(run(&["command", "info", "zunionstore"]).unwrap());
        assert_eq!(entry[2], simples(&["write", "denyoom", "movablekeys"]));
        assert_eq!(
            entry[3..6],
            [Reply::Integer(1), Reply::Integer(1), Reply::Integer(1)]
        );
        assert_eq!(
            entry[8],
            Reply::Set(vec![
                first_key_spec(&["OW", "update"]),
                keynum_spec(&["RO", "access"], 2),
            ])
        );
    }

    #[test]
    fn info_of_numkeys_commands_without_destination() {
        let lmpop = only_entry(run(&["command", "info", "lmpop"]).unwrap());
        assert_eq!(lmpop[2], simples(&["write", "movablekeys"]));
        assert_eq!(
            lmpop[3..6],
            [Reply::Integer(0), Reply::Integer(0), Reply::Integer(0)]
        );
        assert_eq!(
            lmpop[8],
            Reply::Set(vec![keynum_spec(&["RW", "access", "update"], 1)])
        );
        let sintercard = only_entry(run(&["command", "info", "sintercard"]).unwrap());
        assert_eq!(
            sintercard[8],
            Reply::Set(vec![keynum_spec(&["RO", "access"], 1)])
        );
        let bzmpop = only_entry(run(&["command", "info", "bzmpop"]).unwrap());
        assert_eq!(
            bzmpop[8],
            Reply::Set(vec![keynum_spec(&["RW", "access", "update"], 2)])
        );
    }

    #[test]
    fn sort_specs_are_its_key_then_unknown_patterns_and_destination() {
        let unknown = |note: &'static str, flags: &[&str]| {
            map(vec![
                ("notes", Reply::text(note)),
                ("flags", simples(flags)),
                ("begin_search", typed_spec("unknown", vec![])),
                ("find_keys", typed_spec("unknown", vec![])),
            ])
        };
        let sort = only_entry(run(&["command", "info", "sort"]).unwrap());
        assert_eq!(sort[2], simples(&["write", "denyoom", "movablekeys"]));
        assert_eq!(
            sort[3..6],
            [Reply::Integer(1), Reply::Integer(1), Reply::Integer(1)]
        );
        assert_eq!(
            sort[8],
            Reply::Set(vec![
                first_key_spec(&["RO", "access"]),
                unknown(SORT_PATTERNS_NOTE, &["RO", "access"]),
                unknown(SORT_STORE_NOTE, &["OW", "update"]),
            ])
        );
        let sort_ro = only_entry(run(&["command", "info", "sort_ro"]).unwrap());
        assert_eq!(
            sort_ro[8],
            Reply::Set(vec![
                first_key_spec(&["RO", "access"]),
                unknown(SORT_PATTERNS_NOTE, &["RO", "access"]),
            ])
        );
    }

    #[test]
    fn getkeys_of_sort_skips_patterns_and_finds_the_destination() {
        assert_eq!(
            run(&["command", "getkeys", "SORT", "k", "BY", "w_*", "GET", "#", "STORE", "d"])
                .unwrap(),
            bulks(&["k", "d"])
        );
        assert_eq!(
            run(&["command", "getkeys", "sort_ro", "k", "GET", "o_*"]).unwrap(),
            bulks(&["k"])
        );
    }

    #[test]
    fn getkeys_errors_are_redis_words() {
        assert_eq!(
            error(run(&["command", "getkeys", "nosuch", "a"])),
            "ERR Invalid command specified"
        );
        assert_eq!(
            error(run(&["command", "getkeys", "client", "nosuch"])),
            "ERR Invalid command specified"
        );
        assert_eq!(
            error(run(&["command", "getkeys", "get", "a", "b"])),
            "ERR Invalid number of arguments specified for command"
        );
        assert_eq!(
            error(run(&["command", "getkeys", "ping", "x"])),
            "ERR The command has no key arguments"
        );
        assert_eq!(
            error(run(&["command", "getkeys", "client", "list"])),
            "ERR The command has no key arguments"
        );
        static ODD: CommandSpec =
            CommandSpec::new("odd", -2, Handler::Server).keys(KeyRange::new(2, 2, 1));
        let target = [Bytes::from_static(b"odd"), Bytes::from_static(b"x")];
        assert_eq!(
            key_arguments(&ODD, &target).unwrap_err().to_string(),
            "ERR Invalid arguments specified for command"
        );
    }

    #[test]
    fn list_includes_subcommands_and_filters() {
        let Reply::Array(all) = run(&["command", "list"]).unwrap() else {
            panic!("array expected")
        };
        assert!(all.contains(&Reply::text("get")));
        assert!(all.contains(&Reply::text("config|set")));
        let pattern = run(&["command", "list", "FILTERBY", "pattern", "CONFIG*"]).unwrap();
        assert_eq!(
            pattern,
            bulks(&[
                "config",
                "config|get",
                "config|set",
                "config|resetstat",
                "config|rewrite",
                "config|help"
            ])
        );
        let Reply::Array(strings) =
            run(&["command", "list", "filterby", "aclcat", "STRING"]).unwrap()
        else {
            panic!("array expected")
        };
        assert!(strings.contains(&Reply::text("get")) && strings.contains(&Reply::text("set")));
        assert!(!strings.contains(&Reply::text("del")));
        assert_eq!(
            run(&["command", "list", "filterby", "aclcat", "@string"]).unwrap(),
            bulks(&[])
        );
        assert_eq!(
            run(&["command", "list", "filterby", "module", "x"]).unwrap(),
            bulks(&[])
        );
        assert_eq!(error(run(&["command", "list", "x"])), "ERR syntax error");
        assert_eq!(
            error(run(&["command", "list", "filterby", "color", "x"])),
            "ERR syntax error"
        );
    }

    #[test]
    fn help_and_arity_errors() {
        let Reply::Array(lines) = run(&["command", "help"]).unwrap() else {
            panic!("array expected")
        };
        assert_eq!(
            lines[0],
            Reply::Simple(
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:".into()
            )
        );
        assert_eq!(
            lines.last(),
            Some(&Reply::Simple("    Prints this help.".into()))
        );
        assert_eq!(
            error(run(&["command", "count", "x"])),
            "ERR wrong number of arguments for 'command|count' command"
        );
        assert_eq!(
            error(run(&["command", "nosuch"])),
            "ERR unknown subcommand 'nosuch'. Try COMMAND HELP."
        );
    }
}
