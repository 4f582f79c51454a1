"""Hostile and broken input (issue 15): the regression test of each Python
reproducer (memstorage_noncontiguous, decode_unknown_enum,
empty_entries_livelock, keyboard_interrupt_logger, durable_nul_path), and
of the rule that messages decoded from bytes never carry local-only types."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import pytest

import polyraft
from polyraft import (
    Config,
    ConfChange,
    ConfChangeSingle,
    ConfChangeType,
    ConfChangeV2,
    ConfState,
    DecodeError,
    DurableStorage,
    Entry,
    EntryType,
    FatalError,
    HardState,
    MemoryStorage,
    Message,
    MessageType,
    RawNode,
    Snapshot,
    StateType,
    StepLocalMsgError,
    StorageError,
)


def quiet_config(id: int, async_storage_writes: bool = False) -> Config:
    return Config(id, log_level="ERROR", async_storage_writes=async_storage_writes)


# ------------------------------------------------- memstorage_noncontiguous


@pytest.mark.parametrize(
    "batch",
    [[7, 5], [7, 9], [7, 7], [2, 5, 6]],
    ids=["backwards", "gap", "repeat", "gap-in-overwrite"],
)
def test_memory_storage_refuses_non_contiguous_appends(batch: List[int]) -> None:
    ms = MemoryStorage()
    ms.append([Entry(index=i, term=1) for i in range(1, 7)])
    before = ms.entries(1, 7)
    with pytest.raises(StorageError, match="entries not contiguous"):
        ms.append([Entry(index=i, term=2) for i in batch])
    assert ms.last_index() == 6
    assert ms.entries(1, 7) == before
    ms.append([Entry(index=7, term=1), Entry(index=8, term=1)])
    assert ms.last_index() == 8


def test_durable_storage_refuses_the_same_batch(tmp_path: Path) -> None:
    ds = DurableStorage.open(str(tmp_path / "wal"))
    ds.append([Entry(index=i, term=1) for i in range(1, 7)])
    with pytest.raises(StorageError, match="entries not contiguous"):
        ds.append([Entry(index=7, term=1), Entry(index=5, term=1)])
    assert ds.last_index() == 6


# ------------------------------------------------------ decode_unknown_enum


@pytest.mark.parametrize(
    "decode, data, what",
    [
        (Message.decode, b"\x08\x63", "MessageType value 99"),
        (Entry.decode, b"\x08\x09", "EntryType value 9"),
        (ConfChange.decode, b"\x10\x09", "ConfChangeType value 9"),
        (ConfChangeSingle.decode, b"\x08\x09", "ConfChangeType value 9"),
        (ConfChangeV2.decode, b"\x08\x09", "ConfChangeTransition value 9"),
        # A known message type carrying an entry of an unknown type (field 7).
        (Message.decode, b"\x08\x03\x3a\x02\x08\x09", "EntryType value 9"),
        # ... or a response of an unknown type (field 14).
        (Message.decode, b"\x08\x13\x72\x02\x08\x63", "MessageType value 99"),
        # A change of an unknown type inside a ConfChangeV2 (field 2).
        (ConfChangeV2.decode, b"\x12\x02\x08\x09", "ConfChangeType value 9"),
    ],
)
def test_decode_refuses_unknown_enum_values(decode: Callable[[bytes], object], data: bytes, what: str) -> None:
    with pytest.raises(DecodeError, match=what) as info:
        decode(data)
    assert isinstance(info.value, ValueError)


def test_every_known_enum_value_decodes_to_its_member() -> None:
    for t in MessageType:
        m = Message.decode(Message(type=t, entries=[Entry(type=EntryType.EntryConfChangeV2)]).encode())
        assert type(m.type) is MessageType and m.type == t
        assert type(m.entries[0].type) is EntryType
    for c in ConfChangeType:
        cc = ConfChange.decode(ConfChange(type=c, node_id=2).encode())
        assert type(cc.type) is ConfChangeType and cc.type == c


def test_step_of_bytes_with_an_unknown_enum_value_is_refused() -> None:
    ms = MemoryStorage(conf_state=ConfState(voters=[1, 2]))
    node = RawNode(quiet_config(1), ms)
    with pytest.raises(DecodeError, match="MessageType value 99"):
        node.step(b"\x08\x63")
    # A MsgApp from 2 at term 1 (type 3, to 1, from 2, term 1) whose entry
    # (field 7) has type 9.
    with pytest.raises(DecodeError, match="EntryType value 9"):
        node.step(b"\x08\x03\x10\x01\x18\x02\x20\x01\x3a\x04\x08\x09\x18\x01")
    assert node.basic_status().hard_state == HardState()
    assert not node.has_ready()


# --------------------------------------------------- empty_entries_livelock


class ListStore:
    """A Python storage whose `entries` answer can be broken on purpose,
    and whose reads can raise KeyboardInterrupt (a Ctrl-C while they run)."""

    def __init__(self, voters: Sequence[int] = (1,)) -> None:
        self.hs = HardState()
        self.voters = list(voters)
        self.ents = [Entry()]
        self.answer: Optional[Callable[[int, int], Sequence[Entry]]] = None
        self.interrupts = 0  # KeyboardInterrupts still to raise from reads

    def interrupt(self) -> None:
        if self.interrupts > 0:
            self.interrupts -= 1
            raise KeyboardInterrupt

    def initial_state(self) -> Tuple[HardState, ConfState]:
        return self.hs, ConfState(voters=self.voters)

    def entries(self, lo: int, hi: int, max_size: int) -> Sequence[Entry]:
        self.interrupt()
        if self.answer is not None:
            return self.answer(lo, hi)
        return self.ents[lo:hi]

    def term(self, i: int) -> int:
        self.interrupt()
        return self.ents[i].term

    def first_index(self) -> int:
        return 1

    def last_index(self) -> int:
        return len(self.ents) - 1

    def snapshot(self) -> Snapshot:
        return Snapshot(conf_state=ConfState(voters=self.voters))


def handle(node: RawNode, st: ListStore) -> List[bytes]:
    """One Ready: persist, collect the applied payloads, advance."""
    rd = node.ready()
    st.ents += rd.entries
    if rd.hard_state is not None:
        st.hs = rd.hard_state
    node.advance()
    return [e.data for e in rd.committed_entries if e.data]


def settle(node: RawNode, st: ListStore) -> List[bytes]:
    applied: List[bytes] = []
    for _ in range(100):
        if not node.has_ready():
            return applied
        applied += handle(node, st)
    raise AssertionError("the node never settles")


def leader_over(st: ListStore) -> RawNode:
    node = RawNode(quiet_config(1), st)
    node.campaign()
    settle(node, st)
    assert node.basic_status().raft_state == StateType.StateLeader
    return node


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda lo, hi: [], r"returned no entry"),
        (lambda lo, hi: [Entry(index=lo + 1, term=1)], r"index 3 where 2 belongs"),
        (lambda lo, hi: [Entry(index=i, term=1) for i in range(lo, hi + 2)], r"more than the range holds"),
    ],
    ids=["empty", "wrong-index", "too-many"],
)
def test_entries_answer_breaking_the_protocol_is_a_storage_error(
    answer: Callable[[int, int], Sequence[Entry]], message: str
) -> None:
    st = ListStore()
    node = leader_over(st)
    node.propose(b"x")
    handle(node, st)  # persists the entry; committing it needs a storage read
    st.answer = answer
    with pytest.raises(StorageError, match=message) as info:
        for _ in range(10):  # the livelock spun here for ever
            handle(node, st)
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(FatalError):
        node.propose(b"y")


# ------------------------------------------------ keyboard_interrupt_logger


def interrupting_logger(armed: List[BaseException]) -> Callable[[str, str], None]:
    def logger(level: str, msg: str) -> None:
        if armed:
            raise armed[0]

    return logger


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(3)], ids=["KeyboardInterrupt", "SystemExit"])
def test_interrupt_in_the_logger_propagates_and_the_node_stays_usable(exc: BaseException) -> None:
    armed: List[BaseException] = []
    st = MemoryStorage(conf_state=ConfState(voters=[1]))
    node = RawNode(polyraft.Config(1, logger=interrupting_logger(armed), log_level="INFO"), st)
    armed.append(exc)
    with pytest.raises(type(exc)):
        node.campaign()  # logs "became candidate", "became leader"...
    armed.clear()
    # The campaign went through; the node goes on as if nothing happened.
    for _ in range(10):
        if not node.has_ready():
            break
        rd = node.ready()
        st.append(rd.entries)
        if rd.hard_state is not None:
            st.set_hard_state(rd.hard_state)
        node.advance()
    assert node.basic_status().raft_state == StateType.StateLeader
    node.propose(b"after")


def test_interrupt_in_the_logger_at_creation_propagates() -> None:
    with pytest.raises(KeyboardInterrupt):
        RawNode(
            polyraft.Config(1, logger=interrupting_logger([KeyboardInterrupt()]), log_level="INFO"),
            MemoryStorage(conf_state=ConfState(voters=[1])),
        )


def test_interrupt_in_a_storage_read_propagates_and_the_node_stays_usable() -> None:
    # Follower 2 holds entries 1 and 2 of term 1.
    st = ListStore(voters=[1, 2])
    st.ents += [Entry(index=1, term=1), Entry(index=2, term=1)]
    st.hs = HardState(term=1)
    node = RawNode(quiet_config(2), st)
    app = Message(
        type=MessageType.MsgApp, from_=1, to=2, term=1, log_term=1, index=2, commit=3,
        entries=[Entry(index=3, term=1, data=b"three")],
    )
    st.interrupts = 1  # a Ctrl-C while the follower reads term(2) to match the append
    with pytest.raises(KeyboardInterrupt):
        node.step(app)
    # Not FatalError: the read was retried and the append went through; its
    # outcome is in the next Ready as if nothing had happened.
    rd = node.ready()
    assert [e.index for e in rd.entries] == [3]
    assert [(m.type, m.to, m.index, m.reject) for m in rd.messages] == [(MessageType.MsgAppResp, 1, 3, False)]
    st.ents += rd.entries
    assert rd.hard_state is not None
    st.hs = rd.hard_state
    node.advance()
    assert settle(node, st) == [] and node.basic_status().commit == 3
    # Later reads work as before.
    node.step(Message(type=MessageType.MsgHeartbeat, from_=1, to=2, term=1, commit=3))
    assert node.ready().messages[0].type == MessageType.MsgHeartbeatResp


def test_storage_that_always_interrupts_fails_the_node_but_the_interrupt_propagates() -> None:
    st = ListStore()
    node = leader_over(st)
    node.propose(b"one")
    handle(node, st)
    st.interrupts = 1000
    with pytest.raises(KeyboardInterrupt):
        handle(node, st)
    assert 1000 - st.interrupts == 3  # the first try and two retries
    with pytest.raises(FatalError):
        node.tick()


# ------------------------------------------------------- durable_nul_path


def test_durable_open_with_a_nul_byte_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="embedded null byte") as info:
        DurableStorage.open(str(tmp_path / "a\0b"))
    assert not isinstance(info.value, OSError)


def test_io_error_without_errno_has_a_readable_message(tmp_path: Path) -> None:
    # A regular file where the directory should be: the error names it.
    f = tmp_path / "file"
    f.write_bytes(b"")
    with pytest.raises(polyraft.StorageIOError) as info:
        DurableStorage.open(str(f / "sub"))
    assert "None" not in str(info.value)
    assert str(f) in str(info.value)


# ----------------------------------------- local-only types from the wire


LOCAL_TYPES = [
    MessageType.MsgHup,
    MessageType.MsgBeat,
    MessageType.MsgUnreachable,
    MessageType.MsgSnapStatus,
    MessageType.MsgCheckQuorum,
    MessageType.MsgStorageAppend,
    MessageType.MsgStorageAppendResp,
    MessageType.MsgStorageApply,
    MessageType.MsgStorageApplyResp,
]


def async_drain(node: RawNode, ms: MemoryStorage) -> List[bytes]:
    """The Ready loop with async storage writes; the node's own responses
    are stepped back as the Messages the Ready carries."""
    applied: List[bytes] = []
    for _ in range(100):
        if not node.has_ready():
            return applied
        for m in node.ready().messages:
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
    raise AssertionError("the node never settles")


def test_local_types_decoded_from_bytes_are_refused() -> None:
    ms = MemoryStorage(conf_state=ConfState(voters=[1]))
    node = RawNode(quiet_config(1, async_storage_writes=True), ms)
    node.campaign()
    async_drain(node, ms)
    assert node.basic_status().raft_state == StateType.StateLeader

    # The reproducer of the C side, from Python: a forged MsgStorageApplyResp.
    forged = Message(
        type=MessageType.MsgStorageApplyResp,
        from_=polyraft.LOCAL_APPLY_THREAD,
        to=1,
        entries=[Entry(index=1000, term=1)],
    ).encode()
    decoded = Message.decode(forged)
    for wire in [forged, decoded, pickle.loads(pickle.dumps(decoded)), copy.copy(decoded), copy.deepcopy(decoded)]:
        with pytest.raises(StepLocalMsgError):
            node.step(wire)
    for t in LOCAL_TYPES:
        for sender in [polyraft.LOCAL_APPEND_THREAD, polyraft.LOCAL_APPLY_THREAD, 1, 2]:
            b = Message(type=t, from_=sender, to=1, term=1, index=1000).encode()
            with pytest.raises(StepLocalMsgError):
                node.step(b)
            with pytest.raises(StepLocalMsgError):
                node.step(Message.decode(b))
            # Equal content, different origin: equality ignores the origin.
            assert Message.decode(b) == Message(type=t, from_=sender, to=1, term=1, index=1000)

    # Unharmed: still the leader, and it commits and applies a proposal.
    node.tick()
    node.propose(b"after")
    assert async_drain(node, ms) == [b"after"]
    status = node.basic_status()
    assert status.raft_state == StateType.StateLeader and status.applied == status.commit
