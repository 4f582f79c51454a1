#!/usr/bin/env python3
"""A replicated key-value store node on polyraft.Host: one host per process,
mutual TLS between hosts, keys sharded over 16 groups, the client protocol
of examples/kv-go/PROTOCOL.md (sessions make a retried PUT apply once).

    kvhost.py --id 1 --raft 127.0.0.1:7001 --client 127.0.0.1:9001 \\
        --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 --certs DIR --data-dir DIR/1

--certs: host-<id>.pem, host-<id>.key, ca.pem (from polyraft.dev_certificates).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import IO, Dict, List, Optional

from polyraft import AsyncHost, Entry, Host, ProposalRejectedError, ProposalTimeoutError, Session
from polyraft import StateMachine, TcpNetwork

GROUPS = 16
DEADLINE = 1.0  # seconds: a dead or paused leader costs a client one short wait


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
        self.data = dict(line.partition(b"=")[::2] for line in reader.read().splitlines())

    def lookup(self, query: bytes) -> bytes:
        return self.data.get(query, b"")


def group_of(key: bytes) -> int:
    """The protocol's sharding: h = 7; h = h*31 + b (64-bit), group h%16 + 1."""
    h = 7
    for b in key:
        h = (h * 31 + b) & 0xFFFF_FFFF_FFFF_FFFF
    return h % GROUPS + 1


class Node:
    """Serves the client protocol on one host."""

    def __init__(self, host: Host) -> None:
        self.host, self.aio = host, AsyncHost(host)

    def leader_check(self, group: int) -> Optional[bytes]:
        """Fails fast (REJECTED) when the group is not here or has no leader."""
        info = self.host.group_info(group)
        if info is None:
            return b"REJECTED group %d has no replica on this host" % group
        return None if info.leader else b"REJECTED group %d has no leader yet" % group

    async def serve(self, line: bytes) -> bytes:
        w = line.rstrip(b"\r\n").split(b" ", 5)
        try:
            if len(w) == 2 and w[0] == b"GET":
                g = group_of(w[1])
                return self.leader_check(g) or b"OK " + await self.aio.read(g, w[1], DEADLINE)
            if len(w) == 6 and w[0] == b"PUT" and b"=" not in w[4]:
                client, series, responded = (int(x) for x in w[1:4])
                s = Session(group_of(w[4]), client, series=series, responded_to=responded)
                return self.leader_check(s.group) or b"OK " + await self.aio.propose_session(s, w[4] + b"=" + w[5], DEADLINE)
            if len(w) == 2 and w[0] == b"INFO":  # extension: the local replica's view
                info = self.host.group_info(int(w[1]))
                if info is None:
                    return b"REJECTED no replica of group %s here" % w[1]
                installed = self.host.metrics()["snapshots_installed"]
                return (f"OK leader={info.hosts.get(info.leader, 0)} term={info.term} applied={info.applied} "
                        f"voters={','.join(map(str, info.voters))} snapshot={info.snapshot_index} snapshots_installed={installed}").encode()
            if len(w) >= 4 and w[0] == b"MEMBER":  # extension: MEMBER ADD g r h | MEMBER REMOVE g r
                g, r = int(w[2]), int(w[3])
                if w[1] == b"ADD" and len(w) == 5:
                    await self.aio.add_replica(g, r, int(w[4]), 5 * DEADLINE)
                elif w[1] == b"REMOVE" and len(w) == 4:
                    await self.aio.remove_replica(g, r, 5 * DEADLINE)
                else:
                    return b"ERR expected MEMBER ADD <group> <replica> <host> or MEMBER REMOVE <group> <replica>"
                return b"OK "
        except (ValueError, OverflowError) as e:  # not u64s, client 0, series not above responded
            return b"ERR " + str(e).encode()
        except ProposalRejectedError as e:
            return b"REJECTED " + str(e).encode()
        except ProposalTimeoutError as e:
            return b"UNKNOWN " + str(e).encode()
        return b"ERR expected GET <key> or PUT <client> <series> <responded> <key> <value>"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(await self.serve(line) + b"\n")
            await writer.drain()
        writer.close()


async def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--id", type=int, required=True, help="this host's id (also its replica id in every group)")
    ap.add_argument("--raft", required=True, help="ip:port the hosts talk raft on")
    ap.add_argument("--client", default="127.0.0.1:0", help="ip:port for clients (port 0: any)")
    ap.add_argument("--peers", required=True, help="every host's raft address: ID=ip:port,...")
    ap.add_argument("--members", help="hosts that bootstrap the groups: ID,ID,... (default: every peer)")
    ap.add_argument("--join", action="store_true", help="start empty replicas, to be added with MEMBER ADD")
    tls = ap.add_mutually_exclusive_group(required=True)
    tls.add_argument("--certs", help="directory with host-<id>.pem, host-<id>.key and ca.pem")
    tls.add_argument("--plaintext", action="store_true", help="plain TCP (insecure: trusted networks only)")
    ap.add_argument("--data-dir", help="the log and snapshots (default: in memory)")
    ap.add_argument("--snapshot-entries", type=int, default=1000, help="snapshot every N applied entries")
    a = ap.parse_args(argv)
    peers = {int(i): addr for i, _, addr in (p.partition("=") for p in a.peers.split(","))}
    if a.plaintext:
        net = TcpNetwork.insecure_plaintext(a.raft, peers)
    else:
        pem = os.path.join(a.certs, f"host-{a.id}")
        net = TcpNetwork(a.raft, peers, cert=pem + ".pem", key=pem + ".key", ca=os.path.join(a.certs, "ca.pem"))
    members = {int(m): int(m) for m in a.members.split(",")} if a.members else {i: i for i in peers}
    host = Host(a.id, network=net, data_dir=a.data_dir, tick_interval=0.05, election_ticks=10,
                snapshot_entries=a.snapshot_entries, compaction_overhead=a.snapshot_entries // 4)
    with host:
        for g in range(1, GROUPS + 1):
            host.start_replica(g, a.id, KV(), **({"join": True} if a.join else {"members": members}))
        ip, _, port = a.client.rpartition(":")
        server = await asyncio.start_server(Node(host).handle, ip, int(port))
        print(f"host {a.id} raft {host.local_addr} clients {server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
