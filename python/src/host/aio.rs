//! The asyncio bridge: outcomes queued by worker threads, drained by the
//! event loop.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use polyraft_host::Completion;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use super::errors::{Failure, Outcome};
use super::statemachine::untag_lookup;

/// Outcomes of operations started by the asyncio API, waiting for the
/// event loop. Worker threads push without the GIL; the first push of a
/// burst calls `wake` (which schedules a drain with the loop's
/// `call_soon_threadsafe`), and the loop takes them all with `take()`.
#[pyclass(module = "polyraft._native", name = "_CompletionQueue", frozen)]
pub struct PyCompletionQueue {
    pub(crate) inner: Arc<Queue>,
}

pub(crate) struct Queue {
    pub(crate) items: Mutex<VecDeque<(u64, Outcome)>>,
    pub(crate) scheduled: AtomicBool,
    pub(crate) wake: Py<PyAny>,
}

impl Queue {
    pub(crate) fn push(&self, token: u64, outcome: Outcome) {
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
        PyCompletionQueue {
            inner: Arc::new(Queue { items: Mutex::new(VecDeque::new()), scheduled: AtomicBool::new(false), wake }),
        }
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
                Ok(Some(b)) => PyTuple::new(
                    py,
                    [
                        token.into_pyobject(py)?.into_any(),
                        true.into_pyobject(py)?.to_owned().into_any(),
                        PyBytes::new(py, &b).into_any(),
                    ],
                )?,
                Ok(None) => PyTuple::new(
                    py,
                    [
                        token.into_pyobject(py)?.into_any(),
                        true.into_pyobject(py)?.to_owned().into_any(),
                        py.None().into_bound(py),
                    ],
                )?,
                Err(f) => PyTuple::new(
                    py,
                    [
                        token.into_pyobject(py)?.into_any(),
                        false.into_pyobject(py)?.to_owned().into_any(),
                        f.into_py_err(py).into_value(py).into_bound(py).into_any(),
                    ],
                )?,
            };
            out.append(t)?;
        }
        Ok(out)
    }
}

pub(crate) fn bytes_done(q: &Arc<Queue>, token: u64) -> Completion<Bytes> {
    let q = q.clone();
    Box::new(move |r| q.push(token, r.map(Some).map_err(Failure::Op)))
}

pub(crate) fn unit_done(q: &Arc<Queue>, token: u64) -> Completion<()> {
    let q = q.clone();
    Box::new(move |r| q.push(token, r.map(|()| None).map_err(Failure::Op)))
}

pub(crate) fn read_done(q: &Arc<Queue>, token: u64) -> Completion<Bytes> {
    let q = q.clone();
    Box::new(move |r| q.push(token, untag_lookup(r).map(Some)))
}
