//! polyraft._native: the PyO3 extension module behind the `polyraft`
//! Python package. Everything here is a thin layer over the `polyraft`
//! crate's public API: value types wrap the raftpb structs, `RawNode`
//! wraps `polyraft::RawNode` behind a mutex, and errors map onto the
//! exception tree defined in `polyraft/_common.py`.

use pyo3::prelude::*;

mod common;
mod config;
mod durable;
mod host;
mod node;
mod storage;
mod types;

/// The extension module. Its classes are re-exported by `polyraft`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<types::PyEntry>()?;
    m.add_class::<types::PyHardState>()?;
    m.add_class::<types::PyConfState>()?;
    m.add_class::<types::PySnapshot>()?;
    m.add_class::<types::PyMessage>()?;
    m.add_class::<types::PyConfChange>()?;
    m.add_class::<types::PyConfChangeSingle>()?;
    m.add_class::<types::PyConfChangeV2>()?;
    m.add_class::<types::PyReadState>()?;
    m.add_class::<types::PySoftState>()?;
    m.add_class::<types::PyReady>()?;
    m.add_class::<types::PyProgress>()?;
    m.add_class::<types::PyBasicStatus>()?;
    m.add_class::<types::PyStatus>()?;
    m.add_class::<config::PyConfig>()?;
    m.add_class::<storage::PyMemoryStorage>()?;
    m.add_class::<durable::PyDurableStorage>()?;
    m.add_class::<durable::PyRecoveryReport>()?;
    m.add_class::<durable::PyTruncatedTail>()?;
    m.add_class::<durable::PyStorageStats>()?;
    m.add_class::<node::PyRawNode>()?;
    host::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
