//! MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
//! [AUTH2 username password] [KEYS key ...]: moves keys to another server as Redis does, the
//! source acting as a client of the target: DUMP each key, send `RESTORE` (`RESTORE-ASKING` in
//! cluster mode, so a node importing the slot takes it) with the remaining time to live, and
//! delete the keys the target took (one DEL propagated), unless COPY.
//!
//! Unlike Redis, whose MIGRATE blocks the whole server while it waits on the target, only the
//! calling connection waits: the keys are dumped under their slot locks, the locks released,
//! the exchange awaited on the runtime, and the keys removed under their locks again, each only
//! if it still holds what was sent (a key written meanwhile stays; see
//! `slotkv_engine::api::cluster`).
//!
//! Connections to targets are cached per host:port and closed after 10 s unused, as Redis
//! does; the exchange is pipelined (one write of every command, then the replies); `timeout`
//! bounds the connect and each write and read; a cached connection that fails before any
//! reply was read is replaced and the exchange retried once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use slotkv_engine::api::cluster::DumpedKey;
use slotkv_engine::command::{is_keyword, parse_i64_arg};
use slotkv_engine::{CommandError, Reply, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::server::Shared;

/// A cached connection unused this long is closed.
const LINK_IDLE_MAX: Duration = Duration::from_secs(10);
/// Most cached connections; the least recently used goes first when a new one needs room.
const LINKS_MAX: usize = 64;
/// Longest reply line read from a target: its replies are short status or error lines.
const REPLY_LINE_MAX: usize = 64 * 1024;
/// The timeout used when the argument is not positive, as in Redis.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);

/// A parsed MIGRATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateRequest {
    host: String,
    /// `None` when the port argument is not a port: connecting then fails, as Redis's atoi(3)
    /// makes it fail.
    port: Option<u16>,
    db: i64,
    timeout: Duration,
    copy: bool,
    replace: bool,
    /// AUTH's password, or AUTH2's username and password.
    auth: Option<(Option<Bytes>, Bytes)>,
    keys: Vec<Bytes>,
    /// Send RESTORE-ASKING (cluster mode) rather than RESTORE.
    asking: bool,
}

impl MigrateRequest {
    /// Parses MIGRATE's arguments (the whole command line) with Redis's errors.
    pub fn parse(args: &[Bytes], cluster_mode: bool) -> Result<MigrateRequest, CommandError> {
        let (Some(host), Some(port), Some(key), Some(db), Some(timeout)) = (
            args.get(1),
            args.get(2),
            args.get(3),
            args.get(4),
            args.get(5),
        ) else {
            return Err(CommandError::WrongArity("migrate".into()));
        };
        let mut request = MigrateRequest {
            host: String::from_utf8_lossy(host).into_owned(),
            port: std::str::from_utf8(port).ok().and_then(|p| p.parse().ok()),
            db: 0,
            timeout: DEFAULT_TIMEOUT,
            copy: false,
            replace: false,
            auth: None,
            keys: vec![key.clone()],
            asking: cluster_mode,
        };
        request.parse_options(args)?;
        let timeout_ms = parse_i64_arg(timeout)?;
        request.db = parse_i64_arg(db)?;
        if let Ok(ms @ 1..) = u64::try_from(timeout_ms) {
            request.timeout = Duration::from_millis(ms);
        }
        Ok(request)
    }

    fn parse_options(&mut self, args: &[Bytes]) -> Result<(), CommandError> {
        let mut index = 6;
        while let Some(option) = args.get(index) {
            let more = args.len() - index - 1;
            if is_keyword(option, "copy") {
                self.copy = true;
            } else if is_keyword(option, "replace") {
                self.replace = true;
            } else if is_keyword(option, "auth") && more >= 1 {
                self.auth = Some((None, args[index + 1].clone()));
                index += 1;
            } else if is_keyword(option, "auth2") && more >= 2 {
                self.auth = Some((Some(args[index + 1].clone()), args[index + 2].clone()));
                index += 2;
            } else if is_keyword(option, "keys") {
                if !args[3].is_empty() {
                    return Err(CommandError::err(
                        "When using MIGRATE KEYS option, the key argument must be set to the empty string",
                    ));
                }
                self.keys = args[index + 1..].to_vec();
                return Ok(());
            } else {
                return Err(CommandError::Syntax);
            }
            index += 1;
        }
        Ok(())
    }

    fn link_name(&self) -> String {
        let port = self.port.map_or_else(String::new, |port| port.to_string());
        format!("{}:{port}", self.host)
    }
}

/// One connection to a target server.
#[derive(Debug)]
struct Link {
    stream: TcpStream,
    read_buffer: BytesMut,
    /// The database the last SELECT chose on this connection, if it is known.
    db: Option<i64>,
    last_use: Instant,
}

/// MIGRATE's cached connections, by `host:port`.
#[derive(Debug, Default)]
pub struct LinkCache {
    links: Mutex<HashMap<String, Link>>,
}

impl LinkCache {
    /// Takes the cached connection to `name` out of the cache (MIGRATEs to one target at the
    /// same time each use their own), unless it sat unused too long.
    fn take(&self, name: &str) -> Option<Link> {
        self.links
            .lock()
            .remove(name)
            .filter(|link| link.last_use.elapsed() < LINK_IDLE_MAX)
    }

    /// Returns a connection that ended its exchange cleanly to the cache.
    fn put(&self, name: String, mut link: Link) {
        link.last_use = Instant::now();
        let mut links = self.links.lock();
        if links.len() >= LINKS_MAX && !links.contains_key(&name) {
            let oldest = links
                .iter()
                .min_by_key(|(_, link)| link.last_use)
                .map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                links.remove(&oldest);
            }
        }
        links.insert(name, link);
    }

    /// Closes the connections unused for 10 seconds.
    pub fn close_idle(&self) {
        self.links
            .lock()
            .retain(|_, link| link.last_use.elapsed() < LINK_IDLE_MAX);
    }
}

/// The server's task closing idle MIGRATE connections.
pub async fn close_idle_links_forever(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticker.tick().await;
        shared.migrate_links.close_idle();
    }
}

/// Where an exchange failed on the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SocketError {
    Connect,
    Write {
        timed_out: bool,
    },
    /// Reading the replies; `replies` were read before.
    Read {
        timed_out: bool,
        replies: usize,
    },
}

impl SocketError {
    fn reply(self) -> Reply {
        Reply::Error(
            match self {
                SocketError::Connect => "IOERR error or timeout connecting to the client",
                SocketError::Write { .. } => "IOERR error or timeout writing to target instance",
                SocketError::Read { .. } => "IOERR error or timeout reading to target instance",
            }
            .to_owned(),
        )
    }

    /// Whether a fresh connection may retry: nothing came back and no timeout passed (the
    /// cached connection was probably closed by the target meanwhile).
    fn retryable(self) -> bool {
        matches!(
            self,
            SocketError::Write { timed_out: false }
                | SocketError::Read {
                    timed_out: false,
                    replies: 0
                }
        )
    }
}

/// What the target answered.
#[derive(Debug, Default)]
struct Answers {
    /// Indexes of the keys the target restored.
    restored: Vec<usize>,
    /// The first error line the target sent, without its `-`.
    first_error: Option<String>,
    /// The socket failed while reading the replies (some keys may be restored).
    read_error: Option<SocketError>,
}

/// Runs a MIGRATE for the connection whose selected database `session` holds.
pub async fn run(shared: &Shared, session: &mut Session, request: MigrateRequest) -> Reply {
    let dumped = match shared.engine.dump_keys(session, &request.keys) {
        Ok(dumped) => dumped,
        Err(error) => return Reply::Error(format!("ERR {error}")),
    };
    let now_ms = shared.engine.clock().now_ms();
    let sendable: Vec<(DumpedKey, u64)> = dumped
        .into_iter()
        .filter_map(|key| match key.expire_at_ms {
            None => Some((key, 0)),
            // A deadline passed since the dump: the key is gone, not migrated.
            Some(at) if at < now_ms => None,
            Some(at) => Some((key, (at - now_ms).max(1))),
        })
        .collect();
    if sendable.is_empty() {
        return Reply::Simple("NOKEY".into());
    }
    let commands = encode_commands(&request, &sendable);
    let answers = match exchange_with_retry(shared, &request, &commands, sendable.len()).await {
        Ok(answers) => answers,
        Err(error) => return error.reply(),
    };
    if !request.copy && !answers.restored.is_empty() {
        let restored: Vec<DumpedKey> = answers
            .restored
            .iter()
            .filter_map(|&index| sendable.get(index).map(|(key, _)| key.clone()))
            .collect();
        shared.engine.remove_migrated(session, &restored);
    }
    if let Some(error) = answers.read_error {
        return error.reply();
    }
    match answers.first_error {
        Some(error) => Reply::Error(format!("ERR Target instance replied with error: {error}")),
        None => Reply::Ok,
    }
}

/// Runs the exchange on a cached connection or a new one; a cached one that failed before any
/// reply is replaced by a new one, once.
async fn exchange_with_retry(
    shared: &Shared,
    request: &MigrateRequest,
    commands: &Commands,
    key_count: usize,
) -> Result<Answers, SocketError> {
    let name = request.link_name();
    let mut cached = shared.migrate_links.take(&name);
    loop {
        let from_cache = cached.is_some();
        let mut link = match cached.take() {
            Some(link) => link,
            None => connect(shared, request).await?,
        };
        match exchange(&mut link, request, commands, key_count).await {
            Err(error) if from_cache && error.retryable() => continue,
            Err(error) => return Err(error),
            Ok(answers) => {
                if answers.read_error.is_none() {
                    shared.migrate_links.put(name, link);
                }
                return Ok(answers);
            }
        }
    }
}

async fn connect(shared: &Shared, request: &MigrateRequest) -> Result<Link, SocketError> {
    let port = request.port.ok_or(SocketError::Connect)?;
    let source = crate::exposure::source_address(&shared.config.read().bind_source_addr);
    let connecting = crate::exposure::connect(&request.host, port, source);
    let stream = match tokio::time::timeout(request.timeout, connecting).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(_)) | Err(_) => return Err(SocketError::Connect),
    };
    let _ = stream.set_nodelay(true);
    Ok(Link {
        stream,
        read_buffer: BytesMut::new(),
        db: None,
        last_use: Instant::now(),
    })
}

/// The pipelined commands of one exchange, in RESP, and which of them come first.
#[derive(Debug)]
struct Commands {
    auth: Vec<u8>,
    select: Vec<u8>,
    restores: Vec<u8>,
}

fn encode_commands(request: &MigrateRequest, keys: &[(DumpedKey, u64)]) -> Commands {
    let mut auth = Vec::new();
    match &request.auth {
        Some((Some(user), password)) => encode(&mut auth, &[b"AUTH", user, password]),
        Some((None, password)) => encode(&mut auth, &[b"AUTH", password]),
        None => {}
    }
    let mut select = Vec::new();
    encode(&mut select, &[b"SELECT", request.db.to_string().as_bytes()]);
    let name: &[u8] = if request.asking {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    let mut restores = Vec::new();
    for (key, ttl_ms) in keys {
        let ttl = ttl_ms.to_string();
        let mut words: Vec<&[u8]> = vec![name, &key.key, ttl.as_bytes(), &key.payload];
        if request.replace {
            words.push(b"REPLACE");
        }
        encode(&mut restores, &words);
    }
    Commands {
        auth,
        select,
        restores,
    }
}

/// Appends `words` as a RESP array of bulk strings.
fn encode(out: &mut Vec<u8>, words: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", words.len()).as_bytes());
    for word in words {
        out.extend_from_slice(format!("${}\r\n", word.len()).as_bytes());
        out.extend_from_slice(word);
        out.extend_from_slice(b"\r\n");
    }
}

/// Sends every command at once, then reads the replies: AUTH's, SELECT's (sent only when the
/// connection's database differs), then one per key. A key counts as restored when its reply
/// and AUTH's and SELECT's are all successes, as Redis counts it.
async fn exchange(
    link: &mut Link,
    request: &MigrateRequest,
    commands: &Commands,
    key_count: usize,
) -> Result<Answers, SocketError> {
    let select = link.db != Some(request.db);
    let mut out =
        Vec::with_capacity(commands.auth.len() + commands.select.len() + commands.restores.len());
    out.extend_from_slice(&commands.auth);
    if select {
        out.extend_from_slice(&commands.select);
    }
    out.extend_from_slice(&commands.restores);
    match tokio::time::timeout(request.timeout, link.stream.write_all(&out)).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return Err(SocketError::Write { timed_out: false }),
        Err(_) => return Err(SocketError::Write { timed_out: true }),
    }
    let mut answers = Answers::default();
    let mut setup_error = None;
    let setup = usize::from(!commands.auth.is_empty()) + usize::from(select);
    for index in 0..setup + key_count {
        let line = match read_line(link, request.timeout).await {
            Ok(line) => line,
            Err(timed_out) => {
                // `index` replies were read before this one.
                let error = SocketError::Read {
                    timed_out,
                    replies: index,
                };
                if index == 0 {
                    return Err(error);
                }
                answers.read_error = Some(error);
                break;
            }
        };
        let error = line
            .strip_prefix(b"-")
            .map(|text| String::from_utf8_lossy(text).into_owned());
        match (index.checked_sub(setup), error) {
            (None, error) => setup_error = setup_error.or(error),
            (Some(key), None) if setup_error.is_none() => answers.restored.push(key),
            (Some(_), error) => answers.first_error = answers.first_error.take().or(error),
        }
    }
    answers.first_error = setup_error.or(answers.first_error);
    link.db = if answers.first_error.is_none() && answers.read_error.is_none() {
        Some(request.db)
    } else {
        // After an error the target's database is not known any more.
        None
    };
    Ok(answers)
}

/// One reply line without its CRLF; `Err(timed_out)` when the socket failed, closed, timed
/// out or sent a line longer than [`REPLY_LINE_MAX`].
async fn read_line(link: &mut Link, timeout: Duration) -> Result<Vec<u8>, bool> {
    loop {
        if let Some(end) = link.read_buffer.windows(2).position(|w| w == b"\r\n") {
            let line = link.read_buffer.split_to(end + 2);
            return Ok(line[..end].to_vec());
        }
        if link.read_buffer.len() > REPLY_LINE_MAX {
            return Err(false);
        }
        link.read_buffer.reserve(4096);
        match tokio::time::timeout(timeout, link.stream.read_buf(&mut link.read_buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Err(false),
            Ok(Ok(_)) => {}
            Err(_) => return Err(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Bytes> {
        line.split(' ')
            .map(|word| Bytes::copy_from_slice(word.as_bytes()))
            .collect()
    }

    fn parse(line: &str) -> Result<MigrateRequest, String> {
        let mut args = words(line);
        if args.get(3).is_some_and(|key| key.as_ref() == b"''") {
            args[3] = Bytes::new();
        }
        MigrateRequest::parse(&args, false).map_err(|error| error.to_string())
    }

    #[test]
    fn options_parse_as_redis_does() {
        let request = parse("MIGRATE h 7000 k 3 0 COPY REPLACE AUTH2 u p").expect("valid");
        assert_eq!(request.port, Some(7000));
        assert_eq!(request.db, 3);
        assert_eq!(request.timeout, DEFAULT_TIMEOUT);
        assert!(request.copy && request.replace);
        assert_eq!(request.auth, Some((Some("u".into()), "p".into())));
        assert_eq!(request.keys, ["k"]);
        let keys = parse("MIGRATE h 1 '' 0 50 AUTH pw KEYS a b").expect("valid");
        assert_eq!(keys.keys, ["a", "b"]);
        assert_eq!(keys.timeout, Duration::from_millis(50));
        assert_eq!(keys.auth, Some((None, "pw".into())));
        assert_eq!(parse("MIGRATE h x k 0 5").expect("valid").port, None);
    }

    #[test]
    fn bad_options_get_redis_errors() {
        assert_eq!(
            parse("MIGRATE h 1 k 0 5 KEYS a").unwrap_err(),
            "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
        );
        assert_eq!(
            parse("MIGRATE h 1 k 0 5 AUTH").unwrap_err(),
            "ERR syntax error"
        );
        assert_eq!(
            parse("MIGRATE h 1 k 0 5 AUTH2 u").unwrap_err(),
            "ERR syntax error"
        );
        assert_eq!(
            parse("MIGRATE h 1 k 0 5 NOPE").unwrap_err(),
            "ERR syntax error"
        );
        assert_eq!(
            parse("MIGRATE h 1 k x 5").unwrap_err(),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            parse("MIGRATE h 1 k 0 x").unwrap_err(),
            "ERR value is not an integer or out of range"
        );
    }

    #[test]
    fn restores_carry_ttl_and_replace_and_ask_in_cluster_mode() {
        let mut request = parse("MIGRATE h 1 k 2 5 REPLACE AUTH pw").expect("valid");
        request.asking = true;
        let key = DumpedKey {
            key: "k".into(),
            payload: "P".into(),
            expire_at_ms: Some(10),
        };
        let commands = encode_commands(&request, &[(key, 1500)]);
        assert_eq!(commands.auth, b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n");
        assert_eq!(commands.select, b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n");
        assert_eq!(
            commands.restores,
            b"*5\r\n$14\r\nRESTORE-ASKING\r\n$1\r\nk\r\n$4\r\n1500\r\n$1\r\nP\r\n$7\r\nREPLACE\r\n"
        );
    }
}
