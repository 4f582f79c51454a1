//! Access to the pure-Python half of the package (enums and exceptions in
//! `polyraft._common`) and the mapping of core errors onto exceptions.

use std::path::PathBuf;

use bytes::Bytes;
use polyraft::Error;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBytes, PyType};

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

/// A new exception of the class `polyraft._common.CLASS_OF_RESULT` gives
/// the kind the core names (`Error::code_name`), with `msg`.
pub fn kind_err(py: Python<'_>, kind: &str, msg: String) -> PyErr {
    let class = common_attr(py, "CLASS_OF_RESULT")
        .and_then(|m| m.get_item(kind))
        .and_then(|c| c.downcast_into::<PyType>().map_err(PyErr::from));
    match class {
        Ok(t) => PyErr::from_type(t, msg),
        Err(e) => e,
    }
}

/// The exception for a core error.
pub fn raft_err(py: Python<'_>, e: &Error) -> PyErr {
    kind_err(py, e.code_name(), e.to_string())
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

/// A bytes-like argument (bytes, bytearray, memoryview, any object with the
/// buffer protocol), copied once into a `Bytes`.
pub struct BytesLike(pub Bytes);

impl<'py> FromPyObject<'py> for BytesLike {
    fn extract_bound(v: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(b) = v.downcast::<PyBytes>() {
            return Ok(BytesLike(Bytes::copy_from_slice(b.as_bytes())));
        }
        // The limited API has no buffer access: memoryview() takes exactly
        // the buffer-protocol objects, and tobytes() makes the one copy.
        let py = v.py();
        let view = py
            .import("builtins")?
            .getattr("memoryview")?
            .call1((v,))
            .map_err(|_| type_error_for("a bytes-like object", v))?;
        let b = view.call_method0("tobytes")?;
        let b = b.downcast::<PyBytes>()?;
        Ok(BytesLike(Bytes::copy_from_slice(b.as_bytes())))
    }
}

/// A path argument: str, bytes or os.PathLike (what `os.fspath` takes).
pub struct PathArg(pub PathBuf);

impl<'py> FromPyObject<'py> for PathArg {
    fn extract_bound(v: &Bound<'py, PyAny>) -> PyResult<Self> {
        let py = v.py();
        let p = py
            .import("os")?
            .getattr("fspath")?
            .call1((v,))
            .map_err(|_| type_error_for("a str, bytes or os.PathLike path", v))?;
        if let Ok(b) = p.downcast::<PyBytes>() {
            use std::os::unix::ffi::OsStrExt;
            return Ok(PathArg(PathBuf::from(std::ffi::OsStr::from_bytes(b.as_bytes()))));
        }
        let s: String = p.extract().map_err(|_| type_error_for("a path", v))?;
        Ok(PathArg(PathBuf::from(s)))
    }
}

/// "expected <what>, not <type>": a TypeError that names Python types only.
pub fn type_error_for(what: &str, v: &Bound<'_, PyAny>) -> PyErr {
    let name = v.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    PyTypeError::new_err(format!("expected {what}, not {name}"))
}

/// A list of node ids: any iterable of ints, with a message in Python
/// terms for anything else (a str is refused, not split into characters).
pub fn ids_arg(what: &str, v: &Bound<'_, PyAny>) -> PyResult<Vec<u64>> {
    if v.is_instance_of::<pyo3::types::PyString>() || v.is_instance_of::<PyBytes>() {
        return Err(type_error_for(&format!("{what} as an iterable of int node ids"), v));
    }
    let mut out = Vec::new();
    for item in v.try_iter().map_err(|_| type_error_for(&format!("{what} as an iterable of int node ids"), v))? {
        let item = item?;
        let id: u64 = item.extract().map_err(|_| match item.extract::<i128>() {
            Ok(n) => PyValueError::new_err(format!("{what}: node id {n} is out of range (0 to 2**64-1)")),
            Err(_) => type_error_for(&format!("an int node id in {what}"), &item),
        })?;
        out.push(id);
    }
    Ok(out)
}

/// A list of node ids argument (see `ids_arg`).
#[derive(Default)]
pub struct Ids(pub Vec<u64>);

impl<'py> FromPyObject<'py> for Ids {
    fn extract_bound(v: &Bound<'py, PyAny>) -> PyResult<Self> {
        ids_arg("ids", v).map(Ids)
    }
}
