"""DurableStorage from Python: a node runs on it, a reopened storage gives the
node its log back, and damaged files raise the documented exceptions."""

from __future__ import annotations

import errno
import os
import pathlib
from typing import List

import pytest

import polyraft
from polyraft import (
    CompactedError,
    Config,
    ConfState,
    CorruptionError,
    DurableStorage,
    Entry,
    EntryType,
    HardState,
    RawNode,
    SnapOutOfDateError,
    Snapshot,
    StateType,
    StorageError,
    StorageIOError,
)


def drive(node: RawNode, storage: DurableStorage) -> List[bytes]:
    """Runs the Ready loop until quiet; returns the applied payloads."""
    applied: List[bytes] = []
    while node.has_ready():
        rd = node.ready()
        storage.persist_ready(rd)
        assert not rd.messages, "a single-node cluster sends nothing"
        applied += [e.data for e in rd.committed_entries if e.type == EntryType.EntryNormal and e.data]
        node.advance()
    return applied


def single_node(path: pathlib.Path, **kw: int) -> "tuple[RawNode, DurableStorage]":
    storage = DurableStorage.open(path, **kw)
    if storage.recovery.created:
        storage.bootstrap_conf_state(ConfState(voters=[1]))
    node = RawNode(Config(1, log_level="ERROR"), storage)
    return node, storage


def segments(path: pathlib.Path) -> List[pathlib.Path]:
    return sorted(path.glob("*.wal"))


def test_node_on_durable_storage(tmp_path: pathlib.Path) -> None:
    node, storage = single_node(tmp_path / "data")
    assert storage.recovery.created
    assert isinstance(storage, polyraft.Storage)
    assert node.storage is storage
    before = storage.stats()
    node.campaign()
    drive(node, storage)
    assert node.basic_status().raft_state == StateType.StateLeader
    for i in range(5):
        node.propose(b"put %d" % i)
    assert drive(node, storage) == [b"put %d" % i for i in range(5)]
    # The election's empty entry plus five proposals, all on disk.
    assert storage.last_index() == 6
    assert [e.data for e in storage.entries(2, 7)] == [b"put %d" % i for i in range(5)]
    assert storage.hard_state() == HardState(term=1, vote=1, commit=6)
    stats = storage.stats()
    readies = stats.readies - before.readies
    assert readies >= 3
    # At most one fsync per Ready (and none for a Ready that only moves the
    # commit index).
    assert 0 < stats.fsyncs - before.fsyncs <= readies
    assert stats.dir_fsyncs == before.dir_fsyncs
    assert stats.bytes_written > before.bytes_written
    assert storage.path == str(tmp_path / "data")


def test_reopen_keeps_the_log(tmp_path: pathlib.Path) -> None:
    node, storage = single_node(tmp_path)
    node.campaign()
    drive(node, storage)
    node.propose(b"a")
    node.propose(b"b")
    drive(node, storage)
    hs = storage.hard_state()
    del node, storage

    node, storage = single_node(tmp_path)
    rec = storage.recovery
    assert not rec.created and rec.truncated is None
    assert (rec.first_index, rec.last_index) == (1, 3)
    assert rec.records > 0 and rec.segments == 1
    assert storage.hard_state() == hs
    assert [e.data for e in storage.entries(2, 4)] == [b"a", b"b"]
    # A restarted node (applied=0) gets its committed entries again and
    # keeps its term; it wins the next election and goes on.
    assert drive(node, storage) == [b"a", b"b"]
    assert node.basic_status().term == 1
    node.campaign()
    drive(node, storage)
    node.propose(b"c")
    assert drive(node, storage) == [b"c"]
    assert node.basic_status().term == 2


def test_snapshot_and_compaction_delete_segments(tmp_path: pathlib.Path) -> None:
    node, storage = single_node(tmp_path, segment_bytes=512)
    node.campaign()
    drive(node, storage)
    for i in range(40):
        node.propose(b"x" * 40 + b"%d" % i)
        drive(node, storage)
    last = storage.last_index()
    assert storage.segment_count() > 2
    snap = storage.create_snapshot(last, data=b"state")
    assert (snap.index, snap.data, snap.conf_state.voters) == (last, b"state", [1])
    storage.compact(last)
    assert storage.first_index() == last + 1
    assert storage.stats().segments_deleted > 0
    assert len(segments(tmp_path)) == storage.segment_count()
    with pytest.raises(CompactedError):
        storage.compact(last - 1)
    with pytest.raises(SnapOutOfDateError):
        storage.create_snapshot(last - 1)
    with pytest.raises(SnapOutOfDateError):
        storage.apply_snapshot(Snapshot(index=1, term=1, conf_state=ConfState(voters=[1])))
    del node, storage

    node, storage = single_node(tmp_path, segment_bytes=512)
    assert storage.recovery.snapshot_index == last
    assert storage.snapshot().data == b"state"
    assert storage.first_index() == last + 1
    assert drive(node, storage) == []


def test_application_side_writes(tmp_path: pathlib.Path) -> None:
    storage = DurableStorage.open(tmp_path)
    storage.append([Entry(index=1, term=1, data=b"one"), Entry(index=2, term=1, data=b"two")])
    storage.set_hard_state(HardState(term=2, vote=1, commit=1))
    # Truncation on conflict: a new entry 2 replaces the old one.
    storage.append([Entry(index=2, term=2, data=b"TWO")])
    storage.apply_snapshot(Snapshot(index=5, term=3, data=b"s", conf_state=ConfState(voters=[1, 2])))
    with pytest.raises(StorageError):
        storage.bootstrap_conf_state(ConfState(voters=[1]))
    del storage
    storage = DurableStorage.open(tmp_path)
    assert storage.first_index() == 6 and storage.last_index() == 5
    hs, cs = storage.initial_state()
    assert hs == HardState(term=2, vote=1, commit=1)
    assert cs.voters == [1, 2]
    assert "DurableStorage(" in repr(storage) and "RecoveryReport(" in repr(storage.recovery)


def test_torn_tail_is_cut_off_and_reported(tmp_path: pathlib.Path) -> None:
    node, storage = single_node(tmp_path)
    node.campaign()
    drive(node, storage)
    node.propose(b"kept")
    drive(node, storage)
    last = storage.last_index()
    del node, storage
    seg = segments(tmp_path)[-1]
    size = seg.stat().st_size
    with open(seg, "ab") as f:
        f.write(b"\x40\x00\x00\x00\xde\xad")  # a record header promising 64 bytes
    storage = DurableStorage.open(tmp_path)
    tail = storage.recovery.truncated
    assert tail is not None
    assert (tail.segment, tail.offset, tail.dropped_bytes) == (str(seg), size, 6)
    assert tail.reason
    assert seg.stat().st_size == size
    assert storage.last_index() == last
    assert storage.entries(last, last + 1)[0].data == b"kept"


def test_corruption_raises_corruption_error(tmp_path: pathlib.Path) -> None:
    node, storage = single_node(tmp_path, segment_bytes=256)
    node.campaign()
    drive(node, storage)
    for i in range(20):
        node.propose(b"entry %d" % i)
        drive(node, storage)
    del node, storage
    first = segments(tmp_path)[0]
    assert len(segments(tmp_path)) > 2
    data = bytearray(first.read_bytes())
    data[len(data) // 2] ^= 0x01
    first.write_bytes(bytes(data))
    with pytest.raises(CorruptionError) as info:
        DurableStorage.open(tmp_path, segment_bytes=256)
    e = info.value
    assert isinstance(e, StorageError)
    assert e.file == str(first)
    assert 0 < e.offset < len(data)
    assert "closed segment" in e.reason
    assert e.reason in str(e) and str(first) in str(e)


def test_missing_snapshot_is_corruption(tmp_path: pathlib.Path) -> None:
    storage = DurableStorage.open(tmp_path)
    storage.apply_snapshot(Snapshot(index=3, term=1, conf_state=ConfState(voters=[1])))
    del storage
    (snap,) = tmp_path.glob("*.snap")
    snap.unlink()
    with pytest.raises(CorruptionError, match="snapshot file is missing"):
        DurableStorage.open(tmp_path)


def test_io_error_is_an_oserror(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "a-file"
    f.write_bytes(b"")
    with pytest.raises(StorageIOError) as info:
        DurableStorage.open(f)
    e = info.value
    assert isinstance(e, OSError) and isinstance(e, StorageError)
    assert e.errno == errno.EEXIST
    assert e.filename == str(f)
    with pytest.raises(OSError):
        DurableStorage.open(os.fspath(f))


def test_bad_arguments(tmp_path: pathlib.Path) -> None:
    storage = DurableStorage.open(tmp_path)
    with pytest.raises(ValueError):
        DurableStorage.open(tmp_path, segment_bytes=0)
    with pytest.raises(TypeError):
        storage.persist_ready("not a Ready")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        storage.append([Entry(index=2**63, term=1)])
    with pytest.raises(StorageError):
        storage.persist_storage_append(polyraft.Message(type=polyraft.MessageType.MsgApp))
    with pytest.raises(TypeError):
        DurableStorage()


def test_python_readme_example_runs(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib
    import io
    import re
    import tempfile

    text = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    section = text.split("### Durable storage", 1)[1]
    (block,) = re.findall(r"```python\n(.*?)```", section.split("\n### ", 1)[0], re.S)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "python/README.md", "exec"), {})
    assert "applied 2 b'hello'" in out.getvalue()
    assert "2 Term:1 Vote:1 Commit:2" in out.getvalue()
