//! Node calls that etcd's RawNode offers beyond the basic cycle, for
//! bindings that mirror etcd's API in full: TickQuiesced, and the whole
//! Status (configuration and every progress field) in one document.

use std::fmt::Write as _;

use polyraft::tracker::StateType as ProgressState;

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
/// "next":n,"state":0|1|2,"pending_snapshot":n,"recent_active":b,
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
                "\"{id}\":{{\"match\":{},\"next\":{},\"state\":{state},\"pending_snapshot\":{},\"recent_active\":{},\"msg_app_flow_paused\":{},\"is_learner\":{},\"inflights\":{}}}",
                pr.matched,
                pr.next,
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
