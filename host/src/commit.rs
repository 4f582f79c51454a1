//! Group commit: the step workers' write batches, merged into one log
//! write with one fdatasync.
//!
//! There is no writer thread: the first worker to arrive while no write is
//! in flight becomes the writer, takes every batch queued so far (its own
//! and those of workers that arrived meanwhile), writes them as one
//! [`WriteBatch`], and wakes the others (the leader/follower scheme of
//! LevelDB's writer queue). With one worker, or in a simulation driven by
//! one thread, it is a plain write.

use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use polyraft_logstore::{LogStore, WriteBatch};

use crate::metrics::HostMetrics;

struct State {
    queue: Vec<WriteBatch>,
    sync: bool,
    writing: bool,
    /// Tickets below this are written (or failed).
    done: u64,
    next_ticket: u64,
    /// The first failure; the log refuses writes after it.
    failed: Option<String>,
}

/// The host's single path to the log's `write`.
pub(crate) struct Committer {
    log: Arc<dyn LogStore>,
    metrics: Arc<HostMetrics>,
    state: Mutex<State>,
    cv: Condvar,
}

impl Committer {
    pub fn new(log: Arc<dyn LogStore>, metrics: Arc<HostMetrics>) -> Self {
        Committer {
            log,
            metrics,
            state: Mutex::new(State { queue: Vec::new(), sync: false, writing: false, done: 0, next_ticket: 0, failed: None }),
            cv: Condvar::new(),
        }
    }

    /// Writes `batch` (durably when `sync`), possibly together with other
    /// workers' batches. Returns once it is written.
    pub fn write(&self, batch: WriteBatch, sync: bool) -> Result<(), String> {
        let mut st = self.state.lock();
        if let Some(e) = &st.failed {
            return Err(e.clone());
        }
        let ticket = st.next_ticket;
        st.next_ticket += 1;
        st.queue.push(batch);
        st.sync |= sync;
        while st.writing && st.done <= ticket {
            self.cv.wait(&mut st);
        }
        if st.done > ticket {
            return st.failed.clone().map_or(Ok(()), Err);
        }
        // Become the writer for everything queued so far.
        st.writing = true;
        let batches = std::mem::take(&mut st.queue);
        let sync = std::mem::replace(&mut st.sync, false);
        let upto = st.next_ticket;
        drop(st);

        let mut merged = WriteBatch::default();
        for b in batches {
            merged.groups.extend(b.groups);
        }
        let entries: u64 = merged.groups.iter().map(|g| g.entries.len() as u64).sum();
        let res = self.log.write(&merged, sync);
        match &res {
            Ok(stats) => self.metrics.record_write(merged.groups.len() as u64, entries, stats.bytes, stats.syncs),
            Err(_) => self.metrics.log_errors.inc(),
        }

        let mut st = self.state.lock();
        st.writing = false;
        st.done = upto;
        if let Err(e) = res {
            st.failed.get_or_insert_with(|| e.to_string());
        }
        self.cv.notify_all();
        st.failed.clone().map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests;
