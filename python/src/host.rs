//! `polyraft.Host`: the multi-group runtime (crate `polyraft-host`) for
//! Python.
//!
//! The host owns every thread. Python code runs only in three places, each
//! under the GIL and nowhere else:
//! - state machine callbacks (`apply`, `snapshot`, `restore`, `lookup`),
//!   called on a step worker thread;
//! - the caller's own thread, which releases the GIL while it waits for an
//!   operation's outcome (blocking API);
//! - the asyncio loop's thread, which resolves futures from a
//!   [`PyCompletionQueue`] that worker threads fill without the GIL
//!   (they take it only to wake the loop, once per burst of outcomes).
//!
//! Outcomes map onto the exception tree of `polyraft.host`: rejected
//! (certainly not applied) and timed out (unknown) stay distinct.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use polyraft::raftpb::Entry;
use polyraft_host::{
    Completion, FileLogStore, FileSnapshotStore, Frame, GroupInfo, Host, HostConfig, HostError, HostParts,
    InProcNetwork, LogStore, MemLogStore, MemSnapshotStore, Membership, OpError, OpResult, SendError, Session,
    SnapshotStore, StartMode, StateMachine, SystemClock, Transport,
};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple, PyType};

use crate::types::PyEntry;

// ------------------------------------------------------------ exceptions

static HOST_MODULE: GILOnceCell<Py<PyModule>> = GILOnceCell::new();

/// A new exception of the `polyraft.host` class `class` with `msg`.
fn host_err(py: Python<'_>, class: &str, msg: String) -> PyErr {
    let module = HOST_MODULE.get_or_try_init(py, || py.import("polyraft.host").map(Bound::unbind));
    match module.and_then(|m| m.bind(py).getattr(class)).and_then(|c| c.downcast_into::<PyType>().map_err(PyErr::from)) {
        Ok(t) => PyErr::from_type(t, msg),
        Err(e) => e,
    }
}

/// The exception for a failed client operation.
fn op_err(py: Python<'_>, e: &OpError) -> PyErr {
    match e {
        OpError::Rejected(m) => host_err(py, "ProposalRejectedError", m.clone()),
        OpError::TimedOut => host_err(py, "ProposalTimeoutError", "timed out (the outcome is unknown)".into()),
    }
}

/// The exception for a failed host-level call.
fn hosting_err(py: Python<'_>, e: &HostError) -> PyErr {
    match e {
        HostError::Closed => host_err(py, "HostClosedError", "host closed".into()),
        e => host_err(py, "HostError", e.to_string()),
    }
}

fn closed_err(py: Python<'_>) -> PyErr {
    host_err(py, "HostClosedError", "host closed".into())
}

/// Why an operation failed: the host's verdict, or the exception the state
/// machine's `lookup` raised (handed to the reader as is).
enum Failure {
    Op(OpError),
    Raised(PyErr),
}

impl Failure {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        match self {
            Failure::Op(e) => op_err(py, &e),
            Failure::Raised(e) => e,
        }
    }
}

/// What a finished operation returns: result bytes, or nothing (membership
/// changes, leader transfers, closing a session).
type Outcome = Result<Option<Bytes>, Failure>;

// ------------------------------------------------------------ re-entrance

thread_local! {
    /// Set while a state machine callback runs on this (worker) thread: a
    /// blocking host call from there would wait on its own worker forever.
    static IN_CALLBACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

struct InCallback(bool);

impl InCallback {
    fn enter() -> Self {
        InCallback(IN_CALLBACK.with(|c| c.replace(true)))
    }
}

impl Drop for InCallback {
    fn drop(&mut self) {
        IN_CALLBACK.with(|c| c.set(self.0));
    }
}

fn refuse_in_callback() -> PyResult<()> {
    if IN_CALLBACK.with(|c| c.get()) {
        return Err(PyRuntimeError::new_err(
            "blocking Host calls cannot be made from a state machine callback (the worker would wait on itself)",
        ));
    }
    Ok(())
}

/// Waits for the value `submit` hands to its callback, with the GIL
/// released, waking every 100 ms to let Ctrl-C through. The host completes
/// every operation by its deadline, so this always returns.
fn block_on<T: Send + 'static>(py: Python<'_>, submit: impl FnOnce(Box<dyn FnOnce(T) + Send>)) -> PyResult<T> {
    refuse_in_callback()?;
    let (tx, rx) = sync_channel(1);
    submit(Box::new(move |v| drop(tx.send(v))));
    let mut rx = rx;
    loop {
        // The receiver moves into the GIL-free closure and back (it is Send,
        // not Sync).
        let (back, r) = py.allow_threads(move || {
            let r = rx.recv_timeout(Duration::from_millis(100));
            (rx, r)
        });
        rx = back;
        match r {
            Ok(v) => return Ok(v),
            Err(RecvTimeoutError::Timeout) => py.check_signals()?,
            Err(RecvTimeoutError::Disconnected) => return Err(closed_err(py)),
        }
    }
}

fn to_duration(what: &str, secs: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(secs).map_err(|_| PyValueError::new_err(format!("{what} must be a finite number of seconds >= 0, got {secs}")))
}

// ------------------------------------------------------------ lookup results

/// Exceptions raised by `lookup`, waiting for the completion of the read
/// that ran it (which follows on the same worker, before anything else).
static LOOKUP_ERRORS: Mutex<Option<HashMap<u64, PyErr>>> = Mutex::new(None);
static NEXT_LOOKUP_ERROR: AtomicU64 = AtomicU64::new(1);

/// Tag of a lookup result: the state machine's bytes follow.
const LOOKUP_OK: u8 = 0;
/// Tag of a lookup that raised: the key of the exception follows.
const LOOKUP_RAISED: u8 = 1;

/// Turns a tagged lookup result back into the reader's outcome.
fn untag_lookup(r: OpResult<Bytes>) -> Result<Bytes, Failure> {
    let b = r.map_err(Failure::Op)?;
    match b.first() {
        Some(&LOOKUP_OK) => Ok(b.slice(1..)),
        Some(&LOOKUP_RAISED) if b.len() == 9 => {
            let key = u64::from_le_bytes(b[1..9].try_into().unwrap_or_default());
            match LOOKUP_ERRORS.lock().get_or_insert_with(HashMap::new).remove(&key) {
                Some(e) => Err(Failure::Raised(e)),
                None => Err(Failure::Op(OpError::rejected("lookup failed"))),
            }
        }
        _ => Err(Failure::Op(OpError::rejected("malformed lookup result"))),
    }
}

// ------------------------------------------------------------ state machine

/// A state machine failure, recorded for `Host.failures()`.
type Failures = Arc<Mutex<Vec<(u64, u64, String)>>>;

/// A Python object with `apply`, `snapshot`, `restore` and `lookup`, as the
/// host's [`StateMachine`]. Each call takes the GIL for the Python call only.
struct PyStateMachine {
    obj: Py<PyAny>,
    group: u64,
    replica: u64,
    failures: Failures,
}

/// The text of a Python exception with its traceback, for reports.
fn describe(py: Python<'_>, e: &PyErr) -> String {
    let tb = e.traceback(py).and_then(|t| t.format().ok()).unwrap_or_default();
    let name = e.get_type(py).name().map(|n| n.to_string()).unwrap_or_else(|_| "Exception".into());
    format!("{name}: {}\n{tb}", e.value(py)).trim_end().to_string()
}

impl PyStateMachine {
    fn call_apply(&self, py: Python<'_>, entries: &[Entry]) -> PyResult<Vec<Bytes>> {
        let list = PyList::empty(py);
        for e in entries {
            list.append(Py::new(py, PyEntry { inner: e.clone() })?)?;
        }
        let out = self.obj.bind(py).call_method1("apply", (list,))?;
        let n = out.len().map_err(|_| PyTypeError::new_err("apply must return a list of bytes, one per entry"))?;
        if n != entries.len() {
            return Err(PyValueError::new_err(format!("apply returned {n} results for {} entries", entries.len())));
        }
        let mut results = Vec::with_capacity(n);
        for r in out.try_iter()? {
            let r = r?;
            let b = r.downcast::<PyBytes>().map_err(|_| PyTypeError::new_err("apply must return bytes for every entry"))?;
            results.push(Bytes::copy_from_slice(b.as_bytes()));
        }
        Ok(results)
    }

    /// Records a failure and tells Python's logging about it.
    fn report(&self, py: Python<'_>, what: &str, e: &PyErr) -> String {
        let text = describe(py, e);
        let msg = format!("group {} replica {}: state machine {what} raised: {text}", self.group, self.replica);
        self.failures.lock().push((self.group, self.replica, msg.clone()));
        if let Ok(logging) = py.import("logging") {
            if let Ok(log) = logging.call_method1("getLogger", ("polyraft.host",)) {
                let _ = log.call_method1("error", ("%s", msg.as_str()));
            }
        }
        msg
    }
}

impl StateMachine for PyStateMachine {
    fn apply(&mut self, entries: &[Entry]) -> Vec<Bytes> {
        let r = Python::with_gil(|py| {
            let _cb = InCallback::enter();
            self.call_apply(py, entries).map_err(|e| self.report(py, "apply", &e))
        });
        match r {
            Ok(v) => v,
            // The state may be half-changed: the host stops this replica,
            // as for a panic (resume_unwind skips the panic hook's output;
            // the host reports the stop).
            Err(msg) => std::panic::resume_unwind(Box::new(msg)),
        }
    }

    fn snapshot(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let data = Python::with_gil(|py| -> Result<Vec<u8>, String> {
            let _cb = InCallback::enter();
            let run = || -> PyResult<Vec<u8>> {
                let bio = py.import("io")?.call_method0("BytesIO")?;
                self.obj.bind(py).call_method1("snapshot", (&bio,))?;
                let v = bio.call_method0("getvalue")?;
                Ok(v.downcast::<PyBytes>()?.as_bytes().to_vec())
            };
            run().map_err(|e| self.report(py, "snapshot", &e))
        });
        w.write_all(&data.map_err(std::io::Error::other)?)
    }

    fn restore(&mut self, r: &mut dyn Read) -> std::io::Result<()> {
        let mut data = Vec::new();
        r.read_to_end(&mut data)?;
        Python::with_gil(|py| {
            let _cb = InCallback::enter();
            let run = || -> PyResult<()> {
                let bio = py.import("io")?.call_method1("BytesIO", (PyBytes::new(py, &data),))?;
                self.obj.bind(py).call_method1("restore", (bio,))?;
                Ok(())
            };
            run().map_err(|e| self.report(py, "restore", &e))
        })
        .map_err(std::io::Error::other)
    }

    fn lookup(&self, query: &[u8]) -> Bytes {
        Python::with_gil(|py| {
            let _cb = InCallback::enter();
            let run = || -> PyResult<Vec<u8>> {
                let v = self.obj.bind(py).call_method1("lookup", (PyBytes::new(py, query),))?;
                let b = v.downcast::<PyBytes>().map_err(|_| PyTypeError::new_err("lookup must return bytes"))?;
                let mut out = Vec::with_capacity(b.as_bytes().len() + 1);
                out.push(LOOKUP_OK);
                out.extend_from_slice(b.as_bytes());
                Ok(out)
            };
            match run() {
                Ok(v) => Bytes::from(v),
                // A read-only query cannot damage the state: the reader
                // gets the exception, the replica keeps running.
                Err(e) => {
                    let key = NEXT_LOOKUP_ERROR.fetch_add(1, Ordering::Relaxed);
                    LOOKUP_ERRORS.lock().get_or_insert_with(HashMap::new).insert(key, e);
                    let mut out = vec![LOOKUP_RAISED];
                    out.extend_from_slice(&key.to_le_bytes());
                    Bytes::from(out)
                }
            }
        })
    }
}

// ------------------------------------------------------------ network

/// An in-process network joining the hosts of one process (tests,
/// examples). Partitions can be cut and healed.
#[pyclass(module = "polyraft._native", name = "InProcNetwork", frozen)]
pub struct PyInProcNetwork {
    net: InProcNetwork,
}

#[pymethods]
impl PyInProcNetwork {
    #[new]
    fn new() -> Self {
        PyInProcNetwork { net: InProcNetwork::new() }
    }

    /// Cuts both directions between hosts `a` and `b` (frames are dropped).
    fn partition(&self, a: u64, b: u64) {
        self.net.set_partitioned(a, b, true);
    }

    /// Restores both directions between hosts `a` and `b`.
    fn heal(&self, a: u64, b: u64) {
        self.net.set_partitioned(a, b, false);
    }

    fn __repr__(&self) -> String {
        "InProcNetwork()".into()
    }
}

/// A transport for a host on no network: every frame is refused, so only
/// single-replica groups make progress.
struct NoNetwork;

impl Transport for NoNetwork {
    fn send(&self, to: u64, frame: Frame) -> Result<(), SendError> {
        Err(SendError { reason: format!("host {to}: this host has no network"), frame })
    }
}

/// Where a host's frames go. This is the seam for the TCP/TLS transport:
/// it becomes one more variant, built from its own config object passed as
/// `network=`.
enum Network {
    Standalone,
    InProc(InProcNetwork),
}

impl Network {
    fn from_py(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        match obj {
            None => Ok(Network::Standalone),
            Some(o) if o.is_none() => Ok(Network::Standalone),
            Some(o) => match o.downcast::<PyInProcNetwork>() {
                Ok(n) => Ok(Network::InProc(n.get().net.clone())),
                Err(_) => Err(PyTypeError::new_err("network must be an InProcNetwork or None")),
            },
        }
    }

    fn transport(&self, host: u64) -> Arc<dyn Transport> {
        match self {
            Network::Standalone => Arc::new(NoNetwork),
            Network::InProc(n) => n.endpoint(host),
        }
    }
}

// ------------------------------------------------------------ session

/// A client's identity for exactly-once proposals in one group.
#[pyclass(module = "polyraft._native", name = "Session", frozen)]
pub struct PySession {
    inner: Arc<Mutex<SessionState>>,
    group: u64,
    client_id: u64,
}

struct SessionState {
    session: Session,
    in_flight: bool,
}

#[pymethods]
impl PySession {
    #[new]
    #[pyo3(signature = (group, client_id = None))]
    fn new(group: u64, client_id: Option<u64>) -> PyResult<Self> {
        let client_id = match client_id {
            Some(0) => return Err(PyValueError::new_err("client_id 0 is reserved")),
            Some(c) => c,
            None => loop {
                let c = fastrand_u64();
                if c != 0 {
                    break c;
                }
            },
        };
        Ok(PySession { inner: Arc::new(Mutex::new(SessionState { session: Session::new(group, client_id), in_flight: false })), group, client_id })
    }

    /// The group the session proposes to.
    #[getter]
    fn group(&self) -> u64 {
        self.group
    }

    /// The client's id, unique among the group's clients.
    #[getter]
    fn client_id(&self) -> u64 {
        self.client_id
    }

    /// The series number the next (or retried) proposal carries.
    #[getter]
    fn series(&self) -> u64 {
        self.inner.lock().session.series()
    }

    /// The highest series whose outcome the client has received.
    #[getter]
    fn responded_to(&self) -> u64 {
        self.inner.lock().session.responded_to()
    }

    /// Moves on from the current proposal after a timeout without retrying
    /// it (the host does this itself after a definite outcome): the next
    /// proposal gets a new series. The abandoned one may still apply.
    fn proposal_completed(&self) -> PyResult<()> {
        let mut s = self.inner.lock();
        if s.in_flight {
            return Err(PyRuntimeError::new_err("the session has a proposal in flight"));
        }
        s.session.proposal_completed();
        Ok(())
    }

    fn __repr__(&self) -> String {
        let s = self.inner.lock();
        format!("Session(group={}, client_id={}, series={})", self.group, self.client_id, s.session.series())
    }
}

/// A random 64-bit value without a dependency: std's SipHash keys are
/// random per process.
fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

impl PySession {
    /// Marks a proposal in flight, or refuses a second one.
    fn begin(&self) -> PyResult<Session> {
        let mut s = self.inner.lock();
        if s.in_flight {
            return Err(PyRuntimeError::new_err("the session already has a proposal in flight; await its outcome first"));
        }
        s.in_flight = true;
        Ok(s.session.clone())
    }

    /// A completion that advances the session after a definite outcome
    /// (completed or rejected) and keeps its series after a timeout, so
    /// the retry is the same proposal.
    fn finisher(&self, done: Box<dyn FnOnce(OpResult<Bytes>) + Send>) -> Completion<Bytes> {
        let inner = self.inner.clone();
        Box::new(move |r| {
            {
                let mut s = inner.lock();
                s.in_flight = false;
                if !matches!(r, Err(OpError::TimedOut)) {
                    s.session.proposal_completed();
                }
            }
            done(r)
        })
    }
}

// ------------------------------------------------------------ group info

/// What a host knows about one of its replicas' groups.
#[pyclass(module = "polyraft._native", name = "GroupInfo", frozen, get_all)]
pub struct PyGroupInfo {
    /// The group.
    group: u64,
    /// The local replica's id.
    replica: u64,
    /// The leader's replica id as known here (0: none).
    leader: u64,
    /// The local replica's term.
    term: u64,
    /// Whether the local replica leads.
    is_leader: bool,
    /// Voting members as of the applied index.
    voters: Vec<u64>,
    /// Learners as of the applied index.
    learners: Vec<u64>,
    /// Applied index.
    applied: u64,
    /// Committed index.
    committed: u64,
    /// Last log index.
    last_index: u64,
    /// Index of the latest snapshot.
    snapshot_index: u64,
    /// Whether the group is quiesced here.
    quiesced: bool,
    /// The group's address book: replica id -> host id.
    hosts: std::collections::BTreeMap<u64, u64>,
}

impl From<GroupInfo> for PyGroupInfo {
    fn from(g: GroupInfo) -> Self {
        PyGroupInfo {
            group: g.group,
            replica: g.replica,
            leader: g.leader,
            term: g.term,
            is_leader: g.is_leader,
            voters: g.voters,
            learners: g.learners,
            applied: g.applied,
            committed: g.committed,
            last_index: g.last_index,
            snapshot_index: g.snapshot_index,
            quiesced: g.quiesced,
            hosts: g.hosts,
        }
    }
}

#[pymethods]
impl PyGroupInfo {
    fn __repr__(&self) -> String {
        format!(
            "GroupInfo(group={}, replica={}, leader={}, term={}, voters={:?}, learners={:?}, applied={})",
            self.group, self.replica, self.leader, self.term, self.voters, self.learners, self.applied
        )
    }
}

// ------------------------------------------------------------ asyncio bridge

/// Outcomes of operations started by the asyncio API, waiting for the
/// event loop. Worker threads push without the GIL; the first push of a
/// burst calls `wake` (which schedules a drain with the loop's
/// `call_soon_threadsafe`), and the loop takes them all with `take()`.
#[pyclass(module = "polyraft._native", name = "_CompletionQueue", frozen)]
pub struct PyCompletionQueue {
    inner: Arc<Queue>,
}

struct Queue {
    items: Mutex<VecDeque<(u64, Outcome)>>,
    scheduled: AtomicBool,
    wake: Py<PyAny>,
}

impl Queue {
    fn push(&self, token: u64, outcome: Outcome) {
        self.items.lock().push_back((token, outcome));
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            // A closed loop refuses the call; its futures are gone anyway.
            Python::with_gil(|py| drop(self.wake.call0(py)));
        }
    }
}

#[pymethods]
impl PyCompletionQueue {
    #[new]
    fn new(wake: Py<PyAny>) -> Self {
        PyCompletionQueue { inner: Arc::new(Queue { items: Mutex::new(VecDeque::new()), scheduled: AtomicBool::new(false), wake }) }
    }

    /// Every outcome so far: `(token, ok, value)` with `value` the result
    /// (bytes or None) or the exception.
    fn take<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        // Cleared first: an outcome pushed from now on schedules another
        // drain, so none is left behind.
        self.inner.scheduled.store(false, Ordering::Release);
        let items: Vec<(u64, Outcome)> = self.inner.items.lock().drain(..).collect();
        let out = PyList::empty(py);
        for (token, o) in items {
            let t = match o {
                Ok(Some(b)) => PyTuple::new(py, [token.into_pyobject(py)?.into_any(), true.into_pyobject(py)?.to_owned().into_any(), PyBytes::new(py, &b).into_any()])?,
                Ok(None) => PyTuple::new(py, [token.into_pyobject(py)?.into_any(), true.into_pyobject(py)?.to_owned().into_any(), py.None().into_bound(py)])?,
                Err(f) => PyTuple::new(py, [token.into_pyobject(py)?.into_any(), false.into_pyobject(py)?.to_owned().into_any(), f.into_py_err(py).into_value(py).into_bound(py).into_any()])?,
            };
            out.append(t)?;
        }
        Ok(out)
    }
}

// ------------------------------------------------------------ host

/// Hosts not closed yet, so that interpreter exit can stop their threads
/// before Python is gone (`polyraft.host` registers `_close_all_hosts`
/// with atexit).
static LIVE: Mutex<Vec<Weak<Host>>> = Mutex::new(Vec::new());

/// Stops every host still running (called at interpreter exit).
#[pyfunction]
pub fn _close_all_hosts(py: Python<'_>) {
    let hosts: Vec<Arc<Host>> = LIVE.lock().drain(..).filter_map(|w| w.upgrade()).collect();
    py.allow_threads(|| hosts.iter().for_each(|h| h.close()));
}

/// One process's runtime for many raft groups: see `polyraft/_native.pyi`.
#[pyclass(module = "polyraft._native", name = "Host", frozen)]
pub struct PyHost {
    host: Mutex<Option<Arc<Host>>>,
    id: u64,
    net: Option<InProcNetwork>,
    failures: Failures,
}

impl Drop for PyHost {
    fn drop(&mut self) {
        if let Some(h) = self.host.lock().take() {
            if IN_CALLBACK.with(|c| c.get()) {
                // Dropped by a state machine callback on a worker: closing
                // here would join that worker from itself.
                let _ = std::thread::Builder::new().name("polyraft-host-close".into()).spawn(move || h.close());
                return;
            }
            // A worker may be waiting for the GIL to run a callback.
            Python::with_gil(|py| py.allow_threads(|| h.close()));
        }
    }
}

/// The membership change kinds of the asyncio API.
const ADD_REPLICA: u8 = 0;
const ADD_LEARNER: u8 = 1;
const REMOVE_REPLICA: u8 = 2;
const TRANSFER_LEADER: u8 = 3;

impl PyHost {
    fn get(&self, py: Python<'_>) -> PyResult<Arc<Host>> {
        self.host.lock().clone().ok_or_else(|| closed_err(py))
    }

    /// Runs a blocking client operation that yields bytes.
    fn wait_bytes(&self, py: Python<'_>, f: impl FnOnce(&Host, Completion<Bytes>)) -> PyResult<Py<PyBytes>> {
        let h = self.get(py)?;
        let r: OpResult<Bytes> = block_on(py, |done| f(&h, done))?;
        r.map(|b| PyBytes::new(py, &b).unbind()).map_err(|e| op_err(py, &e))
    }

    fn wait_unit(&self, py: Python<'_>, f: impl FnOnce(&Host, Completion<()>)) -> PyResult<()> {
        let h = self.get(py)?;
        let r: OpResult<()> = block_on(py, |done| f(&h, done))?;
        r.map_err(|e| op_err(py, &e))
    }

    fn wait_read(&self, py: Python<'_>, f: impl FnOnce(&Host, Completion<Bytes>)) -> PyResult<Py<PyBytes>> {
        let h = self.get(py)?;
        let r: Result<Bytes, Failure> = block_on(py, |done| f(&h, Box::new(move |r| done(untag_lookup(r)))))?;
        r.map(|b| PyBytes::new(py, &b).unbind()).map_err(|e| e.into_py_err(py))
    }

    fn membership(kind: u8, replica: u64, host: u64) -> PyResult<Membership> {
        match kind {
            ADD_REPLICA => Ok(Membership::AddReplica { replica, host }),
            ADD_LEARNER => Ok(Membership::AddLearner { replica, host }),
            REMOVE_REPLICA => Ok(Membership::RemoveReplica { replica }),
            _ => Err(PyValueError::new_err(format!("unknown membership change kind {kind}"))),
        }
    }
}

fn bytes_done(q: &Arc<Queue>, token: u64) -> Completion<Bytes> {
    let q = q.clone();
    Box::new(move |r| q.push(token, r.map(Some).map_err(Failure::Op)))
}

fn unit_done(q: &Arc<Queue>, token: u64) -> Completion<()> {
    let q = q.clone();
    Box::new(move |r| q.push(token, r.map(|()| None).map_err(Failure::Op)))
}

fn read_done(q: &Arc<Queue>, token: u64) -> Completion<Bytes> {
    let q = q.clone();
    Box::new(move |r| q.push(token, untag_lookup(r).map(Some)))
}

#[pymethods]
impl PyHost {
    #[new]
    #[pyo3(signature = (host_id, *, network = None, data_dir = None, tick_interval = 0.1, election_ticks = 10,
                        heartbeat_ticks = 1, snapshot_entries = 10_000, compaction_overhead = 5_000, quiesce = true,
                        workers = 0, max_sessions = 10_000, seed = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        host_id: u64,
        network: Option<&Bound<'_, PyAny>>,
        data_dir: Option<PathBuf>,
        tick_interval: f64,
        election_ticks: usize,
        heartbeat_ticks: usize,
        snapshot_entries: u64,
        compaction_overhead: u64,
        quiesce: bool,
        workers: usize,
        max_sessions: usize,
        seed: Option<u64>,
    ) -> PyResult<Self> {
        let network = Network::from_py(network)?;
        if election_ticks <= heartbeat_ticks || heartbeat_ticks == 0 {
            return Err(PyValueError::new_err("need 0 < heartbeat_ticks < election_ticks"));
        }
        let mut cfg = HostConfig::new(host_id);
        cfg.tick_interval = to_duration("tick_interval", tick_interval)?;
        cfg.election_ticks = election_ticks;
        cfg.heartbeat_ticks = heartbeat_ticks;
        cfg.snapshot_entries = snapshot_entries;
        cfg.compaction_overhead = compaction_overhead;
        cfg.quiesce = quiesce;
        cfg.workers = workers;
        cfg.max_sessions = max_sessions;
        cfg.seed = seed;
        let (log, snapshots): (Arc<dyn LogStore>, Arc<dyn SnapshotStore>) = match &data_dir {
            None => (Arc::new(MemLogStore::new()), Arc::new(MemSnapshotStore::new())),
            Some(dir) => {
                let log = py.allow_threads(|| FileLogStore::open(dir.join("log"), Default::default()));
                let log = log.map_err(|e| hosting_err(py, &HostError::Log(e)))?;
                let snaps = FileSnapshotStore::open(dir.join("snapshots")).map_err(|e| hosting_err(py, &HostError::Snapshot(e)))?;
                (Arc::new(log), Arc::new(snaps))
            }
        };
        let parts = HostParts { log, snapshots, transport: network.transport(host_id), clock: Arc::new(SystemClock::default()) };
        let host = Arc::new(Host::new(cfg, parts).map_err(|e| hosting_err(py, &e))?);
        let net = match network {
            Network::InProc(n) => {
                n.register(host_id, host.inbound());
                Some(n)
            }
            Network::Standalone => None,
        };
        let mut live = LIVE.lock();
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&host));
        Ok(PyHost { host: Mutex::new(Some(host)), id: host_id, net, failures: Arc::default() })
    }

    /// This host's id.
    #[getter]
    fn id(&self) -> u64 {
        self.id
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.host.lock().is_none()
    }

    /// Starts (or restarts from the log) the replica of `group`.
    #[pyo3(signature = (group, replica, state_machine, *, members = None, join = false))]
    fn start_replica(
        &self,
        py: Python<'_>,
        group: u64,
        replica: u64,
        state_machine: Py<PyAny>,
        members: Option<std::collections::BTreeMap<u64, u64>>,
        join: bool,
    ) -> PyResult<()> {
        let mode = match (members, join) {
            (Some(m), false) => StartMode::Bootstrap(m.into_iter().collect()),
            (None, true) => StartMode::Join,
            _ => return Err(PyValueError::new_err("pass members={replica: host, ...} to bootstrap a group, or join=True to join one")),
        };
        for m in ["apply", "snapshot", "restore", "lookup"] {
            if !state_machine.bind(py).hasattr(m)? {
                return Err(PyTypeError::new_err(format!("state_machine has no {m}() method")));
            }
        }
        refuse_in_callback()?;
        let h = self.get(py)?;
        let sm = PyStateMachine { obj: state_machine, group, replica, failures: self.failures.clone() };
        let r = py.allow_threads(|| h.start_replica(group, replica, mode, Box::new(move |_, _| Box::new(sm))));
        r.map_err(|e| hosting_err(py, &e))
    }

    /// Stops the local replica of `group`; its log stays.
    fn stop_replica(&self, py: Python<'_>, group: u64) -> PyResult<()> {
        refuse_in_callback()?;
        let h = self.get(py)?;
        py.allow_threads(|| h.stop_replica(group)).map_err(|e| hosting_err(py, &e))
    }

    /// Proposes `command` and returns the state machine's result for it.
    #[pyo3(signature = (group, command, timeout = 5.0))]
    fn propose(&self, py: Python<'_>, group: u64, command: &[u8], timeout: f64) -> PyResult<Py<PyBytes>> {
        let t = to_duration("timeout", timeout)?;
        self.wait_bytes(py, |h, done| h.propose_async(group, command, t, done))
    }

    /// Proposes `command` within `session`: retried after a timeout with
    /// the same session, it applies at most once.
    #[pyo3(signature = (session, command, timeout = 5.0))]
    fn propose_session(&self, py: Python<'_>, session: &PySession, command: &[u8], timeout: f64) -> PyResult<Py<PyBytes>> {
        let t = to_duration("timeout", timeout)?;
        refuse_in_callback()?;
        let h = self.get(py)?;
        let s = session.begin()?;
        let r: OpResult<Bytes> = block_on(py, |done| h.propose_session_async(&s, command, t, session.finisher(done)))?;
        r.map(|b| PyBytes::new(py, &b).unbind()).map_err(|e| op_err(py, &e))
    }

    /// Drops the session's state (its cached results) in its group.
    #[pyo3(signature = (session, timeout = 5.0))]
    fn close_session(&self, py: Python<'_>, session: &PySession, timeout: f64) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        refuse_in_callback()?;
        let h = self.get(py)?;
        let s = session.inner.lock().session.clone();
        py.allow_threads(|| h.close_session(&s, t)).map_err(|e| op_err(py, &e))
    }

    /// A linearizable read: ReadIndex, then `lookup(query)`.
    #[pyo3(signature = (group, query, timeout = 5.0))]
    fn read(&self, py: Python<'_>, group: u64, query: &[u8], timeout: f64) -> PyResult<Py<PyBytes>> {
        let t = to_duration("timeout", timeout)?;
        self.wait_read(py, |h, done| h.read_async(group, query, t, done))
    }

    /// `lookup(query)` on the local replica as it is (may be stale).
    fn stale_read(&self, py: Python<'_>, group: u64, query: &[u8]) -> PyResult<Py<PyBytes>> {
        self.wait_read(py, |h, done| h.stale_read_async(group, query, done))
    }

    /// Adds a voter (or promotes a learner) running on host `host`.
    #[pyo3(signature = (group, replica, host, timeout = 5.0))]
    fn add_replica(&self, py: Python<'_>, group: u64, replica: u64, host: u64, timeout: f64) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        self.wait_unit(py, |h, done| h.change_membership_async(group, Membership::AddReplica { replica, host }, t, done))
    }

    /// Adds a non-voting learner running on host `host`.
    #[pyo3(signature = (group, replica, host, timeout = 5.0))]
    fn add_learner(&self, py: Python<'_>, group: u64, replica: u64, host: u64, timeout: f64) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        self.wait_unit(py, |h, done| h.change_membership_async(group, Membership::AddLearner { replica, host }, t, done))
    }

    /// Removes a replica (voter or learner) from the group.
    #[pyo3(signature = (group, replica, timeout = 5.0))]
    fn remove_replica(&self, py: Python<'_>, group: u64, replica: u64, timeout: f64) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        self.wait_unit(py, |h, done| h.change_membership_async(group, Membership::RemoveReplica { replica }, t, done))
    }

    /// Hands leadership of the group to replica `target`.
    #[pyo3(signature = (group, target, timeout = 5.0))]
    fn transfer_leader(&self, py: Python<'_>, group: u64, target: u64, timeout: f64) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        self.wait_unit(py, |h, done| h.transfer_leader_async(group, target, t, done))
    }

    /// Leader, term, members and indexes of the local replica, or None.
    fn group_info(&self, py: Python<'_>, group: u64) -> PyResult<Option<PyGroupInfo>> {
        refuse_in_callback()?;
        let h = self.get(py)?;
        Ok(py.allow_threads(|| h.group_info(group)).map(PyGroupInfo::from))
    }

    /// Tells the host that `host` is down: groups it led wake up and elect.
    fn report_host_down(&self, py: Python<'_>, host: u64) -> PyResult<usize> {
        refuse_in_callback()?;
        let h = self.get(py)?;
        Ok(py.allow_threads(|| h.report_host_down(host)))
    }

    /// The host's counters and gauges by name.
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        refuse_in_callback()?;
        let h = self.get(py)?;
        let m = py.allow_threads(|| h.metrics());
        let d = PyDict::new(py);
        macro_rules! put {
            ($($f:ident),*) => { $( d.set_item(stringify!($f), m.$f)?; )* };
        }
        put!(proposals, proposals_rejected, proposals_timed_out, reads, commits, applies, dedup_hits, elections,
             snapshots_created, snapshots_installed, snapshots_sent, log_writes, fsyncs, batch_groups,
             max_batch_groups, entries_written, bytes_written, log_errors, messages_sent, frames_sent,
             messages_received, step_errors, send_failures, group_ticks, quiesces, wakeups, groups,
             active_groups, queue_depth, pending_ops);
        Ok(d)
    }

    /// The host's and its groups' metrics as Prometheus text.
    fn prometheus(&self, py: Python<'_>) -> PyResult<String> {
        refuse_in_callback()?;
        let h = self.get(py)?;
        Ok(py.allow_threads(|| h.prometheus()))
    }

    /// State machine failures so far: `(group, replica, report)`. A failed
    /// `apply` stopped its replica.
    fn failures(&self) -> Vec<(u64, u64, String)> {
        self.failures.lock().clone()
    }

    /// Stops every replica and worker; waiting operations complete
    /// (proposals as timed out, the rest as rejected). Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        refuse_in_callback()?;
        let h = self.host.lock().take();
        if let Some(h) = h {
            if let Some(n) = &self.net {
                n.unregister(self.id);
            }
            py.allow_threads(|| h.close());
        }
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(&self, py: Python<'_>, _t: Py<PyAny>, _v: Py<PyAny>, _tb: Py<PyAny>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!("Host(id={}{})", self.id, if self.closed() { ", closed" } else { "" })
    }

    // ---- the non-blocking forms, for polyraft.host.AsyncHost: each
    // queues the operation and later pushes (token, outcome) to `queue`.

    fn _propose_to(&self, py: Python<'_>, queue: &PyCompletionQueue, token: u64, group: u64, command: &[u8], timeout: f64) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        self.get(py)?.propose_async(group, command, t, bytes_done(&queue.inner, token));
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn _propose_session_to(&self, py: Python<'_>, queue: &PyCompletionQueue, token: u64, session: &PySession, command: &[u8], timeout: f64) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        let h = self.get(py)?;
        let s = session.begin()?;
        h.propose_session_async(&s, command, t, session.finisher(bytes_done(&queue.inner, token)));
        Ok(())
    }

    fn _read_to(&self, py: Python<'_>, queue: &PyCompletionQueue, token: u64, group: u64, query: &[u8], timeout: f64) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        self.get(py)?.read_async(group, query, t, read_done(&queue.inner, token));
        Ok(())
    }

    fn _stale_read_to(&self, py: Python<'_>, queue: &PyCompletionQueue, token: u64, group: u64, query: &[u8]) -> PyResult<()> {
        self.get(py)?.stale_read_async(group, query, read_done(&queue.inner, token));
        Ok(())
    }

    /// `kind`: 0 add replica, 1 add learner, 2 remove replica, 3 transfer
    /// leadership to `replica` (`host` unused for 2 and 3).
    #[allow(clippy::too_many_arguments)]
    fn _change_to(&self, py: Python<'_>, queue: &PyCompletionQueue, token: u64, group: u64, kind: u8, replica: u64, host: u64, timeout: f64) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        let h = self.get(py)?;
        if kind == TRANSFER_LEADER {
            h.transfer_leader_async(group, replica, t, unit_done(&queue.inner, token));
        } else {
            let change = Self::membership(kind, replica, host)?;
            h.change_membership_async(group, change, t, unit_done(&queue.inner, token));
        }
        Ok(())
    }
}

/// Adds the host's classes and functions to the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyHost>()?;
    m.add_class::<PySession>()?;
    m.add_class::<PyGroupInfo>()?;
    m.add_class::<PyInProcNetwork>()?;
    m.add_class::<PyCompletionQueue>()?;
    m.add_function(wrap_pyfunction!(_close_all_hosts, m)?)?;
    Ok(())
}
