//! Tests written to kill cargo-mutants survivors in `core/src/log.rs`
//! (issue 24): the guards that keep committed entries from being
//! overwritten, checked on the log itself.

use std::sync::Arc;

use bytes::Bytes;
use polyraft::log::{EntryId, LogSlice, RaftLog};
use polyraft::logger::{Logger, NoopLogger};
use polyraft::raftpb::Entry;
use polyraft::MemoryStorage;

mod common;
use common::FaultyStorage;

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

fn ent_of(index: u64, payload: usize) -> Entry {
    Entry {
        index,
        term: 1,
        data: Bytes::from(vec![b'x'; payload]),
        ..Default::default()
    }
}

fn size(ents: &[Entry]) -> u64 {
    ents.iter().map(polyraft::raftpb::entry_size).sum()
}

fn indexes(ents: &[Entry]) -> Vec<u64> {
    ents.iter().map(|e| e.index).collect()
}

/// A log whose storage holds `stable` and whose unstable part holds
/// `unstable` (all at term 1), with an applying budget of `budget` bytes.
fn split_log(stable: &[Entry], unstable: Vec<Entry>, budget: u64) -> RaftLog<MemoryStorage> {
    let s = MemoryStorage::new();
    s.append(stable).unwrap();
    let mut log = RaftLog::new_with_size(s, Arc::new(NoopLogger) as Arc<dyn Logger>, budget).unwrap();
    if !unstable.is_empty() {
        log.append_owned(unstable);
    }
    log
}

/// A slice across the storage and the unstable entries joins both parts.
#[test]
fn a_slice_joins_stable_and_unstable_entries() {
    let stable: Vec<Entry> = (1..=3).map(|i| ent_of(i, 1)).collect();
    let log = split_log(&stable, (4..=5).map(|i| ent_of(i, 1)).collect(), u64::MAX);
    assert_eq!(indexes(&log.slice(1, 6, u64::MAX).unwrap()), vec![1, 2, 3, 4, 5]);
    assert_eq!(indexes(&log.slice(2, 6, u64::MAX).unwrap()), vec![2, 3, 4, 5]);
}

/// When the storage cut its part short at the size limit, the unstable
/// entries must not be added after it: the batch would have a gap.
#[test]
fn a_slice_cut_short_by_the_storage_skips_no_entry() {
    let stable = vec![ent_of(1, 1), ent_of(2, 1), ent_of(3, 100)];
    let tail = vec![ent_of(4, 1)];
    let limit = size(&stable[..2]) + size(&tail);
    let log = split_log(&stable, tail, u64::MAX);
    assert_eq!(indexes(&log.slice(1, 5, limit).unwrap()), vec![1, 2]);
}

/// The unstable entries get the part of the size limit the storage's
/// entries left.
#[test]
fn the_unstable_part_of_a_slice_gets_the_budget_left() {
    let stable: Vec<Entry> = (1..=3).map(|i| ent_of(i, 20)).collect();
    let unstable: Vec<Entry> = (4..=6).map(|i| ent_of(i, 20)).collect();
    let one = size(&stable[..1]);
    let log = split_log(&stable, unstable, u64::MAX);
    assert_eq!(indexes(&log.slice(1, 7, 5 * one + one / 2).unwrap()), vec![1, 2, 3, 4, 5]);
    assert_eq!(indexes(&log.slice(1, 7, 4 * one).unwrap()), vec![1, 2, 3, 4]);
}

/// An unstable entry larger than what the limit leaves does not join a
/// non-empty batch (etcd's limitSize keeps one entry only for an empty one).
#[test]
fn an_oversized_unstable_entry_does_not_join_a_stable_batch() {
    let stable: Vec<Entry> = (1..=3).map(|i| ent_of(i, 1)).collect();
    let limit = size(&stable) + 10;
    let log = split_log(&stable, vec![ent_of(4, 100), ent_of(5, 1)], u64::MAX);
    assert_eq!(indexes(&log.slice(1, 6, limit).unwrap()), vec![1, 2, 3]);
    // Alone, it is returned: progress is always possible.
    assert_eq!(indexes(&log.slice(4, 6, 10).unwrap()), vec![4]);
}

/// An empty range is an empty slice; an inverted one is an error, also
/// within the unstable entries.
#[test]
fn slice_bounds() {
    let stable: Vec<Entry> = (1..=3).map(|i| ent_of(i, 1)).collect();
    let log = split_log(&stable, (4..=5).map(|i| ent_of(i, 1)).collect(), u64::MAX);
    assert!(log.slice(2, 2, u64::MAX).unwrap().is_empty());
    assert!(log.slice(5, 5, u64::MAX).unwrap().is_empty());
    assert!(log.slice(5, 4, u64::MAX).is_err());
    assert!(log.slice(3, 2, u64::MAX).is_err());
}

/// While the applying budget is spent, no committed entry is offered,
/// even though some are committed and not yet applying.
#[test]
fn no_committed_entries_are_offered_while_applying_is_paused() {
    let stable: Vec<Entry> = (1..=3).map(|i| ent_of(i, 10)).collect();
    let mut log = split_log(&stable, Vec::new(), 1);
    log.commit_to(3).unwrap();
    assert!(log.has_next_committed_ents(false));
    let batch = log.next_committed_ents(false).unwrap();
    assert_eq!(indexes(&batch), vec![1], "over budget: one entry only");
    log.accept_applying(1, size(&batch), false);
    assert!(!log.has_next_committed_ents(false), "the budget is spent");
    log.applied_to(1, size(&batch));
    assert!(log.has_next_committed_ents(false), "applied: the budget is back");
}

/// A batch the budget cut short pauses applying until it is applied, even
/// when the batch itself used less than the budget (the next entry would
/// not fit): etcd's acceptApplying.
#[test]
fn a_batch_cut_short_by_the_budget_pauses_applying() {
    let stable = vec![ent_of(1, 1), ent_of(2, 100), ent_of(3, 1)];
    let budget = size(&stable[..1]) + 10;
    let mut log = split_log(&stable, Vec::new(), budget);
    log.commit_to(3).unwrap();
    let batch = log.next_committed_ents(false).unwrap();
    assert_eq!(indexes(&batch), vec![1]);
    log.accept_applying(1, size(&batch), false);
    assert!(!log.has_next_committed_ents(false), "cut short: paused");
    log.applied_to(1, size(&batch));
    assert!(log.has_next_committed_ents(false));
    // A batch that reached the last committed entry does not pause.
    let batch = log.next_committed_ents(false).unwrap();
    assert_eq!(indexes(&batch), vec![2]);
    log.applied_to(2, 0);
    let batch = log.next_committed_ents(false).unwrap();
    assert_eq!(indexes(&batch), vec![3]);
    log.accept_applying(3, size(&batch), false);
    assert!(!log.has_next_committed_ents(false), "nothing more is committed");
}

/// When the storage cannot say where the log starts, the log answers the
/// index after the commit index (nothing at or below it is read from the
/// failing storage) and records the failure, which poisons the node.
#[test]
fn a_failing_first_index_answers_after_the_commit_index() {
    for answer in [Err(polyraft::Error::Storage("disk gone".into())), Ok(0)] {
        let s = MemoryStorage::new();
        s.append(&[ent(1, 1), ent(2, 1), ent(3, 1)]).unwrap();
        let mut log = RaftLog::new_with_size(FaultyStorage::new(s), Arc::new(NoopLogger) as Arc<dyn Logger>, u64::MAX).unwrap();
        log.commit_to(2).unwrap();
        assert!(log.take_failure().is_none());
        log.store.set(|f| f.first_index = Some(answer.clone()));
        assert_eq!(log.first_index(), 3, "{answer:?}");
        assert!(log.take_failure().is_some(), "{answer:?}: the failure is recorded");
    }
}

/// `slice_into` appends to a buffer that may hold entries already (a
/// message's): a batch the storage cut short still ends there.
#[test]
fn slice_into_a_non_empty_buffer_stops_where_the_storage_did() {
    let stable = vec![ent_of(1, 1), ent_of(2, 1), ent_of(3, 100)];
    let tail = vec![ent_of(4, 1)];
    let limit = size(&stable[..2]) + size(&tail);
    let log = split_log(&stable, tail, u64::MAX);
    let mut out = vec![ent_of(9, 1)];
    log.slice_into(1, 5, limit, &mut out).unwrap();
    assert_eq!(indexes(&out), vec![9, 1, 2]);
    let mut out = vec![ent_of(9, 1)];
    log.slice_into(1, 5, u64::MAX, &mut out).unwrap();
    assert_eq!(indexes(&out), vec![9, 1, 2, 3, 4]);
}
