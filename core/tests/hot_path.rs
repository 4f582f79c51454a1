//! The leader's allocations per proposal cycle (shared BENCH.md W2): three
//! voters over MemoryStorage in one thread, one entry proposed and run
//! until applied everywhere, Readys handed back with `advance_with`. A
//! counting global allocator counts what happens inside the leader's calls.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use polyraft::logger::NoopLogger;
use polyraft::raftpb::{ConfState, Message};
use polyraft::{Config, MemoryStorage, RawNode, StateType, Storage};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The counter is process-wide: the tests of this file take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn allocs() -> u64 {
    ALLOCS.load(Ordering::Relaxed)
}

struct Node {
    rn: RawNode<MemoryStorage>,
    store: MemoryStorage,
    inbox: Vec<Message>,
}

/// Steps inboxes and handles Readys until no node has work; returns the
/// allocations made inside the leader's (node 1's) calls.
fn run(nodes: &mut [Node], scratch: &mut Vec<Message>, lend: bool) -> u64 {
    let mut leader_allocs = 0;
    loop {
        let mut any = false;
        for i in 0..nodes.len() {
            std::mem::swap(&mut nodes[i].inbox, scratch);
            for m in scratch.drain(..) {
                any = true;
                let a0 = allocs();
                let _ = nodes[i].rn.step(m);
                if i == 0 {
                    leader_allocs += allocs() - a0;
                }
            }
            if !nodes[i].rn.has_ready() {
                continue;
            }
            any = true;
            let a0 = allocs();
            let mut rd = nodes[i].rn.ready();
            if let Some(hs) = rd.hard_state.take() {
                nodes[i].store.set_hard_state(hs);
            }
            if !rd.entries.is_empty() {
                nodes[i].store.append(&rd.entries).unwrap();
            }
            let mut a = allocs() - a0;
            let msgs: Vec<Message> = rd.messages.drain(..).collect();
            let a1 = allocs();
            if lend {
                nodes[i].rn.advance_with(rd).unwrap();
            } else {
                drop(rd);
                nodes[i].rn.advance().unwrap();
            }
            a += allocs() - a1;
            if i == 0 {
                leader_allocs += a;
            }
            for m in msgs {
                nodes[(m.to - 1) as usize].inbox.push(m);
            }
        }
        if !any {
            return leader_allocs;
        }
    }
}

fn cluster(batch_append: bool) -> Vec<Node> {
    let ids = vec![1, 2, 3];
    let mut nodes: Vec<Node> = ids
        .iter()
        .map(|&id| {
            let store = MemoryStorage::new_with_conf_state(ConfState { voters: ids.clone(), ..Default::default() });
            let cfg = Config {
                id,
                max_size_per_msg: 1 << 20,
                batch_append,
                logger: Some(Arc::new(NoopLogger)),
                ..Default::default()
            };
            Node { rn: RawNode::new(&cfg, store.clone()).unwrap(), store, inbox: Vec::new() }
        })
        .collect();
    nodes[0].rn.campaign().unwrap();
    run(&mut nodes, &mut Vec::new(), true);
    assert_eq!(nodes[0].rn.raft().state, StateType::Leader);
    nodes
}

/// Average leader allocations per cycle over `cycles`, after a warm-up.
fn leader_allocs_per_cycle(batch_append: bool, lend: bool, cycles: u64) -> f64 {
    let mut nodes = cluster(batch_append);
    let mut scratch = Vec::new();
    let data = Bytes::from(vec![7u8; 128]);
    let mut cycle = |nodes: &mut Vec<Node>| {
        let a0 = allocs();
        nodes[0].rn.propose(data.clone()).unwrap();
        allocs() - a0 + run(nodes, &mut scratch, lend)
    };
    for _ in 0..200 {
        cycle(&mut nodes);
    }
    let applied0 = nodes[1].store.last_index().unwrap();
    let total: u64 = (0..cycles).map(|_| cycle(&mut nodes)).sum();
    // Every cycle committed and replicated its entry.
    assert_eq!(nodes[1].store.last_index().unwrap(), applied0 + cycles);
    total as f64 / cycles as f64
}

#[test]
fn a_proposal_cycle_costs_the_leader_two_allocations_with_lent_readys() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The two left are the entry vectors of the two MsgApps, which leave
    // with the messages. Above them only the storage's growing log, whose
    // vector doubles now and then (3 times in 1,000 cycles here).
    for batch_append in [false, true] {
        let per = leader_allocs_per_cycle(batch_append, true, 1000);
        assert!(per <= 2.01, "batch_append={batch_append}: {per} allocations per cycle on the leader");
    }
}

#[test]
fn without_lending_the_readys_vectors_are_allocated_again() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lent = leader_allocs_per_cycle(false, true, 1000);
    let not_lent = leader_allocs_per_cycle(false, false, 1000);
    assert!(not_lent > lent, "lending saves allocations: {lent} lent, {not_lent} not lent");
}
