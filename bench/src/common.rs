//! What every harness shares: the workload spec, the result counters, the
//! counting global allocator and peak RSS.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counts every allocation (alloc, alloc_zeroed, realloc) made by the
/// process. One relaxed add per call: the same small cost for every harness.
pub struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        System.alloc_zeroed(l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        System.realloc(p, l, n)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
}

/// Allocations so far.
#[inline]
pub fn allocs() -> u64 {
    ALLOCS.load(Relaxed)
}

/// How proposals reach the leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One `propose` call per entry.
    PerEntry,
    /// All B entries in one call (polyraft: propose_batch; raft-rs: one
    /// multi-entry MsgProp through step).
    Batch,
}

/// One run of W1 (or, with `cycles`, W2).
#[derive(Clone, Debug)]
pub struct Spec {
    pub voters: u64,
    /// Entries the leader must apply (W1) or proposal cycles (W2).
    pub n: u64,
    pub batch: u64,
    pub payload: usize,
    pub mode: Mode,
    pub wire: bool,
    pub compact_every: u64,
    /// Batched appends (polyraft `batch_append`, raft-rs `batch_append`):
    /// the appends to one peer within a Ready merged into one MsgApp. etcd
    /// raft has no such option.
    pub batch_append: bool,
}

/// Counters of one run.
#[derive(Clone, Debug, Default)]
pub struct Out {
    pub applied: u64,
    pub elapsed_ns: u64,
    pub msgs: u64,
    pub readies_leader: u64,
    pub readies_total: u64,
    pub storage_calls_leader: u64,
    pub storage_calls_total: u64,
    pub allocs_leader: u64,
    pub allocs_total: u64,
}

/// Peak resident set of this process in KiB (VmHWM).
pub fn peak_rss_kb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The payload every proposal carries (shared, never copied by the harness).
pub fn payload(p: usize) -> bytes::Bytes {
    bytes::Bytes::from((0..p).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}
