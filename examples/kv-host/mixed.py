#!/usr/bin/env python3
"""One cluster of three KV nodes in three languages: host 1 runs
examples/kv-host/kvhost.py (Python), host 2 the Go node (examples/kv-go),
host 3 the C node (examples/kv-c), each its own process, talking raft over
mutual TLS (certificates from polyraft.dev_certificates). Through every
node: a PUT, and a read of every key; a PUT retried on another node (same
session series) applies once. Exit status 0 on success.

    python examples/kv-host/mixed.py --go-node BIN --c-node BIN [--timeout 60]

`make test-mixed` builds the Go and C nodes and runs it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

from polyraft import dev_certificates

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(port: int, line: str) -> str:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(line.encode() + b"\n")
            return s.makefile("rb").readline().decode().rstrip("\n") or "DOWN closed"
    except OSError as e:
        return f"DOWN {e}"


def until_ok(port: int, line: str, deadline: float = 20.0) -> str:
    """Retries REJECTED / UNKNOWN / DOWN with the same line (same series)."""
    end = time.monotonic() + deadline
    while True:
        r = call(port, line)
        if r.startswith("OK "):
            return r[3:]
        if r.startswith("ERR ") or time.monotonic() > end:
            raise SystemExit(f"FAILED: {line!r} on port {port}: {r}")
        time.sleep(0.1)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--go-node", required=True, help="the built examples/kv-go binary")
    ap.add_argument("--c-node", required=True, help="the built examples/kv-c binary")
    a = ap.parse_args(argv)
    root = tempfile.mkdtemp(prefix="polyraft-mixed-")
    certs = os.path.join(root, "certs")
    dev_certificates(certs, [1, 2, 3])
    raft = {i: free_port() for i in (1, 2, 3)}
    client = {i: free_port() for i in (1, 2, 3)}
    peers = ",".join(f"{i}=127.0.0.1:{p}" for i, p in raft.items())
    data = {i: os.path.join(root, f"host{i}") for i in (1, 2, 3)}
    cmds: Dict[int, List[str]] = {
        1: [sys.executable, os.path.join(HERE, "kvhost.py"), "--id", "1", "--raft", f"127.0.0.1:{raft[1]}",
            "--client", f"127.0.0.1:{client[1]}", "--peers", peers, "--certs", certs, "--data-dir", data[1]],
        2: [a.go_node, "-id", "2", "-raft", f"127.0.0.1:{raft[2]}", "-client", f"127.0.0.1:{client[2]}",
            "-peers", peers, "-certs", certs, "-data-dir", data[2]],
        3: [a.c_node, "--node", "3", f"127.0.0.1:{raft[3]}", str(client[3]), peers, certs, data[3]],
    }
    names = {1: "Python", 2: "Go", 3: "C"}
    procs = {i: subprocess.Popen(c, stdout=open(os.path.join(root, f"host{i}.log"), "wb"), stderr=subprocess.STDOUT)
             for i, c in cmds.items()}
    try:
        for i in (1, 2, 3):  # a PUT through every node, in its own session
            assert until_ok(client[i], f"PUT {i} 1 0 lang{i} {names[i]}") == ""
            print(f"PUT through the {names[i]} node: OK", flush=True)
        for i in (1, 2, 3):
            for j in (1, 2, 3):
                got = until_ok(client[i], f"GET lang{j}")
                assert got == names[j], f"{names[i]} node reads lang{j}={got!r}, want {names[j]!r}"
            print(f"the {names[i]} node reads every key", flush=True)
        # A retried PUT: series 1 through Python, again through Go and C
        # (a lost reply): the first result every time, applied once.
        first = [until_ok(client[i], "PUT 77 1 0 counter one") for i in (1, 2, 3)]
        after = until_ok(client[3], "PUT 77 2 1 counter two")
        assert first == ["", "", ""] and after == "one", (first, after)
        print("a PUT retried on the Go and C nodes applied once", flush=True)
        print("mixed cluster OK", flush=True)
        return 0
    except (AssertionError, SystemExit) as e:
        print(f"mixed cluster FAILED: {e}", flush=True)
        for i in (1, 2, 3):
            with open(os.path.join(root, f"host{i}.log"), errors="replace") as f:
                print(f"--- {names[i]} node:\n" + "".join(f.readlines()[-20:]))
        return 1
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
