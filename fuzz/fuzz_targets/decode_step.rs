//! Arbitrary bytes decoded as raftpb values must never panic, and a decoded
//! message stepped into a node in any role must never panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polyraft::raftpb::{decode, ConfChange, ConfChangeV2, Entry, HardState, Message, Snapshot};
use polyraft::rafttest::cluster::{drain, node_in_role};

fuzz_target!(|data: &[u8]| {
    let Some((&role, rest)) = data.split_first() else { return };
    let _ = decode::<Entry>(rest);
    let _ = decode::<HardState>(rest);
    let _ = decode::<Snapshot>(rest);
    let _ = decode::<ConfChange>(rest);
    let _ = decode::<ConfChangeV2>(rest);
    let Ok(mut m) = decode::<Message>(rest) else { return };
    m.to = 1;
    let (mut rn, s) = node_in_role(role % 4).expect("node starts");
    let _ = rn.step(m);
    drain(&mut rn, &s);
    rn.tick();
    let _ = rn.status().to_json();
});
