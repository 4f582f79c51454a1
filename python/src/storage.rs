//! MemoryStorage for Python, and the adapter that lets a node read its log
//! from a storage object written in Python.

use std::sync::Arc;

use parking_lot::Mutex;
use polyraft::raftpb::{ConfState, Entry, HardState, Snapshot};
use polyraft::{Error, MemoryStorage, Storage};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::common::{check, common_attr, BytesLike};
use crate::types::{entries, PyConfState, PyEntry, PyHardState, PySnapshot};

/// In-memory storage with etcd MemoryStorage's semantics. One instance may
/// be given to a RawNode and kept by the application: both see the same
/// data. Safe to use from several threads.
#[pyclass(module = "polyraft._native", name = "MemoryStorage", frozen)]
pub struct PyMemoryStorage {
    pub inner: MemoryStorage,
}

#[pymethods]
impl PyMemoryStorage {
    #[new]
    #[pyo3(signature = (*, conf_state = None))]
    fn new(conf_state: Option<PyConfState>) -> Self {
        let inner = match conf_state {
            Some(cs) => MemoryStorage::new_with_conf_state(cs.inner),
            None => MemoryStorage::new(),
        };
        PyMemoryStorage { inner }
    }

    /// The saved HardState and the snapshot's ConfState.
    fn initial_state(&self, py: Python<'_>) -> PyResult<(PyHardState, PyConfState)> {
        let (hs, cs) = guarded(py, || self.inner.initial_state())?;
        Ok((PyHardState { inner: hs }, PyConfState { inner: cs }))
    }

    /// Entries in [lo, hi), at most `max_size` bytes (but at least one).
    #[pyo3(signature = (lo, hi, max_size = None))]
    fn entries(&self, py: Python<'_>, lo: u64, hi: u64, max_size: Option<u64>) -> PyResult<Vec<PyEntry>> {
        let es = guarded(py, || self.inner.entries(lo, hi, max_size.unwrap_or(u64::MAX)))?;
        Ok(entries(&es))
    }

    /// The term of entry `i`.
    fn term(&self, py: Python<'_>, i: u64) -> PyResult<u64> {
        guarded(py, || self.inner.term(i))
    }

    fn first_index(&self, py: Python<'_>) -> PyResult<u64> {
        guarded(py, || self.inner.first_index())
    }

    fn last_index(&self, py: Python<'_>) -> PyResult<u64> {
        guarded(py, || self.inner.last_index())
    }

    /// The most recent snapshot.
    fn snapshot(&self, py: Python<'_>) -> PyResult<PySnapshot> {
        Ok(PySnapshot { inner: guarded(py, || self.inner.snapshot())? })
    }

    /// Saves the HardState.
    fn set_hard_state(&self, hs: PyHardState) {
        self.inner.set_hard_state(hs.inner);
    }

    /// The saved HardState.
    fn hard_state(&self) -> PyHardState {
        PyHardState { inner: self.inner.hard_state() }
    }

    /// Replaces the contents with `snapshot` (SnapOutOfDateError if older).
    fn apply_snapshot(&self, py: Python<'_>, snapshot: PySnapshot) -> PyResult<()> {
        if snapshot.inner.index() >= MAX_INDEX || snapshot.inner.term() >= MAX_INDEX {
            return Err(PyValueError::new_err("snapshot index and term must be below 2**63"));
        }
        guarded(py, || self.inner.apply_snapshot(snapshot.inner))
    }

    /// Makes and keeps a snapshot up to entry `index`.
    #[pyo3(signature = (index, conf_state = None, data = BytesLike(bytes::Bytes::new())))]
    fn create_snapshot(
        &self,
        py: Python<'_>,
        index: u64,
        conf_state: Option<PyConfState>,
        data: BytesLike,
    ) -> PyResult<PySnapshot> {
        let data = data.0;
        let s = guarded(py, || self.inner.create_snapshot(index, conf_state.map(|c| c.inner), data))?;
        Ok(PySnapshot { inner: s })
    }

    /// Discards entries before `compact_index`.
    fn compact(&self, py: Python<'_>, compact_index: u64) -> PyResult<()> {
        guarded(py, || self.inner.compact(compact_index))
    }

    /// Appends entries (overwriting from the first conflicting index).
    fn append(&self, py: Python<'_>, entries: Vec<PyEntry>) -> PyResult<()> {
        let es: Vec<Entry> = entries.into_iter().map(|e| e.inner).collect();
        if let Some(first) = es.first() {
            // Indexes near 2**64 could only overflow (no real log gets there).
            if first.index.saturating_add(es.len() as u64) >= MAX_INDEX || es.iter().any(|e| e.term >= MAX_INDEX) {
                return Err(PyValueError::new_err("entry indexes and terms must be below 2**63"));
            }
        }
        guarded(py, || self.inner.append(&es))
    }

    fn __repr__(&self) -> String {
        let first = self.inner.first_index().unwrap_or(0);
        let last = self.inner.last_index().unwrap_or(0);
        format!("MemoryStorage(first_index={first}, last_index={last})")
    }
}

/// Indexes and terms from 2**63 on are refused by MemoryStorage's Python
/// methods: no real log gets there, and near 2**64 they could only overflow.
const MAX_INDEX: u64 = 1 << 63;

/// Runs a MemoryStorage operation; a panic (which no input should cause)
/// becomes StorageError instead of reaching Python.
fn guarded<T>(py: Python<'_>, f: impl FnOnce() -> polyraft::Result<T>) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => check(py, r),
        Err(_) => Err(crate::common::new_err(py, "StorageError", "internal error in MemoryStorage".into())),
    }
}

/// What Python callbacks (storage methods, the logger) raised during one
/// node call, kept to be raised from that call once it is over.
#[derive(Default)]
pub struct Stash {
    /// A storage method's exception, re-raised as the `__cause__` of the
    /// node call's error.
    err: Option<(PyErr, bool)>,
    /// The first KeyboardInterrupt, SystemExit or other BaseException that
    /// is not an Exception: the caller's own request to stop, raised as it
    /// is from the node call whatever the call's outcome.
    interrupt: Option<PyErr>,
}

/// Whether `e` is a BaseException that is not an Exception (Ctrl-C,
/// sys.exit()...): never a storage failure, never to be swallowed.
pub fn is_interrupt(py: Python<'_>, e: &PyErr) -> bool {
    !e.is_instance_of::<pyo3::exceptions::PyException>(py)
}

impl Stash {
    /// Forgets everything (at the start of a node call).
    pub fn clear(&mut self) {
        self.err = None;
        self.interrupt = None;
    }
    /// Records an interrupt; the first one wins.
    pub fn interrupt(&mut self, e: PyErr) {
        if self.interrupt.is_none() {
            self.interrupt = Some(e);
        }
    }
    /// Takes the recorded interrupt.
    pub fn take_interrupt(&mut self) -> Option<PyErr> {
        self.interrupt.take()
    }
    /// Records `e`. An exception raft cannot handle (`known == false`)
    /// wins over the storage conditions raft handles itself.
    fn put(&mut self, e: PyErr, known: bool) {
        match &self.err {
            None => self.err = Some((e, known)),
            Some((_, true)) if !known => self.err = Some((e, known)),
            _ => {}
        }
    }
    /// Takes the recorded storage exception.
    pub fn take(&mut self) -> Option<PyErr> {
        self.err.take().map(|(e, _)| e)
    }
}

pub type SharedStash = Arc<Mutex<Stash>>;

/// A storage implemented in Python: any object with the methods of the
/// `polyraft.Storage` protocol.
pub struct PyStorage {
    obj: Py<PyAny>,
    stash: SharedStash,
}

const METHODS: [&str; 6] = ["initial_state", "entries", "term", "first_index", "last_index", "snapshot"];

impl PyStorage {
    pub fn new(obj: &Bound<'_, PyAny>, stash: SharedStash) -> PyResult<Self> {
        for m in METHODS {
            if !obj.hasattr(m)? {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "storage must be a MemoryStorage, a DurableStorage or implement the Storage protocol; {} has no method {m}()",
                    obj.get_type().name()?
                )));
            }
        }
        Ok(PyStorage { obj: obj.clone().unbind(), stash })
    }

    /// Calls a storage method. An interrupt (KeyboardInterrupt...) is
    /// held back in the stash and the method, a read, is called again, up
    /// to INTERRUPT_RETRIES times: raft cannot stop half-way through an
    /// operation without failing the node for good, so the operation
    /// completes and the interrupt is raised when the node call returns.
    /// Any other exception becomes the core error raft handles.
    fn call<T>(&self, f: impl for<'py> Fn(&Bound<'py, PyAny>) -> PyResult<T>) -> polyraft::Result<T> {
        Python::with_gil(|py| {
            let mut interrupts = 0;
            loop {
                match f(self.obj.bind(py)) {
                    Ok(v) => return Ok(v),
                    Err(e) if is_interrupt(py, &e) && interrupts < INTERRUPT_RETRIES => {
                        interrupts += 1;
                        self.stash.lock().interrupt(e);
                    }
                    Err(e) => {
                        let (ce, known) = to_core(py, &e);
                        self.stash.lock().put(e, known);
                        return Err(ce);
                    }
                }
            }
        })
    }
}

/// How many interrupts one storage call absorbs before it fails (a real
/// Ctrl-C interrupts once; a method that raises KeyboardInterrupt every
/// time is a storage failure, and the node fails with it).
const INTERRUPT_RETRIES: u32 = 2;

/// The core error for an exception from a Python storage, and whether it
/// is one of the conditions raft handles (Compacted, Unavailable...).
fn to_core(py: Python<'_>, e: &PyErr) -> (Error, bool) {
    let known = [
        ("CompactedError", Error::Compacted),
        ("UnavailableError", Error::Unavailable),
        ("SnapOutOfDateError", Error::SnapOutOfDate),
        ("SnapshotTemporarilyUnavailableError", Error::SnapshotTemporarilyUnavailable),
    ];
    for (class, ce) in known {
        if let Ok(c) = common_attr(py, class) {
            if e.is_instance(py, &c) {
                return (ce, true);
            }
        }
    }
    let name = e.get_type(py).name().map(|n| n.to_string()).unwrap_or_else(|_| "Exception".into());
    let text = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
    let msg = if text.is_empty() { name } else { format!("{name}: {text}") };
    (Error::Storage(msg), false)
}

fn wrong(what: &str) -> impl FnOnce(PyErr) -> PyErr + '_ {
    move |e| {
        Python::with_gil(|py| {
            let err = pyo3::exceptions::PyTypeError::new_err(format!("Storage.{what} returned a wrong type: {e}"));
            err.set_cause(py, Some(e));
            err
        })
    }
}

impl Storage for PyStorage {
    fn initial_state(&self) -> polyraft::Result<(HardState, ConfState)> {
        self.call(|o| {
            let r = o.call_method0("initial_state")?;
            let (hs, cs): (PyHardState, PyConfState) =
                r.extract().map_err(wrong("initial_state() (expected tuple[HardState, ConfState])"))?;
            Ok((hs.inner, cs.inner))
        })
    }

    fn entries(&self, lo: u64, hi: u64, max_size: u64) -> polyraft::Result<Vec<Entry>> {
        self.call(|o| {
            let r = o.call_method1("entries", (lo, hi, max_size))?;
            let es: Vec<PyEntry> = r.extract().map_err(wrong("entries() (expected a sequence of Entry)"))?;
            let es: Vec<Entry> = es.into_iter().map(|e| e.inner).collect();
            polyraft::storage::check_entries_answer("Storage.entries", lo, hi, &es).map_err(PyValueError::new_err)?;
            Ok(es)
        })
    }

    fn term(&self, i: u64) -> polyraft::Result<u64> {
        self.call(|o| o.call_method1("term", (i,))?.extract().map_err(wrong("term() (expected int)")))
    }

    fn last_index(&self) -> polyraft::Result<u64> {
        self.call(|o| o.call_method0("last_index")?.extract().map_err(wrong("last_index() (expected int)")))
    }

    fn first_index(&self) -> polyraft::Result<u64> {
        self.call(|o| o.call_method0("first_index")?.extract().map_err(wrong("first_index() (expected int)")))
    }

    fn snapshot(&self) -> polyraft::Result<Snapshot> {
        self.call(|o| {
            let s: PySnapshot = o.call_method0("snapshot")?.extract().map_err(wrong("snapshot() (expected Snapshot)"))?;
            Ok(s.inner)
        })
    }
}

/// The storage under a node: the built-in MemoryStorage or DurableStorage
/// (no Python involved, so the GIL stays released) or a Python object.
pub enum NodeStorage {
    Memory(MemoryStorage),
    Durable(polyraft_wal::DurableStorage),
    Python(PyStorage),
}

impl Storage for NodeStorage {
    fn initial_state(&self) -> polyraft::Result<(HardState, ConfState)> {
        match self {
            NodeStorage::Memory(s) => s.initial_state(),
            NodeStorage::Durable(s) => s.initial_state(),
            NodeStorage::Python(s) => s.initial_state(),
        }
    }
    fn entries(&self, lo: u64, hi: u64, max_size: u64) -> polyraft::Result<Vec<Entry>> {
        match self {
            NodeStorage::Memory(s) => s.entries(lo, hi, max_size),
            NodeStorage::Durable(s) => s.entries(lo, hi, max_size),
            NodeStorage::Python(s) => s.entries(lo, hi, max_size),
        }
    }
    fn term(&self, i: u64) -> polyraft::Result<u64> {
        match self {
            NodeStorage::Memory(s) => s.term(i),
            NodeStorage::Durable(s) => s.term(i),
            NodeStorage::Python(s) => s.term(i),
        }
    }
    fn last_index(&self) -> polyraft::Result<u64> {
        match self {
            NodeStorage::Memory(s) => s.last_index(),
            NodeStorage::Durable(s) => s.last_index(),
            NodeStorage::Python(s) => s.last_index(),
        }
    }
    fn first_index(&self) -> polyraft::Result<u64> {
        match self {
            NodeStorage::Memory(s) => s.first_index(),
            NodeStorage::Durable(s) => s.first_index(),
            NodeStorage::Python(s) => s.first_index(),
        }
    }
    fn snapshot(&self) -> polyraft::Result<Snapshot> {
        match self {
            NodeStorage::Memory(s) => s.snapshot(),
            NodeStorage::Durable(s) => s.snapshot(),
            NodeStorage::Python(s) => s.snapshot(),
        }
    }
}

