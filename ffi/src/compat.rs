//! Node calls that etcd's RawNode offers beyond the basic cycle, for
//! bindings that mirror etcd's API in full: TickQuiesced, and the whole
//! Status as typed values (the configuration and every progress field).

use polyraft::tracker::ProgressState;

use crate::node::{polyraft_node, with_node};
use crate::types::polyraft_conf_state;
use crate::*;

/// Advances the node's election clock by one tick and does nothing else:
/// no heartbeat, no election (etcd's RawNode.TickQuiesced, for groups the
/// application quiesced; use with care).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_POISONED.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_tick_quiesced(node: *mut polyraft_node) -> polyraft_result {
    with_node(node, |nd| {
        nd.raw.tick_quiesced();
        Ok(())
    })
}

/// A peer's replication state as the leader tracks it (etcd's
/// tracker.StateType), in polyraft_progress.state.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum polyraft_progress_state {
    /// The leader probes: one append at a time until it finds the match.
    POLYRAFT_PROGRESS_PROBE = 0,
    /// The leader streams appends optimistically.
    POLYRAFT_PROGRESS_REPLICATE = 1,
    /// The follower needs a snapshot; appends wait for it.
    POLYRAFT_PROGRESS_SNAPSHOT = 2,
}

/// The progress of one tracked peer (etcd's tracker.Progress), by value.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct polyraft_progress {
    /// The peer's id.
    pub id: u64,
    /// The highest index known to be replicated on the peer (etcd's Match).
    pub match_index: u64,
    /// The next index to send.
    pub next: u64,
    /// The highest commit index sent to the peer.
    pub sent_commit: u64,
    /// A polyraft_progress_state value.
    pub state: u32,
    /// The index of the snapshot in flight (POLYRAFT_PROGRESS_SNAPSHOT).
    pub pending_snapshot: u64,
    /// Whether the peer was heard from lately (check quorum).
    pub recent_active: bool,
    /// Whether appends to the peer are paused (flow control).
    pub msg_app_flow_paused: bool,
    /// Whether the peer is a learner.
    pub is_learner: bool,
    /// Append messages in flight to the peer.
    pub inflight: u64,
    /// Beyond etcd: whether the peer is a witness (docs/witness.md).
    pub is_witness: bool,
}

/// Copies the progress of every peer the node tracks (on any node; etcd's
/// Status keeps it on the leader only: filter by role), ordered by id, into
/// `out[0..cap)`, and writes the number of tracked peers to `*n` (call with
/// cap 0 to learn it; when `*n` > cap, only the first cap were written).
/// `out` may be NULL when cap is 0.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_POISONED.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_progress(
    node: *mut polyraft_node,
    out: *mut polyraft_progress,
    cap: usize,
    n: *mut usize,
) -> polyraft_result {
    with_node(node, |nd| {
        nn!(n);
        if cap > 0 {
            nn!(out);
        }
        let mut all = Vec::new();
        nd.raw.with_progress(|id, pr| {
            let state = match pr.state {
                ProgressState::Probe => polyraft_progress_state::POLYRAFT_PROGRESS_PROBE,
                ProgressState::Replicate => polyraft_progress_state::POLYRAFT_PROGRESS_REPLICATE,
                ProgressState::Snapshot => polyraft_progress_state::POLYRAFT_PROGRESS_SNAPSHOT,
            };
            all.push(polyraft_progress {
                id,
                match_index: pr.matched,
                next: pr.next,
                sent_commit: pr.sent_commit,
                state: state as u32,
                pending_snapshot: pr.pending_snapshot,
                recent_active: pr.recent_active,
                msg_app_flow_paused: pr.msg_app_flow_paused,
                is_learner: pr.is_learner,
                inflight: pr.inflights.count() as u64,
                is_witness: pr.is_witness,
            });
        });
        all.sort_by_key(|p| p.id);
        for (i, p) in all.iter().take(cap).enumerate() {
            *out.add(i) = *p;
        }
        *n = all.len();
        Ok(())
    })
}

/// Writes the node's active configuration (voters, outgoing voters of a
/// joint configuration, learners, learners_next, auto_leave and, beyond
/// etcd, the witnesses; ids sorted) to
/// `*out`: views owned by the node, valid until the next
/// polyraft_node_config or polyraft_node_free.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_POISONED.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_config(
    node: *mut polyraft_node,
    out: *mut polyraft_conf_state,
) -> polyraft_result {
    with_node(node, |nd| {
        nn!(out);
        let cs = nd.raw.raft().trk.conf_state();
        *out = nd.config_view(&cs);
        Ok(())
    })
}

/// Reports whether the node can go on: POLYRAFT_OK, or the failure that
/// stopped it (a failure recorded by a call that reports nothing, such as
/// polyraft_node_has_ready, which then just answers false). A node loop
/// calls it to stop at once instead of waiting for a call that fails.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_POISONED, POLYRAFT_FATAL,
/// storage codes (the storage's failure).
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_health(node: *mut polyraft_node) -> polyraft_result {
    with_node(node, |nd| nd.alive())
}

/// Whether `message_type` (a polyraft_message_type value) is local to a node
/// (MsgHup, MsgBeat, MsgStorageAppend...): never sent to or received from a
/// peer. The core's list (etcd's IsLocalMsg); unknown values are false.
#[no_mangle]
pub extern "C" fn polyraft_is_local_msg(message_type: u32) -> bool {
    i32::try_from(message_type)
        .ok()
        .and_then(|t| polyraft::raftpb::MessageType::try_from(t).ok())
        .is_some_and(polyraft::raftpb::is_local_msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{
        polyraft_config, polyraft_log_level, polyraft_node_bootstrap, polyraft_node_campaign, polyraft_node_free,
        polyraft_node_new_memory, polyraft_node_propose,
    };
    use crate::peek::*;
    use crate::reads::*;
    use crate::ready::{polyraft_ready, polyraft_ready_entries};
    use crate::storage::*;
    use crate::types::{polyraft_entry, polyraft_peer};
    use crate::{polyraft_node_advance, polyraft_node_ready};

    unsafe fn node_over(ms: *mut polyraft_memory_storage, peers: &[u64]) -> *mut polyraft_node {
        let cfg = polyraft_config { id: 1, log_level: polyraft_log_level::POLYRAFT_LOG_OFF as u32, ..Default::default() };
        let mut node = std::ptr::null_mut();
        assert_eq!(polyraft_node_new_memory(&cfg, ms, &mut node, std::ptr::null_mut()), POLYRAFT_OK);
        let ps: Vec<polyraft_peer> =
            peers.iter().map(|&id| polyraft_peer { id, context: std::ptr::null(), context_len: 0 }).collect();
        assert_eq!(polyraft_node_bootstrap(node, ps.as_ptr(), ps.len()), POLYRAFT_OK);
        node
    }

    unsafe fn entries_of(rd: *const polyraft_ready) -> Vec<(u64, u64)> {
        let mut p: *const polyraft_entry = std::ptr::null();
        let mut n = 0usize;
        assert_eq!(polyraft_ready_entries(rd, &mut p, &mut n), POLYRAFT_OK);
        (0..n).map(|i| ((*p.add(i)).index, (*p.add(i)).term)).collect()
    }

    /// Handles the outstanding Ready: its entries into the storage, then
    /// advance.
    unsafe fn persist(node: *mut polyraft_node, ms: *mut polyraft_memory_storage, rd: *const polyraft_ready) {
        let mut p: *const polyraft_entry = std::ptr::null();
        let mut n = 0usize;
        assert_eq!(polyraft_ready_entries(rd, &mut p, &mut n), POLYRAFT_OK);
        assert_eq!(polyraft_memory_storage_append(ms, p, n), POLYRAFT_OK);
        assert_eq!(polyraft_node_advance(node), POLYRAFT_OK);
    }

    /// A peek hands nothing out: peeking again returns the same work plus
    /// what happened meanwhile; accepting makes it the outstanding Ready.
    #[test]
    fn peek_then_accept() {
        unsafe {
            let mut ms = std::ptr::null_mut();
            assert_eq!(polyraft_memory_storage_new(&mut ms), POLYRAFT_OK);
            let node = node_over(ms, &[1]);
            let mut rd = std::ptr::null();
            assert_eq!(polyraft_node_ready(node, &mut rd), POLYRAFT_OK);
            persist(node, ms, rd);
            assert_eq!(polyraft_node_campaign(node), POLYRAFT_OK);
            // Take the election's Readys until the node leads.
            for _ in 0..4 {
                assert_eq!(polyraft_node_ready(node, &mut rd), POLYRAFT_OK);
                persist(node, ms, rd);
            }
            assert_eq!(polyraft_node_propose(node, b"a".as_ptr(), 1), POLYRAFT_OK);
            let mut p1 = std::ptr::null_mut();
            assert_eq!(polyraft_node_ready_peek(node, &mut p1), POLYRAFT_OK);
            let mut v1 = std::ptr::null();
            v1 = polyraft_peeked_ready_view(p1);
            let first = entries_of(v1);
            assert_eq!(first.len(), 1);
            polyraft_peeked_ready_free(p1);
            assert_eq!(polyraft_node_propose(node, b"b".as_ptr(), 1), POLYRAFT_OK);
            let mut p2 = std::ptr::null_mut();
            assert_eq!(polyraft_node_ready_peek(node, &mut p2), POLYRAFT_OK);
            let mut v2 = std::ptr::null();
            v2 = polyraft_peeked_ready_view(p2);
            let both = entries_of(v2);
            assert_eq!(both.len(), 2, "the second peek holds both proposals");
            assert_eq!(both[0], first[0]);
            assert_eq!(polyraft_node_ready_accept(node, p2), POLYRAFT_OK);
            // Outstanding now: no other Ready or peek before advance.
            let mut p3 = std::ptr::null_mut();
            assert_eq!(polyraft_node_ready_peek(node, &mut p3), POLYRAFT_INVALID_STATE);
            assert_eq!(polyraft_node_ready_accept(node, std::ptr::null_mut()), POLYRAFT_NULL_PARAMETER);
            persist(node, ms, v2);
            // The accepted entries are not handed out again.
            let mut p4 = std::ptr::null_mut();
            assert_eq!(polyraft_node_ready_peek(node, &mut p4), POLYRAFT_OK);
            let mut v4 = std::ptr::null();
            v4 = polyraft_peeked_ready_view(p4);
            assert!(entries_of(v4).is_empty());
            polyraft_peeked_ready_free(p4);
            assert_eq!(polyraft_node_health(node), POLYRAFT_OK);
            polyraft_node_free(node);

            // Entry reads: the storage now holds the whole log.
            let mut last = 0;
            assert_eq!(polyraft_memory_storage_last_index(ms, &mut last), POLYRAFT_OK);
            let mut owned = std::ptr::null_mut();
            assert_eq!(polyraft_memory_storage_entries(ms, 1, last + 1, u64::MAX, &mut owned), POLYRAFT_OK);
            let mut p: *const polyraft_entry = std::ptr::null();
            let mut n = 0usize;
            assert_eq!(polyraft_owned_entries_view(owned, &mut p, &mut n), POLYRAFT_OK);
            assert_eq!(n as u64, last);
            let data = std::slice::from_raw_parts((*p.add(n - 1)).data, (*p.add(n - 1)).data_len);
            assert_eq!(data, b"b");
            polyraft_owned_entries_free(owned);
            // max_size 0 still gives one entry; lo > hi is refused.
            assert_eq!(polyraft_memory_storage_entries(ms, 1, last + 1, 0, &mut owned), POLYRAFT_OK);
            assert_eq!(polyraft_owned_entries_view(owned, &mut p, &mut n), POLYRAFT_OK);
            assert_eq!(n, 1);
            polyraft_owned_entries_free(owned);
            assert_eq!(polyraft_memory_storage_entries(ms, 3, 2, 0, &mut owned), POLYRAFT_INVALID_ARGUMENT);
            assert_eq!(polyraft_memory_storage_compact(ms, 2), POLYRAFT_OK);
            assert_eq!(polyraft_memory_storage_entries(ms, 1, 2, 0, &mut owned), POLYRAFT_STORAGE_COMPACTED);
            polyraft_owned_entries_free(std::ptr::null_mut());
            polyraft_memory_storage_free(ms);
        }
    }

    /// The typed status (configuration, progress), and TickQuiesced.
    #[test]
    fn typed_status_and_tick_quiesced() {
        unsafe {
            let mut ms = std::ptr::null_mut();
            assert_eq!(polyraft_memory_storage_new(&mut ms), POLYRAFT_OK);
            let node = node_over(ms, &[1, 2]);
            let mut rd = std::ptr::null();
            assert_eq!(polyraft_node_ready(node, &mut rd), POLYRAFT_OK);
            persist(node, ms, rd);
            let mut cs = polyraft_conf_state::default();
            assert_eq!(polyraft_node_config(node, &mut cs), POLYRAFT_OK);
            assert_eq!(std::slice::from_raw_parts(cs.voters, cs.voters_len), &[1, 2]);
            assert_eq!(cs.voters_outgoing_len, 0);
            let mut n = 0usize;
            assert_eq!(polyraft_node_progress(node, std::ptr::null_mut(), 0, &mut n), POLYRAFT_OK);
            assert_eq!(n, 2);
            let mut prs = [polyraft_progress::default(); 1];
            assert_eq!(polyraft_node_progress(node, prs.as_mut_ptr(), 1, &mut n), POLYRAFT_OK);
            assert_eq!((n, prs[0].id), (2, 1));
            assert_eq!(prs[0].state, polyraft_progress_state::POLYRAFT_PROGRESS_PROBE as u32);
            let before = (*node).raw.raft().election_elapsed();
            assert_eq!(polyraft_node_tick_quiesced(node), POLYRAFT_OK);
            assert_eq!((*node).raw.raft().election_elapsed(), before + 1);
            assert_eq!(polyraft_node_health(std::ptr::null_mut()), POLYRAFT_NULL_PARAMETER);
            polyraft_node_free(node);
            polyraft_memory_storage_free(ms);
        }
    }
}
