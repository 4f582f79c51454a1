//! MemoryStorage against etcd's storage semantics.

use super::*;

fn ent(i: u64, t: u64) -> Entry {
    Entry { index: i, term: t, ..Default::default() }
}

/// Storage holding entries 3..=5 (3 being the compacted dummy).
fn storage_345() -> MemoryStorage {
    let s = MemoryStorage::new();
    s.apply_snapshot(Snapshot {
        metadata: Some(SnapshotMetadata { index: 3, term: 3, conf_state: None }),
        ..Default::default()
    })
    .unwrap();
    s.append(&[ent(4, 4), ent(5, 5)]).unwrap();
    s
}

#[test]
fn term() {
    let s = storage_345();
    assert_eq!(s.term(2), Err(Error::Compacted));
    assert_eq!(s.term(3), Ok(3));
    assert_eq!(s.term(5), Ok(5));
    assert_eq!(s.term(6), Err(Error::Unavailable));
}

#[test]
fn entries_respect_bounds_and_size() {
    let s = storage_345();
    s.append(&[ent(6, 6)]).unwrap();
    assert_eq!(s.entries(2, 6, u64::MAX), Err(Error::Compacted));
    assert_eq!(s.entries(3, 4, u64::MAX), Err(Error::Compacted));
    assert_eq!(s.entries(4, 5, u64::MAX).unwrap(), vec![ent(4, 4)]);
    assert_eq!(s.entries(4, 7, u64::MAX).unwrap().len(), 3);
    // Size limits keep at least one entry.
    assert_eq!(s.entries(4, 7, 0).unwrap(), vec![ent(4, 4)]);
    let one = crate::raftpb::entry_size(&ent(4, 4));
    assert_eq!(s.entries(4, 7, 2 * one).unwrap().len(), 2);
    assert!(matches!(s.entries(4, 9, u64::MAX), Err(Error::Storage(_))));
}

#[test]
fn first_last_and_compact() {
    let s = storage_345();
    assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (4, 5));
    assert_eq!(s.compact(2), Err(Error::Compacted));
    assert_eq!(s.compact(3), Err(Error::Compacted));
    s.compact(4).unwrap();
    assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (5, 5));
    assert_eq!(s.term(4), Ok(4));
    assert!(matches!(s.compact(6), Err(Error::Storage(_))));
}

#[test]
fn create_and_apply_snapshot() {
    let s = storage_345();
    let cs = ConfState { voters: vec![1, 2, 3], ..Default::default() };
    let snap = s.create_snapshot(4, Some(cs.clone()), Bytes::from_static(b"data")).unwrap();
    assert_eq!((snap.index(), snap.term(), snap.conf_state()), (4, 4, cs));
    assert_eq!(s.create_snapshot(3, None, Bytes::new()), Err(Error::SnapOutOfDate));

    let fresh = MemoryStorage::new();
    fresh.apply_snapshot(snap.clone()).unwrap();
    assert_eq!(fresh.apply_snapshot(snap), Err(Error::SnapOutOfDate));
    assert_eq!((fresh.first_index().unwrap(), fresh.last_index().unwrap()), (5, 4));
}

#[test]
fn append_overwrites_and_ignores_compacted() {
    let s = storage_345();
    s.append(&[ent(3, 3), ent(4, 4), ent(5, 5)]).unwrap();
    assert_eq!(s.entries(4, 6, u64::MAX).unwrap(), vec![ent(4, 4), ent(5, 5)]);
    s.append(&[ent(4, 6), ent(5, 6)]).unwrap();
    assert_eq!(s.entries(4, 6, u64::MAX).unwrap(), vec![ent(4, 6), ent(5, 6)]);
    s.append(&[ent(6, 6)]).unwrap();
    assert_eq!(s.last_index().unwrap(), 6);
    s.append(&[ent(2, 3), ent(3, 3), ent(4, 5)]).unwrap();
    assert_eq!(s.entries(4, 5, u64::MAX).unwrap(), vec![ent(4, 5)]);
    assert_eq!(s.last_index().unwrap(), 4);
    assert!(matches!(s.append(&[ent(7, 7)]), Err(Error::Storage(_))));
}

#[test]
fn snapshot_below_a_compaction_is_an_error() {
    // Found by fuzzing: compaction can run ahead of the last snapshot.
    let s = storage_345();
    s.append(&[ent(6, 6), ent(7, 7)]).unwrap();
    s.compact(6).unwrap();
    assert_eq!(s.create_snapshot(4, None, Bytes::new()), Err(Error::Compacted));
    assert_eq!(s.create_snapshot(6, None, Bytes::new()).unwrap().index(), 6);
}

#[test]
fn indexes_near_the_top_of_u64_are_errors_not_overflows() {
    // Reported by the Python binding's tests: these used to overflow.
    let s = MemoryStorage::new();
    assert!(matches!(s.append(&[ent(u64::MAX, 1)]), Err(Error::Storage(_))));
    assert!(matches!(s.append(&[ent(u64::MAX - 1, 1), ent(u64::MAX, 1)]), Err(Error::Storage(_))));
    let snap = Snapshot {
        metadata: Some(crate::raftpb::SnapshotMetadata { index: u64::MAX, term: 1, conf_state: None }),
        ..Default::default()
    };
    assert!(matches!(s.apply_snapshot(snap), Err(Error::Storage(_))));
    assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (1, 0));
}

/// etcd v3.7's bootstrap rule: an empty storage accepts a snapshot that
/// only carries the configuration (index 0); once a snapshot is held, an
/// older or equal one is out of date.
#[test]
fn apply_conf_only_snapshot_to_empty_storage() {
    let cs = ConfState { voters: vec![1, 2, 3], ..Default::default() };
    let s = MemoryStorage::new();
    let boot = Snapshot {
        metadata: Some(SnapshotMetadata { index: 0, term: 0, conf_state: Some(cs.clone()) }),
        ..Default::default()
    };
    s.apply_snapshot(boot.clone()).unwrap();
    assert_eq!(s.initial_state().unwrap().1, cs);
    assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (1, 0));
    s.apply_snapshot(Snapshot {
        metadata: Some(SnapshotMetadata { index: 4, term: 4, conf_state: Some(cs) }),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(s.apply_snapshot(boot), Err(Error::SnapOutOfDate));
}

#[test]
fn append_refuses_non_contiguous_batches_and_changes_nothing() {
    // Reported by the C and Python reproducers: [7, 5] after 1..6 was stored
    // as indexes 7 and "8" (really 5), and the node later went FATAL.
    let s = MemoryStorage::new();
    s.append(&(1..=6).map(|i| ent(i, 1)).collect::<Vec<_>>()).unwrap();
    let before = s.entries(1, 7, u64::MAX).unwrap();
    for bad in [
        vec![ent(7, 1), ent(5, 1)],           // backwards
        vec![ent(7, 1), ent(9, 1)],           // a gap
        vec![ent(7, 1), ent(7, 1)],           // a repeat
        vec![ent(2, 1), ent(5, 1), ent(6, 2)], // a gap inside the overwritten part
    ] {
        let err = s.append(&bad).unwrap_err();
        assert!(matches!(&err, Error::Storage(m) if m.starts_with("entries not contiguous")), "{bad:?}: {err}");
        assert_eq!(s.last_index().unwrap(), 6);
        assert_eq!(s.entries(1, 7, u64::MAX).unwrap(), before);
    }
    // A gap in the part that is already compacted is refused as well: the
    // skip over that part relies on contiguity.
    s.compact(4).unwrap();
    assert!(matches!(s.append(&[ent(1, 1), ent(3, 1), ent(4, 1), ent(5, 2)]), Err(Error::Storage(_))));
    assert_eq!(s.term(5).unwrap(), 1);
}

#[test]
fn restore_sets_snapshot_and_compaction_point_independently() {
    let s = storage_345();
    // The snapshot at 2, the log compacted at 7: recovery of a log that was
    // compacted ahead of its snapshot.
    let snap = Snapshot {
        metadata: Some(SnapshotMetadata { index: 2, term: 2, conf_state: None }),
        ..Default::default()
    };
    s.restore(snap.clone(), 7, 6);
    assert_eq!(s.snapshot(), Ok(snap));
    assert_eq!((s.first_index(), s.last_index()), (Ok(8), Ok(7)));
    assert_eq!(s.term(7), Ok(6));
    assert_eq!(s.term(6), Err(Error::Compacted));
    s.append(&[ent(8, 6)]).unwrap();
    assert_eq!(s.term(8), Ok(6));
}

#[test]
fn storage_through_a_reference_box_or_arc() {
    fn last<S: Storage>(s: S) -> u64 {
        s.last_index().unwrap()
    }
    let s = storage_345();
    assert_eq!(last(&s), 5);
    assert_eq!(last(Box::new(&s) as Box<dyn Storage + '_>), 5);
    assert_eq!(last(Arc::new(s.clone())), 5);
}

#[test]
fn foreign_entries_answers_are_checked() {
    let e = |i| ent(i, 1);
    assert_eq!(check_entries_answer("s", 2, 5, &[e(2), e(3)]), Ok(()));
    assert_eq!(check_entries_answer("s", 5, 5, &[]), Ok(()));
    assert!(check_entries_answer("s", 2, 5, &[]).unwrap_err().contains("returned no entry"));
    assert!(check_entries_answer("s", 2, 3, &[e(2), e(3)]).unwrap_err().contains("more than the range holds"));
    assert!(check_entries_answer("s", 2, 5, &[e(2), e(4)]).unwrap_err().contains("index 4 where 3 belongs"));
}
