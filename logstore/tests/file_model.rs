//! Property test: `FileLogStore` answers every read as `MemLogStore` (which
//! matches the core's MemoryStorage, see mem_model.rs) does, across writes
//! to several groups in one batch, compactions, removals, purges and
//! reopens, with segments small enough that every few writes start one.

use bytes::Bytes;
use polyraft::raftpb::{ConfState, Entry, HardState, SnapshotMetadata};
use polyraft_logstore::{FileLogStore, GroupWrite, LogStore, MemLogStore, Options, WriteBatch};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Part {
    Append { back: u64, n: u64, term: u64 },
    HardState { term: u64, commit: u64 },
    Snapshot { at: u64, matching: bool },
}

#[derive(Debug, Clone)]
enum Op {
    Write { parts: Vec<(u64, Part)>, sync: bool },
    Compact { group: u64, at: u64 },
    Remove { group: u64 },
    Purge,
    Reopen,
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        6 => (0u64..3, 1u64..6, 1u64..5).prop_map(|(back, n, term)| Part::Append { back, n, term }),
        2 => (0u64..6, 0u64..40).prop_map(|(term, commit)| Part::HardState { term, commit }),
        1 => (0u64..40, any::<bool>()).prop_map(|(at, matching)| Part::Snapshot { at, matching }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (prop::collection::vec((0u64..4, part()), 1..4), any::<bool>()).prop_map(|(parts, sync)| Op::Write { parts, sync }),
        3 => (0u64..4, 0u64..40).prop_map(|(group, at)| Op::Compact { group, at }),
        1 => (0u64..4).prop_map(|group| Op::Remove { group }),
        1 => Just(Op::Purge),
        1 => Just(Op::Reopen),
    ]
}

fn concretize(m: &MemLogStore, g: u64, p: &Part, salt: u64) -> GroupWrite {
    let (first, last) = (m.first_index(g), m.last_index(g));
    match *p {
        Part::Append { back, n, term } => {
            let from = (last + 1).saturating_sub(back).max(1);
            let entries = (from..from + n)
                .map(|index| Entry { index, term, data: Bytes::from(vec![salt as u8; (salt % 50) as usize]), ..Default::default() })
                .collect();
            GroupWrite { group: g, entries, ..Default::default() }
        }
        Part::HardState { term, commit } => {
            GroupWrite { group: g, hard_state: Some(HardState { term, vote: 2, commit }), ..Default::default() }
        }
        Part::Snapshot { at, matching } => {
            let index = first - 1 + at % (last + 3 - first);
            let term = if matching { m.term(g, index).unwrap_or(3) } else { 5 + salt % 2 };
            let cs = ConfState { voters: vec![1, 2, 3], learners: vec![salt % 7 + 4], ..Default::default() };
            GroupWrite { group: g, snapshot: Some(SnapshotMetadata { conf_state: Some(cs), index, term }), ..Default::default() }
        }
    }
}

fn assert_same(f: &FileLogStore, m: &MemLogStore) {
    assert_eq!(f.groups(), m.groups(), "groups");
    for g in 0..4u64 {
        let (first, last) = (m.first_index(g), m.last_index(g));
        assert_eq!((f.first_index(g), f.last_index(g)), (first, last), "group {g} bounds");
        assert_eq!(f.hard_state(g), m.hard_state(g), "group {g} hard state");
        assert_eq!(f.snapshot_metadata(g), m.snapshot_metadata(g), "group {g} snapshot");
        for i in first.saturating_sub(2)..last + 2 {
            assert_eq!(format!("{:?}", f.term(g, i)), format!("{:?}", m.term(g, i)), "group {g} term({i})");
        }
        for lo in first.saturating_sub(1)..last + 2 {
            for (hi, max) in [(last + 1, u64::MAX), (last + 1, 40), (lo + 1, 0), (last + 2, u64::MAX)] {
                assert_eq!(
                    format!("{:?}", f.entries(g, lo, hi, max)),
                    format!("{:?}", m.entries(g, lo, hi, max)),
                    "group {g} entries({lo}, {hi}, {max})"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn matches_mem_log_store(ops in prop::collection::vec(op(), 1..60)) {
        run(&ops)?;
    }
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options { segment_bytes: 1024 };
        let mut f = FileLogStore::open(dir.path(), opts.clone()).unwrap();
        let m = MemLogStore::new();
        for (salt, op) in ops.iter().enumerate() {
            match op {
                Op::Write { parts, sync } => {
                    let mut batch = WriteBatch::default();
                    for (g, p) in parts {
                        if batch.groups.iter().all(|w| w.group != *g) {
                            batch.groups.push(concretize(&m, *g, p, salt as u64));
                        }
                    }
                    let (a, b) = (f.write(&batch, *sync), m.write(&batch, *sync));
                    prop_assert_eq!(a.is_ok(), b.is_ok(), "{:?} / {:?}", a, b);
                }
                Op::Compact { group, at } => {
                    let (first, last) = (m.first_index(*group), m.last_index(*group));
                    let i = (first + at % (last + 3 - first)).saturating_sub(2);
                    prop_assert_eq!(f.compact(*group, i).is_ok(), m.compact(*group, i).is_ok());
                }
                Op::Remove { group } => {
                    f.remove_group(*group).unwrap();
                    m.remove_group(*group).unwrap();
                }
                Op::Purge => {
                    f.purge().unwrap();
                    // The checkpoint frame may itself start a segment.
                    prop_assert!(f.segment_count() <= 2, "{} segments", f.segment_count());
                }
                Op::Reopen => {
                    // Queued compaction marks reach the disk with the next
                    // write: flush them, then close and replay.
                    f.write(&WriteBatch::default(), true).unwrap();
                    drop(f);
                    f = FileLogStore::open(dir.path(), opts.clone()).unwrap();
                    prop_assert!(f.recovery_report().torn.is_none());
                }
            }
            assert_same(&f, &m);
        }
        f.write(&WriteBatch::default(), true).unwrap();
        drop(f);
        let f = FileLogStore::open(dir.path(), opts).unwrap();
        assert_same(&f, &m);
    Ok(())
}

#[test]
fn regression() {
    use Part::*;
    let a = |back, n| Append { back, n, term: 1 };
    let w = |parts: Vec<(u64, Part)>| Op::Write { parts, sync: false };
    let ops = vec![
        w(vec![(1, a(0, 1)), (2, HardState { term: 0, commit: 1 })]),
        w(vec![(1, a(0, 5)), (2, Snapshot { at: 13, matching: false })]),
        w(vec![(0, a(0, 4))]),
        w(vec![(3, a(0, 2)), (1, a(0, 1)), (2, a(0, 1))]),
        w(vec![(2, a(0, 2)), (1, a(0, 3)), (0, a(0, 2))]),
        Op::Purge,
        w(vec![(1, a(0, 1)), (2, a(0, 2))]),
        w(vec![(1, a(0, 1)), (2, a(0, 2))]),
        w(vec![(1, a(0, 3))]),
        w(vec![(1, a(0, 2))]),
        w(vec![(1, a(0, 2))]),
        w(vec![(1, a(0, 3)), (2, a(0, 2))]),
        Op::Compact { group: 0, at: 7 },
        Op::Purge,
    ];
    run(&ops).unwrap();
}
