//! A log store wrapper whose writes can be made to block: a disk that stops
//! acknowledging writes (hashicorp/raft#503's leader disk stall), for tests
//! and fault drills on real processes.

use parking_lot::{Condvar, Mutex};

use crate::{Error, LogStore, PurgeStats, WriteBatch, WriteStats};

/// Wraps a [`LogStore`]. While stalled, [`LogStore::write`] and
/// [`LogStore::purge`] (which writes too) wait inside the call, before
/// touching the inner log, until the stall ends; reads are served by the
/// inner log as usual. Not stalled, every call goes straight through.
pub struct StallableLogStore<L> {
    inner: L,
    stalled: Mutex<bool>,
    resumed: Condvar,
}

impl<L: LogStore> StallableLogStore<L> {
    /// Wraps `inner`, not stalled.
    pub fn new(inner: L) -> Self {
        StallableLogStore { inner, stalled: Mutex::new(false), resumed: Condvar::new() }
    }

    /// Starts (`true`) or ends (`false`) the stall; ending it releases
    /// every blocked writer.
    pub fn set_stalled(&self, on: bool) {
        *self.stalled.lock() = on;
        self.resumed.notify_all();
    }

    /// Whether writes block now.
    pub fn is_stalled(&self) -> bool {
        *self.stalled.lock()
    }

    /// The wrapped log.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    fn wait_while_stalled(&self) {
        let mut stalled = self.stalled.lock();
        while *stalled {
            self.resumed.wait(&mut stalled);
        }
    }
}

impl<L: LogStore> LogStore for StallableLogStore<L> {
    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<WriteStats, Error> {
        self.wait_while_stalled();
        self.inner.write(batch, sync)
    }
    crate::forward_log_reads!(inner);
    fn purge(&self) -> Result<PurgeStats, Error> {
        self.wait_while_stalled();
        self.inner.purge()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::MemLogStore;

    #[test]
    fn a_write_waits_for_the_stall_to_end_and_reads_go_on() {
        let log = Arc::new(StallableLogStore::new(MemLogStore::new()));
        log.set_stalled(true);
        let writer = {
            let log = log.clone();
            std::thread::spawn(move || log.write(&WriteBatch::default(), true).map(|_| ()))
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!writer.is_finished(), "a write completed during the stall");
        assert!(log.groups().is_empty(), "reads are served while stalled");
        log.set_stalled(false);
        writer.join().unwrap().unwrap();
        assert!(!log.is_stalled());
    }
}
