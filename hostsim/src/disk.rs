//! The simulated disk: a [`LogStore`] over [`MemLogStore`] (which loses
//! unsynced records in a crash and keeps a prefix of them for a torn tail)
//! with injected faults:
//!
//! - **crash mid-write**: the next write reaches the log unsynced and the
//!   process dies inside it; the simulator then crashes the host, keeping a
//!   random prefix of the unsynced records (a torn write);
//! - **fsync error**: the next write fails after its records were written
//!   (they may or may not survive); the log refuses writes until the host
//!   restarts (fsyncgate: a failed fsync cannot be retried);
//! - **ENOSPC**: writes fail with nothing written while the disk is full;
//! - **stall**: writes do not complete until a given time. The engine's
//!   worker is blocked in the write meanwhile, so the simulator stops
//!   running the host until then, and frames the host sends after the
//!   write wait for the end of the stall too. The simulator cannot block
//!   inside the write, and the rest of the worker's round (which in a real
//!   host happens after the write returns) runs at once; so the write is
//!   made durable at once too, and the stall is a pause right after it. A
//!   crash during the stall keeps the write (crashes inside a write are
//!   their own fault).

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use polyraft_host::{Clock, LogStore, MemLogStore, SimClock};
use polyraft_logstore::{Error, PurgeStats, WriteBatch, WriteStats};

use crate::net::SimNet;

/// The faults armed on one host's disk, and what happened.
#[derive(Debug, Default)]
pub struct DiskCtl {
    /// The next write kills the process in the middle.
    pub crash_in_next_write: bool,
    /// The process died inside a write: the simulator must crash the host.
    pub died: bool,
    /// The next write fails like an fdatasync error.
    pub fail_next_fsync: bool,
    /// Writes fail with ENOSPC until cleared.
    pub full: bool,
    /// A write failed: the host's log refuses writes until it restarts.
    pub write_failed: bool,
    /// Writes do not complete before this time.
    pub stalled_until: Option<Duration>,
    /// A write hit the stall: the host is blocked until `stalled_until`.
    pub blocked: bool,
}

/// One host's simulated disk (cheap to clone: the simulator keeps one).
#[derive(Clone)]
pub struct SimDisk {
    /// The log's contents, kept across restarts of the host.
    pub log: MemLogStore,
    /// Armed faults.
    pub ctl: Arc<Mutex<DiskCtl>>,
    host: u64,
    clock: SimClock,
    net: SimNet,
}

fn io_error(context: &str, kind: std::io::ErrorKind, what: &str) -> Error {
    Error::Io { context: context.into(), source: std::io::Error::new(kind, what.to_string()) }
}

impl SimDisk {
    /// A new empty disk of `host`.
    pub fn new(host: u64, clock: SimClock, net: SimNet) -> Self {
        SimDisk { log: MemLogStore::new(), ctl: Arc::default(), host, clock, net }
    }

    /// Ends a stall: the host runs again.
    pub fn end_stall(&self) {
        let mut c = self.ctl.lock();
        c.stalled_until = None;
        c.blocked = false;
    }

    /// Whether writes fail now (full, failed, or the process died in one):
    /// starting a replica, which may write, can fail.
    pub fn failing(&self) -> bool {
        let c = self.ctl.lock();
        c.full || c.write_failed || c.died
    }

    /// The host crashed: the log keeps `keep` of its unsynced records
    /// (a torn tail), pending faults are disarmed (a full disk stays full).
    pub fn crash(&self, keep: usize) {
        let mut c = self.ctl.lock();
        let full = c.full;
        *c = DiskCtl { full, ..Default::default() };
        self.log.crash_keeping(keep);
    }
}

impl LogStore for SimDisk {
    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<WriteStats, Error> {
        let mut c = self.ctl.lock();
        if c.died {
            return Err(io_error("log write", std::io::ErrorKind::Other, "the process is dead"));
        }
        if c.crash_in_next_write {
            c.crash_in_next_write = false;
            c.died = true;
            drop(c);
            // The records reach the file, the sync never happens.
            let _ = self.log.write(batch, false);
            return Err(io_error("log write", std::io::ErrorKind::Other, "the process died during the write (simulated)"));
        }
        if c.full {
            c.write_failed = true;
            return Err(io_error("log write", std::io::ErrorKind::StorageFull, "no space left on device (simulated)"));
        }
        if c.fail_next_fsync {
            c.fail_next_fsync = false;
            c.write_failed = true;
            drop(c);
            self.log.fail_next_write();
            return self.log.write(batch, sync);
        }
        if let Some(until) = c.stalled_until.filter(|u| *u > self.clock.now()) {
            c.blocked = true;
            drop(c);
            self.net.hold(self.host, until);
            return self.log.write(batch, sync);
        }
        drop(c);
        self.log.write(batch, sync)
    }
    polyraft_logstore::forward_log_reads!(log);
    fn purge(&self) -> Result<PurgeStats, Error> {
        self.log.purge()
    }
}

/// A host's clock: the cluster's simulated time plus the host's own
/// offset, which jumps forward when the simulator injects a clock jump
/// (a suspended VM resuming, NTP stepping the clock). Never goes back.
#[derive(Clone)]
pub struct HostClock {
    /// The cluster's time.
    pub base: SimClock,
    /// Nanoseconds this host's clock is ahead.
    pub offset: Arc<std::sync::atomic::AtomicU64>,
}

impl HostClock {
    /// Jumps this host's clock forward by `d`.
    pub fn jump(&self, d: Duration) {
        self.offset.fetch_add(d.as_nanos() as u64, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for HostClock {
    fn now(&self) -> Duration {
        self.base.now() + Duration::from_nanos(self.offset.load(std::sync::atomic::Ordering::SeqCst))
    }
}
