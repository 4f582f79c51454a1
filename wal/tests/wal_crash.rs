//! Crash and corruption tests of the durable storage.
//!
//! * `sigkill_crashes`: this test binary re-runs itself as a child process
//!   (the `crash_child` test, enabled by an environment variable) that
//!   writes a seeded random workload (appends with conflicts, HardStates,
//!   unsynced commit updates, snapshots received and created, compactions)
//!   to a DurableStorage in small segments, printing `ACK n` after each
//!   write returned. The parent kills it with SIGKILL at a random point,
//!   reopens the directory and checks the state is exactly the one after
//!   the acknowledged writes, or that plus a prefix of the write in flight
//!   (its records, in order): every acknowledged entry and HardState is
//!   there, and nothing else. After three kills in four, zeros, junk
//!   or a record header promising bytes that never came are appended to
//!   the last segment (a torn write), which recovery must cut off. The workload is a pure function of the seed
//!   and the recovered state, so the parent regenerates it. 25 kills by
//!   default; `POLYRAFT_CRASH_KILLS=200` for a long run.
//! * Truncation, bit flips and random byte mutations on the segment and
//!   snapshot files of a reference directory: open must give a clear
//!   error or a clean recovery to a state the workload went through, never
//!   a panic.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use polyraft::raftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use polyraft_wal::{DurableStorage, Error, Options};
use polyraft::{Ready, Storage};

const CHILD_DIR: &str = "POLYRAFT_WAL_CRASH_CHILD";
const CHILD_SEED: &str = "POLYRAFT_WAL_CRASH_SEED";

fn opts() -> Options {
    // Small segments: rolls and compaction deletions happen every few ops.
    Options { segment_bytes: 4096 }
}

/// Everything raft can read from a storage.
#[derive(Debug, Clone, PartialEq)]
struct Model {
    hs: HardState,
    snap: Snapshot,
    /// Index and term of the entry before the first stored one.
    offset: u64,
    offset_term: u64,
    ents: Vec<Entry>,
}

impl Model {
    fn empty() -> Model {
        Model { hs: HardState::default(), snap: Snapshot::default(), offset: 0, offset_term: 0, ents: vec![] }
    }

    fn of(s: &DurableStorage) -> Model {
        let (hs, _) = s.initial_state().unwrap();
        let first = s.first_index().unwrap();
        let last = s.last_index().unwrap();
        let ents = if last >= first { s.entries(first, last + 1, u64::MAX).unwrap() } else { vec![] };
        Model { hs, snap: s.snapshot().unwrap(), offset: first - 1, offset_term: s.term(first - 1).unwrap(), ents }
    }

    fn last(&self) -> u64 {
        self.offset + self.ents.len() as u64
    }

    fn term(&self, i: u64) -> u64 {
        if i == self.offset {
            self.offset_term
        } else {
            self.ents[(i - self.offset - 1) as usize].term
        }
    }

    fn step(&mut self, s: &Step) {
        match s {
            Step::Append(ents) => {
                self.ents.truncate((ents[0].index - self.offset - 1) as usize);
                self.ents.extend_from_slice(ents);
            }
            Step::Hs(hs) => self.hs = *hs,
            Step::Compact(c) => {
                self.offset_term = self.term(*c);
                self.ents.drain(..(c - self.offset) as usize);
                self.offset = *c;
            }
            Step::Create(i, data) => {
                self.snap = Snapshot {
                    metadata: Some(SnapshotMetadata { conf_state: Some(cs()), index: *i, term: self.term(*i) }),
                    data: data.clone(),
                }
            }
            Step::Install(snap) => {
                self.snap = snap.clone();
                self.offset = snap.metadata.as_ref().unwrap().index;
                self.offset_term = snap.metadata.as_ref().unwrap().term;
                self.ents.clear();
            }
        }
    }

    /// The states a crash during `op` can leave: before it, after each of
    /// its records.
    fn partials(&self, op: &Op) -> Vec<Model> {
        let mut out = vec![self.clone()];
        let mut m = self.clone();
        for s in op.steps() {
            m.step(&s);
            out.push(m.clone());
        }
        out
    }

    fn apply(&mut self, op: &Op) {
        for s in op.steps() {
            self.step(&s);
        }
    }

    /// Equal up to where the log starts, both starts being covered by the
    /// snapshot (what a log cut before a compaction record may show).
    fn same_modulo_start(&self, o: &Model) -> bool {
        let start = self.offset.max(o.offset);
        self.hs == o.hs
            && self.snap == o.snap
            && self.last() == o.last()
            && self.offset.min(o.offset) <= self.snap.metadata.as_ref().map_or(0, |m| m.index)
            && start <= self.last()
            && self.term(start) == o.term(start)
            && self.ents[(start - self.offset) as usize..] == o.ents[(start - o.offset) as usize..]
    }
}

fn cs() -> ConfState {
    ConfState { voters: vec![1, 2, 3], ..Default::default() }
}

/// One write of the workload.
#[derive(Debug, Clone)]
enum Op {
    /// A Ready with entries (maybe replacing a suffix) and a HardState.
    Append(Vec<Entry>, HardState),
    /// A Ready with only a new commit index (written without fsync).
    Commit(HardState),
    Compact(u64),
    CreateSnapshot(u64, Bytes),
    /// A Ready with a snapshot from the leader and its HardState.
    Install(Snapshot, HardState),
}

/// The effect of one record.
enum Step {
    Append(Vec<Entry>),
    Hs(HardState),
    Compact(u64),
    Create(u64, Bytes),
    Install(Snapshot),
}

impl Op {
    fn steps(&self) -> Vec<Step> {
        match self {
            Op::Append(e, hs) => vec![Step::Append(e.clone()), Step::Hs(*hs)],
            Op::Commit(hs) => vec![Step::Hs(*hs)],
            Op::Compact(c) => vec![Step::Compact(*c)],
            Op::CreateSnapshot(i, d) => vec![Step::Create(*i, d.clone())],
            Op::Install(s, hs) => vec![Step::Install(s.clone()), Step::Hs(*hs)],
        }
    }

    fn run(&self, s: &DurableStorage) {
        match self {
            Op::Append(e, hs) => s
                .persist_ready(&Ready {
                    entries: e.clone(),
                    hard_state: Some(*hs),
                    must_sync: true,
                    ..Default::default()
                })
                .unwrap(),
            Op::Commit(hs) => s.persist_ready(&Ready { hard_state: Some(*hs), ..Default::default() }).unwrap(),
            Op::Compact(c) => s.compact(*c).unwrap(),
            Op::CreateSnapshot(i, d) => {
                s.create_snapshot(*i, Some(cs()), d.clone()).unwrap();
            }
            Op::Install(snap, hs) => s
                .persist_ready(&Ready { snapshot: Some(snap.clone()), hard_state: Some(*hs), ..Default::default() })
                .unwrap(),
        }
    }

    fn entries(&self) -> usize {
        match self {
            Op::Append(e, _) => e.len(),
            _ => 0,
        }
    }
}

fn data(rng: &mut fastrand::Rng) -> Bytes {
    let n = if rng.u32(0..10) == 0 { rng.usize(0..1500) } else { rng.usize(0..64) };
    Bytes::from((0..n).map(|_| rng.u8(..)).collect::<Vec<u8>>())
}

/// The next write, from the seeded generator and the current state only.
fn gen_op(rng: &mut fastrand::Rng, m: &Model) -> Op {
    let last = m.last();
    let hs = m.hs;
    let snap_index = m.snap.metadata.as_ref().map_or(0, |x| x.index);
    let r = rng.u32(0..100);
    // Compact up to the snapshot, as applications do.
    let compact_to = hs.commit.min(snap_index);
    if r < 10 && compact_to > m.offset {
        return Op::Compact(rng.u64(m.offset + 1..=compact_to));
    }
    if r < 18 && hs.commit > snap_index && hs.commit > m.offset {
        let lo = (snap_index + 1).max(m.offset + 1);
        return Op::CreateSnapshot(rng.u64(lo..=hs.commit), data(rng));
    }
    if r < 21 {
        let index = last + rng.u64(1..=5);
        let term = hs.term.max(1);
        let snap =
            Snapshot { metadata: Some(SnapshotMetadata { conf_state: Some(cs()), index, term }), data: data(rng) };
        return Op::Install(snap, HardState { term, vote: hs.vote, commit: index });
    }
    if r < 36 && hs.commit < last {
        return Op::Commit(HardState { commit: hs.commit + rng.u64(1..=last - hs.commit), ..hs });
    }
    let floor = hs.commit.max(m.offset);
    let (start, term, vote) = if rng.u32(0..100) < 15 && last > floor {
        (rng.u64(floor + 1..=last), hs.term + 1, rng.u64(0..=3))
    } else {
        (last + 1, hs.term.max(1), hs.vote)
    };
    let n = rng.u64(1..=5);
    let ents: Vec<Entry> =
        (start..start + n).map(|index| Entry { index, term, data: data(rng), ..Default::default() }).collect();
    let commit = (hs.commit + rng.u64(0..=n)).min(start + n - 1).max(hs.commit);
    Op::Append(ents, HardState { term, vote, commit })
}

/// The child side: runs the workload on `dir` until killed.
#[test]
fn crash_child() {
    let (Ok(dir), Ok(seed)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_SEED)) else { return };
    let (s, _) = DurableStorage::open(&dir, opts()).unwrap();
    let mut m = Model::of(&s);
    let mut rng = fastrand::Rng::with_seed(seed.parse().unwrap());
    let mut out = std::io::stdout().lock();
    for n in 0..1_000_000u64 {
        let op = gen_op(&mut rng, &m);
        op.run(&s);
        m.apply(&op);
        writeln!(out, "ACK {n}").unwrap();
        out.flush().unwrap();
    }
}

#[derive(Default, Debug)]
struct Tally {
    kills: u64,
    acked_ops: u64,
    acked_entries: u64,
    verified_entries: u64,
    in_flight_found: u64,
    torn_injected: u64,
    torn_tails: u64,
    dropped_bytes: u64,
}

#[test]
fn sigkill_crashes() {
    let kills: u64 = std::env::var("POLYRAFT_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(25);
    let base: u64 = std::env::var("POLYRAFT_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let exe = std::env::current_exe().unwrap();
    let mut sched = fastrand::Rng::with_seed(base);
    let mut model = Model::empty();
    let mut t = Tally::default();
    let started = Instant::now();
    for k in 0..kills {
        let seed = base.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(k);
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, &dir)
            .env(CHILD_SEED, seed.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Kill after a random number of acknowledgements (0: during open)
        // and a random delay, so the kill lands anywhere in a write.
        let target = if sched.u32(0..8) == 0 { 0 } else { sched.u64(1..=60) };
        let mut acked = 0u64;
        while acked < target {
            match lines.next() {
                Some(Ok(l)) if l.contains("ACK ") => acked += 1,
                Some(Ok(_)) => {}
                _ => break,
            }
        }
        let spin = Duration::from_micros(sched.u64(0..3000));
        let t0 = Instant::now();
        while t0.elapsed() < spin {
            std::hint::spin_loop();
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        for l in lines.map_while(|l| l.ok()) {
            if l.contains("ACK ") {
                acked += 1;
            }
        }
        assert!(status.code().is_none(), "child exited by itself ({status}) after {acked} acks: it failed");

        // What the child did: the acknowledged ops, then the one in flight.
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut m = model.clone();
        for _ in 0..acked {
            let op = gen_op(&mut rng, &m);
            t.acked_entries += op.entries() as u64;
            m.apply(&op);
        }
        let in_flight = gen_op(&mut rng, &m);
        let candidates = m.partials(&in_flight);

        // SIGKILL leaves whole write() calls behind; a power cut can also
        // leave a torn record: sometimes add one after the kill (zeros from
        // an extended size, junk, or a record header promising more bytes
        // than follow). Recovery must drop exactly that.
        let torn = match sched.u32(0..4) {
            0 => vec![0u8; sched.usize(1..600)],
            1 => (0..sched.usize(1..600)).map(|_| sched.u8(..)).collect(),
            2 => {
                let mut b = 1000u32.to_le_bytes().to_vec();
                b.extend((0..sched.usize(5..200)).map(|_| sched.u8(..)));
                b
            }
            _ => vec![],
        };
        if !torn.is_empty() {
            if let Some(last) = files(&dir).0.last() {
                std::fs::OpenOptions::new().append(true).open(last).unwrap().write_all(&torn).unwrap();
                t.torn_injected += 1;
            }
        }
        let (s, rep) = DurableStorage::open(&dir, opts()).unwrap_or_else(|e| panic!("kill {k}: reopen failed: {e}"));
        let got = Model::of(&s);
        let Some(pos) = candidates.iter().position(|c| *c == got) else {
            panic!(
                "kill {k} (seed {seed}) after {acked} acks: recovered state is not the acknowledged one \
                 (plus a prefix of {in_flight:?})\nrecovered: {got:?}\nacknowledged: {m:?}\nreport: {rep:?}"
            );
        };
        t.kills += 1;
        t.acked_ops += acked;
        t.verified_entries += m.ents.len() as u64;
        t.in_flight_found += u64::from(pos > 0);
        if let Some(tail) = &rep.truncated {
            t.torn_tails += 1;
            t.dropped_bytes += tail.dropped_bytes;
        }
        model = got;
    }
    println!("wal crash test: {t:?} in {:?}", started.elapsed());
}

/// A directory written by the workload, with every state it went through.
fn reference(seed: u64, ops: usize) -> (tempfile::TempDir, Vec<Model>) {
    let tmp = tempfile::tempdir().unwrap();
    let (s, _) = DurableStorage::open(tmp.path(), opts()).unwrap();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut m = Model::empty();
    let mut states = vec![m.clone()];
    for _ in 0..ops {
        let op = gen_op(&mut rng, &m);
        op.run(&s);
        states.extend(m.partials(&op).into_iter().skip(1));
        m.apply(&op);
    }
    assert_eq!(Model::of(&s), m);
    (tmp, states)
}

fn copy_dir(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for de in std::fs::read_dir(from).unwrap() {
        let p = de.unwrap().path();
        std::fs::copy(&p, to.path().join(p.file_name().unwrap())).unwrap();
    }
    to
}

/// Segment files (by name, so by sequence) and snapshot files.
fn files(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut segs = vec![];
    let mut snaps = vec![];
    for de in std::fs::read_dir(dir).unwrap() {
        let p = de.unwrap().path();
        match p.extension().and_then(|e| e.to_str()) {
            Some("wal") => segs.push(p),
            Some("snap") => snaps.push(p),
            _ => {}
        }
    }
    segs.sort();
    (segs, snaps)
}

/// Checks a recovery after damage: an error must be `Corrupt`; a success
/// must be a state the workload went through (up to the log start).
fn check_recovery(dir: &Path, states: &[Model], what: &str) -> bool {
    match DurableStorage::open(dir, opts()) {
        Ok((s, _)) => {
            let got = Model::of(&s);
            assert!(states.iter().any(|m| m.same_modulo_start(&got)), "{what}: recovered an unknown state {got:?}");
            true
        }
        Err(Error::Corrupt { .. }) => false,
        Err(e) => panic!("{what}: unexpected error kind {e}"),
    }
}

#[test]
fn truncated_segments_recover_or_fail_clearly() {
    let (reference, states) = reference(7, 300);
    let (segs, _) = files(reference.path());
    assert!(segs.len() >= 3, "several segments");
    let mut rng = fastrand::Rng::with_seed(11);
    let (mut ok, mut err) = (0, 0);
    for round in 0..150 {
        let d = copy_dir(reference.path());
        let (segs, _) = files(d.path());
        let i = rng.usize(0..segs.len());
        let len = std::fs::metadata(&segs[i]).unwrap().len();
        let cut = rng.u64(0..len);
        std::fs::OpenOptions::new().write(true).open(&segs[i]).unwrap().set_len(cut).unwrap();
        let recovered = check_recovery(d.path(), &states, &format!("round {round}: cut segment {i} at {cut}/{len}"));
        if i + 1 < segs.len() {
            assert!(!recovered, "a cut closed segment must be an error");
        } else if cut >= 64 {
            // Past the header, a cut in the last segment is a torn tail.
            assert!(recovered, "round {round}: cut of the last segment at {cut} must recover");
        }
        if recovered {
            ok += 1;
            // Recovery is idempotent and the storage writable again.
            let (s, rep) = DurableStorage::open(d.path(), opts()).unwrap();
            assert!(rep.truncated.is_none());
            let last = s.last_index().unwrap();
            s.append(&[Entry { index: last + 1, term: s.hard_state().term.max(1), ..Default::default() }]).unwrap();
        } else {
            err += 1;
        }
    }
    println!("truncation: {ok} clean recoveries, {err} clear errors");
}

#[test]
fn bit_flips_recover_or_fail_clearly() {
    let (reference, states) = reference(8, 300);
    let mut rng = fastrand::Rng::with_seed(12);
    let (mut ok, mut err) = (0, 0);
    for round in 0..200 {
        let d = copy_dir(reference.path());
        let (segs, snaps) = files(d.path());
        let all: Vec<&PathBuf> = segs.iter().chain(snaps.iter()).collect();
        let f = all[rng.usize(0..all.len())];
        let mut bytes = std::fs::read(f).unwrap();
        let at = rng.usize(0..bytes.len());
        bytes[at] ^= 1 << rng.u32(0..8);
        std::fs::write(f, &bytes).unwrap();
        let last_seg = f == segs.last().unwrap();
        let recovered = check_recovery(d.path(), &states, &format!("round {round}: flip in {f:?} at {at}"));
        if !last_seg {
            // Closed segments and the snapshot were fsynced: damage there is
            // corruption, not a torn write.
            assert!(!recovered, "round {round}: flip in {f:?} at {at} must be an error");
        }
        if recovered {
            ok += 1;
        } else {
            err += 1;
        }
    }
    println!("bit flips: {ok} clean recoveries, {err} clear errors");
}

#[test]
fn random_mutations_never_panic() {
    let (reference, _) = reference(9, 200);
    let mut rng = fastrand::Rng::with_seed(13);
    for _ in 0..300 {
        let d = copy_dir(reference.path());
        let (segs, snaps) = files(d.path());
        let all: Vec<&PathBuf> = segs.iter().chain(snaps.iter()).collect();
        for _ in 0..rng.usize(1..4) {
            let f = all[rng.usize(0..all.len())];
            let mut bytes = std::fs::read(f).unwrap();
            match rng.u32(0..4) {
                0 => {
                    for _ in 0..rng.usize(1..16) {
                        let at = rng.usize(0..bytes.len().max(1));
                        if at < bytes.len() {
                            bytes[at] = rng.u8(..);
                        }
                    }
                }
                1 => bytes.truncate(rng.usize(0..=bytes.len())),
                2 => bytes.extend((0..rng.usize(1..64)).map(|_| rng.u8(..))),
                _ => {
                    // Overwrite a window with a run of zeros or 0xff.
                    let at = rng.usize(0..=bytes.len());
                    let end = (at + rng.usize(1..64)).min(bytes.len());
                    let v = if rng.bool() { 0 } else { 0xff };
                    bytes[at..end].iter_mut().for_each(|b| *b = v);
                }
            }
            std::fs::write(f, &bytes).unwrap();
        }
        // Either way the storage answers consistently.
        if let Ok((s, _)) = DurableStorage::open(d.path(), opts()) {
            let first = s.first_index().unwrap();
            let last = s.last_index().unwrap();
            assert!(first <= last + 1);
            assert!(s.term(first - 1).is_ok());
            if last >= first {
                assert_eq!(s.entries(first, last + 1, u64::MAX).unwrap().len() as u64, last + 1 - first);
            }
        }
    }
}
