//! Group commit under concurrent workers (issue 24: cargo-mutants found
//! the ticket protocol unchecked, since the simulator drives every worker
//! from one thread). A log whose writes block until the test releases them
//! shows which batches each write carries and when each worker returns.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use polyraft::raftpb::{Entry, HardState};
use polyraft_logstore::{Error, GroupWrite, LogStore, MemLogStore, PurgeStats, WriteBatch, WriteStats};

use super::Committer;
use crate::metrics::HostMetrics;

/// What the gated log saw: per write, its groups and sync flag, and how
/// many writes the test has let through.
#[derive(Default)]
struct Gate {
    writes: Vec<(Vec<u64>, bool)>,
    released: usize,
}

/// A MemLogStore whose n-th write waits until the test releases n writes.
struct GatedLog {
    inner: MemLogStore,
    gate: Mutex<Gate>,
    cv: Condvar,
}

impl GatedLog {
    fn new() -> Self {
        GatedLog { inner: MemLogStore::new(), gate: Mutex::new(Gate::default()), cv: Condvar::new() }
    }

    fn release(&self, n: usize) {
        self.gate.lock().released = n;
        self.cv.notify_all();
    }

    fn writes(&self) -> Vec<(Vec<u64>, bool)> {
        self.gate.lock().writes.clone()
    }

    /// Waits (at most 10 s) until `n` writes have started.
    fn wait_started(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut g = self.gate.lock();
        while g.writes.len() < n {
            assert!(!self.cv.wait_until(&mut g, deadline).timed_out(), "write {n} never started: {:?}", g.writes);
        }
    }
}

impl LogStore for GatedLog {
    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<WriteStats, Error> {
        let mut g = self.gate.lock();
        g.writes.push((batch.groups.iter().map(|w| w.group).collect(), sync));
        let me = g.writes.len();
        self.cv.notify_all();
        while g.released < me {
            self.cv.wait(&mut g);
        }
        drop(g);
        self.inner.write(batch, sync)
    }
    polyraft_logstore::forward_log_reads!(inner);
    fn purge(&self) -> Result<PurgeStats, Error> {
        self.inner.purge()
    }
}

/// Group `group`'s first entry at term 1.
fn batch(group: u64) -> WriteBatch {
    WriteBatch {
        groups: vec![GroupWrite {
            group,
            entries: vec![Entry { index: 1, term: 1, ..Default::default() }],
            hard_state: Some(HardState { term: 1, vote: 0, commit: 0 }),
            snapshot: None,
        }],
    }
}

/// Waits (at most 10 s) until `cond` holds on the committer's state.
fn wait_state(c: &Committer, what: &str, cond: impl Fn(&super::State) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond(&c.state.lock()) {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Worker 1 writes alone; workers 2 and 3, arriving during that write,
/// wait, and their batches go out together in the next write, with the
/// sync either asked for. No worker returns before the write holding its
/// batch is done, and no worker writes again what another wrote.
#[test]
fn waiting_workers_batches_are_written_together_before_they_return() {
    let log = Arc::new(GatedLog::new());
    let c = Arc::new(Committer::new(log.clone(), Arc::new(HostMetrics::default())));
    let returned = Arc::new(Mutex::new(Vec::new()));
    let spawn = |group: u64, sync: bool| {
        let (c, returned) = (c.clone(), returned.clone());
        thread::spawn(move || {
            let r = c.write(batch(group), sync);
            returned.lock().push(group);
            r
        })
    };
    let w1 = spawn(1, true);
    log.wait_started(1);
    let w2 = spawn(2, false);
    wait_state(&c, "worker 2 is queued", |s| s.next_ticket == 2);
    let w3 = spawn(3, true);
    wait_state(&c, "worker 3 is queued", |s| s.next_ticket == 3);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(log.writes(), vec![(vec![1], true)], "a worker wrote while another write was in flight");
    assert!(returned.lock().is_empty(), "a worker returned before its write: {:?}", returned.lock());

    log.release(1);
    log.wait_started(2);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(*returned.lock(), vec![1], "only worker 1's batch is written");
    assert_eq!(log.writes()[1], (vec![2, 3], true), "the waiting batches, merged, synced as one of them asked");

    log.release(2);
    let deadline = Instant::now() + Duration::from_secs(10);
    while returned.lock().len() < 3 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    // Let any further write through before judging, so no thread hangs.
    log.release(usize::MAX);
    for (g, w) in [(1, w1), (2, w2), (3, w3)] {
        assert_eq!(w.join().unwrap(), Ok(()), "worker {g}");
    }
    assert_eq!(log.writes().len(), 2, "a batch already written was written again: {:?}", log.writes());
    for g in 1..=3 {
        assert_eq!(log.inner.last_index(g), 1, "group {g}'s entry is in the log");
    }
}
