//! Witness replicas (docs/witness.md): polyraft's own interaction scripts
//! in `tests/testdata/witness`, run like etcd's, plus the checks a script
//! cannot show (payloads and snapshot data on the wire).
//!
//! `POLYRAFT_REWRITE=1` regenerates the scripts' expected output; review the
//! diff before committing it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polyraft::rafttest::confchange_runner::{confchange_handler, run_confchange_script};
use polyraft::rafttest::datadriven::{parse, TestCase};
use polyraft::rafttest::interaction::{run_interaction_script, InteractionEnv};

fn scripts(sub: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/witness").join(sub);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    v.sort();
    v
}

/// Runs the script and writes its actual output in place of the expected.
fn rewrite(path: &Path, mut handle: impl FnMut(&TestCase) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cases = parse(&text).unwrap();
    let mut out = String::new();
    let mut i = 0; // next source line to copy (0-based)
    for case in &cases {
        // Copy comments, the command and its input up to the separator.
        let mut j = case.line - 1;
        while lines[j] != "----" {
            j += 1;
        }
        for l in &lines[i..=j] {
            let _ = writeln!(out, "{l}");
        }
        // Skip the old expected block.
        let mut k = j + 1;
        if lines.get(k) == Some(&"----") {
            k += 1;
            while !(lines[k] == "----" && lines.get(k + 1) == Some(&"----")) {
                k += 1;
            }
            k += 2;
        } else {
            while k < lines.len() && !lines[k].is_empty() {
                k += 1;
            }
        }
        let mut got = handle(case);
        if !got.ends_with('\n') {
            got.push('\n');
        }
        if got.lines().any(|l| l.is_empty()) {
            let _ = write!(out, "----\n{got}----\n----\n");
        } else {
            out.push_str(&got);
        }
        i = k;
    }
    for l in &lines[i.min(lines.len())..] {
        let _ = writeln!(out, "{l}");
    }
    std::fs::write(path, out).unwrap();
}

type Runner = fn(&Path) -> Result<(), String>;
/// A fresh handler for one script (for POLYRAFT_REWRITE).
type Handler = Box<dyn FnMut(&TestCase) -> String>;

fn run_all(sub: &str, run: Runner, fresh: fn() -> Handler) {
    let all = scripts(sub);
    assert!(!all.is_empty(), "no witness scripts found in {sub:?}");
    let mut failed = Vec::new();
    for path in &all {
        if std::env::var_os("POLYRAFT_REWRITE").is_some() {
            rewrite(path, fresh());
        }
        if let Err(diff) = run(path) {
            eprintln!("FAIL {}\n{diff}", path.display());
            failed.push(path.file_name().unwrap().to_string_lossy().to_string());
        }
    }
    println!("witness scripts in {sub:?}: {} passed, {} failed", all.len() - failed.len(), failed.len());
    assert!(failed.is_empty(), "failing witness scripts: {failed:?}");
}

/// Interaction scripts: join, commit, elections, snapshot, removal.
#[test]
fn witness_interaction_scripts() {
    run_all("", run_interaction_script, || {
        let mut env = InteractionEnv::new();
        Box::new(move |tc| env.handle(tc))
    });
}

/// Configuration-change scripts: the Changer's witness rules.
#[test]
fn witness_confchange_scripts() {
    run_all("confchange", run_confchange_script, || Box::new(confchange_handler()));
}

mod rules {
    use std::sync::Arc;

    use bytes::Bytes;
    use polyraft::confchange::{restore, Changer};
    use polyraft::logger::{Logger, NoopLogger};
    use polyraft::raftpb::{self, ConfState, Entry, EntryType, HardState, Message, MessageType};
    use polyraft::tracker::ProgressTracker;
    use polyraft::{Config, MemoryStorage, RawNode, StateType};

    fn restored(cs: &ConfState) -> Result<ConfState, String> {
        let trk = ProgressTracker::new(10, 0);
        let (cfg, prs) = restore(Changer { tracker: &trk, last_index: 5 }, cs).map_err(|e| e.to_string())?;
        let mut t = ProgressTracker::new(10, 0);
        t.config = cfg;
        t.progress = prs;
        for id in &cs.witnesses {
            assert!(t.progress[id].is_witness, "progress of {id} marks the witness");
        }
        Ok(t.conf_state())
    }

    /// Restoring a ConfState with witnesses (simple, joint, a witness only
    /// in the outgoing half) gives back the same configuration.
    #[test]
    fn conf_states_with_witnesses_restore_exactly() {
        let cases = [
            ConfState { voters: vec![1, 2, 3], witnesses: vec![3], ..Default::default() },
            ConfState { voters: vec![1, 2, 3, 4, 5], witnesses: vec![4, 5], learners: vec![6], ..Default::default() },
            ConfState { voters: vec![1, 2, 3], voters_outgoing: vec![1, 2, 4], witnesses: vec![3, 4], ..Default::default() },
            ConfState { voters: vec![3, 1], voters_outgoing: vec![1, 3], witnesses: vec![3], auto_leave: true, ..Default::default() },
        ];
        for cs in cases {
            let got = restored(&cs).unwrap();
            cs.equivalent(&got).unwrap();
        }
    }

    /// A witness that is not a voter, or a configuration of witnesses
    /// only, is refused with a one-line error.
    #[test]
    fn malformed_witness_conf_states_are_refused() {
        let not_voter = ConfState { voters: vec![1, 2], witnesses: vec![3], ..Default::default() };
        assert!(restored(&not_voter).unwrap_err().contains("witness but not a voter"));
        assert!(not_voter.validate().is_err());
        let only_witnesses = ConfState { voters: vec![1, 2], witnesses: vec![1, 2], ..Default::default() };
        assert!(restored(&only_witnesses).unwrap_err().contains("not a witness"));
    }

    /// Without witnesses a ConfState encodes to etcd's bytes (no field 6);
    /// with them, field 6 follows, unpacked like etcd's id lists.
    #[test]
    fn witnesses_are_absent_from_the_wire_unless_used() {
        let plain = ConfState { voters: vec![1, 2], ..Default::default() };
        assert_eq!(raftpb::encode(&plain).as_ref(), &[0x08, 1, 0x08, 2]);
        let with = ConfState { voters: vec![1, 2], witnesses: vec![2], ..Default::default() };
        assert_eq!(raftpb::encode(&with).as_ref(), &[0x08, 1, 0x08, 2, 0x30, 2]);
        assert_eq!(raftpb::decode::<ConfState>(&raftpb::encode(&with)).unwrap(), with);
    }

    fn node(id: u64, cs: ConfState) -> RawNode<MemoryStorage> {
        node_with(id, cs).0
    }

    fn node_with(id: u64, cs: ConfState) -> (RawNode<MemoryStorage>, MemoryStorage) {
        let s = MemoryStorage::new_with_conf_state(cs);
        let data = Bytes::from_static(b"payload");
        s.append(&[Entry { index: 1, term: 1, data, ..Default::default() }]).unwrap();
        s.set_hard_state(HardState { term: 1, vote: 0, commit: 1 });
        let cfg = Config { id, logger: Some(Arc::new(NoopLogger) as Arc<dyn Logger>), ..Config::default() };
        (RawNode::new(&cfg, s.clone()).unwrap(), s)
    }

    /// A witness restarted from its ConfState never campaigns, however long
    /// it waits, and ignores MsgTimeoutNow; a data voter in its place does.
    #[test]
    fn a_restarted_witness_never_campaigns() {
        let cs = ConfState { voters: vec![1, 2, 3], witnesses: vec![3], ..Default::default() };
        let mut w = node(3, cs.clone());
        assert!(!w.raft().promotable());
        for _ in 0..1000 {
            w.tick();
        }
        w.step(Message { r#type: MessageType::MsgTimeoutNow as i32, from: 1, to: 3, term: 1, ..Default::default() }).unwrap();
        assert_eq!(w.raft().state, StateType::Follower);
        assert_eq!(w.raft().term, 1, "no election was started");
        assert!(w.status().progress.is_empty());
        assert!(w.status().config.witnesses.contains(&3));

        let mut d = node(2, cs);
        for _ in 0..1000 {
            d.tick();
        }
        assert_ne!(d.raft().state, StateType::Follower, "a data voter campaigns");
    }

    /// The leader sends a witness appends without normal payloads, only
    /// once they are durable on the leader, and a snapshot without data;
    /// conf changes go whole.
    #[test]
    fn leader_strips_what_it_sends_to_a_witness() {
        let cs = ConfState { voters: vec![1, 2, 3], witnesses: vec![3], ..Default::default() };
        let (mut l, storage) = node_with(1, cs.clone());
        l.campaign().unwrap();
        for id in [2, 3] {
            let rd = l.ready();
            storage.append(&rd.entries).unwrap();
            if let Some(hs) = rd.hard_state {
                storage.set_hard_state(hs);
            }
            l.advance().unwrap();
            l.step(Message { r#type: MessageType::MsgVoteResp as i32, from: id, to: 1, term: 2, ..Default::default() }).unwrap();
        }
        assert_eq!(l.raft().state, StateType::Leader);
        l.propose(Bytes::from_static(b"secret")).unwrap();
        let cc = raftpb::ConfChangeV2 {
            changes: vec![raftpb::ConfChangeSingle { r#type: raftpb::ConfChangeType::ConfChangeAddLearnerNode as i32, node_id: 4 }],
            ..Default::default()
        };
        l.propose_conf_change(raftpb::ConfChangeI::V2(cc)).unwrap();
        // Both followers acknowledge everything up to the empty entry of
        // term 2, so the proposals stream to them.
        for id in [2, 3] {
            l.step(Message { r#type: MessageType::MsgAppResp as i32, from: id, to: 1, term: 2, index: 2, ..Default::default() }).unwrap();
        }
        let rd = l.ready();
        let apps = |msgs: &[Message], to: u64| -> Vec<Entry> {
            msgs.iter().filter(|m| m.to == to && m.r#type() == MessageType::MsgApp).flat_map(|m| m.entries.clone()).collect()
        };
        let to_data = apps(&rd.messages, 2);
        assert!(to_data.iter().any(|e| e.data.as_ref() == b"secret"), "{to_data:?}");
        // The witness gets entries only once the leader holds them durably.
        let early = apps(&rd.messages, 3);
        assert!(early.iter().all(|e| e.index <= 2), "entries sent to the witness before the leader persisted them: {early:?}");
        storage.append(&rd.entries).unwrap();
        l.advance().unwrap();
        let rd = l.ready();
        let to_witness = apps(&rd.messages, 3);
        assert!(!to_witness.is_empty());
        for e in &to_witness {
            match e.r#type() {
                EntryType::EntryNormal => assert!(e.data.is_empty(), "payload sent to the witness: {e:?}"),
                _ => assert!(!e.data.is_empty(), "conf changes go whole"),
            }
        }
        let idx: Vec<(u64, u64)> = to_witness.iter().map(|e| (e.index, e.term)).collect();
        assert_eq!(idx, to_data.iter().map(|e| (e.index, e.term)).collect::<Vec<_>>(), "same metadata to both");
        l.advance().unwrap();

        // The log is compacted and the witness lost everything: it gets the
        // snapshot's metadata without the data.
        let last = l.raft().raft_log.last_index();
        l.step(Message { r#type: MessageType::MsgAppResp as i32, from: 2, to: 1, term: 2, index: last, ..Default::default() }).unwrap();
        let rd = l.ready();
        storage.append(&rd.entries).unwrap();
        l.advance().unwrap();
        assert_eq!(l.raft().raft_log.committed, last);
        storage.create_snapshot(last, Some(cs), Bytes::from_static(b"state machine")).unwrap();
        storage.compact(last).unwrap();
        let reject = Message { r#type: MessageType::MsgAppResp as i32, from: 3, to: 1, term: 2, index: last, reject: true, reject_hint: 0, ..Default::default() };
        l.step(reject).unwrap();
        let rd = l.ready();
        let snaps: Vec<&Message> = rd.messages.iter().filter(|m| m.r#type() == MessageType::MsgSnap).collect();
        assert_eq!(snaps.len(), 1, "{:?}", rd.messages);
        let snap = snaps[0].snapshot.as_ref().unwrap();
        assert_eq!((snaps[0].to, snap.index(), snap.conf_state().witnesses), (3, last, vec![3]));
        assert!(snap.data.is_empty(), "snapshot data sent to the witness");
    }

    /// A witness backs only data voters of its configuration: not a node it
    /// does not know (e.g. one it saw removed), not another witness.
    #[test]
    fn a_witness_votes_only_for_data_voters() {
        let cs = ConfState { voters: vec![1, 2, 3, 4], witnesses: vec![3, 4], ..Default::default() };
        let vote = |from: u64| {
            let mut w = node(3, cs.clone());
            let m = Message { r#type: MessageType::MsgVote as i32, from, to: 3, term: 5, log_term: 1, index: 1, ..Default::default() };
            w.step(m).unwrap();
            let rd = w.ready();
            let resp = rd.messages.iter().find(|m| m.r#type() == MessageType::MsgVoteResp).cloned();
            resp.map(|r| !r.reject)
        };
        assert_eq!(vote(2), Some(true), "a data voter gets the witness's vote");
        assert_eq!(vote(9), Some(false), "a node outside the configuration does not");
        assert_eq!(vote(4), Some(false), "another witness does not");
    }

    /// With witnesses, a leader that applies its own removal steps down
    /// even without step_down_on_removal.
    #[test]
    fn a_removed_leader_steps_down_with_witnesses() {
        let cs = ConfState { voters: vec![1, 2, 3], witnesses: vec![3], ..Default::default() };
        let mut l = node(1, cs);
        l.campaign().unwrap();
        let _ = l.ready();
        l.advance().unwrap();
        l.step(Message { r#type: MessageType::MsgVoteResp as i32, from: 2, to: 1, term: 2, ..Default::default() }).unwrap();
        assert_eq!(l.raft().state, StateType::Leader);
        let cc = raftpb::ConfChangeV2 {
            changes: vec![raftpb::ConfChangeSingle { r#type: raftpb::ConfChangeType::ConfChangeRemoveNode as i32, node_id: 1 }],
            ..Default::default()
        };
        l.apply_conf_change(raftpb::ConfChangeI::V2(cc)).unwrap();
        assert_eq!(l.raft().state, StateType::Follower);
    }

    /// With witnesses, a node whose log (beyond what it applied) removes it
    /// does not campaign; without the removal it does.
    #[test]
    fn a_node_being_removed_does_not_campaign() {
        let cs = ConfState { voters: vec![1, 2, 3], witnesses: vec![3], ..Default::default() };
        for (removed, campaigns) in [(2, false), (1, true)] {
            let (mut n, storage) = node_with(2, cs.clone());
            let cc = raftpb::ConfChangeV2 {
                changes: vec![raftpb::ConfChangeSingle { r#type: raftpb::ConfChangeType::ConfChangeRemoveNode as i32, node_id: removed }],
                ..Default::default()
            };
            let (t, data) = raftpb::ConfChangeI::V2(cc).marshal();
            storage.append(&[Entry { index: 2, term: 1, r#type: t as i32, data, ..Default::default() }]).unwrap();
            drop(n);
            let cfg = Config { id: 2, logger: Some(Arc::new(NoopLogger) as Arc<dyn Logger>), ..Config::default() };
            n = RawNode::new(&cfg, storage).unwrap();
            n.campaign().unwrap();
            assert_eq!(n.raft().state != StateType::Follower, campaigns, "removing {removed}");
        }
    }

    /// A witness at a higher term answers a stale leader's append with its
    /// term even without CheckQuorum and PreVote; a data voter stays quiet
    /// (etcd), since it will campaign itself.
    #[test]
    fn a_witness_tells_a_stale_leader_its_term() {
        let cs = ConfState { voters: vec![1, 2, 3], witnesses: vec![3], ..Default::default() };
        for (id, answers) in [(3, true), (2, false)] {
            let (_, storage) = node_with(id, cs.clone());
            storage.set_hard_state(HardState { term: 5, vote: 0, commit: 1 });
            let cfg = Config { id, logger: Some(Arc::new(NoopLogger) as Arc<dyn Logger>), ..Config::default() };
            let mut n = RawNode::new(&cfg, storage).unwrap();
            n.step(Message { r#type: MessageType::MsgApp as i32, from: 1, to: id, term: 3, index: 1, log_term: 1, ..Default::default() }).unwrap();
            let rd = n.ready();
            let resp = rd.messages.iter().find(|m| m.r#type() == MessageType::MsgAppResp && m.to == 1);
            assert_eq!(resp.map(|m| m.term), answers.then_some(5), "node {id}");
        }
    }
}
