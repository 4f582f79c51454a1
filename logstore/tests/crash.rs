//! Crash and damage tests of the file log.
//!
//! * `sigkill_crashes`: this test binary re-runs itself as a child process
//!   (the `crash_child` test, enabled by an environment variable) that
//!   writes a seeded random workload for many groups (batches of appends
//!   with conflicts, hard states, snapshots kept or resetting the log,
//!   synced and unsynced writes, compactions, group removals, purges) to a
//!   FileLogStore with small segments, printing `ACK i` after write `i`
//!   returned. The parent kills it with SIGKILL after a random number of
//!   acknowledgements, reopens the directory and checks that the recovered
//!   log is exactly the state after some op `j >= i` of the workload: the
//!   parent regenerates the workload on a copy of the directory taken
//!   before the child started (the workload is a pure function of the seed
//!   and the state it starts from). Every group's log is compared in full
//!   (hard state, snapshot metadata, bounds, terms, entries). After three
//!   kills in four, junk, zeros or a frame header promising bytes that never
//!   came are appended to the newest segment (a torn write a power cut
//!   would leave), which recovery must cut off. The next child continues on
//!   the recovered directory. 25 kills by default; `POLYRAFT_LOG_CRASH_KILLS`
//!   sets more (`make logstore-crash-long`).
//! * `damage_is_detected_or_recovered`: truncations, bit flips and random
//!   bytes in the segments of a reference log: open gives a clear error or
//!   a clean recovery to a state the workload went through, never a panic.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use polyraft::raftpb::{ConfState, Entry, HardState, SnapshotMetadata};
use polyraft_logstore::{Error, FileLogStore, GroupWrite, LogStore, Options, WriteBatch};
use prost::Message;

const CHILD_DIR: &str = "POLYRAFT_LOG_CRASH_CHILD";
const CHILD_SEED: &str = "POLYRAFT_LOG_CRASH_SEED";
const GROUPS: u64 = 40;

fn opts() -> Options {
    // Small segments: rotations and purges every few dozen writes.
    Options { segment_bytes: 16 << 10 }
}

/// One step of the workload.
enum Op {
    Write(WriteBatch, bool),
    Compact(u64, u64),
    Remove(u64),
    Purge,
}

/// The `i`th op of the workload for `seed`, decided from the store's
/// current state (so the parent, replaying on the same state, gets the
/// same op).
fn gen_op(rng: &mut fastrand::Rng, s: &dyn LogStore) -> Op {
    let roll = rng.u32(0..100);
    if roll < 8 {
        let g = rng.u64(0..GROUPS);
        let (first, last) = (s.first_index(g), s.last_index(g));
        if last >= first {
            return Op::Compact(g, rng.u64(first..=last));
        }
    } else if roll < 9 {
        return Op::Remove(rng.u64(0..GROUPS));
    } else if roll < 12 {
        return Op::Purge;
    }
    let mut batch = WriteBatch::default();
    let n = rng.usize(1..=8);
    for g in rand_groups(rng, n) {
        let (first, last) = (s.first_index(g), s.last_index(g));
        let hs = s.hard_state(g);
        let term = hs.term.max(1) + u64::from(rng.u32(0..10) == 0);
        let mut w = GroupWrite { group: g, ..Default::default() };
        match rng.u32(0..20) {
            0 if last >= first.max(s.snapshot_metadata(g).index + 1) => {
                // A snapshot created at an index the log holds: entries stay.
                let index = rng.u64(first.max(s.snapshot_metadata(g).index + 1)..=last);
                let t = s.term(g, index).unwrap();
                w.snapshot = Some(meta(index, t, rng));
            }
            1 => {
                // A snapshot from a leader, past the log: the log resets.
                let index = last + rng.u64(1..5);
                w.snapshot = Some(meta(index, term, rng));
            }
            _ => {}
        }
        let base = w.snapshot.as_ref().filter(|m| m.index > last).map_or(last, |m| m.index);
        let floor = w.snapshot.as_ref().map_or(first, |m| m.index + 1).max(first);
        let back = if rng.u32(0..6) == 0 { rng.u64(0..3) } else { 0 };
        let from = (base + 1).saturating_sub(back).max(floor).max(1);
        let count = rng.u64(0..6);
        w.entries = (from..from + count)
            .map(|index| {
                let len = rng.usize(0..200);
                let data: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
                Entry { index, term, data: Bytes::from(data), ..Default::default() }
            })
            .collect();
        if rng.bool() {
            w.hard_state = Some(HardState { term, vote: rng.u64(0..4), commit: rng.u64(0..=base + count) });
        }
        batch.groups.push(w);
    }
    Op::Write(batch, rng.u32(0..5) != 0)
}

fn rand_groups(rng: &mut fastrand::Rng, n: usize) -> Vec<u64> {
    let mut gs: Vec<u64> = (0..n).map(|_| rng.u64(0..GROUPS)).collect();
    gs.sort_unstable();
    gs.dedup();
    gs
}

fn meta(index: u64, term: u64, rng: &mut fastrand::Rng) -> SnapshotMetadata {
    let cs = ConfState { voters: vec![1, 2, 3], learners: vec![rng.u64(4..9)], ..Default::default() };
    SnapshotMetadata { conf_state: Some(cs), index, term }
}

/// Runs `op`; true for a write that was acknowledged (write or purge).
fn run_op(s: &FileLogStore, op: &Op, allow_sync: bool) -> bool {
    match op {
        Op::Write(b, sync) => {
            s.write(b, *sync && allow_sync).unwrap();
            true
        }
        Op::Compact(g, i) => {
            s.compact(*g, *i).unwrap();
            false
        }
        Op::Remove(g) => {
            s.remove_group(*g).unwrap();
            false
        }
        Op::Purge => {
            s.purge().unwrap();
            true
        }
    }
}

/// A digest of everything a reader can see in the log.
fn digest(s: &dyn LogStore) -> u64 {
    let mut h = DefaultHasher::new();
    for g in s.groups() {
        g.hash(&mut h);
        s.hard_state(g).encode_to_vec().hash(&mut h);
        s.snapshot_metadata(g).encode_to_vec().hash(&mut h);
        let (first, last) = (s.first_index(g), s.last_index(g));
        (first, last, s.term(g, first - 1).unwrap()).hash(&mut h);
        if last >= first {
            for e in s.entries(g, first, last + 1, u64::MAX).unwrap() {
                e.encode_to_vec().hash(&mut h);
            }
        }
    }
    h.finish()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn newest_segment(dir: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "plog"))
        .collect();
    segs.sort();
    segs.pop().unwrap()
}

/// The child: runs the workload until killed.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else { return };
    let seed: u64 = std::env::var(CHILD_SEED).unwrap().parse().unwrap();
    let s = FileLogStore::open(&dir, opts()).unwrap();
    let mut rng = fastrand::Rng::with_seed(seed);
    let out = std::io::stdout();
    for i in 0.. {
        let op = gen_op(&mut rng, &s);
        let synced = matches!(op, Op::Write(_, true) | Op::Purge);
        if run_op(&s, &op, true) {
            let mut o = out.lock();
            writeln!(o, "ACK {i} {}", u8::from(synced)).unwrap();
            o.flush().unwrap();
        }
    }
}

#[derive(Default, Debug)]
struct Figures {
    kills: u64,
    acked_writes: u64,
    acked_synced: u64,
    torn_cut: u64,
    injected: u64,
    ops_beyond_ack: u64,
}

#[test]
fn sigkill_crashes() {
    let kills: u64 = std::env::var("POLYRAFT_LOG_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(25);
    let base_seed: u64 = std::env::var("POLYRAFT_LOG_CRASH_SEED0").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let exe = std::env::current_exe().unwrap();
    let mut rng = fastrand::Rng::with_seed(base_seed);
    let mut fig = Figures::default();
    let started = Instant::now();
    for k in 0..kills {
        // The state the child starts from, for the parent's regeneration.
        let before = tmp.path().join(format!("before-{k}"));
        if dir.exists() {
            copy_dir(&dir, &before);
        }
        let seed = base_seed * 1_000_003 + k;
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, &dir)
            .env(CHILD_SEED, seed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let target = rng.u64(1..80);
        let mut last_ack: Option<u64> = None;
        let mut synced = 0;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        while let Some(Ok(line)) = lines.next() {
            let Some(rest) = line.strip_prefix("ACK ") else { continue };
            let mut it = rest.split(' ');
            last_ack = Some(it.next().unwrap().parse().unwrap());
            synced += u64::from(it.next() == Some("1"));
            fig.acked_writes += 1;
            if last_ack.unwrap() + 1 >= target {
                break;
            }
        }
        std::thread::sleep(Duration::from_micros(rng.u64(0..3000)));
        child.kill().unwrap();
        // Drain what the child printed before it died: later ACKs count too.
        for line in lines.map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("ACK ") {
                let mut it = rest.split(' ');
                last_ack = Some(it.next().unwrap().parse().unwrap());
                synced += u64::from(it.next() == Some("1"));
                fig.acked_writes += 1;
            }
        }
        child.wait().unwrap();
        fig.kills += 1;
        fig.acked_synced += synced;

        // A torn write as a power cut could leave it.
        if rng.u32(0..4) != 0 {
            let seg = newest_segment(&dir);
            let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
            match rng.u32(0..3) {
                0 => f.write_all(&vec![0u8; rng.usize(1..300)]).unwrap(),
                1 => f.write_all(&(0..rng.usize(1..300)).map(|_| rng.u8(..)).collect::<Vec<_>>()).unwrap(),
                _ => {
                    // A frame header promising more than follows.
                    let mut b = 5000u32.to_le_bytes().to_vec();
                    b.extend_from_slice(&[7, 7, 7, 7, 0, 0, 0, 0, 1, 2, 3]);
                    f.write_all(&b).unwrap();
                }
            }
            fig.injected += 1;
        }

        let s = FileLogStore::open(&dir, opts()).unwrap_or_else(|e| panic!("kill {k}: reopen failed: {e}"));
        if s.recovery_report().torn.is_some() {
            fig.torn_cut += 1;
        }
        let got = digest(&s);
        drop(s);

        // Regenerate: the state after ops 0..=j on the pre-run copy, for
        // every j from the last acknowledged op on, must include `got`.
        let replay = tmp.path().join(format!("replay-{k}"));
        if before.exists() {
            copy_dir(&before, &replay);
        }
        let r = FileLogStore::open(&replay, opts()).unwrap();
        let mut grng = fastrand::Rng::with_seed(seed);
        let from = last_ack.map_or(0, |a| a + 1);
        let mut found = from == 0 && digest(&r) == got;
        let mut j = 0;
        while !found && j < from + 64 {
            let op = gen_op(&mut grng, &r);
            run_op(&r, &op, false);
            j += 1;
            if j >= from && digest(&r) == got {
                found = true;
                fig.ops_beyond_ack += j - from;
            }
        }
        assert!(found, "kill {k} (seed {seed}): the recovered log is no state at or after acknowledged op {last_ack:?}");
        drop(r);
        let _ = std::fs::remove_dir_all(&replay);
        let _ = std::fs::remove_dir_all(&before);
    }
    println!(
        "log crash test: {} kills, {} acknowledged writes ({} synced) verified, {} torn tails injected, {} cut on reopen, {} ops past the last ack recovered, {:.1}s",
        fig.kills,
        fig.acked_writes,
        fig.acked_synced,
        fig.injected,
        fig.torn_cut,
        fig.ops_beyond_ack,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn damage_is_detected_or_recovered() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ref");
    // A reference log, and the digest after every op.
    let mut digests = vec![];
    {
        let s = FileLogStore::open(&dir, opts()).unwrap();
        digests.push(digest(&s));
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..400 {
            let op = gen_op(&mut rng, &s);
            if matches!(op, Op::Purge) {
                continue; // keep several segments
            }
            run_op(&s, &op, false);
            digests.push(digest(&s));
        }
        s.write(&WriteBatch::default(), true).unwrap();
        digests.push(digest(&s));
        assert!(s.segment_count() >= 3, "{} segments", s.segment_count());
    }
    let files: Vec<PathBuf> = {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "plog"))
            .collect();
        v.sort();
        v
    };
    let mut rng = fastrand::Rng::with_seed(11);
    let (mut errors, mut recovered, mut cut) = (0, 0, 0);
    for t in 0..300 {
        let d = tmp.path().join(format!("t{t}"));
        copy_dir(&dir, &d);
        // Half the trials hit the newest segment, where a torn write is
        // told from damage.
        let pick = if rng.bool() { files.len() - 1 } else { rng.usize(..files.len()) };
        let victim = d.join(files[pick].file_name().unwrap());
        let mut bytes = std::fs::read(&victim).unwrap();
        match t % 3 {
            0 => bytes.truncate(rng.usize(..bytes.len())),
            1 => {
                let i = rng.usize(..bytes.len());
                bytes[i] ^= 1 << rng.u32(0..8);
            }
            _ => {
                let i = rng.usize(..bytes.len());
                let n = rng.usize(1..16).min(bytes.len() - i);
                for b in &mut bytes[i..i + n] {
                    *b = rng.u8(..);
                }
            }
        }
        std::fs::write(&victim, &bytes).unwrap();
        match FileLogStore::open(&d, opts()) {
            Ok(s) => {
                let g = digest(&s);
                assert!(digests.contains(&g), "trial {t}: recovered to a state the workload never had");
                recovered += 1;
                cut += u32::from(s.recovery_report().torn.is_some());
            }
            Err(e) => {
                assert!(matches!(e, Error::Corrupt(_)), "trial {t}: {e}");
                let msg = e.to_string();
                assert!(msg.contains(".plog") || msg.contains("group"), "trial {t}: unclear error: {msg}");
                errors += 1;
            }
        }
        let _ = std::fs::remove_dir_all(&d);
    }
    println!("damage: 300 trials, {errors} refused with a clear error, {recovered} recovered ({cut} with a torn tail cut)");
    assert!(errors > 0 && recovered > 0);
}
