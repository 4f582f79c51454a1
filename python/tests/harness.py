"""An in-process cluster of polyraft nodes for the tests: each node has a
MemoryStorage and a tiny state machine (the list of applied payloads);
messages travel as raftpb bytes through a network that can drop links."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Union

import polyraft
from polyraft import (
    CompactedError,
    Entry,
    HardState,
    SnapOutOfDateError,
    Snapshot,
    StorageError,
    UnavailableError,
    ConfChange,
    ConfChangeV2,
    ConfState,
    EntryType,
    MemoryStorage,
    Message,
    MessageType,
    RawNode,
    ReadState,
    SnapshotStatus,
    StateType,
    StepPeerNotFoundError,
)


class ListStorage:
    """A storage written in Python (the polyraft.Storage protocol plus the
    application-side methods MemoryStorage has): the log in a list whose
    first element stands for the snapshot's last entry."""

    def __init__(self, conf_state: ConfState) -> None:
        self.hs = HardState()
        self.snap = Snapshot(conf_state=conf_state)
        self.ents: List[Entry] = [Entry()]

    # The Storage protocol.
    def initial_state(self) -> Tuple[HardState, ConfState]:
        return self.hs, self.snap.conf_state

    def entries(self, lo: int, hi: int, max_size: Optional[int] = None) -> List[Entry]:
        off = self.ents[0].index
        if lo <= off:
            raise CompactedError(f"entries from {lo} are compacted (first index {off + 1})")
        if hi > self.last_index() + 1:
            raise StorageError(f"entries' hi({hi}) is out of bound lastindex({self.last_index()})")
        return self.ents[lo - off : hi - off]

    def term(self, i: int) -> int:
        off = self.ents[0].index
        if i < off:
            raise CompactedError()
        if i - off >= len(self.ents):
            raise UnavailableError()
        return self.ents[i - off].term

    def first_index(self) -> int:
        return self.ents[0].index + 1

    def last_index(self) -> int:
        return self.ents[0].index + len(self.ents) - 1

    def snapshot(self) -> Snapshot:
        return self.snap

    # What the application uses.
    def set_hard_state(self, hs: HardState) -> None:
        self.hs = hs

    def append(self, ents: Sequence[Entry]) -> None:
        for e in ents:
            off = self.ents[0].index
            if e.index <= off:
                continue
            del self.ents[e.index - off :]
            self.ents.append(e)

    def apply_snapshot(self, snap: Snapshot) -> None:
        if snap.index <= self.snap.index:
            raise SnapOutOfDateError()
        self.snap = snap
        self.ents = [Entry(index=snap.index, term=snap.term)]

    def create_snapshot(self, i: int, cs: Optional[ConfState] = None, data: bytes = b"") -> Snapshot:
        self.snap = Snapshot(data=data, index=i, term=self.term(i), conf_state=cs or self.snap.conf_state)
        return self.snap

    def compact(self, i: int) -> None:
        off = self.ents[0].index
        if i <= off:
            raise CompactedError()
        t = self.term(i)
        del self.ents[: i - off]
        self.ents[0] = Entry(index=i, term=t)


@dataclass
class Peer:
    """One node with its storage and state machine."""

    id: int
    node: RawNode
    storage: Union[MemoryStorage, ListStorage]
    applied: List[bytes] = field(default_factory=list)
    applied_index: int = 0
    conf_state: ConfState = field(default_factory=ConfState)
    read_states: List[ReadState] = field(default_factory=list)


def encode_state(applied: List[bytes]) -> bytes:
    return json.dumps([a.hex() for a in applied]).encode()


def decode_state(data: bytes) -> List[bytes]:
    if not data:
        return []
    return [bytes.fromhex(h) for h in json.loads(data)]


class Cluster:
    """Nodes plus a network. `stabilize()` runs Ready cycles and delivers
    messages until nothing is left to do."""

    def __init__(self, ids: List[int], python_storage: Sequence[int] = (), **config: Any) -> None:
        self.config = config
        self.python_storage = set(python_storage)
        self.initial = ConfState(voters=ids)
        self.peers: Dict[int, Peer] = {}
        self.inflight: List[Tuple[int, int, bytes]] = []
        self.cut: Set[Tuple[int, int]] = set()
        self.delivered: List[Message] = []
        for i in ids:
            self.add_peer(i)

    def add_peer(self, id: int, conf_state: Optional[ConfState] = None) -> Peer:
        cs = conf_state or self.initial
        storage: Union[MemoryStorage, ListStorage]
        storage = ListStorage(cs) if id in self.python_storage else MemoryStorage(conf_state=cs)
        cfg = polyraft.Config(id, log_level="ERROR", **self.config)
        p = Peer(id, RawNode(cfg, storage), storage, conf_state=conf_state or self.initial)
        self.peers[id] = p
        return p

    # ---- network -------------------------------------------------------
    def isolate(self, id: int) -> None:
        for other in self.peers:
            if other != id:
                self.cut.add((id, other))
                self.cut.add((other, id))

    def heal(self) -> None:
        self.cut.clear()

    # ---- the Ready loop ------------------------------------------------
    def handle_ready(self, p: Peer) -> bool:
        if not p.node.has_ready():
            return False
        rd = p.node.ready()
        if rd.snapshot is not None and not rd.snapshot.is_empty():
            p.storage.apply_snapshot(rd.snapshot)
            p.applied = decode_state(rd.snapshot.data)
            p.applied_index = rd.snapshot.index
            p.conf_state = rd.snapshot.conf_state
        p.storage.append(rd.entries)
        if rd.hard_state is not None:
            p.storage.set_hard_state(rd.hard_state)
        for m in rd.messages:
            self.inflight.append((m.from_, m.to, m.encode()))
        for e in rd.committed_entries:
            if e.type == EntryType.EntryNormal:
                if e.data:
                    p.applied.append(e.data)
            elif e.type == EntryType.EntryConfChange:
                p.conf_state = p.node.apply_conf_change(ConfChange.decode(e.data))
            else:
                p.conf_state = p.node.apply_conf_change(ConfChangeV2.decode(e.data))
            p.applied_index = e.index
        p.read_states.extend(rd.read_states)
        p.node.advance()
        return True

    def deliver(self) -> bool:
        if not self.inflight:
            return False
        batch, self.inflight = self.inflight, []
        for frm, to, data in batch:
            if (frm, to) in self.cut or to not in self.peers:
                continue
            m = Message.decode(data)
            self.delivered.append(m)
            try:
                self.peers[to].node.step(m)
            except StepPeerNotFoundError:
                # A response from a peer removed meanwhile: a transport drops it.
                continue
            if m.type == MessageType.MsgSnap:
                # The snapshot arrived: tell the sender, as a transport would.
                self.peers[frm].node.report_snapshot(to, SnapshotStatus.SnapshotFinish)
        return True

    def stabilize(self, limit: int = 1000) -> None:
        for _ in range(limit):
            busy = False
            for p in list(self.peers.values()):
                busy = self.handle_ready(p) or busy
            busy = self.deliver() or busy
            if not busy:
                return
        raise AssertionError("cluster did not stabilize")

    def tick(self, n: int = 1, only: Optional[List[int]] = None) -> None:
        for _ in range(n):
            for id, p in self.peers.items():
                if only is None or id in only:
                    p.node.tick()
            self.stabilize()

    # ---- queries -------------------------------------------------------
    def leaders(self, among: Optional[List[int]] = None) -> List[int]:
        ids = among if among is not None else list(self.peers)
        return [i for i in ids if self.peers[i].node.basic_status().raft_state == StateType.StateLeader]

    def leader(self) -> Peer:
        ls = self.leaders()
        assert len(ls) == 1, f"expected one leader, got {ls}"
        return self.peers[ls[0]]

    def elect(self, id: int) -> Peer:
        self.peers[id].node.campaign()
        self.stabilize()
        assert self.leaders() == [id]
        return self.peers[id]

    def wait_for_leader(self, among: List[int], max_ticks: int = 100) -> int:
        for _ in range(max_ticks):
            self.tick(1)
            ls = self.leaders(among)
            if ls:
                return ls[0]
        raise AssertionError("no leader elected")
