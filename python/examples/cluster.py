"""A three-node raft cluster in one process, driven through polyraft.

Each node has a MemoryStorage and a tiny key-value state machine. Messages
travel between nodes as raftpb bytes, the way they would over a network.
The script elects a leader, replicates a few writes, serves a linearizable
read, loses the leader to a partition, elects another one, and heals.

Run it with:  python examples/cluster.py
"""

from __future__ import annotations

from typing import Dict, List, Set, Tuple

import polyraft
from polyraft import (
    ConfChange,
    ConfState,
    Config,
    EntryType,
    MemoryStorage,
    Message,
    RawNode,
    StateType,
)


class Node:
    """One raft node: the RawNode, its storage and its state machine."""

    def __init__(self, id: int, peers: List[int]) -> None:
        self.id = id
        self.storage = MemoryStorage(conf_state=ConfState(voters=peers))
        self.raft = RawNode(Config(id, election_tick=10, heartbeat_tick=1, pre_vote=True, check_quorum=True, log_level="ERROR"), self.storage)
        self.kv: Dict[str, str] = {}
        self.reads: List[Tuple[bytes, int]] = []

    def handle_ready(self) -> List[Message]:
        """Persist, apply and return the messages to send: etcd's Ready loop."""
        rd = self.raft.ready()
        if rd.snapshot is not None and not rd.snapshot.is_empty():
            self.storage.apply_snapshot(rd.snapshot)
        self.storage.append(rd.entries)
        if rd.hard_state is not None:
            self.storage.set_hard_state(rd.hard_state)
        for entry in rd.committed_entries:
            if entry.type == EntryType.EntryNormal and entry.data:
                key, _, value = entry.data.decode().partition("=")
                self.kv[key] = value
            elif entry.type == EntryType.EntryConfChange:
                self.raft.apply_conf_change(ConfChange.decode(entry.data))
        for rs in rd.read_states:
            self.reads.append((rs.request_ctx, rs.index))
        self.raft.advance()
        return rd.messages


class Network:
    """Delivers raftpb bytes between nodes; links can be cut."""

    def __init__(self, ids: List[int]) -> None:
        self.nodes = {i: Node(i, ids) for i in ids}
        self.cut: Set[int] = set()

    def run(self) -> None:
        """Handle Readies and deliver messages until the cluster is quiet."""
        busy = True
        while busy:
            busy = False
            for node in self.nodes.values():
                if not node.raft.has_ready():
                    continue
                busy = True
                for m in node.handle_ready():
                    if m.from_ in self.cut or m.to in self.cut:
                        continue  # dropped by the partition
                    self.nodes[m.to].raft.step(m.encode())

    def tick(self, n: int) -> None:
        for _ in range(n):
            for node in self.nodes.values():
                node.raft.tick()
            self.run()

    def leader(self, among: List[int]) -> int:
        for i in among:
            if self.nodes[i].raft.basic_status().raft_state == StateType.StateLeader:
                return i
        return polyraft.NONE


def main() -> None:
    net = Network([1, 2, 3])
    net.nodes[1].raft.campaign()
    net.run()
    print("leader:", net.leader([1, 2, 3]))

    leader = net.nodes[1].raft
    for kv in (b"x=1", b"y=2", b"z=3"):
        leader.propose(kv)
    net.run()
    print("node 3 applied:", net.nodes[3].kv)

    leader.read_index(b"read-x")
    net.run()
    ctx, index = net.nodes[1].reads[-1]
    print(f"read {ctx!r} is safe once applied up to index {index}: x={net.nodes[1].kv['x']}")

    print("partitioning node 1")
    net.cut = {1}
    net.tick(30)
    new = net.leader([2, 3])
    print("new leader:", new, "status:", net.nodes[new].raft.status())
    net.nodes[new].raft.propose(b"x=42")
    net.run()

    net.cut = set()
    net.tick(5)
    print("after heal, node 1 is", net.nodes[1].raft.basic_status().raft_state.name, "and sees x =", net.nodes[1].kv["x"])
    assert net.nodes[1].kv == net.nodes[2].kv == net.nodes[3].kv


if __name__ == "__main__":
    main()
