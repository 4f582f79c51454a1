"""One behaviour in every binding (the table in python/README.md,
"Errors"), and the 1.0 API: close() and ``with``, bytes-like and path
arguments, hashable values, messages in Python terms, __version__."""

from __future__ import annotations

import errno
import os
import pathlib
import re
import shutil
from typing import Any, Dict, List

import pytest

import polyraft
from polyraft import (
    ConfChange,
    ConfState,
    Config,
    DurableStorage,
    Entry,
    HardState,
    InvalidArgumentError,
    InvalidStateError,
    MemoryStorage,
    Message,
    MessageType,
    RawNode,
    Snapshot,
    StorageIOError,
)
from polyraft._common import RESULT_NAMES

HEADER = pathlib.Path(__file__).resolve().parents[2] / "include" / "polyraft.h"


def new_node(storage: object = None) -> RawNode:
    return RawNode(Config(id=1), storage if storage is not None else MemoryStorage())  # type: ignore[arg-type]


# ------------------------------------------------------------- the table


def test_advance_without_ready() -> None:
    node = new_node()
    node.bootstrap([1])
    with pytest.raises(InvalidStateError, match="advance without an outstanding Ready"):
        node.advance()


def test_ready_twice_without_advance() -> None:
    node = new_node()
    node.bootstrap([1])
    node.ready()
    with pytest.raises(InvalidStateError, match="a Ready is outstanding"):
        node.ready()
    node.advance()
    node.ready()  # fine again after advance


def test_transfer_leader_zero() -> None:
    node = new_node()
    with pytest.raises(InvalidArgumentError, match="invalid node id 0x0"):
        node.transfer_leader(0)
    with pytest.raises(InvalidArgumentError):
        node.report_unreachable(0)


def test_bootstrap_no_peers() -> None:
    node = new_node()
    with pytest.raises(InvalidArgumentError, match="at least one peer"):
        node.bootstrap([])
    node.bootstrap([1])  # nothing changed


def test_bootstrap_peer_zero() -> None:
    node = new_node()
    with pytest.raises(InvalidArgumentError, match="invalid node id 0x0") as info:
        node.bootstrap([0])
    assert "removed all voters" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_durable_storage_empty_path() -> None:
    with pytest.raises(InvalidArgumentError, match="^dir is empty$"):
        DurableStorage.open("")


def test_exception_classes_match_the_c_codes() -> None:
    """Each exception names a C result code that the header declares, and
    no two exceptions share one."""
    codes = set(re.findall(r"^\s*(POLYRAFT_[A-Z_]+) = \d+,", HEADER.read_text(), re.M))
    assert "POLYRAFT_IO_ERROR" in codes
    names: Dict[str, type] = {}
    for cls, name in RESULT_NAMES.items():
        assert name in codes, (cls, name)
        assert name not in names, (cls, names[name])
        names[name] = cls
    # Every exception class of the package is in the table.
    for attr in dir(polyraft):
        obj = getattr(polyraft, attr)
        # RaftError and HostError are the roots of their trees: a HostError
        # raised as such stands for several C codes (argument, config,
        # storage) that the host's C API tells apart.
        if isinstance(obj, type) and issubclass(obj, polyraft.RaftError) and obj not in (polyraft.RaftError, polyraft.HostError):
            assert obj in RESULT_NAMES, obj


# ------------------------------------------------------- close and with


def test_durable_close_releases_the_directory(tmp_path: pathlib.Path) -> None:
    s = DurableStorage.open(tmp_path)
    with pytest.raises(StorageIOError):
        DurableStorage.open(tmp_path)  # locked
    s.close()
    assert s.closed
    s.close()  # twice is fine
    with pytest.raises(ValueError, match="closed"):
        s.last_index()
    assert "closed" in repr(s)
    with DurableStorage.open(tmp_path) as again:
        assert again.last_index() == 0
    assert again.closed
    DurableStorage.open(tmp_path).close()


def test_rawnode_close_and_with(tmp_path: pathlib.Path) -> None:
    with DurableStorage.open(tmp_path) as storage:
        with RawNode(Config(id=1), storage) as node:
            node.bootstrap([1])
        assert node.closed
        with pytest.raises(ValueError, match="RawNode is closed"):
            node.tick()
        assert "closed" in repr(node)
    # Node and storage closed: the directory opens again at once.
    with DurableStorage.open(tmp_path) as storage:
        assert storage.hard_state() == HardState()


# --------------------------------------------------- arguments and values


def test_bytes_like_arguments() -> None:
    assert Entry(index=1, term=1, data=bytearray(b"ab")).data == b"ab"
    assert Entry(index=1, term=1, data=memoryview(b"xab")[1:]).data == b"ab"
    m = Message(type=MessageType.MsgHeartbeat, to=1, from_=2, term=1)
    assert Message.decode(bytearray(m.encode())) == m
    node = new_node()
    node.bootstrap([1])
    node.step(memoryview(Message(type=MessageType.MsgHeartbeat, to=1, from_=2, term=5).encode()))
    with pytest.raises(TypeError, match="bytes-like object, not str"):
        node.propose("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes-like object, not int"):
        Entry(data=5)  # type: ignore[arg-type]


def test_path_arguments(tmp_path: pathlib.Path) -> None:
    for p in (tmp_path / "a", str(tmp_path / "b"), os.fsencode(str(tmp_path / "c"))):
        with DurableStorage.open(p) as s:
            assert pathlib.Path(s.path).is_dir()
    with pytest.raises(TypeError, match="path, not int"):
        DurableStorage.open(5)  # type: ignore[arg-type]


def test_values_are_hashable() -> None:
    values: List[Any] = [
        Entry(index=1, term=1, data=b"x"),
        HardState(term=1, vote=1, commit=1),
        ConfState(voters=[1, 2]),
        Snapshot(index=1, term=1),
        Message(type=MessageType.MsgApp, to=1),
        ConfChange(node_id=2),
    ]
    for v in values:
        assert hash(v) == hash(type(v).decode(v.encode()))
    assert len(set(values + values)) == len(values)


def test_messages_show_no_rust_internals() -> None:
    node = new_node()
    for call in (
        lambda: node.bootstrap("12"),  # type: ignore[arg-type]
        lambda: ConfState(voters="12"),  # type: ignore[arg-type]
        lambda: node.propose(1.5),  # type: ignore[arg-type]
        lambda: node.bootstrap([-1]),
    ):
        with pytest.raises((TypeError, ValueError)) as info:
            call()
        text = str(info.value)
        assert "Vec" not in text and "PyBytes" not in text and "extract" not in text, text


def test_version() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", polyraft.__version__)


def test_storage_io_error_errno(tmp_path: pathlib.Path) -> None:
    d = tmp_path / "gone"
    with DurableStorage.open(d) as s:
        shutil.rmtree(d)
        with pytest.raises(StorageIOError) as info:
            s.apply_snapshot(Snapshot(index=5, term=1, conf_state=ConfState(voters=[1])))
        assert info.value.errno == errno.ENOENT


def test_voter_and_learner_is_named() -> None:
    storage = MemoryStorage(conf_state=ConfState(voters=[1], learners=[1]))
    with pytest.raises(polyraft.ConfChangeError, match="node 1 is both a voter and a learner"):
        RawNode(Config(id=1), storage)
