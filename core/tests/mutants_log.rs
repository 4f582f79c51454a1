//! Tests written to kill cargo-mutants survivors in `core/src/log.rs`
//! (issue 24): the guards that keep committed entries from being
//! overwritten, checked on the log itself.

use std::sync::Arc;

use bytes::Bytes;
use polyraft::log::{EntryId, LogSlice, RaftLog};
use polyraft::logger::{Logger, NoopLogger};
use polyraft::raftpb::Entry;
use polyraft::MemoryStorage;

fn ent(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        data: Bytes::from_static(b"x"),
        ..Default::default()
    }
}

/// A log whose storage holds entries 1..=3 at term 1, committed up to
/// `committed`.
fn log_committed_to(committed: u64) -> RaftLog<MemoryStorage> {
    let s = MemoryStorage::new();
    s.append(&[ent(1, 1), ent(2, 1), ent(3, 1)]).unwrap();
    let mut log =
        RaftLog::new_with_size(s, Arc::new(NoopLogger) as Arc<dyn Logger>, u64::MAX).unwrap();
    log.commit_to(committed).unwrap();
    log
}

fn ids(log: &RaftLog<MemoryStorage>) -> Vec<(u64, u64)> {
    log.all_entries()
        .iter()
        .map(|e| (e.index, e.term))
        .collect()
}

/// An append whose first entry is the committed one would replace it: etcd
/// panics ("after(%d) is out of range [committed(%d)]"); polyraft refuses,
/// keeps the log as it was and records the broken invariant.
#[test]
fn append_over_the_committed_entry_is_refused() {
    let mut log = log_committed_to(2);
    let before = ids(&log);
    assert_eq!(log.append_owned(vec![ent(2, 2), ent(3, 2)]), 3);
    assert_eq!(ids(&log), before, "a committed entry was overwritten");
    assert_eq!(log.committed, 2);
    let failure = log
        .take_failure()
        .expect("the refused append must be recorded");
    assert!(failure.to_string().contains("committed(2)"), "{failure}");
}

/// Further below the commit index, the same refusal.
#[test]
fn append_below_the_committed_entry_is_refused() {
    let mut log = log_committed_to(3);
    let before = ids(&log);
    assert_eq!(log.append(&[ent(2, 2)]), 3);
    assert_eq!(ids(&log), before);
    assert!(log.take_failure().is_some());
}

/// Right after the commit index the append is legal: it replaces the
/// uncommitted suffix, and nothing is recorded as a failure.
#[test]
fn append_after_the_committed_entry_truncates_the_uncommitted_suffix() {
    let mut log = log_committed_to(2);
    assert_eq!(log.append_owned(vec![ent(3, 2), ent(4, 2)]), 4);
    assert_eq!(ids(&log), vec![(1, 1), (2, 1), (3, 2), (4, 2)]);
    assert!(log.take_failure().is_none());
}

/// An empty append changes nothing, even with everything committed.
#[test]
fn empty_append_is_a_no_op() {
    let mut log = log_committed_to(3);
    assert_eq!(log.append_owned(Vec::new()), 3);
    assert!(log.take_failure().is_none());
}

/// A leader's append that conflicts with a committed entry (only a corrupt
/// or hostile leader sends one) is refused as a whole: the log and the
/// commit index stay as they were.
#[test]
fn maybe_append_conflicting_with_a_committed_entry_is_refused() {
    let mut log = log_committed_to(2);
    let before = ids(&log);
    let a = LogSlice {
        term: 2,
        prev: EntryId { term: 1, index: 1 },
        entries: vec![ent(2, 2), ent(3, 2)],
    };
    assert!(log.maybe_append(a, 3).is_err());
    assert_eq!(ids(&log), before);
    assert_eq!(log.committed, 2);
    // The first uncommitted entry may be replaced.
    let a = LogSlice {
        term: 2,
        prev: EntryId { term: 1, index: 2 },
        entries: vec![ent(3, 2)],
    };
    assert_eq!(log.maybe_append(a, 3).unwrap(), Some(3));
    assert_eq!(ids(&log), vec![(1, 1), (2, 1), (3, 2)]);
    assert_eq!(log.committed, 3);
}
