"""Hostile and broken input (issue 15): the regression test of each Python
reproducer (memstorage_noncontiguous, decode_unknown_enum,
empty_entries_livelock, keyboard_interrupt_logger, durable_nul_path), and
of the rule that messages decoded from bytes never carry local-only types."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple, Type

import pytest

import polyraft
from polyraft import (
    Config,
    ConfChange,
    ConfChangeSingle,
    ConfChangeTransition,
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
    WireEnum,
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


# Each decodes with an unknown value; `get` reads the enum field holding it.
UNKNOWN_ENUM_CASES = [
    (Message.decode, b"\x08\x63", lambda m: m.type, MessageType, 99),
    (Entry.decode, b"\x08\x09", lambda e: e.type, EntryType, 9),
    (ConfChange.decode, b"\x10\x09", lambda c: c.type, ConfChangeType, 9),
    (ConfChangeSingle.decode, b"\x08\x09", lambda c: c.type, ConfChangeType, 9),
    (ConfChangeV2.decode, b"\x08\x09", lambda c: c.transition, ConfChangeTransition, 9),
    # A known message type carrying an entry of an unknown type (field 7).
    (Message.decode, b"\x08\x03\x3a\x02\x08\x09", lambda m: m.entries[0].type, EntryType, 9),
    # ... or a response of an unknown type (field 14).
    (Message.decode, b"\x08\x13\x72\x02\x08\x63", lambda m: m.responses[0].type, MessageType, 99),
    # A change of an unknown type inside a ConfChangeV2 (field 2).
    (ConfChangeV2.decode, b"\x12\x02\x08\x09", lambda c: c.changes[0].type, ConfChangeType, 9),
    # A negative value (int32 -1, ten bytes of varint).
    (Entry.decode, b"\x08" + b"\xff" * 9 + b"\x01", lambda e: e.type, EntryType, -1),
]


@pytest.mark.parametrize(
    "decode, data, get, enum_class, value",
    UNKNOWN_ENUM_CASES,
    ids=["msg", "entry", "cc", "ccs", "ccv2-transition", "msg-entry", "msg-response", "ccv2-change", "negative"],
)
def test_decode_accepts_unknown_enum_values_as_pseudo_members(
    decode: Callable[[bytes], Any], data: bytes, get: Callable[[Any], WireEnum], enum_class: Type[WireEnum], value: int
) -> None:
    decoded = decode(data)
    t = get(decoded)
    assert isinstance(t, enum_class) and isinstance(t, WireEnum) and isinstance(t, int)
    assert int(t) == value and t == value and t.value == value
    assert t.name == f"Unknown({value})" and repr(t) == f"<{enum_class.__name__}.Unknown({value}): {value}>"
    # Printed as Go prints an unknown protobuf enum value: the number.
    assert str(t) == str(value) and f"{t}" == str(value) and f"{t:>4}" == f"{value:>4}"
    assert not t.is_known() and t not in list(enum_class)
    # The value survives encode, and pickling (which goes through it).
    assert decoded.encode() == data
    assert get(pickle.loads(pickle.dumps(decoded))) == value
    assert pickle.loads(pickle.dumps(t)) == t


def test_describe_prints_an_unknown_enum_value_as_its_number() -> None:
    # etcd's DescribeMessage prints m.Type with %v: "99" for an unknown type;
    # DescribeEntry prints e.Type the same way.
    assert str(Message.decode(b"\x08\x63")) == "None->None 99 Term:0 Log:0/0"
    assert str(Entry.decode(b"\x08\x09\x10\x01\x18\x05")) == "1/5 9"
    # etcd's ConfChangesToString: "unknown" then the node id.
    assert str(ConfChange.decode(b"\x10\x09\x18\x03")) == "unknown3"


def test_readme_example_of_an_unknown_enum_value_runs() -> None:
    import contextlib
    import io
    import re

    text = (Path(__file__).parent.parent / "README.md").read_text()
    section = text.split("### Unknown enum values", 1)[1].split("\n### ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "python/README.md", "exec"), {})
    # The output the README shows in its comment.
    (shown,) = re.findall(r"print\(.*\)\s+# (.*)", block)
    assert out.getvalue() == shown + "\n"


def test_python_code_gets_pseudo_members_too() -> None:
    # The documented fallback for code building enums from ints.
    t = MessageType(99)
    assert isinstance(t, MessageType) and t == 99 and t == Message.decode(b"\x08\x63").type
    assert MessageType(3) is MessageType.MsgApp and MessageType.MsgApp.is_known()
    assert len(MessageType) == 24 and len(EntryType) == 3 and len(ConfChangeType) == 5  # with ConfChangeAddWitnessNode
    assert len(ConfChangeTransition) == 3
    with pytest.raises(ValueError):
        MessageType("MsgApp")  # type: ignore[arg-type]
    # The enums that never come from the wire stay strict.
    with pytest.raises(ValueError):
        StateType(9)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Message(type=99),
        lambda: Message(type=MessageType(99)),
        lambda: Entry(type=9),
        lambda: ConfChange(type=9),
        lambda: ConfChangeSingle(type=9),
        lambda: ConfChangeV2(transition=9),
        lambda: ConfChangeV2.parse("v1", transition=9),
    ],
)
def test_constructors_refuse_unknown_enum_values(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=r"unknown \w+ value 9"):
        build()


def test_storages_keep_entries_of_an_unknown_type(tmp_path: Path) -> None:
    e = Entry.decode(b"\x08\x09\x10\x01\x18\x01")  # type 9, term 1, index 1
    ms = MemoryStorage()
    ms.append([e])
    assert ms.entries(1, 2) == [e] and ms.entries(1, 2)[0].type == 9
    ds = DurableStorage.open(str(tmp_path / "wal"))
    ds.append([e])
    assert ds.entries(1, 2) == [e]


def test_apply_conf_change_of_an_unknown_type_is_refused() -> None:
    node = RawNode(quiet_config(1), MemoryStorage(conf_state=ConfState(voters=[1])))
    # etcd's confchange refuses it with the same text.
    with pytest.raises(polyraft.ConfChangeError, match="unexpected conf type 9"):
        node.apply_conf_change(ConfChange.decode(b"\x10\x09\x18\x02"))
    with pytest.raises(polyraft.ConfChangeError, match="unknown transition: 9"):
        node.apply_conf_change(ConfChangeV2.decode(b"\x08\x09"))
    assert node.status().conf_state == ConfState(voters=[1])


def test_every_known_enum_value_decodes_to_its_member() -> None:
    for t in MessageType:
        m = Message.decode(Message(type=t, entries=[Entry(type=EntryType.EntryConfChangeV2)]).encode())
        assert type(m.type) is MessageType and m.type == t
        assert type(m.entries[0].type) is EntryType
    for c in ConfChangeType:
        cc = ConfChange.decode(ConfChange(type=c, node_id=2).encode())
        assert type(cc.type) is ConfChangeType and cc.type == c


def test_step_refuses_unknown_enum_values() -> None:
    ms = MemoryStorage(conf_state=ConfState(voters=[1, 2]))
    node = RawNode(quiet_config(1), ms)
    # A MsgApp from 2 at term 1 (type 3, to 1, from 2, term 1) whose entry
    # (field 7) has type 9.
    app = b"\x08\x03\x10\x01\x18\x02\x20\x01\x3a\x04\x08\x09\x18\x01"
    refused: List[Tuple[object, str]] = [
        (b"\x08\x63", "MessageType value 99"),
        (Message.decode(b"\x08\x63"), "MessageType value 99"),
        (app, "EntryType value 9"),
        (Message.decode(app), "EntryType value 9"),
        # The application's own message, with an entry decoded from bytes.
        (Message(type=MessageType.MsgApp, from_=2, to=1, term=1, entries=[Entry.decode(b"\x08\x09\x18\x01")]),
         "EntryType value 9"),
    ]
    for m, what in refused:
        with pytest.raises(DecodeError, match=what):
            node.step(m)  # type: ignore[arg-type]
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


BROKEN_ANSWERS = [
    (lambda lo, hi: [], r"returned no entry"),
    (lambda lo, hi: [Entry(index=lo + 1, term=1)], r"index 3 where 2 belongs"),
    (lambda lo, hi: [Entry(index=i, term=1) for i in range(lo, hi + 2)], r"more than the range holds"),
]


def failed_in_ready(answer: Callable[[int, int], Sequence[Entry]] = lambda lo, hi: []) -> Tuple[RawNode, ListStore]:
    """A leader whose storage breaks the protocol while ready() reads the
    entry to commit: ready() returns the Ready built so far and the node
    is failed."""
    st = ListStore()
    node = leader_over(st)
    node.propose(b"x")
    handle(node, st)  # persists the entry; committing it needs a storage read
    st.answer = answer
    applied = node.basic_status().applied
    rd = node.ready()  # does not raise: etcd's Ready() has no error
    assert rd.committed_entries == [] and rd.hard_state is not None and rd.hard_state.commit == 2
    assert not node.has_ready()
    node.advance()  # does nothing
    node.advance()
    assert node.basic_status().applied == applied
    return node, st


@pytest.mark.parametrize("answer, message", BROKEN_ANSWERS, ids=["empty", "wrong-index", "too-many"])
def test_entries_answer_breaking_the_protocol_fails_the_node(
    answer: Callable[[int, int], Sequence[Entry]], message: str
) -> None:
    node, _ = failed_in_ready(answer)
    with pytest.raises(StorageError, match=message) as info:
        node.propose(b"y")
    assert type(info.value) is StorageError and isinstance(info.value.__cause__, ValueError)
    # Raised once with its cause; then the node's fatal error, as after
    # any failure.
    with pytest.raises(FatalError, match=message):
        node.propose(b"y")
    assert not node.has_ready()


# Every call that does work, on a node that failed in ready().
WORK_CALLS: List[Tuple[str, Callable[[RawNode], object]]] = [
    ("tick", lambda n: n.tick()),
    ("campaign", lambda n: n.campaign()),
    ("propose", lambda n: n.propose(b"y")),
    ("propose_batch", lambda n: n.propose_batch([b"y"])),
    ("propose_conf_change", lambda n: n.propose_conf_change(ConfChange(type=ConfChangeType.ConfChangeAddNode, node_id=2))),
    ("apply_conf_change", lambda n: n.apply_conf_change(ConfChangeV2.parse("v2"))),
    ("step", lambda n: n.step(Message(type=MessageType.MsgHeartbeatResp, from_=1, to=1, term=1))),
    ("step-bytes", lambda n: n.step(Message(type=MessageType.MsgVote, from_=2, to=1, term=5).encode())),
    ("read_index", lambda n: n.read_index(b"r")),
    ("transfer_leader", lambda n: n.transfer_leader(2)),
    ("forget_leader", lambda n: n.forget_leader()),
    ("report_unreachable", lambda n: n.report_unreachable(2)),
    ("report_snapshot", lambda n: n.report_snapshot(2, polyraft.SnapshotStatus.SnapshotFinish)),
    ("bootstrap", lambda n: n.bootstrap([1])),
    # A failure that existed before ready() was called is raised by it.
    ("ready", lambda n: n.ready()),
]


@pytest.mark.parametrize("call", [c for _, c in WORK_CALLS], ids=[name for name, _ in WORK_CALLS])
def test_every_later_call_that_does_work_raises_the_failure(call: Callable[[RawNode], object]) -> None:
    node, _ = failed_in_ready()
    before = node.status()
    with pytest.raises(StorageError, match="returned no entry") as info:
        call(node)
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(FatalError, match="returned no entry"):
        call(node)
    # Nothing happened, and the queries still answer.
    assert node.basic_status() == before.basic and not node.has_ready()
    node.advance()


def test_ready_loop_over_a_broken_storage_settles() -> None:
    # The reproducer: the application's Ready loop used to spin for ever.
    st = ListStore()
    node = RawNode(quiet_config(1), st)
    node.campaign()
    st.answer = lambda lo, hi: []
    cycles = 0
    while node.has_ready():
        cycles += 1
        assert cycles < 10, "the Ready loop spins"
        handle(node, st)
    with pytest.raises(StorageError, match="returned no entry"):
        node.tick()


def test_failure_during_a_normal_call_is_raised_by_it() -> None:
    # Only ready() keeps quiet: a failure while stepping is raised at once.
    st = ListStore(voters=[1, 2])
    st.ents += [Entry(index=1, term=1), Entry(index=2, term=1)]
    st.hs = HardState(term=1)
    node = RawNode(quiet_config(2), st)

    def broken_term(i: int) -> int:
        raise OSError("disk gone")

    st.term = broken_term  # type: ignore[method-assign]
    app = Message(type=MessageType.MsgApp, from_=1, to=2, term=1, log_term=1, index=2, commit=2)
    with pytest.raises(StorageError, match="disk gone") as info:
        node.step(app)
    assert isinstance(info.value.__cause__, OSError)
    with pytest.raises(FatalError):
        node.tick()


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


# Calls that raise an interrupt held from the node's creation, and what
# the node holds once each of them has run again, after the interrupt.
NEXT_CALLS: List[Tuple[str, Callable[[RawNode], object]]] = [
    ("campaign", lambda n: n.campaign()),
    ("tick", lambda n: n.tick()),
    ("has_ready", lambda n: n.has_ready()),
    ("ready", lambda n: n.ready()),
    # No Ready was taken: once the interrupt is raised, advance is refused.
    ("advance", lambda n: pytest.raises(polyraft.InvalidStateError, n.advance)),
    ("basic_status", lambda n: n.basic_status()),
    ("status", lambda n: n.status()),
    ("step", lambda n: n.step(Message(type=MessageType.MsgHeartbeat, from_=2, to=1, term=1))),
]


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(3)], ids=["KeyboardInterrupt", "SystemExit"])
@pytest.mark.parametrize("call", [c for _, c in NEXT_CALLS], ids=[name for name, _ in NEXT_CALLS])
def test_interrupt_in_the_logger_at_creation_is_raised_by_the_next_call(
    call: Callable[[RawNode], object], exc: BaseException
) -> None:
    armed: List[BaseException] = [exc]
    st = MemoryStorage(conf_state=ConfState(voters=[1, 2]))
    # Creation logs "newRaft ..." at INFO: the logger raises there.
    node = RawNode(polyraft.Config(1, logger=interrupting_logger(armed), log_level="INFO"), st)
    armed.clear()
    with pytest.raises(type(exc)) as info:
        call(node)
    assert info.value is exc
    # Raised before the call did anything: still a fresh follower at term 0.
    assert node.basic_status().hard_state == HardState() and not node.has_ready()
    # Raised once; the call now does its work.
    call(node)
    node.campaign()
    assert node.basic_status().raft_state == StateType.StateCandidate


def test_interrupt_in_a_storage_read_at_creation_is_raised_by_the_next_call() -> None:
    st = ListStore()
    st.ents += [Entry(index=1, term=1)]
    st.hs = HardState(term=1, commit=1)
    st.interrupts = 1  # creation reads term(1), the last entry's term
    node = RawNode(quiet_config(1), st)
    assert st.interrupts == 0
    with pytest.raises(KeyboardInterrupt):
        node.campaign()
    assert node.basic_status().hard_state == HardState(term=1, commit=1)
    node.campaign()
    settle(node, st)
    assert node.basic_status().raft_state == StateType.StateLeader


def test_interrupt_during_ready_is_held_and_the_ready_handed_out() -> None:
    st = ListStore()
    node = leader_over(st)
    node.propose(b"x")
    handle(node, st)
    st.interrupts = 1  # a Ctrl-C while ready() reads the entry it commits
    rd = node.ready()  # raising here would lose the Ready
    assert [e.data for e in rd.committed_entries] == [b"x"]
    with pytest.raises(KeyboardInterrupt):
        node.advance()  # the next call raises it, before doing anything
    assert node.basic_status().applied == 1
    node.advance()
    assert node.basic_status().applied == 2 and not node.has_ready()


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
        # ready() fails the node without raising and holds the interrupt;
        # advance() raises it.
        handle(node, st)
    assert 1000 - st.interrupts == 3  # the first try and two retries
    # Its cause is an interrupt, already raised: a plain FatalError.
    with pytest.raises(FatalError) as info:
        node.tick()
    assert info.value.__cause__ is None


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
