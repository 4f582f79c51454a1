//! polyraft driven by the W1/W2 loop.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;
use polyraft::logger::NoopLogger;
use polyraft::raftpb::{self, ConfState, Entry, HardState, Message, Snapshot};
use polyraft::{Config, MemoryStorage, RawNode, Storage};

use crate::common::{allocs, payload, Mode, Out, Spec};

/// MemoryStorage that counts the calls raft makes on it.
pub struct Counted {
    inner: MemoryStorage,
    calls: Rc<Cell<u64>>,
}

impl Counted {
    #[inline]
    fn tick(&self) {
        self.calls.set(self.calls.get() + 1);
    }
}

impl Storage for Counted {
    fn initial_state(&self) -> polyraft::Result<(HardState, ConfState)> {
        self.tick();
        self.inner.initial_state()
    }
    fn entries(&self, lo: u64, hi: u64, max_size: u64) -> polyraft::Result<Vec<Entry>> {
        self.tick();
        self.inner.entries(lo, hi, max_size)
    }
    fn entries_into(&self, lo: u64, hi: u64, max_size: u64, out: &mut Vec<Entry>) -> polyraft::Result<()> {
        self.tick();
        self.inner.entries_into(lo, hi, max_size, out)
    }
    fn term(&self, i: u64) -> polyraft::Result<u64> {
        self.tick();
        self.inner.term(i)
    }
    fn last_index(&self) -> polyraft::Result<u64> {
        self.tick();
        self.inner.last_index()
    }
    fn first_index(&self) -> polyraft::Result<u64> {
        self.tick();
        self.inner.first_index()
    }
    fn snapshot(&self) -> polyraft::Result<Snapshot> {
        self.tick();
        self.inner.snapshot()
    }
}

struct Node {
    rn: RawNode<Counted>,
    store: MemoryStorage,
    calls: Rc<Cell<u64>>,
    /// Messages passed as values, or (wire) encoded.
    inbox: Vec<Message>,
    inbox_wire: Vec<Bytes>,
    applied_index: u64,
    compacted: u64,
    applied_data: u64,
    readies: u64,
    allocs: u64,
}

pub struct Cluster {
    nodes: Vec<Node>,
    scratch: Vec<Message>,
    scratch_wire: Vec<Bytes>,
    wire: bool,
    compact_every: u64,
    msgs: u64,
}

impl Cluster {
    pub fn new(voters: u64, wire: bool, compact_every: u64, batch_append: bool) -> Cluster {
        let ids: Vec<u64> = (1..=voters).collect();
        let nodes = ids
            .iter()
            .map(|&id| {
                let store = MemoryStorage::new_with_conf_state(ConfState { voters: ids.clone(), ..Default::default() });
                let calls = Rc::new(Cell::new(0));
                let cfg = Config {
                    id,
                    election_tick: 10,
                    heartbeat_tick: 1,
                    max_size_per_msg: 1 << 20,
                    max_inflight_msgs: 256,
                    batch_append,
                    logger: Some(std::sync::Arc::new(NoopLogger)),
                    ..Default::default()
                };
                let rn = RawNode::new(&cfg, Counted { inner: store.clone(), calls: calls.clone() }).unwrap();
                Node {
                    rn,
                    store,
                    calls,
                    inbox: Vec::new(),
                    inbox_wire: Vec::new(),
                    applied_index: 0,
                    compacted: 0,
                    applied_data: 0,
                    readies: 0,
                    allocs: 0,
                }
            })
            .collect();
        let mut c = Cluster { nodes, scratch: Vec::new(), scratch_wire: Vec::new(), wire, compact_every, msgs: 0 };
        c.nodes[0].rn.campaign().unwrap();
        c.run();
        assert_eq!(c.nodes[0].rn.raft().state, polyraft::StateType::Leader, "node 1 must win");
        c
    }

    fn propose(&mut self, data: &[Bytes], mode: Mode) {
        let n = &mut self.nodes[0];
        let a0 = allocs();
        match mode {
            Mode::PerEntry => {
                for d in data {
                    n.rn.propose(d.clone()).unwrap();
                }
            }
            Mode::Batch => n.rn.propose_batch(data).unwrap(),
        }
        n.allocs += allocs() - a0;
    }

    /// Steps inboxes and handles Readies until no node has work.
    fn run(&mut self) {
        loop {
            let mut any = false;
            for i in 0..self.nodes.len() {
                std::mem::swap(&mut self.nodes[i].inbox, &mut self.scratch);
                std::mem::swap(&mut self.nodes[i].inbox_wire, &mut self.scratch_wire);
                let n = &mut self.nodes[i];
                for m in self.scratch.drain(..) {
                    any = true;
                    let a0 = allocs();
                    let _ = n.rn.step(m);
                    n.allocs += allocs() - a0;
                }
                for b in self.scratch_wire.drain(..) {
                    any = true;
                    let m = <Message as prost::Message>::decode(b).unwrap();
                    let a0 = allocs();
                    let _ = n.rn.step(m);
                    n.allocs += allocs() - a0;
                }
                if !n.rn.has_ready() {
                    continue;
                }
                any = true;
                n.readies += 1;
                // Allocations made by the node (ready, storage writes,
                // advance) are the node's; queueing to inboxes and wire
                // encoding are the harness's.
                let a0 = allocs();
                let mut rd = n.rn.ready();
                if let Some(hs) = rd.hard_state.take() {
                    n.store.set_hard_state(hs);
                }
                if !rd.entries.is_empty() {
                    n.store.append(&rd.entries).unwrap();
                }
                n.allocs += allocs() - a0;
                // Drained, not consumed: the vector goes back with the Ready.
                for m in rd.messages.drain(..) {
                    self.msgs += 1;
                    let to = &mut self.nodes[(m.to - 1) as usize];
                    if self.wire {
                        to.inbox_wire.push(raftpb::encode(&m));
                    } else {
                        to.inbox.push(m);
                    }
                }
                let n = &mut self.nodes[i];
                for e in &rd.committed_entries {
                    if !e.data.is_empty() {
                        n.applied_data += 1;
                    }
                }
                if let Some(e) = rd.committed_entries.last() {
                    n.applied_index = e.index;
                }
                let a0 = allocs();
                // The Ready's vectors serve the next one.
                n.rn.advance_with(rd).unwrap();
                if self.compact_every > 0 && n.applied_index - n.compacted >= self.compact_every {
                    n.store.compact(n.applied_index).unwrap();
                    n.compacted = n.applied_index;
                }
                n.allocs += allocs() - a0;
            }
            if !any {
                break;
            }
        }
    }

    fn out(&self, elapsed_ns: u64) -> Out {
        let l = &self.nodes[0];
        Out {
            applied: l.applied_data,
            elapsed_ns,
            msgs: self.msgs,
            readies_leader: l.readies,
            readies_total: self.nodes.iter().map(|n| n.readies).sum(),
            storage_calls_leader: l.calls.get(),
            storage_calls_total: self.nodes.iter().map(|n| n.calls.get()).sum(),
            allocs_leader: l.allocs,
            allocs_total: 0,
        }
    }

    fn reset(&mut self) {
        self.msgs = 0;
        for n in &mut self.nodes {
            n.applied_data = 0;
            n.readies = 0;
            n.allocs = 0;
            n.calls.set(0);
        }
    }
}

/// W1: propose B entries, run until quiet, until the leader applied N.
pub fn w1(s: &Spec) -> Out {
    let mut c = Cluster::new(s.voters, s.wire, s.compact_every, s.batch_append);
    let p = payload(s.payload);
    let data: Vec<Bytes> = (0..s.batch).map(|_| p.clone()).collect();
    c.reset();
    let a0 = allocs();
    let t0 = Instant::now();
    while c.nodes[0].applied_data < s.n {
        c.propose(&data, s.mode);
        c.run();
    }
    let mut o = c.out(t0.elapsed().as_nanos() as u64);
    o.allocs_total = allocs() - a0;
    o
}

/// W2: `n` cycles of one proposal run until applied (and quiet).
pub fn w2(s: &Spec) -> Out {
    let mut c = Cluster::new(s.voters, s.wire, s.compact_every, s.batch_append);
    let data = [payload(s.payload)];
    // Warm up buffers so that steady state is measured.
    for _ in 0..1000 {
        c.propose(&data, Mode::PerEntry);
        c.run();
    }
    c.reset();
    let a0 = allocs();
    let t0 = Instant::now();
    for _ in 0..s.n {
        c.propose(&data, Mode::PerEntry);
        c.run();
    }
    let mut o = c.out(t0.elapsed().as_nanos() as u64);
    o.allocs_total = allocs() - a0;
    o
}
