//! RawNode for Python. The core node is not thread-safe, so it lives behind
//! a mutex; every call releases the GIL, takes the mutex, runs, and
//! converts the outcome (including exceptions a Python storage raised on
//! the way, which become the `__cause__` of the error raised here).

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use polyraft::raftpb::{ConfChangeI, Message};
use polyraft::{Error, Peer, RawNode, SnapshotStatus};
use pyo3::exceptions::{PyException, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::common::{check, ids_arg, kind_err, BytesLike};
use crate::config::PyConfig;
use crate::durable::PyDurableStorage;
use crate::storage::{is_interrupt, NodeStorage, PyMemoryStorage, PyStorage, SharedStash};
use crate::types::{KnownEnums, PyBasicStatus, PyConfChange, PyConfChangeV2, PyConfState, PyMessage, PyReady, PyStatus};

thread_local! {
    /// Set while this thread runs inside a node call, to refuse re-entrant
    /// calls (from a storage or logger callback) instead of deadlocking.
    static IN_CALL: Cell<bool> = const { Cell::new(false) };
}

struct InCall;

impl InCall {
    fn enter() -> Option<InCall> {
        if IN_CALL.with(|c| c.replace(true)) {
            None
        } else {
            Some(InCall)
        }
    }
}

impl Drop for InCall {
    fn drop(&mut self) {
        IN_CALL.with(|c| c.set(false));
    }
}

fn reentrant() -> PyErr {
    PyRuntimeError::new_err("polyraft: a RawNode method was called from inside a node call (storage or logger callback)")
}

/// Why a node call failed, before it is turned into an exception (which
/// needs the GIL).
enum Failure {
    /// The call's own error (a refused message, a bad argument...).
    Raft(Error),
    /// The node failed during the call (e.g. a storage error while
    /// stepping): its fatal error.
    Failed(Error),
    /// The node had failed before the call: its fatal error, refused
    /// without doing anything.
    FailedBefore(Error),
    Panic(String),
    /// The node was closed.
    Closed,
    /// An argument out of its range (C's POLYRAFT_INVALID_ARGUMENT).
    InvalidArgument(String),
}

/// How a node call treats the node's failure (its fatal error).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The call does work: a node that failed before is refused, and a
    /// failure during the call is raised by it.
    Work,
    /// The call runs on a failed node too (`has_ready`, `advance`: the
    /// closure decides what that means); a failure during it is raised.
    Quiet,
    /// `ready`: a node that failed before is refused, but a failure during
    /// the call is not raised, as etcd's `RawNode.Ready()` has no error to
    /// return; nor is an interrupt. Both are held for the next calls.
    Ready,
}

/// A raft node. Drive it with tick/step/propose, then handle `ready()` and
/// call `advance()`. Methods may be called from any thread but never
/// concurrently (calls are serialized by a lock; a call from inside a
/// storage callback raises RuntimeError).
#[pyclass(module = "polyraft._native", name = "RawNode", frozen)]
pub struct PyRawNode {
    /// None once closed.
    node: Mutex<Option<Node>>,
    /// Whether a Ready was handed out and not yet advanced (never with
    /// async storage writes). Changed only under `node`'s lock.
    outstanding: AtomicBool,
    async_writes: bool,
    /// What callbacks raise during one call (cleared at each call's start).
    stash: SharedStash,
    poisoned: AtomicBool,
    storage: Py<PyAny>,
}

/// The state behind the node's lock: the core node, and what earlier calls
/// could not raise (under the same lock, so the very next call sees it).
struct Node {
    raw: RawNode<NodeStorage>,
    held: Held,
}

/// Exceptions the node keeps because the call during which they happened
/// must not fail: construction (the node exists, or nothing would hold
/// it) and `ready()` (the Ready it hands out is already taken from the
/// node; raising would lose it).
#[derive(Default)]
struct Held {
    /// An interrupt (KeyboardInterrupt, SystemExit...) a callback raised
    /// during such a call: the node's next call raises it before doing
    /// anything, so Ctrl-C is deferred, never lost.
    interrupt: Option<PyErr>,
    /// The Python exception behind a failure `ready()` did not raise: the
    /// `__cause__` of the first later raise of that failure.
    cause: Option<PyErr>,
}

/// Runs `f` on the node as `mode` says. Besides `f`'s result: whether the
/// node failed during the call without the failure being raised (`Ready`).
fn run<R>(
    n: &mut RawNode<NodeStorage>,
    poisoned: &AtomicBool,
    mode: Mode,
    f: impl FnOnce(&mut RawNode<NodeStorage>) -> polyraft::Result<R>,
) -> Result<(R, bool), Failure> {
    if poisoned.load(Ordering::Acquire) {
        return Err(Failure::Panic("the node is unusable after an internal error".into()));
    }
    if mode != Mode::Quiet {
        if let Some(e) = n.raft().fatal_error() {
            return Err(Failure::FailedBefore(e.clone()));
        }
    }
    let failed_before = n.raft().fatal_error().is_some();
    match catch_unwind(AssertUnwindSafe(|| f(n))) {
        Ok(Ok(r)) => match n.raft().fatal_error() {
            Some(_) if failed_before => Ok((r, false)),
            Some(_) if mode == Mode::Ready => Ok((r, true)),
            Some(e) => Err(Failure::Failed(e.clone())),
            None => Ok((r, false)),
        },
        Ok(Err(e)) => Err(Failure::Raft(e)),
        Err(p) => {
            poisoned.store(true, Ordering::Release);
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            Err(Failure::Panic(msg))
        }
    }
}

/// The exception for a failure; a stashed storage exception becomes its
/// `__cause__` (and turns a generic failure into StorageError).
fn to_pyerr(py: Python<'_>, f: Failure, stashed: Option<PyErr>) -> PyErr {
    let (kind, msg) = match &f {
        Failure::Raft(e) | Failure::Failed(e) | Failure::FailedBefore(e) => (e.code_name(), e.to_string()),
        Failure::Panic(m) => ("POLYRAFT_FATAL", format!("raft node is unusable: internal error: {m}")),
        Failure::Closed => return PyValueError::new_err("RawNode is closed"),
        Failure::InvalidArgument(m) => ("POLYRAFT_INVALID_ARGUMENT", m.clone()),
    };
    match stashed {
        None => kind_err(py, kind, msg),
        // KeyboardInterrupt, SystemExit...: not a storage failure to wrap.
        Some(orig) if !orig.is_instance_of::<PyException>(py) => orig,
        Some(orig) => {
            let kind = if kind == "POLYRAFT_FATAL" { "POLYRAFT_STORAGE_FAILURE" } else { kind };
            let err = kind_err(py, kind, msg);
            err.set_cause(py, Some(orig));
            err
        }
    }
}

/// The outcome of a node call as the caller sees it: an interrupt a
/// callback raised (KeyboardInterrupt...) is raised as it is, even when the
/// call itself succeeded; the call's own error, if any, becomes its
/// `__context__` (what Python shows as "during handling of ...").
fn finish<R>(py: Python<'_>, res: Result<R, Failure>, stashed: Option<PyErr>, interrupt: Option<PyErr>) -> PyResult<R> {
    match (res, interrupt) {
        (Ok(r), None) => Ok(r),
        (Ok(_), Some(i)) => Err(i),
        (Err(f), interrupt) => Err(failure_err(py, f, stashed, interrupt)),
    }
}

/// The exception a failed call raises: the interrupt if a callback raised
/// one (with the failure as its `__context__`), else the failure's.
fn failure_err(py: Python<'_>, f: Failure, stashed: Option<PyErr>, interrupt: Option<PyErr>) -> PyErr {
    let err = to_pyerr(py, f, stashed);
    match interrupt {
        None => err,
        Some(i) => {
            if !is_interrupt(py, &err) {
                // Best effort: a failure to set the context loses only it.
                let _ = i.value(py).setattr("__context__", err.value(py));
            }
            i
        }
    }
}

/// What one node call produced: its result, the storage exception and the
/// interrupt its callbacks raised.
type Outcome<R> = (Result<R, Failure>, Option<PyErr>, Option<PyErr>);

impl PyRawNode {
    /// Runs `f` on the node with the GIL released, after raising the
    /// interrupt an earlier call held, if any (then `f` does not run). The
    /// stash is cleared and read while the node's lock is held, so it holds
    /// this call's exceptions only (not another thread's). A refusal
    /// because the node failed before gets the exception `ready()` held
    /// back as its cause; in `Ready` mode, a failure's cause and an
    /// interrupt are held instead of returned.
    fn run_call<R: Send>(
        &self,
        py: Python<'_>,
        mode: Mode,
        f: impl FnOnce(&mut RawNode<NodeStorage>) -> polyraft::Result<R> + Send,
    ) -> PyResult<Outcome<R>> {
        let _guard = InCall::enter().ok_or_else(reentrant)?;
        let (res, stashed, interrupt) = py.allow_threads(|| {
            let mut guard = self.node.lock();
            let Some(node) = guard.as_mut() else {
                return Ok((Err(Failure::Closed), None, None));
            };
            if let Some(i) = node.held.interrupt.take() {
                return Err(i);
            }
            self.stash.lock().clear();
            let res = run(&mut node.raw, &self.poisoned, mode, f);
            let (mut stashed, mut interrupt) = {
                let mut st = self.stash.lock();
                (st.take(), st.take_interrupt())
            };
            let held = &mut node.held;
            match &res {
                Err(Failure::FailedBefore(_)) => stashed = stashed.or_else(|| held.cause.take()),
                Ok((_, true)) => held.cause = stashed.take(),
                _ => {}
            }
            // (No interrupt is held here: the check above took it.)
            if mode == Mode::Ready && res.is_ok() {
                held.interrupt = interrupt.take();
            }
            Ok((res.map(|(r, _)| r), stashed, interrupt))
        })?;
        let stashed = match &res {
            // A cause ready() held back that is an interrupt (a storage that
            // kept interrupting) was held as the interrupt too, and raised.
            Err(Failure::FailedBefore(_)) => stashed.filter(|e| e.is_instance_of::<PyException>(py)),
            _ => stashed,
        };
        Ok((res, stashed, interrupt))
    }

    /// A node call: its result, or the exception for its failure.
    fn call<R: Send>(
        &self,
        py: Python<'_>,
        mode: Mode,
        f: impl FnOnce(&mut RawNode<NodeStorage>) -> polyraft::Result<R> + Send,
    ) -> PyResult<R> {
        let (res, stashed, interrupt) = self.run_call(py, mode, f)?;
        finish(py, res, stashed, interrupt)
    }

    /// Runs a query that needs no work from the node (status...), after
    /// raising a held interrupt as every call does.
    fn query<R: Send>(&self, py: Python<'_>, f: impl FnOnce(&RawNode<NodeStorage>) -> R + Send) -> PyResult<R> {
        let _guard = InCall::enter().ok_or_else(reentrant)?;
        py.allow_threads(|| {
            let mut guard = self.node.lock();
            let Some(node) = guard.as_mut() else {
                return Err(PyValueError::new_err("RawNode is closed"));
            };
            match node.held.interrupt.take() {
                Some(i) => Err(i),
                None => Ok(f(&node.raw)),
            }
        })
    }
}

fn conf_change_arg(cc: &Bound<'_, PyAny>) -> PyResult<ConfChangeI> {
    if let Ok(c) = cc.downcast::<PyConfChange>() {
        return Ok(ConfChangeI::V1(c.get().inner.clone()));
    }
    if let Ok(c) = cc.downcast::<PyConfChangeV2>() {
        return Ok(ConfChangeI::V2(c.get().inner.clone()));
    }
    Err(PyTypeError::new_err(format!(
        "expected ConfChange or ConfChangeV2, not {}",
        cc.get_type().name()?
    )))
}

fn bytes_arg(name: &str, v: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    match v.extract::<BytesLike>() {
        Ok(b) => Ok(b.0),
        Err(_) => Err(PyTypeError::new_err(format!("{name} must be a bytes-like object, not {}", v.get_type().name()?))),
    }
}

/// Refuses a node id no peer can have: 0 (etcd's None) and the ids of the
/// local storage threads. The same check and text as C's.
fn check_id(id: u64) -> Result<(), Failure> {
    if id == 0 || id == polyraft::LOCAL_APPEND_THREAD || id == polyraft::LOCAL_APPLY_THREAD {
        return Err(Failure::InvalidArgument(format!("invalid node id {id:#x}")));
    }
    Ok(())
}

#[pymethods]
impl PyRawNode {
    /// Creates a node over `storage` (a MemoryStorage, a DurableStorage or
    /// any object implementing the Storage protocol).
    #[new]
    fn new(py: Python<'_>, config: &Bound<'_, PyConfig>, storage: &Bound<'_, PyAny>) -> PyResult<Self> {
        let _guard = InCall::enter().ok_or_else(reentrant)?;
        let stash: SharedStash = Arc::default();
        let store = if let Ok(m) = storage.downcast::<PyMemoryStorage>() {
            NodeStorage::Memory(m.get().inner.clone())
        } else if let Ok(d) = storage.downcast::<PyDurableStorage>() {
            NodeStorage::Durable(d.get().handle()?)
        } else {
            NodeStorage::Python(PyStorage::new(storage, stash.clone())?)
        };
        let cfg = config.get().to_core(py, stash.clone());
        let async_writes = cfg.async_storage_writes;
        let res = py.allow_threads(|| match catch_unwind(AssertUnwindSafe(|| RawNode::new(&cfg, store))) {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(Failure::Raft(e)),
            Err(_) => Err(Failure::Panic("panic while creating the node".into())),
        });
        let (stashed, interrupt) = {
            let mut st = stash.lock();
            (st.take(), st.take_interrupt())
        };
        // Created: an interrupt is held for the next call (construction
        // never half-fails). Not created: there is nothing to hold it.
        let (node, interrupt) = match res {
            Ok(node) => (node, interrupt),
            Err(f) => return Err(failure_err(py, f, stashed, interrupt)),
        };
        Ok(PyRawNode {
            node: Mutex::new(Some(Node { raw: node, held: Held { interrupt, cause: None } })),
            outstanding: AtomicBool::new(false),
            async_writes,
            stash,
            poisoned: AtomicBool::new(false),
            storage: storage.clone().unbind(),
        })
    }

    /// The storage given at creation.
    #[getter]
    fn storage(&self, py: Python<'_>) -> Py<PyAny> {
        self.storage.clone_ref(py)
    }

    /// Bootstraps a brand-new cluster with `peers` (ids) over an empty storage.
    /// Raises InvalidArgumentError for no peers or an id of 0.
    fn bootstrap(&self, py: Python<'_>, peers: &Bound<'_, PyAny>) -> PyResult<()> {
        let ids = ids_arg("peers", peers)?;
        if ids.is_empty() {
            return Err(failure_err(
                py,
                Failure::InvalidArgument("must provide at least one peer to Bootstrap".into()),
                None,
                None,
            ));
        }
        ids.iter().try_for_each(|&id| check_id(id)).map_err(|f| failure_err(py, f, None, None))?;
        let peers: Vec<Peer> = ids.into_iter().map(|id| Peer { id, context: Bytes::new() }).collect();
        self.call(py, Mode::Work, move |n| n.bootstrap(&peers))
    }

    /// Frees the node (and its reference to the storage, so a
    /// DurableStorage's directory is released once its own handle is
    /// closed too). Every later call raises ValueError; closing twice does
    /// nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let _guard = InCall::enter().ok_or_else(reentrant)?;
        let node = py.allow_threads(|| self.node.lock().take());
        // Dropped with the GIL held: a Python storage's references go too.
        drop(node);
        Ok(())
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        py.allow_threads(|| self.node.lock().is_none())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes the node (never suppresses the exception).
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    /// Advances the logical clock by one tick.
    fn tick(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, Mode::Work, |n| {
            n.tick();
            Ok(())
        })
    }

    /// Starts an election.
    fn campaign(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, Mode::Work, |n| n.campaign())
    }

    /// Proposes one entry.
    fn propose(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = bytes_arg("data", data)?;
        self.call(py, Mode::Work, move |n| n.propose(data))
    }

    /// Proposes many entries in one message; all or none are accepted.
    fn propose_batch(&self, py: Python<'_>, data: Vec<Bound<'_, PyAny>>) -> PyResult<()> {
        let data = data.iter().map(|d| bytes_arg("each item of data", d)).collect::<PyResult<Vec<Bytes>>>()?;
        if data.is_empty() {
            return Err(PyValueError::new_err("propose_batch needs at least one entry"));
        }
        self.call(py, Mode::Work, move |n| n.propose_batch(&data))
    }

    /// Proposes a configuration change (ConfChange or ConfChangeV2).
    fn propose_conf_change(&self, py: Python<'_>, cc: &Bound<'_, PyAny>) -> PyResult<()> {
        let cc = conf_change_arg(cc)?;
        self.call(py, Mode::Work, move |n| n.propose_conf_change(cc))
    }

    /// Applies a committed configuration change; returns the new ConfState.
    fn apply_conf_change(&self, py: Python<'_>, cc: &Bound<'_, PyAny>) -> PyResult<PyConfState> {
        let cc = conf_change_arg(cc)?;
        let cs = self.call(py, Mode::Work, move |n| n.apply_conf_change(cc))?;
        Ok(PyConfState { inner: cs })
    }

    /// Steps a message from a peer (a Message or its raftpb bytes), or,
    /// with async storage writes, one of the node's own storage responses
    /// (a Message taken from a Ready). Whatever came from bytes (the bytes
    /// themselves, a Message from `Message.decode` or unpickled) is a
    /// peer's: local-only types are refused with StepLocalMsgError whatever
    /// its `from_` claims, so no peer can forge the node's own messages.
    /// An enum value this version does not know (the message's type, an
    /// entry's) is refused with DecodeError, although `Message.decode`
    /// accepts it: raft cannot act on a message it does not understand.
    fn step(&self, py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<()> {
        let (m, from_wire): (Message, bool) = if let Ok(m) = message.downcast::<PyMessage>() {
            let m = m.get();
            (m.inner.clone(), m.from_wire)
        } else if let Ok(b) = message.extract::<BytesLike>() {
            // One copy (into `b`); the entries' payloads are slices of it.
            let m = <Message as prost::Message>::decode(b.0).map_err(|e| Error::Decode(e.to_string()));
            (check(py, m)?, true)
        } else {
            return Err(PyTypeError::new_err(format!(
                "step() expects a Message or a bytes-like object, not {}",
                message.get_type().name()?
            )));
        };
        check(py, m.check_enums())?;
        self.call(py, Mode::Work, move |n| if from_wire { n.step_peer(m) } else { n.step(m) })
    }

    /// Whether `ready()` has something to do; False on a failed node
    /// (which has nothing more to hand out), without raising.
    fn has_ready(&self, py: Python<'_>) -> PyResult<bool> {
        self.call(py, Mode::Quiet, |n| Ok(n.has_ready()))
    }

    /// The pending work; handle it, then call `advance()`. A node that
    /// failed before raises its failure. A failure while the Ready is built
    /// (a storage read of the committed entries) is not raised, as etcd's
    /// `Ready()` returns no error: the Ready built so far is returned
    /// (without committed entries), and the node's later calls raise the
    /// failure. An interrupt a callback raises meanwhile is held too (the
    /// Ready is already taken from the node: raising would lose it).
    ///
    /// Without async storage writes, a Ready must be advanced before the
    /// next one: a second call raises InvalidStateError (as in C and Go's
    /// TryReady... see the README's table).
    fn ready(&self, py: Python<'_>) -> PyResult<PyReady> {
        let (outstanding, sync) = (&self.outstanding, !self.async_writes);
        let rd = self.call(py, Mode::Ready, move |n| {
            if sync && outstanding.load(Ordering::Acquire) {
                return Err(Error::InvalidState("a Ready is outstanding: call advance() first".into()));
            }
            let rd = n.ready();
            outstanding.store(sync, Ordering::Release);
            Ok(rd)
        })?;
        Ok(PyReady { inner: rd })
    }

    /// Acknowledges the Readies handed out so far as persisted and applied.
    /// Does nothing on a failed node, without raising (so that the Ready
    /// loop that took the node's last Ready ends); raises a failure it
    /// causes itself.
    ///
    /// Without an outstanding Ready (and without async storage writes,
    /// which the core refuses itself) it raises InvalidStateError.
    fn advance(&self, py: Python<'_>) -> PyResult<()> {
        let (outstanding, sync) = (&self.outstanding, !self.async_writes);
        self.call(py, Mode::Quiet, move |n| {
            if n.raft().fatal_error().is_some() {
                outstanding.store(false, Ordering::Release);
                return Ok(());
            }
            if sync && !outstanding.swap(false, Ordering::AcqRel) {
                return Err(Error::InvalidState("advance without an outstanding Ready".into()));
            }
            n.advance()
        })
    }

    /// Requests a linearizable read; a ReadState carrying `rctx` appears in
    /// a later Ready.
    fn read_index(&self, py: Python<'_>, rctx: &Bound<'_, PyAny>) -> PyResult<()> {
        let rctx = bytes_arg("rctx", rctx)?;
        self.call(py, Mode::Work, move |n| n.read_index(rctx))
    }

    /// Asks the leader to hand leadership to `transferee`.
    fn transfer_leader(&self, py: Python<'_>, transferee: u64) -> PyResult<()> {
        check_id(transferee).map_err(|f| failure_err(py, f, None, None))?;
        self.call(py, Mode::Work, move |n| {
            n.transfer_leader(transferee);
            Ok(())
        })
    }

    /// Forgets the current leader (so a pre-vote campaign can win early).
    fn forget_leader(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, Mode::Work, |n| n.forget_leader())
    }

    /// Reports that the last send to `id` failed.
    fn report_unreachable(&self, py: Python<'_>, id: u64) -> PyResult<()> {
        check_id(id).map_err(|f| failure_err(py, f, None, None))?;
        self.call(py, Mode::Work, move |n| {
            n.report_unreachable(id);
            Ok(())
        })
    }

    /// Reports the outcome of sending a snapshot to `id`.
    fn report_snapshot(&self, py: Python<'_>, id: u64, status: i32) -> PyResult<()> {
        let status = match status {
            1 => SnapshotStatus::Finish,
            2 => SnapshotStatus::Failure,
            v => return Err(PyValueError::new_err(format!("unknown SnapshotStatus value {v}"))),
        };
        check_id(id).map_err(|f| failure_err(py, f, None, None))?;
        self.call(py, Mode::Work, move |n| {
            n.report_snapshot(id, status);
            Ok(())
        })
    }

    /// Full status (progress of every peer on the leader).
    fn status(&self, py: Python<'_>) -> PyResult<PyStatus> {
        Ok(PyStatus { inner: self.query(py, |n| n.status())? })
    }

    /// Status without progress.
    fn basic_status(&self, py: Python<'_>) -> PyResult<PyBasicStatus> {
        Ok(PyBasicStatus { inner: self.query(py, |n| n.basic_status())? })
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        if IN_CALL.with(|c| c.get()) {
            return "RawNode(<busy>)".into();
        }
        // Not a call: a held interrupt stays for the next one.
        let Some(b) = py.allow_threads(|| self.node.lock().as_ref().map(|n| n.raw.basic_status())) else {
            return "RawNode(<closed>)".into();
        };
        format!(
            "RawNode(id={} term={} lead={} state={})",
            b.id, b.hard_state.term, b.soft_state.lead, b.soft_state.raft_state
        )
    }
}
