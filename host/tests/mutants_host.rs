//! Tests of the host's client surface (host/src/host.rs, and the replica's
//! bookkeeping behind it) written for the mutants cargo-mutants found
//! unchecked (issue 24, host part): what a pending result gives before and
//! after its completion, a host's own id, replica id 0 refused by every
//! membership call, what a manual host's round reports, a blocking call's
//! own limit, stopping a replica, the metrics' sums over workers, closing
//! or dropping a host, and deadlines kept for every kind of waiting
//! operation.

mod common;

use std::sync::Arc;

use common::*;
use parking_lot::Mutex;
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

#[test]
fn run_once_reports_whether_a_round_did_anything() {
    let clock = SimClock::new();
    let net = InProcNetwork::held();
    let mut cfg = HostConfig::new(1);
    cfg.manual = true;
    cfg.workers = 2;
    let parts = |clock: &SimClock| HostParts {
        log: Arc::new(MemLogStore::new()),
        snapshots: Arc::new(MemSnapshotStore::new()),
        transport: net.endpoint(1),
        clock: Arc::new(clock.clone()),
    };
    let host = Host::new(cfg, parts(&clock)).unwrap();
    for g in 1..=4 {
        host.start_replica(g, 1, StartMode::Bootstrap(vec![(1, 1)]), kv_factory()).unwrap();
    }
    while host.run_once() {}
    assert!(!host.run_once(), "a round with nothing queued and no time passed does nothing");
    // Queued work on one group (one worker of two): the round reports it.
    let answered = Arc::new(Mutex::new(None));
    let a = answered.clone();
    host.stale_read_async(3, b"k", Box::new(move |r| *a.lock() = Some(r.is_ok())));
    assert!(host.run_once(), "the round that answered a queued read did something");
    assert_eq!(*answered.lock(), Some(true));
    assert!(!host.run_once());

    // A threaded host's workers run themselves: run_once has nothing to do.
    let threaded = Host::new(HostConfig::new(2), parts(&SimClock::new())).unwrap();
    assert!(!threaded.run_once());
    threaded.close();
}

#[test]
fn a_blocking_call_shorter_than_two_ticks_times_out_cleanly() {
    // The leader of group 1 loses both followers: a proposal is appended
    // but cannot commit, so it can only time out (the leader steps down
    // only after an election timeout, 1 s here). The caller's own limit
    // (the timeout plus two ticks and a margin, for a worker stuck on a
    // stalled disk) must not undercut the timeout however short it is
    // against the tick.
    let mut c = Cluster::new(3, |cfg| cfg.tick_interval = std::time::Duration::from_millis(50));
    c.bootstrap(1..=1);
    let l = c.wait_leaders(1..=1, &[1, 2, 3])[&1];
    for h in (1..=3).filter(|&h| h != l) {
        c.stop_host(h);
    }
    for ms in [1, 20, 120] {
        let t = std::time::Duration::from_millis(ms);
        let start = std::time::Instant::now();
        let r = c.host(l).propose(1, b"set k v", t);
        assert!(matches!(r, Err(OpError::TimedOut)), "{ms} ms: {r:?}");
        assert!(start.elapsed() >= t, "{ms} ms: returned after {:?}", start.elapsed());
    }
}

/// A 3-host cluster whose group 1 applied `set a 1` on its leader `l` and
/// on a follower `f`: returns (cluster, l, f).
fn written_once() -> (Cluster, u64, u64) {
    let c = Cluster::new(3, |_| {});
    c.bootstrap(1..=1);
    let l = c.wait_leaders(1..=1, &[1, 2, 3])[&1];
    c.host(l).propose(1, b"set a 1", T).unwrap();
    let f = (1..=3).find(|&h| h != l).unwrap();
    c.wait_until("the follower applied the write", || c.host(f).stale_read(1, b"a").is_ok_and(|v| v == "1"));
    (c, l, f)
}

#[test]
fn a_stopped_replica_is_gone_until_restarted_from_its_log() {
    let (c, l, f) = written_once();

    c.host(f).stop_replica(1).unwrap();
    assert!(c.host(f).group_info(1).is_none(), "the stopped replica still reports");
    assert!(matches!(c.host(f).stop_replica(1), Err(HostError::Invalid(_))), "stopped twice");
    assert!(matches!(c.host(f).stop_replica(9), Err(HostError::Invalid(_))), "a group never started");
    c.host(l).propose(1, b"set a 2", T).unwrap();

    // Its log stayed: started again, it restarts from it (the bootstrap
    // members are not used again) and catches up.
    let members: Vec<(u64, u64)> = (1..=3).map(|i| (i, i)).collect();
    c.host(f).start_replica(1, f, StartMode::Bootstrap(members), kv_factory()).unwrap();
    c.wait_until("the restarted replica caught up", || c.host(f).stale_read(1, b"a").is_ok_and(|v| v == "2"));
    assert_eq!(c.host(f).group_info(1).unwrap().voters, vec![1, 2, 3]);
}

#[test]
fn metrics_count_the_groups_and_the_operations_waiting() {
    let mut c = Cluster::new(3, |_| {});
    c.bootstrap(1..=5);
    let leaders = c.wait_leaders(1..=5, &[1, 2, 3]);
    for h in 1..=3 {
        assert_eq!(c.host(h).metrics().groups, 5, "host {h}: groups over both workers");
        assert_eq!(c.host(h).metrics().pending_ops, 0, "host {h}");
    }
    // A leader that lost its followers holds the proposals it cannot commit.
    let l = leaders[&1];
    for h in (1..=3).filter(|&h| h != l) {
        c.stop_host(h);
    }
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    for i in 0..3 {
        let o = outcomes.clone();
        c.host(l).propose_async(1, format!("set k {i}").as_bytes(), T, Box::new(move |r| o.lock().push(r)));
    }
    // Queued behind the proposals on the same worker: it sees all three.
    assert_eq!(c.host(l).metrics().pending_ops, 3, "completed: {:?}", outcomes.lock());
}

#[test]
fn a_closed_host_completes_what_waits_and_refuses_what_follows() {
    let mut c = Cluster::new(3, |_| {});
    c.bootstrap(1..=1);
    let l = c.wait_leaders(1..=1, &[1, 2, 3])[&1];
    for h in (1..=3).filter(|&h| h != l) {
        c.stop_host(h);
    }
    let last = c.host(l).group_info(1).unwrap().last_index;
    let (pending, done) = Pending::pair();
    c.host(l).propose_async(1, b"set k v", T, done);
    c.wait_until("the proposal is in the leader's log", || c.host(l).group_info(1).unwrap().last_index > last);
    c.host(l).close();
    // In the log when the host closed, so it may still commit: timed out,
    // the outcome unknown.
    let r = pending.wait_timeout(T);
    assert!(matches!(r, Err(OpError::TimedOut)), "{r:?}");
    assert!(matches!(c.host(l).propose(1, b"set k w", T), Err(OpError::Rejected(m)) if m.contains("closed")));
    assert!(matches!(c.host(l).stop_replica(1), Err(HostError::Closed)));
}

#[test]
fn dropping_a_host_stops_its_workers() {
    let log = Arc::new(MemLogStore::new());
    let net = InProcNetwork::new();
    let host = Host::new(
        HostConfig::new(1),
        HostParts {
            log: log.clone(),
            snapshots: Arc::new(MemSnapshotStore::new()),
            transport: net.endpoint(1),
            clock: Arc::new(SystemClock::default()),
        },
    )
    .unwrap();
    host.start_replica(1, 1, StartMode::Bootstrap(vec![(1, 1)]), kv_factory()).unwrap();
    assert!(Arc::strong_count(&log) > 1, "the workers share the log");
    drop(host);
    // The workers were joined: nothing holds the log any more.
    assert_eq!(Arc::strong_count(&log), 1);
}

/// Waits at most 3 s for an asynchronous completion's result.
fn outcome_of<T>(slot: &Arc<Mutex<Option<OpResult<T>>>>) -> Option<OpResult<T>> {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < end {
        if let Some(r) = slot.lock().take() {
            return Some(r);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    None
}

/// A completion that stores its result in the slot returned with it.
fn slot<T: Send + 'static>() -> (Arc<Mutex<Option<OpResult<T>>>>, Completion<T>) {
    let s = Arc::new(Mutex::new(None));
    let s2 = s.clone();
    (s, Box::new(move |r| *s2.lock() = Some(r)))
}

/// Group 1 led by host 1, whose followers (hosts 2 and 3) are stopped.
/// Host 1's election timeout is 5 s, so it keeps leading that long without
/// a quorum; hosts 2 and 3 elect fast and hand their leadership over.
fn leader_without_followers() -> Cluster {
    let mut c = Cluster::new(3, |cfg| {
        if cfg.host_id == 1 {
            cfg.election_ticks = 500;
        }
    });
    c.bootstrap(1..=1);
    let l = c.wait_leaders(1..=1, &[1, 2, 3])[&1];
    if l != 1 {
        c.host(l).transfer_leader(1, 1, T).unwrap();
    }
    c.wait_until("host 1 leads", || c.host(1).group_info(1).is_some_and(|i| i.is_leader));
    c.stop_host(2);
    c.stop_host(3);
    c
}

#[test]
fn a_read_a_transfer_or_a_change_waiting_alone_times_out_at_its_deadline() {
    // Each operation below can only wait, alone in its group, until its
    // deadline: the worker must still be watching that deadline, whatever
    // kind of operation it is.
    let c = leader_without_followers();
    let t = std::time::Duration::from_millis(300);
    fn timed_out<T>(r: Option<OpResult<T>>) -> bool {
        matches!(r, Some(Err(OpError::TimedOut)))
    }

    let (read, done) = slot::<bytes::Bytes>();
    c.host(1).read_async(1, b"k", t, done);
    assert!(timed_out(outcome_of(&read)), "a read without a quorum");
    let (change, done) = slot::<()>();
    c.host(1).change_membership_async(1, Membership::AddLearner { replica: 4, host: 4 }, t, done);
    assert!(timed_out(outcome_of(&change)), "a membership change without a quorum");
    // Last: raft drops proposals while a transfer is under way.
    let (transfer, done) = slot::<()>();
    c.host(1).transfer_leader_async(1, 2, t, done);
    assert!(timed_out(outcome_of(&transfer)), "a transfer to a replica that is down");
}

#[test]
fn metrics_count_every_kind_of_waiting_operation() {
    // Nothing host 1 is asked can complete before its deadline.
    let c = leader_without_followers();
    let h = c.host(1);
    let last = h.group_info(1).unwrap().last_index;
    let mut slots = Vec::new();
    for i in 0..2 {
        let (s, done) = slot::<bytes::Bytes>();
        h.propose_async(1, format!("set k {i}").as_bytes(), T, done);
        slots.push(s);
    }
    let (change, done) = slot::<()>();
    h.change_membership_async(1, Membership::AddLearner { replica: 4, host: 4 }, T, done);
    // In the log before the transfer starts (raft drops proposals while a
    // transfer is under way).
    c.wait_until("the proposals are in the log", || h.group_info(1).unwrap().last_index == last + 3);
    for _ in 0..3 {
        let (s, done) = slot::<bytes::Bytes>();
        h.read_async(1, b"k", T, done);
        slots.push(s);
    }
    let (transfer, done) = slot::<()>();
    h.transfer_leader_async(1, 2, T, done);
    // 2 proposals + 1 change + 3 reads + 1 transfer, each kind counted.
    assert_eq!(h.metrics().pending_ops, 7);
    let done: Vec<String> = slots.iter().map(|s| format!("{:?}", s.lock())).collect();
    assert!(slots.iter().all(|s| s.lock().is_none()) && change.lock().is_none() && transfer.lock().is_none(), "{done:?} {:?} {:?}", change.lock(), transfer.lock());
}

#[test]
fn metrics_count_proposals_still_queued_in_the_round() {
    // One worker, held inside a stale read's completion while two
    // proposals and a metrics request queue behind it: when it resumes,
    // the request runs in the same round as the proposals, before the
    // round hands them to raft, and must count them.
    let c = Cluster::new(1, |cfg| cfg.workers = 1);
    c.host(1).start_replica(1, 1, StartMode::Bootstrap(vec![(1, 1)]), kv_factory()).unwrap();
    c.wait_until("host 1 leads", || c.host(1).group_info(1).is_some_and(|i| i.is_leader));
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    c.host(1).stale_read_async(
        1,
        b"k",
        Box::new(move |_| {
            held_tx.send(()).unwrap();
            let _ = gate_rx.recv();
        }),
    );
    held_rx.recv().unwrap();
    let (a, done_a) = slot::<bytes::Bytes>();
    let (b, done_b) = slot::<bytes::Bytes>();
    c.host(1).propose_async(1, b"set k 1", T, done_a);
    c.host(1).propose_async(1, b"set k 2", T, done_b);
    std::thread::scope(|s| {
        let metrics = s.spawn(|| c.host(1).metrics().pending_ops);
        // Time for the metrics request to queue behind the proposals (if
        // it queues later, it runs in a later round and sees the same 2).
        std::thread::sleep(std::time::Duration::from_millis(200));
        gate_tx.send(()).unwrap();
        assert_eq!(metrics.join().unwrap(), 2);
    });
    assert!(matches!(outcome_of(&a), Some(Ok(_))) && matches!(outcome_of(&b), Some(Ok(_))));
}

#[test]
fn a_membership_change_refused_by_raft_is_rejected_at_once() {
    // Two changes proposed back to back on the leader: raft refuses the
    // second while the first is pending, putting an empty entry at its
    // index. The host sees that entry applied where the change was
    // appended and rejects it then, not at its deadline.
    let c = Cluster::new(3, |_| {});
    c.bootstrap(1..=1);
    let l = c.wait_leaders(1..=1, &[1, 2, 3])[&1];
    let (first, done) = slot::<()>();
    c.host(l).change_membership_async(1, Membership::AddLearner { replica: 4, host: 4 }, T, done);
    let (second, done) = slot::<()>();
    c.host(l).change_membership_async(1, Membership::AddLearner { replica: 5, host: 5 }, T, done);
    assert!(matches!(outcome_of(&first), Some(Ok(()))));
    match outcome_of(&second) {
        Some(Err(OpError::Rejected(m))) if m.contains("refused") => {
            assert_eq!(c.host(l).group_info(1).unwrap().learners, vec![4])
        }
        // The first change was applied before the second reached raft (a
        // slow machine): both went through, nothing was refused.
        Some(Ok(())) => assert_eq!(c.host(l).group_info(1).unwrap().learners, vec![4, 5]),
        r => panic!("{r:?}"),
    }
}

#[test]
fn a_transfer_spanning_several_ticks_completes_when_the_target_leads() {
    // Manual hosts on a simulated clock: a tick passes between every two
    // deliveries, so the transfer (TimeoutNow, the target's election, the
    // old leader learning of it) spans several ticks, each of which checks
    // deadlines. Only a deadline that passed may end it early.
    const TICK: std::time::Duration = std::time::Duration::from_millis(10);
    let clock = SimClock::new();
    let net = InProcNetwork::held();
    let members: Vec<(u64, u64)> = (1..=3).map(|i| (i, i)).collect();
    let hosts: Vec<Host> = (1..=3)
        .map(|h| {
            let mut cfg = HostConfig::new(h);
            cfg.manual = true;
            cfg.seed = Some(h);
            cfg.tick_interval = TICK;
            let host = Host::new(
                cfg,
                HostParts {
                    log: Arc::new(MemLogStore::new()),
                    snapshots: Arc::new(MemSnapshotStore::new()),
                    transport: net.endpoint(h),
                    clock: Arc::new(clock.clone()),
                },
            )
            .unwrap();
            net.register(h, host.inbound());
            host.start_replica(1, h, StartMode::Bootstrap(members.clone()), kv_factory()).unwrap();
            host
        })
        .collect();
    let step = || {
        for h in &hosts {
            while h.run_once() {}
        }
        net.deliver_all();
        for h in &hosts {
            while h.run_once() {}
        }
        clock.advance(TICK);
    };
    let leader = |h: &Host| h.group_info(1).unwrap().leader;
    let mut steps = 0;
    while !(leader(&hosts[0]) != 0 && hosts.iter().all(|h| leader(h) == leader(&hosts[0]))) {
        step();
        steps += 1;
        assert!(steps < 2000, "no leader");
    }
    let l = leader(&hosts[0]);
    let target = (1..=3).find(|&r| r != l).unwrap();
    let (transfer, done) = slot::<()>();
    hosts[l as usize - 1].transfer_leader_async(1, target, std::time::Duration::from_secs(5), done);
    let mut ticks = 0;
    let r = loop {
        step();
        ticks += 1;
        if let Some(r) = transfer.lock().take() {
            break r;
        }
        assert!(ticks < 400, "the transfer never completed");
    };
    assert!(r.is_ok(), "after {ticks} ticks: {r:?}");
    assert!(ticks > 1, "the transfer took {ticks} tick(s): the test needs it to span several");
    assert!(hosts.iter().all(|h| leader(h) == target));
}

#[test]
fn a_proposal_another_leader_replaced_is_rejected_after_stale_ones_are_pruned() {
    // The leader is cut off with two proposals in its log: A times out,
    // B waits (long deadline). A's stale index record is pruned at a tick;
    // B's must stay, so that when the new leader's entries replace both,
    // B is rejected at once (certainly not applied) instead of waiting for
    // its deadline.
    let c = Cluster::new(3, |_| {});
    c.bootstrap(1..=1);
    let l = c.wait_leaders(1..=1, &[1, 2, 3])[&1];
    let others: Vec<u64> = (1..=3).filter(|&h| h != l).collect();
    for &o in &others {
        c.net.set_partitioned(l, o, true);
    }
    let (a, done) = slot::<bytes::Bytes>();
    c.host(l).propose_async(1, b"set a 1", std::time::Duration::from_millis(100), done);
    let (b, done) = slot::<bytes::Bytes>();
    c.host(l).propose_async(1, b"set b 1", std::time::Duration::from_secs(20), done);
    assert!(matches!(outcome_of(&a), Some(Err(OpError::TimedOut))));
    // The other two elect a leader and write past B's index.
    let lead = |h: u64| c.host(h).group_info(1).unwrap().leader;
    c.wait_until("a new leader", || others.contains(&lead(others[0])) && lead(others[0]) == lead(others[1]));
    let nl = lead(others[0]);
    for i in 0..3 {
        c.host(nl).propose(1, format!("set c {i}").as_bytes(), T).unwrap();
    }
    assert!(b.lock().is_none(), "B is still waiting: nothing has replaced it yet");
    for &o in &others {
        c.net.set_partitioned(l, o, false);
    }
    let r = outcome_of(&b);
    assert!(matches!(&r, Some(Err(OpError::Rejected(m))) if m.contains("replaced")), "{r:?}");
    c.wait_until("the old leader converges", || c.host(l).stale_read(1, b"b").is_ok_and(|v| v.is_empty()));
}

#[test]
fn a_snapshot_whose_data_is_malformed_is_refused_and_the_replica_runs_on() {
    // A snapshot from the group's leader, ahead of the follower's log, but
    // with data no host wrote (here: none at all, as only a witness gets).
    // Raft must not take it: persisted, it could never be restored, and
    // the replica would stop. Dropped, the replica runs on.
    use polyraft::raftpb::{ConfState, Message, MessageType, Snapshot, SnapshotMetadata};
    let (c, l, f) = written_once();
    let before = c.host(f).group_info(1).unwrap();
    let refused_before = c.host(f).metrics().step_errors;
    for data in [bytes::Bytes::new(), bytes::Bytes::from_static(&[200, 0, 0, 0, 0, 0, 0, 0, 1, 2])] {
        let snap = Snapshot {
            data,
            metadata: Some(SnapshotMetadata {
                conf_state: Some(ConfState { voters: vec![1, 2, 3], ..Default::default() }),
                index: before.committed + 100,
                term: before.term,
            }),
        };
        let m = Message {
            r#type: MessageType::MsgSnap as i32,
            from: l,
            to: f,
            term: before.term,
            snapshot: Some(Box::new(snap)),
            ..Default::default()
        };
        c.host(f).inbound().deliver(l, vec![GroupMessage { group: 1, message: m }]);
    }
    c.wait_until("both refused", || c.host(f).metrics().step_errors >= refused_before + 2);
    let after = c.host(f).group_info(1).expect("the replica still runs");
    assert!(after.applied < before.committed + 100 && after.snapshot_index < before.committed + 100);
    c.host(l).propose(1, b"set a 2", T).unwrap();
    c.wait_until("the follower goes on applying", || c.host(f).stale_read(1, b"a").is_ok_and(|v| v == "2"));
}

#[test]
fn a_group_counts_the_snapshots_it_installed_and_took() {
    // Host 3 is away while the leader takes snapshots and compacts its
    // log; back, it is caught up by a snapshot, then takes its own.
    let mut c = Cluster::new(3, |cfg| {
        cfg.snapshot_entries = 10;
        cfg.compaction_overhead = 2;
    });
    c.bootstrap(1..=1);
    let l = c.wait_leaders(1..=1, &[1, 2, 3])[&1];
    let l = if l == 3 {
        c.host(3).transfer_leader(1, 1, T).unwrap();
        1
    } else {
        l
    };
    c.stop_host(3);
    for i in 0..40 {
        c.host(l).propose(1, format!("set k{i} {i}").as_bytes(), T).unwrap();
    }
    c.start_host(3);
    let members: Vec<(u64, u64)> = (1..=3).map(|i| (i, i)).collect();
    c.host(3).start_replica(1, 3, StartMode::Bootstrap(members), kv_factory()).unwrap();
    c.wait_until("host 3 caught up", || c.host(3).stale_read(1, b"k39").is_ok_and(|v| v == "39"));
    for i in 40..60 {
        c.host(l).propose(1, format!("set k{i} {i}").as_bytes(), T).unwrap();
    }
    c.wait_until("host 3 applied the rest", || c.host(3).stale_read(1, b"k59").is_ok_and(|v| v == "59"));
    let m = c.host(3).metrics();
    assert!(m.snapshots_installed >= 1, "{m:?}");
    let g = &c.host(3).group_metrics()[0];
    assert_eq!(g.snapshots, m.snapshots_installed + m.snapshots_created, "the group's count is the host's (one group)");
    // The 20 writes after the snapshot (and the entries around them) went
    // through the apply stage: counted as committed and as applied.
    assert!(g.commits >= 20 && g.commits == m.commits, "{g:?} {m:?}");
    assert!(g.applies >= 20 && g.applies == m.applies, "{g:?} {m:?}");
}
