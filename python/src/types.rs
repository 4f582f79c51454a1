//! The value types: raftpb messages (with raftpb `encode`/`decode`) and the
//! node's outputs (Ready, SoftState, ReadState, Status). All are immutable;
//! `str()` gives etcd's Describe text, `repr()` wraps it in the class name.

use bytes::Bytes;
use polyraft::describe;
use polyraft::raftpb::{self, ConfChangeTransition, ConfChangeType, EntryType, MessageType};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::common::{check, enum_member, known, BytesLike, Ids};

/// Generates the methods every raftpb wrapper shares: `encode`, `decode`,
/// `__str__` (Describe text) and `__repr__`, followed by the type's own
/// items. `|$d| $wrap` builds the wrapper around a value decoded from bytes.
macro_rules! raftpb_class {
    ($ty:ident, $name:literal, $inner:ty, |$s:ident| $describe:expr, |$d:ident| $wrap:expr, { $($items:tt)* }) => {
        #[pymethods]
        impl $ty {
            /// The raftpb (protobuf) encoding.
            fn encode<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
                let b = raftpb::encode(&self.inner);
                PyBytes::new(py, &b)
            }

            /// Decodes raftpb bytes; raises DecodeError on malformed input.
            /// An enum field holding a value this version does not know is
            /// accepted, as etcd's Go code accepts it: its getter returns a
            /// pseudo-member of the enum (`polyraft._common`), and `encode`
            /// writes the value back unchanged.
            #[staticmethod]
            fn decode(py: Python<'_>, data: BytesLike) -> PyResult<Self> {
                let $d = check(py, <$inner as prost::Message>::decode(data.0).map_err(|e| polyraft::Error::Decode(e.to_string())))?;
                Ok($wrap)
            }

            fn __str__(&self) -> String {
                let $s = &self.inner;
                $describe
            }

            /// Immutable, so hashable: equal values have equal encodings.
            fn __hash__(&self) -> u64 {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                raftpb::encode(&self.inner).hash(&mut h);
                h.finish()
            }

            fn __repr__(&self) -> String {
                format!("{}({})", $name, self.__str__())
            }

            /// Pickling goes through the raftpb encoding.
            fn __reduce__<'py>(
                slf: &Bound<'py, Self>,
            ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
                let decode = slf.get_type().getattr("decode")?;
                let b = PyBytes::new(slf.py(), &raftpb::encode(&slf.get().inner));
                Ok((decode, (b,)))
            }

            $($items)*
        }
    };
}

/// Checks every enum field of a raftpb value (nested ones included).
/// `decode` keeps unknown values (prost stores them as plain integers, as
/// Go keeps them in its int32 enums); `RawNode.step` refuses them, since
/// raft cannot act on a message or entry it does not understand.
pub trait KnownEnums {
    /// [`polyraft::Error::Decode`] naming the first unknown value.
    fn check_enums(&self) -> polyraft::Result<()>;
}

fn known_enum<E: TryFrom<i32>>(what: &str, v: i32) -> polyraft::Result<()> {
    match E::try_from(v) {
        Ok(_) => Ok(()),
        Err(_) => Err(polyraft::Error::Decode(format!("unknown {what} value {v}"))),
    }
}

impl KnownEnums for raftpb::Entry {
    fn check_enums(&self) -> polyraft::Result<()> {
        known_enum::<EntryType>("EntryType", self.r#type)
    }
}

impl KnownEnums for raftpb::Message {
    fn check_enums(&self) -> polyraft::Result<()> {
        known_enum::<MessageType>("MessageType", self.r#type)?;
        self.entries.iter().try_for_each(KnownEnums::check_enums)?;
        self.responses.iter().try_for_each(KnownEnums::check_enums)
    }
}

impl KnownEnums for raftpb::ConfChange {
    fn check_enums(&self) -> polyraft::Result<()> {
        known_enum::<ConfChangeType>("ConfChangeType", self.r#type)
    }
}

impl KnownEnums for raftpb::ConfChangeSingle {
    fn check_enums(&self) -> polyraft::Result<()> {
        known_enum::<ConfChangeType>("ConfChangeType", self.r#type)
    }
}

impl KnownEnums for raftpb::ConfChangeV2 {
    fn check_enums(&self) -> polyraft::Result<()> {
        known_enum::<ConfChangeTransition>("ConfChangeTransition", self.transition)?;
        self.changes.iter().try_for_each(KnownEnums::check_enums)
    }
}

/// Types without enum fields.
macro_rules! no_enums {
    ($($t:ty),*) => {
        $(impl KnownEnums for $t {
            fn check_enums(&self) -> polyraft::Result<()> {
                Ok(())
            }
        })*
    };
}
no_enums!(raftpb::HardState, raftpb::ConfState, raftpb::Snapshot);

fn bytes_of(py: Python<'_>, b: &[u8]) -> Py<PyBytes> {
    PyBytes::new(py, b).unbind()
}

// ---------------------------------------------------------------- Entry

/// A log entry (raftpb.Entry).
#[pyclass(module = "polyraft._native", name = "Entry", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyEntry {
    pub inner: raftpb::Entry,
}

raftpb_class!(PyEntry, "Entry", raftpb::Entry, |e| describe::describe_entry(e, None), |inner| Self { inner }, {
    #[new]
    #[pyo3(signature = (*, term = 0, index = 0, r#type = 0, data = BytesLike(Bytes::new())))]
    fn new(term: u64, index: u64, r#type: i32, data: BytesLike) -> PyResult<Self> {
        let r#type = known::<EntryType>("EntryType", r#type)?;
        Ok(Self { inner: raftpb::Entry { term, index, r#type, data: data.0, ..Default::default() } })
    }
    #[getter]
    fn term(&self) -> u64 { self.inner.term }
    #[getter]
    fn index(&self) -> u64 { self.inner.index }
    #[getter(r#type)]
    fn get_type(&self, py: Python<'_>) -> PyResult<PyObject> { enum_member(py, "EntryType", self.inner.r#type) }
    #[getter]
    fn data(&self, py: Python<'_>) -> Py<PyBytes> { bytes_of(py, &self.inner.data) }
});

// ---------------------------------------------------------------- HardState

/// Term, vote and commit index: the state to persist (raftpb.HardState).
#[pyclass(module = "polyraft._native", name = "HardState", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyHardState {
    pub inner: raftpb::HardState,
}

raftpb_class!(PyHardState, "HardState", raftpb::HardState, |h| describe::describe_hard_state(h), |inner| Self { inner }, {
    #[new]
    #[pyo3(signature = (*, term = 0, vote = 0, commit = 0))]
    fn new(term: u64, vote: u64, commit: u64) -> Self {
        Self { inner: raftpb::HardState { term, vote, commit } }
    }
    #[getter]
    fn term(&self) -> u64 { self.inner.term }
    #[getter]
    fn vote(&self) -> u64 { self.inner.vote }
    #[getter]
    fn commit(&self) -> u64 { self.inner.commit }
});

// ---------------------------------------------------------------- ConfState

/// A membership configuration (raftpb.ConfState).
#[pyclass(module = "polyraft._native", name = "ConfState", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyConfState {
    pub inner: raftpb::ConfState,
}

raftpb_class!(PyConfState, "ConfState", raftpb::ConfState, |c| describe::describe_conf_state(c), |inner| Self { inner }, {
    #[new]
    #[pyo3(signature = (*, voters = Ids::default(), learners = Ids::default(), voters_outgoing = Ids::default(), learners_next = Ids::default(), auto_leave = false, witnesses = Ids::default()))]
    fn new(voters: Ids, learners: Ids, voters_outgoing: Ids, learners_next: Ids, auto_leave: bool, witnesses: Ids) -> Self {
        let (voters, learners, voters_outgoing, learners_next, witnesses) = (voters.0, learners.0, voters_outgoing.0, learners_next.0, witnesses.0);
        Self { inner: raftpb::ConfState { voters, learners, voters_outgoing, learners_next, auto_leave, witnesses } }
    }
    #[getter]
    fn voters(&self) -> Vec<u64> { self.inner.voters.clone() }
    #[getter]
    fn learners(&self) -> Vec<u64> { self.inner.learners.clone() }
    #[getter]
    fn voters_outgoing(&self) -> Vec<u64> { self.inner.voters_outgoing.clone() }
    #[getter]
    fn learners_next(&self) -> Vec<u64> { self.inner.learners_next.clone() }
    #[getter]
    fn auto_leave(&self) -> bool { self.inner.auto_leave }
    /// Beyond etcd: the voters that are witnesses (docs/witness.md).
    #[getter]
    fn witnesses(&self) -> Vec<u64> { self.inner.witnesses.clone() }
    /// Whether both describe the same configuration regardless of id order.
    fn equivalent(&self, other: &PyConfState) -> bool { self.inner.equivalent(&other.inner).is_ok() }
});

// ---------------------------------------------------------------- Snapshot

/// A snapshot: application data plus the index, term and configuration it
/// covers (raftpb.Snapshot with its metadata flattened).
#[pyclass(module = "polyraft._native", name = "Snapshot", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PySnapshot {
    pub inner: raftpb::Snapshot,
}

raftpb_class!(PySnapshot, "Snapshot", raftpb::Snapshot, |s| describe::describe_snapshot(s), |inner| Self { inner }, {
    #[new]
    #[pyo3(signature = (*, data = BytesLike(Bytes::new()), index = 0, term = 0, conf_state = None))]
    fn new(data: BytesLike, index: u64, term: u64, conf_state: Option<PyConfState>) -> Self {
        Self {
            inner: raftpb::Snapshot {
                data: data.0,
                metadata: Some(raftpb::SnapshotMetadata {
                    conf_state: Some(conf_state.map(|c| c.inner).unwrap_or_default()),
                    index,
                    term,
                }),
            },
        }
    }
    #[getter]
    fn data(&self, py: Python<'_>) -> Py<PyBytes> { bytes_of(py, &self.inner.data) }
    #[getter]
    fn index(&self) -> u64 { self.inner.index() }
    #[getter]
    fn term(&self) -> u64 { self.inner.term() }
    #[getter]
    fn conf_state(&self) -> PyConfState { PyConfState { inner: self.inner.conf_state() } }
    /// Whether this is the empty snapshot (index 0).
    fn is_empty(&self) -> bool { raftpb::is_empty_snap(&self.inner) }
});

// ---------------------------------------------------------------- Message

/// A raft message between peers (raftpb.Message). `from` is spelled
/// `from_` because `from` is a Python keyword.
#[pyclass(module = "polyraft._native", name = "Message", frozen, eq)]
#[derive(Clone)]
pub struct PyMessage {
    pub inner: raftpb::Message,
    /// Whether the message was decoded from bytes (`Message.decode`,
    /// unpickling): it may come from anywhere, so `RawNode.step` treats it
    /// as a peer's and refuses local-only types whatever its `from_` says.
    /// Messages of a Ready and ones built with `Message(...)` are the
    /// application's own.
    pub from_wire: bool,
}

impl PyMessage {
    /// A message the node produced (a Ready's, or one of its responses).
    pub fn local(inner: raftpb::Message) -> Self {
        PyMessage { inner, from_wire: false }
    }
}

/// Equality is the message's content; where it came from does not count.
impl PartialEq for PyMessage {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

raftpb_class!(PyMessage, "Message", raftpb::Message, |m| describe::describe_message(m, None),
    |inner| Self { inner, from_wire: true }, {
    #[new]
    #[pyo3(signature = (*, r#type = 0, to = 0, from_ = 0, term = 0, log_term = 0, index = 0, entries = Vec::new(), commit = 0, vote = 0, snapshot = None, reject = false, reject_hint = 0, context = BytesLike(Bytes::new()), responses = Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        r#type: i32,
        to: u64,
        from_: u64,
        term: u64,
        log_term: u64,
        index: u64,
        entries: Vec<PyEntry>,
        commit: u64,
        vote: u64,
        snapshot: Option<PySnapshot>,
        reject: bool,
        reject_hint: u64,
        context: BytesLike,
        responses: Vec<PyMessage>,
    ) -> PyResult<Self> {
        let r#type = known::<MessageType>("MessageType", r#type)?;
        Ok(Self {
            inner: raftpb::Message {
                r#type,
                to,
                from: from_,
                term,
                log_term,
                index,
                entries: entries.into_iter().map(|e| e.inner).collect(),
                commit,
                vote,
                snapshot: snapshot.map(|s| Box::new(s.inner)),
                reject,
                reject_hint,
                context: context.0,
                responses: responses.into_iter().map(|m| m.inner).collect(),
                // Beyond etcd, set only by a node with Config.priority.
                priority: 0,
            },
            from_wire: false,
        })
    }
    /// A copy keeps the origin (a decoded message stays a peer's).
    fn __copy__(&self) -> Self { self.clone() }
    /// As `__copy__` (the message is immutable).
    fn __deepcopy__(&self, memo: &Bound<'_, PyAny>) -> Self {
        let _ = memo;
        self.clone()
    }
    #[getter(r#type)]
    fn get_type(&self, py: Python<'_>) -> PyResult<PyObject> { enum_member(py, "MessageType", self.inner.r#type) }
    #[getter]
    fn to(&self) -> u64 { self.inner.to }
    #[getter]
    fn from_(&self) -> u64 { self.inner.from }
    #[getter]
    fn term(&self) -> u64 { self.inner.term }
    #[getter]
    fn log_term(&self) -> u64 { self.inner.log_term }
    #[getter]
    fn index(&self) -> u64 { self.inner.index }
    #[getter]
    fn entries(&self) -> Vec<PyEntry> { entries(&self.inner.entries) }
    #[getter]
    fn commit(&self) -> u64 { self.inner.commit }
    #[getter]
    fn vote(&self) -> u64 { self.inner.vote }
    #[getter]
    fn snapshot(&self) -> Option<PySnapshot> { self.inner.snapshot.as_deref().cloned().map(|inner| PySnapshot { inner }) }
    #[getter]
    fn reject(&self) -> bool { self.inner.reject }
    #[getter]
    fn reject_hint(&self) -> u64 { self.inner.reject_hint }
    #[getter]
    fn context(&self, py: Python<'_>) -> Py<PyBytes> { bytes_of(py, &self.inner.context) }
    #[getter]
    fn responses(&self) -> Vec<PyMessage> {
        // Responses share their message's origin.
        self.inner.responses.iter().map(|m| PyMessage { inner: m.clone(), from_wire: self.from_wire }).collect()
    }
});

pub fn entries(es: &[raftpb::Entry]) -> Vec<PyEntry> {
    es.iter().map(|e| PyEntry { inner: e.clone() }).collect()
}

// ---------------------------------------------------------------- ConfChange

/// A single membership change, the v1 form (raftpb.ConfChange).
#[pyclass(module = "polyraft._native", name = "ConfChange", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyConfChange {
    pub inner: raftpb::ConfChange,
}

fn describe_changes(ccs: &[raftpb::ConfChangeSingle]) -> String {
    raftpb::conf_changes_to_string(ccs)
}

raftpb_class!(PyConfChange, "ConfChange", raftpb::ConfChange,
    |c| describe_changes(&raftpb::ConfChangeI::V1(c.clone()).as_v2().changes), |inner| Self { inner }, {
    #[new]
    #[pyo3(signature = (*, r#type = 0, node_id = 0, context = BytesLike(Bytes::new()), id = 0))]
    fn new(r#type: i32, node_id: u64, context: BytesLike, id: u64) -> PyResult<Self> {
        let r#type = known::<ConfChangeType>("ConfChangeType", r#type)?;
        Ok(Self { inner: raftpb::ConfChange { r#type, node_id, context: context.0, id } })
    }
    #[getter(r#type)]
    fn get_type(&self, py: Python<'_>) -> PyResult<PyObject> { enum_member(py, "ConfChangeType", self.inner.r#type) }
    #[getter]
    fn node_id(&self) -> u64 { self.inner.node_id }
    #[getter]
    fn context(&self, py: Python<'_>) -> Py<PyBytes> { bytes_of(py, &self.inner.context) }
    #[getter]
    fn id(&self) -> u64 { self.inner.id }
    /// The same change as a ConfChangeV2 (automatic transition).
    fn as_v2(&self) -> PyConfChangeV2 {
        PyConfChangeV2 { inner: raftpb::ConfChangeI::V1(self.inner.clone()).as_v2() }
    }
});

/// One change inside a ConfChangeV2 (raftpb.ConfChangeSingle).
#[pyclass(module = "polyraft._native", name = "ConfChangeSingle", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyConfChangeSingle {
    pub inner: raftpb::ConfChangeSingle,
}

raftpb_class!(PyConfChangeSingle, "ConfChangeSingle", raftpb::ConfChangeSingle,
    |c| describe_changes(std::slice::from_ref(c)), |inner| Self { inner }, {
    #[new]
    #[pyo3(signature = (*, r#type = 0, node_id = 0))]
    fn new(r#type: i32, node_id: u64) -> PyResult<Self> {
        let r#type = known::<ConfChangeType>("ConfChangeType", r#type)?;
        Ok(Self { inner: raftpb::ConfChangeSingle { r#type, node_id } })
    }
    #[getter(r#type)]
    fn get_type(&self, py: Python<'_>) -> PyResult<PyObject> { enum_member(py, "ConfChangeType", self.inner.r#type) }
    #[getter]
    fn node_id(&self) -> u64 { self.inner.node_id }
});

/// Any number of membership changes, possibly through a joint
/// configuration (raftpb.ConfChangeV2).
#[pyclass(module = "polyraft._native", name = "ConfChangeV2", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyConfChangeV2 {
    pub inner: raftpb::ConfChangeV2,
}

raftpb_class!(PyConfChangeV2, "ConfChangeV2", raftpb::ConfChangeV2, |c| describe_changes(&c.changes), |inner| Self { inner }, {
    #[new]
    #[pyo3(signature = (*, transition = 0, changes = Vec::new(), context = BytesLike(Bytes::new())))]
    fn new(transition: i32, changes: Vec<PyConfChangeSingle>, context: BytesLike) -> PyResult<Self> {
        let transition = known::<ConfChangeTransition>("ConfChangeTransition", transition)?;
        Ok(Self {
            inner: raftpb::ConfChangeV2 {
                transition,
                changes: changes.into_iter().map(|c| c.inner).collect(),
                context: context.0,
            },
        })
    }
    /// Parses etcd's compact form, e.g. ``"v1 l2 r3 u4"`` (v: add voter,
    /// l: add learner, r: remove, u: update), into a ConfChangeV2.
    #[staticmethod]
    #[pyo3(signature = (text, *, transition = 0, context = BytesLike(Bytes::new())))]
    fn parse(py: Python<'_>, text: &str, transition: i32, context: BytesLike) -> PyResult<Self> {
        let transition = known::<ConfChangeTransition>("ConfChangeTransition", transition)?;
        let changes = check(py, raftpb::conf_changes_from_string(text))?;
        Ok(Self { inner: raftpb::ConfChangeV2 { transition, changes, context: context.0 } })
    }
    #[getter]
    fn transition(&self, py: Python<'_>) -> PyResult<PyObject> {
        enum_member(py, "ConfChangeTransition", self.inner.transition)
    }
    #[getter]
    fn changes(&self) -> Vec<PyConfChangeSingle> {
        self.inner.changes.iter().map(|c| PyConfChangeSingle { inner: *c }).collect()
    }
    #[getter]
    fn context(&self, py: Python<'_>) -> Py<PyBytes> { bytes_of(py, &self.inner.context) }
    /// Whether applying this change enters a joint configuration.
    fn enter_joint(&self) -> bool { self.inner.enter_joint().is_some() }
    /// Whether this is the empty change that leaves a joint configuration.
    fn leave_joint(&self) -> bool { self.inner.leave_joint() }
});

// ---------------------------------------------------------------- outputs

/// A confirmed ReadIndex request: answer `request_ctx` once applied up to `index`.
#[pyclass(module = "polyraft._native", name = "ReadState", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyReadState {
    pub inner: polyraft::ReadState,
}

fn describe_read_state(r: &polyraft::ReadState) -> String {
    format!("Index:{} RequestCtx:{}", r.index, describe::go_quote(&r.request_ctx))
}

#[pymethods]
impl PyReadState {
    /// Immutable, so hashable: equal values hash equally (their Debug
    /// texts, which show every field, are equal).
    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        format!("{:?}", self.inner).hash(&mut h);
        h.finish()
    }

    #[new]
    #[pyo3(signature = (*, index = 0, request_ctx = BytesLike(Bytes::new())))]
    fn new(index: u64, request_ctx: BytesLike) -> Self {
        Self { inner: polyraft::ReadState { index, request_ctx: request_ctx.0 } }
    }
    #[getter]
    fn index(&self) -> u64 { self.inner.index }
    #[getter]
    fn request_ctx(&self, py: Python<'_>) -> Py<PyBytes> { bytes_of(py, &self.inner.request_ctx) }
    fn __str__(&self) -> String { describe_read_state(&self.inner) }
    fn __repr__(&self) -> String { format!("ReadState({})", self.__str__()) }
}

pub fn state_type_value(s: polyraft::StateType) -> i32 {
    match s {
        polyraft::StateType::Follower => 0,
        polyraft::StateType::Candidate => 1,
        polyraft::StateType::Leader => 2,
        polyraft::StateType::PreCandidate => 3,
    }
}

fn state_type_of(v: i32) -> PyResult<polyraft::StateType> {
    Ok(match v {
        0 => polyraft::StateType::Follower,
        1 => polyraft::StateType::Candidate,
        2 => polyraft::StateType::Leader,
        3 => polyraft::StateType::PreCandidate,
        _ => return Err(pyo3::exceptions::PyValueError::new_err(format!("unknown StateType value {v}"))),
    })
}

/// Volatile state: the leader known to the node and its role.
#[pyclass(module = "polyraft._native", name = "SoftState", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PySoftState {
    pub inner: polyraft::SoftState,
}

#[pymethods]
impl PySoftState {
    /// Immutable, so hashable: equal values hash equally (their Debug
    /// texts, which show every field, are equal).
    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        format!("{:?}", self.inner).hash(&mut h);
        h.finish()
    }

    #[new]
    #[pyo3(signature = (*, lead = 0, raft_state = 0))]
    fn new(lead: u64, raft_state: i32) -> PyResult<Self> {
        Ok(Self { inner: polyraft::SoftState { lead, raft_state: state_type_of(raft_state)? } })
    }
    #[getter]
    fn lead(&self) -> u64 { self.inner.lead }
    #[getter]
    fn raft_state(&self, py: Python<'_>) -> PyResult<PyObject> {
        enum_member(py, "StateType", state_type_value(self.inner.raft_state))
    }
    fn __str__(&self) -> String { describe::describe_soft_state(&self.inner) }
    fn __repr__(&self) -> String { format!("SoftState({})", self.__str__()) }
}

/// What the node asks the application to do: persist `hard_state`,
/// `entries` and `snapshot`, then send `messages`, apply
/// `committed_entries`, and call `RawNode.advance()`.
#[pyclass(module = "polyraft._native", name = "Ready", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyReady {
    pub inner: polyraft::Ready,
}

#[pymethods]
impl PyReady {
    /// Immutable, so hashable: equal values hash equally (their Debug
    /// texts, which show every field, are equal).
    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        format!("{:?}", self.inner).hash(&mut h);
        h.finish()
    }

    #[getter]
    fn soft_state(&self) -> Option<PySoftState> { self.inner.soft_state.map(|inner| PySoftState { inner }) }
    #[getter]
    fn hard_state(&self) -> Option<PyHardState> { self.inner.hard_state.map(|inner| PyHardState { inner }) }
    #[getter]
    fn read_states(&self) -> Vec<PyReadState> {
        self.inner.read_states.iter().map(|r| PyReadState { inner: r.clone() }).collect()
    }
    #[getter]
    fn entries(&self) -> Vec<PyEntry> { entries(&self.inner.entries) }
    #[getter]
    fn snapshot(&self) -> Option<PySnapshot> { self.inner.snapshot.clone().map(|inner| PySnapshot { inner }) }
    #[getter]
    fn committed_entries(&self) -> Vec<PyEntry> { entries(&self.inner.committed_entries) }
    #[getter]
    fn messages(&self) -> Vec<PyMessage> {
        self.inner.messages.iter().map(|m| PyMessage::local(m.clone())).collect()
    }
    #[getter]
    fn must_sync(&self) -> bool { self.inner.must_sync }
    fn __str__(&self) -> String { describe::describe_ready(&self.inner, None) }
    fn __repr__(&self) -> String { format!("Ready({})", self.__str__()) }
}

// ---------------------------------------------------------------- status

fn progress_state_value(s: polyraft::tracker::ProgressState) -> i32 {
    match s {
        polyraft::tracker::ProgressState::Probe => 0,
        polyraft::tracker::ProgressState::Replicate => 1,
        polyraft::tracker::ProgressState::Snapshot => 2,
    }
}

/// The leader's view of one peer's replication (etcd's tracker.Progress).
#[pyclass(module = "polyraft._native", name = "Progress", frozen)]
#[derive(Clone)]
pub struct PyProgress {
    pub inner: polyraft::tracker::Progress,
}

#[pymethods]
impl PyProgress {
    #[getter(r#match)]
    fn get_match(&self) -> u64 { self.inner.matched }
    #[getter]
    fn next(&self) -> u64 { self.inner.next }
    #[getter]
    fn state(&self, py: Python<'_>) -> PyResult<PyObject> {
        enum_member(py, "ProgressState", progress_state_value(self.inner.state))
    }
    #[getter]
    fn pending_snapshot(&self) -> u64 { self.inner.pending_snapshot }
    #[getter]
    fn recent_active(&self) -> bool { self.inner.recent_active }
    #[getter]
    fn msg_app_flow_paused(&self) -> bool { self.inner.msg_app_flow_paused }
    #[getter]
    fn is_learner(&self) -> bool { self.inner.is_learner }
    /// Beyond etcd: whether the peer is a witness (docs/witness.md).
    #[getter]
    fn is_witness(&self) -> bool { self.inner.is_witness }
    fn __repr__(&self) -> String {
        format!(
            "Progress(match={} next={} state={}{})",
            self.inner.matched,
            self.inner.next,
            self.inner.state,
            if self.inner.is_learner { " learner" } else { "" }
        )
    }
}

/// The node's id, HardState, SoftState, applied index and leader-transfer target.
#[pyclass(module = "polyraft._native", name = "BasicStatus", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyBasicStatus {
    pub inner: polyraft::BasicStatus,
}

#[pymethods]
impl PyBasicStatus {
    /// Immutable, so hashable: equal values hash equally (their Debug
    /// texts, which show every field, are equal).
    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        format!("{:?}", self.inner).hash(&mut h);
        h.finish()
    }

    #[getter]
    fn id(&self) -> u64 { self.inner.id }
    #[getter]
    fn hard_state(&self) -> PyHardState { PyHardState { inner: self.inner.hard_state } }
    #[getter]
    fn soft_state(&self) -> PySoftState { PySoftState { inner: self.inner.soft_state } }
    #[getter]
    fn applied(&self) -> u64 { self.inner.applied }
    #[getter]
    fn lead_transferee(&self) -> u64 { self.inner.lead_transferee }
    #[getter]
    fn term(&self) -> u64 { self.inner.hard_state.term }
    #[getter]
    fn commit(&self) -> u64 { self.inner.hard_state.commit }
    #[getter]
    fn lead(&self) -> u64 { self.inner.soft_state.lead }
    #[getter]
    fn raft_state(&self, py: Python<'_>) -> PyResult<PyObject> {
        enum_member(py, "StateType", state_type_value(self.inner.soft_state.raft_state))
    }
    fn __repr__(&self) -> String {
        let b = &self.inner;
        format!(
            "BasicStatus(id={} {} {} applied={} lead_transferee={})",
            b.id,
            describe::describe_hard_state(&b.hard_state),
            describe::describe_soft_state(&b.soft_state),
            b.applied,
            b.lead_transferee
        )
    }
}

/// The full status: basic status, the active configuration and (on the
/// leader only) every peer's progress. `str()` is etcd's JSON form.
#[pyclass(module = "polyraft._native", name = "Status", frozen)]
#[derive(Clone)]
pub struct PyStatus {
    pub inner: polyraft::Status,
}

#[pymethods]
impl PyStatus {
    #[getter]
    fn basic(&self) -> PyBasicStatus { PyBasicStatus { inner: self.inner.basic.clone() } }
    #[getter]
    fn id(&self) -> u64 { self.inner.basic.id }
    #[getter]
    fn hard_state(&self) -> PyHardState { PyHardState { inner: self.inner.basic.hard_state } }
    #[getter]
    fn soft_state(&self) -> PySoftState { PySoftState { inner: self.inner.basic.soft_state } }
    #[getter]
    fn applied(&self) -> u64 { self.inner.basic.applied }
    #[getter]
    fn lead_transferee(&self) -> u64 { self.inner.basic.lead_transferee }
    #[getter]
    fn progress<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (id, pr) in &self.inner.progress {
            d.set_item(id, PyProgress { inner: pr.clone() })?;
        }
        Ok(d)
    }
    /// The active configuration as a ConfState.
    #[getter]
    fn conf_state(&self) -> PyConfState {
        let c = &self.inner.config;
        PyConfState {
            inner: raftpb::ConfState {
                voters: c.voters.incoming.ids().iter().copied().collect(),
                voters_outgoing: c.voters.outgoing.ids().iter().copied().collect(),
                learners: c.learners.iter().copied().collect(),
                learners_next: c.learners_next.iter().copied().collect(),
                auto_leave: c.auto_leave,
                witnesses: c.witnesses.iter().copied().collect(),
            },
        }
    }
    /// The active configuration in etcd's text form, e.g. "voters=(1 2 3)".
    #[getter]
    fn config(&self) -> String { self.inner.config.to_string() }
    /// etcd's Status JSON (ids in hex).
    fn to_json(&self) -> String { self.inner.to_json() }
    fn __str__(&self) -> String { self.inner.to_json() }
    fn __repr__(&self) -> String { format!("Status({})", self.inner.to_json()) }
}
