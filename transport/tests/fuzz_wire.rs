//! The fuzz loop that runs on stable in `make test`: random and mutated
//! inputs through the same entry point as the cargo-fuzz target
//! (`polyraft_transport::fuzzing::run`). FUZZ_CASES sets the number of cases
//! per property (default 2000); `make fuzz-transport-long` runs it for long.

use polyraft_transport::fuzzing::run;
use polyraft_transport::wire::{self, Frame, GroupMessage, Hello, StreamKind};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
}

/// A valid input for selector `sel`, to be mutated.
fn seed(sel: u8, groups: &[(u64, Vec<u8>)], from: u64, to: u64, kind: i32) -> Vec<u8> {
    let mut out = vec![sel];
    match sel % 4 {
        0 => {
            out.extend_from_slice(&wire::PREAMBLE);
            out.extend(wire::encode_record(&Hello { from_host: from, to_host: to, cluster_id: 7, kind }));
        }
        _ => {
            let frame = Frame {
                messages: groups.iter().map(|(g, m)| GroupMessage { group: *g, message: m.clone().into() }).collect(),
            };
            out.extend(wire::encode_record(&frame));
            out.extend(wire::encode_record(&frame));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        run(&data);
    }

    #[test]
    fn mutated_valid_inputs(
        sel in 0u8..4,
        groups in proptest::collection::vec((any::<u64>(), proptest::collection::vec(any::<u8>(), 1..64)), 1..8),
        from in 0u64..5, to in 0u64..5, kind in -1i32..4,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(), truncate in any::<bool>(),
    ) {
        let mut data = seed(sel, &groups, from, to, kind);
        let clean = data.clone();
        run(&clean);
        for (i, b) in flips {
            let n = data.len();
            data[1 + i.index(n - 1)] ^= b;
        }
        if truncate {
            data.truncate(1 + cut.index(data.len() - 1));
        }
        run(&data);
    }

    #[test]
    fn valid_handshakes_are_accepted_iff_the_policy_allows(from in 0u64..5, to in 0u64..5, kind in 0i32..4) {
        let mut data = wire::PREAMBLE.to_vec();
        data.extend(wire::encode_record(&Hello { from_host: from, to_host: to, cluster_id: 7, kind }));
        let policy = wire::HelloPolicy { local_host: 2, cluster_id: 7 };
        let ok = wire::decode_handshake(&data, &policy).is_ok();
        let allowed = from != 0 && from != 2 && to == 2
            && (kind == StreamKind::Frames as i32 || kind == StreamKind::Snapshot as i32);
        prop_assert_eq!(ok, allowed);
    }
}
