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

/// How many times (10 ms apart) a held lock is tried again before
/// [`Error::Locked`].
const LOCK_RETRIES: u32 = 20;

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
        // A child this process is spawning shares its open files between
        // fork and exec, so a lock just released by a closed storage can
        // look held for a moment: retry briefly before blaming an owner.
        let mut attempts = 0;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(DirLock { _file: file }),
                Err(TryLockError::WouldBlock) if attempts < LOCK_RETRIES => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(TryLockError::WouldBlock) => return Err(Error::Locked { dir: dir.to_path_buf(), lock: path }),
                Err(TryLockError::Error(e)) => return Err(io_err("lock", &path)(e)),
            }
        }
    }
}

