#!/usr/bin/env python3
"""The polyraft demo: a 3-node replicated key-value store over loopback TCP.

Starts three kvnode.py processes (each with a DurableStorage in a temporary
directory, on free ports), then: waits for a leader, writes keys through it,
reads them back on every node through ReadIndex, kills the leader with
SIGKILL, waits for the new leader and reads the keys from it, writes more
(enough for the nodes to snapshot and compact their logs), restarts the old
leader from its data directory and checks that it catches up (same applied
index and same data as the leader), and shuts everything down.

Prints one line per step. Exits 0 on success; on a failure or after 60
seconds, prints what went wrong and the end of each node's log and exits 1.

    python examples/kv/demo.py [--keep] [--timeout 60]
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
import time
from typing import Dict, List, Optional, Tuple

from kvctl import Reply, call

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_SCRIPT = os.path.join(HERE, "kvnode.py")
IDS = [1, 2, 3]
#: The nodes snapshot and compact every this many applied entries, so that
#: the restarted node has to be caught up with a snapshot.
SNAPSHOT_EVERY = 10


class DemoError(Exception):
    pass


def free_ports(n: int) -> List[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Cluster:
    def __init__(self, root: str, deadline: float) -> None:
        self.root = root
        self.start = time.monotonic()
        self.deadline = deadline
        ports = free_ports(2 * len(IDS))
        self.raft_port = {i: ports[k] for k, i in enumerate(IDS)}
        self.client_port = {i: ports[len(IDS) + k] for k, i in enumerate(IDS)}
        self.peers = ",".join(f"{i}=127.0.0.1:{self.raft_port[i]}" for i in IDS)
        self.procs: Dict[int, subprocess.Popen[bytes]] = {}
        self.timeout = deadline - self.start
        #: What the demo is doing, for the timeout message.
        self.doing = "starting"

    # -- output --

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.start:5.1f}s] {text}", flush=True)

    def left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DemoError(f"timed out ({self.timeout:g}s in all) while {self.doing}")
        return left

    def log_path(self, i: int) -> str:
        return os.path.join(self.root, f"node{i}.log")

    def tail(self, i: int, lines: int = 15) -> List[str]:
        try:
            with open(self.log_path(i), errors="replace") as f:
                return f.read().splitlines()[-lines:]
        except OSError:
            return []

    # -- processes --

    def addr(self, i: int) -> str:
        return f"127.0.0.1:{self.client_port[i]}"

    def start_node(self, i: int) -> None:
        cmd = [
            sys.executable,
            NODE_SCRIPT,
            "--id",
            str(i),
            "--peers",
            self.peers,
            "--data-dir",
            os.path.join(self.root, f"data{i}"),
            "--client",
            self.addr(i),
            "--snapshot-every",
            str(SNAPSHOT_EVERY),
        ]
        with open(self.log_path(i), "ab") as log:
            self.procs[i] = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def kill(self, i: int) -> None:
        p = self.procs.pop(i)
        p.send_signal(signal.SIGKILL)
        p.wait()

    def stop_all(self) -> List[str]:
        """Stops every node with SIGTERM; returns what went wrong (a node
        that needed SIGKILL or exited with a failure status)."""
        problems = []
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for i, p in self.procs.items():
            try:
                if p.wait(timeout=10) != 0:
                    problems.append(f"node {i} exited with status {p.returncode}")
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                problems.append(f"node {i} did not stop within 10s of SIGTERM")
        self.procs.clear()
        return problems

    def check_alive(self) -> None:
        for i, p in self.procs.items():
            if p.poll() is not None:
                raise DemoError(f"node {i} exited with status {p.returncode}")

    # -- requests --

    def request(self, i: int, body: Reply) -> Optional[Reply]:
        try:
            return call(self.addr(i), body, timeout=min(8.0, self.left()))
        except (OSError, ValueError):
            return None

    def status(self, i: int) -> Optional[Reply]:
        return self.request(i, {"op": "status"})

    def retry(self, what: str, i: int, body: Reply, timeout: float = 15.0) -> Reply:
        """Sends ``body`` to node ``i`` until it answers ok."""
        until = time.monotonic() + timeout
        last: Optional[Reply] = None
        while time.monotonic() < until:
            self.left()
            reply = self.request(i, body)
            if reply is not None and reply.get("ok"):
                return reply
            last = reply
            time.sleep(0.1)
        raise DemoError(f"{what} on node {i} failed: {last.get('error') if last else 'node unreachable'}")

    def put(self, i: int, key: str, value: str) -> int:
        index: int = self.retry(f"put {key}", i, {"op": "put", "key": key, "value": value})["index"]
        return index

    def get(self, i: int, key: str) -> Reply:
        return self.retry(f"get {key}", i, {"op": "get", "key": key})

    def wait_leader(self, among: List[int], timeout: float = 20.0) -> Tuple[int, int]:
        """Waits until every node in ``among`` names the same leader, one of
        them, which knows it leads. Returns (leader, term)."""
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            self.left()
            self.check_alive()
            st = {i: self.status(i) for i in among}
            leads = {s["leader"] if s else None for s in st.values()}
            if len(leads) == 1:
                lead = leads.pop()
                if lead in among:
                    ls = st[lead]
                    if ls is not None and ls["role"] == "StateLeader":
                        return lead, int(ls["term"])
            time.sleep(0.1)
        raise DemoError(f"no leader among nodes {among} after {timeout:.0f}s")


def run(c: Cluster) -> None:
    c.say(f"starting nodes {IDS} (raft ports {list(c.raft_port.values())}, data in {c.root})")
    for i in IDS:
        c.start_node(i)
    c.doing = "waiting for the first leader"
    lead, term = c.wait_leader(IDS)
    c.say(f"leader elected: node {lead} (term {term})")

    c.doing = "writing and reading through the first leader"
    first = {f"k{n}": f"v{n}" for n in range(1, 6)}
    indexes = [c.put(lead, k, v) for k, v in first.items()]
    c.say(f"put k1..k5 through node {lead}: committed at indexes {indexes[0]}..{indexes[-1]}")

    for i, key in zip(IDS, ["k1", "k3", "k5"]):
        r = c.get(i, key)
        if r["value"] != first[key]:
            raise DemoError(f"node {i} read {key}={r['value']!r}, expected {first[key]!r}")
        role = "leader" if i == lead else "follower"
        c.say(f"get {key} on node {i} ({role}): {r['value']!r} via ReadIndex (read index {r['read_index']})")

    # (Leadership could have moved meanwhile on a busy machine: kill whoever leads now.)
    lead, term = c.wait_leader(IDS)
    killed = lead
    t_kill = time.monotonic()
    c.kill(killed)
    c.say(f"killed the leader, node {killed}, with SIGKILL")

    rest = [i for i in IDS if i != killed]
    c.doing = f"waiting for a new leader after killing node {killed}"
    lead, term = c.wait_leader(rest)
    c.say(f"new leader: node {lead} (term {term}), elected {time.monotonic() - t_kill:.1f}s after the kill")

    c.doing = "reading and writing through the new leader"
    values = {k: c.get(lead, k)["value"] for k in first}
    lost = {k: v for k, v in values.items() if v != first[k]}
    if lost:
        raise DemoError(f"writes lost after the failover: {lost}")
    c.say(f"reads from node {lead}: all 5 keys survived ({', '.join(f'{k}={v}' for k, v in values.items())})")

    more = {f"k{n}": f"v{n}" for n in range(6, 18)}
    indexes = [c.put(lead, k, v) for k, v in more.items()]
    c.say(
        f"put k6..k17 through node {lead}: committed at indexes {indexes[0]}..{indexes[-1]}"
        f" (the nodes snapshot and compact every {SNAPSHOT_EVERY} entries)"
    )

    c.doing = f"restarting node {killed}"
    c.start_node(killed)
    st = None
    until = time.monotonic() + 10
    while st is None and time.monotonic() < until:
        c.left()
        c.check_alive()
        st = c.status(killed)
        time.sleep(0.1)
    if st is None:
        raise DemoError(f"restarted node {killed} does not answer")
    rec = st["recovered"]
    c.say(
        f"restarted node {killed} from its data directory: recovered log "
        f"{rec['first_index']}..{rec['last_index']} (commit {st['commit']}, term {st['term']})"
    )

    c.doing = f"waiting for node {killed} to catch up"
    until = time.monotonic() + 20
    while True:
        c.left()
        c.check_alive()
        ls, ns = c.status(lead), c.status(killed)
        if ls and ns and ns["applied"] == ls["applied"] and ns["digest"] == ls["digest"]:
            break
        if time.monotonic() > until:
            raise DemoError(f"node {killed} did not catch up: {ns} vs leader {ls}")
        time.sleep(0.1)
    how = f"a snapshot at index {ns['snapshot_index']} from the leader" if ns["snapshots_received"] else "log entries"
    c.say(
        f"node {killed} caught up through {how}: applied {ns['applied']}, {ns['keys']} keys, "
        f"digest {ns['digest']} = leader's"
    )

    c.doing = f"reading from node {killed}"
    r = c.get(killed, "k17")
    if r["value"] != "v17":
        raise DemoError(f"node {killed} read k17={r['value']!r}")
    c.say(f"get k17 on node {killed} (follower): {r['value']!r} via ReadIndex (read index {r['read_index']})")

    parts = []
    for i in IDS:
        s = c.status(i)
        if s and s["readies"]:
            parts.append(f"node {i} {s['fsyncs']}/{s['readies']}")
    c.say("fsyncs/Readies since start: " + ", ".join(parts))


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="The polyraft 3-node key-value store demo.")
    ap.add_argument("--keep", action="store_true", help="keep the data directories and logs")
    ap.add_argument("--timeout", type=float, default=60.0, help="overall timeout in seconds (default 60)")
    args = ap.parse_args(argv)
    root = tempfile.mkdtemp(prefix="polyraft-demo-")
    c = Cluster(root, time.monotonic() + args.timeout)
    print("polyraft demo: a 3-node replicated key-value store (examples/kv), DurableStorage, loopback TCP")
    ok = False
    try:
        try:
            run(c)
        finally:
            problems = c.stop_all()
        if problems:
            raise DemoError("; ".join(problems))
        c.say("stopped all nodes: demo OK")
        ok = True
    except DemoError as e:
        print(f"FAILED: {e}", flush=True)
        for i in IDS:
            print(f"--- end of node {i}'s log ({c.log_path(i)}):")
            for line in c.tail(i):
                print("    " + line)
    finally:
        if args.keep or not ok:
            print(f"data directories and logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
