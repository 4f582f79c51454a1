//! Batched appends (beyond etcd; raft-rs's `batch_append`): a leader that
//! sends several appends to one peer before the application collects a
//! Ready (one per proposal, say) merges them into the MsgApp already
//! queued, so the peer gets one message, one storage write and one ack.
//!
//! A merge is only ever an extension: the queued MsgApp keeps its previous
//! entry (index, log term) and gains entries that directly follow its last
//! one, so the follower's consistency check and the Log Matching argument
//! are exactly those of the unmerged messages. Its commit index becomes the
//! newer one (the leader's commit only grows within a term).

use crate::raftpb::{Entry, Message, MessageType};
use crate::util::{ents_size, MAX_ENTRY_OVERHEAD};

/// What a merge did to the queued append: the progress accounting the
/// caller must do for the entries that joined it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Merged {
    /// The entries joined a MsgApp that already carried entries: they are
    /// part of its in-flight message.
    IntoEntries,
    /// The entries joined an empty MsgApp (a probe or a commit carrier):
    /// the message now carries entries for the first time.
    IntoEmpty,
}

/// Tries to add the append `(prev_index, prev_term, ents, commit)` for peer
/// `to` to the last message queued for `to` in `msgs`. Succeeds only when
/// that message is a MsgApp of `term` whose last entry (or, when it has none, whose
/// previous entry) is `(prev_index, prev_term)`, and the merged entries
/// stay within `max_size` bytes (etcd's encoded entry sizes). On success
/// `ents` is left empty; otherwise it is untouched and the caller sends its
/// own message.
pub(crate) fn merge_into_queued(
    msgs: &mut [Message],
    to: u64,
    term: u64,
    prev_index: u64,
    prev_term: u64,
    ents: &mut Vec<Entry>,
    commit: u64,
    max_size: u64,
) -> Option<Merged> {
    // Only the latest message to the peer may be extended: anything sent to
    // it after that MsgApp (a snapshot, a heartbeat) keeps its place after
    // the entries it may depend on.
    let queued = msgs.iter_mut().rev().find(|m| m.to == to)?;
    if queued.r#type != MessageType::MsgApp as i32 || queued.term != term {
        return None;
    }
    let (last_index, last_term) = match queued.entries.last() {
        Some(e) => (e.index, e.term),
        None => (queued.index, queued.log_term),
    };
    if (last_index, last_term) != (prev_index, prev_term) {
        return None;
    }
    if !ents.is_empty() && !queued.entries.is_empty() && !fits(&queued.entries, ents, max_size) {
        return None;
    }
    let merged = if queued.entries.is_empty() { Merged::IntoEmpty } else { Merged::IntoEntries };
    queued.entries.append(ents);
    queued.commit = queued.commit.max(commit);
    Some(merged)
}

/// Whether `a` followed by `b` encodes within `max_size`: first with a cheap
/// upper bound on the encoded sizes (payload lengths plus the most an
/// entry's framing can take), exactly only when the bound does not fit.
fn fits(a: &[Entry], b: &[Entry], max_size: u64) -> bool {
    if max_size == u64::MAX {
        return true;
    }
    let count = (a.len() + b.len()) as u64;
    let payloads: u64 = a.iter().chain(b).map(|e| e.data.len() as u64).sum();
    if payloads.saturating_add(count.saturating_mul(MAX_ENTRY_OVERHEAD)) <= max_size {
        return true;
    }
    ents_size(a).saturating_add(ents_size(b)) <= max_size
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn ent(index: u64, term: u64, len: usize) -> Entry {
        Entry { index, term, data: Bytes::from(vec![b'x'; len]), ..Default::default() }
    }

    fn app(to: u64, index: u64, log_term: u64, ents: Vec<Entry>, commit: u64) -> Message {
        Message {
            to,
            term: 1,
            r#type: MessageType::MsgApp as i32,
            index,
            log_term,
            entries: ents,
            commit,
            ..Default::default()
        }
    }

    #[test]
    fn contiguous_appends_merge_and_take_the_newer_commit() {
        let mut msgs = vec![app(2, 5, 1, vec![ent(6, 1, 3)], 4), app(3, 5, 1, vec![ent(6, 1, 3)], 4)];
        let mut more = vec![ent(7, 1, 3), ent(8, 1, 3)];
        assert_eq!(merge_into_queued(&mut msgs, 2, 1, 6, 1, &mut more, 6, 1 << 20), Some(Merged::IntoEntries));
        assert!(more.is_empty());
        let idx: Vec<u64> = msgs[0].entries.iter().map(|e| e.index).collect();
        assert_eq!(idx, vec![6, 7, 8]);
        assert_eq!((msgs[0].index, msgs[0].log_term, msgs[0].commit), (5, 1, 6));
        // The other peer's message is untouched.
        assert_eq!(msgs[1].entries.len(), 1);
    }

    #[test]
    fn a_gap_or_a_term_mismatch_does_not_merge() {
        let mut msgs = vec![app(2, 5, 1, vec![ent(6, 1, 3)], 4)];
        let mut gap = vec![ent(8, 1, 3)];
        assert_eq!(merge_into_queued(&mut msgs, 2, 1, 7, 1, &mut gap, 4, 1 << 20), None);
        assert_eq!(gap.len(), 1);
        let mut other_term = vec![ent(7, 2, 3)];
        assert_eq!(merge_into_queued(&mut msgs, 2, 1, 6, 2, &mut other_term, 4, 1 << 20), None);
        assert_eq!(msgs[0].entries.len(), 1);
    }

    #[test]
    fn only_the_latest_message_to_the_peer_is_extended() {
        let hb = Message { to: 2, term: 1, r#type: MessageType::MsgHeartbeat as i32, ..Default::default() };
        let mut msgs = vec![app(2, 5, 1, vec![ent(6, 1, 3)], 4), hb];
        let mut more = vec![ent(7, 1, 3)];
        assert_eq!(merge_into_queued(&mut msgs, 2, 1, 6, 1, &mut more, 4, 1 << 20), None);
        assert_eq!(more.len(), 1);
    }

    #[test]
    fn an_empty_append_gains_entries() {
        let mut msgs = vec![app(2, 5, 1, vec![], 5)];
        let mut more = vec![ent(6, 1, 3)];
        assert_eq!(merge_into_queued(&mut msgs, 2, 1, 5, 1, &mut more, 5, 1 << 20), Some(Merged::IntoEmpty));
        assert_eq!(msgs[0].entries.len(), 1);
    }

    #[test]
    fn the_size_limit_holds() {
        // Each entry encodes to 2 + 1 + 1 + 1 + 1 + 100 = 106 bytes.
        let mut msgs = vec![app(2, 5, 1, vec![ent(6, 1, 100)], 4)];
        let mut more = vec![ent(7, 1, 100)];
        assert_eq!(merge_into_queued(&mut msgs, 2, 1, 6, 1, &mut more, 4, 211), None);
        assert_eq!(merge_into_queued(&mut msgs, 2, 1, 6, 1, &mut more, 4, 212), Some(Merged::IntoEntries));
        assert_eq!(msgs[0].entries.len(), 2);
    }
}
