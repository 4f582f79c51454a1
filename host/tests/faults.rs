//! User code that fails: a panicking state machine stops its replica and
//! nothing else.

mod common;

use bytes::Bytes;
use common::*;
use polyraft::raftpb::Entry;
use polyraft_host::*;

/// Like the KV machine, but `boom` panics.
struct Fragile(Kv);

impl StateMachine for Fragile {
    fn apply(&mut self, entries: &[Entry]) -> Vec<Bytes> {
        assert!(entries.iter().all(|e| &e.data[..] != b"boom"), "boom");
        self.0.apply(entries)
    }
    fn snapshot(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.0.snapshot(w)
    }
    fn restore(&mut self, r: &mut dyn std::io::Read) -> std::io::Result<()> {
        self.0.restore(r)
    }
    fn lookup(&self, q: &[u8]) -> Bytes {
        self.0.lookup(q)
    }
}

#[test]
fn a_panicking_state_machine_stops_only_its_replica() {
    let c = Cluster::new(3, |_| {});
    let members: Vec<(u64, u64)> = (1..=3).map(|i| (i, i)).collect();
    for h in 1..=3 {
        c.host(h).start_replica(1, h, StartMode::Bootstrap(members.clone()), Box::new(|_, _| Box::new(Fragile(Kv::default())))).unwrap();
        c.host(h).start_replica(2, h, StartMode::Bootstrap(members.clone()), kv_factory()).unwrap();
    }
    let leaders = c.wait_leaders(1..=2, &[1, 2, 3]);
    assert_eq!(c.host(leaders[&1]).propose(1, b"set a 1", T).unwrap(), "");
    // The leader applies the entry and panics: its replica stops, and the
    // outcome is unknown to the client (the entry is committed, its result
    // never came). Followers stop too if they learned the commit in time.
    let l = leaders[&1];
    assert_eq!(c.host(l).propose(1, b"boom", T), Err(OpError::TimedOut));
    assert!(c.host(l).group_info(1).is_none(), "the leader's replica stopped");
    assert!(matches!(c.host(l).propose(1, b"set a 2", T), Err(OpError::Rejected(_))));
    // The hosts and the other group carry on.
    assert_eq!(c.host(leaders[&2]).propose(2, b"incr n", T).unwrap(), "1");
    assert_eq!(c.host(3).read(2, b"n", T).unwrap(), "1");
}
