//! Tests written for cargo-mutants (issue 24) on `core/src/confchange`: the
//! configuration invariants a Changer checks on the tracker it starts from
//! (etcd's checkInvariants). A tracker that breaks one (a bug in the caller,
//! or a corrupted restore) must be refused, never changed further.

use polyraft::confchange::Changer;
use polyraft::raftpb::{ConfChangeSingle, ConfChangeType};
use polyraft::tracker::ProgressTracker;

fn cc(t: ConfChangeType, id: u64) -> ConfChangeSingle {
    ConfChangeSingle {
        r#type: t as i32,
        node_id: id,
    }
}

/// Voters 1, 2, 3 and learner 4, built through the Changer itself.
fn valid() -> ProgressTracker {
    let mut t = ProgressTracker::new(16, 0);
    for c in [
        cc(ConfChangeType::ConfChangeAddNode, 1),
        cc(ConfChangeType::ConfChangeAddNode, 2),
        cc(ConfChangeType::ConfChangeAddNode, 3),
        cc(ConfChangeType::ConfChangeAddLearnerNode, 4),
    ] {
        let (cfg, prs) = Changer {
            tracker: &t,
            last_index: 10,
        }
        .simple(&[c])
        .unwrap();
        t.config = cfg;
        t.progress = prs;
    }
    t
}

/// `valid()` in a joint configuration: voters {1, 2, 3} outgoing, {1, 2, 4}
/// incoming, with 3 staged to become a learner on leaving.
fn valid_joint() -> ProgressTracker {
    let mut t = valid();
    let (cfg, prs) = Changer {
        tracker: &t,
        last_index: 10,
    }
    .enter_joint(
        false,
        &[
            cc(ConfChangeType::ConfChangeAddNode, 4),
            cc(ConfChangeType::ConfChangeAddLearnerNode, 3),
        ],
    )
    .unwrap();
    t.config = cfg;
    t.progress = prs;
    assert!(t.config.learners_next.contains(&3));
    t
}

/// Every Changer operation refuses the tracker with an error naming `what`.
fn refused(t: &ProgressTracker, what: &str) {
    let chg = Changer {
        tracker: t,
        last_index: 10,
    };
    let results = [
        chg.simple(&[]).map(|_| ()),
        chg.simple(&[cc(ConfChangeType::ConfChangeAddNode, 5)])
            .map(|_| ()),
        chg.enter_joint(false, &[cc(ConfChangeType::ConfChangeAddNode, 5)])
            .map(|_| ()),
        chg.leave_joint().map(|_| ()),
    ];
    for r in results {
        let e = r
            .expect_err("a tracker breaking an invariant was accepted")
            .to_string();
        assert!(
            e.contains(what),
            "expected an error about {what:?}, got {e:?}"
        );
    }
}

#[test]
fn valid_trackers_are_accepted() {
    let t = valid();
    let chg = Changer {
        tracker: &t,
        last_index: 10,
    };
    assert!(chg.simple(&[]).is_ok());
    assert!(chg
        .simple(&[cc(ConfChangeType::ConfChangeAddNode, 5)])
        .is_ok());
    let t = valid_joint();
    let (cfg, prs) = Changer {
        tracker: &t,
        last_index: 10,
    }
    .leave_joint()
    .unwrap();
    assert!(cfg.learners.contains(&3) && prs[&3].is_learner);
    assert!(cfg.learners_next.is_empty());
}

#[test]
fn voter_without_progress_is_refused() {
    let mut t = valid();
    t.progress.remove(&2);
    refused(&t, "no progress for 2");
}

#[test]
fn learner_without_progress_is_refused() {
    let mut t = valid();
    t.progress.remove(&4);
    refused(&t, "no progress for 4");
}

#[test]
fn staged_learner_outside_the_outgoing_voters_is_refused() {
    let mut t = valid();
    t.config.learners_next.insert(2);
    refused(&t, "2 is in LearnersNext, but not Voters[1]");
}

#[test]
fn staged_learner_already_marked_learner_is_refused() {
    let mut t = valid_joint();
    t.progress.get_mut(&3).unwrap().is_learner = true;
    refused(&t, "3 is in LearnersNext, but is already marked as learner");
}

#[test]
fn learner_that_is_an_incoming_voter_is_refused() {
    let mut t = valid();
    t.config.learners.insert(2);
    t.progress.get_mut(&2).unwrap().is_learner = true;
    refused(&t, "2 is in Learners and Voters[0]");
}

#[test]
fn learner_that_is_an_outgoing_voter_is_refused() {
    let mut t = valid_joint();
    // 3 votes in the outgoing half only; make it a learner as well.
    t.config.learners_next.remove(&3);
    t.config.learners.insert(3);
    t.progress.get_mut(&3).unwrap().is_learner = true;
    refused(&t, "3 is in Learners and Voters[1]");
}

#[test]
fn learner_not_marked_as_learner_is_refused() {
    let mut t = valid();
    t.progress.get_mut(&4).unwrap().is_learner = false;
    refused(&t, "4 is in Learners, but is not marked as learner");
}

#[test]
fn auto_leave_outside_a_joint_config_is_refused() {
    let mut t = valid();
    t.config.auto_leave = true;
    refused(&t, "AutoLeave must be false when not joint");
}
