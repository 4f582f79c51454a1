"""W3, Python: the W1 loop of bench/README.md driven through the wheel.

A driver of polyraft-bench: called like a child,

    python w1.py --impl polyraft --w W1 --voters 3 --n N --b 64 --p 128 --mode entry --wire 1

it runs the loop and prints the same one-line JSON (applied, elapsed_ns,
msgs, readies, rss_kb). Storage calls and allocations are not measured
here (MemoryStorage has no counter; the allocations are Rust's and
Python's), so those keys are left out.

The loop is the one of bench/src/pr.rs: 3 voters in one thread, each over a
MemoryStorage holding the configuration; node 1 campaigns and wins before
the clock starts; then, until the leader has applied N entries: the leader
proposes B entries of P bytes (one ``propose`` each, or one
``propose_batch`` with --mode batch); every node in turn steps its inbox
and, if it has a Ready, appends its entries and hard state to its storage,
puts each message into the peer's inbox (its raftpb bytes with --wire 1,
the Message object with --wire 0), counts the applied entries and advances;
until no node has work. Each storage is compacted to the applied index every
65,536 entries.

W2 (--w W2) runs N cycles of one proposal each after 1,000 warm-up cycles.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import List, Union

import polyraft


def peak_rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Node:
    __slots__ = ("rn", "store", "inbox", "applied_index", "compacted", "applied_data", "readies")

    def __init__(self, rn: polyraft.RawNode, store: polyraft.MemoryStorage) -> None:
        self.rn = rn
        self.store = store
        self.inbox: List[Union[bytes, polyraft.Message]] = []
        self.applied_index = 0
        self.compacted = 0
        self.applied_data = 0
        self.readies = 0


class Cluster:
    def __init__(self, voters: int, wire: bool, compact_every: int) -> None:
        ids = list(range(1, voters + 1))
        self.nodes: List[Node] = []
        for i in ids:
            store = polyraft.MemoryStorage(conf_state=polyraft.ConfState(voters=ids))
            cfg = polyraft.Config(
                i,
                election_tick=10,
                heartbeat_tick=1,
                max_size_per_msg=1 << 20,
                max_inflight_msgs=256,
                log_level="ERROR",
            )
            self.nodes.append(Node(polyraft.RawNode(cfg, store), store))
        self.wire = wire
        self.compact_every = compact_every
        self.msgs = 0
        self.nodes[0].rn.campaign()
        self.run()
        if self.nodes[0].rn.basic_status().soft_state.raft_state != polyraft.StateType.StateLeader:
            sys.exit("node 1 must win")

    def propose(self, data: List[bytes], batch: bool) -> None:
        rn = self.nodes[0].rn
        if batch:
            rn.propose_batch(data)
            return
        propose = rn.propose
        for d in data:
            propose(d)

    def run(self) -> None:
        """Steps inboxes and handles Readies until no node has work."""
        nodes = self.nodes
        wire = self.wire
        compact_every = self.compact_every
        while True:
            any_work = False
            for n in nodes:
                inbox = n.inbox
                rn = n.rn
                if inbox:
                    any_work = True
                    n.inbox = []
                    step = rn.step
                    for m in inbox:
                        try:
                            step(m)
                        except polyraft.RaftError:
                            # Ignored, as in the Rust loop.
                            pass
                if not rn.has_ready():
                    continue
                any_work = True
                n.readies += 1
                rd = rn.ready()
                hs = rd.hard_state
                if hs is not None:
                    n.store.set_hard_state(hs)
                ents = rd.entries
                if ents:
                    n.store.append(ents)
                msgs = rd.messages
                self.msgs += len(msgs)
                if wire:
                    for m in msgs:
                        nodes[m.to - 1].inbox.append(m.encode())
                else:
                    for m in msgs:
                        nodes[m.to - 1].inbox.append(m)
                committed = rd.committed_entries
                if committed:
                    k = 0
                    for e in committed:
                        if e.data:
                            k += 1
                    n.applied_data += k
                    n.applied_index = committed[-1].index
                rn.advance()
                if compact_every > 0 and n.applied_index - n.compacted >= compact_every:
                    n.store.compact(n.applied_index)
                    n.compacted = n.applied_index
            if not any_work:
                return

    def reset(self) -> None:
        self.msgs = 0
        for n in self.nodes:
            n.applied_data = 0
            n.readies = 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--impl", default="polyraft", choices=["polyraft"])
    ap.add_argument("--w", default="W1", choices=["W1", "W2"])
    ap.add_argument("--voters", type=int, default=3)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--b", type=int, default=64)
    ap.add_argument("--p", type=int, default=128)
    ap.add_argument("--mode", default="entry", choices=["entry", "batch"])
    ap.add_argument("--wire", type=int, default=1, choices=[0, 1])
    ap.add_argument("--compact", type=int, default=65536)
    a = ap.parse_args()
    w2 = a.w == "W2"
    b = 1 if w2 else a.b
    batch = a.mode == "batch" and not w2
    payload = bytes(i % 251 for i in range(a.p))
    data = [payload] * b

    c = Cluster(a.voters, a.wire == 1, a.compact)
    if w2:
        for _ in range(1000):
            c.propose(data, False)
            c.run()
    c.reset()
    leader = c.nodes[0]
    t0 = time.perf_counter_ns()
    if w2:
        for _ in range(a.n):
            c.propose(data, False)
            c.run()
    else:
        while leader.applied_data < a.n:
            c.propose(data, batch)
            c.run()
    elapsed = time.perf_counter_ns() - t0
    out = {
        "impl": "polyraft",
        "binding": "python",
        "w": a.w,
        "voters": a.voters,
        "n": a.n,
        "b": b,
        "p": a.p,
        "mode": "batch" if batch else "entry",
        "wire": a.wire,
        "applied": leader.applied_data,
        "elapsed_ns": elapsed,
        "msgs": c.msgs,
        "readies_leader": leader.readies,
        "readies_total": sum(n.readies for n in c.nodes),
        "rss_kb": peak_rss_kb(),
    }
    print(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
