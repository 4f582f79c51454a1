//! A 3-node RawNode cluster on DurableStorage: replication, a node that
//! crashes, misses entries compacted away meanwhile (so it is sent a
//! snapshot), restarts from its directory and rejoins with its log; then
//! the whole cluster restarts from disk. Also measures fsyncs per Ready.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use polyraft::raftpb::{ConfState, Entry, EntryType, Message, Snapshot};
use polyraft::rafttest::cluster::{conf_change_of, test_config};
use polyraft_wal::{DurableStorage, Options};
use polyraft::{Config, RawNode, StateType, Storage, LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD};

/// A node and its application: the applied payloads are the state
/// machine, snapshotted as newline-separated lines.
struct Node {
    raw: RawNode<DurableStorage>,
    store: DurableStorage,
    state: Vec<Bytes>,
    applied: u64,
    conf_state: ConfState,
}

fn voters() -> ConfState {
    ConfState { voters: vec![1, 2, 3], ..Default::default() }
}

fn opts() -> Options {
    Options { segment_bytes: 2048 }
}

fn start(id: u64, dir: &Path, async_writes: bool) -> Node {
    let (store, rep) = DurableStorage::open(dir, opts()).unwrap();
    if rep.created {
        store.bootstrap_conf_state(voters()).unwrap();
    }
    // The application's state comes back from the snapshot; raft then
    // hands out every committed entry after it again.
    let snap = store.snapshot().unwrap();
    let state = if snap.data.is_empty() {
        vec![]
    } else {
        snap.data.split(|b| *b == b'\n').map(Bytes::copy_from_slice).collect()
    };
    let cfg = Config { id, applied: snap.index(), async_storage_writes: async_writes, ..test_config() };
    let raw = RawNode::new(&cfg, store.clone()).unwrap();
    Node { raw, store, state, applied: snap.index(), conf_state: snap.conf_state() }
}

fn restore(n: &mut Node, s: &Snapshot) {
    n.state = s.data.split(|b| *b == b'\n').map(Bytes::copy_from_slice).collect();
    n.applied = s.index();
    n.conf_state = s.conf_state();
}

fn apply(n: &mut Node, ents: &[Entry]) {
    for e in ents {
        if let Some(cc) = conf_change_of(e).unwrap() {
            n.conf_state = n.raw.apply_conf_change(cc).unwrap();
        } else if e.r#type() == EntryType::EntryNormal && !e.data.is_empty() {
            n.state.push(e.data.clone());
        }
        n.applied = e.index;
    }
}

struct World {
    dirs: Vec<PathBuf>,
    nodes: Vec<Option<Node>>,
    queue: Vec<Message>,
    async_writes: bool,
    _tmp: tempfile::TempDir,
}

impl World {
    fn new(async_writes: bool) -> World {
        let tmp = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (1..=3).map(|i| tmp.path().join(format!("n{i}"))).collect();
        let nodes = (1..=3).map(|i| Some(start(i, &dirs[i as usize - 1], async_writes))).collect();
        World { dirs, nodes, queue: vec![], async_writes, _tmp: tmp }
    }

    fn node(&mut self, id: u64) -> &mut Node {
        self.nodes[id as usize - 1].as_mut().unwrap()
    }

    fn crash(&mut self, id: u64) {
        self.nodes[id as usize - 1] = None;
    }

    fn restart(&mut self, id: u64) {
        let n = start(id, &self.dirs[id as usize - 1].clone(), self.async_writes);
        self.nodes[id as usize - 1] = Some(n);
    }

    /// One Ready cycle on every live node, then delivery; until quiet.
    fn stabilize(&mut self) {
        loop {
            let mut moved = false;
            for n in self.nodes.iter_mut().flatten() {
                if !n.raw.has_ready() {
                    continue;
                }
                moved = true;
                let rd = n.raw.ready();
                if self.async_writes {
                    // The storage "threads" run inline: persist, then hand
                    // back the responses raft attached.
                    for m in rd.messages {
                        let resps = match m.to {
                            LOCAL_APPEND_THREAD => {
                                n.store.persist_storage_append(&m).unwrap();
                                if let Some(s) = &m.snapshot {
                                    restore(n, s);
                                }
                                m.responses
                            }
                            LOCAL_APPLY_THREAD => {
                                apply(n, &m.entries);
                                m.responses
                            }
                            _ => vec![m],
                        };
                        for r in resps {
                            if r.to == n.raw.basic_status().id {
                                n.raw.step(r).unwrap();
                            } else {
                                self.queue.push(r);
                            }
                        }
                    }
                    continue;
                }
                // Durable before anything is sent.
                n.store.persist_ready(&rd).unwrap();
                if let Some(s) = &rd.snapshot {
                    restore(n, s);
                }
                apply(n, &rd.committed_entries);
                self.queue.extend(rd.messages);
                n.raw.advance().unwrap();
            }
            for m in std::mem::take(&mut self.queue) {
                moved = true;
                if let Some(Some(n)) = self.nodes.get_mut(m.to as usize - 1) {
                    let _ = n.raw.step(m);
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn leader(&self) -> Option<u64> {
        self.nodes
            .iter()
            .flatten()
            .find(|n| n.raw.basic_status().soft_state.raft_state == StateType::Leader)
            .map(|n| n.raw.basic_status().id)
    }

    fn propose(&mut self, id: u64, data: String) {
        self.node(id).raw.propose(Bytes::from(data)).unwrap();
        self.stabilize();
    }

    /// Ticks every live node once (heartbeats, elections) and stabilizes.
    fn tick(&mut self) {
        for n in self.nodes.iter_mut().flatten() {
            n.raw.tick();
        }
        self.stabilize();
    }

    /// Application-side log compaction on `id`: snapshot what is applied,
    /// drop the log before it.
    fn snapshot_and_compact(&mut self, id: u64) {
        let n = self.node(id);
        let data = Bytes::from(n.state.join(&b'\n'));
        n.store.create_snapshot(n.applied, Some(n.conf_state.clone()), data).unwrap();
        n.store.compact(n.applied).unwrap();
    }

    fn log(&mut self, id: u64) -> Vec<Entry> {
        let s = &self.node(id).store;
        let (first, last) = (s.first_index().unwrap(), s.last_index().unwrap());
        s.entries(first, last + 1, u64::MAX).unwrap_or_default()
    }
}

#[test]
fn cluster_survives_restarts_on_durable_storage() {
    restarts(false);
}

#[test]
fn cluster_with_async_storage_writes_survives_restarts() {
    restarts(true);
}

fn restarts(async_writes: bool) {
    let mut w = World::new(async_writes);
    w.node(1).raw.campaign().unwrap();
    w.stabilize();
    assert_eq!(w.leader(), Some(1));
    for i in 0..20 {
        w.propose(1, format!("a{i}"));
    }
    let expected: Vec<Bytes> = (0..20).map(|i| Bytes::from(format!("a{i}"))).collect();
    for id in 1..=3 {
        assert_eq!(w.node(id).state, expected);
    }

    // Node 3 crashes; the others go on, and compact past its log.
    let n3_last = w.node(3).store.last_index().unwrap();
    let n3_hs = w.node(3).store.hard_state();
    let n3_log = w.log(3);
    w.crash(3);
    for i in 0..40 {
        w.propose(1, format!("b{i}"));
    }
    w.snapshot_and_compact(1);
    w.snapshot_and_compact(2);
    assert!(w.node(1).store.first_index().unwrap() > n3_last + 1, "node 3 will need a snapshot");

    // Node 3 comes back from its directory with its log and HardState.
    w.restart(3);
    assert_eq!(w.node(3).store.last_index().unwrap(), n3_last);
    assert_eq!(w.node(3).store.hard_state(), n3_hs);
    assert_eq!(w.log(3), n3_log);
    for _ in 0..3 {
        w.tick();
    }
    w.propose(1, "c".into());
    let mut expected: Vec<Bytes> = expected;
    expected.extend((0..40).map(|i| Bytes::from(format!("b{i}"))));
    expected.push(Bytes::from_static(b"c"));
    for id in 1..=3 {
        assert_eq!(w.node(id).state, expected, "node {id} caught up");
    }
    assert!(w.node(3).store.snapshot().unwrap().index() > n3_last, "node 3 installed a snapshot");
    assert_eq!(
        w.log(3),
        w.log(1).into_iter().filter(|e| e.index >= w.node(3).store.first_index().unwrap()).collect::<Vec<_>>()
    );

    // Everybody restarts from disk: a new leader is elected and the data
    // is all there.
    let term_before = w.node(1).raw.basic_status().hard_state.term;
    for id in 1..=3 {
        w.crash(id);
    }
    for id in 1..=3 {
        w.restart(id);
        assert_eq!(w.node(id).raw.basic_status().hard_state.term, term_before);
    }
    for _ in 0..30 {
        w.tick();
        if w.leader().is_some() {
            break;
        }
    }
    let leader = w.leader().expect("a leader after a full restart");
    w.propose(leader, "d".into());
    expected.push(Bytes::from_static(b"d"));
    for id in 1..=3 {
        assert_eq!(w.node(id).state, expected, "node {id} after the full restart");
    }
}

#[test]
fn fsyncs_per_ready() {
    let mut w = World::new(false);
    w.node(1).raw.campaign().unwrap();
    w.stabilize();
    let before: Vec<_> = (1..=3).map(|id| w.node(id).store.stats()).collect();
    let mut must_sync = 0u64;
    let mut readies = 0u64;
    // Count the Readies ourselves too, to split must_sync from the rest.
    for i in 0..200 {
        w.node(1).raw.propose(Bytes::from(format!("p{i}"))).unwrap();
        loop {
            let mut moved = false;
            for n in w.nodes.iter_mut().flatten() {
                if !n.raw.has_ready() {
                    continue;
                }
                moved = true;
                let rd = n.raw.ready();
                readies += 1;
                must_sync += u64::from(rd.must_sync);
                n.store.persist_ready(&rd).unwrap();
                w.queue.extend(rd.messages);
                n.raw.advance().unwrap();
            }
            for m in std::mem::take(&mut w.queue) {
                moved = true;
                if let Some(Some(n)) = w.nodes.get_mut(m.to as usize - 1) {
                    let _ = n.raw.step(m);
                }
            }
            if !moved {
                break;
            }
        }
    }
    let after: Vec<_> = (1..=3).map(|id| w.node(id).store.stats()).collect();
    let fsyncs: u64 = (0..3).map(|i| after[i].fsyncs - before[i].fsyncs).sum();
    let dir_fsyncs: u64 = (0..3).map(|i| after[i].dir_fsyncs - before[i].dir_fsyncs).sum();
    let segs: u64 = (0..3).map(|i| after[i].segments_created - before[i].segments_created).sum();
    let counted: u64 = (0..3).map(|i| after[i].readies - before[i].readies).sum();
    assert_eq!(counted, readies);
    println!(
        "fsyncs per Ready: {readies} Readies ({must_sync} must_sync), {fsyncs} fsyncs ({dir_fsyncs} of directories, \
         {segs} segment rolls at {} bytes) = {:.3} per Ready, {:.3} per must_sync Ready",
        opts().segment_bytes,
        fsyncs as f64 / readies as f64,
        fsyncs as f64 / must_sync as f64
    );
    // One fdatasync per must_sync Ready and none for the others, plus two
    // or three per segment roll (new segment, directory, and the old
    // segment when the last Ready before the roll had not synced it).
    assert!(fsyncs >= must_sync + 2 * segs && fsyncs <= must_sync + 3 * segs);
}
