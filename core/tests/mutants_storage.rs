//! Tests written for cargo-mutants (issue 24) on `core/src/storage.rs`:
//! MemoryStorage's accessors, checked against what was stored.

use polyraft::raftpb::HardState;
use polyraft::{MemoryStorage, Storage};

/// The HardState saved is the one read back, directly and as the initial
/// state a node starts from.
#[test]
fn the_saved_hard_state_is_read_back() {
    let s = MemoryStorage::new();
    assert_eq!(s.hard_state(), HardState::default());
    let hs = HardState { term: 3, vote: 2, commit: 1 };
    s.set_hard_state(hs);
    assert_eq!(s.hard_state(), hs);
    assert_eq!(s.initial_state().unwrap().0, hs);
}
