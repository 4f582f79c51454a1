//! The hostile-peer property: a running 3-node cluster fed random
//! well-formed raftpb messages through `RawNode::step_peer`, interleaved
//! with normal traffic, never has a node go FATAL, never storms, and elects
//! a leader that commits once the forging stops (see
//! `polyraft::rafttest::hostile`). `POLYRAFT_HOSTILE_CASES` sets the number
//! of cases (default 200: seconds); `make fuzz-hostile` runs it long.

use polyraft::rafttest::hostile;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("POLYRAFT_HOSTILE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hostile_peers_cannot_stop_the_cluster(input in proptest::collection::vec(any::<u8>(), 0..3000)) {
        if let Err(e) = hostile::run(&input) {
            prop_assert!(false, "{}", e);
        }
    }
}
