//! A three-node cluster in one process: elect a leader, replicate a few
//! proposals, lose the leader, elect another, and show every node applied
//! the same entries in the same order.

use polyraft::raftpb::EntryType;
use polyraft::rafttest::cluster::{test_config, Cluster};

fn applied(c: &mut Cluster, id: u64) -> Vec<String> {
    c.node(id)
        .applied
        .iter()
        .filter(|e| e.r#type() == EntryType::EntryNormal && !e.data.is_empty())
        .map(|e| String::from_utf8_lossy(&e.data).into_owned())
        .collect()
}

fn main() -> Result<(), polyraft::Error> {
    let mut c = Cluster::new(3, test_config())?;
    println!("node 1 campaigns: leader = {}", c.elect(1)?);
    for p in [&b"set x=1"[..], b"set y=2", b"set x=3"] {
        c.propose(1, p)?;
    }
    c.stabilize()?;
    for id in 1..=3 {
        println!("node {id} applied {:?}", applied(&mut c, id));
    }

    // Node 1 goes silent; the others time out and elect a new leader.
    for _ in 0..30 {
        for id in 2..=3 {
            c.node(id).raw.tick();
        }
        c.stabilize_with(|m| m.from != 1 && m.to != 1)?;
    }
    let leaders: Vec<u64> = c.leaders().into_iter().filter(|&l| l != 1).collect();
    println!("after node 1 went silent, new leader: {leaders:?}");
    let l = leaders[0];
    c.propose(l, b"set z=4")?;
    c.stabilize_with(|m| m.from != 1 && m.to != 1)?;
    // Node 1 comes back and catches up.
    for _ in 0..3 {
        c.node(l).raw.tick();
        c.stabilize()?;
    }
    for id in 1..=3 {
        println!("node {id} applied {:?}", applied(&mut c, id));
    }
    let all: Vec<Vec<String>> = (1..=3).map(|id| applied(&mut c, id)).collect();
    assert!(all.iter().all(|a| a == &all[0]), "every node applied the same entries");
    println!("all three nodes agree on {} entries", all[0].len());
    Ok(())
}
