//! One client connection: read, parse every complete request in the buffer, run each, and send
//! all replies in one write (pipelining). Limits: the query buffer is capped
//! (`client-query-buffer-limit`), bulk lengths are capped by the parser (`proto-max-bulk-len`,
//! and Redis's tighter limits before AUTH), unread replies are capped by the client's class of
//! `client-output-buffer-limit` (and, without one, by waiting for the socket once a flush's
//! worth is pending), idle clients are closed after `timeout` seconds, and a protocol error
//! closes the connection after its error reply.
//!
//! A blocking command (BLPOP, ...) waits here, on its wake-ups, its timeout, CLIENT KILL and
//! the socket; published messages for a subscriber are written here between requests.

use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use slotkv_engine::command::{CommandSpec, CommandTable, Flags, Handler, LastCommand};
use slotkv_engine::engine::Exclusive;
use slotkv_engine::watch::WatchSet;
use slotkv_engine::{Reply, Session};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::acl::{self, log::Context};
use crate::blocking::{self, BlockRequest, Tried};
use crate::clients::{ClientInfo, Unblock};
use crate::config::OutputLimit;
use crate::pubsub::{self, SubscriberState};
use crate::resp::{encode_reply, ParseLimits, Protocol, RequestDecoder};
use crate::server::Shared;
use crate::transaction::{self, TransactionState};

/// Bytes reserved in the read buffer before each read, and in the reply buffer for a batch's
/// first reply. Both buffers are released once a batch is answered, so an idle connection
/// holds neither.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// A batch's replies shorter than this are written after the other ready connections have
/// run (see [`Connection::run`]).
const YIELD_BEFORE_WRITE_BYTES_MAX: usize = 2 * 1024;
/// The reply buffer is written out as soon as it holds this much, so a long pipeline of large
/// replies never accumulates unbounded memory before the first write.
const REPLY_FLUSH_BYTES: usize = 256 * 1024;

/// Pipelined commands run at one reading of the clock, as many as this: the clock costs
/// as much as a small command's parsing, and all of them had arrived when it was read.
const PINNED_TIME_COMMANDS_MAX: u32 = 32;

/// What a command asks of the connection beyond its reply.
#[derive(Debug)]
pub enum Outcome {
    /// Send the reply and carry on.
    Reply(Reply),
    /// Send several replies and carry on ((un)subscribe confirms each name).
    Many(Vec<Reply>),
    /// Wait for data, then reply (BLPOP and the other blocking commands). The rare, large
    /// requests are boxed, so the common outcome, a reply, moves as a small value.
    Block(Box<BlockRequest>),
    /// Send the reply, then close (QUIT).
    Close(Reply),
    /// Wait, then reply +OK (DEBUG SLEEP).
    Sleep(Duration),
    /// Stop the server; this connection closes without a reply (SHUTDOWN).
    Shutdown,
    /// PSYNC / SYNC: the connection becomes a replica's (see [`crate::replication::primary`]).
    Replicate(Box<crate::replication::primary::SyncRequest>),
    /// WAIT: reply with the count of replicas that acknowledged, after up to `timeout`.
    Wait {
        wanted: usize,
        timeout: Option<Duration>,
    },
    /// MIGRATE: move keys to another server, then reply (see [`crate::migrate`]).
    Migrate(Box<crate::migrate::MigrateRequest>),
}

/// The per-connection state commands may change.
#[derive(Debug)]
pub struct ClientState {
    pub session: Session,
    pub protocol: Protocol,
    pub authenticated: bool,
    /// The user the connection runs as (the default user until AUTH).
    pub user: Arc<crate::acl::UserSlot>,
    pub info: Arc<ClientInfo>,
    pub transaction: TransactionState,
    /// Subscriptions and mailbox, made at the first SUBSCRIBE.
    pub pubsub: Option<SubscriberState>,
    /// Whether the command running is one of an EXEC's (which holds every other command off).
    pub in_exec: bool,
    /// What a replica said with REPLCONF before its PSYNC.
    pub replica_hello: crate::replication::primary::ReplicaHello,
    /// Cluster flags (READONLY, ASKING) and the routing last read.
    pub cluster: crate::cluster::ClusterClient,
    /// The connection came in on the TLS port (redirections then name TLS ports).
    pub tls: bool,
    /// The propagation stream's offset just past this client's last write (0: none yet):
    /// what its WAIT waits for the replicas to acknowledge.
    pub write_offset: u64,
}

/// What a connection reads and writes: a plain TCP socket or a TLS session over one. The
/// connection code is generic over it, so each kind is compiled on its own and the plain path
/// pays nothing for TLS.
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Waits until a read may find bytes, so that an idle connection waits without a read
    /// buffer. A stream that may hold bytes of its own (TLS) says so at once.
    fn readable(&self) -> impl Future<Output = std::io::Result<()>> + Send;
}

impl ClientStream for TcpStream {
    fn readable(&self) -> impl Future<Output = std::io::Result<()>> + Send {
        TcpStream::readable(self)
    }
}

impl ClientStream for tokio_rustls::server::TlsStream<TcpStream> {
    fn readable(&self) -> impl Future<Output = std::io::Result<()>> + Send {
        std::future::ready(Ok(()))
    }
}

/// Serves one accepted plain TCP connection until it closes.
pub async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let local = stream.local_addr().unwrap_or(peer);
    let socket = stream.as_fd().try_clone_to_owned().ok();
    serve_stream(
        shared,
        stream,
        Accepted {
            peer,
            local,
            socket,
            tls: false,
        },
    )
    .await;
}

/// Serves one connection accepted on the TLS port: the handshake, then the same loop as a plain
/// connection over the TLS session.
pub async fn serve_tls(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let local = stream.local_addr().unwrap_or(peer);
    let socket = stream.as_fd().try_clone_to_owned().ok();
    let max_clients = shared.config.read().maxclients;
    let Some(handshake) = shared.clients.start_handshake(max_clients) else {
        // No room even for the handshake: closed at once, as Redis closes a connection past
        // maxclients (the error line could not be read before a handshake anyway).
        shared.stats.connections_rejected.add(1);
        return;
    };
    let accepted = shared.tls.accept(stream).await;
    drop(handshake);
    match accepted {
        Ok(tls) => {
            serve_stream(
                shared,
                tls,
                Accepted {
                    peer,
                    local,
                    socket,
                    tls: true,
                },
            )
            .await
        }
        Err(error) => tracing::debug!("Error accepting a client connection: {error} (addr={peer})"),
    }
}

/// Where an accepted connection comes from.
#[derive(Debug)]
struct Accepted {
    peer: SocketAddr,
    local: SocketAddr,
    /// A duplicate of the socket, so CLIENT KILL can shut it down.
    socket: Option<std::os::fd::OwnedFd>,
    /// Accepted on the TLS port.
    tls: bool,
}

async fn serve_stream<S: ClientStream>(shared: Arc<Shared>, mut stream: S, accepted: Accepted) {
    let Accepted {
        peer,
        local,
        socket,
        tls,
    } = accepted;
    let max_clients = shared.config.read().maxclients;
    let Some(registration) = shared.clients.register(peer, local, socket, max_clients) else {
        shared.stats.connections_rejected.add(1);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        let _ = stream.flush().await;
        return;
    };
    let authenticated = shared.acl.new_connections_authenticated();
    let mut connection = Connection {
        shared: shared.clone(),
        stream,
        read_buffer: BytesMut::new(),
        decoder: RequestDecoder::default(),
        resolved_last: LastCommand::default(),
        reply_buffer: BytesMut::new(),
        limits: CachedLimits::load(&shared),
        state: ClientState {
            session: Session::new(),
            protocol: Protocol::Resp2,
            authenticated,
            user: shared.acl.default_user(),
            info: registration.info.clone(),
            transaction: TransactionState::default(),
            pubsub: None,
            in_exec: false,
            replica_hello: Default::default(),
            cluster: Default::default(),
            tls,
            write_offset: 0,
        },
    };
    if let Err(error) = connection.run().await {
        tracing::debug!("client {peer} closed: {error}");
    }
    shared
        .engine
        .unwatch(&mut connection.state.transaction.watched);
    if let Some(pubsub) = connection.state.pubsub.as_mut() {
        pubsub.leave(&shared.pubsub);
    }
}

#[derive(Debug)]
struct Connection<S> {
    shared: Arc<Shared>,
    stream: S,
    read_buffer: BytesMut,
    /// Remembers how far a partial request was validated, so a large request arriving in many
    /// reads is scanned once.
    decoder: RequestDecoder,
    /// Spares the command-table lookup in a pipeline that repeats one command.
    resolved_last: LastCommand,
    reply_buffer: BytesMut,
    limits: CachedLimits,
    state: ClientState,
}

/// The settings a connection checks on every read, copied out of the live configuration and
/// refreshed only when CONFIG SET changed something: the hot path takes no lock.
#[derive(Debug, Clone, Copy)]
struct Limits {
    parse: ParseLimits,
    query_buffer_bytes_max: u64,
    timeout_secs: u64,
    normal_output: OutputLimit,
    pubsub_output: OutputLimit,
}

#[derive(Debug)]
struct CachedLimits {
    generation: u64,
    limits: Limits,
}

impl CachedLimits {
    fn load(shared: &Shared) -> CachedLimits {
        let generation = shared.config.generation();
        let settings = shared.config.read();
        let limits = Limits {
            parse: ParseLimits {
                bulk_len_max: settings.proto_max_bulk_len,
                ..ParseLimits::default()
            },
            query_buffer_bytes_max: settings.client_query_buffer_limit,
            timeout_secs: settings.timeout_secs,
            normal_output: settings.normal_output,
            pubsub_output: settings.pubsub_output,
        };
        CachedLimits { generation, limits }
    }

    fn current(&mut self, shared: &Shared) -> Limits {
        if shared.config.generation() != self.generation {
            *self = CachedLimits::load(shared);
        }
        self.limits
    }
}

/// What ended a wait for input.
#[derive(Debug)]
enum Wake {
    Read(usize),
    Message(Reply),
    Idle,
}

/// Whether to keep the connection after a batch.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Continue,
    Close,
}

/// Runs a resolved, authorised command; `exclusive` is EXEC's hold on the engine when the
/// command runs inside a transaction.
pub fn run_command(
    shared: &Shared,
    state: &mut ClientState,
    spec: &'static CommandSpec,
    args: &[Bytes],
    exclusive: Option<&Exclusive<'_>>,
) -> Outcome {
    if let Some(refusal) = shared.aof.refusal(spec) {
        return Outcome::Reply(refusal);
    }
    if shared.cluster.is_some() {
        if let Some(refusal) = crate::cluster::cluster_mode_refusal(spec, args) {
            return Outcome::Reply(refusal);
        }
    }
    match spec.handler {
        Handler::Engine(_) => Outcome::Reply(match exclusive {
            Some(exclusive) => exclusive.execute_spec(&mut state.session, spec, args),
            None => shared.engine.execute_spec(&mut state.session, spec, args),
        }),
        Handler::Server => {
            // CLIENT LIST/INFO show the running command as this client's `cmd`.
            state.info.touch(spec.name);
            crate::server_commands::run(shared, state, spec, args)
        }
        Handler::Container => Outcome::Reply(Reply::Error(format!(
            "ERR '{}' needs a subcommand",
            spec.name
        ))),
    }
}

/// Runs a command a blocked client retries and takes its reply.
fn run_to_reply(
    shared: &Shared,
    state: &mut ClientState,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> Reply {
    match run_command(shared, state, spec, args, None) {
        Outcome::Reply(reply) => reply,
        other => Reply::Error(format!(
            "ERR unexpected outcome of {}: {other:?}",
            spec.name
        )),
    }
}

impl<S: ClientStream> Connection<S> {
    async fn run(&mut self) -> std::io::Result<()> {
        loop {
            let next = self.process_buffered().await?;
            if (1..YIELD_BEFORE_WRITE_BYTES_MAX).contains(&self.reply_buffer.len()) {
                // Small replies wait for those of the other ready clients, so a client
                // gets them in fewer wake-ups; large ones go at once, so the client starts
                // reading them while this thread serves the others.
                tokio::task::yield_now().await;
            }
            self.flush().await?;
            if next == Next::Close {
                return Ok(());
            }
            if !self.read_more().await? {
                return Ok(());
            }
        }
    }

    /// Reads more bytes; false when the connection should close (EOF, killed, idle, limit).
    async fn read_more(&mut self) -> std::io::Result<bool> {
        let limits = self.limits.current(&self.shared);
        if self.read_buffer.len() as u64 >= limits.query_buffer_bytes_max {
            tracing::warn!(
                "closing client that reached max query buffer length: {}",
                self.state.info.describe()
            );
            return Ok(false);
        }
        // Subscribers are exempt from the idle timeout, as in Redis: they wait by design.
        let subscribed = self
            .state
            .pubsub
            .as_ref()
            .is_some_and(SubscriberState::is_subscribed);
        let timeout_secs = if subscribed { 0 } else { limits.timeout_secs };
        if self.read_buffer.is_empty() {
            self.read_buffer = BytesMut::new();
        }
        if self.state.info.is_killed() {
            return Ok(false);
        }
        let bytes_read = if timeout_secs == 0 && self.state.pubsub.is_none() {
            // The common case: nothing to wait for but the socket.
            read_some(&mut self.stream, &mut self.read_buffer).await?
        } else {
            match self.read_or_message(timeout_secs).await? {
                Wake::Read(bytes_read) => bytes_read,
                Wake::Message(message) => {
                    self.deliver_messages(message);
                    return Ok(true);
                }
                Wake::Idle => return Ok(false),
            }
        };
        self.shared.stats.net_input_bytes.add(bytes_read as i64);
        self.state
            .info
            .query_buffer_bytes
            .store(self.read_buffer.len(), Ordering::Relaxed);
        Ok(bytes_read > 0)
    }

    /// Waits for bytes, a published message or the idle timeout (0 = none).
    async fn read_or_message(&mut self, timeout_secs: u64) -> std::io::Result<Wake> {
        let read = read_some(&mut self.stream, &mut self.read_buffer);
        let idle_limit = async {
            match timeout_secs {
                0 => std::future::pending().await,
                secs => tokio::time::sleep(Duration::from_secs(secs)).await,
            }
        };
        let message = async {
            match self.state.pubsub.as_mut() {
                Some(pubsub) => pubsub.next_message().await,
                None => std::future::pending().await,
            }
        };
        Ok(tokio::select! {
            read = read => Wake::Read(read?),
            Some(message) = message => Wake::Message(message),
            () = idle_limit => Wake::Idle,
        })
    }

    /// Runs one round of a blocking command's non-blocking attempts.
    fn try_request(&mut self, request: &BlockRequest) -> Tried {
        let shared = self.shared.clone();
        request.try_once(|args| match CommandTable::global().resolve(args) {
            Ok(spec) => run_to_reply(&shared, &mut self.state, spec, args),
            Err(error) => error.into(),
        })
    }

    /// Checks a blocked command again before a retry: the user's rules may have changed while
    /// it waited, and Redis then refuses it.
    fn still_permitted(&self, request: &BlockRequest) -> Result<(), Reply> {
        if self.state.user.is_unrestricted() {
            return Ok(());
        }
        let spec = CommandTable::global()
            .resolve(&request.command)
            .map_err(Reply::from)?;
        acl::command::gate(
            &self.shared,
            &self.state,
            spec,
            &request.command,
            Context::Toplevel,
        )
    }

    /// Serves a blocking command: at once if there is data, else after waiting for it (see
    /// [`crate::blocking`]). `None` means the connection must close (killed, or gone).
    async fn block(&mut self, request: BlockRequest) -> std::io::Result<Option<Reply>> {
        if let Tried::Done(reply) = self.try_request(&request) {
            return Ok(Some(reply));
        }
        let shared = self.shared.clone();
        let info = self.state.info.clone();
        let db = self.state.session.db();
        let waker = info.clone();
        let mut watch = WatchSet::with_wake_up(Box::new(move || waker.wake_signal.notify_one()));
        for key in &request.keys {
            shared.engine.watch(&mut watch, db, key);
        }
        shared.blocked.enqueue(db, &request.keys, &info);
        info.set_blocked(true);
        let outcome = self.wait_for_data(&request, &watch, db).await;
        shared.blocked.leave(db, &request.keys, info.id);
        shared.engine.unwatch(&mut watch);
        info.set_blocked(false);
        outcome
    }

    async fn wait_for_data(
        &mut self,
        request: &BlockRequest,
        watch: &WatchSet,
        db: usize,
    ) -> std::io::Result<Option<Reply>> {
        // Replies of earlier pipelined commands go out before the wait.
        self.flush().await?;
        let info = self.state.info.clone();
        let deadline = blocking::deadline(request.timeout);
        let shared = self.shared.clone();
        let cluster = shared.cluster.as_ref();
        let mut routing_seen = cluster.map(crate::cluster::ClusterView::generation);
        loop {
            // What a blocked client sends meanwhile is kept for after the wait, within its
            // query buffer limit.
            let limits = self.limits.current(&self.shared);
            if self.read_buffer.len() as u64 >= limits.query_buffer_bytes_max {
                return Ok(None);
            }
            self.read_buffer.reserve(READ_CHUNK_BYTES);
            let timeout = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            let routing_changed = async {
                match cluster {
                    Some(view) => view.changed().await,
                    None => std::future::pending().await,
                }
            };
            // A change that came between two waits is caught here.
            if let Some(view) = cluster.filter(|view| Some(view.generation()) != routing_seen) {
                routing_seen = Some(view.generation());
                if let Some(refused) =
                    crate::cluster::blocked_refusal(view, &request.keys, self.state.tls)
                {
                    return Ok(Some(refused));
                }
                continue;
            }
            tokio::select! {
                () = info.wake_signal.notified() => {}
                () = routing_changed => continue,
                () = timeout => return Ok(Some(request.timeout_reply.clone())),
                () = info.killed() => return Ok(None),
                read = self.stream.read_buf(&mut self.read_buffer) => {
                    if read? == 0 {
                        return Ok(None);
                    }
                }
            }
            if let Some(how) = info.unblock_requested() {
                return Ok(Some(match how {
                    Unblock::Timeout => request.timeout_reply.clone(),
                    Unblock::Error => {
                        Reply::Error("UNBLOCKED client unblocked via CLIENT UNBLOCK".into())
                    }
                }));
            }
            if !self
                .shared
                .blocked
                .is_first_for_any(db, &request.keys, info.id)
            {
                continue;
            }
            watch.clear();
            if let Err(denied) = self.still_permitted(request) {
                return Ok(Some(denied));
            }
            if let Tried::Done(reply) = self.try_request(request) {
                return Ok(Some(reply));
            }
        }
    }

    /// Appends a published message and every other one already waiting (up to a batch).
    fn deliver_messages(&mut self, first: Reply) {
        const BATCH_MAX: usize = 1024;
        self.push_reply(&first);
        for _ in 1..BATCH_MAX {
            let Some(message) = self
                .state
                .pubsub
                .as_mut()
                .and_then(SubscriberState::try_next_message)
            else {
                break;
            };
            self.push_reply(&message);
        }
    }

    /// Runs every complete request in the read buffer, appending replies.
    async fn process_buffered(&mut self) -> std::io::Result<Next> {
        let mut commands = 0i64;
        let mut last_command = None;
        // One vector for the batch's requests, each decoded into it in turn.
        let mut args = Vec::new();
        // How many more commands run at the time last pinned; 0 reads the clock again.
        let mut pinned_left = 0;
        let next = loop {
            // Looked at per request: an AUTH lifts the limits for the very next one.
            let limits = self.parse_limits();
            match self
                .decoder
                .decode_into(&mut self.read_buffer, &limits, &mut args)
            {
                Ok(true) if args.is_empty() => continue,
                Ok(true) => {}
                Ok(false) => break Next::Continue,
                Err(error) => {
                    self.push_reply(&Reply::Error(format!("ERR {error}")));
                    break Next::Close;
                }
            };
            commands += 1;
            if self.shared.replication.writes_paused() && self.pausable(&args) {
                // A FAILOVER holds writes back until the roles have switched.
                self.flush().await?;
                let (shared, info) = (self.shared.clone(), self.state.info.clone());
                tokio::select! {
                    () = shared.replication.until_unpaused() => {}
                    () = info.killed() => break Next::Close,
                }
            }
            if pinned_left == 0 {
                let now_ms = self.shared.engine.clock().now_ms();
                self.state.session.pin_time(now_ms);
                pinned_left = PINNED_TIME_COMMANDS_MAX;
            }
            pinned_left -= 1;
            let (outcome, name) = self.dispatch(&args);
            last_command = name.or(last_command);
            match outcome {
                // The common case, without building the future of `apply`.
                Outcome::Reply(reply) => self.push_reply(&reply),
                other => {
                    // It may wait (a blocking pop, WAIT, DEBUG SLEEP): the clock moves on.
                    self.state.session.unpin_time();
                    pinned_left = 0;
                    let next = self.apply(other).await?;
                    // A blocked pop that was served wrote after dispatch.
                    self.note_emitted();
                    if next == Next::Close {
                        break Next::Close;
                    }
                }
            }
            if self.reply_buffer.len() >= REPLY_FLUSH_BYTES {
                self.flush_or_go_on().await?;
                pinned_left = 0;
            }
        };
        self.state.session.unpin_time();
        if commands > 0 {
            self.shared.stats.commands_processed.add(commands);
            self.state.info.touch(last_command.unwrap_or("NULL"));
            self.state
                .info
                .db
                .store(self.state.session.db(), Ordering::Relaxed);
        }
        Ok(next)
    }

    /// The framing limits for the next request: tighter before authentication, as Redis.
    fn parse_limits(&mut self) -> ParseLimits {
        let limits = self.limits.current(&self.shared).parse;
        if self.state.authenticated {
            limits
        } else {
            limits.unauthenticated()
        }
    }

    /// Whether a write pause (FAILOVER) holds this request back, as CLIENT PAUSE WRITE
    /// would: writes, PUBLISH, and EXEC; commands queued in a MULTI wait for their EXEC.
    fn pausable(&self, args: &[Bytes]) -> bool {
        let Ok(spec) = CommandTable::global().resolve(args) else {
            return false;
        };
        if spec.name == "exec" {
            return true;
        }
        let queuing = self.state.info.multi_queued.load(Ordering::Relaxed) >= 0;
        !queuing
            && (spec.flags.contains(Flags::WRITE)
                || spec.name == "publish"
                || spec.name == "spublish")
    }

    /// Resolves and runs one command; returns what to do and the command's name.
    fn dispatch(&mut self, args: &[Bytes]) -> (Outcome, Option<&'static str>) {
        let (outcome, name) = self.dispatch_checked(args);
        self.note_emitted();
        let in_transaction = self.state.transaction.multi.is_some();
        self.state.cluster.after_command(name, in_transaction);
        (outcome, name)
    }

    /// Remembers where the stream ends after what this client's command wrote, if it wrote.
    /// Read after an await, the thread's note may be older (another task's, such as the
    /// expiry cycle's): the larger offset is kept, so the note never goes back.
    fn note_emitted(&mut self) {
        if let Some(end) = slotkv_engine::propagate::take_emitted_end() {
            self.state.write_offset = self.state.write_offset.max(end);
        }
    }

    fn dispatch_checked(&mut self, args: &[Bytes]) -> (Outcome, Option<&'static str>) {
        // rename-command: the command table only knows the commands' own names.
        let renamed = match self.shared.command_names.translate(args) {
            Ok(renamed) => renamed,
            Err(error) => {
                self.state.transaction.flag_error();
                return (Outcome::Reply(error.into()), None);
            }
        };
        let args = renamed.as_deref().unwrap_or(args);
        let spec = match CommandTable::global().resolve_after(args, &mut self.resolved_last) {
            Ok(spec) => spec,
            Err(error) => {
                self.state.transaction.flag_error();
                return (Outcome::Reply(error.into()), None);
            }
        };
        if spec.name == "debug" && !crate::exposure::debug_allowed(&self.shared, &self.state) {
            self.state.transaction.flag_error();
            let refused = crate::exposure::debug_refused().into();
            return (Outcome::Reply(refused), Some(spec.name));
        }
        if !self.state.authenticated && !spec.flags.contains(Flags::NO_AUTH) {
            self.state.transaction.flag_error();
            let noauth = Reply::Error("NOAUTH Authentication required.".into());
            return (Outcome::Reply(noauth), Some(spec.name));
        }
        if !self.state.user.is_unrestricted() {
            let context = match self.state.transaction.multi {
                Some(_) => Context::Multi,
                None => Context::Toplevel,
            };
            if let Err(denied) = acl::command::gate(&self.shared, &self.state, spec, args, context)
            {
                self.state.transaction.flag_error();
                return (Outcome::Reply(denied), Some(spec.name));
            }
        }
        if let Some(view) = &self.shared.cluster {
            if let Some(refused) =
                crate::cluster::check(&self.shared, view, &mut self.state, spec, args)
            {
                if spec.name == "exec" {
                    // As Redis: a transaction that cannot run here is discarded.
                    let _ = transaction::discard(&self.shared, &mut self.state);
                } else {
                    self.state.transaction.flag_error();
                }
                return (Outcome::Reply(refused), Some(spec.name));
            }
        }
        if !pubsub::allowed_while_subscribed(&self.state, spec.name) {
            self.state.transaction.flag_error();
            let refused = format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            );
            return (Outcome::Reply(Reply::Error(refused)), Some(spec.name));
        }
        if let Some(refused) = self.shared.replication.refusal(spec) {
            self.state.transaction.flag_error();
            return (Outcome::Reply(refused), Some(spec.name));
        }
        if (spec.flags.contains(Flags::WRITE) || spec.name == "ping")
            && crate::persist::writes_refused(&self.shared)
        {
            self.state.transaction.flag_error();
            let refused = Reply::Error(crate::persist::MISCONF.into());
            return (Outcome::Reply(refused), Some(spec.name));
        }
        let outcome = match transaction::intercept(&self.shared, &mut self.state, spec, args) {
            Some(queued) => queued,
            None if spec.name == "ping" => match pubsub::subscribed_ping(&self.state, args) {
                Some(pong) => Outcome::Reply(pong),
                None => run_command(&self.shared, &mut self.state, spec, args, None),
            },
            None => run_command(&self.shared, &mut self.state, spec, args, None),
        };
        (outcome, Some(spec.name))
    }

    async fn apply(&mut self, outcome: Outcome) -> std::io::Result<Next> {
        match outcome {
            Outcome::Reply(reply) => {
                self.push_reply(&reply);
                Ok(Next::Continue)
            }
            Outcome::Close(reply) => {
                self.push_reply(&reply);
                Ok(Next::Close)
            }
            Outcome::Many(replies) => {
                for reply in &replies {
                    self.push_reply(reply);
                }
                Ok(Next::Continue)
            }
            Outcome::Block(request) => match self.block(*request).await? {
                Some(reply) => {
                    self.push_reply(&reply);
                    Ok(Next::Continue)
                }
                None => Ok(Next::Close),
            },
            Outcome::Sleep(duration) => {
                self.flush().await?;
                tokio::time::sleep(duration).await;
                self.push_reply(&Reply::Ok);
                Ok(Next::Continue)
            }
            Outcome::Shutdown => {
                self.shared.request_shutdown();
                Ok(Next::Close)
            }
            Outcome::Replicate(request) => {
                self.flush().await?;
                crate::replication::primary::serve_replica(
                    &self.shared,
                    &mut self.stream,
                    &mut self.read_buffer,
                    &self.state,
                    *request,
                )
                .await?;
                Ok(Next::Close)
            }
            Outcome::Wait { wanted, timeout } => {
                self.flush().await?;
                let count = self
                    .shared
                    .replication
                    .wait(self.state.write_offset, wanted, timeout)
                    .await;
                self.push_reply(&Reply::Integer(count as i64));
                Ok(Next::Continue)
            }
            Outcome::Migrate(request) => {
                self.flush().await?;
                // CLIENT KILL ends the wait; nothing was deleted here before the exchange ended,
                // so dropping it midway loses no key.
                let info = self.state.info.clone();
                let shared = self.shared.clone();
                let reply = tokio::select! {
                    reply = crate::migrate::run(&shared, &mut self.state.session, *request) => reply,
                    () = info.killed() => return Ok(Next::Close),
                };
                self.push_reply(&reply);
                Ok(Next::Continue)
            }
        }
    }

    fn push_reply(&mut self, reply: &Reply) {
        if reply.is_error() {
            self.shared.stats.error_replies.add(1);
        }
        if self.reply_buffer.capacity() == 0 {
            self.reply_buffer.reserve(READ_CHUNK_BYTES);
        }
        encode_reply(reply, self.state.protocol, &mut self.reply_buffer);
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if self.reply_buffer.is_empty() {
            return Ok(());
        }
        // Nothing is acknowledged before the AOF holds it as its fsync policy asks.
        self.shared.aof.commit().await?;
        // A client that stopped reading cannot pin this task: CLIENT KILL and the pub/sub
        // output limit shut its socket down, which fails the write, and the output buffer
        // limit of its class closes it.
        self.write_within_limit().await?;
        // A TLS session may still hold the last record: flushing sends it (a no-op on TCP).
        self.stream.flush().await?;
        self.shared
            .stats
            .net_output_bytes
            .add(self.reply_buffer.len() as i64);
        self.reply_buffer = BytesMut::new();
        self.state
            .info
            .output_buffer_bytes
            .store(0, Ordering::Relaxed);
        Ok(())
    }

    /// The output limit of this client's class: pubsub for a subscriber, normal otherwise
    /// (replicas are served by [`crate::replication::primary`] under their own).
    fn output_limit(&mut self) -> OutputLimit {
        let limits = self.limits.current(&self.shared);
        let subscribed = self
            .state
            .pubsub
            .as_ref()
            .is_some_and(SubscriberState::is_subscribed);
        if subscribed {
            limits.pubsub_output
        } else {
            limits.normal_output
        }
    }

    /// Mid-pipeline, with a full flush's worth of replies: writes what the socket takes now,
    /// and waits for the rest only once the client holds as much unread output as its class
    /// allows (its hard limit, else its soft one). Without a limit that is one flush, so a
    /// client that does not read holds the server to a fixed amount of memory; with one, such
    /// a client runs into it and is disconnected, as in Redis.
    async fn flush_or_go_on(&mut self) -> std::io::Result<()> {
        let limit = self.output_limit();
        let allowance = match limit.hard_bytes {
            0 => limit.soft_bytes,
            hard => hard,
        };
        if (self.reply_buffer.len() as u64) < allowance {
            self.shared.aof.commit().await?;
            // Zero time: one attempt, whatever the stream (TCP or TLS).
            let write = self.stream.write(&self.reply_buffer);
            if let Ok(written) = tokio::time::timeout(Duration::ZERO, write).await {
                let written = written?;
                self.shared.stats.net_output_bytes.add(written as i64);
                self.reply_buffer.advance(written);
            }
            self.state.info.note_output_buffer(self.reply_buffer.len());
            if (self.reply_buffer.len() as u64) < allowance {
                return Ok(());
            }
        }
        self.flush().await
    }

    /// Writes the reply buffer out under `client-output-buffer-limit`: replies past the hard
    /// limit close the connection before a byte is sent, and so does a client that leaves at
    /// least the soft limit unread for more than the soft seconds. Until then the connection
    /// waits on the socket, reading nothing more: a client that does not read holds at most
    /// its allowance (see [`Connection::flush_or_go_on`]), never a growing heap.
    async fn write_within_limit(&mut self) -> std::io::Result<()> {
        let limit = self.output_limit();
        let info = self.state.info.clone();
        let mut written = 0;
        let mut over_soft_since: Option<tokio::time::Instant> = None;
        while let Some(pending) = self
            .reply_buffer
            .get(written..)
            .filter(|rest| !rest.is_empty())
        {
            let pending_bytes = pending.len() as u64;
            info.note_output_buffer(pending.len());
            if limit.hard_bytes > 0 && pending_bytes > limit.hard_bytes {
                return Err(output_limit_reached(&info));
            }
            let soft_deadline = (limit.soft_bytes > 0 && pending_bytes >= limit.soft_bytes)
                .then(|| *over_soft_since.get_or_insert_with(tokio::time::Instant::now))
                .map(|since| since + soft_grace(limit.soft_secs));
            if soft_deadline.is_none() {
                over_soft_since = None;
            }
            let write = self.stream.write(pending);
            let count = match soft_deadline {
                None => write.await?,
                Some(deadline) => tokio::select! {
                    count = write => count?,
                    () = tokio::time::sleep_until(deadline) => {
                        return Err(output_limit_reached(&info));
                    }
                },
            };
            if count == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            written += count;
        }
        Ok(())
    }
}

/// Reads what the stream has into `buffer`, allocating its room only once bytes are there (an
/// empty buffer has none, see [`READ_CHUNK_BYTES`]).
async fn read_some<S: ClientStream>(
    stream: &mut S,
    buffer: &mut BytesMut,
) -> std::io::Result<usize> {
    if buffer.capacity() == 0 {
        stream.readable().await?;
    }
    buffer.reserve(READ_CHUNK_BYTES);
    stream.read_buf(buffer).await
}

/// How long pending output may stay at or above the soft limit: the soft seconds, and never
/// less than a moment, so that a client that reads promptly is not closed on a burst.
fn soft_grace(soft_secs: u64) -> Duration {
    const SOFT_GRACE_MIN: Duration = Duration::from_millis(100);
    Duration::from_secs(soft_secs).max(SOFT_GRACE_MIN)
}

/// Logs and builds the error that closes a client past its output buffer limit.
fn output_limit_reached(info: &ClientInfo) -> std::io::Error {
    tracing::warn!(
        "Client {} closed for overcoming of output buffer limits.",
        info.describe()
    );
    std::io::Error::other("output buffer limit reached")
}
