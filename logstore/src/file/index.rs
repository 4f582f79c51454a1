//! The file log's in-memory index: per group, the hard state, snapshot
//! metadata and, per entry, its term and where its record lies.
//!
//! Memory: an entry costs one [`Loc`] (24 bytes) until it is compacted; a
//! group costs one [`FileGroup`], its hash map slot and its snapshot's
//! member lists. Measured (`cargo run --release -p polyraft-logstore
//! --example group_commit -- --memory`, 10,000 groups): 912 bytes per idle
//! group compacted to its applied index, 3,312 bytes with a 100-entry tail
//! kept for slow followers. The 16 KiB budget per idle group thus allows a
//! tail of about 600 entries.

use std::collections::HashMap;

use crate::file::format::Rec;
use crate::group::{GroupLog, Slot};

/// "No record": the group has none of that kind in the log.
pub(crate) const NO_SEG: u32 = u32::MAX;

/// Where one entry lives: the record holding it (segment, offset, length)
/// and its term (so `term` never reads the disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub(crate) term: u64,
    pub(crate) seg: u32,
    pub(crate) off: u32,
    pub(crate) len: u32,
}

impl Slot for Loc {
    fn term(&self) -> u64 {
        self.term
    }
}

/// One group in the index. The `*_seg` fields name the segment of the
/// record that set the hard state, the snapshot metadata and the offset:
/// with the first entry's segment, they say which segments still hold the
/// group's live state (what purge must rewrite before deleting them).
#[derive(Debug, Clone)]
pub(crate) struct FileGroup {
    pub(crate) log: GroupLog<Loc>,
    pub(crate) hs_seg: u32,
    pub(crate) snap_seg: u32,
    pub(crate) base_seg: u32,
    /// Replay met entries after a gap (a segment deleted by an interrupted
    /// purge); a later checkpoint, snapshot or compaction must repair it.
    pub(crate) broken: bool,
}

impl Default for FileGroup {
    fn default() -> Self {
        FileGroup { log: GroupLog::default(), hs_seg: NO_SEG, snap_seg: NO_SEG, base_seg: NO_SEG, broken: false }
    }
}

impl FileGroup {
    /// The oldest segment holding live state of this group.
    pub(crate) fn min_seg(&self) -> u32 {
        let first = self.log.slots().next().map_or(NO_SEG, |(_, l)| l.seg);
        self.hs_seg.min(self.snap_seg).min(self.base_seg).min(first)
    }
}

/// All groups of the log.
pub(crate) type Groups = HashMap<u64, FileGroup>;

/// Applies one record, found in segment `seg` at `off` (`len` bytes), to
/// the index. In `replay`, entries after a gap start the group's log anew
/// and mark it broken instead of being refused (the write path validated
/// them already).
pub(crate) fn apply(groups: &mut Groups, group: u64, rec: &Rec, seg: u32, off: u32, len: u32) {
    let locs = |terms: &[u64]| terms.iter().map(move |&term| Loc { term, seg, off, len }).collect::<Vec<_>>();
    match rec {
        Rec::Entries { first, terms } => {
            let g = groups.entry(group).or_default();
            // After a gap, or below the placeholder offset a gap left (the
            // entries before it went with deleted segments), the group's
            // log starts anew here, its base term unknown until a later
            // checkpoint, snapshot or compaction mark gives it.
            if *first > g.log.last_index() + 1 || (g.broken && *first <= g.log.offset()) {
                g.log.set_offset(first - 1, 0);
                g.log.clear();
                g.base_seg = seg;
                g.broken = true;
            }
            g.log.append(*first, locs(terms));
        }
        Rec::HardState(hs) => {
            let g = groups.entry(group).or_default();
            g.log.hard_state = *hs;
            g.hs_seg = seg;
        }
        Rec::Snapshot { meta, reset } => {
            let g = groups.entry(group).or_default();
            // A held snapshot (not `reset`) leaves the log alone.
            if *reset {
                g.log.set_offset(meta.index, meta.term);
                g.log.clear();
                g.base_seg = seg;
                g.broken = false;
            }
            g.log.snapshot = meta.clone();
            g.snap_seg = seg;
        }
        Rec::Compact { index, term } => {
            // The group exists unless purge deleted the segments of its
            // older records: then this mark is where its log starts.
            let g = groups.entry(group).or_default();
            // A broken group's offset came from a gap, its term unknown: a
            // mark at that very index supplies it.
            if *index > g.log.offset() || (g.broken && *index == g.log.offset()) {
                g.log.set_offset(*index, *term);
                g.base_seg = seg;
                g.broken = false;
            }
        }
        Rec::Remove => {
            groups.remove(&group);
        }
        Rec::Checkpoint { offset, offset_term, hs, snap, first, terms } => {
            let mut g = FileGroup { hs_seg: seg, snap_seg: seg, base_seg: seg, ..FileGroup::default() };
            g.log.set_offset(*offset, *offset_term);
            g.log.hard_state = *hs;
            g.log.snapshot = snap.clone();
            g.log.append(*first, locs(terms));
            groups.insert(group, g);
        }
    }
}
