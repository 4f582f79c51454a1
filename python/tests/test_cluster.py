"""A 3-node cluster driven through the Python API: election, replication,
partitions, compaction and snapshots, membership changes, ReadIndex."""

from __future__ import annotations

from typing import Tuple

import pytest
from harness import Cluster, encode_state

from polyraft import (
    ConfChange,
    ConfChangeSingle,
    ConfChangeTransition,
    ConfChangeType,
    ConfChangeV2,
    ConfState,
    Entry,
    EntryType,
    Message,
    MessageType,
    ProgressState,
    ReadState,
    StateType,
)


@pytest.mark.parametrize("python_storage", [(), (1,), (1, 2, 3)], ids=["memory", "mixed", "python"])
def test_elects_and_replicates(python_storage: Tuple[int, ...]) -> None:
    c = Cluster([1, 2, 3], python_storage=python_storage)
    leader = c.elect(1)
    st = leader.node.status()
    assert st.soft_state.raft_state == StateType.StateLeader
    assert sorted(st.progress) == [1, 2, 3]
    for p in c.peers.values():
        assert p.node.basic_status().lead == 1
    leader.node.propose(b"hello")
    leader.node.propose_batch([b"a", b"b", b"c"])
    c.stabilize()
    for p in c.peers.values():
        assert p.applied == [b"hello", b"a", b"b", b"c"]
    commit = leader.node.basic_status().commit
    assert all(p.node.basic_status().commit == commit for p in c.peers.values())
    assert all(pr.state == ProgressState.StateReplicate for pr in leader.node.status().progress.values())


def test_follower_forwards_proposals() -> None:
    c = Cluster([1, 2, 3])
    c.elect(2)
    c.peers[3].node.propose(b"via follower")
    c.stabilize()
    assert all(p.applied == [b"via follower"] for p in c.peers.values())


def test_ready_describes_like_etcd() -> None:
    c = Cluster([1, 2, 3])
    p = c.peers[1]
    p.node.campaign()
    rd = p.node.ready()
    text = str(rd)
    assert text.startswith("Ready MustSync=true:\nLead:0 State:StateCandidate\nHardState Term:1 Vote:1 Commit:0\n")
    assert "1->2 MsgVote Term:1 Log:0/0" in text
    assert [m.type for m in rd.messages] == [MessageType.MsgVote, MessageType.MsgVote]
    assert str(rd.messages[0]) == "1->2 MsgVote Term:1 Log:0/0"


def test_partitioned_leader_is_replaced_and_steps_down() -> None:
    c = Cluster([1, 2, 3])
    c.elect(1)
    c.peers[1].node.propose(b"before")
    c.stabilize()
    old_term = c.peers[1].node.basic_status().term

    c.isolate(1)
    new = c.wait_for_leader([2, 3])
    assert new in (2, 3)
    # The old leader does not know yet.
    assert c.peers[1].node.basic_status().raft_state == StateType.StateLeader
    c.peers[new].node.propose(b"after")
    c.stabilize()
    assert c.peers[new].node.basic_status().term > old_term

    c.heal()
    c.tick(3)
    assert c.leaders() == [new]
    old = c.peers[1].node.basic_status()
    assert old.raft_state == StateType.StateFollower
    assert old.lead == new
    for p in c.peers.values():
        assert p.applied == [b"before", b"after"]


@pytest.mark.parametrize("python_storage", [(), (1, 3)], ids=["memory", "python"])
def test_compaction_sends_snapshot_to_lagging_follower(python_storage: Tuple[int, ...]) -> None:
    c = Cluster([1, 2, 3], python_storage=python_storage)
    leader = c.elect(1)
    c.isolate(3)
    for i in range(20):
        leader.node.propose(b"v%d" % i)
    c.stabilize()
    assert c.peers[2].applied == [b"v%d" % i for i in range(20)]
    assert c.peers[3].applied == []

    # Snapshot the leader's state machine and drop the log behind it.
    idx = leader.applied_index
    snap = leader.storage.create_snapshot(idx, leader.conf_state, encode_state(leader.applied))
    assert snap.index == idx and snap.conf_state.voters == [1, 2, 3]
    leader.storage.compact(idx)
    assert leader.storage.first_index() == idx + 1

    c.heal()
    c.delivered.clear()
    c.tick(3)
    sent = [m for m in c.delivered if m.to == 3]
    assert any(m.type == MessageType.MsgSnap for m in sent)
    snaps = [m.snapshot for m in sent if m.type == MessageType.MsgSnap]
    assert snaps[0] is not None and snaps[0].index == idx
    assert c.peers[3].applied == [b"v%d" % i for i in range(20)]
    assert c.peers[3].storage.first_index() == idx + 1
    leader.node.propose(b"more")
    c.stabilize()
    assert c.peers[3].applied[-1] == b"more"


def test_add_and_remove_a_node() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    leader.node.propose_conf_change(ConfChange(type=ConfChangeType.ConfChangeAddNode, node_id=4))
    c.stabilize()
    assert leader.conf_state.voters == [1, 2, 3, 4]
    c.add_peer(4)
    leader.node.propose(b"x")
    c.stabilize()
    c.tick(2)
    assert c.peers[4].applied == [b"x"]
    assert c.peers[4].conf_state.voters == [1, 2, 3, 4]
    assert sorted(leader.node.status().progress) == [1, 2, 3, 4]

    leader.node.propose_conf_change(ConfChange(type=ConfChangeType.ConfChangeRemoveNode, node_id=2))
    c.stabilize()
    for i in (1, 3, 4):
        assert c.peers[i].conf_state.voters == [1, 3, 4]
    assert leader.node.status().conf_state == ConfState(voters=[1, 3, 4])
    del c.peers[2]
    leader.node.propose(b"y")
    c.stabilize()
    assert all(c.peers[i].applied == [b"x", b"y"] for i in (1, 3, 4))


def test_joint_conf_change_v2() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    cc = ConfChangeV2(
        transition=ConfChangeTransition.ConfChangeTransitionAuto,
        changes=[
            ConfChangeSingle(type=ConfChangeType.ConfChangeAddNode, node_id=4),
            ConfChangeSingle(type=ConfChangeType.ConfChangeRemoveNode, node_id=3),
        ],
    )
    assert cc.enter_joint() and str(cc) == "v4 r3"
    assert ConfChangeV2.parse("v4 r3") == cc
    c.add_peer(4)
    leader.node.propose_conf_change(cc)
    c.stabilize()
    c.tick(3)
    # Entered the joint configuration and (auto_leave) left it again.
    st = leader.node.status()
    assert st.conf_state.voters == [1, 2, 4]
    assert st.conf_state.voters_outgoing == []
    assert st.config == "voters=(1 2 4)"
    log = c.peers[2].storage.entries(1, c.peers[2].storage.last_index() + 1)
    v2 = [ConfChangeV2.decode(e.data) for e in log if e.type == EntryType.EntryConfChangeV2]
    assert [str(x) for x in v2] == ["v4 r3", ""]
    assert v2[1].leave_joint()
    leader.node.propose(b"joint done")
    c.stabilize()
    assert c.peers[4].applied[-1] == b"joint done"


def test_explicit_joint_needs_leave() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    cc = ConfChangeV2.parse("l4", transition=ConfChangeTransition.ConfChangeTransitionJointExplicit)
    leader.node.propose_conf_change(cc)
    c.stabilize()
    assert leader.conf_state.voters_outgoing == [1, 2, 3]
    assert leader.conf_state.learners == [4]
    leader.node.propose_conf_change(ConfChangeV2())
    c.stabilize()
    assert leader.conf_state == ConfState(voters=[1, 2, 3], learners=[4])


def test_read_index_on_leader_and_follower() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    leader.node.propose(b"w")
    c.stabilize()
    commit = leader.node.basic_status().commit
    leader.node.read_index(b"read-1")
    c.stabilize()
    assert leader.read_states == [ReadState(index=commit, request_ctx=b"read-1")]
    c.peers[2].node.read_index(b"read-2")
    c.stabilize()
    assert c.peers[2].read_states == [ReadState(index=commit, request_ctx=b"read-2")]
    assert str(c.peers[2].read_states[0]) == 'Index:%d RequestCtx:"read-2"' % commit


def test_transfer_leader() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    leader.node.transfer_leader(3)
    c.stabilize()
    assert c.leaders() == [3]
    c.peers[3].node.propose(b"from 3")
    c.stabilize()
    assert all(p.applied == [b"from 3"] for p in c.peers.values())


def test_report_unreachable_and_forget_leader() -> None:
    c = Cluster([1, 2, 3])
    leader = c.elect(1)
    leader.node.report_unreachable(2)
    assert leader.node.status().progress[2].state == ProgressState.StateProbe
    c.peers[2].node.forget_leader()
    assert c.peers[2].node.basic_status().lead == 0
    c.tick(2)
    assert c.peers[2].node.basic_status().lead == 1


def test_values_round_trip() -> None:
    m = Message(
        type=MessageType.MsgApp,
        to=2,
        from_=1,
        term=3,
        log_term=2,
        index=5,
        commit=4,
        entries=[Entry(term=3, index=6, data=b"x")],
        context=b"ctx",
    )
    assert Message.decode(m.encode()) == m
    assert str(m) == '1->2 MsgApp Term:3 Log:2/5 Commit:4 Entries:[3/6 EntryNormal "x"]'
    assert repr(m).startswith("Message(1->2 MsgApp")
    assert m.entries[0].data == b"x" and m.context == b"ctx" and m.from_ == 1
    e = Entry(term=1, index=2, type=EntryType.EntryConfChange, data=ConfChange(node_id=2).encode())
    assert str(e) == "1/2 EntryConfChange v2"
    cs = ConfState(voters=[3, 1, 2], learners=[4])
    assert ConfState.decode(cs.encode()) == cs
    assert cs.equivalent(ConfState(voters=[1, 2, 3], learners=[4]))
    assert str(cs) == "Voters:[3 1 2] VotersOutgoing:[] Learners:[4] LearnersNext:[] AutoLeave:false"


def test_values_pickle() -> None:
    import copy
    import pickle

    from polyraft import ConfChangeSingle, HardState, Snapshot

    values = [
        Message(type=MessageType.MsgHeartbeat, to=2, from_=1, term=4, commit=3, context=b"c"),
        Entry(term=1, index=1, data=b"d"),
        HardState(term=1, vote=2, commit=3),
        ConfState(voters=[1, 2], learners=[3]),
        Snapshot(data=b"s", index=5, term=2, conf_state=ConfState(voters=[1])),
        ConfChange(type=ConfChangeType.ConfChangeRemoveNode, node_id=3),
        ConfChangeSingle(type=ConfChangeType.ConfChangeAddLearnerNode, node_id=4),
        ConfChangeV2.parse("v4 r3"),
    ]
    for v in values:
        assert pickle.loads(pickle.dumps(v)) == v
        assert copy.deepcopy(v) == v
