"""Throughput of a Python state machine on polyraft.Host: 3 hosts in one
process (in-process network, in-memory log), proposals from asyncio with a
fixed number in flight. Prints one line: proposals/s and latency.

    python examples/kv-host/bench.py [--groups 1] [--concurrency 64] [--seconds 5] [--blocking]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import threading
import time
from typing import IO, Dict, List

from polyraft import AsyncHost, Entry, Host, InProcNetwork, ProposalRejectedError, StateMachine


class KV(StateMachine):
    """``key=value`` sets a key and returns its old value."""

    def __init__(self) -> None:
        self.data: Dict[bytes, bytes] = {}

    def apply(self, entries: List[Entry]) -> List[bytes]:
        out = []
        for e in entries:
            k, _, v = e.data.partition(b"=")
            out.append(self.data.get(k, b""))
            self.data[k] = v
        return out

    def snapshot(self, writer: IO[bytes]) -> None:
        for k, v in self.data.items():
            writer.write(k + b"=" + v + b"\n")

    def restore(self, reader: IO[bytes]) -> None:
        self.data = {}
        for line in reader.read().splitlines():
            k, _, v = line.partition(b"=")
            self.data[k] = v

    def lookup(self, query: bytes) -> bytes:
        return self.data.get(query, b"")


async def run(groups: int, concurrency: int, seconds: float, blocking: bool) -> None:
    net = InProcNetwork()
    hosts = [Host(h, network=net, tick_interval=0.02) for h in (1, 2, 3)]
    for h in hosts:
        for g in range(1, groups + 1):
            h.start_replica(g, h.id, KV(), members={1: 1, 2: 2, 3: 3})
    # Propose on each group's leader (what a client that follows
    # redirections does); wait for the elections first.
    leaders: Dict[int, AsyncHost] = {}
    for g in range(1, groups + 1):
        while g not in leaders:
            for h in hosts:
                info = h.group_info(g)
                if info is not None and info.is_leader:
                    leaders[g] = AsyncHost(h)
            await asyncio.sleep(0.01)
    done = 0
    latencies: List[float] = []
    end = time.perf_counter() + seconds

    async def client(c: int) -> None:
        nonlocal done
        g = c % groups + 1
        i = 0
        while time.perf_counter() < end:
            t = time.perf_counter()
            try:
                await leaders[g].propose(g, b"k%d=%d" % (c, i))
            except ProposalRejectedError:
                continue
            latencies.append(time.perf_counter() - t)
            done += 1
            i += 1

    def blocking_client(c: int) -> None:
        nonlocal done
        g = c % groups + 1
        h = leaders[g].host
        for i in itertools.count():
            if time.perf_counter() >= end:
                return
            t = time.perf_counter()
            try:
                h.propose(g, b"k%d=%d" % (c, i))
            except ProposalRejectedError:
                continue
            with lock:
                latencies.append(time.perf_counter() - t)
                done += 1

    lock = threading.Lock()
    t0 = time.perf_counter()
    if blocking:
        threads = [threading.Thread(target=blocking_client, args=(c,)) for c in range(concurrency)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    else:
        await asyncio.gather(*(client(c) for c in range(concurrency)))
    elapsed = time.perf_counter() - t0
    latencies.sort()

    def p(q: float) -> float:
        return latencies[int(q * (len(latencies) - 1))] * 1000

    print(
        f"python state machine, 3 in-process hosts, {groups} group(s), "
        f"{'threads on Host.propose' if blocking else 'asyncio on AsyncHost.propose'}, concurrency {concurrency}: "
        f"{done / elapsed:,.0f} proposals/s, latency p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms ({done} in {elapsed:.1f} s)"
    )
    for h in hosts:
        h.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--groups", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--blocking", action="store_true", help="one thread per client on the blocking API")
    a = ap.parse_args()
    asyncio.run(run(a.groups, a.concurrency, a.seconds, a.blocking))


if __name__ == "__main__":
    main()
