"""Enumerations and the exception tree of polyraft (pure Python).

The native module returns these enum members from attributes and raises
these exceptions, so ``except polyraft.ProposalDroppedError`` and
``m.type == MessageType.MsgApp`` work everywhere.

The four raftpb enums (MessageType, EntryType, ConfChangeType,
ConfChangeTransition) also stand for values this version does not know:
``decode`` accepts them, as etcd's Go code does, and the getters return a
*pseudo-member* (see :class:`WireEnum`).
"""

from __future__ import annotations

import enum
from typing import Dict, Optional, Type, TypeVar

__all__ = [
    "WireEnum",
    "MessageType",
    "EntryType",
    "ConfChangeType",
    "ConfChangeTransition",
    "StateType",
    "ProgressState",
    "ReadOnlyOption",
    "SnapshotStatus",
    "RaftError",
    "ProposalDroppedError",
    "StepLocalMsgError",
    "StepPeerNotFoundError",
    "ConfigError",
    "ConfChangeError",
    "DecodeError",
    "InvalidStateError",
    "FatalError",
    "StorageError",
    "CompactedError",
    "SnapOutOfDateError",
    "UnavailableError",
    "SnapshotTemporarilyUnavailableError",
    "StorageIOError",
    "CorruptionError",
    "NONE",
    "LOCAL_APPEND_THREAD",
    "LOCAL_APPLY_THREAD",
    "NO_LIMIT",
]

#: The id that means "no node" (no leader, no vote).
NONE = 0
#: The pseudo-peer that receives MsgStorageAppend (async storage writes).
LOCAL_APPEND_THREAD = 2**64 - 1
#: The pseudo-peer that receives MsgStorageApply (async storage writes).
LOCAL_APPLY_THREAD = 2**64 - 2
#: "No limit" for the byte limits of :class:`polyraft.Config`.
NO_LIMIT = 2**64 - 1


_W = TypeVar("_W", bound="WireEnum")


class WireEnum(enum.IntEnum):
    """Base of the raftpb enums, whose values come from the wire.

    A value this version does not know (from a newer peer, or a corrupt but
    well-formed message) is kept, not refused: ``MessageType(99)`` -- what
    the getters of a decoded value return for it -- is a *pseudo-member*,
    an instance of the enum that is not one of its members:

    - ``isinstance(t, MessageType)`` holds, ``int(t) == 99`` and ``t == 99``;
    - ``t.name`` is ``"Unknown(99)"``, ``repr(t)`` ``<MessageType.Unknown(99): 99>``;
    - ``str(t)`` and ``format(t)`` are ``"99"``, as Go prints an unknown
      protobuf enum value (etcd's Describe text shows the number too);
    - it is not listed by ``list(MessageType)`` nor ``len(MessageType)``,
      and two pseudo-members of the same value are equal, not identical.

    ``encode`` writes the value back unchanged. Constructors
    (``Message(type=99)``) still refuse unknown values with ValueError, and
    :meth:`polyraft.RawNode.step` refuses messages holding one with
    :class:`DecodeError`. Any int gives a pseudo-member; other values raise
    ValueError as for any enum.
    """

    @classmethod
    def _missing_(cls: Type[_W], value: object) -> Optional[_W]:
        if not isinstance(value, int):
            return None
        pseudo = int.__new__(cls, value)
        pseudo._name_ = f"Unknown({value})"
        pseudo._value_ = value
        return pseudo

    def is_known(self) -> bool:
        """Whether this is a member of the enum (not a pseudo-member)."""
        return self._name_ in type(self)._member_map_

    def __str__(self) -> str:
        # Known members keep Python's own text (which varies by version).
        return super().__str__() if self.is_known() else str(int(self))

    def __format__(self, spec: str) -> str:
        # What IntEnum does for members on every Python version, and the
        # number for a pseudo-member (Enum.__format__ would use __str__
        # since it is overridden here, on Python before 3.11).
        return int(self).__format__(spec)


class MessageType(WireEnum):
    """raftpb.MessageType: the kinds of raft messages, etcd's names and values."""

    MsgHup = 0
    MsgBeat = 1
    MsgProp = 2
    MsgApp = 3
    MsgAppResp = 4
    MsgVote = 5
    MsgVoteResp = 6
    MsgSnap = 7
    MsgHeartbeat = 8
    MsgHeartbeatResp = 9
    MsgUnreachable = 10
    MsgSnapStatus = 11
    MsgCheckQuorum = 12
    MsgTransferLeader = 13
    MsgTimeoutNow = 14
    MsgReadIndex = 15
    MsgReadIndexResp = 16
    MsgPreVote = 17
    MsgPreVoteResp = 18
    MsgStorageAppend = 19
    MsgStorageAppendResp = 20
    MsgStorageApply = 21
    MsgStorageApplyResp = 22
    MsgForgetLeader = 23


class EntryType(WireEnum):
    """raftpb.EntryType: what an entry's data holds."""

    EntryNormal = 0
    EntryConfChange = 1
    EntryConfChangeV2 = 2


class ConfChangeType(WireEnum):
    """raftpb.ConfChangeType: one change to the membership."""

    ConfChangeAddNode = 0
    ConfChangeRemoveNode = 1
    ConfChangeUpdateNode = 2
    ConfChangeAddLearnerNode = 3
    # Beyond etcd: a witness (docs/witness.md); etcd nodes refuse it.
    ConfChangeAddWitnessNode = 4


class ConfChangeTransition(WireEnum):
    """raftpb.ConfChangeTransition: how a ConfChangeV2 uses joint consensus."""

    ConfChangeTransitionAuto = 0
    ConfChangeTransitionJointImplicit = 1
    ConfChangeTransitionJointExplicit = 2


class StateType(enum.IntEnum):
    """The role of a node (etcd's raft.StateType)."""

    StateFollower = 0
    StateCandidate = 1
    StateLeader = 2
    StatePreCandidate = 3


class ProgressState(enum.IntEnum):
    """How the leader replicates to a peer (etcd's tracker.StateType)."""

    StateProbe = 0
    StateReplicate = 1
    StateSnapshot = 2


class ReadOnlyOption(enum.IntEnum):
    """How ReadIndex requests are confirmed (etcd's raft.ReadOnlyOption)."""

    #: A quorum of heartbeat acknowledgements confirms leadership (linearizable).
    ReadOnlySafe = 0
    #: The leader lease confirms leadership; needs ``check_quorum=True``.
    ReadOnlyLeaseBased = 1


class SnapshotStatus(enum.IntEnum):
    """Outcome of sending a snapshot, for :meth:`RawNode.report_snapshot`."""

    SnapshotFinish = 1
    SnapshotFailure = 2


class RaftError(Exception):
    """Base class of every error polyraft raises."""


class ProposalDroppedError(RaftError):
    """A proposal was dropped (no leader, leader transfer in progress, size limit...); retry later."""


class StepLocalMsgError(RaftError):
    """A local message type (MsgHup, MsgBeat, MsgStorage*...) was stepped as if it came from a peer."""


class StepPeerNotFoundError(RaftError):
    """A response message names a peer the node does not track."""


class ConfigError(RaftError, ValueError):
    """A :class:`polyraft.Config` failed validation (etcd's rules and texts)."""


class ConfChangeError(RaftError, ValueError):
    """A configuration change is invalid or cannot be applied."""


class DecodeError(RaftError, ValueError):
    """Bytes are not a valid raftpb encoding; also raised by
    :meth:`polyraft.RawNode.step` for a message holding an enum value this
    version does not know (which ``decode`` keeps, see :class:`WireEnum`)."""


class InvalidArgumentError(RaftError, ValueError):
    """An argument is out of its documented range (a node id of 0, no
    peers, an empty path...); nothing was changed. C's
    POLYRAFT_INVALID_ARGUMENT, Go's ErrInvalidArgument."""


class InvalidStateError(RaftError):
    """A call is not allowed in the node's state: ``ready()`` while a Ready
    is outstanding, ``advance()`` without one (or with async storage
    writes), bootstrap over a non-empty storage..."""


class FatalError(RaftError):
    """The node hit an unrecoverable error (a storage failure, a broken invariant).

    It refuses further work: every later call that does work raises this
    error again (``has_ready()`` is False and ``advance()`` does nothing).
    """


class StorageError(RaftError):
    """A storage failed. Python storages raise the subclasses to signal the
    conditions raft handles; any other exception from a storage makes the node
    call raise StorageError with the original exception as ``__cause__``."""


class CompactedError(StorageError):
    """The requested index is below the storage's first index (compacted away)."""


class SnapOutOfDateError(StorageError):
    """The snapshot offered is older than the one the storage holds."""


class UnavailableError(StorageError):
    """The requested entry does not exist (yet)."""


class SnapshotTemporarilyUnavailableError(StorageError):
    """The storage cannot produce a snapshot right now; raft retries later."""


class StorageIOError(StorageError, OSError):
    """A :class:`polyraft.DurableStorage` system call failed (write, fsync,
    rename...). Also an :class:`OSError`: ``errno`` and ``filename`` are set
    when known. What reached the disk is unknown, so the storage refuses
    further writes (raising this error again) until it is reopened; a node
    that hits it while reading keeps working, but the application must stop
    persisting and restart from the directory."""


class CorruptionError(StorageError):
    """:meth:`polyraft.DurableStorage.open` found damage it must not repair:
    a bad record in a closed segment, a record the WAL says was fsynced, a
    bad segment header, a missing segment or snapshot. (A torn write at the
    end of the last segment is not an error: it is cut off and reported in
    :attr:`polyraft.RecoveryReport.truncated`.)

    ``file`` is the damaged file, ``offset`` the byte offset of the bad
    record (0 for whole-file problems) and ``reason`` what is wrong.
    """

    file: Optional[str]
    offset: int
    reason: str

    def __init__(self, message: str, file: Optional[str] = None, offset: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.file = file
        self.offset = offset
        self.reason = reason


#: The C result code (its name in ``include/polyraft.h``) of each exception
#: class: the table of ffi/README-C.md, "Errors". A test checks it against
#: the header.
RESULT_NAMES: Dict[type, str] = {
    ProposalDroppedError: "POLYRAFT_PROPOSAL_DROPPED",
    StepLocalMsgError: "POLYRAFT_STEP_LOCAL_MSG",
    StepPeerNotFoundError: "POLYRAFT_STEP_PEER_NOT_FOUND",
    ConfigError: "POLYRAFT_INVALID_CONFIG",
    ConfChangeError: "POLYRAFT_CONF_CHANGE",
    DecodeError: "POLYRAFT_DECODE",
    InvalidArgumentError: "POLYRAFT_INVALID_ARGUMENT",
    InvalidStateError: "POLYRAFT_INVALID_STATE",
    FatalError: "POLYRAFT_FATAL",
    StorageError: "POLYRAFT_STORAGE_FAILURE",
    CompactedError: "POLYRAFT_STORAGE_COMPACTED",
    SnapOutOfDateError: "POLYRAFT_STORAGE_SNAP_OUT_OF_DATE",
    UnavailableError: "POLYRAFT_STORAGE_UNAVAILABLE",
    SnapshotTemporarilyUnavailableError: "POLYRAFT_STORAGE_SNAPSHOT_TEMPORARILY_UNAVAILABLE",
    StorageIOError: "POLYRAFT_IO_ERROR",
    CorruptionError: "POLYRAFT_CORRUPT",
}

#: The exception class of each C result code: how the native module turns
#: the kind the core names (``polyraft::Error::code_name``) into a class.
CLASS_OF_RESULT: Dict[str, type] = {name: cls for cls, name in RESULT_NAMES.items()}
