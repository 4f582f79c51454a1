//! Access to the pure-Python half of the package (enums and exceptions in
//! `polyraft._common`) and the mapping of core errors onto exceptions.

use polyraft::Error;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::PyType;

static COMMON: GILOnceCell<Py<PyModule>> = GILOnceCell::new();

/// An attribute of `polyraft._common` (an enum or exception class).
pub fn common_attr<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let m = COMMON.get_or_try_init(py, || py.import("polyraft._common").map(Bound::unbind))?;
    m.bind(py).getattr(name)
}

/// A new exception of the `polyraft._common` class `class` with `msg`.
pub fn new_err(py: Python<'_>, class: &str, msg: String) -> PyErr {
    match common_attr(py, class).and_then(|c| c.downcast_into::<PyType>().map_err(PyErr::from)) {
        Ok(t) => PyErr::from_type(t, msg),
        Err(e) => e,
    }
}

/// The exception class name for a core error.
pub fn class_of(e: &Error) -> &'static str {
    #[allow(unreachable_patterns)]
    match e {
        Error::ProposalDropped => "ProposalDroppedError",
        Error::StepLocalMsg => "StepLocalMsgError",
        Error::StepPeerNotFound => "StepPeerNotFoundError",
        Error::Compacted => "CompactedError",
        Error::SnapOutOfDate => "SnapOutOfDateError",
        Error::Unavailable => "UnavailableError",
        Error::SnapshotTemporarilyUnavailable => "SnapshotTemporarilyUnavailableError",
        Error::InvalidConfig(_) => "ConfigError",
        Error::ConfChange(_) => "ConfChangeError",
        Error::Decode(_) => "DecodeError",
        Error::Storage(_) | Error::Io(_) => "StorageError",
        Error::InvalidState(_) => "InvalidStateError",
        Error::Fatal(_) => "FatalError",
        _ => "RaftError",
    }
}

/// The exception for a core error.
pub fn raft_err(py: Python<'_>, e: &Error) -> PyErr {
    new_err(py, class_of(e), e.to_string())
}

/// `Result<T, polyraft::Error>` into `PyResult<T>`.
pub fn check<T>(py: Python<'_>, r: polyraft::Result<T>) -> PyResult<T> {
    r.map_err(|e| raft_err(py, &e))
}

/// The member of the IntEnum `class` for `v`. Constructors refuse unknown
/// values, but `decode` keeps them: the wire enums (MessageType, EntryType,
/// ConfChangeType, ConfChangeTransition) then return a pseudo-member
/// (their `_missing_`); the others have no unknown values to meet.
pub fn enum_member(py: Python<'_>, class: &str, v: i32) -> PyResult<PyObject> {
    Ok(common_attr(py, class)?.call1((v,))?.unbind())
}

/// Checks that `v` is a known value of a prost enum, for constructors.
pub fn known<E: TryFrom<i32>>(what: &str, v: i32) -> PyResult<i32> {
    match E::try_from(v) {
        Ok(_) => Ok(v),
        Err(_) => Err(PyValueError::new_err(format!("unknown {what} value {v}"))),
    }
}
