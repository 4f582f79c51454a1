"""W4 (bench/README.md, "W4/W5"): the polyraft host end to end from Python.

A 3-node cluster as 3 processes on loopback, each a ``polyraft.Host`` with
its log on disk (``data_dir``: every write fdatasync'ed) on a
``polyraft.TcpNetwork`` (plain, or mutual TLS with development
certificates); closed-loop clients propose to the leader; one JSON line of
results on stdout, logs on stderr.

    python w4.py --concurrency C --duration S --size 128 --dir DIR [--warmup S] [--tls]

This process is node 1: it starts nodes 2 and 3 as copies of itself
(``--follower ID``, driven by lines on their stdin), waits for a leader,
hands the leadership to node 1 and runs C asyncio tasks, each awaiting
``AsyncHost.propose`` in a loop (what an asyncio service would do).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import struct
import subprocess
import sys
import time
from typing import IO, Any, Dict, List

import polyraft
from polyraft import AsyncHost, Entry, Host, StateMachine, TcpNetwork

GROUP = 1
MEMBERS = {1: 1, 2: 2, 3: 3}


class Counter(StateMachine):
    """A count of applied commands and each client's latest command (keyed
    by its first 8 bytes); a command's result is the count after it."""

    def __init__(self) -> None:
        self.count = 0
        self.last: Dict[bytes, bytes] = {}

    def apply(self, entries: List[Entry]) -> List[bytes]:
        out = []
        for e in entries:
            self.count += 1
            d = e.data
            self.last[d[:8]] = d
            out.append(struct.pack("<Q", self.count))
        return out

    def snapshot(self, writer: IO[bytes]) -> None:
        writer.write(struct.pack("<QQ", self.count, len(self.last)))
        for k, v in self.last.items():
            writer.write(struct.pack("<Q", len(v)) + k.ljust(8, b"\0") + v)

    def restore(self, reader: IO[bytes]) -> None:
        data = reader.read()
        count, n = struct.unpack_from("<QQ", data)
        pos, last = 16, {}
        for _ in range(n):
            (ln,) = struct.unpack_from("<Q", data, pos)
            k = data[pos + 8 : pos + 16].rstrip(b"\0")
            last[k] = data[pos + 16 : pos + 16 + ln]
            pos += 16 + ln
        self.count, self.last = count, last

    def lookup(self, query: bytes) -> bytes:
        return struct.pack("<Q", self.count)


def network(node: int, d: str, tls: bool) -> TcpNetwork:
    if not tls:
        return TcpNetwork.insecure_plaintext("127.0.0.1:0", {})
    c = os.path.join(d, "certs")
    return TcpNetwork(
        "127.0.0.1:0",
        {},
        cert=os.path.join(c, f"host-{node}.pem"),
        key=os.path.join(c, f"host-{node}.key"),
        ca=os.path.join(c, "ca.pem"),
    )


def start_node(node: int, d: str, tls: bool) -> Host:
    return Host(node, network=network(node, d, tls), data_dir=os.path.join(d, f"node-{node}"))


def follower(node: int, d: str, tls: bool) -> None:
    """Nodes 2 and 3: ``peer ID ADDR``, ``start``, ``quit`` on stdin."""
    h = start_node(node, d, tls)
    print(f"ready {h.local_addr}", flush=True)
    for line in sys.stdin:
        w = line.split()
        if w[:1] == ["peer"] and int(w[1]) != node:
            h.add_peer(int(w[1]), w[2])
        elif w[:1] == ["start"]:
            h.start_replica(GROUP, node, Counter(), members=MEMBERS)
            print("started", flush=True)
        elif w[:1] == ["quit"]:
            break
    h.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def expect(p: "subprocess.Popen[str]", want: str) -> str:
    assert p.stdout is not None
    line = p.stdout.readline().strip()
    if not line.startswith(want):
        raise SystemExit(f"w4.py: follower {p.pid} said {line!r}, expected {want}")
    return line[len(want) :].strip()


async def clients(h: Host, conc: int, size: int, warmup: float, duration: float, pids: List[int]) -> Dict[str, Any]:
    ah = AsyncHost(h)
    t0 = time.perf_counter()
    w_from, w_to = t0 + warmup, t0 + warmup + duration
    lat: List[float] = []
    errors = 0
    pad = b"\0" * (size - 16)

    async def client(c: int) -> None:
        nonlocal errors
        n = 0
        key = struct.pack("<Q", c)
        while True:
            cmd = key + struct.pack("<Q", n) + pad
            t = time.perf_counter()
            try:
                await ah.propose(GROUP, cmd, timeout=10.0)
            except polyraft.RaftError as e:
                errors += 1
                if errors <= 5:
                    print(f"w4.py: client {c}: {e}", file=sys.stderr)
            else:
                now = time.perf_counter()
                if w_from <= now < w_to:
                    lat.append(now - t)
            n += 1
            if time.perf_counter() >= w_to:
                return

    async def window() -> Any:
        await asyncio.sleep(max(0.0, w_from - time.perf_counter()))
        c0 = sum(cpu_seconds(p) for p in pids)
        s0 = time.perf_counter()
        await asyncio.sleep(max(0.0, w_to - time.perf_counter()))
        return sum(cpu_seconds(p) for p in pids) - c0, time.perf_counter() - s0

    results = await asyncio.gather(window(), *(client(c) for c in range(conc)))
    cpu, seconds = results[0]
    lat.sort()

    def q(p: float) -> float:
        return lat[min(len(lat) - 1, int(len(lat) * p))] * 1000 if lat else 0.0

    return {
        "writes": len(lat),
        "seconds": round(seconds, 3),
        "writes_per_s": round(len(lat) / seconds, 1),
        "p50_ms": round(q(0.5), 3),
        "p99_ms": round(q(0.99), 3),
        "p999_ms": round(q(0.999), 3),
        "cpu_s": round(cpu, 2),
        "errors": errors,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--follower", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.follower:
        follower(a.follower, a.dir, a.tls)
        return
    if a.concurrency < 1 or a.size < 16 or a.duration <= 0:
        ap.error("--concurrency must be positive, --size at least 16, --duration above 0")
    os.makedirs(a.dir, exist_ok=True)
    if a.tls:
        polyraft.dev_certificates(os.path.join(a.dir, "certs"), [1, 2, 3])
    cmd = [sys.executable, os.path.abspath(__file__), "--dir", a.dir] + (["--tls"] if a.tls else [])
    peers = [
        subprocess.Popen(cmd + ["--follower", str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for n in (2, 3)
    ]
    h = start_node(1, a.dir, a.tls)
    addrs = {1: h.local_addr}
    for n, p in zip((2, 3), peers):
        addrs[n] = expect(p, "ready")
    for n, addr in addrs.items():
        if n != 1:
            h.add_peer(n, addr)
        for p in peers:
            assert p.stdin is not None
            p.stdin.write(f"peer {n} {addr}\n")
    for p in peers:
        assert p.stdin is not None
        p.stdin.write("start\n")
        p.stdin.flush()
    h.start_replica(GROUP, 1, Counter(), members=MEMBERS)
    for p in peers:
        expect(p, "started")
    t = time.perf_counter()
    while True:
        info = h.group_info(GROUP)
        if info is not None and info.is_leader:
            break
        if info is not None and info.leader:
            try:
                h.transfer_leader(GROUP, 1, timeout=5.0)
            except polyraft.RaftError:
                pass
        if time.perf_counter() - t > 120:
            raise SystemExit("w4.py: node 1 does not lead after 120 s")
        time.sleep(0.02)
    print(f"w4.py: node 1 leads after {time.perf_counter() - t:.1f} s", file=sys.stderr)
    pids = [os.getpid()] + [p.pid for p in peers]
    res = asyncio.run(clients(h, a.concurrency, a.size, a.warmup, a.duration, pids))
    for p in peers:
        assert p.stdin is not None
        p.stdin.write("quit\n")
        p.stdin.close()
        p.wait(timeout=30)
    h.close()
    out = {"library": "polyraft", "variant": "python" + ("-tls" if a.tls else ""), "concurrency": a.concurrency}
    out.update(res)
    out["fsync"] = True
    keys = ["library", "variant", "concurrency", "writes", "seconds", "writes_per_s"]
    keys += ["p50_ms", "p99_ms", "p999_ms", "cpu_s", "fsync", "errors"]
    print(json.dumps({k: out[k] for k in keys}))


if __name__ == "__main__":
    main()
