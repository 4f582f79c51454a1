//! Tests written for cargo-mutants (issue 24) on `core/src/storage.rs`:
//! MemoryStorage's accessors, checked against what was stored.

use polyraft::raftpb::HardState;
use polyraft::{MemoryStorage, Storage};

/// The HardState saved is the one read back, directly and as the initial
/// state a node starts from.
#[test]
fn the_saved_hard_state_is_read_back() {
    let s = MemoryStorage::new();
    assert_eq!(s.hard_state(), HardState::default());
    let hs = HardState { term: 3, vote: 2, commit: 1 };
    s.set_hard_state(hs);
    assert_eq!(s.hard_state(), hs);
    assert_eq!(s.initial_state().unwrap().0, hs);
}

fn ent(index: u64, term: u64) -> polyraft::raftpb::Entry {
    polyraft::raftpb::Entry { index, term, ..Default::default() }
}

/// Entries at or below the compaction point are ignored by append (etcd's
/// "truncate compacted entries"): the compacted entry's term stays, and the
/// rest of the batch lands after it.
#[test]
fn append_ignores_entries_at_the_compaction_point() {
    let s = MemoryStorage::new();
    s.append(&[ent(1, 1), ent(2, 1), ent(3, 1), ent(4, 1), ent(5, 1)]).unwrap();
    s.compact(5).unwrap();
    assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (6, 5));
    s.append(&[ent(5, 2)]).unwrap();
    assert_eq!(s.term(5).unwrap(), 1, "the compacted entry 5 was replaced");
    assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (6, 5));
    s.append(&[ent(4, 2), ent(5, 2), ent(6, 2)]).unwrap();
    assert_eq!(s.term(5).unwrap(), 1, "the compacted entry 5 was replaced");
    assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (6, 6));
    assert_eq!(s.entries(6, 7, u64::MAX).unwrap(), vec![ent(6, 2)]);
}
