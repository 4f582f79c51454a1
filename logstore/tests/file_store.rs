//! FileLogStore behaviour the model test does not reach: the lock file,
//! torn-tail reports, damage to acknowledged data, purge reclaiming space,
//! concurrent reads while writing, bad options.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use polyraft::raftpb::{Entry, HardState};
use polyraft_logstore::{Error, FileLogStore, GroupWrite, LogStore, Options, WriteBatch};

fn ent(group: u64, index: u64, term: u64) -> Entry {
    Entry { index, term, data: Bytes::from(format!("g{group}-i{index}-t{term}-{}", "x".repeat(40))), ..Default::default() }
}

fn append(s: &FileLogStore, groups: &[u64], n: u64, sync: bool) {
    let batch = WriteBatch {
        groups: groups
            .iter()
            .map(|&g| {
                let from = s.last_index(g) + 1;
                GroupWrite {
                    group: g,
                    entries: (from..from + n).map(|i| ent(g, i, 1)).collect(),
                    hard_state: Some(HardState { term: 1, vote: 1, commit: from }),
                    ..Default::default()
                }
            })
            .collect(),
    };
    s.write(&batch, sync).unwrap();
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "plog"))
        .collect();
    v.sort();
    v
}

#[test]
fn a_second_open_is_refused_while_the_first_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let s = FileLogStore::open(dir.path(), Options::default()).unwrap();
    let err = FileLogStore::open(dir.path(), Options::default()).unwrap_err();
    assert!(matches!(err, Error::Locked(_)), "{err}");
    assert!(err.to_string().contains("locked by another process"), "{err}");
    drop(s);
    FileLogStore::open(dir.path(), Options::default()).unwrap();
}

#[test]
fn bad_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = FileLogStore::open(dir.path(), Options { segment_bytes: 10 }).unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err}");
}

#[test]
fn a_torn_tail_is_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = FileLogStore::open(dir.path(), Options::default()).unwrap();
        append(&s, &[1, 2, 3], 4, true);
    }
    let seg = segments(dir.path()).pop().unwrap();
    let good = std::fs::metadata(&seg).unwrap().len();
    std::fs::OpenOptions::new().append(true).open(&seg).unwrap().write_all(&[9u8; 77]).unwrap();
    let s = FileLogStore::open(dir.path(), Options::default()).unwrap();
    let torn = s.recovery_report().torn.clone().expect("torn tail reported");
    assert_eq!((torn.offset, torn.dropped), (good, 77));
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), good, "cut on disk");
    assert_eq!(s.last_index(2), 4);
    assert_eq!(s.entries(2, 1, 5, u64::MAX).unwrap()[3], ent(2, 4, 1));
    append(&s, &[2], 1, true);
    drop(s);
    let s = FileLogStore::open(dir.path(), Options::default()).unwrap();
    assert!(s.recovery_report().torn.is_none());
    assert_eq!(s.last_index(2), 5);
}

#[test]
fn damage_before_a_synced_write_is_an_error_not_a_cut() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = FileLogStore::open(dir.path(), Options::default()).unwrap();
        append(&s, &[1], 3, true);
        append(&s, &[1], 3, true);
        append(&s, &[1], 3, true);
    }
    let seg = segments(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[40] ^= 0x10; // inside the first frame, which was synced
    std::fs::write(&seg, &bytes).unwrap();
    let err = FileLogStore::open(dir.path(), Options::default()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Corrupt(_)) && msg.contains("acknowledged data is damaged") && msg.contains(".plog"), "{msg}");
}

#[test]
fn damage_in_a_sealed_segment_or_a_missing_segment_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { segment_bytes: 4096 };
    {
        let s = FileLogStore::open(dir.path(), opts.clone()).unwrap();
        for _ in 0..40 {
            append(&s, &[1, 2], 2, false);
        }
    }
    let segs = segments(dir.path());
    assert!(segs.len() >= 4);
    let mut bytes = std::fs::read(&segs[1]).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 1;
    std::fs::write(&segs[1], &bytes).unwrap();
    let err = FileLogStore::open(dir.path(), opts.clone()).unwrap_err().to_string();
    assert!(err.contains("sealed segment") && err.contains(&*segs[1].file_name().unwrap().to_string_lossy()), "{err}");
    std::fs::remove_file(&segs[1]).unwrap();
    let err = FileLogStore::open(dir.path(), opts).unwrap_err().to_string();
    assert!(err.contains("missing"), "{err}");
}

#[test]
fn purge_reclaims_compacted_segments_and_keeps_live_state() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { segment_bytes: 8192 };
    let s = FileLogStore::open(dir.path(), opts.clone()).unwrap();
    let groups: Vec<u64> = (0..20).collect();
    for _ in 0..50 {
        append(&s, &groups, 2, false);
    }
    let before = s.segment_count();
    assert!(before > 10, "{before} segments");
    // Most groups compacted to their last entry; two keep everything.
    for g in 2..20 {
        s.compact(g, s.last_index(g) - 1).unwrap();
    }
    let p = s.purge().unwrap();
    assert_eq!(p.segments_removed as usize, before - 1, "every sealed segment goes");
    assert!(s.segment_count() <= 2);
    // Live bytes: groups 0 and 1 whole (100 entries each), the others one
    // entry: far less than what was written.
    assert!(p.bytes_rewritten < s.stats().bytes / 4, "{p:?} {:?}", s.stats());
    let check = |s: &FileLogStore| {
        for g in 0..20 {
            assert_eq!(s.last_index(g), 100);
            let first = if g < 2 { 1 } else { 100 };
            assert_eq!(s.first_index(g), first, "group {g}");
            assert_eq!(s.term(g, first - 1).unwrap(), if g < 2 { 0 } else { 1 });
            let ents = s.entries(g, first, 101, u64::MAX).unwrap();
            assert_eq!(ents, (first..=100).map(|i| ent(g, i, 1)).collect::<Vec<_>>());
            assert_eq!(s.hard_state(g), HardState { term: 1, vote: 1, commit: 99 });
        }
    };
    check(&s);
    drop(s);
    let s = FileLogStore::open(dir.path(), opts).unwrap();
    check(&s);
    assert_eq!(s.indexed_entries(), 2 * 100 + 18);
}

#[test]
fn removed_groups_stay_removed_across_purge_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { segment_bytes: 4096 };
    let s = FileLogStore::open(dir.path(), opts.clone()).unwrap();
    for _ in 0..30 {
        append(&s, &[1, 2, 3], 2, false);
    }
    s.remove_group(2).unwrap();
    s.purge().unwrap();
    append(&s, &[1], 1, true);
    drop(s);
    let s = FileLogStore::open(dir.path(), opts).unwrap();
    assert_eq!(s.groups(), vec![1, 3]);
    assert_eq!(s.last_index(2), 0);
    assert_eq!(s.last_index(1), 61);
}

#[test]
fn reads_run_concurrently_with_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(FileLogStore::open(dir.path(), Options { segment_bytes: 64 << 10 }).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let (s, stop) = (s.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let g = (reads + r) % 8;
                    let (first, last) = (s.first_index(g), s.last_index(g));
                    if last < first {
                        continue;
                    }
                    // Compaction and purge may run ahead of us: Compacted is
                    // a legal answer, anything else must be the exact entries.
                    match s.entries(g, first, last + 1, u64::MAX) {
                        Ok(ents) => {
                            for (k, e) in ents.iter().enumerate() {
                                assert_eq!(*e, ent(g, first + k as u64, 1));
                            }
                        }
                        Err(polyraft::Error::Compacted) => {}
                        Err(e) => panic!("read of group {g}: {e}"),
                    }
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let groups: Vec<u64> = (0..8).collect();
    for round in 0..300 {
        append(&s, &groups, 3, round % 4 == 0);
        if round % 50 == 49 {
            for &g in &groups {
                s.compact(g, s.last_index(g) - 5).unwrap();
            }
            s.purge().unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let reads: u64 = readers.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(reads > 100, "{reads} reads");
    assert_eq!(s.last_index(5), 900);
}

#[test]
fn purge_of_more_live_data_than_one_checkpoint_frame() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { segment_bytes: 1 << 20 };
    let s = FileLogStore::open(dir.path(), opts.clone()).unwrap();
    let big = |g: u64, i: u64| Entry { index: i, term: 2, data: Bytes::from(vec![(g * 31 + i) as u8; 1024]), ..Default::default() };
    for round in 0..300u64 {
        let batch = WriteBatch {
            groups: (0..40u64)
                .map(|g| GroupWrite { group: g, entries: vec![big(g, round + 1)], ..Default::default() })
                .collect(),
        };
        s.write(&batch, false).unwrap();
    }
    // 12 MB live, nothing compacted: the checkpoints take two frames.
    let p = s.purge().unwrap();
    assert!(p.bytes_rewritten > 12_000_000, "{p:?}");
    drop(s);
    let s = FileLogStore::open(dir.path(), opts).unwrap();
    assert!(s.recovery_report().frames >= 2);
    for g in 0..40 {
        assert_eq!(s.entries(g, 1, 301, u64::MAX).unwrap(), (1..=300).map(|i| big(g, i)).collect::<Vec<_>>());
    }
}

#[test]
fn stores_are_send_and_sync() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<FileLogStore>();
    shared::<polyraft_logstore::MemLogStore>();
    // The engine holds the log as a trait object.
    let dir = tempfile::tempdir().unwrap();
    let s: Arc<dyn LogStore> = Arc::new(FileLogStore::open(dir.path(), Options::default()).unwrap());
    assert!(s.groups().is_empty());
}
