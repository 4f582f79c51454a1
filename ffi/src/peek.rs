//! A Ready taken in two steps, as etcd's node loop does: peek at the
//! pending work (nothing is handed out), and accept the peeked Ready only
//! when the application actually takes it. A loop that peeks again after
//! every event offers a Ready that always holds everything pending, so
//! proposals made while the application is busy join the Ready it takes
//! next (etcd's readyWithoutAccept / acceptReady).


use polyraft::Ready;

use crate::node::{polyraft_node, with_node};
use crate::ready::polyraft_ready;
use crate::*;

/// A peeked Ready (from polyraft_node_ready_peek), owned by the caller:
/// read it through polyraft_peeked_ready_view, then either hand it to
/// polyraft_node_ready_accept or free it with polyraft_peeked_ready_free.
pub struct polyraft_peeked_ready {
    rd: Ready,
    view: Box<polyraft_ready>,
}

/// Writes to `*out` the node's pending work as polyraft_node_ready would
/// return it, without handing it out: the node's state is unchanged and a
/// later peek returns the same work plus whatever happened meanwhile.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_POISONED, POLYRAFT_INVALID_STATE
/// (a Ready is outstanding: advance first), POLYRAFT_FATAL, storage codes.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_ready_peek(
    node: *mut polyraft_node,
    out: *mut *mut polyraft_peeked_ready,
) -> polyraft_result {
    with_node(node, |nd| {
        nn!(out);
        if !nd.async_writes && nd.ready_outstanding {
            return fail(POLYRAFT_INVALID_STATE, "a Ready is outstanding: call polyraft_node_advance first");
        }
        nd.alive()?;
        let rd = nd.raw.peek_ready();
        nd.alive()?;
        let view = Box::new(polyraft_ready::build(rd.clone(), nd.async_writes));
        *out = Box::into_raw(Box::new(polyraft_peeked_ready { rd, view }));
        Ok(())
    })
}

/// The Ready view of a peeked Ready (read it with the polyraft_ready_*
/// accessors), valid until the peeked Ready is freed or, once accepted,
/// until the node frees its Ready (as for polyraft_node_ready). NULL for
/// NULL.
#[no_mangle]
pub unsafe extern "C" fn polyraft_peeked_ready_view(peeked: *const polyraft_peeked_ready) -> *const polyraft_ready {
    if peeked.is_null() {
        return std::ptr::null();
    }
    &*(*peeked).view
}

/// Hands a peeked Ready out: the node accepts it as if polyraft_node_ready
/// had just returned it (it becomes the outstanding Ready; its view stays
/// valid as that Ready's). The node must not have been called since the
/// peek (the Ready would no longer be what is pending). Takes ownership of
/// `peeked` in every case (do not free it afterwards).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_POISONED, POLYRAFT_INVALID_STATE
/// (a Ready is outstanding), POLYRAFT_FATAL.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_ready_accept(
    node: *mut polyraft_node,
    peeked: *mut polyraft_peeked_ready,
) -> polyraft_result {
    if peeked.is_null() {
        return POLYRAFT_NULL_PARAMETER;
    }
    let p = match catch(|| Box::from_raw(peeked)) {
        Ok(p) => p,
        Err(_) => return POLYRAFT_PANIC,
    };
    let mut p = Some(p);
    with_node(node, |nd| {
        let p = p.take().expect("taken once");
        if !nd.async_writes && nd.ready_outstanding {
            return fail(POLYRAFT_INVALID_STATE, "a Ready is outstanding: call polyraft_node_advance first");
        }
        nd.alive()?;
        nd.raw.accept_peeked(&p.rd);
        nd.ready = Some(p.view);
        nd.ready_outstanding = !nd.async_writes;
        nd.alive()
    })
}

/// Frees a peeked Ready that was not accepted. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn polyraft_peeked_ready_free(peeked: *mut polyraft_peeked_ready) {
    if !peeked.is_null() {
        let _ = catch(|| drop(Box::from_raw(peeked)));
    }
}

/// Like polyraft_node_ready, but also allowed while a Ready is
/// outstanding (without async storage writes): the node then hands out
/// the work that became pending since, as etcd's RawNode.Ready does when
/// called again before Advance; one polyraft_node_advance acknowledges
/// both. The previous Ready's views are freed: copy them first.
/// Errors: as polyraft_node_ready, without POLYRAFT_INVALID_STATE.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_ready_again(
    node: *mut polyraft_node,
    out: *mut *const polyraft_ready,
) -> polyraft_result {
    with_node(node, |nd| {
        nn!(out);
        nd.alive()?;
        let rd = nd.raw.ready();
        nd.alive()?;
        let holder = Box::new(polyraft_ready::build(rd, nd.async_writes));
        let p: *const polyraft_ready = &*holder;
        nd.ready = Some(holder);
        nd.ready_outstanding = !nd.async_writes;
        *out = p;
        Ok(())
    })
}
