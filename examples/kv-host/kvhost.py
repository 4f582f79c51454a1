#!/usr/bin/env python3
"""A replicated key-value service on polyraft.Host: keys sharded over 16
raft groups, a Python state machine, exactly-once puts through sessions.

    python examples/kv-host/kvhost.py --hosts 1,2,3 --port 8001 [--data-dir DIR]

Clients send one JSON request per line and get one reply per line:
    {"op": "put", "key": "k", "value": "v", "client": 7, "seq": 1}
    {"op": "get", "key": "k"}        {"op": "status"}
``status`` tells the outcome apart: "ok" (with ``value``: a put's old
value, a get's value), "rejected" (certainly not applied: retry freely) or
"unknown" (timed out: retry with the same client and seq to apply once).
Until the TCP/TLS transport lands, the hosts of a cluster run in this one
process, joined by the in-process network (see ``make_network``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import zlib
from typing import IO, Any, Dict, List, Optional, Tuple

from polyraft import AsyncHost, Entry, Host, InProcNetwork, ProposalRejectedError, ProposalTimeoutError, Session
from polyraft import StateMachine

GROUPS = 16


class KV(StateMachine):
    """Commands are JSON ``[key, value]``; the result is the old value."""

    def __init__(self) -> None:
        self.data: Dict[str, str] = {}

    def apply(self, entries: List[Entry]) -> List[bytes]:
        out = []
        for e in entries:
            key, value = json.loads(e.data)
            out.append(self.data.get(key, "").encode())
            self.data[key] = value
        return out

    def snapshot(self, writer: IO[bytes]) -> None:
        writer.write(json.dumps(self.data).encode())

    def restore(self, reader: IO[bytes]) -> None:
        self.data = json.loads(reader.read())

    def lookup(self, query: bytes) -> bytes:
        return self.data.get(query.decode(), "").encode()


def group_of(key: str) -> int:
    return zlib.crc32(key.encode()) % GROUPS + 1


def make_network(args: argparse.Namespace) -> InProcNetwork:
    # The seam for the TCP/TLS transport: peers' addresses and certificates
    # will come from the arguments here.
    return InProcNetwork()

class Node:
    """Serves clients from one host; puts carrying a client id go through
    that client's session in the key's group."""

    def __init__(self, host: Host, timeout: float) -> None:
        self.host, self.aio, self.timeout = host, AsyncHost(host), timeout
        self.sessions: Dict[Tuple[int, int], List[Any]] = {}

    async def put(self, key: str, value: str, client: Optional[int], seq: int) -> Dict[str, Any]:
        g, cmd = group_of(key), json.dumps([key, value]).encode()
        if client is None:
            return {"status": "ok", "value": (await self.aio.propose(g, cmd, self.timeout)).decode()}
        # [session, seq, reply to seq (None: none yet), seq timed out]
        st = self.sessions.setdefault((g, client), [Session(g, client), seq, None, False])
        if seq < st[1]:
            return {"status": "rejected", "error": f"seq {seq} is older than {st[1]}"}
        if seq == st[1] and st[2] is not None:
            return dict(st[2])  # the reply to this seq, sent again
        if seq > st[1] and st[3]:
            st[0].proposal_completed()  # the client gave up on a timed-out seq
        st[1:] = [seq, None, False]
        try:
            st[2] = {"status": "ok", "value": (await self.aio.propose_session(st[0], cmd, self.timeout)).decode()}
        except ProposalTimeoutError:
            st[3] = True
            raise
        return dict(st[2])

    async def handle(self, req: Dict[str, Any]) -> Dict[str, Any]:
        op, key = req.get("op"), req.get("key")
        try:
            if op == "put" and isinstance(key, str) and isinstance(req.get("value"), str):
                return await self.put(key, req["value"], req.get("client"), int(req.get("seq", 0)))
            if op == "get" and isinstance(key, str):
                value = await self.aio.read(group_of(key), key.encode(), self.timeout)
                return {"status": "ok", "value": value.decode()}
            if op == "status":
                infos = [self.host.group_info(g) for g in range(1, GROUPS + 1)]
                return {"status": "ok", "host": self.host.id, "leaders": [i.leader if i else 0 for i in infos]}
            return {"status": "rejected", "error": "bad request"}
        except (ProposalRejectedError, RuntimeError) as e:  # RuntimeError: seq already in flight
            return {"status": "rejected", "error": str(e)}
        except ProposalTimeoutError:
            return {"status": "unknown", "error": "timed out; retry with the same client and seq"}

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            try:
                req = json.loads(line)
                reply = await self.handle(req) if isinstance(req, dict) else {"status": "rejected", "error": "bad request"}
            except ValueError as e:
                reply = {"status": "rejected", "error": f"bad request: {e}"}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        writer.close()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", default="1,2,3", help="host ids run by this process (replica id = host id)")
    ap.add_argument("--port", type=int, default=8001, help="client port of the first host (0: any)")
    ap.add_argument("--data-dir", help="log and snapshots here (default: in memory)")
    ap.add_argument("--timeout", type=float, default=2.0, help="seconds before an outcome is unknown")
    args = ap.parse_args()
    ids = [int(h) for h in args.hosts.split(",")]
    net = make_network(args)
    hosts = [Host(h, network=net, tick_interval=0.05, data_dir=args.data_dir and f"{args.data_dir}/host{h}") for h in ids]
    for h in hosts:
        for g in range(1, GROUPS + 1):
            h.start_replica(g, h.id, KV(), members={i: i for i in ids})
    servers = [await asyncio.start_server(Node(h, args.timeout).serve, "127.0.0.1", args.port and args.port + i)
               for i, h in enumerate(hosts)]
    for h, s in zip(hosts, servers):
        print(f"host {h.id} serving clients on port {s.sockets[0].getsockname()[1]}", flush=True)
    try:
        await asyncio.gather(*(s.serve_forever() for s in servers))
    finally:
        for h in hosts:
            h.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
