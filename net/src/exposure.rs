//! Who may reach the server and what they may run there, as Redis 7 decides it:
//!
//! - protected mode: with `protected-mode yes` and a default user without a password, a
//!   connection from a non-loopback address gets Redis's `-DENIED` message and is closed,
//!   right after accept and before anything it sends is read;
//! - `enable-debug-command` / `enable-protected-configs` (`no`, `yes`, `local`): whether DEBUG
//!   and CONFIG SET of protected directives (`dir`, `dbfilename`) are allowed, and from where;
//! - `rename-command`: the names clients use for commands, changed in the configuration file
//!   only (renaming to `""` removes a command);
//! - `bind-source-addr`: the local address outbound connections (replication link, MIGRATE,
//!   cluster bus) start from.
//!
//! The decisions are plain functions over addresses and settings so they can be tested
//! without a network; the accept loop and the dispatcher only call them.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use slotkv_engine::command::CommandTable;
use slotkv_engine::CommandError;
use tokio::net::{TcpSocket, TcpStream};

/// Redis 7's reply to a connection refused by protected mode (sent raw, then the connection is
/// closed).
pub const DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode \
is enabled and no password is set for the default user. In this mode connections are only \
accepted from the loopback interface. If you want to connect from external computers to Redis \
you may adopt one of the following solutions: 1) Just disable protected mode sending the command \
'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same \
host the server is running, however MAKE SURE Redis is not publicly accessible from internet if \
you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just \
disable the protected mode by editing the Redis configuration file, and setting the protected \
mode option to 'no', and then restarting the server. 3) If you started the server manually just \
for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication \
password for the default user. NOTE: You only need to do one of the above things in order for \
the server to start accepting connections from the outside.\r\n";

/// Most `rename-command` lines a configuration may hold.
pub const RENAMES_MAX: usize = 1024;

/// Whether a client connects from this machine: a loopback address (127.0.0.0/8, `::1`, or
/// an IPv4-mapped loopback address).
pub fn is_local(peer: &SocketAddr) -> bool {
    match peer.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Protected mode's decision for a new connection from `peer`: refused when protected mode is
/// on, the default user needs no password, and the peer is not local (Redis 7 no longer looks
/// at `bind` here: binding to a public address does not open the server by itself).
pub fn protected_mode_denies(
    protected_mode: bool,
    default_user_nopass: bool,
    peer: &SocketAddr,
) -> bool {
    protected_mode && default_user_nopass && !is_local(peer)
}

/// `enable-debug-command` and `enable-protected-configs`: never, always, or from local
/// connections only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    No,
    Yes,
    Local,
}

impl Permission {
    /// Every value, in the order Redis lists them in its error message.
    pub const ALL: [Permission; 3] = [Permission::No, Permission::Yes, Permission::Local];

    /// The value's name in redis.conf and CONFIG GET.
    pub fn name(self) -> &'static str {
        match self {
            Permission::No => "no",
            Permission::Yes => "yes",
            Permission::Local => "local",
        }
    }

    /// The value named `name`, ignoring case.
    pub fn from_name(name: &[u8]) -> Option<Permission> {
        Self::ALL
            .into_iter()
            .find(|value| name.eq_ignore_ascii_case(value.name().as_bytes()))
    }

    /// Whether a client at `peer` may do the protected action.
    pub fn allows(self, peer: &SocketAddr) -> bool {
        match self {
            Permission::No => false,
            Permission::Yes => true,
            Permission::Local => is_local(peer),
        }
    }
}

/// Whether the client may run DEBUG (`enable-debug-command`); checked before NOAUTH and
/// while queuing a transaction, as Redis checks its protected commands.
pub fn debug_allowed(
    shared: &crate::server::Shared,
    client: &crate::connection::ClientState,
) -> bool {
    let permission = shared.config.read().enable_debug_command;
    permission.allows(&client.info.peer)
}

/// Redis's refusal of DEBUG when `enable-debug-command` does not allow it.
pub fn debug_refused() -> CommandError {
    CommandError::err(
        "DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you \
         can run it from a local connection, otherwise you need to set this option in the \
         configuration file, and then restart the server.",
    )
}

/// The command names clients use once the `rename-command` lines are applied in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandNames {
    /// Lowercase names of commands no longer reachable under their own name.
    hidden: HashSet<Vec<u8>>,
    /// Lowercase new name -> the command's own (table) name.
    aliases: HashMap<Vec<u8>, &'static str>,
}

impl CommandNames {
    /// The names after applying `renames` (`from`, `to`) in order.
    pub fn from_renames(renames: &[(Vec<u8>, Vec<u8>)]) -> Result<CommandNames, &'static str> {
        let mut names = CommandNames::default();
        for (from, to) in renames {
            names.rename(from, to)?;
        }
        Ok(names)
    }

    /// Whether no command is renamed (the common case: requests pass untouched).
    pub fn is_identity(&self) -> bool {
        self.hidden.is_empty() && self.aliases.is_empty()
    }

    /// The table name of the command a client calls `name`, if any.
    fn lookup(&self, name: &[u8]) -> Option<&'static str> {
        let lower = name.to_ascii_lowercase();
        if let Some(command) = self.aliases.get(&lower) {
            return Some(command);
        }
        if self.hidden.contains(&lower) || lower.contains(&b'|') {
            return None;
        }
        CommandTable::global().lookup(&lower).map(|spec| spec.name)
    }

    /// One `rename-command <from> <to>` line, with Redis's errors; an empty `to` removes the
    /// command. Renaming a command to its own name is allowed, as in Redis.
    pub fn rename(&mut self, from: &[u8], to: &[u8]) -> Result<(), &'static str> {
        let command = self
            .lookup(from)
            .ok_or("No such command in rename-command")?;
        let from = from.to_ascii_lowercase();
        if self.aliases.remove(&from).is_none() {
            self.hidden.insert(from);
        }
        if to.is_empty() {
            return Ok(());
        }
        if self.lookup(to).is_some() {
            return Err("Target command name already exists");
        }
        let to = to.to_ascii_lowercase();
        if to == command.as_bytes() {
            self.hidden.remove(&to);
        } else {
            self.aliases.insert(to, command);
        }
        Ok(())
    }

    /// The request as the command table knows it: the first word replaced by the command's
    /// own name when it was renamed; Redis's unknown-command error for a name that is gone.
    #[inline]
    pub fn translate(&self, args: &[Bytes]) -> Result<Option<Vec<Bytes>>, CommandError> {
        // The hot path, inlined in the caller: with nothing renamed, no call at all.
        if self.is_identity() {
            return Ok(None);
        }
        self.translate_renamed(args)
    }

    fn translate_renamed(&self, args: &[Bytes]) -> Result<Option<Vec<Bytes>>, CommandError> {
        let Some(first) = args.first() else {
            return Ok(None);
        };
        match self.lookup(first) {
            Some(command) if command.as_bytes().eq_ignore_ascii_case(first) => Ok(None),
            Some(command) => {
                let mut renamed = args.to_vec();
                renamed[0] = Bytes::from_static(command.as_bytes());
                Ok(Some(renamed))
            }
            None if self.hidden.contains(&first.to_ascii_lowercase()) => {
                Err(CommandError::unknown_command(first, &args[1..]))
            }
            // Not a command at all: the table's own lookup answers it.
            None => Ok(None),
        }
    }
}

/// Opens a TCP connection to `host:port`, from `source` when `bind-source-addr` names one
/// (not used for a target of the other address family). Callers bound the time it takes.
pub async fn connect(host: &str, port: u16, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(source) = source else {
        return TcpStream::connect((host, port)).await;
    };
    let mut last_error = None;
    for target in tokio::net::lookup_host((host, port)).await? {
        match connect_from(target, source).await {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "no address for host")
    }))
}

/// One connection attempt to `target` from `source` (port chosen by the system).
async fn connect_from(target: SocketAddr, source: IpAddr) -> std::io::Result<TcpStream> {
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if source.is_ipv4() == target.is_ipv4() {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    socket.connect(target).await
}

/// `bind-source-addr` as an address; `None` when empty (or, defensively, unparsable: the
/// directive is checked when set).
pub fn source_address(setting: &str) -> Option<IpAddr> {
    setting.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn words(text: &[&str]) -> Vec<Bytes> {
        text.iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn loopback_peers_are_local() {
        for peer in [
            "127.0.0.1:5000",
            "127.1.2.3:1",
            "[::1]:6379",
            "[::ffff:127.0.0.1]:9",
        ] {
            assert!(is_local(&addr(peer)), "{peer}");
        }
        for peer in [
            "10.200.0.2:5000",
            "192.168.1.1:1",
            "[fe80::1]:6379",
            "[::ffff:10.0.0.1]:9",
            "0.0.0.0:1",
        ] {
            assert!(!is_local(&addr(peer)), "{peer}");
        }
    }

    #[test]
    fn protected_mode_refuses_only_remote_peers_without_password() {
        let remote = addr("10.200.0.2:40000");
        let local = addr("127.0.0.1:40000");
        assert!(protected_mode_denies(true, true, &remote));
        assert!(!protected_mode_denies(true, true, &local));
        assert!(
            !protected_mode_denies(false, true, &remote),
            "protected-mode no"
        );
        assert!(
            !protected_mode_denies(true, false, &remote),
            "a password is set"
        );
    }

    #[test]
    fn denied_message_is_one_resp_error_line() {
        assert!(DENIED.starts_with(b"-DENIED Redis is running in protected mode because"));
        assert!(DENIED.ends_with(b"from the outside.\r\n"));
        assert_eq!(DENIED.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(
            DENIED.len(),
            1066,
            "Redis's message is 1066 bytes with its CRLF"
        );
    }

    #[test]
    fn permissions_allow_as_redis() {
        let remote = addr("10.200.0.2:1");
        let local = addr("[::1]:1");
        assert!(!Permission::No.allows(&local));
        assert!(Permission::Yes.allows(&remote));
        assert!(Permission::Local.allows(&local));
        assert!(!Permission::Local.allows(&remote));
        assert_eq!(Permission::from_name(b"LOCAL"), Some(Permission::Local));
        assert_eq!(Permission::from_name(b"maybe"), None);
    }

    #[test]
    fn renamed_command_answers_only_to_its_new_name() {
        let names =
            CommandNames::from_renames(&[(b"FLUSHALL".to_vec(), b"wipe-it".to_vec())]).unwrap();
        let renamed = names
            .translate(&words(&["WIPE-IT", "ASYNC"]))
            .unwrap()
            .unwrap();
        assert_eq!(renamed, words(&["flushall", "ASYNC"]));
        let error = names.translate(&words(&["flushall"])).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("ERR unknown command 'flushall'"),
            "{error}"
        );
        assert_eq!(names.translate(&words(&["GET", "k"])).unwrap(), None);
        assert_eq!(names.translate(&words(&["nosuch"])).unwrap(), None);
    }

    #[test]
    fn renaming_to_empty_removes_and_containers_keep_subcommands() {
        let names = CommandNames::from_renames(&[
            (b"debug".to_vec(), Vec::new()),
            (b"config".to_vec(), b"cfg".to_vec()),
        ])
        .unwrap();
        assert!(names.translate(&words(&["DEBUG", "SLEEP", "0"])).is_err());
        let renamed = names
            .translate(&words(&["cfg", "GET", "port"]))
            .unwrap()
            .unwrap();
        assert_eq!(renamed, words(&["config", "GET", "port"]));
        assert!(!names.is_identity());
        assert!(CommandNames::default().is_identity());
    }

    #[test]
    fn rename_errors_are_redis_words() {
        let missing = CommandNames::from_renames(&[(b"nosuch".to_vec(), b"x".to_vec())]);
        assert_eq!(missing, Err("No such command in rename-command"));
        let taken = CommandNames::from_renames(&[(b"get".to_vec(), b"set".to_vec())]);
        assert_eq!(taken, Err("Target command name already exists"));
        let subcommand = CommandNames::from_renames(&[(b"config|get".to_vec(), b"x".to_vec())]);
        assert_eq!(subcommand, Err("No such command in rename-command"));
        let twice = CommandNames::from_renames(&[
            (b"get".to_vec(), b"fetch".to_vec()),
            (b"get".to_vec(), b"again".to_vec()),
        ]);
        assert_eq!(twice, Err("No such command in rename-command"));
        let chain = CommandNames::from_renames(&[
            (b"get".to_vec(), b"fetch".to_vec()),
            (b"fetch".to_vec(), b"get".to_vec()),
        ])
        .unwrap();
        assert!(chain.is_identity(), "renamed back to itself: {chain:?}");
        let to_itself = CommandNames::from_renames(&[(b"get".to_vec(), b"GET".to_vec())]).unwrap();
        assert_eq!(to_itself.translate(&words(&["get", "k"])).unwrap(), None);
    }
}
