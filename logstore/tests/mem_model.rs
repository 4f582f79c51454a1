//! Property tests: per group, `MemLogStore` answers every read as the
//! core's `MemoryStorage` does after the same changes, and a crash keeps
//! exactly the synced changes (plus, for a torn tail, a prefix of the rest).

use bytes::Bytes;
use polyraft::raftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use polyraft::{MemoryStorage, Storage};
use polyraft_logstore::{GroupWrite, LogStore, MemLogStore, WriteBatch};
use proptest::prelude::*;

/// One change, with indexes relative to the group's current log so that
/// most of them are valid.
#[derive(Debug, Clone)]
enum Op {
    /// Entries from `last_index + 1 - back` (a conflict when back > 0; a
    /// gap when `gap`), `n` of them, at `term`.
    Append { back: u64, n: u64, term: u64, gap: bool },
    HardState { term: u64, commit: u64 },
    /// A snapshot at `first_index - 1 + at` (modulo the log length + 2),
    /// with the stored term when `matching`, otherwise a fresh one.
    Snapshot { at: u64, matching: bool },
    /// Compaction at `first_index - 2 + at` (modulo the log length + 3).
    Compact { at: u64 },
    /// Whether the write is synced (for the crash test).
    Sync(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0u64..4, 1u64..5, 1u64..6, prop::bool::weighted(0.05))
            .prop_map(|(back, n, term, gap)| Op::Append { back, n, term, gap }),
        2 => (0u64..8, 0u64..30).prop_map(|(term, commit)| Op::HardState { term, commit }),
        1 => (0u64..40, any::<bool>()).prop_map(|(at, matching)| Op::Snapshot { at, matching }),
        2 => (0u64..40).prop_map(|at| Op::Compact { at }),
        2 => any::<bool>().prop_map(Op::Sync),
    ]
}

fn entries(first: u64, n: u64, term: u64, salt: u64) -> Vec<Entry> {
    (first..first + n)
        .map(|index| Entry { index, term, data: Bytes::from(format!("{salt}-{index}")), ..Default::default() })
        .collect()
}

/// Applies `op` to the reference storage the way the log store's rules
/// say, through MemoryStorage's own calls. Returns whether it succeeded.
fn apply_ref(ms: &MemoryStorage, w: &Change) -> bool {
    match w {
        Change::Write(gw) => {
            if let Some(meta) = &gw.snapshot {
                let keep = meta.index >= ms.first_index().unwrap() - 1 && ms.term(meta.index).ok() == Some(meta.term);
                let snap_index = ms.snapshot().unwrap().metadata.map_or(0, |m| m.index);
                if meta.index <= snap_index {
                    return false;
                }
                if keep {
                    // A snapshot the host created: recorded, entries kept.
                    ms.create_snapshot(meta.index, meta.conf_state.clone(), Bytes::new()).unwrap();
                } else {
                    ms.apply_snapshot(Snapshot { metadata: Some(meta.clone()), data: Bytes::new() }).unwrap();
                }
            }
            if ms.append(&gw.entries).is_err() {
                return false;
            }
            if let Some(hs) = gw.hard_state {
                ms.set_hard_state(hs);
            }
            true
        }
        Change::Compact(i) => {
            if *i < ms.first_index().unwrap() {
                return true; // the log store ignores it; MemoryStorage says Compacted
            }
            ms.compact(*i).is_ok()
        }
    }
}

#[derive(Debug, Clone)]
enum Change {
    Write(GroupWrite),
    Compact(u64),
}

/// Turns a relative op into a concrete change against the current state.
fn concretize(ms: &MemoryStorage, op: &Op, salt: u64) -> Option<Change> {
    let first = ms.first_index().unwrap();
    let last = ms.last_index().unwrap();
    Some(match *op {
        Op::Append { back, n, term, gap } => {
            let from = if gap { last + 2 } else { (last + 1).saturating_sub(back).max(1) };
            Change::Write(GroupWrite { entries: entries(from, n, term, salt), ..Default::default() })
        }
        Op::HardState { term, commit } => Change::Write(GroupWrite {
            hard_state: Some(HardState { term, vote: 1, commit }),
            ..Default::default()
        }),
        Op::Snapshot { at, matching } => {
            let index = first - 1 + at % (last + 3 - first);
            let term = if matching { ms.term(index).unwrap_or(9) } else { 7 + salt % 3 };
            let cs = ConfState { voters: vec![1, 2, salt % 5 + 3], ..Default::default() };
            Change::Write(GroupWrite {
                snapshot: Some(SnapshotMetadata { conf_state: Some(cs), index, term }),
                ..Default::default()
            })
        }
        Op::Compact { at } => Change::Compact((first + at % (last + 4 - first)).saturating_sub(2)),
        Op::Sync(_) => return None,
    })
}

fn norm<T>(r: polyraft::Result<T>) -> Result<T, String> {
    r.map_err(|e| match e {
        polyraft::Error::Compacted => "compacted".to_string(),
        // MemoryStorage reports an out-of-bound `hi` as a storage error,
        // the log store as Unavailable (as its contract says).
        polyraft::Error::Unavailable | polyraft::Error::Storage(_) => "unavailable".to_string(),
        e => format!("{e}"),
    })
}

/// Every read the log store offers, compared with the reference.
fn assert_same(store: &MemLogStore, group: u64, ms: &MemoryStorage) {
    let first = ms.first_index().unwrap();
    let last = ms.last_index().unwrap();
    assert_eq!(store.first_index(group), first, "first_index");
    assert_eq!(store.last_index(group), last, "last_index");
    assert_eq!(store.hard_state(group), ms.hard_state(), "hard_state");
    let meta = ms.snapshot().unwrap().metadata.unwrap_or_default();
    let got = store.snapshot_metadata(group);
    assert_eq!((got.index, got.term), (meta.index, meta.term), "snapshot metadata");
    for i in first.saturating_sub(2)..last + 3 {
        assert_eq!(norm(store.term(group, i)), norm(ms.term(i)), "term({i})");
    }
    for lo in first.saturating_sub(1)..last + 2 {
        for hi in lo..last + 3 {
            for max in [0, 30, u64::MAX] {
                assert_eq!(
                    norm(store.entries(group, lo, hi, max)),
                    norm(ms.entries(lo, hi, max)),
                    "entries({lo}, {hi}, {max})"
                );
            }
        }
    }
}

fn store_apply(store: &MemLogStore, group: u64, c: &Change, sync: bool) -> bool {
    match c {
        Change::Write(gw) => {
            let mut gw = gw.clone();
            gw.group = group;
            store.write(&WriteBatch { groups: vec![gw] }, sync).is_ok()
        }
        Change::Compact(i) => store.compact(group, *i).is_ok(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Two groups share one store; each matches its own MemoryStorage.
    #[test]
    fn matches_memory_storage(ops in prop::collection::vec((0u64..2, op()), 1..80)) {
        let store = MemLogStore::new();
        let refs = [MemoryStorage::new(), MemoryStorage::new()];
        for (salt, (g, op)) in ops.iter().enumerate() {
            let ms = &refs[*g as usize];
            let Some(c) = concretize(ms, op, salt as u64) else { continue };
            let ok_ref = apply_ref(ms, &c);
            let ok = store_apply(&store, *g + 10, &c, true);
            prop_assert_eq!(ok, ok_ref, "op {:?} -> {:?}", op, c);
            assert_same(&store, *g + 10, ms);
        }
    }

    /// After a crash, the store holds exactly the changes up to the last
    /// synced write, plus the first `keep` unsynced ones.
    #[test]
    fn crash_keeps_synced_prefix(ops in prop::collection::vec(op(), 1..60), keep in 0usize..4) {
        let store = MemLogStore::new();
        let live = MemoryStorage::new();
        let mut durable: Vec<Change> = Vec::new();
        let mut pending: Vec<Change> = Vec::new();
        let mut sync = false;
        for (salt, op) in ops.iter().enumerate() {
            if let Op::Sync(s) = op { sync = *s; continue; }
            let Some(c) = concretize(&live, op, salt as u64) else { continue };
            let noop = matches!(c, Change::Compact(i) if i < live.first_index().unwrap());
            let ok = apply_ref(&live, &c);
            prop_assert_eq!(store_apply(&store, 1, &c, sync), ok);
            if ok && !noop {
                pending.push(c);
                // A compaction is a record too, made durable by the next
                // synced write.
                if sync && !matches!(pending.last(), Some(Change::Compact(_))) {
                    durable.append(&mut pending);
                }
            }
        }
        prop_assert_eq!(store.unsynced_records(), pending.len());
        store.crash_keeping(keep);
        durable.extend(pending.into_iter().take(keep));
        let expect = MemoryStorage::new();
        for c in &durable {
            prop_assert!(apply_ref(&expect, c));
        }
        assert_same(&store, 1, &expect);
        prop_assert_eq!(store.unsynced_records(), 0);
    }
}

#[test]
fn failed_write_refuses_writes_until_crash() {
    let store = MemLogStore::new();
    let w = |from, sync| {
        store.write(&WriteBatch { groups: vec![GroupWrite { group: 1, entries: entries(from, 1, 1, 0), ..Default::default() }] }, sync)
    };
    w(1, true).unwrap();
    store.fail_next_write();
    assert!(matches!(w(2, true), Err(polyraft_logstore::Error::Io { .. })));
    assert!(w(2, true).is_err(), "a failed store must refuse writes");
    assert_eq!(store.last_index(1), 1, "the failed write is not readable");
    // The failed write may or may not have reached the disk.
    store.crash_keeping(1);
    assert_eq!(store.last_index(1), 2);
    w(3, true).unwrap();
    store.crash();
    assert_eq!(store.last_index(1), 3);
    assert_eq!(store.groups(), vec![1]);
    store.remove_group(1).unwrap();
    assert!(store.groups().is_empty());
    store.crash();
    assert_eq!(store.groups(), vec![1], "an unsynced removal is lost in a crash");
}

#[test]
fn batch_with_a_bad_group_write_changes_nothing() {
    let store = MemLogStore::new();
    let bad = WriteBatch {
        groups: vec![
            GroupWrite { group: 1, entries: entries(1, 2, 1, 0), ..Default::default() },
            GroupWrite { group: 2, entries: entries(5, 1, 1, 0), ..Default::default() },
        ],
    };
    let err = store.write(&bad, true).unwrap_err();
    assert!(err.to_string().contains("group 2"), "{err}");
    assert!(store.groups().is_empty());
    let dup = WriteBatch {
        groups: vec![GroupWrite { group: 1, ..Default::default() }, GroupWrite { group: 1, ..Default::default() }],
    };
    assert!(store.write(&dup, true).is_err());
    let gap = WriteBatch {
        groups: vec![GroupWrite {
            group: 1,
            entries: vec![entries(1, 1, 1, 0)[0].clone(), entries(3, 1, 1, 0)[0].clone()],
            ..Default::default()
        }],
    };
    assert!(store.write(&gap, true).unwrap_err().to_string().contains("contiguous"));
}
