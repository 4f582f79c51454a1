"""Bad inputs give the documented exceptions, and the node stays usable."""

from __future__ import annotations

import threading
from typing import Any, List

import pytest
from harness import Cluster

import polyraft
from polyraft import (
    ConfChange,
    ConfChangeError,
    Config,
    ConfigError,
    DecodeError,
    Entry,
    HardState,
    MemoryStorage,
    Message,
    MessageType,
    ProposalDroppedError,
    RaftError,
    RawNode,
    ReadOnlyOption,
    StepLocalMsgError,
    StepPeerNotFoundError,
)


def test_exception_tree() -> None:
    for e in (DecodeError, ConfigError, ConfChangeError):
        assert issubclass(e, RaftError) and issubclass(e, ValueError)
    for s in (
        polyraft.CompactedError,
        polyraft.UnavailableError,
        polyraft.SnapOutOfDateError,
        polyraft.SnapshotTemporarilyUnavailableError,
    ):
        assert issubclass(s, polyraft.StorageError)
    assert issubclass(polyraft.StorageError, RaftError)
    for r in (ProposalDroppedError, StepLocalMsgError, StepPeerNotFoundError, polyraft.FatalError):
        assert issubclass(r, RaftError)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"id": 0}, "cannot use none as id"),
        ({"id": polyraft.LOCAL_APPEND_THREAD}, "cannot use local target as id"),
        ({"id": 1, "heartbeat_tick": 0}, "heartbeat tick must be greater than 0"),
        ({"id": 1, "election_tick": 1}, "election tick must be greater than heartbeat tick"),
        ({"id": 1, "max_inflight_msgs": 0}, "max inflight messages must be greater than 0"),
        ({"id": 1, "max_size_per_msg": 100, "max_inflight_bytes": 10}, "max inflight bytes must be >= max message size"),
        (
            {"id": 1, "read_only_option": ReadOnlyOption.ReadOnlyLeaseBased},
            "CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased",
        ),
    ],
)
def test_bad_config(kwargs: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config(**kwargs)


def test_bad_config_values_and_types() -> None:
    with pytest.raises(ValueError, match="election_tick must be an integer"):
        Config(1, election_tick=-1)
    with pytest.raises(ValueError, match="id must be an integer"):
        Config(2**64)
    with pytest.raises(TypeError, match="election_tick must be an int"):
        Config(1, election_tick="10")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Config(1, check_quorum=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Config(1, electiontick=10)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="log_level"):
        Config(1, log_level="LOUD")


def test_config_defaults_are_etcds() -> None:
    c = Config(7)
    assert (c.id, c.election_tick, c.heartbeat_tick, c.max_inflight_msgs) == (7, 10, 1, 256)
    assert c.max_size_per_msg == polyraft.NO_LIMIT
    assert c.read_only_option == ReadOnlyOption.ReadOnlySafe
    assert not (c.check_quorum or c.pre_vote or c.async_storage_writes)
    assert "election_tick=10" in repr(c)


def test_malformed_bytes() -> None:
    for cls in (Message, Entry, HardState, polyraft.ConfState, polyraft.Snapshot, ConfChange, polyraft.ConfChangeV2):
        with pytest.raises(DecodeError, match="malformed raftpb bytes"):
            cls.decode(b"\xff\xff\xff")
    with pytest.raises(TypeError):
        Message.decode("text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown MessageType value 99"):
        Message(type=99)


def test_bad_calls_leave_the_node_usable() -> None:
    c = Cluster([1, 2, 3])
    with pytest.raises(ProposalDroppedError):
        c.peers[1].node.propose(b"no leader yet")
    leader = c.elect(1)
    n = leader.node
    with pytest.raises(TypeError, match="data must be a bytes-like object"):
        n.propose("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        n.propose_batch([b"ok", 3])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        n.propose_batch([])
    with pytest.raises(TypeError, match="ConfChange or ConfChangeV2"):
        n.propose_conf_change(b"v2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Message or a bytes-like object"):
        n.step(42)  # type: ignore[arg-type]
    with pytest.raises(DecodeError):
        n.step(b"\x08\xff")
    with pytest.raises(StepPeerNotFoundError):
        n.step(Message(type=MessageType.MsgAppResp, from_=99, to=1, term=1))
    with pytest.raises(StepLocalMsgError):
        n.step(Message(type=MessageType.MsgHup, from_=2, to=1))
    with pytest.raises(DecodeError, match="unknown MessageType value 99"):
        n.step(b"\x08\x63")
    with pytest.raises(OverflowError):
        n.transfer_leader(-1)
    with pytest.raises(ValueError):
        n.report_snapshot(2, 7)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        n.read_index(None)  # type: ignore[arg-type]
    # ... and it still works.
    n.propose(b"still fine")
    c.stabilize()
    assert all(p.applied == [b"still fine"] for p in c.peers.values())


def test_bootstrap() -> None:
    ms = MemoryStorage()
    n = RawNode(Config(1), ms)
    n.bootstrap([1])
    rd = n.ready()
    assert [str(e) for e in rd.committed_entries] == ["1/1 EntryConfChange v1"]
    ms.append(rd.entries)
    n.advance()
    n.campaign()
    rd = n.ready()
    ms.append(rd.entries)
    n.advance()
    assert n.basic_status().raft_state == polyraft.StateType.StateLeader
    with pytest.raises(polyraft.InvalidStateError):
        n.bootstrap([1])
    with pytest.raises(polyraft.InvalidArgumentError):
        RawNode(Config(2), MemoryStorage()).bootstrap([])


def test_logger_callable() -> None:
    lines: List[str] = []
    n = RawNode(Config(1, logger=lambda lvl, msg: lines.append(f"{lvl} {msg}")), MemoryStorage(conf_state=polyraft.ConfState(voters=[1])))
    n.campaign()
    n.ready()
    n.advance()
    assert "INFO 1 became leader at term 1" in lines


def test_threads_share_one_node() -> None:
    c = Cluster([1])
    leader = c.elect(1)
    errors: List[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(50):
                leader.node.propose(b"%d-%d" % (k, i))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    c.stabilize()
    assert len(leader.applied) == 200


def test_bad_conf_changes() -> None:
    with pytest.raises(ConfChangeError, match="unknown input: x1"):
        polyraft.ConfChangeV2.parse("x1")
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    # Leaving a joint configuration that was never entered is refused ...
    with pytest.raises(ConfChangeError):
        leader.node.apply_conf_change(polyraft.ConfChangeV2())
    # ... and changes nothing.
    assert leader.node.status().conf_state == polyraft.ConfState(voters=[1, 2, 3])
    leader.node.propose(b"ok")
    c.stabilize()
    assert leader.applied == [b"ok"]
