//! The sentinel's RESP server: SENTINEL, ROLE, INFO, PING, AUTH, PUBLISH of hello messages,
//! and SUBSCRIBE/PSUBSCRIBE to the events, as Redis Sentinel answers them.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use slotkv_engine::glob::glob_match;
use slotkv_engine::reply::Reply;
use slotkv_engine::CommandError;
use slotkv_sentinel::hello::HELLO_CHANNEL;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

use super::core::{ClientSlot, Shared};
use crate::resp::{encode_reply, ParseLimits, Protocol, RequestDecoder};

/// Largest unparsed input a client may leave buffered.
const QUERY_BYTES_MAX: usize = 1024 * 1024;

/// Accepts clients until shutdown; `tls` marks the TLS port, whose clients start with a
/// handshake.
pub async fn serve(shared: Arc<Shared>, listener: TcpListener, tls: bool) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, peer)) = accepted {
                    let _ = stream.set_nodelay(true);
                    if tls {
                        tokio::spawn(tls_client(shared.clone(), stream, peer));
                    } else {
                        tokio::spawn(client(shared.clone(), stream));
                    }
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// One client's state.
struct Client {
    /// Its place under `maxclients`.
    slot: ClientSlot,
    id: u64,
    protocol: Protocol,
    authenticated: bool,
    channels: BTreeSet<String>,
    patterns: BTreeSet<String>,
    events: Option<broadcast::Receiver<(String, String)>>,
}

impl Client {
    fn subscriptions(&self) -> i64 {
        i64::try_from(self.channels.len() + self.patterns.len()).unwrap_or(i64::MAX)
    }
}

impl Drop for Client {
    /// A client gone no longer counts as a subscriber.
    fn drop(&mut self) {
        let mut pubsub = self.slot.shared().pubsub.lock();
        for channel in &self.channels {
            pubsub.remove(false, channel);
        }
        for pattern in &self.patterns {
            pubsub.remove(true, pattern);
        }
    }
}

async fn tls_client(shared: Arc<Shared>, stream: TcpStream, peer: std::net::SocketAddr) {
    match shared.tls.accept(stream).await {
        Ok(tls) => client(shared, tls).await,
        Err(error) => tracing::debug!("Error accepting a client connection: {error} (addr={peer})"),
    }
}

/// Writes `out` and flushes it (a TLS session holds its last record until flushed).
async fn send<S: AsyncWrite + Unpin>(stream: &mut S, out: &[u8]) -> std::io::Result<()> {
    stream.write_all(out).await?;
    stream.flush().await
}

/// Serves one client, or refuses it when `maxclients` are connected already.
async fn client<S: AsyncRead + AsyncWrite + Unpin>(shared: Arc<Shared>, mut stream: S) {
    let Some(slot) = shared.admit() else {
        shared
            .stats
            .connections_rejected
            .fetch_add(1, Ordering::Relaxed);
        let _ = send(&mut stream, b"-ERR max number of clients reached\r\n").await;
        return;
    };
    shared
        .stats
        .connections_received
        .fetch_add(1, Ordering::Relaxed);
    let mut state = Client {
        slot,
        id: shared.next_client_id(),
        protocol: Protocol::Resp2,
        authenticated: shared.requirepass.is_none(),
        channels: BTreeSet::new(),
        patterns: BTreeSet::new(),
        events: None,
    };
    let mut input = BytesMut::with_capacity(4096);
    let mut decoder = RequestDecoder::default();
    let limits = ParseLimits::default();
    loop {
        let mut out = BytesMut::new();
        let read = match state.events.as_mut() {
            Some(events) => tokio::select! {
                read = stream.read_buf(&mut input) => read,
                event = events.recv() => {
                    if let Ok((channel, message)) = event {
                        push_event(&state, &channel, &message, &mut out);
                    }
                    if !out.is_empty() && send(&mut stream, &out).await.is_err() {
                        return;
                    }
                    continue;
                }
            },
            None => stream.read_buf(&mut input).await,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        loop {
            match decoder.decode(&mut input, &limits) {
                Ok(Some(args)) if args.is_empty() => {}
                Ok(Some(args)) => {
                    let quit = execute(&shared, &mut state, &args, &mut out);
                    if quit {
                        let _ = send(&mut stream, &out).await;
                        return;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    encode_reply(
                        &Reply::Error(format!("ERR {error}")),
                        state.protocol,
                        &mut out,
                    );
                    let _ = send(&mut stream, &out).await;
                    return;
                }
            }
        }
        if input.len() > QUERY_BYTES_MAX {
            return;
        }
        if !out.is_empty() && send(&mut stream, &out).await.is_err() {
            return;
        }
        shared.exit_if_crash_due();
    }
}

/// Sends a published event to a client subscribed to its channel or a matching pattern.
fn push_event(state: &Client, channel: &str, message: &str, out: &mut BytesMut) {
    let bulk = |text: &str| Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()));
    if state.channels.contains(channel) {
        let reply = Reply::Push(vec![bulk("message"), bulk(channel), bulk(message)]);
        encode_reply(&reply, state.protocol, out);
    }
    for pattern in &state.patterns {
        if glob_match(pattern.as_bytes(), channel.as_bytes(), false) {
            let reply = Reply::Push(vec![
                bulk("pmessage"),
                bulk(pattern),
                bulk(channel),
                bulk(message),
            ]);
            encode_reply(&reply, state.protocol, out);
        }
    }
}

/// Runs one command; returns whether the connection should close after the reply.
fn execute(shared: &Arc<Shared>, state: &mut Client, args: &[Bytes], out: &mut BytesMut) -> bool {
    let words: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let Some((first, rest)) = words.split_first() else {
        return false;
    };
    let name = first.to_ascii_lowercase();
    let reply = if !state.authenticated && !matches!(name.as_str(), "auth" | "quit" | "hello") {
        Reply::Error("NOAUTH Authentication required.".into())
    } else if state.events.is_some()
        && state.protocol == Protocol::Resp2
        && !matches!(
            name.as_str(),
            "subscribe" | "psubscribe" | "unsubscribe" | "punsubscribe" | "ping" | "quit" | "reset"
        )
    {
        Reply::Error(format!(
            "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        ))
    } else {
        let quit = run_allowed(shared, state, &name, first, rest, out);
        // Counted once run, as Redis counts (INFO does not count itself).
        shared
            .stats
            .commands_processed
            .fetch_add(1, Ordering::Relaxed);
        return quit;
    };
    encode_reply(&reply, state.protocol, out);
    false
}

/// Runs a command the client may run (`name` in lower case, `typed` as sent); returns whether
/// the connection should close after the reply.
fn run_allowed(
    shared: &Arc<Shared>,
    state: &mut Client,
    name: &str,
    typed: &str,
    rest: &[String],
    out: &mut BytesMut,
) -> bool {
    match name {
        "quit" => {
            encode_reply(&Reply::Ok, state.protocol, out);
            true
        }
        "subscribe" | "psubscribe" | "unsubscribe" | "punsubscribe" => {
            subscribe(shared, state, name, rest, out);
            false
        }
        _ => {
            let reply = command(shared, state, typed, rest);
            encode_reply(&reply, state.protocol, out);
            false
        }
    }
}

/// `typed` is the command name as the client sent it (for error texts).
fn command(shared: &Arc<Shared>, state: &mut Client, typed: &str, args: &[String]) -> Reply {
    let lowered = typed.to_ascii_lowercase();
    let name = lowered.as_str();
    match (name, args) {
        ("ping", []) if state.events.is_some() => {
            Reply::Array(vec![Reply::bulk(b"pong"), Reply::bulk(b"")])
        }
        ("ping", []) => Reply::Simple("PONG".into()),
        ("hello", _) => hello(shared, state, args),
        ("ping", [message]) => Reply::bulk(message.as_bytes()),
        ("auth", [password]) | ("auth", [_, password]) => match &shared.requirepass {
            None => Reply::Error(
                "ERR AUTH <password> called without any password configured for the default user. \
                 Are you sure your configuration is correct?"
                    .into(),
            ),
            Some(expected) if expected == password => {
                state.authenticated = true;
                Reply::Ok
            }
            Some(_) => {
                Reply::Error("WRONGPASS invalid username-password pair or user is disabled.".into())
            }
        },
        ("sentinel", _) => to_reply(sentinel(shared, args)),
        ("role", []) => to_reply(shared.with(|core, _| core.machine.role())),
        ("info", _) => super::info::reply(shared, args),
        ("publish", [channel, message]) => {
            if channel != HELLO_CHANNEL {
                return Reply::Error(
                    "ERR Only HELLO messages are accepted by Sentinel instances.".into(),
                );
            }
            shared.with(|core, now| core.machine.on_hello(now, message));
            Reply::Integer(1)
        }
        ("client", [sub, ..])
            if matches!(sub.to_ascii_lowercase().as_str(), "setname" | "setinfo") =>
        {
            Reply::Ok
        }
        ("command", _) => Reply::Array(Vec::new()),
        ("shutdown", _) => {
            let _ = shared.shutdown.send(true);
            Reply::Ok
        }
        ("ping" | "auth" | "role" | "publish", _) => Reply::Error(format!(
            "ERR wrong number of arguments for '{name}' command"
        )),
        _ => {
            let raw: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.clone())).collect();
            Reply::Error(CommandError::unknown_command(typed.as_bytes(), &raw).to_string())
        }
    }
}

/// SENTINEL: a hostname SENTINEL MONITOR names is looked up first, outside the machine's
/// lock (a slow DNS answer must hold neither the timer nor the links), then the machine
/// decides with the answer.
fn sentinel(shared: &Arc<Shared>, args: &[String]) -> slotkv_sentinel::Reply {
    let host = shared.with(|core, _| core.machine.host_to_resolve(args).map(str::to_owned));
    let found = host.as_deref().and_then(lookup_in_place);
    let resolve = |name: &str| found.filter(|_| host.as_deref() == Some(name));
    shared.with(|core, now| core.machine.sentinel_command_resolving(now, args, &resolve))
}

/// [`super::lookup`] from a worker of the sentinel's multi-thread runtime, which hands its
/// other tasks to another worker meanwhile (elsewhere, where that cannot be done, the
/// lookup simply blocks: `block_in_place` would panic).
fn lookup_in_place(host: &str) -> Option<std::net::IpAddr> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let multi_thread =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if multi_thread {
        tokio::task::block_in_place(|| super::lookup(host))
    } else {
        super::lookup(host)
    }
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`: switches RESP2/RESP3, as Redis.
fn hello(shared: &Arc<Shared>, state: &mut Client, args: &[String]) -> Reply {
    let protocol = match args.first().map(String::as_str) {
        None => state.protocol,
        Some("2") => Protocol::Resp2,
        Some("3") => Protocol::Resp3,
        Some(_) => return Reply::Error("NOPROTO unsupported protocol version".into()),
    };
    let mut rest = args.get(1..).unwrap_or_default();
    let mut password = None;
    while let Some((option, more)) = rest.split_first() {
        match (option.to_ascii_lowercase().as_str(), more) {
            ("auth", [_, pass, tail @ ..]) => {
                password = Some(pass.clone());
                rest = tail;
            }
            ("setname", [_, tail @ ..]) => rest = tail,
            _ => return Reply::Error(format!("ERR Syntax error in HELLO option '{option}'")),
        }
    }
    if let Some(password) = password {
        if shared.requirepass.as_deref() != Some(password.as_str()) {
            return Reply::Error(
                "WRONGPASS invalid username-password pair or user is disabled.".into(),
            );
        }
        state.authenticated = true;
    }
    if !state.authenticated {
        return Reply::Error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time"
                .into(),
        );
    }
    state.protocol = protocol;
    let bulk = |text: &str| Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()));
    let number = if protocol == Protocol::Resp3 { 3 } else { 2 };
    Reply::Map(vec![
        (bulk("server"), bulk("redis")),
        (bulk("version"), bulk(crate::REDIS_VERSION)),
        (bulk("proto"), Reply::Integer(number)),
        (
            bulk("id"),
            Reply::Integer(i64::try_from(state.id).unwrap_or(i64::MAX)),
        ),
        (bulk("mode"), bulk("sentinel")),
        (bulk("modules"), Reply::Array(Vec::new())),
    ])
}

fn subscribe(
    shared: &Arc<Shared>,
    state: &mut Client,
    name: &str,
    targets: &[String],
    out: &mut BytesMut,
) {
    let patterns = name.starts_with('p');
    let adding = !name.contains("unsubscribe");
    if adding && targets.is_empty() {
        let reply = Reply::Error(format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
        encode_reply(&reply, state.protocol, out);
        return;
    }
    let set = if patterns {
        &mut state.patterns
    } else {
        &mut state.channels
    };
    let targets: Vec<String> = if !adding && targets.is_empty() {
        set.iter().cloned().collect()
    } else {
        targets.to_vec()
    };
    for target in &targets {
        let set = if patterns {
            &mut state.patterns
        } else {
            &mut state.channels
        };
        let changed = if adding {
            set.insert(target.clone())
        } else {
            set.remove(target)
        };
        if changed {
            let mut pubsub = shared.pubsub.lock();
            if adding {
                pubsub.add(patterns, target);
            } else {
                pubsub.remove(patterns, target);
            }
        }
        let count = state.subscriptions();
        let reply = Reply::Push(vec![
            Reply::bulk(name.as_bytes()),
            Reply::bulk(target.as_bytes()),
            Reply::Integer(count),
        ]);
        encode_reply(&reply, state.protocol, out);
    }
    if targets.is_empty() {
        let reply = Reply::Push(vec![
            Reply::bulk(name.as_bytes()),
            Reply::Nil,
            Reply::Integer(0),
        ]);
        encode_reply(&reply, state.protocol, out);
    }
    if state.subscriptions() > 0 {
        if state.events.is_none() {
            state.events = Some(shared.events.subscribe());
        }
    } else {
        state.events = None;
    }
}

/// A state-machine reply in the server's reply type.
fn to_reply(reply: slotkv_sentinel::Reply) -> Reply {
    use slotkv_sentinel::Reply as S;
    match reply {
        S::Ok => Reply::Ok,
        S::Simple(text) => Reply::Simple(text),
        S::Error(text) => Reply::Error(text),
        S::Integer(n) => Reply::Integer(n),
        S::Bulk(text) => Reply::Bulk(Bytes::from(text)),
        S::Nil => Reply::Nil,
        S::NilArray => Reply::NilArray,
        S::Array(items) => Reply::Array(items.into_iter().map(to_reply).collect()),
        S::Map(pairs) => Reply::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (Reply::Bulk(Bytes::from(k)), to_reply(v)))
                .collect(),
        ),
    }
}
