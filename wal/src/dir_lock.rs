//! The directory lock: one open [`crate::DurableStorage`] per directory.
//!
//! Two writers on one WAL would interleave records and delete each other's
//! segments, so [`DirLock::acquire`] takes an exclusive, non-blocking lock
//! on the file `LOCK` (`flock` on Unix, `LockFileEx` on Windows). Such a
//! lock belongs to the open file, so a second open in the same process is
//! refused just like one in another process, and the operating system
//! releases it when the file is closed or the process dies: a crash never
//! leaves a stale lock behind. The file itself stays (it holds nothing).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::{io_err, Error, Result};

/// The lock file's name inside the storage directory.
pub(crate) const LOCK_FILE: &str = "LOCK";

/// A held directory lock; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct DirLock {
    /// Kept open for as long as the lock is held.
    _file: File,
}

impl DirLock {
    /// Locks `dir`, or fails with [`Error::Locked`] if another open
    /// storage holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err("open lock file", &path))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(Error::Locked { dir: dir.to_path_buf(), lock: path }),
            Err(TryLockError::Error(e)) => Err(io_err("lock", &path)(e)),
        }
    }
}

