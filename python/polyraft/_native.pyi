"""Type stubs for polyraft._native, the Rust extension module.

Every class here is re-exported by :mod:`polyraft`; import from there.
Value types are immutable and compare by value; ``str()`` is etcd's
Describe text and ``repr()`` wraps it in the class name.
"""

import os
from types import TracebackType
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Type, Union, final

from ._common import (
    ConfChangeTransition,
    ConfChangeType,
    EntryType,
    MessageType,
    ProgressState,
    ReadOnlyOption,
    SnapshotStatus,
    StateType,
)
from ._protocol import Storage

#: What byte arguments accept: any object with the buffer protocol.
_BytesLike = Union[bytes, bytearray, memoryview]
#: What path arguments accept (``os.fspath``'s inputs).
_Path = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

__version__: str

__all__ = [
    "Entry",
    "HardState",
    "ConfState",
    "Snapshot",
    "Message",
    "ConfChange",
    "ConfChangeSingle",
    "ConfChangeV2",
    "ReadState",
    "SoftState",
    "Ready",
    "Progress",
    "BasicStatus",
    "Status",
    "Config",
    "MemoryStorage",
    "DurableStorage",
    "RecoveryReport",
    "TruncatedTail",
    "StorageStats",
    "RawNode",
    "__version__",
]

@final
class Entry:
    """A log entry (raftpb.Entry)."""

    def __new__(
        cls, *, term: int = 0, index: int = 0, type: int = ..., data: _BytesLike = ...
    ) -> Entry:
        """Raises ValueError for an unknown ``type``."""
    @property
    def term(self) -> int:
        """The term in which the entry was proposed."""
    @property
    def index(self) -> int:
        """The position of the entry in the log."""
    @property
    def type(self) -> EntryType:
        """What ``data`` holds: a normal payload or an encoded ConfChange/ConfChangeV2."""
    @property
    def data(self) -> bytes:
        """The payload."""
    def encode(self) -> bytes:
        """The raftpb (protobuf) encoding."""
    @staticmethod
    def decode(data: _BytesLike) -> Entry:
        """Decodes raftpb bytes; raises DecodeError on malformed input.
        An enum field holding a value this version does not know is kept, as
        etcd's Go code keeps it: its attribute is a pseudo-member of the enum
        (``MessageType(99)``, see :class:`polyraft.WireEnum`) and ``encode``
        writes it back unchanged."""
    def __reduce__(self) -> Tuple[Callable[[bytes], Entry], Tuple[bytes]]:
        """Pickling goes through the raftpb encoding."""

@final
class HardState:
    """Term, vote and commit index: the state to persist (raftpb.HardState)."""

    def __new__(cls, *, term: int = 0, vote: int = 0, commit: int = 0) -> HardState: ...
    @property
    def term(self) -> int:
        """The current term."""
    @property
    def vote(self) -> int:
        """The candidate voted for in the current term (0 for none)."""
    @property
    def commit(self) -> int:
        """The highest index known committed."""
    def encode(self) -> bytes:
        """The raftpb (protobuf) encoding."""
    @staticmethod
    def decode(data: _BytesLike) -> HardState:
        """Decodes raftpb bytes; raises DecodeError on malformed input."""
    def __reduce__(self) -> Tuple[Callable[[bytes], HardState], Tuple[bytes]]:
        """Pickling goes through the raftpb encoding."""

@final
class ConfState:
    """A membership configuration (raftpb.ConfState)."""

    def __new__(
        cls,
        *,
        voters: Sequence[int] = ...,
        learners: Sequence[int] = ...,
        voters_outgoing: Sequence[int] = ...,
        learners_next: Sequence[int] = ...,
        auto_leave: bool = False,
        witnesses: Sequence[int] = ...,
    ) -> ConfState: ...
    @property
    def voters(self) -> List[int]:
        """The voters of the (incoming) configuration."""
    @property
    def learners(self) -> List[int]:
        """Non-voting members."""
    @property
    def voters_outgoing(self) -> List[int]:
        """The old voters while in a joint configuration, else empty."""
    @property
    def learners_next(self) -> List[int]:
        """Outgoing voters that become learners when the joint configuration is left."""
    @property
    def auto_leave(self) -> bool:
        """Whether raft leaves the joint configuration on its own."""
    @property
    def witnesses(self) -> List[int]:
        """Beyond etcd: the voters that are witnesses (docs/witness.md)."""
    def equivalent(self, other: ConfState) -> bool:
        """Whether both describe the same configuration regardless of id order."""
    def encode(self) -> bytes:
        """The raftpb (protobuf) encoding."""
    @staticmethod
    def decode(data: _BytesLike) -> ConfState:
        """Decodes raftpb bytes; raises DecodeError on malformed input."""
    def __reduce__(self) -> Tuple[Callable[[bytes], ConfState], Tuple[bytes]]:
        """Pickling goes through the raftpb encoding."""

@final
class Snapshot:
    """A snapshot (raftpb.Snapshot, its metadata flattened): application data
    plus the index, term and configuration it covers."""

    def __new__(
        cls, *, data: _BytesLike = ..., index: int = 0, term: int = 0, conf_state: Optional[ConfState] = None
    ) -> Snapshot: ...
    @property
    def data(self) -> bytes:
        """The application's state-machine data."""
    @property
    def index(self) -> int:
        """The index of the last entry the snapshot covers (0: empty snapshot)."""
    @property
    def term(self) -> int:
        """The term of that entry."""
    @property
    def conf_state(self) -> ConfState:
        """The configuration at ``index``."""
    def is_empty(self) -> bool:
        """Whether this is the empty snapshot (index 0)."""
    def encode(self) -> bytes:
        """The raftpb (protobuf) encoding."""
    @staticmethod
    def decode(data: _BytesLike) -> Snapshot:
        """Decodes raftpb bytes; raises DecodeError on malformed input."""
    def __reduce__(self) -> Tuple[Callable[[bytes], Snapshot], Tuple[bytes]]:
        """Pickling goes through the raftpb encoding."""

@final
class Message:
    """A message between peers (raftpb.Message). ``from`` is spelled ``from_``
    because ``from`` is a Python keyword.

    A Message made by :meth:`decode` (or unpickled, or a copy of such a
    one) came from bytes that may come from anywhere: :meth:`RawNode.step`
    treats it as a peer's message and refuses local-only types. Messages of
    a Ready (and their ``responses``) and ones built with ``Message(...)``
    are the application's own. Equality compares the content only."""

    def __new__(
        cls,
        *,
        type: int = ...,
        to: int = 0,
        from_: int = 0,
        term: int = 0,
        log_term: int = 0,
        index: int = 0,
        entries: Sequence[Entry] = ...,
        commit: int = 0,
        vote: int = 0,
        snapshot: Optional[Snapshot] = None,
        reject: bool = False,
        reject_hint: int = 0,
        context: _BytesLike = ...,
        responses: Sequence[Message] = ...,
    ) -> Message:
        """Raises ValueError for an unknown ``type``."""
    @property
    def type(self) -> MessageType:
        """The kind of message (a pseudo-member for an unknown value from ``decode``)."""
    @property
    def to(self) -> int:
        """The recipient's id."""
    @property
    def from_(self) -> int:
        """The sender's id (raftpb's ``from``)."""
    @property
    def term(self) -> int:
        """The sender's term (0 for local messages)."""
    @property
    def log_term(self) -> int:
        """The term of the entry at ``index`` (appends, votes)."""
    @property
    def index(self) -> int:
        """A log index whose meaning depends on the type."""
    @property
    def entries(self) -> List[Entry]:
        """Entries carried (appends, proposals)."""
    @property
    def commit(self) -> int:
        """The sender's commit index."""
    @property
    def vote(self) -> int:
        """The vote carried by MsgStorageAppend."""
    @property
    def snapshot(self) -> Optional[Snapshot]:
        """The snapshot carried by MsgSnap, if any."""
    @property
    def reject(self) -> bool:
        """Whether a response rejects the request."""
    @property
    def reject_hint(self) -> int:
        """The follower's hint for the leader after a rejected append."""
    @property
    def context(self) -> bytes:
        """Opaque context (campaign type, ReadIndex request counters)."""
    @property
    def responses(self) -> List[Message]:
        """Responses to deliver once a local storage message is handled."""
    def __copy__(self) -> Message:
        """A copy keeps the origin (a decoded message stays a peer's)."""
    def __deepcopy__(self, memo: object) -> Message:
        """As ``__copy__`` (the message is immutable)."""
    def encode(self) -> bytes:
        """The raftpb (protobuf) encoding."""
    @staticmethod
    def decode(data: _BytesLike) -> Message:
        """Decodes raftpb bytes; raises DecodeError on malformed input.
        An enum field holding a value this version does not know is kept, as
        etcd's Go code keeps it: its attribute is a pseudo-member of the enum
        (``MessageType(99)``, see :class:`polyraft.WireEnum`) and ``encode``
        writes it back unchanged."""
    def __reduce__(self) -> Tuple[Callable[[bytes], Message], Tuple[bytes]]:
        """Pickling goes through the raftpb encoding."""

@final
class ConfChange:
    """A single membership change, the v1 form (raftpb.ConfChange)."""

    def __new__(
        cls, *, type: int = ..., node_id: int = 0, context: _BytesLike = ..., id: int = 0
    ) -> ConfChange:
        """Raises ValueError for an unknown ``type``."""
    @property
    def type(self) -> ConfChangeType:
        """Add, remove, update or add as learner."""
    @property
    def node_id(self) -> int:
        """The node the change is about."""
    @property
    def context(self) -> bytes:
        """Opaque application context."""
    @property
    def id(self) -> int:
        """An application-chosen id (unused by raft)."""
    def as_v2(self) -> ConfChangeV2:
        """The same change as a ConfChangeV2 (automatic transition)."""
    def encode(self) -> bytes:
        """The raftpb (protobuf) encoding."""
    @staticmethod
    def decode(data: _BytesLike) -> ConfChange:
        """Decodes raftpb bytes; raises DecodeError on malformed input.
        An enum field holding a value this version does not know is kept, as
        etcd's Go code keeps it: its attribute is a pseudo-member of the enum
        (``MessageType(99)``, see :class:`polyraft.WireEnum`) and ``encode``
        writes it back unchanged."""
    def __reduce__(self) -> Tuple[Callable[[bytes], ConfChange], Tuple[bytes]]:
        """Pickling goes through the raftpb encoding."""

@final
class ConfChangeSingle:
    """One change inside a ConfChangeV2 (raftpb.ConfChangeSingle)."""

    def __new__(cls, *, type: int = ..., node_id: int = 0) -> ConfChangeSingle:
        """Raises ValueError for an unknown ``type``."""
    @property
    def type(self) -> ConfChangeType:
        """Add, remove, update or add as learner."""
    @property
    def node_id(self) -> int:
        """The node the change is about."""
    def encode(self) -> bytes:
        """The raftpb (protobuf) encoding."""
    @staticmethod
    def decode(data: _BytesLike) -> ConfChangeSingle:
        """Decodes raftpb bytes; raises DecodeError on malformed input.
        An enum field holding a value this version does not know is kept, as
        etcd's Go code keeps it: its attribute is a pseudo-member of the enum
        (``MessageType(99)``, see :class:`polyraft.WireEnum`) and ``encode``
        writes it back unchanged."""
    def __reduce__(self) -> Tuple[Callable[[bytes], ConfChangeSingle], Tuple[bytes]]:
        """Pickling goes through the raftpb encoding."""

@final
class ConfChangeV2:
    """Any number of membership changes, possibly through a joint
    configuration (raftpb.ConfChangeV2). The empty change leaves a joint
    configuration."""

    def __new__(
        cls,
        *,
        transition: int = 0,
        changes: Sequence[ConfChangeSingle] = ...,
        context: _BytesLike = ...,
    ) -> ConfChangeV2:
        """Raises ValueError for an unknown ``transition``."""
    @staticmethod
    def parse(text: str, *, transition: int = 0, context: _BytesLike = ...) -> ConfChangeV2:
        """Parses etcd's compact form, e.g. ``"v1 l2 r3 u4"`` (v: add voter,
        l: add learner, r: remove, u: update); ConfChangeError when malformed."""
    @property
    def transition(self) -> ConfChangeTransition:
        """How joint consensus is used."""
    @property
    def changes(self) -> List[ConfChangeSingle]:
        """The changes."""
    @property
    def context(self) -> bytes:
        """Opaque application context."""
    def enter_joint(self) -> bool:
        """Whether applying this change enters a joint configuration."""
    def leave_joint(self) -> bool:
        """Whether this is the empty change that leaves a joint configuration."""
    def encode(self) -> bytes:
        """The raftpb (protobuf) encoding."""
    @staticmethod
    def decode(data: _BytesLike) -> ConfChangeV2:
        """Decodes raftpb bytes; raises DecodeError on malformed input.
        An enum field holding a value this version does not know is kept, as
        etcd's Go code keeps it: its attribute is a pseudo-member of the enum
        (``MessageType(99)``, see :class:`polyraft.WireEnum`) and ``encode``
        writes it back unchanged."""
    def __reduce__(self) -> Tuple[Callable[[bytes], ConfChangeV2], Tuple[bytes]]:
        """Pickling goes through the raftpb encoding."""

@final
class ReadState:
    """A confirmed ReadIndex request: answer the read identified by
    ``request_ctx`` once the state machine has applied up to ``index``."""

    def __new__(cls, *, index: int = 0, request_ctx: _BytesLike = ...) -> ReadState: ...
    @property
    def index(self) -> int:
        """The commit index when the read was confirmed."""
    @property
    def request_ctx(self) -> bytes:
        """The context given to ``RawNode.read_index``."""

@final
class SoftState:
    """Volatile state: the leader known to the node and its role."""

    def __new__(cls, *, lead: int = 0, raft_state: int = 0) -> SoftState: ...
    @property
    def lead(self) -> int:
        """The leader's id (0 when unknown)."""
    @property
    def raft_state(self) -> StateType:
        """The node's role."""

@final
class Ready:
    """What the node asks the application to do, in this order: persist
    ``snapshot``, ``entries`` and ``hard_state``; send ``messages``; apply
    ``committed_entries``; answer ``read_states``; then call
    ``RawNode.advance()``."""

    @property
    def soft_state(self) -> Optional[SoftState]:
        """The new leader and role, when they changed."""
    @property
    def hard_state(self) -> Optional[HardState]:
        """The HardState to persist, when it changed."""
    @property
    def read_states(self) -> List[ReadState]:
        """ReadIndex requests confirmed since the last Ready."""
    @property
    def entries(self) -> List[Entry]:
        """Entries to persist before sending messages."""
    @property
    def snapshot(self) -> Optional[Snapshot]:
        """A snapshot to persist and apply, if any."""
    @property
    def committed_entries(self) -> List[Entry]:
        """Committed entries to apply to the state machine."""
    @property
    def messages(self) -> List[Message]:
        """Messages to send once the state above is durable."""
    @property
    def must_sync(self) -> bool:
        """Whether the HardState and entries must be synced to disk."""

@final
class Progress:
    """The leader's view of one peer's replication (etcd's tracker.Progress)."""

    @property
    def match(self) -> int:
        """The highest index known replicated on the peer."""
    @property
    def next(self) -> int:
        """The next index to send."""
    @property
    def state(self) -> ProgressState:
        """Probe, Replicate or Snapshot."""
    @property
    def pending_snapshot(self) -> int:
        """The index of the snapshot in flight (state Snapshot)."""
    @property
    def recent_active(self) -> bool:
        """Whether the peer was heard from recently."""
    @property
    def msg_app_flow_paused(self) -> bool:
        """Whether appends to the peer are paused."""
    @property
    def is_learner(self) -> bool:
        """Whether the peer is a learner."""
    @property
    def is_witness(self) -> bool:
        """Beyond etcd: whether the peer is a witness (docs/witness.md)."""

@final
class BasicStatus:
    """The node's id, HardState, SoftState, applied index and leader-transfer target."""

    @property
    def id(self) -> int:
        """The node's id."""
    @property
    def hard_state(self) -> HardState:
        """Term, vote and commit."""
    @property
    def soft_state(self) -> SoftState:
        """Leader and role."""
    @property
    def applied(self) -> int:
        """The highest index acknowledged as applied."""
    @property
    def lead_transferee(self) -> int:
        """The target of a leader transfer in progress, or 0."""
    @property
    def term(self) -> int:
        """Shorthand for ``hard_state.term``."""
    @property
    def commit(self) -> int:
        """Shorthand for ``hard_state.commit``."""
    @property
    def lead(self) -> int:
        """Shorthand for ``soft_state.lead``."""
    @property
    def raft_state(self) -> StateType:
        """Shorthand for ``soft_state.raft_state``."""

@final
class Status:
    """The full status: basic status, the active configuration and (on the
    leader only) every peer's progress. ``str()`` is etcd's JSON form."""

    @property
    def basic(self) -> BasicStatus:
        """The basic status."""
    @property
    def id(self) -> int:
        """The node's id."""
    @property
    def hard_state(self) -> HardState:
        """Term, vote and commit."""
    @property
    def soft_state(self) -> SoftState:
        """Leader and role."""
    @property
    def applied(self) -> int:
        """The highest index acknowledged as applied."""
    @property
    def lead_transferee(self) -> int:
        """The target of a leader transfer in progress, or 0."""
    @property
    def progress(self) -> Dict[int, Progress]:
        """Each peer's progress by id; empty unless this node leads."""
    @property
    def conf_state(self) -> ConfState:
        """The active configuration."""
    @property
    def config(self) -> str:
        """The active configuration in etcd's text form, e.g. ``"voters=(1 2 3)"``."""
    def to_json(self) -> str:
        """etcd's Status JSON (ids in hex)."""

@final
class Config:
    """The parameters of a raft node: etcd's raft.Config, snake_case, same
    defaults and validation. Bad values raise ConfigError (a ValueError)
    with etcd's text; negative or oversized numbers raise ValueError and
    wrong types TypeError.

    ``logger``, if given, is called as ``logger(level, message)`` for every
    log line at ``log_level`` ("DEBUG", "INFO", "WARN", "ERROR") or above;
    without it, lines go to standard error as etcd's default logger does.
    An Exception raised by ``logger`` is reported as unraisable and ignored;
    a KeyboardInterrupt, SystemExit or other BaseException that is not an
    Exception is raised from the node call that logged, once that call is
    over, or -- if it was RawNode creation or ``ready()``, which must not
    fail half-way -- by the node's next call (see :class:`RawNode`).
    """

    def __new__(
        cls,
        id: int,
        *,
        election_tick: int = 10,
        heartbeat_tick: int = 1,
        applied: int = 0,
        async_storage_writes: bool = False,
        max_size_per_msg: int = 18446744073709551615,
        max_committed_size_per_ready: int = 0,
        max_uncommitted_entries_size: int = 0,
        max_inflight_msgs: int = 256,
        max_inflight_bytes: int = 0,
        check_quorum: bool = False,
        pre_vote: bool = False,
        read_only_option: int = 0,
        disable_proposal_forwarding: bool = False,
        disable_conf_change_validation: bool = False,
        step_down_on_removal: bool = False,
        priority: int = 0,
        batch_append: bool = False,
        logger: Optional[Callable[[str, str], object]] = None,
        log_level: str = "INFO",
    ) -> Config: ...
    @property
    def id(self) -> int:
        """The node's id (not 0)."""
    @property
    def election_tick(self) -> int:
        """Ticks without a leader before a follower campaigns (> heartbeat_tick)."""
    @property
    def heartbeat_tick(self) -> int:
        """Ticks between a leader's heartbeats (> 0)."""
    @property
    def applied(self) -> int:
        """The last applied index, when restarting."""
    @property
    def async_storage_writes(self) -> bool:
        """Storage work arrives as MsgStorageAppend/MsgStorageApply messages instead of advance()."""
    @property
    def max_size_per_msg(self) -> int:
        """Byte limit of one append message (NO_LIMIT by default, 0: one entry)."""
    @property
    def max_committed_size_per_ready(self) -> int:
        """Byte limit of committed entries in one Ready (0: max_size_per_msg)."""
    @property
    def max_uncommitted_entries_size(self) -> int:
        """Byte limit of the leader's uncommitted tail (0: none)."""
    @property
    def max_inflight_msgs(self) -> int:
        """Limit of in-flight append messages per follower."""
    @property
    def max_inflight_bytes(self) -> int:
        """Limit of in-flight append bytes per follower (0: none)."""
    @property
    def check_quorum(self) -> bool:
        """The leader steps down without an active quorum."""
    @property
    def pre_vote(self) -> bool:
        """Enables the Pre-Vote phase."""
    @property
    def read_only_option(self) -> ReadOnlyOption:
        """How ReadIndex requests are confirmed."""
    @property
    def disable_proposal_forwarding(self) -> bool:
        """Followers drop proposals instead of forwarding them."""
    @property
    def disable_conf_change_validation(self) -> bool:
        """Skip propose-time validation of configuration changes."""
    @property
    def step_down_on_removal(self) -> bool:
        """A leader removed from the configuration steps down."""
    @property
    def priority(self) -> int:
        """Beyond etcd: election priority (0: off). Among equally up-to-date
        logs a voter refuses a candidate of lower priority than its own."""
    @property
    def batch_append(self) -> bool:
        """Beyond etcd: a leader merges the appends to one peer queued
        before a Ready into one message (within max_size_per_msg)."""
    @property
    def logger(self) -> Optional[Callable[[str, str], object]]:
        """The logging callable, if any."""
    @property
    def log_level(self) -> str:
        """The lowest level logged."""

class _StorageReads:
    """The reads MemoryStorage and DurableStorage share (the Storage
    protocol raft calls); a stub-only base, not a runtime class."""

    def initial_state(self) -> Tuple[HardState, ConfState]:
        """The saved HardState and the snapshot's ConfState."""
    def entries(self, lo: int, hi: int, max_size: Optional[int] = None) -> List[Entry]:
        """Entries in ``[lo, hi)``, at most ``max_size`` bytes but at least one;
        CompactedError below the first index."""
    def term(self, i: int) -> int:
        """The term of entry ``i``; CompactedError or UnavailableError out of range."""
    def first_index(self) -> int:
        """The first index readable through ``entries``."""
    def last_index(self) -> int:
        """The index of the last entry."""
    def snapshot(self) -> Snapshot:
        """The most recent snapshot."""

@final
class MemoryStorage(_StorageReads):
    """In-memory storage with etcd MemoryStorage's semantics; implements the
    Storage protocol. Give it to a RawNode and keep using it: both see the
    same data. Thread-safe."""

    def __new__(cls, *, conf_state: Optional[ConfState] = None) -> MemoryStorage:
        """An empty storage; with ``conf_state``, its (empty) snapshot carries
        that configuration so a node over it starts as a member of it."""
    def set_hard_state(self, hs: HardState) -> None:
        """Saves the HardState."""
    def hard_state(self) -> HardState:
        """The saved HardState."""
    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Replaces the contents with ``snapshot``; SnapOutOfDateError when not newer."""
    def create_snapshot(self, index: int, conf_state: Optional[ConfState] = None, data: _BytesLike = ...) -> Snapshot:
        """Makes and keeps a snapshot up to entry ``index`` with the
        configuration (the previous one when None) and the application's data."""
    def compact(self, compact_index: int) -> None:
        """Discards the entries before ``compact_index`` (never beyond the applied index)."""
    def append(self, entries: Sequence[Entry]) -> None:
        """Appends entries, overwriting from the first conflicting index."""

@final
class DurableStorage(_StorageReads):
    """Storage persisted in one directory: a checksummed, segmented
    write-ahead log of entries and HardState plus atomically written
    snapshot files (the ``polyraft::wal`` module of the Rust crate).
    Implements the Storage protocol; give it to a RawNode and keep using it,
    like MemoryStorage: both see the same data. Reads are served from memory;
    writes are on disk before they return (``persist_ready`` syncs only when
    the Ready asks for it). Thread-safe; calls release the GIL.

    Errors: :class:`StorageIOError` when a system call fails (the storage
    then refuses writes until reopened), :class:`CorruptionError` from
    ``open`` on damage it must not repair, and the errors MemoryStorage
    raises (CompactedError, SnapOutOfDateError, StorageError...) for calls
    that raft's rules refuse, in which case nothing is written.

    One storage at a time may open a directory: a lock file refuses a
    second open (StorageIOError) until the first is closed.
    """

    @staticmethod
    def open(path: _Path, *, segment_bytes: Optional[int] = None) -> DurableStorage:
        """Opens the storage in directory ``path``, creating it if needed,
        and recovers its state: replays the WAL, cuts a torn tail off the
        last segment, loads the current snapshot and removes leftover files
        (all reported in :attr:`recovery`). ``segment_bytes`` (64 MiB by
        default) is the size at which a segment is closed and a new one
        started. Raises CorruptionError or StorageIOError (its ``errno`` is
        the operating system's), InvalidArgumentError for an empty path."""
    def close(self) -> None:
        """Closes this handle: the directory's files and lock are released as
        soon as no RawNode over the storage is open, so the directory can be
        reopened at once. Later calls raise ValueError; closing twice does
        nothing."""
    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
    def __enter__(self) -> DurableStorage: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool:
        """Closes the storage; the exception, if any, propagates."""
    @property
    def recovery(self) -> RecoveryReport:
        """What ``open`` found and did."""
    @property
    def path(self) -> str:
        """The storage's directory."""
    def bootstrap_conf_state(self, conf_state: ConfState) -> None:
        """Gives a new storage (nothing stored yet) its initial configuration,
        as an empty snapshot at index 0, so a node over it starts as a member
        of ``conf_state``; StorageError on a storage that holds anything."""
    def persist_ready(self, ready: Ready) -> None:
        """Writes a Ready's snapshot, entries and HardState, in that order,
        then fsyncs once if ``ready.must_sync`` or it carries a snapshot.
        Call it before sending ``ready.messages``."""
    def persist_storage_append(self, message: Message) -> None:
        """With ``async_storage_writes``: persists a MsgStorageAppend
        (snapshot, entries and the HardState it carries), fsyncing by etcd's
        MustSync rule. Deliver ``message.responses`` after it returns.
        StorageError for any other message type."""
    def hard_state(self) -> HardState:
        """The saved HardState."""
    def set_hard_state(self, hs: HardState) -> None:
        """Saves the HardState (fsynced before returning)."""
    def append(self, entries: Sequence[Entry]) -> None:
        """Appends entries (fsynced before returning), replacing stored entries
        from the first new index on; already compacted ones are ignored."""
    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Replaces the contents with ``snapshot`` (written atomically, then
        fsynced); SnapOutOfDateError when not newer."""
    def create_snapshot(self, index: int, conf_state: Optional[ConfState] = None, data: _BytesLike = ...) -> Snapshot:
        """Makes and keeps, durably, a snapshot up to entry ``index`` with the
        configuration (the previous one when None) and the application's
        data. The log is not compacted: call ``compact``."""
    def compact(self, compact_index: int) -> None:
        """Discards the entries before ``compact_index`` (never beyond the
        applied index) and deletes the WAL segments that only held entries
        covered by both the compaction and the current snapshot."""
    def stats(self) -> StorageStats:
        """Counters of the disk work done since open."""
    def segment_count(self) -> int:
        """The number of WAL segment files."""

@final
class RecoveryReport:
    """What :meth:`DurableStorage.open` found and did."""

    @property
    def created(self) -> bool:
        """Whether the directory held no log yet (a new storage was created)."""
    @property
    def segments(self) -> int:
        """WAL segments read."""
    @property
    def records(self) -> int:
        """WAL records replayed."""
    @property
    def truncated(self) -> Optional[TruncatedTail]:
        """The torn or corrupt tail cut off the last segment, if any."""
    @property
    def removed_files(self) -> List[str]:
        """Leftover files removed: temporary files of interrupted writes and
        snapshot files no WAL record names."""
    @property
    def snapshot_index(self) -> int:
        """The index of the recovered snapshot (0 if none)."""
    @property
    def first_index(self) -> int:
        """The first index of the recovered log."""
    @property
    def last_index(self) -> int:
        """The last index of the recovered log."""

@final
class TruncatedTail:
    """A torn or corrupt tail cut off the last WAL segment by ``open``:
    the remains of a write a crash interrupted, never acknowledged data."""

    @property
    def segment(self) -> str:
        """The segment file."""
    @property
    def offset(self) -> int:
        """Where the first bad record started (the file's new length)."""
    @property
    def dropped_bytes(self) -> int:
        """The number of bytes removed."""
    @property
    def reason(self) -> str:
        """Why the record was rejected (incomplete record, checksum mismatch...)."""

@final
class StorageStats:
    """Disk work of a DurableStorage since it was opened, e.g. to measure
    fsyncs per Ready (``fsyncs / readies``)."""

    @property
    def fsyncs(self) -> int:
        """Every fsync/fdatasync issued, files and directories alike."""
    @property
    def dir_fsyncs(self) -> int:
        """The directory fsyncs among them."""
    @property
    def bytes_written(self) -> int:
        """Bytes written to segments and snapshot files."""
    @property
    def readies(self) -> int:
        """``persist_ready`` and ``persist_storage_append`` calls."""
    @property
    def segments_created(self) -> int:
        """WAL segments created."""
    @property
    def segments_deleted(self) -> int:
        """WAL segments deleted by compaction."""

@final
class RawNode:
    """A raft node (etcd's RawNode).

    Drive it with ``tick``, ``step`` and ``propose``; when ``has_ready()``,
    take ``ready()``, handle it and call ``advance()``. Calls release the GIL
    while the node works (a Python storage's methods still run with it).
    The node is safe to share between threads: calls are serialized by a
    lock. Calling a node method from inside a storage or logger callback
    raises RuntimeError instead of deadlocking.

    Errors: the RaftError subclasses; TypeError for arguments of the wrong
    type and OverflowError for negative ids.

    Failure: a storage failure (a Python storage raising something other
    than the StorageError subclasses raft handles, or breaking the Storage
    protocol) or a broken invariant fails the node for good. The call during
    which it happens raises StorageError, with the storage's exception as
    ``__cause__`` when there is one (FatalError otherwise) -- except
    ``ready()``, which, like etcd's ``RawNode.Ready()``, has no error to
    return: it hands out the Ready built so far (without committed
    entries), and the node's next call that does work raises the failure
    (StorageError with the held ``__cause__``). After that, every call that
    does work (``tick``, ``step``, ``propose``, ``campaign``, ``ready``,
    ``read_index``...) raises FatalError; ``has_ready()`` is False,
    ``advance()`` does nothing, and ``status()``/``basic_status()`` answer.

    Interrupts: a KeyboardInterrupt, SystemExit or other BaseException that
    is not an Exception, raised by the logger or a storage method, is raised
    from the node call once that call is over; the call's effect stands and
    the node stays usable (a storage read it interrupted is retried, twice
    at most). During creation or ``ready()``, whose result raising would
    lose (the node, the Ready already taken from it), the interrupt is held
    on the node instead and raised by its next call, before that call does
    anything: Ctrl-C is deferred, never lost.
    """

    def __new__(cls, config: Config, storage: Union[MemoryStorage, DurableStorage, Storage]) -> RawNode:
        """Creates a node over ``storage``; its initial state (HardState and
        configuration) is read from the storage. An interrupt the logger or
        the storage raises meanwhile does not stop the creation: the node's
        next call raises it."""
    @property
    def storage(self) -> Union[MemoryStorage, DurableStorage, Storage]:
        """The storage given at creation."""
    def bootstrap(self, peers: Iterable[int]) -> None:
        """Starts a brand-new cluster of ``peers`` over an empty storage
        (InvalidStateError otherwise; InvalidArgumentError for no peers or
        an id of 0)."""
    def close(self) -> None:
        """Frees the node and its reference to the storage. Later calls raise
        ValueError; closing twice does nothing."""
    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
    def __enter__(self) -> RawNode: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool:
        """Closes the node; the exception, if any, propagates."""
    def tick(self) -> None:
        """Advances the logical clock by one tick."""
    def campaign(self) -> None:
        """Starts an election."""
    def propose(self, data: _BytesLike) -> None:
        """Proposes an entry; ProposalDroppedError when it cannot be accepted now."""
    def propose_batch(self, data: Sequence[_BytesLike]) -> None:
        """Proposes several entries in one message; all or none are accepted."""
    def propose_conf_change(self, cc: Union[ConfChange, ConfChangeV2]) -> None:
        """Proposes a membership change."""
    def apply_conf_change(self, cc: Union[ConfChange, ConfChangeV2]) -> ConfState:
        """Applies a committed membership change; returns the new configuration."""
    def step(self, message: Union[Message, _BytesLike]) -> None:
        """Steps a message from a peer (a Message or its raftpb bytes), or,
        with async storage writes, a response of the node's own storage work
        (a Message from a Ready's ``responses``). Bytes, and Messages decoded
        from bytes, are a peer's: local-only types (MsgHup, MsgStorage*...)
        are refused with StepLocalMsgError whatever ``from_`` says.
        StepLocalMsgError for local types from a peer, StepPeerNotFoundError
        for a response from an unknown peer, DecodeError for bad bytes and
        for an enum value this version does not know (the message's type or
        an entry's: ``Message.decode`` keeps them, ``step`` cannot act on
        them)."""
    def has_ready(self) -> bool:
        """Whether ``ready()`` has work to hand out; False on a failed node
        (without raising), so a Ready loop ends."""
    def ready(self) -> Ready:
        """The pending work; handle it, then call ``advance()``. Raises the
        failure of a node that failed before; a failure while the Ready is
        built is not raised: the Ready built so far comes back (without
        committed entries) and the next call that does work raises it.
        Without async storage writes, InvalidStateError while a Ready is
        outstanding (call ``advance()`` first)."""
    def advance(self) -> None:
        """Acknowledges the outstanding Ready as persisted and applied.
        InvalidStateError without one (or with async storage writes); does
        nothing on a failed node."""
    def read_index(self, rctx: _BytesLike) -> None:
        """Requests a linearizable read; a ReadState with ``rctx`` appears in a later Ready."""
    def transfer_leader(self, transferee: int) -> None:
        """Asks the leader to hand leadership to ``transferee``;
        InvalidArgumentError for 0."""
    def forget_leader(self) -> None:
        """Forgets the current leader (so a pre-vote campaign can win early)."""
    def report_unreachable(self, id: int) -> None:
        """Reports that the last send to ``id`` failed."""
    def report_snapshot(self, id: int, status: SnapshotStatus) -> None:
        """Reports whether the snapshot sent to ``id`` arrived."""
    def status(self) -> Status:
        """The full status (every peer's progress on the leader)."""
    def basic_status(self) -> BasicStatus:
        """The status without progress."""

# ---------------------------------------------------------------- the host

import typing as _t

from .host import StateMachine

__all__ += [
    "GroupInfo",
    "Host",
    "InProcNetwork",
    "Session",
    "TcpNetwork",
    "_CompletionQueue",
    "_close_all_hosts",
    "dev_certificates",
]

@final
class InProcNetwork:
    """An in-process network joining the hosts of one process (tests,
    examples). Pass it as ``network=`` to every :class:`Host`."""

    def __new__(cls) -> InProcNetwork: ...
    def partition(self, a: int, b: int) -> None:
        """Cuts both directions between hosts ``a`` and ``b``."""
    def heal(self, a: int, b: int) -> None:
        """Restores both directions between hosts ``a`` and ``b``."""

@final
class TcpNetwork:
    """One host's place on the TCP network: its listen address
    (``ip:port``; port 0 picks one, see :attr:`Host.local_addr`), the other
    hosts' addresses (``{host_id: "host:port"}``) and its TLS files.
    Connections use mutual TLS 1.3: every peer's certificate must chain to
    ``ca`` and name its host id. Plain TCP only through
    :meth:`insecure_plaintext`. Pass it as ``network=`` to one :class:`Host`.
    """

    def __new__(
        cls,
        listen: str,
        peers: Dict[int, str],
        *,
        cert: Union[str, os.PathLike[str]],
        key: Union[str, os.PathLike[str]],
        ca: Union[str, os.PathLike[str]],
        probe_interval: float = 0.5,
    ) -> TcpNetwork: ...
    @staticmethod
    def insecure_plaintext(listen: str, peers: Dict[int, str], *, probe_interval: float = 0.5) -> TcpNetwork:
        """Plain TCP, no authentication: anyone who reaches the port can
        inject raft messages. Only for trusted networks and tests."""
    @property
    def tls(self) -> bool:
        """Whether connections use mutual TLS."""

def dev_certificates(
    dir: Union[str, os.PathLike[str]], host_ids: List[int]
) -> Dict[int, Tuple[str, str, str]]:
    """Makes a development CA and a certificate per host in ``dir``
    (``ca.pem``, ``host-<id>.pem``, ``host-<id>.key``); returns host id ->
    ``(cert, key, ca)`` paths for :class:`TcpNetwork`. Not for production."""

@final
class Session:
    """A client's identity for exactly-once proposals in one group.

    ``Host.propose_session`` advances the session after a definite outcome
    (a result or a rejection) and keeps it after a timeout, so that the
    retry is the same proposal. One proposal may be in flight at a time.
    """

    def __new__(
        cls, group: int, client_id: Optional[int] = None, *, series: int = 1, responded_to: int = 0
    ) -> Session:
        """``client_id`` defaults to a random one; 0 is reserved. A node that
        proposes for a remote client resumes the client's session with the
        ``series`` of its request and the highest series it has seen
        answered (``responded_to``, below ``series``)."""
    @property
    def group(self) -> int:
        """The group the session proposes to."""
    @property
    def client_id(self) -> int:
        """The client's id, unique among the group's clients."""
    @property
    def series(self) -> int:
        """The series number the next (or retried) proposal carries."""
    @property
    def responded_to(self) -> int:
        """The highest series whose outcome the client has received."""
    def proposal_completed(self) -> None:
        """Moves on from a timed-out proposal without retrying it: the next
        proposal gets a new series (the abandoned one may still apply)."""

@final
class GroupInfo:
    """What a host knows about one of its replicas' groups."""

    @property
    def group(self) -> int: ...
    @property
    def replica(self) -> int:
        """The local replica's id."""
    @property
    def leader(self) -> int:
        """The leader's replica id as known here (0: none)."""
    @property
    def term(self) -> int: ...
    @property
    def is_leader(self) -> bool: ...
    @property
    def voters(self) -> List[int]:
        """Voting members as of the applied index."""
    @property
    def learners(self) -> List[int]: ...
    @property
    def witnesses(self) -> List[int]:
        """The voters that are witnesses (docs/witness.md)."""
    @property
    def is_witness(self) -> bool:
        """Whether the local replica is a witness (no state machine)."""
    @property
    def applied(self) -> int: ...
    @property
    def committed(self) -> int: ...
    @property
    def last_index(self) -> int: ...
    @property
    def snapshot_index(self) -> int: ...
    @property
    def quiesced(self) -> bool: ...
    @property
    def hosts(self) -> Dict[int, int]:
        """The group's address book: replica id -> host id."""

@final
class _CompletionQueue:
    def __new__(cls, wake: Callable[[], object]) -> _CompletionQueue: ...
    def take(self) -> List[Tuple[int, bool, _t.Any]]: ...

def _close_all_hosts() -> None: ...

@final
class Host:
    """One process's runtime for many raft groups (a context manager).

    Every blocking call releases the GIL while it waits and takes a
    ``timeout`` in seconds. Client operations raise
    ``polyraft.ProposalRejectedError`` (certainly not applied) or
    ``polyraft.ProposalTimeoutError`` (unknown outcome); host-level calls
    raise ``polyraft.HostError`` / ``HostClosedError``.

    ``network``: an :class:`InProcNetwork`, a :class:`TcpNetwork`, or None
    for a host alone (only single-replica groups). ``data_dir``: where the shared log and the
    snapshots live (None: in memory).
    """

    def __new__(
        cls,
        host_id: int,
        *,
        network: Optional[Union[InProcNetwork, TcpNetwork]] = None,
        data_dir: Optional[Union[str, os.PathLike[str]]] = None,
        tick_interval: float = 0.1,
        election_ticks: int = 10,
        heartbeat_ticks: int = 1,
        snapshot_entries: int = 10000,
        compaction_overhead: int = 5000,
        quiesce: bool = True,
        workers: int = 0,
        max_sessions: int = 10000,
        seed: Optional[int] = None,
        election_priority: int = 0,
    ) -> Host: ...
    @property
    def id(self) -> int:
        """This host's id."""
    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
    @property
    def local_addr(self) -> Optional[str]:
        """The TCP transport's listen address, or None off a TcpNetwork."""
    def add_peer(self, host: int, address: str) -> None:
        """Adds or updates host ``host``'s address (TcpNetwork only)."""
    def start_replica(
        self,
        group: int,
        replica: int,
        state_machine: StateMachine,
        *,
        members: Optional[Dict[int, int]] = None,
        join: bool = False,
    ) -> None:
        """Starts replica ``replica`` of ``group`` with ``state_machine`` (a
        ``polyraft.StateMachine``). ``members`` ({replica: host}) bootstraps
        a new group, ``join=True`` joins one that added this replica; when
        the log has the group already, the replica restarts from it."""
    def stop_replica(self, group: int) -> None:
        """Stops the local replica of ``group``; its log stays."""
    def propose(self, group: int, command: bytes, timeout: float = 5.0) -> bytes:
        """Proposes ``command`` and returns the state machine's result."""
    def propose_session(self, session: Session, command: bytes, timeout: float = 5.0) -> bytes:
        """Proposes ``command`` within ``session``: applied at most once."""
    def close_session(self, session: Session, timeout: float = 5.0) -> None:
        """Drops the session's cached results in its group."""
    def read(self, group: int, query: bytes, timeout: float = 5.0) -> bytes:
        """A linearizable read: ReadIndex, then ``lookup(query)``."""
    def stale_read(self, group: int, query: bytes) -> bytes:
        """``lookup(query)`` on the local replica as it is (may be stale)."""
    def add_replica(
        self, group: int, replica: int, host: int, timeout: float = 5.0, *, address: Optional[str] = None
    ) -> None:
        """Adds a voter (or promotes a learner) running on host ``host``;
        ``address`` (TcpNetwork) travels with the change to every replica."""
    def add_learner(
        self, group: int, replica: int, host: int, timeout: float = 5.0, *, address: Optional[str] = None
    ) -> None:
        """Adds a non-voting learner running on host ``host``."""
    def add_witness(self, group: int, replica: int, host: int, timeout: float = 5.0) -> None:
        """Adds a witness (a voter without data that never leads) running on
        host ``host``; start it there with ``start_witness``."""
    def start_witness(self, group: int, replica: int) -> None:
        """Starts (or restarts) the witness replica of ``group``: no state
        machine; proposals and reads on it are refused."""
    def remove_replica(self, group: int, replica: int, timeout: float = 5.0) -> None:
        """Removes a replica (voter or learner)."""
    def transfer_leader(self, group: int, target: int, timeout: float = 5.0) -> None:
        """Hands leadership of ``group`` to replica ``target``."""
    def group_info(self, group: int) -> Optional[GroupInfo]:
        """Leader, term, members and indexes of the local replica, or None."""
    def report_host_down(self, host: int) -> int:
        """Tells the host that ``host`` is down; returns the groups woken."""
    def metrics(self) -> Dict[str, int]:
        """The host's counters and gauges by name."""
    def prometheus(self) -> str:
        """The host's and its groups' metrics as Prometheus text."""
    def failures(self) -> List[Tuple[int, int, str]]:
        """State machine failures so far: (group, replica, report)."""
    def close(self) -> None:
        """Stops every replica and worker (idempotent)."""
    def __enter__(self) -> Host: ...
    def __exit__(self, t: object, v: object, tb: object) -> bool: ...
    def _propose_to(self, queue: _CompletionQueue, token: int, group: int, command: bytes, timeout: float) -> None: ...
    def _propose_session_to(
        self, queue: _CompletionQueue, token: int, session: Session, command: bytes, timeout: float
    ) -> None: ...
    def _read_to(self, queue: _CompletionQueue, token: int, group: int, query: bytes, timeout: float) -> None: ...
    def _stale_read_to(self, queue: _CompletionQueue, token: int, group: int, query: bytes) -> None: ...
    def _change_to(
        self, queue: _CompletionQueue, token: int, group: int, kind: int, replica: int, host: int, timeout: float
    ) -> None: ...
