//! The AOF writer: a [`PropagationSink`] that appends every record, in RESP command form, to the
//! current incremental file, and the file management around it (start, rewrite, stop).
//!
//! Hot path. [`Aof::on_record`] runs with the writer's slot locks held, so it only encodes the
//! record into an in-memory buffer (inserting `SELECT` when the file's database changes, as
//! Redis writes it). The bytes reach the file in [`Aof::commit`], which every connection calls
//! before sending its replies: a write(2) of everything buffered so far, plus an fsync under
//! `appendfsync always`. Committers queue on one lock and the first one writes and syncs for
//! all of them (group commit); the others find their offset already covered. Under `everysec`
//! a background thread fsyncs once a second (on a cloned handle, so writes go on meanwhile);
//! under `no` it only drains what background writers (expiry) left in the buffer.
//!
//! Offsets. Progress is measured in propagation-stream offsets: `buffered_end` (past the last
//! record buffered), `written_end` and `synced_end`. A committer waits for its target offset.
//!
//! Rewrite. [`Aof::rewrite`] opens the next incremental file and lists it in the manifest, then
//! takes an engine snapshot (point-in-time at offset X): records before X go to the old file,
//! records at or after X to the new one (the buffer notes record positions while the snapshot
//! is being taken, and is split at X). The base is written from the snapshot on the calling
//! thread while clients go on, then the manifest is swapped (temp file, rename, fsync of the
//! directory) and the old files deleted.
//!
//! Failures. A failed write leaves the bytes in the buffer (the file is cut back to its last
//! good length) and records the error; until a write and fsync succeed again,
//! [`Aof::write_error`] reports it and the server refuses write commands with Redis's MISCONF
//! error. The buffer is bounded by that refusal: only background writers can add to it then.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use slotkv_engine::propagate::{encode_resp_array, PropagationSink, Record};
use slotkv_engine::snapshot::Snapshot;
use slotkv_engine::Engine;

use super::base::write_base;
use super::manifest::{FileInfo, FileType, Manifest};
use super::storage::{write_atomically, AppendFile, Storage};
use super::{AofError, AofOptions, FsyncPolicy};

/// Past this many buffered bytes the background thread is woken to write them out.
const WAKE_BYTES: usize = 1024 * 1024;
/// How often the background thread looks at the buffer (and fsyncs under `everysec`).
const TICK: Duration = Duration::from_secs(1);

/// A record's place in the buffer, noted only while a rewrite takes its snapshot.
#[derive(Debug, Clone, Copy)]
struct Mark {
    offset: u64,
    pos: usize,
    db: usize,
}

/// Records encoded but not written yet.
#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Stream offset past the last buffered record.
    end_offset: u64,
    /// Database the file is on after the buffered bytes (`None`: a SELECT must come first).
    file_db: Option<usize>,
    marks: Option<Vec<Mark>>,
}

/// The incremental file being appended to.
#[derive(Debug)]
struct Active {
    file: Box<dyn AppendFile>,
    /// A second handle on the same file for fsyncs outside the lock.
    syncer: Arc<Mutex<Box<dyn AppendFile>>>,
    /// Bytes of the file known to be good (where a failed write is cut back to).
    file_len: u64,
    manifest: Manifest,
    /// Bytes of the other files of the manifest (base and earlier incremental files).
    other_files_len: u64,
}

/// The append-only file of one server or embedded engine.
#[derive(Debug)]
pub struct Aof {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    filename: String,
    policy: AtomicU8,
    rdb_preamble: AtomicBool,
    pending: Mutex<Pending>,
    active: Mutex<Option<Active>>,
    buffered_end: AtomicU64,
    written_end: AtomicU64,
    synced_end: AtomicU64,
    failed: AtomicBool,
    last_error: Mutex<String>,
    rewriting: AtomicBool,
    last_rewrite_secs: AtomicI64,
    last_rewrite_ok: AtomicBool,
    base_size: AtomicU64,
    current_size: AtomicU64,
    wake: Condvar,
    wake_lock: Mutex<bool>,
    stopping: AtomicBool,
}

impl Aof {
    /// An AOF in `options.dir`; nothing is opened until [`Aof::start`] or [`Aof::resume`].
    pub fn new(storage: Arc<dyn Storage>, options: &AofOptions) -> Arc<Aof> {
        Arc::new(Aof {
            storage,
            dir: options.dir.clone(),
            filename: options.filename.clone(),
            policy: AtomicU8::new(options.fsync as u8),
            rdb_preamble: AtomicBool::new(options.rdb_preamble),
            pending: Mutex::new(Pending::default()),
            active: Mutex::new(None),
            buffered_end: AtomicU64::new(0),
            written_end: AtomicU64::new(0),
            synced_end: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            last_error: Mutex::new(String::new()),
            rewriting: AtomicBool::new(false),
            last_rewrite_secs: AtomicI64::new(-1),
            last_rewrite_ok: AtomicBool::new(true),
            base_size: AtomicU64::new(0),
            current_size: AtomicU64::new(0),
            wake: Condvar::new(),
            wake_lock: Mutex::new(false),
            stopping: AtomicBool::new(false),
        })
    }

    /// The AOF directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The fsync policy in force.
    pub fn fsync_policy(&self) -> FsyncPolicy {
        FsyncPolicy::from_u8(self.policy.load(Ordering::Relaxed))
    }

    /// Changes the fsync policy (CONFIG SET appendfsync).
    pub fn set_fsync_policy(&self, policy: FsyncPolicy) {
        self.policy.store(policy as u8, Ordering::Relaxed);
    }

    /// Chooses the format of the next base (CONFIG SET aof-use-rdb-preamble).
    pub fn set_rdb_preamble(&self, rdb: bool) {
        self.rdb_preamble.store(rdb, Ordering::Relaxed);
    }

    /// Whether the AOF is open and receiving records.
    pub fn is_open(&self) -> bool {
        self.active.lock().is_some()
    }

    /// Goes on with the AOF described by `manifest` (already loaded into `engine`): appends to
    /// its last incremental file, or to a new one listed in a rewritten manifest.
    pub fn resume(self: &Arc<Self>, engine: &Engine, manifest: Manifest) -> Result<(), AofError> {
        let mut guard = self.active.lock();
        self.storage
            .create_dir(&self.dir)
            .map_err(AofError::io("create the AOF directory"))?;
        let mut manifest = manifest;
        let incr = match manifest.incr.last() {
            Some(last) => last.clone(),
            None => {
                let info = self.next_incr(&manifest);
                manifest.incr.push(info.clone());
                self.write_manifest(&manifest)?;
                info
            }
        };
        let path = self.dir.join(&incr.name);
        let file = self
            .storage
            .append(&path)
            .map_err(AofError::io("open the AOF"))?;
        let file_len = self
            .storage
            .size(&path)
            .map_err(AofError::io("stat the AOF"))?;
        let other_files_len = self.files_len(&manifest, Some(&incr.name));
        // As in Redis, growth is measured from the size found at start-up.
        self.base_size
            .store(other_files_len + file_len, Ordering::Relaxed);
        self.current_size
            .store(other_files_len + file_len, Ordering::Relaxed);
        *guard = Some(self.active(&path, file, file_len, manifest, other_files_len)?);
        self.reset_offsets(engine.propagation_offset());
        self.pending.lock().file_db = None;
        engine.subscribe(self.clone());
        Ok(())
    }

    /// Starts an AOF from the engine's current data: a new incremental file, then a base
    /// written from a snapshot, then a manifest naming both (CONFIG SET appendonly yes, or a
    /// start-up without an AOF). Files of an earlier AOF in the directory are replaced.
    pub fn start(self: &Arc<Self>, engine: &Engine) -> Result<(), AofError> {
        if self.rewriting.swap(true, Ordering::AcqRel) {
            return Err(AofError::RewriteInProgress);
        }
        let started = Instant::now();
        let result = self.start_inner(engine);
        self.finish_rewrite_stats(started, result.is_ok());
        result
    }

    fn start_inner(self: &Arc<Self>, engine: &Engine) -> Result<(), AofError> {
        self.storage
            .create_dir(&self.dir)
            .map_err(AofError::io("create the AOF directory"))?;
        let previous = super::load::read_manifest(&self.dir, &self.filename)
            .ok()
            .flatten()
            .unwrap_or_default();
        let incr = self.next_incr(&previous);
        let snapshot = {
            let mut guard = self.active.lock();
            if guard.is_some() {
                return Err(AofError::AlreadyOpen);
            }
            let mut manifest = previous;
            manifest.incr.push(incr.clone());
            let active = self.open_incr(&incr, manifest, 0)?;
            self.pending.lock().marks = Some(Vec::new());
            engine.subscribe(self.clone());
            let snapshot = engine.snapshot();
            // Records before the snapshot are in it: they go nowhere.
            let _ = self.split_pending(snapshot.offset());
            self.settle_at(snapshot.offset());
            *guard = Some(active);
            snapshot
        };
        self.install_base(snapshot, &incr)
    }

    /// Rewrites the AOF: a new base from a snapshot, writes after it in a new incremental
    /// file, the old files deleted. Clients are not blocked; runs on the calling thread.
    pub fn rewrite(self: &Arc<Self>, engine: &Engine) -> Result<(), AofError> {
        if self.rewriting.swap(true, Ordering::AcqRel) {
            return Err(AofError::RewriteInProgress);
        }
        let started = Instant::now();
        let result = self
            .rotate(engine)
            .and_then(|(snapshot, incr)| self.install_base(snapshot, &incr));
        self.finish_rewrite_stats(started, result.is_ok());
        result
    }

    /// Starts [`Aof::rewrite`] (or, when the AOF is not open, [`Aof::start`]) on its own
    /// thread; the rewrite counts as in progress from the moment this returns.
    pub fn spawn_rewrite(self: &Arc<Self>, engine: &Engine) -> Result<(), AofError> {
        self.spawn_job(engine, |aof, engine| {
            if aof.is_open() {
                aof.rotate(engine)
                    .and_then(|(snapshot, incr)| aof.install_base(snapshot, &incr))
            } else {
                aof.start_inner(engine)
            }
        })
    }

    /// BGREWRITEAOF: rewrites an open AOF as [`Aof::spawn_rewrite`] does; while the AOF is
    /// closed (appendonly no) writes only a new base, as Redis 7 does (see
    /// [`Aof::rewrite_closed`]). Runs on its own thread.
    pub fn spawn_bgrewrite(self: &Arc<Self>, engine: &Engine) -> Result<(), AofError> {
        self.spawn_job(engine, |aof, engine| {
            if aof.is_open() {
                aof.rotate(engine)
                    .and_then(|(snapshot, incr)| aof.install_base(snapshot, &incr))
            } else {
                aof.rewrite_closed(engine)
            }
        })
    }

    fn spawn_job(
        self: &Arc<Self>,
        engine: &Engine,
        job: fn(&Arc<Aof>, &Engine) -> Result<(), AofError>,
    ) -> Result<(), AofError> {
        if self.rewriting.swap(true, Ordering::AcqRel) {
            return Err(AofError::RewriteInProgress);
        }
        let (aof, engine) = (self.clone(), engine.clone());
        let spawned = std::thread::Builder::new()
            .name("slotkv-aofrw".into())
            .spawn(move || {
                let started = Instant::now();
                let result = job(&aof, &engine);
                match &result {
                    Ok(()) => tracing::info!("Background AOF rewrite finished successfully"),
                    Err(error) => tracing::warn!("Background AOF rewrite failed: {error}"),
                }
                aof.finish_rewrite_stats(started, result.is_ok());
            });
        spawned.map(drop).map_err(|error| {
            self.rewriting.store(false, Ordering::Release);
            AofError::Io("start the AOF rewrite thread", error)
        })
    }

    fn finish_rewrite_stats(&self, started: Instant, ok: bool) {
        self.last_rewrite_secs
            .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
        self.last_rewrite_ok.store(ok, Ordering::Relaxed);
        self.rewriting.store(false, Ordering::Release);
    }

    /// Switches appending to a new incremental file exactly at a snapshot's offset.
    fn rotate(&self, engine: &Engine) -> Result<(Snapshot, FileInfo), AofError> {
        let mut guard = self.active.lock();
        let active = guard.as_mut().ok_or(AofError::NotOpen)?;
        self.write_out(active)?;
        let incr = self.next_incr(&active.manifest);
        let mut manifest = active.manifest.clone();
        manifest.incr.push(incr.clone());
        self.write_manifest(&manifest)?;
        let other_files_len = active.other_files_len + active.file_len;
        let mut next = self.open_incr(&incr, manifest, other_files_len)?;
        self.pending.lock().marks = Some(Vec::new());
        let snapshot = engine.snapshot();
        let old = self.split_pending(snapshot.offset());
        let finished = active
            .file
            .write_all(&old)
            .and_then(|()| active.file.sync());
        if let Err(error) = finished {
            // Keep every record: the old tail goes back in front of the buffer, the new file
            // stays listed but empty, and appending goes on in the old one.
            let _ = active.file.truncate(active.file_len);
            self.pending.lock().bytes.splice(0..0, old);
            return Err(self.fail("write the AOF", error));
        }
        next.other_files_len += old.len() as u64;
        self.settle_at(snapshot.offset());
        *active = next;
        self.current_size
            .store(active.other_files_len, Ordering::Relaxed);
        Ok((snapshot, incr))
    }

    /// Writes the base from `snapshot`, then makes the manifest name it and the incremental
    /// files from `first_incr` on, and deletes what it no longer names.
    fn install_base(&self, snapshot: Snapshot, first_incr: &FileInfo) -> Result<(), AofError> {
        let rdb = self.rdb_preamble.load(Ordering::Relaxed);
        let base_seq = {
            let guard = self.active.lock();
            guard.as_ref().ok_or(AofError::NotOpen)?.manifest.base_seq() + 1
        };
        let name = Manifest::base_name(&self.filename, base_seq, rdb);
        let base_len = self.write_base_named(&name, snapshot, rdb)?;
        let mut guard = self.active.lock();
        let active = guard.as_mut().ok_or(AofError::NotOpen)?;
        let old = active.manifest.clone();
        let manifest = Manifest {
            base: Some(FileInfo {
                name,
                seq: base_seq,
                kind: FileType::Base,
            }),
            history: Vec::new(),
            incr: old
                .incr
                .iter()
                .filter(|info| info.seq >= first_incr.seq)
                .cloned()
                .collect(),
        };
        self.write_manifest(&manifest)?;
        let kept: Vec<&str> = manifest.load_order().map(|i| i.name.as_str()).collect();
        for info in old.load_order().chain(&old.history) {
            if !kept.contains(&info.name.as_str()) {
                let _ = self.storage.remove(&self.dir.join(&info.name));
            }
        }
        let current = active.manifest.incr.last().map(|i| i.name.clone());
        active.manifest = manifest;
        active.other_files_len = self.files_len(&active.manifest, current.as_deref());
        self.base_size.store(base_len, Ordering::Relaxed);
        self.current_size
            .store(active.other_files_len + active.file_len, Ordering::Relaxed);
        Ok(())
    }

    /// Rewrites while the AOF is closed (BGREWRITEAOF with appendonly no): a new base from a
    /// snapshot and a manifest naming only it; the files of the earlier AOF are deleted, the
    /// base holding all the data. Nothing is appended afterwards, and a failure here is only
    /// reported (INFO's `aof_last_bgrewrite_status`): writes are not refused, as in Redis.
    fn rewrite_closed(&self, engine: &Engine) -> Result<(), AofError> {
        self.storage
            .create_dir(&self.dir)
            .map_err(AofError::io("create the AOF directory"))?;
        let previous = super::load::read_manifest(&self.dir, &self.filename)
            .ok()
            .flatten()
            .unwrap_or_default();
        let rdb = self.rdb_preamble.load(Ordering::Relaxed);
        let seq = previous.base_seq() + 1;
        let name = Manifest::base_name(&self.filename, seq, rdb);
        let base_len = self.write_base_named(&name, engine.snapshot(), rdb)?;
        let manifest = Manifest {
            base: Some(FileInfo {
                name: name.clone(),
                seq,
                kind: FileType::Base,
            }),
            history: Vec::new(),
            incr: Vec::new(),
        };
        let manifest_name = Manifest::file_name(&self.filename);
        let text = manifest.render();
        write_atomically(
            self.storage.as_ref(),
            &self.dir,
            &manifest_name,
            text.as_bytes(),
        )
        .map_err(AofError::io("write the AOF manifest"))?;
        for info in previous.load_order().chain(&previous.history) {
            if info.name != name {
                let _ = self.storage.remove(&self.dir.join(&info.name));
            }
        }
        self.base_size.store(base_len, Ordering::Relaxed);
        Ok(())
    }

    /// Writes a base from `snapshot` into a temporary file and renames it to `name`.
    fn write_base_named(&self, name: &str, snapshot: Snapshot, rdb: bool) -> Result<u64, AofError> {
        let temp = self
            .dir
            .join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
        let base_len = match self.write_base_file(&temp, snapshot, rdb) {
            Ok(len) => len,
            Err(error) => {
                let _ = self.storage.remove(&temp);
                return Err(error);
            }
        };
        self.storage
            .rename(&temp, &self.dir.join(name))
            .map_err(AofError::io("rename the new base"))?;
        Ok(base_len)
    }

    fn write_base_file(&self, path: &Path, snapshot: Snapshot, rdb: bool) -> Result<u64, AofError> {
        let file = self
            .storage
            .create(path)
            .map_err(AofError::io("create the new base"))?;
        let mut out = CountingWriter {
            inner: BufWriter::with_capacity(256 * 1024, file),
            count: 0,
        };
        write_base(&mut out, snapshot, rdb).map_err(AofError::io("write the new base"))?;
        let len = out.count;
        let mut file = out
            .inner
            .into_inner()
            .map_err(|e| AofError::Io("write the new base", e.into_error()))?;
        file.sync().map_err(AofError::io("fsync the new base"))?;
        Ok(len)
    }

    /// Stops appending (CONFIG SET appendonly no): unsubscribes, writes and syncs what is
    /// buffered, closes the file. The files stay as they are.
    pub fn stop(self: &Arc<Self>, engine: &Engine) -> Result<(), AofError> {
        let sink: Arc<dyn PropagationSink> = self.clone();
        engine.unsubscribe(&sink);
        let mut guard = self.active.lock();
        let Some(active) = guard.as_mut() else {
            return Ok(());
        };
        let result = self.write_out(active).and_then(|()| {
            active
                .file
                .sync()
                .map_err(|error| self.fail("fsync the AOF", error))
        });
        *guard = None;
        *self.pending.lock() = Pending::default();
        self.reset_offsets(0);
        self.failed.store(false, Ordering::Release);
        result
    }

    /// The stream offset the records buffered so far end at.
    pub fn buffered_end(&self) -> u64 {
        self.buffered_end.load(Ordering::Acquire)
    }

    /// The stream offset up to which the file is fsynced.
    pub fn synced_end(&self) -> u64 {
        self.synced_end.load(Ordering::Acquire)
    }

    /// Whether records were buffered that [`Aof::commit`] has not made durable yet.
    pub fn needs_commit(&self) -> bool {
        let target = self.buffered_end.load(Ordering::Acquire);
        let reached = if self.fsync_policy() == FsyncPolicy::Always {
            &self.synced_end
        } else {
            &self.written_end
        };
        reached.load(Ordering::Acquire) < target
    }

    /// Makes the records buffered so far durable as the fsync policy asks before a client is
    /// answered: written (`everysec`, `no`) or written and fsynced (`always`). Cheap when
    /// there is nothing new: two atomic loads.
    pub fn commit(&self) -> Result<(), AofError> {
        let target = self.buffered_end.load(Ordering::Acquire);
        let always = self.fsync_policy() == FsyncPolicy::Always;
        let reached = if always {
            &self.synced_end
        } else {
            &self.written_end
        };
        if reached.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        let mut guard = self.active.lock();
        if reached.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        let Some(active) = guard.as_mut() else {
            return Ok(());
        };
        self.write_out(active)?;
        if always {
            let written = self.written_end.load(Ordering::Acquire);
            active
                .file
                .sync()
                .map_err(|error| self.fail("fsync the AOF", error))?;
            self.synced_end.fetch_max(written, Ordering::AcqRel);
            self.recover();
        }
        Ok(())
    }

    /// Writes the buffer to the file; on failure the bytes stay buffered.
    fn write_out(&self, active: &mut Active) -> Result<(), AofError> {
        let (bytes, end) = {
            let mut pending = self.pending.lock();
            (std::mem::take(&mut pending.bytes), pending.end_offset)
        };
        if bytes.is_empty() {
            self.written_end.fetch_max(end, Ordering::AcqRel);
            return Ok(());
        }
        if let Err(error) = active.file.write_all(&bytes) {
            let _ = active.file.truncate(active.file_len);
            self.pending.lock().bytes.splice(0..0, bytes);
            return Err(self.fail("write the AOF", error));
        }
        active.file_len += bytes.len() as u64;
        self.current_size
            .store(active.other_files_len + active.file_len, Ordering::Relaxed);
        self.written_end.fetch_max(end, Ordering::AcqRel);
        if self.fsync_policy() != FsyncPolicy::Always {
            self.recover();
        }
        Ok(())
    }

    fn fail(&self, what: &'static str, error: io::Error) -> AofError {
        let text = os_error_text(&error);
        tracing::warn!("Error trying to {what}: {text}");
        *self.last_error.lock() = text;
        self.failed.store(true, Ordering::Release);
        AofError::Io(what, error)
    }

    fn recover(&self) {
        if self.failed.swap(false, Ordering::AcqRel) {
            tracing::warn!("AOF write error looks solved, Redis can write again.");
        }
    }

    /// The error of the last failed write or fsync, while it is not solved: the server
    /// refuses write commands with `MISCONF Errors writing to the AOF file: <it>`.
    pub fn write_error(&self) -> Option<String> {
        if !self.failed.load(Ordering::Acquire) {
            return None;
        }
        Some(self.last_error.lock().clone())
    }

    /// Runs the background duties (everysec fsync, draining the buffer, retrying after a
    /// failure) on a thread until [`Aof::shutdown`].
    pub fn spawn_background(self: &Arc<Self>) -> io::Result<std::thread::JoinHandle<()>> {
        let aof = self.clone();
        std::thread::Builder::new()
            .name("slotkv-aof".into())
            .spawn(move || aof.background_loop())
    }

    /// Ends the background thread after a last write and fsync.
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::Release);
        *self.wake_lock.lock() = true;
        self.wake.notify_all();
    }

    fn background_loop(&self) {
        let mut last_sync = Instant::now();
        loop {
            {
                let mut woken = self.wake_lock.lock();
                if !*woken {
                    self.wake.wait_for(&mut woken, TICK);
                }
                *woken = false;
            }
            let stopping = self.stopping.load(Ordering::Acquire);
            let sync_due = last_sync.elapsed() >= TICK || stopping;
            if let Some(syncer) = self.drain(sync_due) {
                let written = self.written_end.load(Ordering::Acquire);
                match syncer.lock().sync() {
                    Ok(()) => {
                        self.synced_end.fetch_max(written, Ordering::AcqRel);
                        if self.fsync_policy() != FsyncPolicy::Always {
                            self.recover();
                        }
                    }
                    Err(error) => drop(self.fail("fsync the AOF", error)),
                }
                last_sync = Instant::now();
            }
            if stopping {
                return;
            }
        }
    }

    /// Writes out the buffer; returns the handle to fsync if an fsync is due.
    fn drain(&self, sync_due: bool) -> Option<Arc<Mutex<Box<dyn AppendFile>>>> {
        let mut guard = self.active.lock();
        let active = guard.as_mut()?;
        let _ = self.write_out(active);
        let policy = self.fsync_policy();
        let wants_sync = policy == FsyncPolicy::Everysec
            || (policy == FsyncPolicy::Always && self.failed.load(Ordering::Acquire));
        let behind =
            self.synced_end.load(Ordering::Acquire) < self.written_end.load(Ordering::Acquire);
        (sync_due && wants_sync && (behind || self.failed.load(Ordering::Acquire)))
            .then(|| active.syncer.clone())
    }

    fn reset_offsets(&self, offset: u64) {
        self.buffered_end.store(offset, Ordering::Release);
        self.written_end.store(offset, Ordering::Release);
        self.synced_end.store(offset, Ordering::Release);
    }

    /// Everything before stream offset `at` is written and synced (or in a base): committers
    /// waiting for earlier offsets are done, later records stay buffered.
    fn settle_at(&self, at: u64) {
        self.written_end.store(at, Ordering::Release);
        self.synced_end.store(at, Ordering::Release);
        self.buffered_end.fetch_max(at, Ordering::AcqRel);
    }

    /// Cuts the buffer at stream offset `at` and stops noting positions: returns the bytes of
    /// records before it; records at or after it stay, behind a SELECT of their database.
    fn split_pending(&self, at: u64) -> Vec<u8> {
        let mut pending = self.pending.lock();
        let marks = pending.marks.take().unwrap_or_default();
        let Some(first_new) = marks.iter().find(|mark| mark.offset >= at).copied() else {
            pending.file_db = None;
            return std::mem::take(&mut pending.bytes);
        };
        let mut rest = Vec::with_capacity(pending.bytes.len() - first_new.pos + 32);
        encode_select(first_new.db, &mut rest);
        rest.extend_from_slice(&pending.bytes[first_new.pos..]);
        pending.bytes.truncate(first_new.pos);
        std::mem::replace(&mut pending.bytes, rest)
    }

    fn next_incr(&self, manifest: &Manifest) -> FileInfo {
        let seq = manifest.last_incr_seq() + 1;
        FileInfo {
            name: Manifest::incr_name(&self.filename, seq),
            seq,
            kind: FileType::Incr,
        }
    }

    fn open_incr(
        &self,
        incr: &FileInfo,
        manifest: Manifest,
        other_files_len: u64,
    ) -> Result<Active, AofError> {
        let path = self.dir.join(&incr.name);
        let file = self
            .storage
            .create(&path)
            .map_err(AofError::io("create the AOF"))?;
        self.active(&path, file, 0, manifest, other_files_len)
    }

    /// The incremental file being appended to through `file` (`file_len` bytes long), with a
    /// second handle on it for the fsyncs of the background thread.
    fn active(
        &self,
        path: &Path,
        file: Box<dyn AppendFile>,
        file_len: u64,
        manifest: Manifest,
        other_files_len: u64,
    ) -> Result<Active, AofError> {
        let syncer = self
            .storage
            .append(path)
            .map_err(AofError::io("open the AOF"))?;
        Ok(Active {
            file,
            syncer: Arc::new(Mutex::new(syncer)),
            file_len,
            manifest,
            other_files_len,
        })
    }

    fn write_manifest(&self, manifest: &Manifest) -> Result<(), AofError> {
        let name = Manifest::file_name(&self.filename);
        write_atomically(
            self.storage.as_ref(),
            &self.dir,
            &name,
            manifest.render().as_bytes(),
        )
        .map_err(|error| self.fail("write the AOF manifest", error))
    }

    fn files_len(&self, manifest: &Manifest, except: Option<&str>) -> u64 {
        self.files_len_of(
            manifest
                .load_order()
                .filter(|info| Some(info.name.as_str()) != except),
        )
    }

    fn files_len_of<'a>(&self, files: impl Iterator<Item = &'a FileInfo>) -> u64 {
        files
            .map(|info| self.storage.size(&self.dir.join(&info.name)).unwrap_or(0))
            .sum()
    }

    /// Figures for INFO persistence.
    pub fn status(&self) -> AofStatus {
        AofStatus {
            enabled: self.is_open(),
            rewrite_in_progress: self.rewriting.load(Ordering::Acquire),
            last_rewrite_time_sec: self.last_rewrite_secs.load(Ordering::Relaxed),
            last_bgrewrite_ok: self.last_rewrite_ok.load(Ordering::Relaxed),
            last_write_ok: !self.failed.load(Ordering::Acquire),
            current_size: self.current_size.load(Ordering::Relaxed),
            base_size: self.base_size.load(Ordering::Relaxed),
        }
    }

    /// Whether an automatic rewrite is due: the AOF grew by `percentage` percent over its
    /// size after the last rewrite and is at least `min_size` bytes (Redis's rule).
    pub fn rewrite_due(&self, percentage: u64, min_size: u64) -> bool {
        if percentage == 0 || !self.is_open() || self.rewriting.load(Ordering::Acquire) {
            return false;
        }
        let current = self.current_size.load(Ordering::Relaxed);
        let base = self.base_size.load(Ordering::Relaxed).max(1);
        current >= min_size && current.saturating_sub(base) * 100 / base >= percentage
    }
}

/// INFO persistence's AOF figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AofStatus {
    /// `aof_enabled`.
    pub enabled: bool,
    /// `aof_rewrite_in_progress`.
    pub rewrite_in_progress: bool,
    /// `aof_last_rewrite_time_sec` (-1 before any).
    pub last_rewrite_time_sec: i64,
    /// `aof_last_bgrewrite_status` is `ok`.
    pub last_bgrewrite_ok: bool,
    /// `aof_last_write_status` is `ok`.
    pub last_write_ok: bool,
    /// `aof_current_size`.
    pub current_size: u64,
    /// `aof_base_size`.
    pub base_size: u64,
}

impl PropagationSink for Aof {
    fn on_record(&self, record: &Record<'_>) {
        let Some(name) = record.args.first() else {
            return;
        };
        let mut pending = self.pending.lock();
        let pos = pending.bytes.len();
        if let Some(marks) = pending.marks.as_mut() {
            marks.push(Mark {
                offset: record.offset,
                pos,
                db: record.db,
            });
        }
        if name.eq_ignore_ascii_case(b"SELECT") {
            pending.file_db = Some(record.db);
        } else if pending.file_db != Some(record.db) {
            encode_select(record.db, &mut pending.bytes);
            pending.file_db = Some(record.db);
        }
        encode_resp_array(record.args, &mut pending.bytes);
        pending.end_offset = record.end_offset();
        self.buffered_end
            .store(pending.end_offset, Ordering::Release);
        if pending.bytes.len() >= WAKE_BYTES {
            *self.wake_lock.lock() = true;
            self.wake.notify_one();
        }
    }
}

fn encode_select(db: usize, out: &mut Vec<u8>) {
    let args = [Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())];
    encode_resp_array(&args, out);
}

/// The error's text as strerror prints it (Rust appends " (os error N)").
fn os_error_text(error: &io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(end) => text[..end].to_owned(),
        None => text,
    }
}

/// Seconds since the epoch, for base files' `ctime`.
pub(crate) fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Counts the bytes written through it.
struct CountingWriter<W: Write> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
