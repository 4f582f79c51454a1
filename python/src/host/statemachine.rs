//! A Python `StateMachine` as the host's state machine, and how a
//! `lookup` exception travels to the reader.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use polyraft::raftpb::Entry;
use polyraft_host::{OpError, OpResult, StateMachine};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use super::errors::Failure;
use super::wait::InCallback;
use crate::types::PyEntry;

/// Exceptions raised by `lookup`, waiting for the completion of the read
/// that ran it (which follows on the same worker, before anything else).
static LOOKUP_ERRORS: Mutex<Option<HashMap<u64, PyErr>>> = Mutex::new(None);
static NEXT_LOOKUP_ERROR: AtomicU64 = AtomicU64::new(1);

/// Tag of a lookup result: the state machine's bytes follow.
const LOOKUP_OK: u8 = 0;
/// Tag of a lookup that raised: the key of the exception follows.
const LOOKUP_RAISED: u8 = 1;

/// Turns a tagged lookup result back into the reader's outcome.
pub(crate) fn untag_lookup(r: OpResult<Bytes>) -> Result<Bytes, Failure> {
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
pub(crate) type Failures = Arc<Mutex<Vec<(u64, u64, String)>>>;

/// A Python object with `apply`, `snapshot`, `restore` and `lookup`, as the
/// host's [`StateMachine`]. Each call takes the GIL for the Python call only.
pub(crate) struct PyStateMachine {
    pub(crate) obj: Py<PyAny>,
    pub(crate) group: u64,
    pub(crate) replica: u64,
    pub(crate) failures: Failures,
}

/// The text of a Python exception with its traceback, for reports.
pub(crate) fn describe(py: Python<'_>, e: &PyErr) -> String {
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
            let b =
                r.downcast::<PyBytes>().map_err(|_| PyTypeError::new_err("apply must return bytes for every entry"))?;
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
