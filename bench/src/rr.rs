//! raft-rs (the `raft` crate, tikv) driven by the same W1/W2 loop.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;
use protobuf::Message as PbMessage;
use raft::prelude::{ConfState, Entry, Message, MessageType, Snapshot};
use raft::storage::MemStorage;
use raft::{Config, GetEntriesContext, RaftState, RawNode, StateRole, Storage};

use crate::common::{allocs, payload, Mode, Out, Spec};

/// MemStorage that counts the calls raft makes on it.
pub struct Counted {
    inner: MemStorage,
    calls: Rc<Cell<u64>>,
}

impl Counted {
    #[inline]
    fn tick(&self) {
        self.calls.set(self.calls.get() + 1);
    }
}

impl Storage for Counted {
    fn initial_state(&self) -> raft::Result<RaftState> {
        self.tick();
        self.inner.initial_state()
    }
    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        self.tick();
        self.inner.entries(low, high, max_size, context)
    }
    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.tick();
        self.inner.term(idx)
    }
    fn first_index(&self) -> raft::Result<u64> {
        self.tick();
        self.inner.first_index()
    }
    fn last_index(&self) -> raft::Result<u64> {
        self.tick();
        self.inner.last_index()
    }
    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        self.tick();
        self.inner.snapshot(request_index, to)
    }
}

struct Node {
    rn: RawNode<Counted>,
    store: MemStorage,
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

fn count(n: &mut Node, ents: &[Entry]) {
    for e in ents {
        if !e.data.is_empty() {
            n.applied_data += 1;
        }
    }
    if let Some(e) = ents.last() {
        n.applied_index = e.index;
    }
}

impl Cluster {
    pub fn new(voters: u64, wire: bool, compact_every: u64, batch_append: bool) -> Cluster {
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let ids: Vec<u64> = (1..=voters).collect();
        let nodes = ids
            .iter()
            .map(|&id| {
                let store = MemStorage::new_with_conf_state(ConfState::from((ids.clone(), vec![])));
                let calls = Rc::new(Cell::new(0));
                let cfg = Config {
                    id,
                    election_tick: 10,
                    heartbeat_tick: 1,
                    max_size_per_msg: 1 << 20,
                    max_inflight_msgs: 256,
                    batch_append,
                    // etcd (and polyraft) cap committed entries per Ready at
                    // max_size_per_msg when unset; the same cap here.
                    max_committed_size_per_ready: 1 << 20,
                    ..Default::default()
                };
                let rn = RawNode::new(&cfg, Counted { inner: store.clone(), calls: calls.clone() }, &logger).unwrap();
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
        assert_eq!(c.nodes[0].rn.raft.state, StateRole::Leader, "node 1 must win");
        c
    }

    fn propose(&mut self, data: &[Bytes], mode: Mode) {
        let n = &mut self.nodes[0];
        let a0 = allocs();
        match mode {
            Mode::PerEntry => {
                for d in data {
                    // raft-rs's propose takes an owned Vec<u8>.
                    n.rn.propose(Vec::new(), d.to_vec()).unwrap();
                }
            }
            Mode::Batch => {
                // No propose_batch: one multi-entry MsgProp through step.
                let mut m = Message::default();
                m.set_msg_type(MessageType::MsgPropose);
                m.from = n.rn.raft.id;
                let ents: Vec<Entry> = data
                    .iter()
                    .map(|d| {
                        let mut e = Entry::default();
                        e.data = d.clone();
                        e
                    })
                    .collect();
                m.set_entries(ents.into());
                n.rn.step(m).unwrap();
            }
        }
        n.allocs += allocs() - a0;
    }

    fn send(&mut self, msgs: Vec<Message>) {
        for m in msgs {
            self.msgs += 1;
            let to = &mut self.nodes[(m.to - 1) as usize];
            if self.wire {
                to.inbox_wire.push(Bytes::from(m.write_to_bytes().unwrap()));
            } else {
                to.inbox.push(m);
            }
        }
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
                    let m = Message::parse_from_carllerche_bytes(&b).unwrap();
                    let a0 = allocs();
                    let _ = n.rn.step(m);
                    n.allocs += allocs() - a0;
                }
                if !n.rn.has_ready() {
                    continue;
                }
                any = true;
                n.readies += 1;
                let a0 = allocs();
                let mut rd = n.rn.ready();
                n.allocs += allocs() - a0;
                // The leader may send these before persisting.
                let early = rd.take_messages();
                self.send(early);
                let n = &mut self.nodes[i];
                let a0 = allocs();
                let committed = rd.take_committed_entries();
                if !rd.entries().is_empty() {
                    n.store.wl().append(rd.entries()).unwrap();
                }
                if let Some(hs) = rd.hs() {
                    n.store.wl().set_hardstate(hs.clone());
                }
                let persisted = rd.take_persisted_messages();
                n.allocs += allocs() - a0;
                count(n, &committed);
                self.send(persisted);
                let n = &mut self.nodes[i];
                let a0 = allocs();
                let mut light = n.rn.advance(rd);
                if let Some(commit) = light.commit_index() {
                    n.store.wl().mut_hard_state().commit = commit;
                }
                let later = light.take_messages();
                let committed = light.take_committed_entries();
                n.allocs += allocs() - a0;
                count(n, &committed);
                self.send(later);
                let n = &mut self.nodes[i];
                let a0 = allocs();
                n.rn.advance_apply();
                if self.compact_every > 0 && n.applied_index - n.compacted >= self.compact_every {
                    n.store.wl().compact(n.applied_index).unwrap();
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
