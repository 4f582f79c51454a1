"""The host: many raft groups per process, with state machines in Python.

A :class:`Host` (one per process) runs replicas of any number of raft
groups. It owns every thread, the shared log, snapshots, ticking and the
network; the application writes a :class:`StateMachine` and calls
``propose`` / ``read``. Python code runs only inside state machine
callbacks (on a host worker thread, holding the GIL) and in the caller;
host calls release the GIL while they wait.

Outcomes of client operations:

- the result (``bytes`` from ``apply`` or ``lookup``);
- :class:`ProposalRejectedError`: certainly not applied (no leader, group not
  running here, dropped); safe to retry;
- :class:`ProposalTimeoutError`: the deadline passed, the outcome is unknown;
  retry within a :class:`Session` to have the command applied once.

:class:`AsyncHost` offers the same operations as coroutines for asyncio.
"""

from __future__ import annotations

import abc
import asyncio
import atexit
import functools
import itertools
import weakref
from typing import IO, Callable, Dict, List, Optional

from ._common import RESULT_NAMES, RaftError
from ._native import Entry, Host, Session, _close_all_hosts, _CompletionQueue

__all__ = [
    "AsyncHost",
    "HostClosedError",
    "HostError",
    "ProposalRejectedError",
    "ProposalTimeoutError",
    "StateMachine",
]


class HostError(RaftError):
    """A host-level call failed: a bad argument (unknown group, replica
    already running), the log or snapshot storage failed."""


class HostClosedError(HostError):
    """The host is closed."""


class ProposalRejectedError(RaftError):
    """The operation certainly did not take effect (no leader known, the
    group is not running on this host, raft dropped the proposal, another
    leader's entry replaced it). Retrying is safe."""


class ProposalTimeoutError(RaftError, TimeoutError):
    """The deadline passed before the outcome was known: a proposal may
    still be applied. Retry it with the same :class:`Session` to have it
    applied at most once."""


# The C result code of each host outcome, in the package's one table.
RESULT_NAMES.update(
    {
        HostClosedError: "POLYRAFT_CLOSED",
        ProposalRejectedError: "POLYRAFT_REJECTED",
        ProposalTimeoutError: "POLYRAFT_TIMED_OUT",
    }
)


class StateMachine(abc.ABC):
    """A replicated state machine: one instance per replica, driven by the
    host in log order on a worker thread.

    Every replica of a group applies the same entries in the same order, so
    ``apply`` must be deterministic. An exception raised by ``apply`` stops
    the replica (its state may be half-changed): it is logged to the
    ``polyraft.host`` logger and listed by :meth:`Host.failures`. An
    exception raised by ``lookup`` is raised to the reader instead. Blocking
    :class:`Host` calls are refused inside these methods.
    """

    @abc.abstractmethod
    def apply(self, entries: List[Entry]) -> List[bytes]:
        """Applies committed entries (oldest first; ``entry.data`` is the
        proposed command) and returns one result per entry."""

    @abc.abstractmethod
    def snapshot(self, writer: IO[bytes]) -> None:
        """Writes the whole state to ``writer`` (called between applies)."""

    @abc.abstractmethod
    def restore(self, reader: IO[bytes]) -> None:
        """Replaces the whole state with the one ``reader`` holds (written by
        ``snapshot``, possibly on another replica)."""

    @abc.abstractmethod
    def lookup(self, query: bytes) -> bytes:
        """Answers a read-only query against the current state."""


# Stop every host's threads before the interpreter goes away.
atexit.register(_close_all_hosts)

class _Dispatcher:
    """Resolves the futures of one event loop: host workers push outcomes
    into a queue and wake the loop once per burst; the loop drains them.

    It refers to its loop and the queue refers back to it only weakly, so
    that a finished loop's dispatcher goes away with the loop (and no cycle
    runs through the native queue, which the collector cannot traverse).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._futures: Dict[int, asyncio.Future[Optional[bytes]]] = {}
        self._tokens = itertools.count(1)
        self.queue = _CompletionQueue(functools.partial(_wake, weakref.ref(loop), weakref.ref(self)))

    def start(
        self, loop: asyncio.AbstractEventLoop, submit: Callable[[_CompletionQueue, int], None]
    ) -> asyncio.Future[Optional[bytes]]:
        token = next(self._tokens)
        fut: asyncio.Future[Optional[bytes]] = loop.create_future()
        self._futures[token] = fut
        try:
            submit(self.queue, token)
        except BaseException:
            del self._futures[token]
            raise
        return fut

    def drain(self) -> None:
        for token, ok, value in self.queue.take():
            fut = self._futures.pop(token, None)
            if fut is None or fut.done():  # cancelled by its awaiter
                continue
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)


def _wake(loop_ref: "weakref.ref[asyncio.AbstractEventLoop]", ref: "weakref.ref[_Dispatcher]") -> None:
    """Called on a host worker thread: schedules a drain on the loop."""
    loop = loop_ref()
    if loop is not None:
        loop.call_soon_threadsafe(_drain, ref)


def _drain(ref: "weakref.ref[_Dispatcher]") -> None:
    d = ref()
    if d is not None:
        d.drain()


class AsyncHost:
    """The client operations of a :class:`Host` as coroutines.

    Each call starts the operation at once with the host's non-blocking form
    and awaits its outcome without blocking the event loop or any thread.
    Cancelling the awaiting task abandons the outcome, not the operation (a
    proposal may still be applied). ``async with AsyncHost(host)`` closes
    the host on exit.
    """

    def __init__(self, host: Host) -> None:
        self._host = host
        self._dispatchers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Dispatcher]" = (
            weakref.WeakKeyDictionary()
        )

    @property
    def host(self) -> Host:
        """The host, for its blocking and administrative calls."""
        return self._host

    def _start(self, submit: Callable[[_CompletionQueue, int], None]) -> asyncio.Future[Optional[bytes]]:
        loop = asyncio.get_running_loop()
        d = self._dispatchers.get(loop)
        if d is None:
            d = self._dispatchers[loop] = _Dispatcher(loop)
        return d.start(loop, submit)

    async def _bytes(self, submit: Callable[[_CompletionQueue, int], None]) -> bytes:
        result = await self._start(submit)
        assert result is not None
        return result

    async def propose(self, group: int, command: bytes, timeout: float = 5.0) -> bytes:
        """Proposes ``command``; returns the state machine's result for it."""
        return await self._bytes(lambda q, t: self._host._propose_to(q, t, group, command, timeout))

    async def propose_session(self, session: Session, command: bytes, timeout: float = 5.0) -> bytes:
        """Proposes ``command`` in ``session`` (one proposal in flight per
        session; retried after a timeout, it applies at most once)."""
        return await self._bytes(lambda q, t: self._host._propose_session_to(q, t, session, command, timeout))

    async def read(self, group: int, query: bytes, timeout: float = 5.0) -> bytes:
        """A linearizable read: ReadIndex, then the state machine's ``lookup``."""
        return await self._bytes(lambda q, t: self._host._read_to(q, t, group, query, timeout))

    async def stale_read(self, group: int, query: bytes) -> bytes:
        """``lookup`` on the local replica as it is (may be stale)."""
        return await self._bytes(lambda q, t: self._host._stale_read_to(q, t, group, query))

    async def add_replica(self, group: int, replica: int, host: int, timeout: float = 5.0) -> None:
        """Adds a voter (or promotes a learner) running on host ``host``."""
        await self._start(lambda q, t: self._host._change_to(q, t, group, 0, replica, host, timeout))

    async def add_learner(self, group: int, replica: int, host: int, timeout: float = 5.0) -> None:
        """Adds a non-voting learner running on host ``host``."""
        await self._start(lambda q, t: self._host._change_to(q, t, group, 1, replica, host, timeout))

    async def remove_replica(self, group: int, replica: int, timeout: float = 5.0) -> None:
        """Removes a replica (voter or learner) from the group."""
        await self._start(lambda q, t: self._host._change_to(q, t, group, 2, replica, 0, timeout))

    async def transfer_leader(self, group: int, target: int, timeout: float = 5.0) -> None:
        """Hands leadership of the group to replica ``target``."""
        await self._start(lambda q, t: self._host._change_to(q, t, group, 3, target, 0, timeout))

    def close(self) -> None:
        """Closes the host (see :meth:`Host.close`)."""
        self._host.close()

    async def __aenter__(self) -> AsyncHost:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
