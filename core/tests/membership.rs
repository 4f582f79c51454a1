//! Membership changes beyond the scripts: invalid changes from the
//! application, the same-term rejoin hazard (etcd-io/raft#349), and
//! property tests of the quorum and confchange rules.

use std::collections::{BTreeMap, BTreeSet};

use polyraft::confchange::{restore, Changer};
use polyraft::quorum::{JointConfig, MajorityConfig};
use polyraft::raftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, MessageType,
};
use polyraft::rafttest::cluster::{test_config, Cluster};
use polyraft::tracker::ProgressTracker;
use polyraft::{Error, StateType};
use proptest::prelude::*;

fn single(t: ConfChangeType, id: u64) -> ConfChangeSingle {
    ConfChangeSingle { r#type: t as i32, node_id: id }
}

#[test]
fn invalid_conf_changes_are_errors_and_change_nothing() {
    let mut c = Cluster::new(3, test_config()).unwrap();
    assert!(c.elect(1).unwrap());
    let n = &mut c.node(1).raw;
    let before = n.status().config.clone();

    // Leaving a joint config that was never entered.
    assert!(matches!(n.apply_conf_change(ConfChangeV2::default()), Err(Error::ConfChange(_))));
    // Removing every voter.
    let rm_all = ConfChangeV2 {
        transition: ConfChangeTransition::JointExplicit as i32,
        changes: (1..=3).map(|id| single(ConfChangeType::ConfChangeRemoveNode, id)).collect(),
        ..Default::default()
    };
    let err = n.apply_conf_change(rm_all).unwrap_err();
    assert_eq!(err.to_string(), "removed all voters");
    // An unknown transition or change type.
    let bad = ConfChangeV2 { transition: 7, ..Default::default() };
    assert!(matches!(n.apply_conf_change(bad.clone()), Err(Error::ConfChange(_))));
    assert!(matches!(n.propose_conf_change(bad), Err(Error::ConfChange(_))));
    let bad_type = ConfChange { r#type: 42, node_id: 4, ..Default::default() };
    assert!(n.apply_conf_change(bad_type).is_err());
    assert_eq!(n.status().config, before, "failed changes leave the config alone");

    // Entering a joint config twice.
    let joint = ConfChangeV2 {
        transition: ConfChangeTransition::JointExplicit as i32,
        changes: vec![single(ConfChangeType::ConfChangeAddNode, 4)],
        ..Default::default()
    };
    n.apply_conf_change(joint.clone()).unwrap();
    let err = n.apply_conf_change(joint).unwrap_err();
    assert_eq!(err.to_string(), "config is already joint");
    // The node keeps working.
    n.propose(bytes::Bytes::from_static(b"still alive")).unwrap();
}

/// etcd-io/raft#349: a leader that removes a peer and re-adds it within one
/// term must not credit the new incarnation with an ack the old one sent.
#[test]
fn rejoined_peer_cannot_be_credited_with_stale_acks() {
    let mut c = Cluster::new(3, test_config()).unwrap();
    assert!(c.elect(1).unwrap());
    let term = c.node(1).raw.basic_status().hard_state.term;

    // Replicate an entry; hold back 2's ack for it.
    c.propose(1, b"x").unwrap();
    let mut held = Vec::new();
    c.stabilize_with(|m| {
        if m.from == 2 && m.r#type() == MessageType::MsgAppResp {
            held.push(m.clone());
            false
        } else {
            true
        }
    })
    .unwrap();
    assert!(!held.is_empty());
    let stale_index = held.iter().map(|m| m.index).max().unwrap();

    // Remove 2, then add it back (a fresh, empty incarnation), same term.
    for t in [ConfChangeType::ConfChangeRemoveNode, ConfChangeType::ConfChangeAddNode] {
        let cc = ConfChange { r#type: t as i32, node_id: 2, ..Default::default() };
        c.node(1).raw.propose_conf_change(cc).unwrap();
        c.stabilize_with(|m| m.to != 2 && m.from != 2).unwrap();
    }
    let st = c.node(1).raw.status();
    // Either the leader moved to a new term (so the held acks are stale)
    // or it still leads in the old term; in both cases the held ack must
    // not set 2's match.
    for m in held {
        let _ = c.node(1).raw.step(m);
    }
    let after = c.node(1).raw.status();
    if after.basic.soft_state.raft_state == StateType::Leader {
        let pr2 = &after.progress[&2];
        assert!(
            after.basic.hard_state.term > term || pr2.matched < stale_index,
            "stale ack credited: {pr2} (term {term}, status before {:?})",
            st.basic
        );
    }
    // And the cluster recovers: a leader exists and commits new entries.
    c.stabilize().unwrap();
    for _ in 0..30 {
        for id in 1..=3 {
            c.node(id).raw.tick();
        }
        c.stabilize().unwrap();
    }
    let leaders = c.leaders();
    assert_eq!(leaders.len(), 1, "one leader after the rejoin");
    let l = leaders[0];
    let commit = c.node(l).raw.basic_status().hard_state.commit;
    c.propose(l, b"after").unwrap();
    c.stabilize().unwrap();
    assert!(c.node(l).raw.basic_status().hard_state.commit > commit);
}

fn brute_majority(ids: &BTreeSet<u64>, acked: &BTreeMap<u64, u64>) -> u64 {
    if ids.is_empty() {
        return u64::MAX;
    }
    let q = ids.len() / 2 + 1;
    // The largest index that q voters have reached.
    let mut candidates: Vec<u64> = ids.iter().map(|id| acked.get(id).copied().unwrap_or(0)).collect();
    candidates.push(0);
    candidates
        .into_iter()
        .filter(|&i| ids.iter().filter(|id| acked.get(id).copied().unwrap_or(0) >= i).count() >= q)
        .max()
        .unwrap_or(0)
}

fn ids() -> impl Strategy<Value = BTreeSet<u64>> {
    proptest::collection::btree_set(1u64..8, 0..6)
}

proptest! {
    #[test]
    fn joint_committed_index_matches_brute_force(
        inc in ids(),
        out in ids(),
        acked in proptest::collection::btree_map(1u64..8, 0u64..20, 0..8),
    ) {
        let jc = JointConfig { incoming: MajorityConfig::new(inc.iter().copied()), outgoing: MajorityConfig::new(out.iter().copied()) };
        let want = brute_majority(&inc, &acked).min(brute_majority(&out, &acked));
        prop_assert_eq!(jc.committed_index(&acked), want);
    }

    #[test]
    fn simple_steps_equal_one_joint_change(from in proptest::collection::btree_set(1u64..7, 1..5), to in proptest::collection::btree_set(1u64..7, 1..5)) {
        let mut base = ProgressTracker::new(10, 0);
        for &id in &from {
            let (cfg, prs) = Changer { tracker: &base, last_index: 1 }.simple(&[single(ConfChangeType::ConfChangeAddNode, id)]).unwrap();
            base.config = cfg;
            base.progress = prs;
        }
        // One voter at a time: add the new ones, then remove the old ones.
        let mut steps = base.clone();
        let adds = to.difference(&from).map(|&id| single(ConfChangeType::ConfChangeAddNode, id));
        let removes = from.difference(&to).map(|&id| single(ConfChangeType::ConfChangeRemoveNode, id));
        let all: Vec<ConfChangeSingle> = adds.chain(removes).collect();
        for cc in &all {
            let (cfg, prs) = Changer { tracker: &steps, last_index: 2 }.simple(std::slice::from_ref(cc)).unwrap();
            steps.config = cfg;
            steps.progress = prs;
        }
        // All at once through a joint configuration.
        let mut joint = base.clone();
        let (cfg, prs) = Changer { tracker: &joint, last_index: 2 }.enter_joint(false, &all).unwrap();
        joint.config = cfg;
        joint.progress = prs;
        let (cfg, prs) = Changer { tracker: &joint, last_index: 2 }.leave_joint().unwrap();
        joint.config = cfg;
        joint.progress = prs;
        prop_assert_eq!(steps.conf_state(), joint.conf_state());
        prop_assert_eq!(steps.progress.keys().collect::<Vec<_>>(), joint.progress.keys().collect::<Vec<_>>());
    }

    #[test]
    fn restore_round_trips(ops in proptest::collection::vec((0u8..3, 1u64..7), 1..12), joint_ops in proptest::collection::vec((0u8..3, 1u64..7), 0..4), auto_leave in any::<bool>()) {
        let mut trk = ProgressTracker::new(10, 0);
        let types = [ConfChangeType::ConfChangeAddNode, ConfChangeType::ConfChangeAddLearnerNode, ConfChangeType::ConfChangeRemoveNode];
        for (t, id) in ops {
            if let Ok((cfg, prs)) = (Changer { tracker: &trk, last_index: 1 }).simple(&[single(types[t as usize], id)]) {
                trk.config = cfg;
                trk.progress = prs;
            }
        }
        if !joint_ops.is_empty() {
            let ccs: Vec<_> = joint_ops.iter().map(|&(t, id)| single(types[t as usize], id)).collect();
            if let Ok((cfg, prs)) = (Changer { tracker: &trk, last_index: 1 }).enter_joint(auto_leave, &ccs) {
                trk.config = cfg;
                trk.progress = prs;
            }
        }
        let cs = trk.conf_state();
        prop_assume!(!cs.voters.is_empty());
        let empty = ProgressTracker::new(10, 0);
        let (cfg, _prs) = restore(Changer { tracker: &empty, last_index: 1 }, &cs).unwrap();
        let mut back = ProgressTracker::new(10, 0);
        back.config = cfg;
        prop_assert_eq!(back.conf_state(), cs);
    }
}
