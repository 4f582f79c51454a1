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
use polyraft::raftpb::{self, ConfChangeI, Message};
use polyraft::{Error, Peer, RawNode, SnapshotStatus};
use pyo3::exceptions::{PyException, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::common::{class_of, new_err, raft_err};
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
    Raft(Error),
    /// The call succeeded but the node failed meanwhile (e.g. a storage
    /// error while building a Ready): its fatal error.
    Failed(Error),
    Panic(String),
}

/// A raft node. Drive it with tick/step/propose, then handle `ready()` and
/// call `advance()`. Methods may be called from any thread but never
/// concurrently (calls are serialized by a lock; a call from inside a
/// storage callback raises RuntimeError).
#[pyclass(module = "polyraft._native", name = "RawNode", frozen)]
pub struct PyRawNode {
    node: Mutex<RawNode<NodeStorage>>,
    stash: SharedStash,
    poisoned: AtomicBool,
    storage: Py<PyAny>,
}

fn run<R>(
    n: &mut RawNode<NodeStorage>,
    poisoned: &AtomicBool,
    f: impl FnOnce(&mut RawNode<NodeStorage>) -> polyraft::Result<R>,
) -> Result<R, Failure> {
    if poisoned.load(Ordering::Acquire) {
        return Err(Failure::Panic("the node is unusable after an internal error".into()));
    }
    let failed_before = n.raft().fatal_error().cloned();
    if let Some(e) = failed_before {
        return Err(Failure::Raft(e));
    }
    match catch_unwind(AssertUnwindSafe(|| f(n))) {
        Ok(Ok(r)) => match n.raft().fatal_error() {
            Some(e) => Err(Failure::Failed(e.clone())),
            None => Ok(r),
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
    let (class, msg) = match &f {
        Failure::Raft(e) | Failure::Failed(e) => (class_of(e), e.to_string()),
        Failure::Panic(m) => ("FatalError", format!("raft node is unusable: internal error: {m}")),
    };
    match stashed {
        None => match f {
            Failure::Raft(e) | Failure::Failed(e) => raft_err(py, &e),
            Failure::Panic(_) => new_err(py, class, msg),
        },
        // KeyboardInterrupt, SystemExit...: not a storage failure to wrap.
        Some(orig) if !orig.is_instance_of::<PyException>(py) => orig,
        Some(orig) => {
            let class = if class == "FatalError" || class == "RaftError" { "StorageError" } else { class };
            let err = new_err(py, class, msg);
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
        (res, None) => res.map_err(|f| to_pyerr(py, f, stashed)),
        (Ok(_), Some(i)) => Err(i),
        (Err(f), Some(i)) => {
            let err = to_pyerr(py, f, stashed);
            if !is_interrupt(py, &err) {
                // Best effort: a failure to set the context loses only it.
                let _ = i.value(py).setattr("__context__", err.value(py));
            }
            Err(i)
        }
    }
}

impl PyRawNode {
    /// Runs `f` on the node with the GIL released. The stash is cleared and
    /// read while the node's lock is held, so it holds this call's
    /// exceptions only (not another thread's).
    fn call<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut RawNode<NodeStorage>) -> polyraft::Result<R> + Send,
    ) -> PyResult<R> {
        let _guard = InCall::enter().ok_or_else(reentrant)?;
        let (res, stashed, interrupt) = py.allow_threads(|| {
            let mut n = self.node.lock();
            self.stash.lock().clear();
            let res = run(&mut n, &self.poisoned, f);
            let mut st = self.stash.lock();
            (res, st.take(), st.take_interrupt())
        });
        finish(py, res, stashed, interrupt)
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
    match v.downcast::<PyBytes>() {
        Ok(b) => Ok(Bytes::copy_from_slice(b.as_bytes())),
        Err(_) => Err(PyTypeError::new_err(format!("{name} must be bytes, not {}", v.get_type().name()?))),
    }
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
            NodeStorage::Durable(d.get().inner.clone())
        } else {
            NodeStorage::Python(PyStorage::new(storage, stash.clone())?)
        };
        let cfg = config.get().to_core(py, stash.clone());
        let res = py.allow_threads(|| match catch_unwind(AssertUnwindSafe(|| RawNode::new(&cfg, store))) {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(Failure::Raft(e)),
            Err(_) => Err(Failure::Panic("panic while creating the node".into())),
        });
        let (stashed, interrupt) = {
            let mut st = stash.lock();
            (st.take(), st.take_interrupt())
        };
        let node = finish(py, res, stashed, interrupt)?;
        Ok(PyRawNode { node: Mutex::new(node), stash, poisoned: AtomicBool::new(false), storage: storage.clone().unbind() })
    }

    /// The storage given at creation.
    #[getter]
    fn storage(&self, py: Python<'_>) -> Py<PyAny> {
        self.storage.clone_ref(py)
    }

    /// Bootstraps a brand-new cluster with `peers` (ids) over an empty storage.
    fn bootstrap(&self, py: Python<'_>, peers: Vec<u64>) -> PyResult<()> {
        let peers: Vec<Peer> = peers.into_iter().map(|id| Peer { id, context: Bytes::new() }).collect();
        self.call(py, move |n| n.bootstrap(&peers))
    }

    /// Advances the logical clock by one tick.
    fn tick(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, |n| {
            n.tick();
            Ok(())
        })
    }

    /// Starts an election.
    fn campaign(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, |n| n.campaign())
    }

    /// Proposes one entry.
    fn propose(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = bytes_arg("data", data)?;
        self.call(py, move |n| n.propose(data))
    }

    /// Proposes many entries in one message; all or none are accepted.
    fn propose_batch(&self, py: Python<'_>, data: Vec<Bound<'_, PyAny>>) -> PyResult<()> {
        let data = data.iter().map(|d| bytes_arg("each item of data", d)).collect::<PyResult<Vec<Bytes>>>()?;
        if data.is_empty() {
            return Err(PyValueError::new_err("propose_batch needs at least one entry"));
        }
        self.call(py, move |n| n.propose_batch(&data))
    }

    /// Proposes a configuration change (ConfChange or ConfChangeV2).
    fn propose_conf_change(&self, py: Python<'_>, cc: &Bound<'_, PyAny>) -> PyResult<()> {
        let cc = conf_change_arg(cc)?;
        self.call(py, move |n| n.propose_conf_change(cc))
    }

    /// Applies a committed configuration change; returns the new ConfState.
    fn apply_conf_change(&self, py: Python<'_>, cc: &Bound<'_, PyAny>) -> PyResult<PyConfState> {
        let cc = conf_change_arg(cc)?;
        let cs = self.call(py, move |n| n.apply_conf_change(cc))?;
        Ok(PyConfState { inner: cs })
    }

    /// Steps a message from a peer (a Message or its raftpb bytes), or,
    /// with async storage writes, one of the node's own storage responses
    /// (a Message taken from a Ready). Whatever came from bytes (the bytes
    /// themselves, a Message from `Message.decode` or unpickled) is a
    /// peer's: local-only types are refused with StepLocalMsgError whatever
    /// its `from_` claims, so no peer can forge the node's own messages.
    fn step(&self, py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<()> {
        let (m, from_wire): (Message, bool) = if let Ok(m) = message.downcast::<PyMessage>() {
            let m = m.get();
            (m.inner.clone(), m.from_wire)
        } else if let Ok(b) = message.downcast::<PyBytes>() {
            // Exactly what Message.decode accepts.
            let r = raftpb::decode::<Message>(b.as_bytes()).and_then(|m| m.check_enums().map(|()| m));
            (r.map_err(|e| raft_err(py, &e))?, true)
        } else {
            return Err(PyTypeError::new_err(format!(
                "step() expects a Message or bytes, not {}",
                message.get_type().name()?
            )));
        };
        self.call(py, move |n| if from_wire { n.step_peer(m) } else { n.step(m) })
    }

    /// Whether `ready()` has something to do.
    fn has_ready(&self, py: Python<'_>) -> PyResult<bool> {
        self.call(py, |n| Ok(n.has_ready()))
    }

    /// The pending work; handle it, then call `advance()`.
    fn ready(&self, py: Python<'_>) -> PyResult<PyReady> {
        let rd = self.call(py, |n| Ok(n.ready()))?;
        Ok(PyReady { inner: rd })
    }

    /// Acknowledges the Readies handed out so far as persisted and applied.
    fn advance(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, |n| n.advance())
    }

    /// Requests a linearizable read; a ReadState carrying `rctx` appears in
    /// a later Ready.
    fn read_index(&self, py: Python<'_>, rctx: &Bound<'_, PyAny>) -> PyResult<()> {
        let rctx = bytes_arg("rctx", rctx)?;
        self.call(py, move |n| n.read_index(rctx))
    }

    /// Asks the leader to hand leadership to `transferee`.
    fn transfer_leader(&self, py: Python<'_>, transferee: u64) -> PyResult<()> {
        self.call(py, move |n| {
            n.transfer_leader(transferee);
            Ok(())
        })
    }

    /// Forgets the current leader (so a pre-vote campaign can win early).
    fn forget_leader(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, |n| n.forget_leader())
    }

    /// Reports that the last send to `id` failed.
    fn report_unreachable(&self, py: Python<'_>, id: u64) -> PyResult<()> {
        self.call(py, move |n| {
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
        self.call(py, move |n| {
            n.report_snapshot(id, status);
            Ok(())
        })
    }

    /// Full status (progress of every peer on the leader).
    fn status(&self, py: Python<'_>) -> PyResult<PyStatus> {
        let _guard = InCall::enter().ok_or_else(reentrant)?;
        let s = py.allow_threads(|| self.node.lock().status());
        Ok(PyStatus { inner: s })
    }

    /// Status without progress.
    fn basic_status(&self, py: Python<'_>) -> PyResult<PyBasicStatus> {
        let _guard = InCall::enter().ok_or_else(reentrant)?;
        let s = py.allow_threads(|| self.node.lock().basic_status());
        Ok(PyBasicStatus { inner: s })
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        if IN_CALL.with(|c| c.get()) {
            return "RawNode(<busy>)".into();
        }
        let b = py.allow_threads(|| self.node.lock().basic_status());
        format!(
            "RawNode(id={} term={} lead={} state={})",
            b.id, b.hard_state.term, b.soft_state.lead, b.soft_state.raft_state
        )
    }
}
