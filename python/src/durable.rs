//! DurableStorage for Python: the core's WAL-backed storage (core/src/wal),
//! its recovery report and disk counters. Every call releases the GIL
//! while it takes the storage's lock (another thread may hold it during an
//! fsync); errors map onto StorageIOError / CorruptionError
//! (subclasses of StorageError) or the raft errors MemoryStorage raises.

use parking_lot::RwLock;

use polyraft::raftpb::{Entry, Message};
use polyraft_wal::{self as wal, DurableStorage, Options, RecoveryReport, Stats, TruncatedTail};
use polyraft::Storage;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::common::{common_attr, new_err, raft_err, BytesLike, PathArg};
use crate::types::{entries, PyConfState, PyEntry, PyHardState, PyMessage, PyReady, PySnapshot};

/// Indexes and terms from 2**63 on are refused, as by MemoryStorage.
const MAX_INDEX: u64 = 1 << 63;

fn path_str(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The exception for a durable-storage error.
fn wal_err(py: Python<'_>, e: wal::Error) -> PyErr {
    match e {
        wal::Error::Raft(e) => raft_err(py, &e),
        wal::Error::Io { op, path, source } => {
            let msg = format!("{op} {}: {source}", path.display());
            io_error(py, source.raw_os_error(), msg, Some(path_str(&path)))
        }
        wal::Error::Failed(why) => io_error(
            py,
            why.raw_os_error(),
            format!("storage failed earlier and refuses writes until reopened: {why}"),
            None,
        ),
        wal::Error::Corrupt { file, offset, reason } => {
            let msg = format!("corrupt WAL data in {} at offset {offset}: {reason}", file.display());
            match common_attr(py, "CorruptionError").and_then(|c| c.downcast_into::<PyType>().map_err(PyErr::from)) {
                Ok(t) => PyErr::from_type(t, (msg, path_str(&file), offset, reason)),
                Err(e) => e,
            }
        }
        // Locked, and kinds added later (`wal::Error` is non_exhaustive).
        other => io_error(py, other.raw_os_error(), other.to_string(), None),
    }
}

/// A StorageIOError (also an OSError): `errno` and `filename` are set when
/// known, the message says what was being done to which file.
fn io_error(py: Python<'_>, errno: Option<i32>, msg: String, filename: Option<String>) -> PyErr {
    let class = match common_attr(py, "StorageIOError").and_then(|c| c.downcast_into::<PyType>().map_err(PyErr::from))
    {
        Ok(t) => t,
        Err(e) => return e,
    };
    let made = match errno {
        // OSError(errno, strerror, filename) sets .errno, .strerror and
        // .filename; str() is "[Errno N] message: 'file'".
        Some(n) => class.call1((n, msg, filename)),
        // Without an errno, OSError's str() would read "[Errno None] None"
        // as soon as a filename is set: the message (which names the file)
        // stands alone.
        None => class.call1((msg,)),
    };
    match made {
        Ok(v) => PyErr::from_value(v),
        Err(e) => e,
    }
}

/// Runs a storage call with the GIL released; a panic (which no input
/// should cause) becomes StorageError instead of reaching Python.
fn run<T: Send>(py: Python<'_>, f: impl FnOnce() -> wal::Result<T> + Send) -> PyResult<T> {
    let r = py.allow_threads(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(wal_err(py, e)),
        Err(_) => Err(new_err(py, "StorageError", "internal error in DurableStorage".into())),
    }
}

/// Reads (never touching the disk) with core raft errors.
fn read<T: Send>(py: Python<'_>, f: impl FnOnce() -> polyraft::Result<T> + Send) -> PyResult<T> {
    run(py, || f().map_err(wal::Error::Raft))
}

fn check_entries(es: &[Entry]) -> PyResult<()> {
    if let Some(first) = es.first() {
        if first.index.saturating_add(es.len() as u64) >= MAX_INDEX || es.iter().any(|e| e.term >= MAX_INDEX) {
            return Err(PyValueError::new_err("entry indexes and terms must be below 2**63"));
        }
    }
    Ok(())
}

fn check_snapshot(s: &polyraft::raftpb::Snapshot) -> PyResult<()> {
    if s.index() >= MAX_INDEX || s.term() >= MAX_INDEX {
        return Err(PyValueError::new_err("snapshot index and term must be below 2**63"));
    }
    Ok(())
}

/// Storage persisted in one directory: a checksummed, segmented write-ahead
/// log plus atomically written snapshot files.
///
/// `close()` (or leaving a `with` block) releases the directory at once (a
/// RawNode created over the storage keeps it open until it is closed too);
/// every later call raises ValueError.
#[pyclass(module = "polyraft._native", name = "DurableStorage", frozen)]
pub struct PyDurableStorage {
    inner: RwLock<Option<DurableStorage>>,
    recovery: Py<PyRecoveryReport>,
}

impl PyDurableStorage {
    /// A handle on the open storage (shared: the files stay open while
    /// it lives), or ValueError once closed.
    pub fn handle(&self) -> PyResult<DurableStorage> {
        self.inner.read().clone().ok_or_else(|| PyValueError::new_err("DurableStorage is closed"))
    }
}

#[pymethods]
impl PyDurableStorage {
    /// Opens (creating it if needed) the storage in directory `path` and
    /// recovers its state.
    #[staticmethod]
    #[pyo3(signature = (path, *, segment_bytes = None))]
    fn open(py: Python<'_>, path: PathArg, segment_bytes: Option<u64>) -> PyResult<Self> {
        let path = path.0;
        if path.as_os_str().is_empty() {
            return Err(new_err(py, "InvalidArgumentError", "dir is empty".into()));
        }
        // No operating system call takes such a path (Python's own os
        // functions raise the same ValueError).
        if path.as_os_str().as_encoded_bytes().contains(&0) {
            return Err(PyValueError::new_err(format!(
                "DurableStorage.open: embedded null byte in path {:?}",
                path_str(&path)
            )));
        }
        let mut opts = Options::default();
        if let Some(n) = segment_bytes {
            if n == 0 {
                return Err(PyValueError::new_err("segment_bytes must be positive"));
            }
            opts.segment_bytes = n;
        }
        let (inner, report) = run(py, move || DurableStorage::open(path, opts))?;
        let recovery = Py::new(py, PyRecoveryReport::from_core(report))?;
        Ok(PyDurableStorage { inner: RwLock::new(Some(inner)), recovery })
    }

    /// Closes this handle: the directory's files and lock are released as
    /// soon as no RawNode over the storage remains open, so the directory
    /// can be reopened right away. Closing twice does nothing.
    fn close(&self, py: Python<'_>) {
        let h = self.inner.write().take();
        py.allow_threads(move || drop(h));
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.read().is_none()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes the storage (never suppresses the exception).
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> bool {
        self.close(py);
        false
    }

    /// What opening found and did.
    #[getter]
    fn recovery(&self, py: Python<'_>) -> Py<PyRecoveryReport> {
        self.recovery.clone_ref(py)
    }

    /// The storage's directory.
    #[getter]
    fn path(&self, py: Python<'_>) -> PyResult<String> {
        let h = self.handle()?;
        Ok(path_str(&py.allow_threads(|| h.dir())))
    }

    /// Gives a new, empty storage its initial configuration.
    fn bootstrap_conf_state(&self, py: Python<'_>, conf_state: PyConfState) -> PyResult<()> {
        let h = self.handle()?;
        run(py, || h.bootstrap_conf_state(conf_state.inner))
    }

    /// Persists a Ready's snapshot, entries and HardState; fsyncs when needed.
    fn persist_ready(&self, py: Python<'_>, ready: &Bound<'_, PyReady>) -> PyResult<()> {
        let rd = &ready.get().inner;
        check_entries(&rd.entries)?;
        if let Some(s) = &rd.snapshot {
            check_snapshot(s)?;
        }
        let h = self.handle()?;
        run(py, || h.persist_ready(rd))
    }

    /// Persists a MsgStorageAppend (async storage writes).
    fn persist_storage_append(&self, py: Python<'_>, message: PyMessage) -> PyResult<()> {
        let m: Message = message.inner;
        check_entries(&m.entries)?;
        if let Some(s) = &m.snapshot {
            check_snapshot(s)?;
        }
        let h = self.handle()?;
        run(py, || h.persist_storage_append(&m))
    }

    /// The saved HardState and the snapshot's ConfState.
    fn initial_state(&self, py: Python<'_>) -> PyResult<(PyHardState, PyConfState)> {
        let h = self.handle()?;
        let (hs, cs) = read(py, || h.initial_state())?;
        Ok((PyHardState { inner: hs }, PyConfState { inner: cs }))
    }

    /// Entries in [lo, hi), at most `max_size` bytes (but at least one).
    #[pyo3(signature = (lo, hi, max_size = None))]
    fn entries(&self, py: Python<'_>, lo: u64, hi: u64, max_size: Option<u64>) -> PyResult<Vec<PyEntry>> {
        let h = self.handle()?;
        let es = read(py, || h.entries(lo, hi, max_size.unwrap_or(u64::MAX)))?;
        Ok(entries(&es))
    }

    /// The term of entry `i`.
    fn term(&self, py: Python<'_>, i: u64) -> PyResult<u64> {
        let h = self.handle()?;
        read(py, || h.term(i))
    }

    fn first_index(&self, py: Python<'_>) -> PyResult<u64> {
        let h = self.handle()?;
        read(py, || h.first_index())
    }

    fn last_index(&self, py: Python<'_>) -> PyResult<u64> {
        let h = self.handle()?;
        read(py, || h.last_index())
    }

    /// The most recent snapshot.
    fn snapshot(&self, py: Python<'_>) -> PyResult<PySnapshot> {
        let h = self.handle()?;
        Ok(PySnapshot { inner: read(py, || h.snapshot())? })
    }

    /// The saved HardState.
    fn hard_state(&self, py: Python<'_>) -> PyResult<PyHardState> {
        let h = self.handle()?;
        Ok(PyHardState { inner: py.allow_threads(|| h.hard_state()) })
    }

    /// Saves the HardState durably.
    fn set_hard_state(&self, py: Python<'_>, hs: PyHardState) -> PyResult<()> {
        let h = self.handle()?;
        run(py, || h.set_hard_state(hs.inner))
    }

    /// Appends entries durably (overwriting from the first conflicting index).
    fn append(&self, py: Python<'_>, entries: Vec<PyEntry>) -> PyResult<()> {
        let es: Vec<Entry> = entries.into_iter().map(|e| e.inner).collect();
        check_entries(&es)?;
        let h = self.handle()?;
        run(py, || h.append(&es))
    }

    /// Replaces the contents with `snapshot`, durably.
    fn apply_snapshot(&self, py: Python<'_>, snapshot: PySnapshot) -> PyResult<()> {
        check_snapshot(&snapshot.inner)?;
        let h = self.handle()?;
        run(py, || h.apply_snapshot(snapshot.inner))
    }

    /// Makes and keeps, durably, a snapshot up to entry `index`.
    #[pyo3(signature = (index, conf_state = None, data = BytesLike(bytes::Bytes::new())))]
    fn create_snapshot(
        &self,
        py: Python<'_>,
        index: u64,
        conf_state: Option<PyConfState>,
        data: BytesLike,
    ) -> PyResult<PySnapshot> {
        let data = data.0;
        let h = self.handle()?;
        let s = run(py, || h.create_snapshot(index, conf_state.map(|c| c.inner), data))?;
        Ok(PySnapshot { inner: s })
    }

    /// Discards entries before `compact_index`; deletes whole segments.
    fn compact(&self, py: Python<'_>, compact_index: u64) -> PyResult<()> {
        let h = self.handle()?;
        run(py, || h.compact(compact_index))
    }

    /// Disk work counters since open.
    fn stats(&self, py: Python<'_>) -> PyResult<PyStorageStats> {
        let h = self.handle()?;
        Ok(PyStorageStats { inner: py.allow_threads(|| h.stats()) })
    }

    /// Number of WAL segment files.
    fn segment_count(&self, py: Python<'_>) -> PyResult<usize> {
        let h = self.handle()?;
        Ok(py.allow_threads(|| h.segment_count()))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        // The storage's lock may be held by a thread that is fsyncing: wait
        // for it without the GIL.
        let Ok(h) = self.handle() else {
            return "DurableStorage(<closed>)".into();
        };
        let (dir, first, last) =
            py.allow_threads(|| (h.dir(), h.first_index().unwrap_or(0), h.last_index().unwrap_or(0)));
        format!("DurableStorage({:?}, first_index={first}, last_index={last})", path_str(&dir))
    }
}

/// What `DurableStorage.open` found and did.
#[pyclass(module = "polyraft._native", name = "RecoveryReport", frozen)]
pub struct PyRecoveryReport {
    inner: RecoveryReport,
}

impl PyRecoveryReport {
    fn from_core(inner: RecoveryReport) -> Self {
        PyRecoveryReport { inner }
    }
}

#[pymethods]
impl PyRecoveryReport {
    #[getter]
    fn created(&self) -> bool {
        self.inner.created
    }
    #[getter]
    fn segments(&self) -> usize {
        self.inner.segments
    }
    #[getter]
    fn records(&self) -> u64 {
        self.inner.records
    }
    #[getter]
    fn truncated(&self) -> Option<PyTruncatedTail> {
        self.inner.truncated.clone().map(|inner| PyTruncatedTail { inner })
    }
    #[getter]
    fn removed_files(&self) -> Vec<String> {
        self.inner.removed_files.iter().map(|p| path_str(p)).collect()
    }
    #[getter]
    fn snapshot_index(&self) -> u64 {
        self.inner.snapshot_index
    }
    #[getter]
    fn first_index(&self) -> u64 {
        self.inner.first_index
    }
    #[getter]
    fn last_index(&self) -> u64 {
        self.inner.last_index
    }
    fn __repr__(&self) -> String {
        let r = &self.inner;
        let truncated = match &r.truncated {
            Some(t) => format!("{} bytes at offset {} ({})", t.dropped_bytes, t.offset, t.reason),
            None => "None".into(),
        };
        format!(
            "RecoveryReport(created={}, segments={}, records={}, snapshot_index={}, first_index={}, last_index={}, truncated={truncated}, removed_files={})",
            if r.created { "True" } else { "False" },
            r.segments,
            r.records,
            r.snapshot_index,
            r.first_index,
            r.last_index,
            r.removed_files.len()
        )
    }
}

/// A torn or corrupt tail cut off the last WAL segment at open.
#[pyclass(module = "polyraft._native", name = "TruncatedTail", frozen)]
pub struct PyTruncatedTail {
    inner: TruncatedTail,
}

#[pymethods]
impl PyTruncatedTail {
    #[getter]
    fn segment(&self) -> String {
        path_str(&self.inner.segment)
    }
    #[getter]
    fn offset(&self) -> u64 {
        self.inner.offset
    }
    #[getter]
    fn dropped_bytes(&self) -> u64 {
        self.inner.dropped_bytes
    }
    #[getter]
    fn reason(&self) -> String {
        self.inner.reason.clone()
    }
    fn __repr__(&self) -> String {
        let t = &self.inner;
        format!(
            "TruncatedTail(segment={:?}, offset={}, dropped_bytes={}, reason={:?})",
            path_str(&t.segment),
            t.offset,
            t.dropped_bytes,
            t.reason
        )
    }
}

/// Counters of the disk work of a DurableStorage since it was opened.
#[pyclass(module = "polyraft._native", name = "StorageStats", frozen, eq)]
#[derive(PartialEq)]
pub struct PyStorageStats {
    inner: Stats,
}

#[pymethods]
impl PyStorageStats {
    #[getter]
    fn fsyncs(&self) -> u64 {
        self.inner.fsyncs
    }
    #[getter]
    fn dir_fsyncs(&self) -> u64 {
        self.inner.dir_fsyncs
    }
    #[getter]
    fn bytes_written(&self) -> u64 {
        self.inner.bytes_written
    }
    #[getter]
    fn readies(&self) -> u64 {
        self.inner.readies
    }
    #[getter]
    fn segments_created(&self) -> u64 {
        self.inner.segments_created
    }
    #[getter]
    fn segments_deleted(&self) -> u64 {
        self.inner.segments_deleted
    }
    fn __repr__(&self) -> String {
        let s = &self.inner;
        format!(
            "StorageStats(fsyncs={}, dir_fsyncs={}, bytes_written={}, readies={}, segments_created={}, segments_deleted={})",
            s.fsyncs, s.dir_fsyncs, s.bytes_written, s.readies, s.segments_created, s.segments_deleted
        )
    }
}
