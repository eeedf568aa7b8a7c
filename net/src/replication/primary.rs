//! The primary's side of replication: PSYNC (partial from the backlog, or full from a
//! snapshot), each replica's output queue (bounded by `client-output-buffer-limit replica`),
//! REPLCONF ACK, and WAIT.
//!
//! A full sync fixes its offset under [`Replication::order`]: the replica's queue is
//! registered first, the snapshot is taken, and the queue is cut at the snapshot's offset, so
//! the replica receives exactly the writes after the copy. The RDB goes straight from the
//! snapshot to the socket (disk-less), with Redis's EOF marker when the replica announced
//! `capa eof`, else as one bulk of known length.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use parking_lot::Mutex;
use slotkv_engine::Snapshot;
use slotkv_persistence::rdb::WriterOptions;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::{Feed, Replication};
use crate::config::ReplSettings;
use crate::resp::{ParseLimits, RequestDecoder};
use crate::server::Shared;

/// What a replica told about itself with REPLCONF before PSYNC.
#[derive(Debug, Clone, Default)]
pub struct ReplicaHello {
    /// `REPLCONF listening-port`.
    pub listening_port: u16,
    /// `REPLCONF ip-address`.
    pub ip_address: Option<String>,
    /// `REPLCONF capa eof`: it reads the EOF-marker RDB transfer.
    pub capa_eof: bool,
}

/// Bytes of an RDB chunk handed from the snapshot's writer thread to the socket.
const RDB_CHUNK_BYTES: usize = 64 * 1024;
/// Chunks in flight between the writer thread and the socket (bounds the memory).
const RDB_CHUNKS_IN_FLIGHT: usize = 16;
/// Length of Redis's EOF marker.
const EOF_MARK_LEN: usize = 40;

/// Output limits of a replica (`client-output-buffer-limit replica`).
#[derive(Debug, Clone, Copy)]
struct OutputLimits {
    hard_bytes: usize,
    soft_bytes: usize,
    soft_secs: u64,
}

#[derive(Debug)]
struct OutQueue {
    /// Stream bytes not yet taken by the replica's connection, in one buffer: a write of
    /// many small records then costs the connection one system call.
    pending: BytesMut,
    /// Offset of the first queued byte (1-based, as PSYNC's).
    start: u64,
    soft_since: Option<Instant>,
    overflowed: bool,
    limits: OutputLimits,
}

impl OutQueue {
    /// Drops queued bytes so the queue starts at offset `from`.
    fn skip_to(&mut self, from: u64) {
        let skip = usize::try_from(from.saturating_sub(self.start)).unwrap_or(usize::MAX);
        self.pending.advance(skip.min(self.pending.len()));
        self.start = from;
    }

    fn over_limits(&mut self) -> bool {
        let limits = self.limits;
        let bytes = self.pending.len();
        if limits.hard_bytes > 0 && bytes > limits.hard_bytes {
            return true;
        }
        if limits.soft_bytes > 0 && bytes > limits.soft_bytes {
            let since = *self.soft_since.get_or_insert_with(Instant::now);
            return since.elapsed() >= Duration::from_secs(limits.soft_secs);
        }
        self.soft_since = None;
        false
    }
}

/// One connected replica, as the primary sees it.
#[derive(Debug)]
pub struct ReplicaOut {
    /// Client id of its connection.
    pub client_id: u64,
    /// Address INFO and ROLE show (`ip-address`, else the peer's).
    pub ip: String,
    /// `REPLCONF listening-port`.
    pub port: u16,
    queue: Mutex<OutQueue>,
    wake: tokio::sync::Notify,
    online: AtomicBool,
    closed: AtomicBool,
    /// Offset of its last REPLCONF ACK.
    ack_offset: AtomicU64,
    /// When it last acknowledged.
    last_ack: Mutex<Instant>,
}

impl ReplicaOut {
    fn new(client_id: u64, ip: String, port: u16, start: u64, settings: &ReplSettings) -> Self {
        let limits = OutputLimits {
            hard_bytes: usize::try_from(settings.output_hard_bytes).unwrap_or(usize::MAX),
            soft_bytes: usize::try_from(settings.output_soft_bytes).unwrap_or(usize::MAX),
            soft_secs: settings.output_soft_secs,
        };
        ReplicaOut {
            client_id,
            ip,
            port,
            queue: Mutex::new(OutQueue {
                pending: BytesMut::new(),
                start,
                soft_since: None,
                overflowed: false,
                limits,
            }),
            wake: tokio::sync::Notify::new(),
            online: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            ack_offset: AtomicU64::new(0),
            last_ack: Mutex::new(Instant::now()),
        }
    }

    /// Queues stream bytes for this replica; past its output limits it is marked for closing.
    pub(super) fn push(&self, bytes: &[u8]) {
        let mut queue = self.queue.lock();
        if queue.overflowed {
            return;
        }
        // The connection takes the whole queue at once: only the push that finds it empty
        // needs to wake it (a wake-up before it waits is kept for its wait).
        let was_empty = queue.pending.is_empty();
        queue.pending.extend_from_slice(bytes);
        let overflowed = queue.over_limits();
        if overflowed {
            queue.overflowed = true;
            queue.pending = BytesMut::new();
        }
        drop(queue);
        if was_empty || overflowed {
            self.wake.notify_one();
        }
    }

    /// Asks its connection to close.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Whether the full sync is over and the stream flows.
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    /// Offset of its last acknowledgement.
    pub fn ack_offset(&self) -> u64 {
        self.ack_offset.load(Ordering::Acquire)
    }

    /// Time since its last acknowledgement (INFO's `lag`).
    pub fn ack_age(&self) -> Duration {
        self.last_ack.lock().elapsed()
    }

    /// Bytes waiting to be sent.
    pub fn queued_bytes(&self) -> usize {
        self.queue.lock().pending.len()
    }

    /// Everything queued, as one buffer (empty when nothing is).
    fn take(&self) -> Result<Bytes, ServeEnd> {
        if self.closed.load(Ordering::Acquire) {
            return Err(ServeEnd::Closed);
        }
        let mut queue = self.queue.lock();
        if queue.overflowed {
            return Err(ServeEnd::Overflow);
        }
        let taken = queue.pending.split().freeze();
        queue.start += taken.len() as u64;
        Ok(taken)
    }
}

/// Why serving a replica stopped, short of an I/O error.
#[derive(Debug)]
enum ServeEnd {
    Closed,
    Overflow,
}

/// A parsed PSYNC (or SYNC, which is PSYNC without the +FULLRESYNC line).
#[derive(Debug)]
pub struct SyncRequest {
    replid: String,
    /// The next byte the replica wants; -1 for none.
    offset: i64,
    legacy: bool,
    /// `PSYNC <replid> <offset> FAILOVER`: the primary hands its role over (FAILOVER).
    failover: bool,
}

impl SyncRequest {
    /// PSYNC <replid> <offset>, or SYNC.
    pub fn parse(args: &[Bytes]) -> SyncRequest {
        match args {
            [_, replid, offset, rest @ ..] => SyncRequest {
                replid: String::from_utf8_lossy(replid).into_owned(),
                offset: slotkv_engine::value::parse_i64(offset).unwrap_or(-1),
                legacy: false,
                failover: rest
                    .first()
                    .is_some_and(|word| word.eq_ignore_ascii_case(b"failover")),
            },
            _ => SyncRequest {
                replid: "?".to_owned(),
                offset: -1,
                legacy: true,
                failover: false,
            },
        }
    }
}

/// How a sync begins.
enum Start {
    Partial {
        replid: String,
    },
    Full {
        replid: String,
        offset: u64,
        snapshot: Snapshot,
    },
}

impl Replication {
    /// Whether PSYNC `replid offset` can continue from the backlog.
    fn can_continue(state: &super::State, request: &SyncRequest) -> bool {
        if request.offset < 0 || state.feed == Feed::Off {
            return false;
        }
        let offset = request.offset as u64;
        let same_history = request.replid.eq_ignore_ascii_case(&state.replid)
            || (request.replid.eq_ignore_ascii_case(&state.replid2)
                && request.offset <= state.second_offset);
        same_history && state.backlog.tail_from(offset).is_some()
    }

    /// Registers a replica and decides how its sync starts. Blocks (a full sync takes a
    /// snapshot): call it off the async threads.
    fn begin_sync(
        &self,
        request: &SyncRequest,
        client_id: u64,
        ip: String,
        port: u16,
        settings: &ReplSettings,
    ) -> (Arc<ReplicaOut>, Start) {
        let _order = self.order.lock();
        {
            let mut state = self.state.lock();
            if !request.legacy && Self::can_continue(&state, request) {
                let from = request.offset as u64;
                let tail = state.backlog.tail_from(from).unwrap_or_default();
                let out = Arc::new(ReplicaOut::new(client_id, ip, port, from, settings));
                out.push(&tail);
                state.replicas.push(Arc::clone(&out));
                let replid = state.replid.clone();
                self.syncs.partial_ok.fetch_add(1, Ordering::Relaxed);
                return (out, Start::Partial { replid });
            }
        }
        if !request.legacy && request.replid != "?" {
            self.syncs.partial_err.fetch_add(1, Ordering::Relaxed);
        }
        self.syncs.full.fetch_add(1, Ordering::Relaxed);
        let is_primary = !self.is_replica();
        if is_primary {
            self.attach_propagation();
        }
        let out = {
            let mut state = self.state.lock();
            let start = state.backlog.end() + 1;
            let out = Arc::new(ReplicaOut::new(client_id, ip, port, start, settings));
            state.replicas.push(Arc::clone(&out));
            out
        };
        let snapshot = self.engine.snapshot();
        let state = self.state.lock();
        let offset = match (is_primary, state.delta) {
            (true, Some(delta)) => {
                u64::try_from(i128::from(snapshot.offset()) + delta).unwrap_or(0)
            }
            // A replica appends only under `order`, which is held: its offset is the end.
            _ => state.backlog.end(),
        };
        out.queue.lock().skip_to(offset + 1);
        let replid = state.replid.clone();
        (
            out,
            Start::Full {
                replid,
                offset,
                snapshot,
            },
        )
    }

    fn remove_replica(&self, out: &Arc<ReplicaOut>) {
        let mut state = self.state.lock();
        state.replicas.retain(|r| !Arc::ptr_eq(r, out));
        if state.replicas.is_empty() {
            state.alone_since = Instant::now();
        }
    }

    /// WAIT: how many replicas acknowledged the stream up to the client's last write (which
    /// ends at `write_offset` of the propagation stream), waiting up to `timeout` (None:
    /// forever) for `wanted` of them.
    pub async fn wait(&self, write_offset: u64, wanted: usize, timeout: Option<Duration>) -> usize {
        let target = self.replication_offset_of(write_offset);
        let acked = || {
            self.state
                .lock()
                .replicas
                .iter()
                .filter(|r| r.ack_offset() >= target)
                .count()
        };
        let count = acked();
        if count >= wanted || self.state.lock().replicas.is_empty() {
            return count;
        }
        self.append_command(&["REPLCONF", "GETACK", "*"]);
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            let notified = self.acked.notified();
            let count = acked();
            if count >= wanted {
                return count;
            }
            match deadline {
                Some(at) => {
                    if tokio::time::timeout_at(at, notified).await.is_err() {
                        return acked();
                    }
                }
                None => notified.await,
            }
        }
    }
}

/// Serves a replica on its connection after PSYNC/SYNC: the sync, then the stream, reading
/// its acknowledgements meanwhile, until the connection or the replica's queue fails.
pub async fn serve_replica<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Arc<Shared>,
    stream: &mut S,
    read_buffer: &mut BytesMut,
    client: &crate::connection::ClientState,
    request: SyncRequest,
) -> std::io::Result<()> {
    let repl = &shared.replication;
    if request.failover {
        if let Err(refusal) = repl.accept_failover_request(shared, &request.replid) {
            stream
                .write_all(format!("-ERR {refusal}\r\n").as_bytes())
                .await?;
            stream.flush().await?;
            return Ok(());
        }
    }
    if repl.failover_state() != super::failover::FailoverState::None {
        stream
            .write_all(b"-NOMASTERLINK Can't SYNC while failing over\r\n")
            .await?;
        stream.flush().await?;
        return Ok(());
    }
    let unlinked = repl
        .state
        .lock()
        .primary
        .as_ref()
        .is_some_and(|p| p.state != super::LinkState::Connected);
    if unlinked {
        stream
            .write_all(b"-NOMASTERLINK Can't SYNC while not connected with my master\r\n")
            .await?;
        stream.flush().await?;
        return Ok(());
    }
    client
        .info
        .set_role(crate::clients::ReplicationRole::Replica);
    let hello = client.replica_hello.clone();
    let ip = hello
        .ip_address
        .clone()
        .unwrap_or_else(|| client.info.peer.ip().to_string());
    let settings = shared.config.read().repl.clone();
    let diskless_eof = hello.capa_eof && settings.diskless_sync;
    let legacy = request.legacy;
    let begin = {
        let shared = Arc::clone(shared);
        let client_id = client.info.id;
        let port = hello.listening_port;
        tokio::task::spawn_blocking(move || {
            shared
                .replication
                .begin_sync(&request, client_id, ip, port, &settings)
        })
        .await
        .map_err(std::io::Error::other)?
    };
    let (out, start) = begin;
    let served = async {
        match start {
            Start::Partial { replid } => {
                tracing::info!("Partial resynchronization request from replica accepted.");
                stream
                    .write_all(format!("+CONTINUE {replid}\r\n").as_bytes())
                    .await?;
            }
            Start::Full {
                replid,
                offset,
                snapshot,
            } => {
                tracing::info!("Starting a full sync at offset {offset} (disk-less)");
                if !legacy {
                    stream
                        .write_all(format!("+FULLRESYNC {replid} {offset}\r\n").as_bytes())
                        .await?;
                }
                send_rdb(shared, stream, snapshot, diskless_eof).await?;
            }
        }
        out.online.store(true, Ordering::Release);
        *out.last_ack.lock() = Instant::now();
        stream_to_replica(shared, stream, read_buffer, &out).await
    }
    .await;
    repl.remove_replica(&out);
    tracing::info!("Connection with replica {}:{} lost.", out.ip, out.port);
    served
}

/// Sends the snapshot as an RDB: `$EOF:<mark>\r\n<rdb><mark>` or `$<len>\r\n<rdb>`.
async fn send_rdb<S: AsyncWrite + Unpin>(
    shared: &Arc<Shared>,
    stream: &mut S,
    snapshot: Snapshot,
    eof_marker: bool,
) -> std::io::Result<()> {
    let options = {
        let settings = shared.config.read();
        WriterOptions {
            compression: settings.rdbcompression,
            checksum: settings.rdbchecksum,
        }
    };
    let used_mem = shared.engine.used_memory();
    if !eof_marker {
        let rdb = tokio::task::spawn_blocking(move || {
            slotkv_persistence::write_snapshot(snapshot, Vec::new(), options, used_mem)
        })
        .await
        .map_err(std::io::Error::other)??
        .0;
        stream
            .write_all(format!("${}\r\n", rdb.len()).as_bytes())
            .await?;
        return stream.write_all(&rdb).await;
    }
    let mark = super::random_id();
    debug_assert_eq!(mark.len(), EOF_MARK_LEN);
    stream
        .write_all(format!("$EOF:{mark}\r\n").as_bytes())
        .await?;
    let (sender, mut chunks) = mpsc::channel::<Bytes>(RDB_CHUNKS_IN_FLIGHT);
    let writer = tokio::task::spawn_blocking(move || {
        let out = ChannelWriter {
            sender,
            buffer: Vec::with_capacity(RDB_CHUNK_BYTES),
        };
        let (mut out, _) = slotkv_persistence::write_snapshot(snapshot, out, options, used_mem)?;
        std::io::Write::flush(&mut out)
    });
    while let Some(chunk) = chunks.recv().await {
        stream.write_all(&chunk).await?;
    }
    writer.await.map_err(std::io::Error::other)??;
    stream.write_all(mark.as_bytes()).await
}

/// An `io::Write` that hands full chunks to the socket's task (blocking while it is behind).
struct ChannelWriter {
    sender: mpsc::Sender<Bytes>,
    buffer: Vec<u8>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= RDB_CHUNK_BYTES {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(RDB_CHUNK_BYTES),
        ));
        self.sender
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "replica gone"))
    }
}

/// Sends queued stream bytes as they come and reads REPLCONF ACKs.
async fn stream_to_replica<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Arc<Shared>,
    stream: &mut S,
    read_buffer: &mut BytesMut,
    out: &Arc<ReplicaOut>,
) -> std::io::Result<()> {
    let mut decoder = RequestDecoder::default();
    let limits = ParseLimits::default();
    loop {
        match out.take() {
            Ok(taken) if taken.is_empty() => {}
            Ok(taken) => {
                stream.write_all(&taken).await?;
                shared.stats.net_output_bytes.add(taken.len() as i64);
                // A TLS session may hold the last record back until flushed.
                stream.flush().await?;
            }
            Err(ServeEnd::Closed) => return Ok(()),
            Err(ServeEnd::Overflow) => {
                tracing::warn!(
                    "Client id={} (replica {}:{}) closed for overcoming of output buffer limits.",
                    out.client_id,
                    out.ip,
                    out.port
                );
                return Ok(());
            }
        }
        read_buffer.reserve(4096);
        tokio::select! {
            () = out.wake.notified() => {}
            read = stream.read_buf(read_buffer) => {
                if read? == 0 {
                    return Ok(());
                }
                while let Some(args) = decoder
                    .decode(read_buffer, &limits)
                    .map_err(|e| std::io::Error::other(e.to_string()))?
                {
                    note_replica_command(&shared.replication, out, &args);
                }
            }
        }
    }
}

/// A command from a replica after its sync: only REPLCONF ACK <offset> matters.
fn note_replica_command(repl: &Replication, out: &ReplicaOut, args: &[Bytes]) {
    let is = |index: usize, word: &str| {
        args.get(index)
            .is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
    };
    if !(is(0, "replconf") && is(1, "ack")) {
        return;
    }
    let Some(offset) = args
        .get(2)
        .and_then(|a| slotkv_engine::value::parse_i64(a))
        .and_then(|o| u64::try_from(o).ok())
    else {
        return;
    };
    out.ack_offset.fetch_max(offset, Ordering::AcqRel);
    *out.last_ack.lock() = Instant::now();
    repl.note_ack();
}
