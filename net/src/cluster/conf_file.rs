//! nodes.conf on disk: written atomically (temporary file, then rename over the old one),
//! never an older version over a newer one.
//!
//! Why two paths: a change of an epoch or of the last vote must be on disk before the node
//! acts on it (a restarted node must never vote twice in an epoch or reuse one), so it is
//! written and fsynced at once, before any bus message goes out. Every other change (slots,
//! addresses, flags) is handed to a writer thread that keeps only the newest text, so a
//! burst of CLUSTER SETSLOT during a reshard costs no disk wait per command, as Redis
//! writes such changes without fsync once per event loop.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

/// What was last written.
#[derive(Debug, Default)]
struct Written {
    version: u64,
    /// The `vars currentEpoch ... lastVoteEpoch ...` line.
    vars: String,
}

/// This node's nodes.conf.
#[derive(Debug)]
pub struct ConfigFile {
    path: PathBuf,
    written: Mutex<Written>,
    /// The newest text waiting for the writer thread.
    pending: Mutex<Option<(u64, String)>>,
    wake: Condvar,
}

/// The `vars` line of a nodes.conf text.
fn vars_line(text: &str) -> &str {
    text.lines().find(|l| l.starts_with("vars ")).unwrap_or("")
}

impl ConfigFile {
    /// The file at `path`, with its writer thread (which ends when the file is dropped).
    pub fn open(path: PathBuf) -> Arc<ConfigFile> {
        let file = Arc::new(ConfigFile {
            path,
            written: Mutex::new(Written::default()),
            pending: Mutex::new(None),
            wake: Condvar::new(),
        });
        let weak = Arc::downgrade(&file);
        let spawned = std::thread::Builder::new()
            .name("slotkv-nodes-conf".into())
            .spawn(move || write_pending_forever(&weak));
        if let Err(error) = spawned {
            tracing::warn!("No nodes.conf writer thread ({error}): writing inline");
        }
        file
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Saves `text` (state version `version`): at once and durably when its epochs changed,
    /// otherwise through the writer thread.
    pub fn save(&self, version: u64, text: String) {
        let durable = vars_line(&text) != self.written.lock().vars;
        if durable {
            self.report(self.write(version, &text, true));
        } else {
            *self.pending.lock() = Some((version, text));
            self.wake.notify_one();
        }
    }

    /// Writes `text` now, fsynced (CLUSTER SAVECONFIG, shutdown).
    pub fn save_now(&self, version: u64, text: &str) -> std::io::Result<()> {
        self.write(version, text, true)
    }

    /// Writes what waits for the writer thread, if anything (shutdown).
    pub fn flush(&self) {
        let pending = self.pending.lock().take();
        if let Some((version, text)) = pending {
            self.report(self.write(version, &text, true));
        }
    }

    fn write(&self, version: u64, text: &str, durable: bool) -> std::io::Result<()> {
        let mut written = self.written.lock();
        if version < written.version {
            return Ok(());
        }
        write_atomically(&self.path, text.as_bytes(), durable)?;
        written.version = version;
        written.vars = vars_line(text).to_owned();
        Ok(())
    }

    fn report(&self, result: std::io::Result<()>) {
        if let Err(error) = result {
            tracing::warn!(
                "Could not save the cluster config file {}: {error}",
                self.path.display()
            );
        }
    }
}

fn write_pending_forever(file: &Weak<ConfigFile>) {
    loop {
        let Some(file) = file.upgrade() else {
            return;
        };
        let next = {
            let mut pending = file.pending.lock();
            if pending.is_none() {
                file.wake.wait_for(&mut pending, Duration::from_secs(1));
            }
            pending.take()
        };
        if let Some((version, text)) = next {
            file.report(file.write(version, &text, false));
        }
    }
}

/// Replaces `path` with `bytes`: temporary file, rename; with `durable`, the file and then
/// the directory are fsynced too.
fn write_atomically(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("nodes.conf");
    let temp = dir.join(format!("{name}.tmp-{}", std::process::id()));
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(bytes)?;
    if durable {
        file.sync_all()?;
    }
    drop(file);
    std::fs::rename(&temp, path)?;
    if durable {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(epoch: u64, slots: &str) -> String {
        format!("abc myself,master - 0 0 {epoch} connected {slots}\nvars currentEpoch {epoch} lastVoteEpoch 0\n")
    }

    #[test]
    fn newest_version_wins_and_epochs_are_written_at_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = ConfigFile::open(dir.path().join("nodes.conf"));
        file.save(2, text(1, "0-10"));
        // An epoch change is on disk when `save` returns.
        assert_eq!(
            std::fs::read_to_string(file.path()).ok(),
            Some(text(1, "0-10"))
        );
        file.save(3, text(1, "0-20"));
        file.save(1, text(0, "stale"));
        file.flush();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(file.path()).ok() != Some(text(1, "0-20")) {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer thread never wrote"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // An older version is never written over a newer one.
        assert!(file.save_now(1, &text(0, "stale")).is_ok());
        assert_eq!(
            std::fs::read_to_string(file.path()).ok(),
            Some(text(1, "0-20"))
        );
    }
}
