//! 3 hosts × 100 groups in process: elections, proposals with results,
//! sessions, reads, membership, leader transfer, late joiners catching up
//! by snapshot, restart from the log, quiescence.

mod common;

use std::time::Duration;

use common::*;
use polyraft_host::*;

const GROUPS: u64 = 100;
const _: () = assert!(GROUPS == 100);

#[test]
fn elections_proposals_sessions_and_reads() {
    let c = Cluster::new(3, |_| {});
    c.bootstrap(1..=GROUPS);
    let leaders = c.wait_leaders(1..=GROUPS, &[1, 2, 3]);
    assert_eq!(leaders.len(), GROUPS as usize);
    let elections: u64 = (1..=3).map(|h| c.host(h).metrics().elections).sum();
    assert!(elections >= GROUPS, "every group elected a leader ({elections} elections)");

    // Proposals return the state machine's result, on the leader and
    // through a follower (forwarded).
    for g in 1..=GROUPS {
        let leader = leaders[&g];
        let follower = leader % 3 + 1;
        assert_eq!(c.host(leader).propose(g, format!("set a {g}").as_bytes(), T).unwrap(), "");
        assert_eq!(c.host(follower).propose(g, b"set a x", T).unwrap(), g.to_string());
        assert_eq!(c.host(follower).propose(g, b"incr n", T).unwrap(), "1");
    }

    // Linearizable reads from any replica see the last write.
    for g in 1..=GROUPS {
        for h in 1..=3 {
            assert_eq!(c.host(h).read(g, b"a", T).unwrap(), "x", "group {g} host {h}");
        }
    }
    // Stale reads eventually converge.
    c.wait_until("followers applying", || (1..=3).all(|h| c.host(h).stale_read(7, b"n").unwrap() == "1"));

    // Sessions: a retried proposal (same series) applies once and returns
    // the first result; the next series applies again.
    let leader = leaders[&5];
    let mut s = Session::new(5, 4242);
    assert_eq!(c.host(leader).propose_session(&s, b"incr s", T).unwrap(), "1");
    assert_eq!(c.host(leader % 3 + 1).propose_session(&s, b"incr s", T).unwrap(), "1", "retry answered from the session table");
    assert_eq!(c.host(leader).read(5, b"s", T).unwrap(), "1");
    s.proposal_completed();
    assert_eq!(c.host(leader).propose_session(&s, b"incr s", T).unwrap(), "2");
    let dedups: u64 = (1..=3).map(|h| c.host(h).metrics().dedup_hits).sum();
    assert!(dedups >= 3, "every replica deduplicated the retry ({dedups})");
    // A series the client already acknowledged is certainly not applied
    // again: rejected.
    let stale = Session::new(5, 4242);
    assert!(matches!(c.host(leader).propose_session(&stale, b"incr s", T), Err(OpError::Rejected(_))));
    assert_eq!(c.host(leader).read(5, b"s", T).unwrap(), "2");
    c.host(leader).close_session(&s, T).unwrap();

    // Bad input is rejected at once: a transfer to a non-member, an
    // unknown group, replica id 0.
    assert!(matches!(c.host(1).transfer_leader(1, 99, T), Err(OpError::Rejected(_))));
    assert!(matches!(c.host(1).add_replica(1, 0, 1, T), Err(OpError::Rejected(_))));
    assert!(c.host(1).start_replica(1, 1, StartMode::Join, kv_factory()).is_err(), "already running");
    assert!(matches!(c.host(1).read(9999, b"a", T), Err(OpError::Rejected(_))));
    // Unknown groups are rejected, not timed out.
    assert!(matches!(c.host(1).propose(9999, b"set a b", T), Err(OpError::Rejected(_))));
    let m = c.host(1).metrics();
    assert!(m.log_writes > 0 && m.fsyncs > 0 && m.bytes_written > 0 && m.applies > 0);
    let text = c.host(1).prometheus();
    assert!(text.contains("polyraft_host_proposals{host=\"1\"}") && text.contains("polyraft_group_applied_index{host=\"1\",group=\"1\"}"));
}

#[test]
fn timeouts_are_distinct_from_rejections() {
    let c = Cluster::new(3, |_| {});
    c.bootstrap(1..=3);
    let leaders = c.wait_leaders(1..=3, &[1, 2, 3]);
    let l = leaders[&1];
    // Cut the leader off: its proposals cannot commit and time out.
    for h in 1..=3 {
        if h != l {
            c.net.set_partitioned(l, h, true);
        }
    }
    assert_eq!(c.host(l).propose(1, b"set k v", Duration::from_millis(200)), Err(OpError::TimedOut));
    assert!(c.host(l).metrics().proposals_timed_out >= 1);

    // Group 2: the cut-off leader appends a proposal the majority never
    // sees; the majority elects a new leader, which writes its own entries
    // at that index. When the old leader rejoins, the entry applied at its
    // proposal's index is another one: the proposal is certainly lost, and
    // the client hears `Rejected`, not `TimedOut`.
    for h in 1..=3 {
        c.net.set_partitioned(l, h, false);
    }
    let l2 = c.wait_leaders(2..=2, &[1, 2, 3])[&2];
    let others: Vec<u64> = (1..=3).filter(|h| *h != l2).collect();
    for h in &others {
        c.net.set_partitioned(l2, *h, true);
        // The failure detector's part: a quiesced group would not notice.
        c.host(*h).report_host_down(l2);
    }
    let (lost, done) = Pending::pair();
    c.host(l2).propose_async(2, b"set lost 1", Duration::from_secs(20), done);
    c.wait_until("a new leader in the majority", || {
        c.host(others[0]).group_info(2).is_some_and(|i| i.leader != 0 && i.leader != l2)
    });
    assert_eq!(c.host(others[0]).propose(2, b"set won 1", T).unwrap(), "");
    for h in &others {
        c.net.set_partitioned(l2, *h, false);
    }
    match lost.wait() {
        Err(OpError::Rejected(why)) => assert!(why.contains("replaced"), "{why}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(c.host(l2).read(2, b"lost", T).unwrap(), "");
    assert_eq!(c.host(l2).read(2, b"won", T).unwrap(), "1");
}

#[test]
fn membership_transfer_and_late_joiner_snapshot() {
    let mut c = Cluster::new(3, |cfg| {
        cfg.snapshot_entries = 20;
        cfg.compaction_overhead = 5;
    });
    c.bootstrap(1..=GROUPS);
    let leaders = c.wait_leaders(1..=GROUPS, &[1, 2, 3]);
    for g in 1..=GROUPS {
        for i in 0..30 {
            c.host(leaders[&g]).propose(g, format!("set k{i} {g}").as_bytes(), T).unwrap();
        }
    }
    c.wait_until("a snapshot of every replica (every 20 entries)", || {
        (1..=3).map(|h| c.host(h).metrics().snapshots_created).sum::<u64>() >= 3 * GROUPS
    });

    // Leader transfer.
    for g in 1..=10 {
        let target = leaders[&g] % 3 + 1;
        c.host(leaders[&g]).transfer_leader(g, target, T).unwrap();
        c.wait_until("transfer", || c.host(target).group_info(g).unwrap().is_leader);
    }
    let leaders = c.wait_leaders(1..=GROUPS, &[1, 2, 3]);

    // A fourth host joins late as a learner: the log is compacted, so it
    // must receive a snapshot; then it is promoted to voter.
    c.start_host(4);
    let info = |h: u64, g: u64| c.host(h).group_info(g).unwrap();
    for g in 1..=GROUPS {
        change_until(|| c.host(leaders[&g]).add_learner(g, 4, 4, T), || info(leaders[&g], g).learners.contains(&4));
        c.host(4).start_replica(g, 4, StartMode::Join, kv_factory()).unwrap();
    }
    c.wait_until("learners caught up", || (1..=GROUPS).all(|g| c.host(4).stale_read(g, b"k29").unwrap() == g.to_string()));
    assert!(c.host(4).metrics().snapshots_installed >= GROUPS, "late joiners restored snapshots");
    for g in 1..=GROUPS {
        assert!(info(4, g).learners.contains(&4));
        change_until(|| c.host(leaders[&g]).add_replica(g, 4, 4, T), || info(leaders[&g], g).voters.contains(&4));
    }
    c.wait_until("promotion seen by host 4", || (1..=GROUPS).all(|g| c.host(4).group_info(g).unwrap().voters.contains(&4)));

    // Remove replica 3 from every group; host 3's replicas stop.
    let leaders = c.wait_leaders(1..=GROUPS, &[1, 2, 4]);
    for g in 1..=GROUPS {
        let l = leaders[&g];
        let via = if l == 3 { 1 } else { l };
        change_until(|| c.host(via).remove_replica(g, 3, T), || !info(via, g).voters.contains(&3));
    }
    c.wait_until("replicas removed from host 3", || c.host(3).metrics().groups == 0);
    // Followers of a removed leader keep it as leader until their election
    // timeout: wait for a leader among the remaining replicas.
    c.wait_until("leaders among 1, 2, 4", || {
        c.wait_leaders(1..=GROUPS, &[1, 2, 4]).values().all(|l| *l != 3)
    });
    let leaders = c.wait_leaders(1..=GROUPS, &[1, 2, 4]);
    for g in 1..=GROUPS {
        let info = c.host(1).group_info(g).unwrap();
        assert_eq!(info.voters.len(), 3);
        assert!(!info.voters.contains(&3) && info.voters.contains(&4));
        // Through host 4 (a follower or the leader). A timed-out attempt is
        // retried in a session, so it applies once whatever happened.
        let s = Session::new(g, 77);
        let mut res = c.host(4).propose_session(&s, b"incr after", T);
        for _ in 0..3 {
            if res != Err(OpError::TimedOut) {
                break;
            }
            res = c.host(4).propose_session(&s, b"incr after", T);
        }
        assert_eq!(res.unwrap(), "1", "group {g}");
        assert_eq!(info.hosts.get(&4), Some(&4), "address book from the conf change");
        let _ = leaders[&g];
    }
    c.stop_host(3);
}

#[test]
fn restart_recovers_every_group_from_the_log() {
    restart(Cluster::new(3, tune_restart), true);
}

#[test]
fn restart_recovers_every_group_from_the_file_log() {
    restart(Cluster::on_disk(3, tune_restart), false);
}

fn tune_restart(cfg: &mut HostConfig) {
    cfg.snapshot_entries = 8;
    cfg.compaction_overhead = 2;
    cfg.purge_interval = Duration::from_millis(50);
}

/// Stops host 2 (crashing its in-memory log when `crash_mem`), restarts
/// it and every replica from its log and snapshots.
fn restart(mut c: Cluster, crash_mem: bool) {
    c.bootstrap(1..=GROUPS);
    let leaders = c.wait_leaders(1..=GROUPS, &[1, 2, 3]);
    for g in 1..=GROUPS {
        for i in 0..12 {
            c.host(leaders[&g]).propose(g, format!("set k{i} v{i}-{g}").as_bytes(), T).unwrap();
        }
    }
    c.wait_until("host 2 applied", || (1..=GROUPS).all(|g| c.host(2).stale_read(g, b"k11").unwrap() == format!("v11-{g}")));
    // Crash host 2 (its unsynced log tail is lost), bring it back, restart
    // every replica from the log.
    c.stop_host(2);
    if crash_mem {
        c.logs[&2].crash();
    }
    c.start_host(2);
    for g in 1..=GROUPS {
        c.host(2).start_replica(g, 2, StartMode::Join, kv_factory()).unwrap();
    }
    for g in 1..=GROUPS {
        let info = c.host(2).group_info(g).unwrap();
        assert!(info.applied >= 8, "group {g} recovered its snapshot (applied {})", info.applied);
        assert_eq!(info.voters, vec![1, 2, 3]);
    }
    c.wait_leaders(1..=GROUPS, &[1, 2, 3]);
    c.wait_until("host 2 recovered", || (1..=GROUPS).all(|g| c.host(2).stale_read(g, b"k11").unwrap() == format!("v11-{g}")));
    for g in 1..=GROUPS {
        assert_eq!(c.host(2).propose(g, b"set after restart", T).unwrap(), "");
    }
}

#[test]
fn idle_groups_quiesce_and_wake() {
    let c = Cluster::new(3, |cfg| cfg.quiesce_after_elections = 2);
    c.bootstrap(1..=GROUPS);
    let leaders = c.wait_leaders(1..=GROUPS, &[1, 2, 3]);
    c.wait_until("all groups quiesced", || (1..=3).all(|h| c.host(h).metrics().active_groups == 0));
    let ticks: Vec<u64> = (1..=3).map(|h| c.host(h).metrics().group_ticks).collect();
    let sent: Vec<u64> = (1..=3).map(|h| c.host(h).metrics().messages_sent).collect();
    std::thread::sleep(Duration::from_millis(300));
    for h in 1..=3 {
        let m = c.host(h).metrics();
        assert_eq!(m.group_ticks, ticks[h as usize - 1], "no ticks while quiesced");
        assert_eq!(m.messages_sent, sent[h as usize - 1], "no heartbeats while quiesced");
    }
    // A proposal through a follower wakes the group; it commits and the
    // group quiesces again.
    let g = 42;
    let follower = leaders[&g] % 3 + 1;
    assert_eq!(c.host(follower).propose(g, b"incr w", T).unwrap(), "1");
    assert!((1..=3).map(|h| c.host(h).metrics().wakeups).sum::<u64>() >= 2);
    assert_eq!(c.host(leaders[&g]).read(g, b"w", T).unwrap(), "1");
    c.wait_until("quiesced again", || (1..=3).all(|h| c.host(h).metrics().active_groups == 0));

    // Host 1 dies while everything is quiesced. Nothing ticks, so nothing
    // would notice; once told, the others wake the groups it led and
    // elect new leaders.
    let led_by_1: Vec<u64> = leaders.iter().filter(|(_, l)| **l == 1).map(|(g, _)| *g).collect();
    assert!(!led_by_1.is_empty());
    let mut c = c;
    c.stop_host(1);
    let woke: usize = [2, 3].iter().map(|h| c.host(*h).report_host_down(1)).sum();
    assert_eq!(woke, 2 * led_by_1.len());
    c.wait_until("new leaders", || {
        led_by_1.iter().all(|g| [2, 3].iter().all(|h| matches!(c.host(*h).group_info(*g).unwrap().leader, 2 | 3)))
    });
    for g in &led_by_1 {
        assert_eq!(c.host(2).propose(*g, b"incr w", T).unwrap(), if *g == 42 { "2" } else { "1" });
    }
}
