//! The file operations the AOF writer uses, behind a trait so tests can make them fail on
//! demand (a full disk, a failing fsync) and check that no acknowledged write is ever lost
//! silently.
//!
//! - [`DiskStorage`]: the real file system.
//! - [`FaultyStorage`]: the real file system, except that writes, fsyncs or both fail with
//!   `ENOSPC`/`EIO` while a [`Faults`] switch says so.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A file the writer appends to.
pub trait AppendFile: Write + Send + std::fmt::Debug {
    /// Makes everything written so far durable (fdatasync).
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file back to `len` bytes (after a partial write).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

/// The file operations of the AOF.
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Opens `path` for appending, creating it if needed.
    fn append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>>;
    /// Creates (or empties) `path` for writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn AppendFile>>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file (a missing file is not an error).
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creations, renames) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Creates the directory if it does not exist.
    fn create_dir(&self, dir: &Path) -> io::Result<()>;
    /// Size of a file in bytes.
    fn size(&self, path: &Path) -> io::Result<u64>;
}

/// Writes `bytes` to `dir/name` atomically: a temporary file, fsync, rename, fsync of the
/// directory. A crash leaves either the old file or the new one.
pub fn write_atomically(
    storage: &dyn Storage,
    dir: &Path,
    name: &str,
    bytes: &[u8],
) -> io::Result<()> {
    let temp = dir.join(format!("temp-{name}"));
    let mut file = storage.create(&temp)?;
    file.write_all(bytes)?;
    file.sync()?;
    drop(file);
    storage.rename(&temp, &dir.join(name))?;
    storage.sync_dir(dir)
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct DiskStorage;

#[derive(Debug)]
struct DiskFile(File);

impl Write for DiskFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AppendFile for DiskFile {
    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}

impl Storage for DiskStorage {
    fn append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        let file = OpenOptions::new().append(true).create(true).open(path)?;
        Ok(Box::new(DiskFile(file)))
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        Ok(Box::new(DiskFile(File::create(path)?)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        match fs::remove_file(path) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn size(&self, path: &Path) -> io::Result<u64> {
        Ok(fs::metadata(path)?.len())
    }
}

/// Switches for [`FaultyStorage`]: while one is on, the matching operation fails.
#[derive(Debug, Default)]
pub struct Faults {
    /// Writes fail with `ENOSPC` (nothing is written).
    pub fail_writes: AtomicBool,
    /// Fsyncs fail with `EIO`.
    pub fail_syncs: AtomicBool,
}

impl Faults {
    fn write_error(&self) -> Option<io::Error> {
        self.fail_writes
            .load(Ordering::Relaxed)
            .then(|| io::Error::from_raw_os_error(ENOSPC))
    }

    fn sync_error(&self) -> Option<io::Error> {
        self.fail_syncs
            .load(Ordering::Relaxed)
            .then(|| io::Error::from_raw_os_error(EIO))
    }
}

/// `ENOSPC` on Linux: "No space left on device".
const ENOSPC: i32 = 28;
/// `EIO` on Linux: "Input/output error".
const EIO: i32 = 5;

/// The real file system with failures switched on and off by a shared [`Faults`].
#[derive(Debug, Clone, Default)]
pub struct FaultyStorage {
    /// The switches.
    pub faults: Arc<Faults>,
}

#[derive(Debug)]
struct FaultyFile {
    file: DiskFile,
    faults: Arc<Faults>,
}

impl Write for FaultyFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.faults.write_error() {
            Some(error) => Err(error),
            None => self.file.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AppendFile for FaultyFile {
    fn sync(&mut self) -> io::Result<()> {
        match self.faults.sync_error() {
            Some(error) => Err(error),
            None => self.file.sync(),
        }
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.truncate(len)
    }
}

impl FaultyStorage {
    fn wrap(
        &self,
        file: io::Result<Box<dyn AppendFile>>,
        path: &Path,
    ) -> io::Result<Box<dyn AppendFile>> {
        drop(file?);
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Box::new(FaultyFile {
            file: DiskFile(file),
            faults: self.faults.clone(),
        }))
    }
}

impl Storage for FaultyStorage {
    fn append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        self.wrap(DiskStorage.append(path), path)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        if let Some(error) = self.faults.write_error() {
            return Err(error);
        }
        self.wrap(DiskStorage.create(path), path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        DiskStorage.rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        DiskStorage.remove(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        match self.faults.sync_error() {
            Some(error) => Err(error),
            None => DiskStorage.sync_dir(dir),
        }
    }

    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        DiskStorage.create_dir(dir)
    }

    fn size(&self, path: &Path) -> io::Result<u64> {
        DiskStorage.size(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_faults_switch_on_and_off() {
        let dir = tempfile::tempdir().unwrap();
        write_atomically(&DiskStorage, dir.path(), "m", b"one").unwrap();
        write_atomically(&DiskStorage, dir.path(), "m", b"two").unwrap();
        assert_eq!(fs::read(dir.path().join("m")).unwrap(), b"two");
        assert!(!dir.path().join("temp-m").exists());

        let storage = FaultyStorage::default();
        let path = dir.path().join("f");
        let mut file = storage.append(&path).unwrap();
        file.write_all(b"ok").unwrap();
        storage.faults.fail_writes.store(true, Ordering::Relaxed);
        let error = file.write_all(b"lost").unwrap_err();
        assert_eq!(error.raw_os_error(), Some(ENOSPC));
        storage.faults.fail_writes.store(false, Ordering::Relaxed);
        storage.faults.fail_syncs.store(true, Ordering::Relaxed);
        file.write_all(b"!").unwrap();
        assert!(file.sync().is_err());
        assert_eq!(fs::read(&path).unwrap(), b"ok!");
    }
}
