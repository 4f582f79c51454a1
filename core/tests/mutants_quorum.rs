//! Tests written for cargo-mutants (issue 24) on `core/src/quorum`: the
//! membership queries of a (joint) voter configuration, which the
//! conformance scripts do not reach directly.

use polyraft::quorum::{JointConfig, MajorityConfig};

fn joint(incoming: &[u64], outgoing: &[u64]) -> JointConfig {
    JointConfig {
        incoming: MajorityConfig::new(incoming.iter().copied()),
        outgoing: MajorityConfig::new(outgoing.iter().copied()),
    }
}

/// A voter of either half is a voter of the joint configuration; an id in
/// neither is not.
#[test]
fn joint_config_contains_the_voters_of_both_halves() {
    let j = joint(&[1, 2, 3], &[3, 4]);
    for id in [1, 2, 3, 4] {
        assert!(j.contains(id), "{id} votes in {j:?}");
    }
    for id in [0, 5, u64::MAX] {
        assert!(!j.contains(id), "{id} does not vote in {j:?}");
    }
    // Outside a joint change, only the incoming half counts.
    let simple = joint(&[7], &[]);
    assert!(simple.contains(7));
    assert!(!simple.contains(1));
    assert!(!JointConfig::default().contains(1));
    assert_eq!(j.ids().into_iter().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
}

#[test]
fn majority_config_size_and_membership() {
    let m = MajorityConfig::new([5, 1, 3, 1]);
    assert_eq!(m.len(), 3);
    assert!(!m.is_empty());
    assert!(m.contains(3) && !m.contains(2));
    assert_eq!(m.slice(), vec![1, 3, 5]);
    let e = MajorityConfig::default();
    assert_eq!(e.len(), 0);
    assert!(e.is_empty());
    let mut m = m;
    m.insert(2);
    assert_eq!(m.len(), 4);
    m.remove(5);
    m.remove(9);
    assert_eq!(m.slice(), vec![1, 2, 3]);
    m.clear();
    assert!(m.is_empty());
}

/// Collecting ids builds the same configuration as `new`.
#[test]
fn majority_config_from_an_iterator() {
    let m: MajorityConfig = [3u64, 1, 2].into_iter().collect();
    assert_eq!(m, MajorityConfig::new([1, 2, 3]));
    assert_eq!(m.len(), 3);
}

/// The commit index of configurations of every size from 1 to 11 voters
/// (those above 7 take another code path) is the largest index that a
/// majority acknowledged, checked against counting.
#[test]
fn committed_index_of_small_and_large_configurations() {
    use std::collections::BTreeMap;
    for n in 1..=11u64 {
        let m = MajorityConfig::new(1..=n);
        // Voter i acknowledged index 10 * i; voter 1 acknowledged nothing.
        let acks: BTreeMap<u64, u64> = (2..=n).map(|i| (i, 10 * i)).collect();
        let counted = (0..=10 * n)
            .rev()
            .find(|&idx| {
                (1..=n)
                    .filter(|i| acks.get(i).copied().unwrap_or(0) >= idx)
                    .count() as u64
                    > n / 2
            })
            .unwrap();
        assert_eq!(m.committed_index(&acks), counted, "{n} voters");
    }
}
