//! Election priorities on the host (`HostConfig::election_priority`, priority
//! elections beyond etcd): among replicas whose logs are equally up to date
//! a voter refuses a candidate of lower priority than its own, so the host
//! of lowest priority never wins an election against equal logs, while a
//! leadership transfer, which names its target, still reaches it.

mod common;

use common::*;

const GROUPS: u64 = 12;

#[test]
fn the_lowest_priority_host_never_wins_an_election_between_equal_logs() {
    // Priorities 1, 2, 3 for hosts 1, 2, 3.
    let c = Cluster::new(3, |cfg| cfg.election_priority = cfg.host_id as i64);
    c.bootstrap(1..=GROUPS);
    let leaders = c.wait_leaders(1..=GROUPS, &[1, 2, 3]);
    // Every replica starts from the same bootstrap log: host 1 is refused
    // by both others, whoever times out first.
    for (g, l) in &leaders {
        assert_ne!(*l, 1, "group {g} elected the replica of lowest priority");
    }
    // A transfer names its target and is exempt from priorities.
    let g = 1;
    let l = leaders[&g];
    c.host(l).transfer_leader(g, 1, T).unwrap();
    c.wait_until("host 1 leads group 1 after a transfer", || c.host(1).group_info(g).unwrap().is_leader);
    c.host(1).propose(g, b"set k v", T).unwrap();
}
