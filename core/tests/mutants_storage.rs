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

/// The top of the index space: a log's last index stays below
/// `u64::MAX - 1`, so that `last_index + 1` is an index a later entry could
/// still take without overflow. An append reaching `u64::MAX - 1` is
/// refused and changes nothing.
#[test]
fn append_refuses_indexes_at_the_top_of_the_range() {
    let s = MemoryStorage::new();
    let snap = polyraft::raftpb::Snapshot {
        metadata: Some(polyraft::raftpb::SnapshotMetadata { index: u64::MAX - 3, term: 1, conf_state: None }),
        ..Default::default()
    };
    s.apply_snapshot(snap).unwrap();
    s.append(&[ent(u64::MAX - 2, 1)]).unwrap();
    assert_eq!(s.last_index().unwrap(), u64::MAX - 2);
    match s.append(&[ent(u64::MAX - 1, 1)]) {
        Err(polyraft::Error::Storage(m)) => assert!(m.contains("overflow"), "{m}"),
        other => panic!("an entry at u64::MAX - 1 was not refused: {other:?}"),
    }
    assert_eq!(s.last_index().unwrap(), u64::MAX - 2, "a refused append changed the log");
}
