"""The Storage protocol: what a RawNode needs from a storage written in Python."""

from __future__ import annotations

from typing import Protocol, Sequence, Tuple, runtime_checkable

from ._native import ConfState, Entry, HardState, Snapshot

__all__ = ["Storage"]


@runtime_checkable
class Storage(Protocol):
    """Read access to the persisted log (etcd's raft.Storage).

    :class:`polyraft.MemoryStorage` and :class:`polyraft.DurableStorage`
    implement it; any object with these methods can be passed to
    :class:`polyraft.RawNode` instead. The node calls
    them from inside its own methods (with the GIL held). To report the
    conditions raft handles, raise :class:`polyraft.CompactedError`,
    :class:`polyraft.UnavailableError` or
    :class:`polyraft.SnapshotTemporarilyUnavailableError`. Any other exception
    is a storage failure: the node method that triggered it raises
    :class:`polyraft.StorageError` with that exception as ``__cause__``, and
    the node refuses further work (:class:`polyraft.FatalError`). So is an
    ``entries`` answer that breaks its contract (no entry for a non-empty
    range, more than asked, indexes other than ``lo, lo + 1, ...``): the
    cause is then a ValueError saying what is wrong. A KeyboardInterrupt (or
    another BaseException that is not an Exception) is not a failure: the
    method is called again, twice at most, so the node's operation
    completes, and the interrupt is raised from the node method afterwards.

    The protocol is runtime-checkable: ``isinstance(obj, Storage)`` tells
    whether ``obj`` has the six methods.
    """

    def initial_state(self) -> Tuple[HardState, ConfState]:
        """The saved HardState and ConfState (read once, when the node is created)."""
        ...

    def entries(self, lo: int, hi: int, max_size: int) -> Sequence[Entry]:
        """Entries with index in ``[lo, hi)``, at most ``max_size`` bytes of
        encoded entries but at least one entry if any is in range."""
        ...

    def term(self, i: int) -> int:
        """The term of entry ``i``, for ``first_index() - 1 <= i <= last_index()``."""
        ...

    def first_index(self) -> int:
        """The index of the first entry readable through ``entries``."""
        ...

    def last_index(self) -> int:
        """The index of the last entry in the log."""
        ...

    def snapshot(self) -> Snapshot:
        """The most recent snapshot."""
        ...
