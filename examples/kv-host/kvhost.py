#!/usr/bin/env python3
"""A replicated key-value store on polyraft.Host, in Python: the node of
examples/kv-go and examples/kv-c. Three hosts run in this process (joined by
the in-process network), 16 groups shard the keys, and clients speak the
text protocol of examples/kv-go/PROTOCOL.md, with sessions so that a retried
PUT applies once:

    python examples/kv-host/kvhost.py --listen 127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003

    PUT <client> <series> <responded> <key> <value>   ->  OK <old value>
    GET <key>                                         ->  OK <value>
    REJECTED <why> (not applied)   UNKNOWN <why> (timed out)   ERR <why> (bad request)

Until the TCP/TLS transport is wired into the binding, the hosts of the
cluster share this process; ``make_network`` is where it will plug in.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import IO, Awaitable, Callable, Dict, List, Optional

from polyraft import AsyncHost, Entry, Host, InProcNetwork, ProposalRejectedError, ProposalTimeoutError, Session
from polyraft import StateMachine

GROUPS = 16
DEADLINE = 1.0  # seconds: a dead leader costs a client one short wait


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
        for k in sorted(self.data):
            writer.write(k + b"=" + self.data[k] + b"\n")

    def restore(self, reader: IO[bytes]) -> None:
        self.data = {}
        for line in reader.read().splitlines():
            k, _, v = line.partition(b"=")
            self.data[k] = v

    def lookup(self, query: bytes) -> bytes:
        return self.data.get(query, b"")


def group_of(key: bytes) -> int:
    """The protocol's sharding: h = 7; h = h*31 + b (64-bit), group h%16 + 1."""
    h = 7
    for b in key:
        h = (h * 31 + b) & 0xFFFF_FFFF_FFFF_FFFF
    return h % GROUPS + 1


def make_network(args: argparse.Namespace) -> InProcNetwork:
    # The TCP/TLS transport (peers' addresses, certificates) plugs in here.
    return InProcNetwork()


async def serve_request(aio: AsyncHost, line: bytes) -> bytes:
    """One request line of the protocol; returns the reply line."""
    words = line.rstrip(b"\r\n").split(b" ", 5)
    try:
        if len(words) == 2 and words[0] == b"GET":
            return b"OK " + await aio.read(group_of(words[1]), words[1], DEADLINE)
        if len(words) == 6 and words[0] == b"PUT" and b"=" not in words[4]:
            client, series, responded = (int(w) for w in words[1:4])
            session = Session(group_of(words[4]), client, series=series, responded_to=responded)
            return b"OK " + await aio.propose_session(session, words[4] + b"=" + words[5], DEADLINE)
    except (ValueError, OverflowError) as e:  # not u64s, client 0, series not above responded
        return b"ERR " + str(e).encode()
    except ProposalRejectedError as e:
        return b"REJECTED " + str(e).encode()
    except ProposalTimeoutError as e:
        return b"UNKNOWN " + str(e).encode()
    return b"ERR expected GET <key> or PUT <client> <series> <responded> <key> <value>"


def client_handler(aio: AsyncHost) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(await serve_request(aio, line) + b"\n")
            await writer.drain()
        writer.close()

    return handle


async def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", default="127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003",
                    help="client addresses, one per host (host ids 1, 2, 3...; port 0: any)")
    ap.add_argument("--data-dir", help="each host's log and snapshots under DIR/host<id> (default: in memory)")
    args = ap.parse_args(argv)
    addrs = args.listen.split(",")
    net = make_network(args)
    members = {i: i for i in range(1, len(addrs) + 1)}  # replica i runs on host i
    hosts = []
    for h in members:
        data_dir = f"{args.data_dir}/host{h}" if args.data_dir else None
        host = Host(h, network=net, tick_interval=0.05, data_dir=data_dir)
        for g in range(1, GROUPS + 1):
            host.start_replica(g, h, KV(), members=members)
        hosts.append(host)
    servers = []
    for host, addr in zip(hosts, addrs):
        ip, _, port = addr.rpartition(":")
        server = await asyncio.start_server(client_handler(AsyncHost(host)), ip or "127.0.0.1", int(port))
        print(f"host {host.id} serves clients on port {server.sockets[0].getsockname()[1]}", flush=True)
        servers.append(server)
    try:
        await asyncio.gather(*(s.serve_forever() for s in servers))
    finally:
        for host in hosts:
            host.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
