#!/usr/bin/env python3
"""A tiny client for the polyraft key-value store demo (kvnode.py).

    python examples/kv/kvctl.py put greeting hello
    python examples/kv/kvctl.py get greeting
    python examples/kv/kvctl.py status

``--addr`` lists client addresses to try in order (default: the three nodes
of the README's by-hand cluster, 127.0.0.1:8001,8002,8003). A request that
a node cannot serve (down, no leader yet) is retried on the next address
until ``--timeout`` runs out. ``get`` is linearizable: it goes through
ReadIndex on whichever node answers.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

Reply = Dict[str, Any]

DEFAULT_ADDRS = "127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003"


def parse_addr(text: str) -> Tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"bad address {text!r} (expected host:port)")
    return host, int(port)


def call(addr: str, request: Reply, timeout: float = 8.0) -> Reply:
    """Sends one request to the node at ``addr`` and returns its reply.
    Raises OSError when the node cannot be reached or hangs up."""
    with socket.create_connection(parse_addr(addr), timeout=timeout) as s:
        s.sendall(json.dumps(request).encode() + b"\n")
        line = s.makefile("rb").readline()
    if not line:
        raise ConnectionError(f"{addr} closed the connection")
    reply = json.loads(line)
    if not isinstance(reply, dict):
        raise ConnectionError(f"{addr} sent {line!r}")
    return reply


def call_any(addrs: List[str], request: Reply, timeout: float = 10.0) -> Tuple[str, Reply]:
    """Tries ``addrs`` in turn (and again, until ``timeout``) until one
    answers ``ok``; returns that address and reply, or raises RuntimeError
    with the last failure."""
    deadline = time.monotonic() + timeout
    last = "no address given"
    while True:
        for addr in addrs:
            try:
                reply = call(addr, request)
            except (OSError, ValueError) as e:
                last = f"{addr}: {e}"
                continue
            if reply.get("ok"):
                return addr, reply
            last = f"{addr}: {reply.get('error')}"
        if time.monotonic() >= deadline:
            raise RuntimeError(last)
        time.sleep(0.2)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="Client of the polyraft key-value store demo.")
    ap.add_argument("--addr", default=DEFAULT_ADDRS, help=f"client addresses to try, comma-separated ({DEFAULT_ADDRS})")
    ap.add_argument("--timeout", type=float, default=10.0, help="give up after this many seconds (default 10)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("put", help="set a key")
    p.add_argument("key")
    p.add_argument("value")
    g = sub.add_parser("get", help="read a key (linearizable, through ReadIndex)")
    g.add_argument("key")
    sub.add_parser("status", help="the status of every node in --addr")
    args = ap.parse_args(argv)
    addrs = [a for a in args.addr.split(",") if a.strip()]

    if args.cmd == "status":
        failed = 0
        for addr in addrs:
            try:
                print(addr, json.dumps(call(addr, {"op": "status"}), sort_keys=True))
            except (OSError, ValueError) as e:
                print(addr, f"unreachable: {e}")
                failed += 1
        return 1 if failed == len(addrs) else 0

    request: Reply = {"op": args.cmd, "key": args.key}
    if args.cmd == "put":
        request["value"] = args.value
    try:
        addr, reply = call_any(addrs, request, args.timeout)
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.cmd == "put":
        print(f"OK (index {reply['index']}, node {reply['node']}, leader {reply['leader']})")
    elif reply["value"] is None:
        print(f"(not found) (read index {reply['read_index']}, node {reply['node']})")
        return 2
    else:
        print(reply["value"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
