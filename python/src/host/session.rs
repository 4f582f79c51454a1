//! `polyraft.Session`: exactly-once proposals for one client.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use polyraft_host::{Completion, OpError, OpResult, Session};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// A client's identity for exactly-once proposals in one group.
#[pyclass(module = "polyraft._native", name = "Session", frozen)]
pub struct PySession {
    pub(crate) inner: Arc<Mutex<SessionState>>,
    pub(crate) group: u64,
    pub(crate) client_id: u64,
}

pub(crate) struct SessionState {
    pub(crate) session: Session,
    pub(crate) in_flight: bool,
}

#[pymethods]
impl PySession {
    #[new]
    #[pyo3(signature = (group, client_id = None, *, series = 1, responded_to = 0))]
    fn new(group: u64, client_id: Option<u64>, series: u64, responded_to: u64) -> PyResult<Self> {
        if series <= responded_to {
            return Err(PyValueError::new_err(format!("series {series} must be above responded_to {responded_to}")));
        }
        let client_id = match client_id {
            Some(0) => return Err(PyValueError::new_err("client_id 0 is reserved")),
            Some(c) => c,
            None => loop {
                let c = random_u64();
                if c != 0 {
                    break c;
                }
            },
        };
        Ok(PySession {
            inner: Arc::new(Mutex::new(SessionState {
                session: Session::resume(group, client_id, series, responded_to),
                in_flight: false,
            })),
            group,
            client_id,
        })
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
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

impl PySession {
    /// Marks a proposal in flight, or refuses a second one.
    pub(crate) fn begin(&self) -> PyResult<Session> {
        let mut s = self.inner.lock();
        if s.in_flight {
            return Err(PyRuntimeError::new_err(
                "the session already has a proposal in flight; await its outcome first",
            ));
        }
        s.in_flight = true;
        Ok(s.session.clone())
    }

    /// A completion that advances the session after a definite outcome
    /// (completed or rejected) and keeps its series after a timeout, so
    /// the retry is the same proposal.
    pub(crate) fn finisher(&self, done: Box<dyn FnOnce(OpResult<Bytes>) + Send>) -> Completion<Bytes> {
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
