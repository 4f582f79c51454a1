//! Node calls that etcd's RawNode offers beyond the basic cycle, for
//! bindings that mirror etcd's API in full: TickQuiesced, and the whole
//! Status (configuration and every progress field) in one document.

use std::fmt::Write as _;

use polyraft::tracker::ProgressState;

use crate::node::{polyraft_node, with_node};
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

fn id_list(s: &mut String, name: &str, ids: impl IntoIterator<Item = u64>) {
    let _ = write!(s, "\"{name}\":[");
    for (i, id) in ids.into_iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{id}");
    }
    s.push(']');
}

/// Writes to `*out` a new buffer holding the node's configuration and the
/// progress of every tracked peer as JSON (ids in decimal):
/// `{"config":{"voters":[..],"voters_outgoing":[..],"learners":[..],
/// "learners_next":[..],"auto_leave":b},"progress":{"<id>":{"match":n,
/// "next":n,"sent_commit":n,"state":0|1|2,"pending_snapshot":n,"recent_active":b,
/// "msg_app_flow_paused":b,"is_learner":b,"inflights":n}}}` (state: 0
/// probe, 1 replicate, 2 snapshot; inflights: the in-flight message
/// count). Progress is present on every node (etcd's Status keeps it for
/// the leader only: the caller filters). Free it with polyraft_buffer_free.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_POISONED.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_status_detail(
    node: *mut polyraft_node,
    out: *mut *mut polyraft_buffer,
) -> polyraft_result {
    with_node(node, |nd| {
        nn!(out);
        let r = nd.raw.raft();
        let c = &r.trk.config;
        let mut s = String::from("{\"config\":{");
        id_list(&mut s, "voters", c.voters.incoming.ids().iter().copied());
        s.push(',');
        id_list(&mut s, "voters_outgoing", c.voters.outgoing.ids().iter().copied());
        s.push(',');
        id_list(&mut s, "learners", c.learners.iter().copied());
        s.push(',');
        id_list(&mut s, "learners_next", c.learners_next.iter().copied());
        let _ = write!(s, ",\"auto_leave\":{}}},\"progress\":{{", c.auto_leave);
        let mut first = true;
        nd.raw.with_progress(|id, pr| {
            if !first {
                s.push(',');
            }
            first = false;
            let state = match pr.state {
                ProgressState::Probe => 0,
                ProgressState::Replicate => 1,
                ProgressState::Snapshot => 2,
            };
            let _ = write!(
                s,
                "\"{id}\":{{\"match\":{},\"next\":{},\"sent_commit\":{},\"state\":{state},\"pending_snapshot\":{},\"recent_active\":{},\"msg_app_flow_paused\":{},\"is_learner\":{},\"inflights\":{}}}",
                pr.matched,
                pr.next,
                pr.sent_commit,
                pr.pending_snapshot,
                pr.recent_active,
                pr.msg_app_flow_paused,
                pr.is_learner,
                pr.inflights.count()
            );
        });
        s.push_str("}}");
        new_buffer(s.into_bytes(), out);
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
            assert_eq!(polyraft_peeked_ready_view(p1, &mut v1), POLYRAFT_OK);
            let first = entries_of(v1);
            assert_eq!(first.len(), 1);
            polyraft_peeked_ready_free(p1);
            assert_eq!(polyraft_node_propose(node, b"b".as_ptr(), 1), POLYRAFT_OK);
            let mut p2 = std::ptr::null_mut();
            assert_eq!(polyraft_node_ready_peek(node, &mut p2), POLYRAFT_OK);
            let mut v2 = std::ptr::null();
            assert_eq!(polyraft_peeked_ready_view(p2, &mut v2), POLYRAFT_OK);
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
            assert_eq!(polyraft_peeked_ready_view(p4, &mut v4), POLYRAFT_OK);
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

    /// The whole status as JSON, and TickQuiesced.
    #[test]
    fn status_detail_and_tick_quiesced() {
        unsafe {
            let mut ms = std::ptr::null_mut();
            assert_eq!(polyraft_memory_storage_new(&mut ms), POLYRAFT_OK);
            let node = node_over(ms, &[1, 2]);
            let mut rd = std::ptr::null();
            assert_eq!(polyraft_node_ready(node, &mut rd), POLYRAFT_OK);
            persist(node, ms, rd);
            let mut buf = std::ptr::null_mut();
            assert_eq!(polyraft_node_status_detail(node, &mut buf), POLYRAFT_OK);
            let text = String::from_utf8((*buf).data.clone()).unwrap();
            crate::polyraft_buffer_free(buf);
            assert!(text.starts_with("{\"config\":{\"voters\":[1,2],\"voters_outgoing\":[]"), "{text}");
            assert!(text.contains("\"1\":{\"match\":"), "{text}");
            let before = (*node).raw.raft().election_elapsed();
            assert_eq!(polyraft_node_tick_quiesced(node), POLYRAFT_OK);
            assert_eq!((*node).raw.raft().election_elapsed(), before + 1);
            assert_eq!(polyraft_node_health(std::ptr::null_mut()), POLYRAFT_NULL_PARAMETER);
            polyraft_node_free(node);
            polyraft_memory_storage_free(ms);
        }
    }
}
