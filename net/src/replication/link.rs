//! The replica's side: the link to its primary. A task per REPLICAOF connects, handshakes
//! (PING, AUTH, REPLCONF listening-port / ip-address / capa eof psync2), asks PSYNC with its
//! replication id and next offset, loads the RDB of a full sync (after flushing its data) or
//! continues, then applies the stream through the engine: a primary-link session follows
//! SELECT, a MULTI ... EXEC block runs as one transaction, PING is counted, REPLCONF GETACK is
//! answered with REPLCONF ACK <offset> (and every second unasked). Each applied unit is
//! appended, byte for byte, to this node's backlog for its own replicas. A dropped link is
//! retried every second with PSYNC from the offset reached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use slotkv_engine::command::{CommandTable, Handler};
use slotkv_engine::propagate::encode_resp_array;
use slotkv_engine::Session;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::backlog::Backlog;
use super::{backlog_capacity, random_id, Feed, LinkState, PrimaryInfo, Replication};
use crate::resp::{ParseLimits, RequestDecoder};
use crate::server::Shared;
use crate::tls::MaybeTls;

/// Longest status line accepted from a primary during the handshake.
const LINE_BYTES_MAX: usize = 64 * 1024;
/// How long to wait before connecting again after a failed attempt. A link that was
/// streaming reconnects at once (at most once per pause), as Redis's does: waiting lets the
/// backlog move past the replica's offset under load, turning a blip into a full sync.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);
/// How often the replica acknowledges its offset unasked.
const ACK_PERIOD: Duration = Duration::from_secs(1);
/// Bytes read from the primary at a time.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Why a link session ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum LinkError {
    Io(std::io::Error),
    /// The primary answered the handshake with an error or something unexpected.
    Refused(String),
    /// The primary sent no byte for `repl-timeout` seconds.
    Timeout,
    /// The RDB of the full sync could not be loaded.
    Load(String),
    /// A REPLICAOF replaced this link.
    Replaced,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Io(error) => write!(f, "I/O error: {error}"),
            LinkError::Refused(reply) => write!(f, "the primary replied: {reply}"),
            LinkError::Timeout => f.write_str("timeout: no data from the primary"),
            LinkError::Load(error) => write!(f, "cannot load the primary's RDB: {error}"),
            LinkError::Replaced => f.write_str("replaced by a newer REPLICAOF"),
        }
    }
}

impl From<std::io::Error> for LinkError {
    fn from(error: std::io::Error) -> Self {
        LinkError::Io(error)
    }
}

impl Replication {
    /// Makes this node a replica of `host:port` (REPLICAOF, `replicaof`) and starts its link.
    pub fn follow(&self, shared: &Arc<Shared>, host: String, port: u16) {
        let ignore_maxmemory = shared.config.read().replica_ignore_maxmemory;
        self.detach_propagation();
        let generation = {
            let mut state = self.state.lock();
            state.generation += 1;
            state.feed = Feed::Link;
            let now = Instant::now();
            state.primary = Some(PrimaryInfo {
                host: host.clone(),
                port,
                state: LinkState::Connect,
                last_io: now,
                read_offset: state.backlog.end(),
                down_since: now,
            });
            Self::drop_replicas(&mut state);
            state.generation
        };
        self.engine.set_follower(true);
        self.engine.set_evictions_paused(ignore_maxmemory);
        self.update_refusals(&shared.config.read().repl);
        let task = tokio::spawn(run(Arc::clone(shared), generation, host, port));
        if let Some(old) = self.link_task.lock().replace(task) {
            old.abort();
        }
    }

    /// Makes this replica a primary (REPLICAOF NO ONE): a new replication id, the old one kept
    /// as `master_replid2` so the other replicas of the old primary continue partially.
    pub fn promote(&self, shared: &Shared) {
        if let Some(task) = self.link_task.lock().take() {
            task.abort();
        }
        {
            let mut state = self.state.lock();
            if state.primary.take().is_none() {
                return;
            }
            state.generation += 1;
            state.replid2 = std::mem::replace(&mut state.replid, random_id());
            state.second_offset = i64::try_from(state.backlog.end() + 1).unwrap_or(i64::MAX);
            state.feed = Feed::Off;
            Self::drop_replicas(&mut state);
        }
        self.engine.set_follower(false);
        self.engine.set_evictions_paused(false);
        // The history stays continuable from now on.
        self.attach_propagation();
        self.update_refusals(&shared.config.read().repl);
        tracing::info!("MASTER MODE enabled");
    }

    /// Ends the link of an embedded follower and makes its engine a primary again, without
    /// the backlog a promoted server keeps for its replicas (it has none).
    pub(crate) fn unfollow(&self) {
        if let Some(task) = self.link_task.lock().take() {
            task.abort();
        }
        {
            let mut state = self.state.lock();
            state.generation += 1;
            state.primary = None;
            state.feed = Feed::Off;
            Self::drop_replicas(&mut state);
        }
        self.engine.set_follower(false);
        self.engine.set_evictions_paused(false);
        self.refusals.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the link task of `generation` is still the current one.
    fn is_current(&self, generation: u64) -> bool {
        self.state.lock().generation == generation
    }

    fn set_link_state(&self, generation: u64, link: LinkState) {
        let mut state = self.state.lock();
        if state.generation != generation {
            return;
        }
        if let Some(primary) = state.primary.as_mut() {
            if link != LinkState::Connected && primary.state == LinkState::Connected {
                primary.down_since = Instant::now();
            }
            primary.state = link;
        }
    }

    fn note_read(&self, bytes: usize) {
        let mut state = self.state.lock();
        if let Some(primary) = state.primary.as_mut() {
            primary.last_io = Instant::now();
            primary.read_offset += bytes as u64;
        }
    }

    /// The PSYNC arguments: this node's history and the next byte it needs.
    fn psync_position(&self) -> (String, u64) {
        let state = self.state.lock();
        (state.replid.clone(), state.backlog.end() + 1)
    }

    /// Replaces the data with the primary's RDB and takes its history.
    fn install_full_sync(
        &self,
        shared: &Shared,
        rdb: &[u8],
        replid: String,
        offset: u64,
    ) -> Result<(), LinkError> {
        let _order = self.order.lock();
        let mut session = Session::primary_link();
        let flush = [Bytes::from_static(b"FLUSHALL")];
        shared.engine.execute_in(&mut session, &flush);
        let report = slotkv_persistence::load_bytes(&shared.engine, rdb)
            .map_err(|e| LinkError::Load(e.to_string()))?;
        tracing::info!(
            "MASTER <-> REPLICA sync: Finished with success ({} keys)",
            report.keys
        );
        let capacity = backlog_capacity(&shared.config.read().repl);
        let mut state = self.state.lock();
        state.replid = replid;
        state.replid2 = "0".repeat(40);
        state.second_offset = -1;
        state.backlog = Backlog::new(capacity, offset);
        state.link_db = 0;
        if let Some(primary) = state.primary.as_mut() {
            primary.read_offset = offset;
        }
        Self::drop_replicas(&mut state);
        Ok(())
    }

    /// Continues with the primary, which may have a new replication id (it was promoted).
    fn install_continue(&self, replid: Option<String>) {
        let mut state = self.state.lock();
        let Some(replid) = replid else {
            return;
        };
        if replid.eq_ignore_ascii_case(&state.replid) {
            return;
        }
        state.replid2 = std::mem::replace(&mut state.replid, replid);
        state.second_offset = i64::try_from(state.backlog.end() + 1).unwrap_or(i64::MAX);
        // Its replicas must learn the new id: they reconnect and continue.
        Self::drop_replicas(&mut state);
    }

    /// Appends an applied unit of the primary's stream to this node's backlog.
    fn append_applied(&self, raw: &[u8]) {
        let mut state = self.state.lock();
        if state.feed == Feed::Link {
            state.append(raw);
        }
    }
}

/// The link task: sessions with the primary until a REPLICAOF replaces it.
async fn run(shared: Arc<Shared>, generation: u64, host: String, port: u16) {
    let repl = &shared.replication;
    let mut last_quick_retry: Option<Instant> = None;
    loop {
        if !repl.is_current(generation) {
            return;
        }
        repl.set_link_state(generation, LinkState::Connecting);
        tracing::info!("Connecting to MASTER {host}:{port}");
        let mut streamed = false;
        match session(&shared, generation, &host, port, &mut streamed).await {
            Ok(()) | Err(LinkError::Replaced) => {}
            Err(error) => tracing::warn!("Link with MASTER {host}:{port} lost: {error}"),
        }
        repl.set_link_state(generation, LinkState::Connect);
        let now = Instant::now();
        match reconnect_pause(streamed, last_quick_retry, now) {
            Some(pause) => tokio::time::sleep(pause).await,
            None => last_quick_retry = Some(now),
        }
    }
}

/// How long to wait before the next attempt: none after a link that was streaming (unless
/// the last attempt without a pause was less than a pause ago: a primary that accepts and
/// drops the link again and again is not hammered), [`RECONNECT_PAUSE`] otherwise.
fn reconnect_pause(
    streamed: bool,
    last_quick_retry: Option<Instant>,
    now: Instant,
) -> Option<Duration> {
    let quick = streamed
        && last_quick_retry.is_none_or(|at| now.saturating_duration_since(at) >= RECONNECT_PAUSE);
    (!quick).then_some(RECONNECT_PAUSE)
}

/// One connection to the primary: handshake, sync, stream (`streamed` is set once the
/// stream flows).
async fn session(
    shared: &Arc<Shared>,
    generation: u64,
    host: &str,
    port: u16,
    streamed: &mut bool,
) -> Result<(), LinkError> {
    let repl = &shared.replication;
    let settings = shared.config.read().repl.clone();
    let timeout = Duration::from_secs(settings.timeout_secs);
    let source = crate::exposure::source_address(&shared.config.read().bind_source_addr);
    let stream = tokio::time::timeout(timeout, crate::exposure::connect(host, port, source))
        .await
        .map_err(|_| LinkError::Timeout)??;
    let _ = stream.set_nodelay(true);
    // The link is a client of this node's table too (CLIENT LIST flags=M, CLIENT KILL TYPE
    // master), registered past `maxclients` as Redis does for its primary.
    let peer = stream.peer_addr()?;
    let local = stream.local_addr()?;
    let socket = std::os::fd::AsFd::as_fd(&stream).try_clone_to_owned().ok();
    let registration = shared
        .clients
        .register(peer, local, socket, u64::MAX)
        .ok_or_else(|| LinkError::Refused("the client table is full".to_owned()))?;
    // `tls-replication yes`: the link speaks TLS, the primary's certificate checked against
    // this node's CA.
    let use_tls = shared.config.read().tls.replication;
    let stream = shared.tls.connect(stream, host, use_tls).await?;
    registration
        .info
        .set_role(crate::clients::ReplicationRole::Primary);
    let mut link = Link {
        stream,
        buffer: BytesMut::with_capacity(READ_CHUNK_BYTES),
        timeout,
    };
    repl.set_link_state(generation, LinkState::Handshake);
    let pong = link.call(&["PING"]).await?;
    if pong.starts_with('-') && !pong.starts_with("-NOAUTH") {
        return Err(LinkError::Refused(pong));
    }
    if let Some(password) = &settings.masterauth {
        let mut auth = vec!["AUTH"];
        if let Some(user) = &settings.masteruser {
            auth.push(user);
        }
        auth.push(password);
        let reply = link.call(&auth).await?;
        if reply.starts_with('-') {
            return Err(LinkError::Refused(reply));
        }
    }
    // Over TLS the replica is reached on its TLS port, as Redis announces it.
    let own_port = match (use_tls, shared.tls_port) {
        (true, tls_port) if tls_port != 0 => tls_port,
        _ => shared.port,
    };
    let listening_port = match settings.announce_port {
        0 => own_port,
        port => port,
    }
    .to_string();
    // Old primaries may not know these options; their errors are not fatal, as in Redis.
    link.call(&["REPLCONF", "listening-port", &listening_port])
        .await?;
    if !settings.announce_ip.is_empty() {
        link.call(&["REPLCONF", "ip-address", &settings.announce_ip])
            .await?;
    }
    link.call(&["REPLCONF", "capa", "eof", "capa", "psync2"])
        .await?;
    let (replid, next) = repl.psync_position();
    let next = next.to_string();
    let failover = repl.failover_in_progress();
    if failover {
        link.send(&["PSYNC", &replid, &next, "FAILOVER"]).await?;
    } else {
        link.send(&["PSYNC", &replid, &next]).await?;
    }
    let reply = link.read_line(true).await?;
    if failover {
        let accepted = reply.starts_with("+FULLRESYNC") || reply.starts_with("+CONTINUE");
        repl.failover_answered(shared, accepted);
        if !accepted {
            return Err(LinkError::Refused(reply));
        }
    }
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut words = rest.split_whitespace();
        let (Some(replid), Some(offset)) = (
            words.next(),
            words.next().and_then(|o| o.parse::<u64>().ok()),
        ) else {
            return Err(LinkError::Refused(reply));
        };
        repl.set_link_state(generation, LinkState::Sync);
        tracing::info!("Full resync from master: {replid}:{offset}");
        let rdb = link.read_rdb().await?;
        if !repl.is_current(generation) {
            return Err(LinkError::Replaced);
        }
        tokio::task::block_in_place(|| {
            repl.install_full_sync(shared, &rdb, replid.to_owned(), offset)
        })?;
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let replid = rest.split_whitespace().next().map(str::to_owned);
        tracing::info!("Successful partial resynchronization with master.");
        repl.install_continue(replid);
    } else {
        return Err(LinkError::Refused(reply));
    }
    repl.set_link_state(generation, LinkState::Connected);
    *streamed = true;
    repl.update_refusals(&shared.config.read().repl);
    stream_from_primary(shared, generation, &mut link, &registration.info).await
}

/// The connection to the primary, with what was read but not used yet.
struct Link {
    stream: MaybeTls,
    buffer: BytesMut,
    timeout: Duration,
}

impl Link {
    async fn send(&mut self, words: &[&str]) -> Result<(), LinkError> {
        let args: Vec<Bytes> = words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        let mut out = Vec::new();
        encode_resp_array(&args, &mut out);
        self.stream.write_all(&out).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Sends a command and reads its one-line reply.
    async fn call(&mut self, words: &[&str]) -> Result<String, LinkError> {
        self.send(words).await?;
        self.read_line(false).await
    }

    async fn fill(&mut self) -> Result<(), LinkError> {
        self.buffer.reserve(READ_CHUNK_BYTES);
        let read = tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buffer))
            .await
            .map_err(|_| LinkError::Timeout)??;
        if read == 0 {
            return Err(LinkError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        Ok(())
    }

    /// Reads one CRLF-terminated line; with `skip_newlines`, the bare newlines a Redis
    /// primary sends to keep the link alive while it prepares the sync are skipped first.
    async fn read_line(&mut self, skip_newlines: bool) -> Result<String, LinkError> {
        loop {
            if skip_newlines {
                while self.buffer.first() == Some(&b'\n') {
                    self.buffer.advance(1);
                }
            }
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                let line = self.buffer.split_to(end + 2);
                return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            if self.buffer.len() > LINE_BYTES_MAX {
                return Err(LinkError::Refused("line too long".to_owned()));
            }
            self.fill().await?;
        }
    }

    /// Reads the RDB of a full sync: `$<len>\r\n<rdb>` or `$EOF:<mark>\r\n<rdb><mark>`.
    async fn read_rdb(&mut self) -> Result<Vec<u8>, LinkError> {
        let header = self.read_line(true).await?;
        let Some(size) = header.strip_prefix('$') else {
            return Err(LinkError::Refused(header));
        };
        if let Some(mark) = size.strip_prefix("EOF:") {
            let mark = mark.as_bytes().to_vec();
            if mark.len() != 40 {
                return Err(LinkError::Refused(header));
            }
            let mut rdb = Vec::new();
            loop {
                // The primary streams commands right after the mark, so one read may hold the
                // end of the RDB, the mark and the start of the stream: look for the mark in
                // what just came (and the mark's length before it), not only at the end.
                let scan_from = rdb.len().saturating_sub(mark.len() - 1);
                rdb.extend_from_slice(&self.buffer);
                self.buffer.clear();
                if let Some(at) = find(&rdb[scan_from..], &mark) {
                    let end = scan_from + at;
                    let stream = rdb.split_off(end + mark.len());
                    rdb.truncate(end);
                    self.buffer.extend_from_slice(&stream);
                    return Ok(rdb);
                }
                self.fill().await?;
            }
        }
        let len: usize = size
            .parse()
            .map_err(|_| LinkError::Refused(header.clone()))?;
        while self.buffer.len() < len {
            self.buffer
                .reserve((len - self.buffer.len()).min(16 * 1024 * 1024));
            self.fill().await?;
        }
        Ok(self.buffer.split_to(len).to_vec())
    }
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What applying a unit asks of the link.
#[derive(Debug, Default)]
struct Applied {
    /// REPLCONF GETACK was in it: acknowledge now.
    ack: bool,
    /// The last command applied (CLIENT LIST's `cmd=` of the link).
    last_command: Option<&'static str>,
}

/// Applies the primary's stream until the link fails or is replaced.
async fn stream_from_primary(
    shared: &Arc<Shared>,
    generation: u64,
    link: &mut Link,
    client: &crate::clients::ClientInfo,
) -> Result<(), LinkError> {
    let repl = &shared.replication;
    let mut session = Session::primary_link();
    let link_db = repl.state.lock().link_db;
    if link_db != 0 {
        let select = [
            Bytes::from_static(b"SELECT"),
            Bytes::from(link_db.to_string()),
        ];
        shared.engine.execute_in(&mut session, &select);
    }
    let mut decoder = RequestDecoder::default();
    let limits = ParseLimits::default();
    // The commands of an open MULTI and their encoded bytes.
    let mut transaction: Option<(Vec<Vec<Bytes>>, Vec<u8>)> = None;
    let mut ack_timer = tokio::time::interval(ACK_PERIOD);
    // Bytes already in the buffer (after the RDB) came from the primary too.
    repl.note_read(link.buffer.len());
    // Each command's bytes as the backlog keeps them (one buffer, reused).
    let mut raw = Vec::new();
    loop {
        let mut applied = Applied::default();
        while let Some(args) = decoder
            .decode(&mut link.buffer, &limits)
            .map_err(|e| LinkError::Refused(e.to_string()))?
        {
            if args.is_empty() {
                continue;
            }
            raw.clear();
            encode_resp_array(&args, &mut raw);
            let is = |word: &[u8]| args[0].eq_ignore_ascii_case(word);
            if is(b"MULTI") && transaction.is_none() {
                transaction = Some((Vec::new(), raw.clone()));
            } else if let Some((queued, bytes)) = transaction.as_mut() {
                bytes.extend_from_slice(&raw);
                if is(b"EXEC") {
                    let (queued, bytes) = transaction.take().unwrap_or_default();
                    apply_unit(shared, &mut session, &queued, true, &bytes, &mut applied);
                } else {
                    queued.push(args);
                }
            } else {
                apply_unit(shared, &mut session, &[args], false, &raw, &mut applied);
            }
        }
        if !repl.is_current(generation) {
            return Err(LinkError::Replaced);
        }
        if let Some(command) = applied.last_command {
            client.touch(command);
            repl.state.lock().link_db = session.db();
        }
        if applied.ack {
            send_ack(repl, link).await?;
        }
        link.buffer.reserve(READ_CHUNK_BYTES);
        tokio::select! {
            read = link.stream.read_buf(&mut link.buffer) => {
                let read = read?;
                if read == 0 {
                    return Err(LinkError::Io(std::io::ErrorKind::UnexpectedEof.into()));
                }
                repl.note_read(read);
            }
            _ = ack_timer.tick() => {
                let idle = repl.state.lock().primary.as_ref().map(|p| p.last_io.elapsed());
                if idle.is_some_and(|idle| idle > link.timeout) {
                    return Err(LinkError::Timeout);
                }
                send_ack(repl, link).await?;
            }
        }
    }
}

async fn send_ack(repl: &Replication, link: &mut Link) -> Result<(), LinkError> {
    let offset = repl.offset().to_string();
    link.send(&["REPLCONF", "ACK", &offset]).await
}

/// Applies one command, or a MULTI ... EXEC block as one transaction, then appends its bytes
/// to the backlog, all under the stream order lock.
fn apply_unit(
    shared: &Shared,
    session: &mut Session,
    commands: &[Vec<Bytes>],
    transaction: bool,
    raw: &[u8],
    applied: &mut Applied,
) {
    let repl = &shared.replication;
    let _order = repl.order.lock();
    if transaction {
        let exclusive = shared.engine.exclusive();
        for args in commands {
            apply_command(shared, session, args, Some(&exclusive), applied);
        }
    } else if let Some(args) = commands.first() {
        apply_command(shared, session, args, None, applied);
    }
    repl.append_applied(raw);
}

fn apply_command(
    shared: &Shared,
    session: &mut Session,
    args: &[Bytes],
    exclusive: Option<&slotkv_engine::engine::Exclusive<'_>>,
    applied: &mut Applied,
) {
    let spec = match CommandTable::global().resolve(args) {
        Ok(spec) => spec,
        Err(error) => {
            tracing::debug!("replica: the primary sent a command it cannot run: {error:?}");
            return;
        }
    };
    applied.last_command = Some(spec.name);
    match spec.handler {
        Handler::Engine(_) => {
            let reply = match exclusive {
                Some(exclusive) => exclusive.execute_spec(session, spec, args),
                None => shared.engine.execute_spec(session, spec, args),
            };
            if reply.is_error() {
                tracing::warn!("replica: a command of the primary failed: {reply:?}");
            }
        }
        Handler::Server => match spec.name {
            "replconf" => {
                applied.ack |= args
                    .get(1)
                    .is_some_and(|a| a.eq_ignore_ascii_case(b"getack"));
            }
            "publish" => {
                shared.pubsub.publish(&args[1], &args[2]);
            }
            "spublish" => {
                shared.pubsub.publish_shard(&args[1], &args[2]);
            }
            _ => {}
        },
        Handler::Container => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_that_was_streaming_reconnects_at_once_but_not_twice_in_a_pause() {
        let now = Instant::now();
        assert_eq!(reconnect_pause(true, None, now), None);
        let recent = now.checked_sub(Duration::from_millis(200)).unwrap_or(now);
        assert_eq!(
            reconnect_pause(true, Some(recent), now),
            Some(RECONNECT_PAUSE)
        );
        let long_ago = now.checked_sub(RECONNECT_PAUSE * 2).unwrap_or(now);
        assert_eq!(reconnect_pause(true, Some(long_ago), now), None);
        assert_eq!(
            reconnect_pause(false, None, now),
            Some(RECONNECT_PAUSE),
            "a failed attempt waits"
        );
    }
}
