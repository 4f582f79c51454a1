//! DurableStorage against MemoryStorage's semantics, and across reopen.

use super::*;
use polyraft::{Error as RaftError, MemoryStorage};

fn ent(i: u64, t: u64) -> Entry {
    Entry { index: i, term: t, data: Bytes::from(format!("e{i}t{t}")), ..Default::default() }
}

fn small() -> Options {
    Options { segment_bytes: 256 }
}

fn open(dir: &Path) -> (DurableStorage, RecoveryReport) {
    DurableStorage::open(dir, small()).expect("open")
}

/// Everything raft can read, for comparisons.
fn view(s: &impl Storage) -> (HardState, ConfState, u64, u64, u64, Vec<Entry>, Snapshot) {
    let (hs, cs) = s.initial_state().unwrap();
    let first = s.first_index().unwrap();
    let last = s.last_index().unwrap();
    let ents = if last >= first { s.entries(first, last + 1, u64::MAX).unwrap() } else { vec![] };
    (hs, cs, first, last, s.term(first - 1).unwrap(), ents, s.snapshot().unwrap())
}

/// A MsgStorageAppend carrying HardState `(term, vote, commit)` and entries.
fn storage_append(term: u64, vote: u64, commit: u64, entries: Vec<Entry>) -> Message {
    Message { r#type: MessageType::MsgStorageAppend as i32, term, vote, commit, entries, ..Default::default() }
}

fn snap(i: u64, t: u64) -> Snapshot {
    Snapshot { metadata: Some(SnapshotMetadata { index: i, term: t, conf_state: None }), ..Default::default() }
}

#[test]
fn same_answers_as_memory_storage() {
    let dir = tempfile::tempdir().unwrap();
    let (d, rep) = open(dir.path());
    assert!(rep.created);
    let m = MemoryStorage::new();
    let both = |f: &dyn Fn(&MemoryStorage) -> polyraft::Result<()>, g: &dyn Fn(&DurableStorage) -> Result<()>| {
        let a = f(&m);
        let b = g(&d).map_err(RaftError::from);
        assert_eq!(a, b);
    };
    both(&|m| m.apply_snapshot(snap(3, 3)), &|d| d.apply_snapshot(snap(3, 3)));
    both(&|m| m.apply_snapshot(snap(3, 3)), &|d| d.apply_snapshot(snap(3, 3)));
    both(&|m| m.append(&[ent(4, 4), ent(5, 5)]), &|d| d.append(&[ent(4, 4), ent(5, 5)]));
    both(&|m| m.append(&[ent(7, 5)]), &|d| d.append(&[ent(7, 5)]));
    both(&|m| m.append(&[ent(2, 2), ent(3, 3), ent(4, 4), ent(5, 6), ent(6, 6)]), &|d| {
        d.append(&[ent(2, 2), ent(3, 3), ent(4, 4), ent(5, 6), ent(6, 6)])
    });
    both(&|m| m.compact(3), &|d| d.compact(3));
    both(&|m| m.compact(9), &|d| d.compact(9));
    both(&|m| m.compact(4), &|d| d.compact(4));
    both(&|m| m.create_snapshot(3, None, Bytes::new()).map(|_| ()), &|d| {
        d.create_snapshot(3, None, Bytes::new()).map(|_| ())
    });
    both(&|m| m.create_snapshot(9, None, Bytes::new()).map(|_| ()), &|d| {
        d.create_snapshot(9, None, Bytes::new()).map(|_| ())
    });
    both(&|m| m.create_snapshot(5, None, Bytes::from_static(b"app")).map(|_| ()), &|d| {
        d.create_snapshot(5, None, Bytes::from_static(b"app")).map(|_| ())
    });
    m.set_hard_state(HardState { term: 6, vote: 1, commit: 5 });
    d.set_hard_state(HardState { term: 6, vote: 1, commit: 5 }).unwrap();
    assert_eq!(view(&m), view(&d));
    for (lo, hi) in [(2, 5), (4, 5), (5, 7), (5, 8), (6, 6)] {
        assert_eq!(m.entries(lo, hi, u64::MAX), d.entries(lo, hi, u64::MAX));
        assert_eq!(m.entries(lo, hi, 0), d.entries(lo, hi, 0));
    }
    for i in 0..9 {
        assert_eq!(m.term(i), d.term(i));
    }
    // And the same after a restart.
    drop(d);
    let (d, rep) = open(dir.path());
    assert!(rep.truncated.is_none());
    assert_eq!(view(&m), view(&d));
}

#[test]
fn reopen_after_many_segments_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let (d, _) = open(dir.path());
    let m = MemoryStorage::new();
    let mut term = 1;
    for i in 1..=200u64 {
        if i % 37 == 0 {
            // A conflict: replace the last three entries with a new term.
            term += 1;
            let e: Vec<Entry> = (i - 3..=i).map(|j| ent(j, term)).collect();
            m.append(&e).unwrap();
            d.append(&e).unwrap();
        } else {
            m.append(&[ent(i, term)]).unwrap();
            d.append(&[ent(i, term)]).unwrap();
        }
        let hs = HardState { term, vote: 2, commit: i.saturating_sub(5) };
        m.set_hard_state(hs);
        d.set_hard_state(hs).unwrap();
    }
    let before = d.segment_count();
    assert!(before > 10);
    m.create_snapshot(150, Some(ConfState { voters: vec![1, 2, 3], ..Default::default() }), Bytes::from_static(b"s"))
        .unwrap();
    d.create_snapshot(150, Some(ConfState { voters: vec![1, 2, 3], ..Default::default() }), Bytes::from_static(b"s"))
        .unwrap();
    m.compact(150).unwrap();
    d.compact(150).unwrap();
    // Entries 150..=200 take about a quarter of the segments.
    assert!(d.segment_count() < before / 2, "compaction removed segments: {before} -> {}", d.segment_count());
    assert!(d.stats().segments_deleted > 5);
    assert_eq!(view(&m), view(&d));
    drop(d);
    let (d, rep) = open(dir.path());
    assert_eq!(rep.snapshot_index, 150);
    assert_eq!(view(&m), view(&d));
    // Writes go on after reopen.
    m.append(&[ent(201, term)]).unwrap();
    d.append(&[ent(201, term)]).unwrap();
    drop(d);
    let (d, _) = open(dir.path());
    assert_eq!(view(&m), view(&d));
}

#[test]
fn applied_snapshot_resets_the_log_and_old_snapshots_go() {
    let dir = tempfile::tempdir().unwrap();
    let (d, _) = open(dir.path());
    d.bootstrap_conf_state(ConfState { voters: vec![1], ..Default::default() }).unwrap();
    d.append(&[ent(1, 1), ent(2, 1), ent(3, 1)]).unwrap();
    d.apply_snapshot(snap(10, 2)).unwrap();
    assert_eq!(d.first_index().unwrap(), 11);
    assert_eq!(d.last_index().unwrap(), 10);
    let snaps = snapshot::list(dir.path()).unwrap();
    assert_eq!(snaps.len(), 1);
    drop(d);
    let (d, rep) = open(dir.path());
    assert_eq!(rep.snapshot_index, 10);
    assert_eq!((d.first_index().unwrap(), d.last_index().unwrap(), d.term(10).unwrap()), (11, 10, 2));
}

#[test]
fn persist_ready_syncs_only_when_it_must() {
    let dir = tempfile::tempdir().unwrap();
    let (d, _) = DurableStorage::open(dir.path(), Options::default()).unwrap();
    let before = d.stats().fsyncs;
    let rd = Ready {
        entries: vec![ent(1, 1)],
        hard_state: Some(HardState { term: 1, vote: 1, commit: 0 }),
        must_sync: true,
        ..Default::default()
    };
    d.persist_ready(&rd).unwrap();
    assert_eq!(d.stats().fsyncs, before + 1);
    let rd = Ready { hard_state: Some(HardState { term: 1, vote: 1, commit: 1 }), ..Default::default() };
    d.persist_ready(&rd).unwrap();
    assert_eq!(d.stats().fsyncs, before + 1);
    drop(d);
    let (d, _) = DurableStorage::open(dir.path(), Options::default()).unwrap();
    assert_eq!(d.hard_state().commit, 1);
}

#[test]
fn orphan_snapshot_without_record_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (d, _) = open(dir.path());
    d.append(&[ent(1, 1), ent(2, 1)]).unwrap();
    drop(d);
    // A crash after the snapshot file but before its WAL record.
    let mut st = Stats::default();
    snapshot::write(dir.path(), &snap(5, 1), &mut st).unwrap();
    let (d, rep) = open(dir.path());
    assert_eq!(rep.removed_files.len(), 1);
    assert_eq!(d.snapshot().unwrap(), Snapshot::default());
    assert_eq!(d.last_index().unwrap(), 2);
}

#[test]
fn io_error_type_maps_to_raft_storage_error() {
    let e = Error::Corrupt { file: "x".into(), offset: 3, reason: "bad".into() };
    assert!(matches!(RaftError::from(e), RaftError::Storage(_)));
    assert_eq!(RaftError::from(Error::Raft(RaftError::Compacted)), RaftError::Compacted);
}

/// Records with valid checksums but arbitrary contents (what a bug or a
/// hostile file could hold): open answers with an error or a consistent
/// storage, never a panic.
#[test]
fn well_framed_nonsense_never_panics() {
    use super::super::record::{encode, Record};
    let mut rng = fastrand::Rng::with_seed(21);
    let pick = |rng: &mut fastrand::Rng| match rng.u32(0..4) {
        0 => rng.u64(0..8),
        1 => rng.u64(..),
        2 => u64::MAX - rng.u64(0..3),
        _ => (1 << 62) - rng.u64(0..3),
    };
    for _ in 0..500 {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = Vec::new();
        let base = if rng.bool() { 0 } else { pick(&mut rng) };
        encode(&Record::SegmentHeader { seq: 0, base_index: base, base_term: pick(&mut rng) }, &mut buf);
        for _ in 0..rng.usize(0..12) {
            let r = match rng.u32(0..4) {
                0 => {
                    Record::HardState(HardState { term: pick(&mut rng), vote: pick(&mut rng), commit: pick(&mut rng) })
                }
                1 => {
                    let first = pick(&mut rng);
                    let n = rng.u64(1..4);
                    Record::Entries((0..n).map(|k| ent(first.wrapping_add(k), pick(&mut rng))).collect())
                }
                2 => Record::Compact { index: pick(&mut rng), term: pick(&mut rng) },
                _ => Record::Snapshot { index: pick(&mut rng), term: pick(&mut rng), reset: rng.bool() },
            };
            encode(&r, &mut buf);
        }
        let name = segment::file_name(0, base.wrapping_add(1));
        std::fs::write(dir.path().join(name), &buf).unwrap();
        if let Ok((s, _)) = DurableStorage::open(dir.path(), small()) {
            let (first, last) = (s.first_index().unwrap(), s.last_index().unwrap());
            assert!(first <= last + 1);
            let _ = s.entries(first, last + 1, u64::MAX);
            let _ = s.append(&[ent(last + 1, 1)]);
        }
    }
}

#[test]
fn storage_append_message_follows_must_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (d, _) = DurableStorage::open(dir.path(), Options::default()).unwrap();
    let f0 = d.stats().fsyncs;
    let m = storage_append(2, 1, 0, vec![ent(1, 2)]);
    d.persist_storage_append(&m).unwrap();
    assert_eq!(d.stats().fsyncs, f0 + 1);
    // Only the commit index moves: written, not synced.
    let m = storage_append(2, 1, 1, vec![]);
    d.persist_storage_append(&m).unwrap();
    assert_eq!(d.stats().fsyncs, f0 + 1);
    assert_eq!(d.hard_state(), HardState { term: 2, vote: 1, commit: 1 });
    // A vote change is synced even without entries.
    let m = storage_append(3, 2, 1, vec![]);
    d.persist_storage_append(&m).unwrap();
    assert_eq!(d.stats().fsyncs, f0 + 2);
    assert!(d.persist_storage_append(&Message::default()).is_err());
}

/// In the last segment, a damaged record that a later `Synced` record
/// proves was fsynced is an error; damage in the last (unsynced) write is a
/// torn tail, cut off.
#[test]
fn damage_to_fsynced_records_of_the_last_segment_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (d, _) = DurableStorage::open(dir.path(), Options::default()).unwrap();
    for i in 1..=5 {
        d.append(&[ent(i, 1)]).unwrap();
    }
    // The last write is not synced (a commit-only Ready).
    d.persist_ready(&Ready { hard_state: Some(HardState { term: 1, vote: 0, commit: 5 }), ..Default::default() })
        .unwrap();
    drop(d);
    let segs = segment::list(dir.path()).unwrap();
    let path = &segs[0].path;
    let orig = std::fs::read(path).unwrap();
    let scan = segment::scan(path).unwrap();
    let offsets: Vec<u64> = scan.records.iter().map(|(_, o)| *o).collect();

    // Flip a payload byte of the second entry record.
    let second_entry =
        scan.records.iter().filter(|(r, _)| matches!(r, Record::Entries(_))).nth(1).map(|(_, o)| *o as usize).unwrap();
    let mut b = orig.clone();
    b[second_entry + 12] ^= 0x10;
    std::fs::write(path, &b).unwrap();
    let err = DurableStorage::open(dir.path(), Options::default()).unwrap_err();
    assert!(err.to_string().contains("fsynced"), "{err}");

    // Flip a byte of the final, unsynced HardState record.
    let last = *offsets.last().unwrap() as usize;
    let mut b = orig.clone();
    b[last + 10] ^= 0x10;
    std::fs::write(path, &b).unwrap();
    let (d, rep) = DurableStorage::open(dir.path(), Options::default()).unwrap();
    let tail = rep.truncated.unwrap();
    assert_eq!(tail.offset, last as u64);
    assert_eq!(tail.reason, "checksum mismatch");
    assert_eq!(d.last_index().unwrap(), 5);
    assert_eq!(d.hard_state(), HardState::default());
}

/// A write blocked in its fsync (held there by the test) must not hold up
/// raft's reads: they take only the in-memory log's lock.
#[test]
fn reads_do_not_wait_for_a_write_blocked_in_fsync() {
    use std::sync::mpsc;
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let (d, _) = open(dir.path());
    d.append(&[ent(1, 1), ent(2, 1)]).unwrap();

    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    d.set_sync_hook(move || {
        let _ = entered_tx.send(());
        let _ = release_rx.lock().recv_timeout(Duration::from_secs(30));
    });

    // The raft thread's MsgStorageAppend (new entries: it must sync).
    let m = storage_append(1, 1, 1, vec![ent(3, 1)]);
    let w = d.clone();
    let writer = std::thread::spawn(move || w.persist_storage_append(&m));
    entered_rx.recv_timeout(Duration::from_secs(30)).expect("the write reached its fsync");

    let r = d.clone();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let reads = (r.term(2), r.entries(1, 3, u64::MAX).map(|e| e.len()), r.first_index(), r.hard_state());
        let _ = done_tx.send(reads);
    });
    let (term, entries, first, _) =
        done_rx.recv_timeout(Duration::from_secs(10)).expect("a reader waited for the fsync");
    assert_eq!((term, entries, first), (Ok(1), Ok(2), Ok(1)));
    assert!(!writer.is_finished(), "the write is still in its fsync");

    release_tx.send(()).unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(d.last_index(), Ok(3));
    drop(d);
    let (d, _) = open(dir.path());
    assert_eq!((d.last_index(), d.hard_state().commit), (Ok(3), 1));
}

#[test]
fn a_directory_opens_once_until_the_last_clone_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (d, _) = open(dir.path());
    let again = DurableStorage::open(dir.path(), small()).unwrap_err();
    assert!(matches!(&again, Error::Locked { dir: p, .. } if p == dir.path()), "{again:?}");
    assert!(again.to_string().contains("already open"), "{again}");
    assert!(again.raw_os_error().is_none());

    // A clone keeps the directory locked.
    let clone = d.clone();
    drop(d);
    assert!(matches!(DurableStorage::open(dir.path(), small()), Err(Error::Locked { .. })));
    drop(clone);
    let (d, rep) = open(dir.path());
    assert!(!rep.created);
    d.append(&[ent(1, 1)]).unwrap();
}

#[test]
fn io_errors_keep_their_errno_through_the_core_error() {
    // A file where the directory should be: creating the directory fails
    // with EEXIST or ENOTDIR, depending on the system.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let e = DurableStorage::open(file.join("sub"), small()).unwrap_err();
    let errno = e.raw_os_error().expect("an OS error");
    let core = RaftError::from(e.clone());
    match &core {
        RaftError::Io(io) => {
            assert_eq!(io.raw_os_error(), Some(errno));
            assert!(io.context().contains("sub"), "{io}");
            assert!(std::error::Error::source(&core).is_some());
        }
        other => panic!("not an Io error: {other:?}"),
    }
    // The refusal after a failure carries the first failure's errno.
    let failed = Error::Failed(Box::new(e));
    assert_eq!(failed.raw_os_error(), Some(errno));
    match RaftError::from(failed) {
        RaftError::Io(io) => assert_eq!(io.raw_os_error(), Some(errno)),
        other => panic!("not an Io error: {other:?}"),
    }
}
