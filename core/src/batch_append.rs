//! Batched appends (beyond etcd; raft-rs's `batch_append`): a leader that
//! sends several appends to one peer before the application collects a
//! Ready (one per proposal, say) extends the MsgApp already queued for the
//! peer instead, so the peer gets one message, one storage write and one
//! ack.
//!
//! A merge is only ever an extension: the queued MsgApp keeps its previous
//! entry (index, log term) and gains entries that directly follow its last
//! one, so the follower's consistency check and the Log Matching argument
//! are exactly those of the unmerged messages. Its commit index becomes the
//! newer one (the leader's commit only grows within a term). The merged
//! entries stay within `max_size_per_msg` (etcd's encoded entry sizes),
//! except that, as etcd's limitSize, a message never holds less than one
//! entry.

use crate::raftpb::{Entry, Message, MessageType};

/// The position in `msgs` of the MsgApp that entries following
/// `(prev_index, prev_term)` may join: the latest message queued for `to`,
/// when it is a MsgApp of `term` whose last entry (or, without entries,
/// whose previous entry) is `(prev_index, prev_term)`. Anything queued for
/// the peer after a MsgApp (a snapshot, a heartbeat) keeps its place after
/// the entries it may depend on, so only the latest message qualifies.
pub(crate) fn queued_append(msgs: &[Message], to: u64, term: u64, prev_index: u64, prev_term: u64) -> Option<usize> {
    let i = msgs.iter().rposition(|m| m.to == to)?;
    let m = &msgs[i];
    if m.r#type != MessageType::MsgApp as i32 || m.term != term {
        return None;
    }
    let last = m.entries.last().map_or((m.index, m.log_term), |e| (e.index, e.term));
    (last == (prev_index, prev_term)).then_some(i)
}

/// The encoded size of the entries of queued MsgApps, remembered from the
/// last merge into each, so that extending a message of k entries does not
/// size all k again. A record names the peer and the message's first and
/// last index: within one leader term the entries between two indexes never
/// change, so a match is exact (cleared when the term changes).
#[derive(Debug, Default)]
pub(crate) struct QueuedSizes {
    sizes: Vec<QueuedSize>,
}

#[derive(Debug, Clone, Copy)]
struct QueuedSize {
    to: u64,
    first: u64,
    last: u64,
    size: u64,
}

impl QueuedSizes {
    /// Encoded size of `ents`, the entries of a MsgApp queued for `to`.
    pub(crate) fn size_of(&self, to: u64, ents: &[Entry]) -> u64 {
        let (Some(first), Some(last)) = (ents.first(), ents.last()) else { return 0 };
        match self.sizes.iter().find(|s| s.to == to) {
            Some(s) if (s.first, s.last) == (first.index, last.index) => s.size,
            _ => crate::util::ents_size(ents),
        }
    }

    /// Remembers that the MsgApp queued for `to`, now holding `ents`,
    /// encodes to `size` bytes.
    pub(crate) fn record(&mut self, to: u64, ents: &[Entry], size: u64) {
        let (Some(first), Some(last)) = (ents.first(), ents.last()) else { return };
        let rec = QueuedSize { to, first: first.index, last: last.index, size };
        match self.sizes.iter_mut().find(|s| s.to == to) {
            Some(s) => *s = rec,
            None => self.sizes.push(rec),
        }
    }

    /// Forgets everything (a new term).
    pub(crate) fn clear(&mut self) {
        self.sizes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn ent(index: u64, term: u64, len: usize) -> Entry {
        Entry { index, term, data: Bytes::from(vec![b'x'; len]), ..Default::default() }
    }

    fn app(to: u64, index: u64, log_term: u64, ents: Vec<Entry>) -> Message {
        Message {
            to,
            term: 1,
            r#type: MessageType::MsgApp as i32,
            index,
            log_term,
            entries: ents,
            ..Default::default()
        }
    }

    #[test]
    fn the_latest_contiguous_append_to_the_peer_is_found() {
        let msgs = vec![app(2, 5, 1, vec![ent(6, 1, 3)]), app(3, 5, 1, vec![ent(6, 1, 3)])];
        assert_eq!(queued_append(&msgs, 2, 1, 6, 1), Some(0));
        assert_eq!(queued_append(&msgs, 3, 1, 6, 1), Some(1));
        assert_eq!(queued_append(&msgs, 4, 1, 6, 1), None);
    }

    #[test]
    fn a_gap_a_log_term_or_a_message_term_mismatch_is_not_joined() {
        let msgs = vec![app(2, 5, 1, vec![ent(6, 1, 3)])];
        assert_eq!(queued_append(&msgs, 2, 1, 7, 1), None);
        assert_eq!(queued_append(&msgs, 2, 1, 6, 2), None);
        assert_eq!(queued_append(&msgs, 2, 2, 6, 1), None);
    }

    #[test]
    fn a_message_queued_after_the_append_blocks_the_merge() {
        let hb = Message { to: 2, term: 1, r#type: MessageType::MsgHeartbeat as i32, ..Default::default() };
        let msgs = vec![app(2, 5, 1, vec![ent(6, 1, 3)]), hb];
        assert_eq!(queued_append(&msgs, 2, 1, 6, 1), None);
    }

    #[test]
    fn an_empty_append_is_joined_after_its_previous_entry() {
        let msgs = vec![app(2, 5, 1, vec![])];
        assert_eq!(queued_append(&msgs, 2, 1, 5, 1), Some(0));
    }

    #[test]
    fn sizes_are_remembered_per_peer_and_range() {
        let mut q = QueuedSizes::default();
        let ents = vec![ent(6, 1, 100), ent(7, 1, 100)];
        // 2 + 1 + 1 + 1 + 1 + 100 bytes each.
        assert_eq!(q.size_of(2, &ents), 212);
        q.record(2, &ents, 999);
        assert_eq!(q.size_of(2, &ents), 999, "a recorded range is not sized again");
        assert_eq!(q.size_of(3, &ents), 212, "another peer");
        assert_eq!(q.size_of(2, &ents[..1]), 106, "another range");
        q.clear();
        assert_eq!(q.size_of(2, &ents), 212);
    }
}
