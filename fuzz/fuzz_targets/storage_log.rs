//! Random append / compact / snapshot / apply-snapshot sequences on a
//! MemoryStorage, read back through a RaftLog: every operation either
//! succeeds or errors, and the storage's invariants hold after each.
#![no_main]

use std::sync::Arc;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use polyraft::log::RaftLog;
use polyraft::logger::NoopLogger;
use polyraft::raftpb::{ConfState, Entry, Snapshot, SnapshotMetadata};
use polyraft::{MemoryStorage, Storage};

fuzz_target!(|data: &[u8]| {
    let s = MemoryStorage::new();
    for op in data.chunks(3) {
        let (kind, a, b) = (op[0] % 5, *op.get(1).unwrap_or(&0) as u64, *op.get(2).unwrap_or(&0) as u64);
        let last = s.last_index().unwrap();
        let res = match kind {
            0 => {
                // Append b entries from index a (may overlap, gap or lag).
                let ents: Vec<Entry> = (0..b % 8)
                    .map(|i| Entry { index: a + i, term: 1 + (a + i) / 4, data: Bytes::from_static(b"x"), ..Default::default() })
                    .collect();
                s.append(&ents)
            }
            1 => s.compact(a),
            2 => s.create_snapshot(a, Some(ConfState { voters: vec![1], ..Default::default() }), Bytes::new()).map(|_| ()),
            3 => s.apply_snapshot(Snapshot {
                data: Bytes::new(),
                metadata: Some(SnapshotMetadata { index: a, term: b, conf_state: None }),
            }),
            _ => s.entries(a, b, a * b).map(|_| ()),
        };
        let _ = res;
        let (first, last_now) = (s.first_index().unwrap(), s.last_index().unwrap());
        assert!(first <= last_now + 1, "first {first} last {last_now} (before {last})");
        // The term of first-1 stays readable; every stored entry reads back.
        assert!(s.term(first - 1).is_ok());
        if last_now >= first {
            let ents = s.entries(first, last_now + 1, u64::MAX).unwrap();
            assert_eq!(ents.len() as u64, last_now + 1 - first);
            for (i, e) in ents.iter().enumerate() {
                assert_eq!(e.index, first + i as u64);
            }
        }
        // A raft log over the storage agrees on the bounds.
        let log = RaftLog::new_with_size(s.clone(), Arc::new(NoopLogger), u64::MAX).unwrap();
        assert_eq!((log.first_index(), log.last_index()), (first, last_now));
    }
});
