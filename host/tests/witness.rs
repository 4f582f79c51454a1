//! Witness replicas on the host (docs/witness.md): a witness joins a group
//! whose log is compacted (it is sent a snapshot without data), keeps no
//! state machine (proposals and reads on it are refused), counts toward the
//! commit quorum while a data replica is down, never leads, and leaves.

mod common;

use bytes::Bytes;
use common::*;
use polyraft_host::*;

const GROUPS: u64 = 5;

#[test]
fn witness_joins_commits_in_the_quorum_and_leaves() {
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
    let info = |c: &Cluster, h: u64, g: u64| c.host(h).group_info(g).unwrap();

    // Host 4 runs a witness of every group; the log is compacted, so the
    // witness is caught up by a (metadata-only) snapshot.
    c.start_host(4);
    for g in 1..=GROUPS {
        let l = leaders[&g];
        change_until(|| c.host(l).add_witness(g, 4, 4, T), || info(&c, l, g).witnesses.contains(&4));
        c.host(4).start_witness(g, 4, StartMode::Join).unwrap();
    }
    c.wait_until("witnesses caught up", || (1..=GROUPS).all(|g| info(&c, 4, g).applied >= 31));
    assert!(c.host(4).metrics().snapshots_installed >= GROUPS, "witnesses restored metadata-only snapshots");
    for g in 1..=GROUPS {
        let i = info(&c, 4, g);
        assert!(i.is_witness && i.witnesses == vec![4] && i.voters.contains(&4), "group {g}: {i:?}");
        let refused = |r: OpResult<Bytes>| matches!(r, Err(OpError::Rejected(m)) if m.contains("witness"));
        assert!(refused(c.host(4).propose(g, b"set x 1", T)), "a witness refuses proposals");
        assert!(refused(c.host(4).read(g, b"k1", T)), "a witness refuses reads");
        assert!(refused(c.host(4).stale_read(g, b"k1")), "a witness refuses stale reads");
        // A data replica cannot turn into a witness.
        let l = leaders[&g];
        assert!(c.host(l).add_witness(g, 2, 2, T).is_err());
    }

    // Replace data replica 3: the groups are {1, 2} data + witness 4. With
    // witnesses a leader may not remove itself: a leader 3 hands over first.
    for g in 1..=GROUPS {
        let mut l = c.wait_leaders(g..=g, &[1, 2, 4])[&g];
        if l == 3 {
            assert!(c.host(3).remove_replica(g, 3, T).is_err(), "a leader removed itself with witnesses present");
            c.host(3).transfer_leader(g, 1, T).unwrap();
            l = 1;
        }
        change_until(|| c.host(l).remove_replica(g, 3, T), || !info(&c, l, g).voters.contains(&3));
    }
    c.wait_until("replicas removed from host 3", || c.host(3).metrics().groups == 0);
    c.stop_host(3);

    // Host 2 goes down: replica 1 commits with the witness as the rest of
    // its quorum. A leader transfer to the witness is refused.
    let leaders = c.wait_leaders(1..=GROUPS, &[1, 2, 4]);
    for g in 1..=GROUPS {
        assert_ne!(leaders[&g], 4, "a witness never leads");
        if leaders[&g] != 1 {
            c.host(2).transfer_leader(g, 1, T).unwrap();
        }
    }
    c.wait_until("replica 1 leads", || (1..=GROUPS).all(|g| info(&c, 1, g).is_leader));
    for g in 1..=GROUPS {
        assert!(c.host(1).transfer_leader(g, 4, std::time::Duration::from_millis(300)).is_err(), "no transfer to a witness");
    }
    c.stop_host(2);
    for g in 1..=GROUPS {
        assert_eq!(c.host(1).propose(g, b"set during 2-down", T).unwrap(), "", "group {g}");
        assert_eq!(c.host(1).read(g, b"during", T).unwrap(), "2-down");
        assert!(!info(&c, 4, g).is_leader);
    }

    // Host 2 returns and catches up; then the witness leaves.
    c.start_host(2);
    for g in 1..=GROUPS {
        c.host(2).start_replica(g, 2, StartMode::Join, kv_factory()).unwrap();
    }
    c.wait_until("replica 2 caught up", || (1..=GROUPS).all(|g| c.host(2).stale_read(g, b"during").unwrap() == "2-down"));
    for g in 1..=GROUPS {
        change_until(|| c.host(1).remove_replica(g, 4, T), || !info(&c, 1, g).voters.contains(&4));
        let i = info(&c, 1, g);
        assert_eq!((i.voters.clone(), i.witnesses.clone()), (vec![1, 2], vec![]), "group {g}");
    }
    c.wait_until("witnesses removed from host 4", || c.host(4).metrics().groups == 0);
}
