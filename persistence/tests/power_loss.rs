//! `appendfsync everysec` under a power loss: at most about two seconds of acknowledged writes
//! are lost. (A killed process loses nothing under any policy: records reach the file with
//! write(2) before the client is answered, and the kernel keeps them. Only what was never
//! fsynced can go, which is what a power loss takes away.)
//!
//! The storage here is the real file system that remembers, per file, how many bytes were
//! fsynced; the "power loss" copies the AOF directory with every file cut back to that length.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use slotkv_engine::{Engine, Reply, Session};
use slotkv_persistence::aof::storage::AppendFile;
use slotkv_persistence::aof::{
    load, Aof, AofOptions, DiskStorage, FsyncPolicy, LoadOptions, Storage,
};

/// Bytes of each file known to be on stable storage.
type Synced = Arc<Mutex<HashMap<PathBuf, u64>>>;

#[derive(Debug, Default)]
struct PowerLossStorage {
    synced: Synced,
}

#[derive(Debug)]
struct TrackedFile {
    inner: Box<dyn AppendFile>,
    path: PathBuf,
    synced: Synced,
}

impl Write for TrackedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl AppendFile for TrackedFile {
    fn sync(&mut self) -> io::Result<()> {
        // The length before the fsync is durable after it (writes may go on meanwhile through
        // another handle: those are not counted).
        let len = fs::metadata(&self.path)?.len();
        self.inner.sync()?;
        let mut synced = self.synced.lock();
        let durable = synced.entry(self.path.clone()).or_default();
        *durable = (*durable).max(len);
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }
}

impl PowerLossStorage {
    fn track(&self, path: &Path, inner: Box<dyn AppendFile>) -> Box<dyn AppendFile> {
        Box::new(TrackedFile {
            inner,
            path: path.to_owned(),
            synced: self.synced.clone(),
        })
    }

    /// What a power loss now would leave of `dir`, copied into `into`: every file cut back to
    /// the bytes fsynced (a file never fsynced is empty).
    fn crash_copy(&self, dir: &Path, into: &Path) {
        let synced = self.synced.lock().clone();
        fs::create_dir_all(into).unwrap();
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let mut bytes = fs::read(&path).unwrap();
            let durable = synced.get(&path).copied().unwrap_or(0);
            bytes.truncate(usize::try_from(durable).unwrap());
            fs::write(into.join(path.file_name().unwrap()), bytes).unwrap();
        }
    }
}

impl Storage for PowerLossStorage {
    fn append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        Ok(self.track(path, DiskStorage.append(path)?))
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        self.synced.lock().remove(path);
        Ok(self.track(path, DiskStorage.create(path)?))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        DiskStorage.rename(from, to)?;
        let mut synced = self.synced.lock();
        let durable = synced.remove(from).unwrap_or(0);
        synced.insert(to.to_owned(), durable);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.synced.lock().remove(path);
        DiskStorage.remove(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        DiskStorage.sync_dir(dir)
    }

    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        DiskStorage.create_dir(dir)
    }

    fn size(&self, path: &Path) -> io::Result<u64> {
        DiskStorage.size(path)
    }
}

fn set(engine: &Engine, session: &mut Session, i: usize) {
    let text = i.to_string();
    let args = [
        Bytes::from_static(b"SET"),
        Bytes::from(format!("k{i}")),
        Bytes::from(text),
    ];
    assert_eq!(engine.execute_in(session, &args), Reply::Ok);
}

fn is_present(engine: &Engine, session: &mut Session, i: usize) -> bool {
    let args = [Bytes::from_static(b"GET"), Bytes::from(format!("k{i}"))];
    engine.execute_in(session, &args) == Reply::bulk(i.to_string().as_bytes())
}

#[test]
fn everysec_loses_at_most_about_two_seconds_of_acknowledged_writes() {
    let dir = tempfile::tempdir().unwrap();
    let aof_dir = dir.path().join("appendonlydir");
    let storage = Arc::new(PowerLossStorage::default());
    let engine = Engine::open(slotkv_engine::Config::default()).unwrap();
    let options = AofOptions {
        dir: aof_dir.clone(),
        filename: "appendonly.aof".into(),
        fsync: FsyncPolicy::Everysec,
        rdb_preamble: true,
    };
    let aof = Aof::new(storage.clone(), &options);
    aof.start(&engine).unwrap();
    let background = aof.spawn_background().unwrap();
    // A writer acknowledging sequential writes (committed as a server does before replying),
    // about 20,000 a second, noting when each was acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (engine, aof, stop) = (engine.clone(), aof.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut session = Session::new();
            let mut acked_at = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..20 {
                    set(&engine, &mut session, acked_at.len());
                    aof.commit().unwrap();
                    acked_at.push(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            acked_at
        })
    };
    std::thread::sleep(Duration::from_millis(3300));
    let crashed_at = Instant::now();
    let survived = dir.path().join("after-power-loss");
    storage.crash_copy(&aof_dir, &survived);
    stop.store(true, Ordering::Relaxed);
    let acked_at = writer.join().unwrap();
    aof.shutdown();
    background.join().unwrap();

    let loaded = Engine::open(slotkv_engine::Config::default()).unwrap();
    load(&survived, "appendonly.aof", &loaded, LoadOptions::default())
        .unwrap()
        .expect("an AOF");
    let mut session = Session::new();
    let kept = (0..acked_at.len())
        .take_while(|&i| is_present(&loaded, &mut session, i))
        .count();
    assert!(
        (kept..acked_at.len()).all(|i| !is_present(&loaded, &mut session, i)),
        "the writes kept are a prefix"
    );
    let acknowledged_before_crash = acked_at.iter().filter(|&&at| at <= crashed_at).count();
    let lost = acknowledged_before_crash.saturating_sub(kept);
    let window = acked_at
        .get(kept)
        .filter(|&&at| at <= crashed_at)
        .map_or(Duration::ZERO, |&first_lost| crashed_at - first_lost);
    eprintln!(
        "power loss under everysec: {lost} of {acknowledged_before_crash} acknowledged writes \
         lost, the last {:.3} s",
        window.as_secs_f64()
    );
    assert!(kept > 0, "a second's fsync happened in 3.3 s");
    assert!(
        window <= Duration::from_secs(2),
        "{lost} acknowledged writes lost, {window:?} of writes"
    );
}
