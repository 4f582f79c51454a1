"""A storage written in Python drives a node; its exceptions surface from
the node call with the original exception as __cause__."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import pytest

import polyraft
from polyraft import (
    CompactedError,
    Config,
    ConfState,
    Entry,
    FatalError,
    HardState,
    MemoryStorage,
    RawNode,
    Snapshot,
    StateType,
    Storage,
    StorageError,
    UnavailableError,
)


class ListStorage:
    """The log in a Python list; entries[0] stands for the snapshot."""

    def __init__(self, conf_state: ConfState) -> None:
        self.hard_state = HardState()
        self.snap = Snapshot(conf_state=conf_state)
        self.ents: List[Entry] = [Entry()]
        self.fail_with: Optional[BaseException] = None
        self.calls = 0

    # -- the Storage protocol --
    def initial_state(self) -> Tuple[HardState, ConfState]:
        return self.hard_state, self.snap.conf_state

    def entries(self, lo: int, hi: int, max_size: int) -> Sequence[Entry]:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        off = self.ents[0].index
        if lo <= off:
            raise CompactedError("compacted")
        if hi > self.last_index() + 1:
            raise UnavailableError("beyond the log")
        return self.ents[lo - off : hi - off]

    def term(self, i: int) -> int:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        off = self.ents[0].index
        if i < off:
            raise CompactedError()
        if i - off >= len(self.ents):
            raise UnavailableError()
        return self.ents[i - off].term

    def first_index(self) -> int:
        if self.fail_with is not None:
            raise self.fail_with
        return self.ents[0].index + 1

    def last_index(self) -> int:
        if self.fail_with is not None:
            raise self.fail_with
        return self.ents[0].index + len(self.ents) - 1

    def snapshot(self) -> Snapshot:
        return self.snap

    # -- what the application does with a Ready --
    def append(self, ents: Sequence[Entry]) -> None:
        for e in ents:
            off = self.ents[0].index
            del self.ents[e.index - off :]
            self.ents.append(e)


def run(node: RawNode, st: ListStorage) -> List[bytes]:
    applied: List[bytes] = []
    while node.has_ready():
        rd = node.ready()
        st.append(rd.entries)
        if rd.hard_state is not None:
            st.hard_state = rd.hard_state
        applied += [e.data for e in rd.committed_entries if e.data]
        node.advance()
    return applied


def test_protocol_is_satisfied_statically() -> None:
    st: Storage = ListStorage(ConfState(voters=[1]))
    mem: Storage = MemoryStorage()
    assert st.last_index() == 0 and mem.last_index() == 0
    assert isinstance(st, Storage) and isinstance(mem, Storage)
    assert not isinstance(object(), Storage)


def test_python_storage_drives_a_node() -> None:
    st = ListStorage(ConfState(voters=[1]))
    node = RawNode(Config(1), st)
    assert node.storage is st
    node.campaign()
    run(node, st)
    assert node.basic_status().raft_state == StateType.StateLeader
    node.propose(b"one")
    node.propose_batch([b"two", b"three"])
    assert run(node, st) == [b"one", b"two", b"three"]
    assert st.last_index() == 4 and st.hard_state.commit == 4
    assert st.calls > 0

    # A restart reads the persisted state back through the protocol.
    node2 = RawNode(Config(1, applied=4), st)
    assert node2.basic_status().hard_state == st.hard_state


def test_storage_exception_is_the_cause() -> None:
    st = ListStorage(ConfState(voters=[1]))
    node = RawNode(Config(1), st)
    node.campaign()
    run(node, st)
    st.fail_with = KeyError("disk on fire")
    with pytest.raises(StorageError) as ei:
        node.propose(b"x")
        run(node, st)
    assert isinstance(ei.value.__cause__, KeyError)
    assert "disk on fire" in str(ei.value)
    # The node refuses further work.
    st.fail_with = None
    with pytest.raises(FatalError):
        node.propose(b"y")
    assert node.basic_status().id == 1


def test_storage_error_at_creation() -> None:
    class Broken(ListStorage):
        def initial_state(self) -> Tuple[HardState, ConfState]:
            raise OSError("cannot read")

    with pytest.raises(StorageError) as ei:
        RawNode(Config(1), Broken(ConfState(voters=[1])))
    assert isinstance(ei.value.__cause__, OSError)


def test_wrong_return_type_is_a_type_error_cause() -> None:
    class Wrong(ListStorage):
        def last_index(self) -> int:
            return "five"  # type: ignore[return-value]

    with pytest.raises(StorageError) as ei:
        RawNode(Config(1), Wrong(ConfState(voters=[1])))
    assert isinstance(ei.value.__cause__, TypeError)


def test_not_a_storage() -> None:
    with pytest.raises(TypeError, match="Storage protocol"):
        RawNode(Config(1), object())  # type: ignore[arg-type]


def test_reentrant_call_from_storage_is_refused() -> None:
    holder: List[RawNode] = []

    class Reentrant(ListStorage):
        def entries(self, lo: int, hi: int, max_size: int) -> Sequence[Entry]:
            if holder:
                holder[0].basic_status()
            return super().entries(lo, hi, max_size)

    st = Reentrant(ConfState(voters=[1]))
    node = RawNode(Config(1), st)
    node.campaign()
    run(node, st)
    holder.append(node)
    node.propose(b"x")
    # ready() reads the entry to commit: the node fails there, quietly
    # (etcd's Ready() returns no error), and its next call raises.
    assert run(node, st) == []
    with pytest.raises(StorageError) as ei:
        node.tick()
    assert isinstance(ei.value.__cause__, RuntimeError)
    assert "called from inside a node call" in str(ei.value.__cause__)


def test_memory_storage_api() -> None:
    ms = MemoryStorage()
    ms.append([Entry(term=1, index=i) for i in range(1, 6)])
    assert (ms.first_index(), ms.last_index(), ms.term(3)) == (1, 5, 1)
    ms.set_hard_state(HardState(term=1, vote=1, commit=5))
    assert ms.hard_state() == HardState(term=1, vote=1, commit=5)
    snap = ms.create_snapshot(3, ConfState(voters=[1]), b"state")
    assert (snap.index, snap.term, snap.data) == (3, 1, b"state")
    ms.compact(3)
    assert ms.first_index() == 4
    with pytest.raises(CompactedError):
        ms.entries(2, 4)
    with pytest.raises(CompactedError):
        ms.compact(2)
    assert [e.index for e in ms.entries(4, 6)] == [4, 5]
    with pytest.raises(polyraft.SnapOutOfDateError):
        ms.apply_snapshot(Snapshot(index=2, term=1))
    ms.apply_snapshot(Snapshot(index=10, term=2, conf_state=ConfState(voters=[1, 2])))
    assert (ms.first_index(), ms.last_index()) == (11, 10)
    assert ms.initial_state() == (HardState(term=1, vote=1, commit=5), ConfState(voters=[1, 2]))
    with pytest.raises(StorageError):
        ms.compact(50)


def test_keyboard_interrupt_is_not_wrapped() -> None:
    st = ListStorage(ConfState(voters=[1]))
    node = RawNode(Config(1), st)
    node.campaign()
    run(node, st)
    st.fail_with = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        node.propose(b"x")
        run(node, st)


def test_threads_share_a_node_over_a_python_storage() -> None:
    import threading

    st = ListStorage(ConfState(voters=[1]))
    node = RawNode(Config(1), st)
    node.campaign()
    run(node, st)
    lock = threading.Lock()
    applied: List[bytes] = []
    errors: List[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(25):
                node.propose(b"%d-%d" % (k, i))
                with lock:  # the Ready cycle is the application's: one at a time
                    applied.extend(run(node, st))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    assert sorted(applied) == sorted(b"%d-%d" % (k, i) for k in range(4) for i in range(25))


def test_async_storage_writes() -> None:
    """With async_storage_writes, persistence requests arrive as messages to
    LOCAL_APPEND_THREAD / LOCAL_APPLY_THREAD whose responses are stepped back."""
    ms = MemoryStorage(conf_state=ConfState(voters=[1]))
    node = RawNode(Config(1, async_storage_writes=True), ms)
    node.campaign()
    applied: List[bytes] = []
    for _ in range(10):
        if not node.has_ready():
            break
        rd = node.ready()
        with pytest.raises(polyraft.InvalidStateError):
            node.advance()
        for m in rd.messages:
            if m.to == polyraft.LOCAL_APPEND_THREAD:
                ms.append(m.entries)
                if m.term or m.vote or m.commit:
                    ms.set_hard_state(HardState(term=m.term, vote=m.vote, commit=m.commit))
            elif m.to == polyraft.LOCAL_APPLY_THREAD:
                applied += [e.data for e in m.entries if e.data]
            else:
                continue
            for resp in m.responses:
                node.step(resp)
        if node.basic_status().raft_state == StateType.StateLeader and not applied and not node.has_ready():
            node.propose(b"async")
    assert applied == [b"async"]
    assert ms.hard_state().commit == 2


def test_memory_storage_refuses_out_of_range_indexes() -> None:
    top = 2**64 - 1
    ms = MemoryStorage()
    with pytest.raises(ValueError, match="below 2\\*\\*63"):
        ms.append([Entry(index=top), Entry(index=top)])
    with pytest.raises(ValueError):
        ms.append([Entry(index=1, term=top)])
    with pytest.raises(ValueError):
        ms.apply_snapshot(Snapshot(index=top, term=1))
    with pytest.raises(StorageError):
        ms.compact(top)
    with pytest.raises(StorageError):
        ms.create_snapshot(top)
    with pytest.raises(StorageError):
        ms.entries(top, top)
    with pytest.raises(UnavailableError):
        ms.term(top)
    with pytest.raises(OverflowError):
        ms.term(-1)
    # Still usable.
    ms.append([Entry(index=1, term=1)])
    assert (ms.first_index(), ms.last_index()) == (1, 1)
