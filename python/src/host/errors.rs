//! The exceptions of `polyraft.host` and the outcomes that become them.

use bytes::Bytes;
use polyraft_host::{HostError, OpError};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::PyType;

pub(crate) static HOST_MODULE: GILOnceCell<Py<PyModule>> = GILOnceCell::new();

/// A new exception of the `polyraft.host` class `class` with `msg`.
pub(crate) fn host_err(py: Python<'_>, class: &str, msg: String) -> PyErr {
    let module = HOST_MODULE.get_or_try_init(py, || py.import("polyraft.host").map(Bound::unbind));
    match module.and_then(|m| m.bind(py).getattr(class)).and_then(|c| c.downcast_into::<PyType>().map_err(PyErr::from))
    {
        Ok(t) => PyErr::from_type(t, msg),
        Err(e) => e,
    }
}

/// The exception for a failed client operation.
pub(crate) fn op_err(py: Python<'_>, e: &OpError) -> PyErr {
    match e {
        OpError::Rejected(m) => host_err(py, "ProposalRejectedError", m.clone()),
        OpError::TimedOut => host_err(py, "ProposalTimeoutError", "timed out (the outcome is unknown)".into()),
    }
}

/// The exception for a failed host-level call.
pub(crate) fn hosting_err(py: Python<'_>, e: &HostError) -> PyErr {
    match e {
        HostError::Closed => host_err(py, "HostClosedError", "host closed".into()),
        e => host_err(py, "HostError", e.to_string()),
    }
}

pub(crate) fn closed_err(py: Python<'_>) -> PyErr {
    host_err(py, "HostClosedError", "host closed".into())
}

/// Why an operation failed: the host's verdict, or the exception the state
/// machine's `lookup` raised (handed to the reader as is).
pub(crate) enum Failure {
    Op(OpError),
    Raised(PyErr),
}

impl Failure {
    pub(crate) fn into_py_err(self, py: Python<'_>) -> PyErr {
        match self {
            Failure::Op(e) => op_err(py, &e),
            Failure::Raised(e) => e,
        }
    }
}

/// What a finished operation returns: result bytes, or nothing (membership
/// changes, leader transfers, closing a session).
pub(crate) type Outcome = Result<Option<Bytes>, Failure>;
