#!/usr/bin/env python3
"""The polyraft demo: a replicated key-value store on polyraft.Host.

Three kvhost.py processes, one host each, talk raft over mutual TLS (a
development CA made on the spot by polyraft.dev_certificates); the keys are
sharded over 16 raft groups. Then: writes through every host and reads back
on every host; a retried PUT applies once; the host leading the most groups
is paused (SIGSTOP) while the others serve every group, then resumed; the
busiest leader is killed with SIGKILL and the others take over; more
writes, so the logs are compacted behind snapshots; the killed host
restarts and catches up by snapshot; a fourth host joins group 1 and
another replica leaves it.

One line per step; exit status 0 on success. On a failure or after
--timeout seconds it prints the end of every host's log and exits 1.

    python examples/kv-host/kvdemo.py [--keep] [--timeout 55]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from typing import Callable, Dict, List, Optional, TypeVar

from polyraft import dev_certificates

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = os.path.join(HERE, "kvhost.py")
GROUPS = 16
SNAPSHOT_ENTRIES = 16  # small, so that a host that was down needs a snapshot
T = TypeVar("T")


class Failed(Exception):
    """A step of the demo did not work."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def group_of(key: str) -> int:
    h = 7
    for b in key.encode():
        h = (h * 31 + b) & 0xFFFF_FFFF_FFFF_FFFF
    return h % GROUPS + 1


def call(port: int, line: str, timeout: float = 3.0) -> str:
    """One request on a fresh connection; 'DOWN ...' if the host is unreachable."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(line.encode() + b"\n")
            reply = s.makefile("rb").readline().decode().rstrip("\n")
            return reply or "DOWN connection closed"
    except OSError as e:
        return f"DOWN {e}"


def eventually(what: str, f: Callable[[], Optional[T]], deadline: float = 15.0) -> T:
    end = time.monotonic() + deadline
    while True:
        r = f()
        if r is not None:
            return r
        if time.monotonic() > end:
            raise Failed(f"timed out waiting for {what}")
        time.sleep(0.05)


class Cluster:
    def __init__(self, root: str) -> None:
        self.root = root
        self.raft = {i: free_port() for i in (1, 2, 3, 4)}
        self.client = {i: free_port() for i in (1, 2, 3, 4)}
        self.procs: Dict[int, subprocess.Popen[bytes]] = {}
        self.longest = 0.0  # the longest single request of until_ok since reset
        self.certs = os.path.join(root, "certs")
        dev_certificates(self.certs, [1, 2, 3, 4])

    def start(self, i: int, join: bool = False) -> None:
        peers = ",".join(f"{h}=127.0.0.1:{p}" for h, p in self.raft.items())
        args = [sys.executable, NODE, "--id", str(i), "--raft", f"127.0.0.1:{self.raft[i]}",
                "--client", f"127.0.0.1:{self.client[i]}", "--peers", peers, "--members", "1,2,3",
                "--certs", self.certs, "--data-dir", os.path.join(self.root, f"host{i}"),
                "--snapshot-entries", str(SNAPSHOT_ENTRIES)] + (["--join"] if join else [])
        log = open(os.path.join(self.root, f"host{i}.log"), "ab")
        self.procs[i] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        eventually(f"host {i} to serve", lambda: True if not call(self.client[i], "GET x").startswith("DOWN") else None)

    def info(self, i: int, g: int) -> Dict[str, str]:
        r = call(self.client[i], f"INFO {g}")
        return dict(w.split("=", 1) for w in r.split()[1:]) if r.startswith("OK ") else {}

    def until_ok(self, line: str, hosts: List[int], deadline: float = 15.0) -> str:
        """Sends `line` to the hosts in turn until one answers OK (the same
        line, so a PUT keeps its series and applies once)."""
        n = [0]

        def attempt() -> Optional[str]:
            i = hosts[n[0] % len(hosts)]
            n[0] += 1
            start = time.monotonic()
            r = call(self.client[i], line)
            self.longest = max(self.longest, time.monotonic() - start)
            if r.startswith("ERR "):
                raise Failed(f"{line!r} on host {i}: {r}")
            return r[3:] if r.startswith("OK ") else None

        return eventually(repr(line), attempt, deadline)

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()

    def logs(self) -> str:
        out = []
        for i in sorted(self.procs):
            with open(os.path.join(self.root, f"host{i}.log"), errors="replace") as f:
                out.append(f"--- host {i}:\n" + "".join(f.readlines()[-15:]))
        return "\n".join(out)


class Writer:
    """A client: PUTs with its own session (client id, series)."""

    def __init__(self, client: int) -> None:
        self.client, self.series = client, 0

    def put(self, c: Cluster, key: str, value: str, hosts: List[int]) -> str:
        self.series += 1
        return c.until_ok(f"PUT {self.client} {self.series} {self.series - 1} {key} {value}", hosts)


def timed_put(c: Cluster, w: Writer, group: int, value: str, hosts: List[int]) -> float:
    """PUTs a key of `group` through `hosts` until OK; returns the longest
    single request it took (a dead or paused leader must cost little)."""
    key = next(f"f{n}" for n in range(1000) if group_of(f"f{n}") == group)
    c.longest = 0.0
    w.put(c, key, value, hosts)
    return c.longest


def run(c: Cluster, t0: float) -> None:
    def step(text: str) -> None:
        print(f"[{time.monotonic() - t0:5.1f}s] {text}", flush=True)

    step("certificates: a development CA and 4 host certificates (mutual TLS between hosts)")
    for i in (1, 2, 3):
        c.start(i)
    eventually("a leader in every group", lambda: True if all(c.info(1, g).get("leader", "0") != "0"
                                                               for g in range(1, GROUPS + 1)) else None)
    step(f"3 hosts started (pids {[p.pid for p in c.procs.values()]}); all {GROUPS} groups elected a leader")
    w = Writer(1)
    keys = {f"k{n}": f"v{n}" for n in range(32)}
    for n, (k, v) in enumerate(keys.items()):
        w.put(c, k, v, [n % 3 + 1])
    for i in (1, 2, 3):
        for k, v in keys.items():
            if (got := c.until_ok(f"GET {k}", [i])) != v:
                raise Failed(f"host {i}: {k}={got!r}, want {v!r}")
    step(f"wrote {len(keys)} keys through 3 hosts; every host reads every key back (ReadIndex)")
    first = c.until_ok("PUT 99 1 0 once a", [1])
    retried = c.until_ok("PUT 99 1 0 once a", [2])
    after = c.until_ok("PUT 99 2 1 once b", [3])
    if (first, retried, after) != ("", "", "a"):
        raise Failed(f"retried PUT: replies {(first, retried, after)}, want ('', '', 'a')")
    step("a PUT retried on another host (same session series) answered the first result, applied once")
    leaders = Counter(c.info(1, g).get("leader", "0") for g in range(1, GROUPS + 1))
    paused = int(leaders.most_common(1)[0][0])
    c.procs[paused].send_signal(signal.SIGSTOP)
    start = time.monotonic()
    others = [i for i in (1, 2, 3) if i != paused]
    slowest = max(timed_put(c, w, g, "paused", others) for g in range(1, GROUPS + 1))
    took = time.monotonic() - start
    c.procs[paused].send_signal(signal.SIGCONT)
    step(f"paused host {paused} (SIGSTOP, leader of {leaders[str(paused)]} groups): every group took a write "
         f"through the others within {took:.1f}s (slowest request {slowest:.2f}s); resumed it")

    def agree() -> Optional[bool]:
        """Whether the resumed host has caught up with who leads each group."""
        views = [(c.info(paused, g), c.info(others[0], g)) for g in range(1, GROUPS + 1)]
        same = all(a.get("leader") == b.get("leader") != "0" and a.get("term") == b.get("term") for a, b in views)
        return True if same else None

    eventually("the resumed host to see the new leaders", agree)
    leaders = Counter(c.info(others[0], g).get("leader", "0") for g in range(1, GROUPS + 1))
    victim = int(leaders.most_common(1)[0][0])
    rest = [i for i in (1, 2, 3) if i != victim]
    c.procs[victim].send_signal(signal.SIGKILL)
    c.procs[victim].wait()
    killed = time.monotonic()
    slowest = max(timed_put(c, w, g, "after-failover", rest) for g in range(1, GROUPS + 1))
    step(f"SIGKILLed host {victim} (leader of {leaders[str(victim)]} groups); all {GROUPS} groups took writes "
         f"again {time.monotonic() - killed:.1f}s later (slowest request {slowest:.2f}s)")
    more = {f"m{n}": f"w{n}" for n in range(480)}
    items = list(more.items())
    writers = [Writer(10 + t) for t in range(8)]  # 8 clients at once, a session each
    threads = [threading.Thread(target=lambda t=t: [writers[t].put(c, k, v, rest) for k, v in items[t::8]])
               for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys.update(more)
    if any(int(c.info(rest[0], g).get("snapshot", "0")) == 0 for g in range(1, GROUPS + 1)):
        raise Failed(f"host {rest[0]} has a group without a snapshot")
    step(f"wrote {len(more)} more keys while host {victim} was down (the logs were compacted behind snapshots)")
    restarted = time.monotonic()
    c.start(victim)
    for g in range(1, GROUPS + 1):
        target = int(c.info(rest[0], g).get("applied", "0"))
        eventually(f"host {victim} to catch up in group {g}",
                   lambda: True if int(c.info(victim, g).get("applied", "0")) >= target else None)
    for k in list(more)[-16:]:
        if (got := c.until_ok(f"GET {k}", [victim])) != more[k]:
            raise Failed(f"host {victim} reads {k}={got!r}, want {more[k]!r}; group {group_of(k)}: "
                         + "; ".join(f"host {i}: {c.info(i, group_of(k))}" for i in (1, 2, 3)))
    installed = int(c.info(victim, 1).get("snapshots_installed", "0"))
    if installed == 0:
        raise Failed(f"host {victim} caught up without a snapshot")
    step(f"restarted host {victim}: caught up in {time.monotonic() - restarted:.1f}s "
         f"({installed} snapshots installed); reads the new keys")
    c.start(4, join=True)
    leader1 = c.info(rest[0], 1).get("leader", "0")
    gone = next(i for i in (1, 2, 3) if str(i) != leader1)
    c.until_ok("MEMBER ADD 1 4 4", [1, 2, 3])
    c.until_ok(f"MEMBER REMOVE 1 {gone}", [1, 2, 3])
    want = ",".join(str(i) for i in (1, 2, 3, 4) if i != gone)
    eventually("host 4 in group 1", lambda: True if c.info(4, 1).get("voters") == want else None)
    k1 = next(k for k in keys if group_of(k) == 1)
    if (got := c.until_ok(f"GET {k1}", [4])) != keys[k1]:
        raise Failed(f"host 4 reads {k1}={got!r}, want {keys[k1]!r}")
    w.put(c, k1, "moved", [4])
    step(f"membership: host 4 joined group 1 and host {gone} left it (voters {want}); host 4 serves it")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", action="store_true", help="keep the data directory and the hosts' logs")
    ap.add_argument("--timeout", type=float, default=55.0, help="give up after this many seconds")
    a = ap.parse_args()
    root = tempfile.mkdtemp(prefix="polyraft-demo-")
    c = Cluster(root)
    t0 = time.monotonic()
    def give_up() -> None:
        print(f"demo FAILED: over {a.timeout}s\n" + c.logs(), flush=True)
        c.stop()
        os._exit(1)

    timer = threading.Timer(a.timeout, give_up)
    timer.daemon = True
    timer.start()
    try:
        run(c, t0)
        print(f"[{time.monotonic() - t0:5.1f}s] demo OK", flush=True)
        return 0
    except Failed as e:
        print(f"demo FAILED: {e}\n{c.logs()}", flush=True)
        return 1
    finally:
        timer.cancel()
        c.stop()
        if a.keep:
            print(f"data and logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
