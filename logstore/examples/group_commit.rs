//! Group commit of the shared log, measured.
//!
//! `cargo run --release -p polyraft-logstore --example group_commit [-- --secs S --dir D --payload B]`
//!
//! For 1, 10, 100 and 1,000 active groups: each group is a proposer thread
//! with one entry in flight (it submits an entry and waits until it is
//! durable); one writer thread takes whatever is pending, writes it as one
//! batch (one `GroupWrite` per group: its entries and hard state) with one
//! fdatasync, and acknowledges. Prints fsyncs per second, entries per
//! fsync, entries per second and the mean latency of an entry.
//!
//! Then the index's memory per idle group (`--memory` alone runs only
//! that): 10,000 groups with a few entries each, compacted to their last
//! entry, then with a 100-entry tail kept, measured by a counting
//! allocator.
//!
//! The harness (`run`, `Sink`) is written so that another store can be
//! measured on the very same workload (the raft-engine comparison includes
//! this file from a scratch crate).

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use polyraft::raftpb::{ConfState, Entry, HardState, SnapshotMetadata};
use polyraft_logstore::{FileLogStore, GroupWrite, LogStore, Options, WriteBatch};

/// Counts live heap bytes, for the memory figure.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// One pending entry: its group, index and payload.
pub struct Req {
    pub group: u64,
    pub index: u64,
    pub data: Bytes,
}

/// A log under test: writes one batch of pending entries durably.
pub trait Sink: Send + Sync {
    /// Writes `reqs` (at most one per group) as one batch with one sync.
    fn write_synced(&self, reqs: &[Req]);
    /// fsyncs so far.
    fn syncs(&self) -> u64;
}

/// The figures of one run.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub groups: usize,
    pub secs: f64,
    pub entries: u64,
    pub syncs: u64,
    pub mean_latency_us: f64,
    /// Share of the time the writer spent in the log's write (the rest is
    /// waiting for proposers: thread wake-ups on a loaded machine).
    pub writer_busy: f64,
}

impl Figures {
    pub fn print(&self, name: &str) {
        println!(
            "{name:>12} | {:>6} | {:>9.0} | {:>10.1} | {:>10.0} | {:>9.0} | {:>5.0}%",
            self.groups,
            self.syncs as f64 / self.secs,
            self.entries as f64 / self.syncs.max(1) as f64,
            self.entries as f64 / self.secs,
            self.mean_latency_us,
            self.writer_busy * 100.0
        );
    }
}

pub fn header() {
    println!(
        "{:>12} | {:>6} | {:>9} | {:>10} | {:>10} | {:>9} | {:>6}",
        "log", "groups", "fsyncs/s", "ents/fsync", "entries/s", "mean µs", "busy"
    );
}

struct Queue {
    pending: Vec<(Req, mpsc::Sender<()>)>,
    stop: bool,
}

/// Runs `groups` proposers against `sink` for `secs` seconds.
pub fn run<S: Sink + 'static>(sink: Arc<S>, groups: usize, secs: f64, payload: usize) -> Figures {
    let q = Arc::new((Mutex::new(Queue { pending: Vec::new(), stop: false }), Condvar::new()));
    let entries = Arc::new(AtomicU64::new(0));
    let lat_ns = Arc::new(AtomicU64::new(0));
    let busy_ns = Arc::new(AtomicU64::new(0));
    let writer = {
        let (q, sink, busy_ns) = (q.clone(), sink.clone(), busy_ns.clone());
        std::thread::spawn(move || loop {
            let batch = {
                let (m, cv) = &*q;
                let mut g = m.lock().unwrap();
                while g.pending.is_empty() && !g.stop {
                    g = cv.wait(g).unwrap();
                }
                if g.pending.is_empty() {
                    return;
                }
                std::mem::take(&mut g.pending)
            };
            let (reqs, acks): (Vec<Req>, Vec<mpsc::Sender<()>>) = batch.into_iter().unzip();
            let t = Instant::now();
            sink.write_synced(&reqs);
            busy_ns.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
            for a in acks {
                let _ = a.send(());
            }
        })
    };
    let syncs0 = sink.syncs();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let proposers: Vec<_> = (0..groups)
        .map(|g| {
            let (q, entries, lat_ns) = (q.clone(), entries.clone(), lat_ns.clone());
            let data = Bytes::from(vec![g as u8; payload]);
            std::thread::spawn(move || {
                let (tx, rx) = mpsc::channel();
                let mut index = 1;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    {
                        let (m, cv) = &*q;
                        m.lock().unwrap().pending.push((Req { group: g as u64 + 1, index, data: data.clone() }, tx.clone()));
                        cv.notify_one();
                    }
                    rx.recv().unwrap();
                    lat_ns.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    entries.fetch_add(1, Ordering::Relaxed);
                    index += 1;
                }
            })
        })
        .collect();
    for p in proposers {
        p.join().unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    {
        let (m, cv) = &*q;
        m.lock().unwrap().stop = true;
        cv.notify_one();
    }
    writer.join().unwrap();
    let n = entries.load(Ordering::Relaxed);
    Figures {
        groups,
        secs: elapsed,
        entries: n,
        syncs: sink.syncs() - syncs0,
        mean_latency_us: lat_ns.load(Ordering::Relaxed) as f64 / n.max(1) as f64 / 1000.0,
        writer_busy: busy_ns.load(Ordering::Relaxed) as f64 / 1e9 / elapsed,
    }
}

/// FileLogStore as a sink: one GroupWrite per group (the entry and the
/// group's hard state), one synced write.
pub struct FileSink(pub FileLogStore);

impl FileSink {
    /// The batch for `reqs`: per group its entry and hard state.
    pub fn batch(&self, reqs: &[Req]) -> WriteBatch {
        WriteBatch {
            groups: reqs
                .iter()
                .map(|r| GroupWrite {
                    group: r.group,
                    entries: vec![Entry { index: r.index, term: 1, data: r.data.clone(), ..Default::default() }],
                    hard_state: Some(HardState { term: 1, vote: 1, commit: r.index - 1 }),
                    ..Default::default()
                })
                .collect(),
        }
    }
}

impl Sink for FileSink {
    fn write_synced(&self, reqs: &[Req]) {
        self.0.write(&self.batch(reqs), true).expect("write");
    }
    fn syncs(&self) -> u64 {
        self.0.stats().syncs
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// Heap bytes per idle group: `n` groups with `entries` entries each,
/// compacted to keep `keep` of them.
fn memory_per_group(dir: &Path, n: u64, entries: u64, keep: u64) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    let s = FileLogStore::open(dir, Options::default()).unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    for chunk in (1..=n).collect::<Vec<_>>().chunks(500) {
        let batch = WriteBatch {
            groups: chunk
                .iter()
                .map(|&g| GroupWrite {
                    group: g,
                    snapshot: None,
                    entries: (1..=entries).map(|i| Entry { index: i, term: 1, data: Bytes::from_static(b"0123456789abcdef"), ..Default::default() }).collect(),
                    hard_state: Some(HardState { term: 1, vote: 1, commit: entries }),
                })
                .collect(),
        };
        s.write(&batch, false).unwrap();
        // The host snapshots each group at its applied index (the last
        // entry here) and compacts behind it, keeping `keep` entries.
        let snaps = WriteBatch {
            groups: chunk
                .iter()
                .map(|&g| GroupWrite {
                    group: g,
                    snapshot: Some(SnapshotMetadata {
                        conf_state: Some(ConfState { voters: vec![1, 2, 3], ..Default::default() }),
                        index: entries,
                        term: 1,
                    }),
                    ..Default::default()
                })
                .collect(),
        };
        s.write(&snaps, false).unwrap();
    }
    for g in 1..=n {
        s.compact(g, entries - keep).unwrap();
    }
    s.write(&WriteBatch::default(), true).unwrap();
    let after = LIVE.load(Ordering::Relaxed);
    assert_eq!(s.indexed_entries() as u64, n * keep);
    drop(s);
    (after - before) as f64 / n as f64
}

fn main() {
    let secs: f64 = arg("--secs").and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let payload: usize = arg("--payload").and_then(|s| s.parse().ok()).unwrap_or(256);
    let dir = PathBuf::from(arg("--dir").unwrap_or_else(|| "target/group_commit_bench".into()));
    let memory_only = std::env::args().any(|a| a == "--memory");
    if !memory_only {
        println!("group commit, FileLogStore, {payload}-byte entries, {secs} s per row, directory {}", dir.display());
        header();
        for groups in [1, 10, 100, 1000] {
            let _ = std::fs::remove_dir_all(&dir);
            let sink = Arc::new(FileSink(FileLogStore::open(&dir, Options::default()).unwrap()));
            run(sink, groups, secs, payload).print("FileLogStore");
        }
    }
    // The write path's own cost, without the fsync: 1,000-group batches.
    if !memory_only {
        let _ = std::fs::remove_dir_all(&dir);
        let sink = FileSink(FileLogStore::open(&dir, Options::default()).unwrap());
        let data = Bytes::from(vec![7u8; payload]);
        let t = Instant::now();
        let rounds = 300u64;
        for i in 1..=rounds {
            let reqs: Vec<Req> = (1..=1000).map(|g| Req { group: g, index: i, data: data.clone() }).collect();
            let batch = sink.batch(&reqs);
            sink.0.write(&batch, false).unwrap();
        }
        let per = t.elapsed().as_secs_f64() / rounds as f64;
        println!(
            "write path without fsync: {:.0} µs per 1,000-group batch ({:.2} µs per entry, {:.0} MB/s)",
            per * 1e6,
            per * 1e6 / 1000.0,
            sink.0.stats().bytes as f64 / t.elapsed().as_secs_f64() / 1e6
        );
    }
    let mdir = dir.with_extension("mem");
    let idle = memory_per_group(&mdir, 10_000, 20, 0);
    let tail = memory_per_group(&mdir, 10_000, 120, 100);
    println!("index memory per idle group (10,000 groups): {idle:.0} bytes compacted to the applied index, {tail:.0} bytes with a 100-entry tail kept");
    let _ = std::fs::remove_dir_all(&mdir);
    let _ = std::fs::remove_dir_all(&dir);
}
