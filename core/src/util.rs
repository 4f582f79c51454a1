//! Small helpers shared by the log and storage (etcd's util.go).

use crate::raftpb::{entry_size, Entry};

/// The most an entry's encoding adds to its payload: three field tags, type,
/// term and index varints (at most 10 bytes each), the data tag and its
/// length varint.
pub(crate) const MAX_ENTRY_OVERHEAD: u64 = 3 + 10 + 10 + 10 + 1 + 10;

/// Total encoded size of `ents`, as etcd's entsSize.
pub fn ents_size(ents: &[Entry]) -> u64 {
    ents.iter().map(entry_size).sum()
}

/// Total payload size of `ents` (data bytes only), used for the leader's
/// uncommitted-size accounting, as etcd's payloadsSize.
pub fn payloads_size(ents: &[Entry]) -> u64 {
    ents.iter().map(|e| e.data.len() as u64).sum()
}

/// The longest prefix of `ents` whose encoded size stays within `max_size`,
/// but never less than one entry (etcd's limitSize): progress must be
/// possible even when a single entry exceeds the limit.
pub fn limit_size(mut ents: Vec<Entry>, max_size: u64) -> Vec<Entry> {
    let n = prefix_within(&ents, max_size);
    ents.truncate(n);
    ents
}

/// Length of the prefix [`limit_size`] keeps.
pub fn prefix_within(ents: &[Entry], max_size: u64) -> usize {
    if ents.is_empty() {
        return 0;
    }
    // Fast path: no entry encodes to more than its payload plus
    // MAX_ENTRY_OVERHEAD bytes, so when that bound fits, every entry does
    // (and summing payload lengths is far cheaper than exact sizes).
    let payloads: u64 = ents.iter().map(|e| e.data.len() as u64).sum();
    if payloads.saturating_add(ents.len() as u64 * MAX_ENTRY_OVERHEAD) <= max_size {
        return ents.len();
    }
    let mut size = entry_size(&ents[0]);
    let mut n = 1;
    while n < ents.len() {
        size = size.saturating_add(entry_size(&ents[n]));
        if size > max_size {
            break;
        }
        n += 1;
    }
    n
}
