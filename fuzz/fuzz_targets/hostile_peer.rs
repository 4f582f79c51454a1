//! A running 3-node cluster fed forged, well-formed raftpb messages through
//! the peer path, interleaved with normal traffic (see
//! `polyraft::rafttest::hostile`): no node may go FATAL, no forged message
//! may start a storm, and once forging stops the cluster must elect a
//! leader that commits. The input drives both the forged messages and the
//! normal operations.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polyraft::rafttest::hostile;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = hostile::run(data) {
        panic!("{e}");
    }
});
