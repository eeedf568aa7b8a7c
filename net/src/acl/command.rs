//! The server side of ACL: the ACL command and its subcommands, authentication for AUTH and
//! HELLO (with ACL LOG entries for failures), the gate the connection calls before running a
//! command for a restricted user, and what happens to connections when users change: ACL
//! DELUSER (and ACL LOAD) close the connections of removed or redefined users, ACL SETUSER
//! closes subscribers whose subscriptions the new rules no longer allow, as Redis does.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use slotkv_engine::command::{is_keyword, parse_i64_arg, CommandSpec, CommandTable};
use slotkv_engine::{CommandError, Reply};

use super::checker::{self, Denial};
use super::log::{Context, Event, Reason, DEFAULT_SHOWN};
use super::selector::{category_index, CommandIndex, CATEGORIES};
use super::user::{is_valid_username, merge_selector_words};
use super::{Change, UserSlot};
use crate::clients::ClientInfo;
use crate::connection::ClientState;
use crate::pubsub::Kind;
use crate::server::Shared;

/// Redis's error for a failed AUTH or HELLO AUTH.
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
/// Largest ACL GENPASS size in bits.
const GENPASS_BITS_MAX: i64 = 4096;
/// ACL GENPASS's default size in bits.
const GENPASS_BITS_DEFAULT: i64 = 256;

/// Checks a command of a restricted user; on denial logs it, counts it and returns the error
/// reply. `context` says whether the command is being queued or run in a transaction.
pub fn gate(
    shared: &Shared,
    state: &ClientState,
    spec: &'static CommandSpec,
    args: &[Bytes],
    context: Context,
) -> Result<(), Reply> {
    let denial = {
        let user = state.user.rules();
        match checker::check(&user, spec, args) {
            Ok(()) => return Ok(()),
            Err(denial) => denial,
        }
    };
    let counter = match denial {
        Denial::Command => &shared.acl.denied.cmd,
        Denial::Key(_) => &shared.acl.denied.key,
        Denial::Channel(_) => &shared.acl.denied.channel,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    // The log's client info shows the denied command, or EXEC when it runs one of its queue.
    if !state.in_exec {
        state.info.touch(spec.name);
    }
    let event = Event {
        reason: denial.reason(),
        context,
        object: denial.object(spec),
        username: state.user.name().to_owned(),
        client_info: state.info.describe(),
    };
    shared.acl.log.add(event, log_max_len(shared));
    Err(Reply::Error(denial.error(state.user.name(), spec)))
}

fn log_max_len(shared: &Shared) -> usize {
    usize::try_from(shared.config.read().acllog_max_len).unwrap_or(usize::MAX)
}

/// AUTH and HELLO AUTH (`command` says which): switches the connection to `name` if
/// `password` opens it; otherwise logs the failure and answers WRONGPASS.
pub fn authenticate(
    shared: &Shared,
    state: &mut ClientState,
    command: &'static str,
    name: &[u8],
    password: &[u8],
) -> Result<(), CommandError> {
    match shared.acl.authenticate(name, password) {
        Some(slot) => {
            state.info.set_user(slot.name());
            state.user = slot;
            state.authenticated = true;
            Ok(())
        }
        None => {
            shared.acl.denied.auth.fetch_add(1, Ordering::Relaxed);
            state.info.touch(command);
            let context = if state.transaction.multi.is_some() {
                Context::Multi
            } else {
                Context::Toplevel
            };
            let event = Event {
                reason: Reason::Auth,
                context,
                object: "AUTH".to_owned(),
                username: String::from_utf8_lossy(name).into_owned(),
                client_info: state.info.describe(),
            };
            shared.acl.log.add(event, log_max_len(shared));
            Err(CommandError::Other(WRONGPASS.into()))
        }
    }
}

/// The ACL subcommands.
pub fn run(
    shared: &Shared,
    state: &ClientState,
    spec: &CommandSpec,
    args: &[Bytes],
) -> Result<Reply, CommandError> {
    match spec.name {
        "acl|whoami" => Ok(Reply::text(state.user.name())),
        "acl|users" => Ok(Reply::Array(
            shared
                .acl
                .usernames()
                .into_iter()
                .map(Reply::text)
                .collect(),
        )),
        "acl|list" => Ok(Reply::Array(
            shared
                .acl
                .describe_all()
                .into_iter()
                .map(Reply::text)
                .collect(),
        )),
        "acl|getuser" => Ok(shared
            .acl
            .get(&args[2])
            .map_or(Reply::Nil, |slot| slot.rules().getuser_reply())),
        "acl|setuser" => setuser(shared, state, args),
        "acl|deluser" => deluser(shared, state, &args[2..]),
        "acl|cat" => cat(args),
        "acl|genpass" => genpass(args),
        "acl|log" => log(shared, args),
        "acl|dryrun" => dryrun(shared, args),
        "acl|save" => shared
            .acl
            .save_file()
            .map(|()| Reply::Ok)
            .map_err(CommandError::err),
        "acl|load" => {
            let changes = shared.acl.load_file().map_err(CommandError::err)?;
            // A user the file redefines loses its connections, as a removed one does.
            let closing: Vec<Change> = changes
                .into_iter()
                .map(|change| match change {
                    Change::Changed(name) => Change::Removed(name),
                    removed => removed,
                })
                .collect();
            apply_changes(shared, state, &closing);
            Ok(Reply::Ok)
        }
        "acl|help" => Ok(help()),
        other => Err(CommandError::err(format!(
            "'{other}' is not served by this server"
        ))),
    }
}

fn setuser(shared: &Shared, state: &ClientState, args: &[Bytes]) -> Result<Reply, CommandError> {
    let name = &args[2];
    if !is_valid_username(name) {
        return Err(CommandError::err(
            "Usernames can't contain spaces or null characters",
        ));
    }
    let rules = merge_selector_words(&args[3..]).map_err(|opening| {
        CommandError::err(format!(
            "Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(&opening)
        ))
    })?;
    let name = String::from_utf8_lossy(name).into_owned();
    let change = shared
        .acl
        .set_user(&name, &rules)
        .map_err(|(rule, reason)| {
            CommandError::err(format!(
                "Error in ACL SETUSER modifier '{}': {reason}",
                String::from_utf8_lossy(&rule)
            ))
        })?;
    apply_changes(shared, state, &[change]);
    Ok(Reply::Ok)
}

fn deluser(shared: &Shared, state: &ClientState, names: &[Bytes]) -> Result<Reply, CommandError> {
    if names.iter().any(|name| name.as_ref() == b"default") {
        return Err(CommandError::err("The 'default' user cannot be removed"));
    }
    let names: Vec<String> = names
        .iter()
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let removed = shared.acl.delete(&refs);
    let changes: Vec<Change> = removed.iter().cloned().map(Change::Removed).collect();
    apply_changes(shared, state, &changes);
    Ok(Reply::Integer(removed.len() as i64))
}

/// Deals with the connections of changed users: removed users' connections close; a changed
/// user's subscribers close if one of their subscriptions is no longer allowed (or the user
/// is gone meanwhile).
fn apply_changes(shared: &Shared, state: &ClientState, changes: &[Change]) {
    if changes.is_empty() {
        return;
    }
    for client in shared.clients.all() {
        let user = client.user();
        for change in changes {
            match change {
                Change::Removed(name) if *name == user => close(&client, state),
                Change::Changed(name)
                    if *name == user && lost_a_subscription(shared, &client, name) =>
                {
                    close(&client, state);
                }
                _ => {}
            }
        }
    }
}

fn lost_a_subscription(shared: &Shared, client: &ClientInfo, name: &str) -> bool {
    let Some(slot) = shared.acl.get(name.as_bytes()) else {
        return true;
    };
    let subscriptions = shared.pubsub.subscriptions_of(client.id);
    if subscriptions.is_empty() {
        return false;
    }
    let user = slot.rules();
    subscriptions
        .iter()
        .any(|(kind, name)| !checker::allows_subscription(&user, name, *kind == Kind::Pattern))
}

/// Closes `client`; the calling connection gets its reply first, as in Redis.
fn close(client: &ClientInfo, state: &ClientState) {
    if client.id == state.info.id {
        client.close_after_reply();
    } else {
        client.kill();
    }
}

fn cat(args: &[Bytes]) -> Result<Reply, CommandError> {
    let Some(name) = args.get(2) else {
        return Ok(Reply::Array(
            CATEGORIES.iter().map(|name| Reply::text(*name)).collect(),
        ));
    };
    let text = String::from_utf8_lossy(name);
    let category = category_index(&text)
        .ok_or_else(|| CommandError::err(format!("Unknown category '{text}'")))?;
    let mut names: Vec<&str> = CommandIndex::global()
        .in_category(category)
        .map(|spec| spec.name)
        .collect();
    names.sort_unstable();
    Ok(Reply::Array(names.into_iter().map(Reply::text).collect()))
}

fn genpass(args: &[Bytes]) -> Result<Reply, CommandError> {
    let bits = match args.get(2) {
        None => GENPASS_BITS_DEFAULT,
        Some(arg) => parse_i64_arg(arg)
            .ok()
            .filter(|bits| (1..=GENPASS_BITS_MAX).contains(bits))
            .ok_or_else(|| {
                CommandError::err(format!(
                    "ACL GENPASS argument must be the number of bits for the output password, a positive number up to {GENPASS_BITS_MAX}"
                ))
            })?,
    };
    let chars = (bits as usize).div_ceil(4);
    Ok(Reply::text(random_hex(chars)))
}

/// `chars` hex digits from the operating system's random source (through `rand`'s OsRng).
fn random_hex(chars: usize) -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    hex.truncate(chars);
    hex
}

fn log(shared: &Shared, args: &[Bytes]) -> Result<Reply, CommandError> {
    match args.get(2) {
        None => Ok(shared.acl.log.reply(DEFAULT_SHOWN)),
        Some(_) if args.len() > 3 => Err(CommandError::Syntax),
        Some(arg) if is_keyword(arg, "reset") => {
            shared.acl.log.reset();
            Ok(Reply::Ok)
        }
        Some(arg) => {
            let count = parse_i64_arg(arg)
                .ok()
                .and_then(|count| usize::try_from(count).ok())
                .ok_or(CommandError::NotInteger)?;
            Ok(shared.acl.log.reply(count))
        }
    }
}

fn dryrun(shared: &Shared, args: &[Bytes]) -> Result<Reply, CommandError> {
    let slot: Arc<UserSlot> = shared.acl.get(&args[2]).ok_or_else(|| {
        CommandError::err(format!(
            "User '{}' not found",
            String::from_utf8_lossy(&args[2])
        ))
    })?;
    let line = &args[3..];
    let table = CommandTable::global();
    let name = line.first().ok_or(CommandError::Syntax)?;
    if table.lookup(name).is_none() {
        return Err(CommandError::err(format!(
            "Command '{}' not found",
            String::from_utf8_lossy(name)
        )));
    }
    let spec = table.resolve(line)?;
    let user = slot.rules();
    Ok(match checker::check(&user, spec, line) {
        Ok(()) => Reply::Ok,
        Err(denial) => Reply::text(denial.dryrun_text(slot.name(), spec)),
    })
}

const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Print this help.",
];

fn help() -> Reply {
    Reply::Array(
        HELP.iter()
            .map(|line| Reply::Simple((*line).to_owned()))
            .collect(),
    )
}
