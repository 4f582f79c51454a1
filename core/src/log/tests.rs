//! raftLog behaviour: conflicts, appends, commits, slices across the
//! stable/unstable boundary, and applying budgets.

use super::*;
use crate::logger::NoopLogger;
use crate::storage::MemoryStorage;

fn ent(i: u64, t: u64) -> Entry {
    Entry { index: i, term: t, ..Default::default() }
}

fn new_log(s: MemoryStorage) -> RaftLog<MemoryStorage> {
    RaftLog::new_with_size(s, Arc::new(NoopLogger), u64::MAX).unwrap()
}

#[test]
fn maybe_append_finds_conflicts() {
    let mut l = new_log(MemoryStorage::new());
    l.append(&[ent(1, 1), ent(2, 2), ent(3, 3)]);
    let id = |t, i| EntryId { term: t, index: i };
    // Mismatched prev: refused.
    assert_eq!(l.maybe_append(LogSlice { term: 3, prev: id(2, 3), entries: vec![] }, 3).unwrap(), None);
    // Matching prefix: nothing rewritten, commit follows min(commit, last new).
    assert_eq!(l.maybe_append(LogSlice { term: 3, prev: id(1, 1), entries: vec![ent(2, 2)] }, 3).unwrap(), Some(2));
    assert_eq!((l.committed, l.last_index()), (2, 3));
    // Conflict at 3: overwritten.
    assert_eq!(
        l.maybe_append(LogSlice { term: 4, prev: id(2, 2), entries: vec![ent(3, 4), ent(4, 4)] }, 2).unwrap(),
        Some(4)
    );
    assert_eq!(l.term(3).unwrap(), 4);
    // Conflict with a committed entry is fatal, not a panic.
    assert!(l.maybe_append(LogSlice { term: 5, prev: id(1, 1), entries: vec![ent(2, 5)] }, 2).is_err());
}

#[test]
fn find_conflict_by_term_walks_back() {
    let mut l = new_log(MemoryStorage::new());
    l.append(&[ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 4), ent(5, 4)]);
    assert_eq!(l.find_conflict_by_term(5, 3), (3, 2));
    assert_eq!(l.find_conflict_by_term(5, 4), (5, 4));
    assert_eq!(l.find_conflict_by_term(5, 0), (0, 0));
}

#[test]
fn commit_beyond_last_is_an_error() {
    let mut l = new_log(MemoryStorage::new());
    l.append(&[ent(1, 1)]);
    assert!(l.commit_to(1).is_ok());
    assert!(l.commit_to(5).is_err());
    assert_eq!(l.committed, 1);
}

#[test]
fn slices_span_storage_and_unstable() {
    let s = MemoryStorage::new();
    s.append(&[ent(1, 1), ent(2, 1)]).unwrap();
    let mut l = new_log(s);
    l.append(&[ent(3, 2), ent(4, 2)]);
    assert_eq!(l.slice(1, 5, u64::MAX).unwrap(), vec![ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2)]);
    let one = crate::raftpb::entry_size(&ent(1, 1));
    assert_eq!(l.slice(1, 5, 3 * one).unwrap().len(), 3);
    assert_eq!(l.slice(1, 5, 0).unwrap().len(), 1);
    assert!(l.slice(2, 9, u64::MAX).is_err());
}

#[test]
fn stable_and_applying() {
    let mut l = new_log(MemoryStorage::new());
    l.append(&[ent(1, 1), ent(2, 1)]);
    assert!(l.has_next_unstable_ents());
    l.accept_unstable();
    assert!(!l.has_next_unstable_ents());
    assert!(l.has_next_or_in_progress_unstable_ents());
    l.store.append(&[ent(1, 1), ent(2, 1)]).unwrap();
    l.stable_to(EntryId { term: 1, index: 2 });
    assert!(!l.has_next_or_in_progress_unstable_ents());
    assert!(l.maybe_commit(EntryId { term: 1, index: 2 }));
    assert!(l.has_next_committed_ents(false));
    let ents = l.next_committed_ents(false).unwrap();
    assert_eq!(ents.len(), 2);
    l.accept_applying(2, ents_size(&ents), false);
    assert!(!l.has_next_committed_ents(false));
    l.applied_to(2, ents_size(&ents));
    assert_eq!(l.applied, 2);
    l.applied_to(1, 0);
    assert!(l.take_failure().is_some(), "applied going back is reported");
}

#[test]
fn restore_from_snapshot() {
    let mut l = new_log(MemoryStorage::new());
    l.append(&[ent(1, 1)]);
    let snap = Snapshot {
        metadata: Some(crate::raftpb::SnapshotMetadata { index: 10, term: 3, conf_state: None }),
        ..Default::default()
    };
    l.restore(snap);
    assert_eq!((l.first_index(), l.last_index(), l.committed), (11, 10, 10));
    assert_eq!(l.term(10).unwrap(), 3);
    assert_eq!(l.term(9), Err(Error::Compacted));
    assert!(l.has_next_unstable_snapshot());
}
