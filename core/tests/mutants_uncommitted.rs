//! Tests written for cargo-mutants (issue 24) on `core/src/raft.rs`: the
//! leader's bound on uncommitted proposal bytes (etcd
//! MaxUncommittedEntriesSize), found unchecked by a sampled campaign.
#![cfg(feature = "rafttest")]

use bytes::Bytes;
use polyraft::rafttest::cluster::{test_config, Cluster};
use polyraft::{Config, Error};

/// While nothing commits, proposals are accepted until their payload bytes
/// would exceed the limit; the first one is always accepted (an empty tail
/// admits any proposal), and once entries commit there is room again.
#[test]
fn uncommitted_bytes_bound_proposals() {
    let cfg = Config {
        max_uncommitted_entries_size: 30,
        ..test_config()
    };
    let mut c = Cluster::new(3, cfg).unwrap();
    assert!(c.elect(1).unwrap());
    c.stabilize().unwrap();
    let ten = Bytes::from_static(b"0123456789");
    // Followers are cut off: nothing commits.
    for _ in 0..3 {
        c.node(1).raw.propose(ten.clone()).unwrap();
    }
    assert!(
        matches!(
            c.node(1).raw.propose(ten.clone()),
            Err(Error::ProposalDropped)
        ),
        "a fourth 10-byte proposal exceeds the 30-byte bound"
    );
    // An oversized first proposal is admitted when nothing is uncommitted.
    let mut d = Cluster::new(
        3,
        Config {
            max_uncommitted_entries_size: 5,
            ..test_config()
        },
    )
    .unwrap();
    assert!(d.elect(1).unwrap());
    d.stabilize().unwrap();
    d.node(1).raw.propose(ten.clone()).unwrap();
    assert!(matches!(
        d.node(1).raw.propose(ten.clone()),
        Err(Error::ProposalDropped)
    ));
    // Committing frees the budget.
    d.stabilize().unwrap();
    d.node(1).raw.propose(ten).unwrap();
}
