//! Tests of the host's client surface (host/src/host.rs) written for the
//! mutants cargo-mutants found unchecked (issue 24, host part): what a
//! pending result gives before and after its completion, a host's own id,
//! and replica id 0 refused by every membership call.

mod common;

use common::*;
use polyraft_host::*;

#[test]
fn a_pending_result_is_known_once_completed_and_taken_once() {
    let (pending, done) = Pending::<u64>::pair();
    assert!(pending.try_take().is_none(), "nothing is known before the completion runs");
    done(Ok(7));
    assert!(matches!(pending.try_take(), Some(Ok(7))));
    // Taken: the completion is gone, so what is left reads as the host closed.
    assert!(matches!(pending.try_take(), Some(Err(OpError::Rejected(_)))));

    // A completion dropped without running (the host closed): the outcome
    // is known, and it is a refusal, not a hang.
    let (pending, done) = Pending::<u64>::pair();
    drop(done);
    assert!(matches!(pending.try_take(), Some(Err(OpError::Rejected(m))) if m.contains("closed")));
}

#[test]
fn a_host_knows_its_id() {
    let c = Cluster::new(3, |_| {});
    for (&id, host) in &c.hosts {
        assert_eq!(host.id(), id);
    }
}

#[test]
fn replica_id_zero_is_refused_by_every_membership_call() {
    let c = Cluster::new(3, |_| {});
    c.bootstrap(1..=1);
    let l = c.wait_leaders(1..=1, &[1, 2, 3])[&1];
    let h = c.host(l);
    let reserved = |r: OpResult<()>| matches!(r, Err(OpError::Rejected(m)) if m.contains("replica id 0"));
    assert!(reserved(h.add_replica(1, 0, 4, T)));
    assert!(reserved(h.add_learner(1, 0, 4, T)));
    assert!(reserved(h.add_witness(1, 0, 4, T)));
    assert!(reserved(h.remove_replica(1, 0, T)));
    // The same calls with a real replica id go through to raft.
    change_until(|| h.add_witness(1, 4, 4, T), || h.group_info(1).unwrap().witnesses.contains(&4));
    assert_eq!(h.group_info(1).unwrap().witnesses, vec![4]);
}
