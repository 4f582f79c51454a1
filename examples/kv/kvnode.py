#!/usr/bin/env python3
"""One node of a replicated key-value store built on polyraft.

Three of these (one per terminal, or one per machine) make a cluster:

    python examples/kv/kvnode.py --id 1 --data-dir /tmp/kv1 \\
        --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003

and likewise with ``--id 2`` and ``--id 3``. ``kvctl.py`` talks to them.

What a node does:

* Raft state lives in a :class:`polyraft.DurableStorage` in ``--data-dir``
  (WAL segments and snapshot files). A node restarted from its directory
  recovers its log, rebuilds its dictionary from the latest snapshot plus
  the committed entries after it, and catches up with the leader.
* Peers talk raft over TCP: every message is its raftpb encoding with a
  4-byte big-endian length prefix, sent over one persistent connection per
  peer and direction (``--peers`` gives the raft addresses).
* Clients talk line-based JSON over TCP on the client address (``--client``,
  by default the raft port + 1000: 8001 for 7001). One request per line,
  one reply per line:

      {"op": "put", "key": "k", "value": "v"}  ->  {"ok": true, "index": 7, ...}
      {"op": "get", "key": "k"}                ->  {"ok": true, "value": "v", "read_index": 7, ...}
      {"op": "status"}                         ->  {"ok": true, "leader": 2, "applied": 7, ...}

  A put is a raft proposal: on a follower raft forwards it to the leader,
  and the node answers once the entry is applied here. A get is a
  linearizable read through ReadIndex: the leader confirms with a quorum
  that it still leads, and the node answers once it has applied up to the
  index the leader names; followers ask the leader the same way. Failures
  answer ``{"ok": false, "error": ..., "leader": N}``.
* One thread runs raft (ticks every ``--tick-ms`` and the Ready loop:
  persist, then send, then apply, then advance); the network threads only
  hand it work through a queue.
* Every ``--snapshot-every`` applied entries the node snapshots its
  dictionary into the storage and compacts the log; a follower that fell
  behind the compaction point is caught up with that snapshot.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import polyraft
from polyraft import (
    ConfChange,
    ConfChangeV2,
    Config,
    ConfState,
    DurableStorage,
    EntryType,
    Message,
    MessageType,
    ProposalDroppedError,
    RawNode,
    Ready,
    SnapshotStatus,
    Snapshot,
    StateType,
)

Addr = Tuple[str, int]
Reply = Dict[str, Any]

#: Largest raft frame accepted from a peer.
MAX_FRAME = 64 << 20
#: How long a client request may wait for raft before it fails.
REQUEST_TIMEOUT = 5.0


def parse_addr(text: str) -> Addr:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"bad address {text!r} (expected host:port)")
    return host, int(port)


def parse_peers(text: str) -> Dict[int, Addr]:
    peers: Dict[int, Addr] = {}
    for item in text.split(","):
        ident, sep, addr = item.strip().partition("=")
        if not sep or not ident.isdigit() or int(ident) == 0:
            raise ValueError(f"bad peer {item!r} (expected id=host:port, id > 0)")
        peers[int(ident)] = parse_addr(addr)
    return peers


def digest(kv: Dict[str, str]) -> str:
    """A short fingerprint of the dictionary, to compare replicas."""
    return hashlib.sha256(json.dumps(kv, sort_keys=True).encode()).hexdigest()[:12]


class Log:
    """Timestamped lines on standard error, tagged with the node id."""

    def __init__(self, node_id: int) -> None:
        self.node_id = node_id
        self.lock = threading.Lock()

    def __call__(self, text: str) -> None:
        now = time.time()
        stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"
        with self.lock:
            print(f"{stamp} node {self.node_id}: {text}", file=sys.stderr, flush=True)


class Request:
    """A client request waiting for the raft thread."""

    def __init__(self) -> None:
        self.deadline = time.monotonic() + REQUEST_TIMEOUT
        self.done = threading.Event()
        self.reply: Reply = {}

    def finish(self, reply: Reply) -> None:
        if not self.done.is_set():
            self.reply = reply
            self.done.set()


# ------------------------------------------------------------------ transport


class PeerSender(threading.Thread):
    """Sends raft messages to one peer over a persistent connection,
    reconnecting when it breaks. Messages that cannot be sent are dropped
    (raft retransmits) and reported through ``on_failure``."""

    def __init__(
        self,
        peer: int,
        addr: Addr,
        on_failure: Callable[[int, Message], None],
        on_sent: Callable[[int, Message], None],
    ) -> None:
        super().__init__(name=f"send-{peer}", daemon=True)
        self.peer = peer
        self.addr = addr
        self.on_failure = on_failure
        self.on_sent = on_sent
        self.queue: "queue.Queue[Message]" = queue.Queue(maxsize=4096)
        self.sock: Optional[socket.socket] = None
        self.retry_at = 0.0

    def send(self, m: Message) -> None:
        try:
            self.queue.put_nowait(m)
        except queue.Full:
            self.on_failure(self.peer, m)

    def connect(self) -> Optional[socket.socket]:
        if self.sock is None and time.monotonic() >= self.retry_at:
            try:
                s = socket.create_connection(self.addr, timeout=1.0)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.settimeout(5.0)
                self.sock = s
            except OSError:
                self.retry_at = time.monotonic() + 0.2
        return self.sock

    def run(self) -> None:
        while True:
            m = self.queue.get()
            sock = self.connect()
            if sock is None:
                self.on_failure(self.peer, m)
                continue
            data = m.encode()
            try:
                sock.sendall(struct.pack(">I", len(data)) + data)
            except OSError:
                sock.close()
                self.sock = None
                self.on_failure(self.peer, m)
            else:
                self.on_sent(self.peer, m)


def read_exact(f: Any, n: int) -> Optional[bytes]:
    data: bytes = f.read(n)
    return data if len(data) == n else None


class TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    # Closing must not wait for the handler threads: those reading from
    # peers only end when the peers hang up, and they may be stopping too.
    block_on_close = False


# ------------------------------------------------------------------ the node


class KVNode:
    """The node: a RawNode over a DurableStorage, the dictionary it
    replicates, and the client requests in flight. Everything but the
    ``post``-ing methods runs on the raft thread (``run``)."""

    def __init__(
        self,
        node_id: int,
        peers: Dict[int, Addr],
        client_addr: Addr,
        data_dir: str,
        tick_ms: int,
        snapshot_every: int,
        raft_log_level: str = "INFO",
    ) -> None:
        if node_id not in peers:
            raise ValueError(f"--id {node_id} is not in --peers")
        self.id = node_id
        self.peers = peers
        self.client_addr = client_addr
        self.tick_seconds = tick_ms / 1000.0
        self.snapshot_every = snapshot_every
        self.log = Log(node_id)
        self.events: "queue.Queue[Callable[[], None]]" = queue.Queue()
        self.stopping = threading.Event()

        self.storage = DurableStorage.open(data_dir)
        rec = self.storage.recovery
        self.recovered: Reply = {
            "created": rec.created,
            "first_index": rec.first_index,
            "last_index": rec.last_index,
            "snapshot_index": rec.snapshot_index,
            "truncated_bytes": rec.truncated.dropped_bytes if rec.truncated is not None else 0,
        }
        if rec.created:
            self.log(f"new data directory {data_dir}")
        else:
            self.log(
                f"recovered {data_dir}: log {rec.first_index}..{rec.last_index}, "
                f"snapshot at {rec.snapshot_index}, {rec.segments} segment(s), {rec.records} record(s)"
            )
        if rec.truncated is not None:
            t = rec.truncated
            self.log(f"cut a torn tail off {t.segment}: {t.dropped_bytes} bytes at {t.offset} ({t.reason})")
        _, cs = self.storage.initial_state()
        if not cs.voters and not cs.learners:
            self.storage.bootstrap_conf_state(ConfState(voters=sorted(peers)))
            self.log(f"bootstrapped the configuration voters={sorted(peers)}")

        # The state machine: the latest snapshot, then the committed entries
        # raft hands out again after it (Config.applied = its index).
        snap = self.storage.snapshot()
        self.kv: Dict[str, str] = {}
        self.applied = 0
        self.restore(snap)
        self.snapshot_index = snap.index
        self.snapshots_received = 0

        self.node = RawNode(
            Config(
                node_id,
                election_tick=10,
                heartbeat_tick=1,
                applied=self.applied,
                pre_vote=True,
                check_quorum=True,
                logger=lambda level, msg: self.log(f"raft {level}: {msg}"),
                log_level=raft_log_level,
            ),
            self.storage,
        )
        self.lead = polyraft.NONE
        self.role = StateType.StateFollower
        self.puts: Dict[str, Request] = {}
        self.reads: Dict[bytes, Tuple[Request, str]] = {}
        self.read_waits: List[Tuple[int, Request, str]] = []

        self.senders: Dict[int, PeerSender] = {}
        for peer, addr in peers.items():
            if peer != node_id:
                s = PeerSender(peer, addr, self.send_failed, self.sent)
                s.start()
                self.senders[peer] = s

    # -- threads other than the raft thread post work here --

    def post(self, fn: Callable[[], None]) -> None:
        self.events.put(fn)

    def send_failed(self, peer: int, m: Message) -> None:
        def report() -> None:
            self.node.report_unreachable(peer)
            if m.type == MessageType.MsgSnap:
                self.node.report_snapshot(peer, SnapshotStatus.SnapshotFailure)

        self.post(report)

    def sent(self, peer: int, m: Message) -> None:
        if m.type == MessageType.MsgSnap:
            self.log(f"sent a snapshot at index {m.snapshot.index if m.snapshot else 0} to node {peer}")
            self.post(lambda: self.node.report_snapshot(peer, SnapshotStatus.SnapshotFinish))

    def receive(self, data: bytes) -> None:
        def step() -> None:
            try:
                self.node.step(data)
            except (polyraft.StepPeerNotFoundError, polyraft.DecodeError) as e:
                self.log(f"dropped a message: {e}")

        self.post(step)

    def submit(self, req: Request, body: Reply) -> None:
        op = body.get("op")
        key = body.get("key")
        if op == "put" and isinstance(key, str) and isinstance(body.get("value"), str):
            value: str = body["value"]
            self.post(lambda: self.start_put(req, key, value))
        elif op == "get" and isinstance(key, str):
            self.post(lambda: self.start_get(req, key))
        elif op == "status":
            self.post(lambda: req.finish(self.status()))
        else:
            req.finish({"ok": False, "error": f"bad request {body!r}", "node": self.id})

    # -- the raft thread --

    def error(self, text: str) -> Reply:
        return {"ok": False, "error": text, "node": self.id, "leader": self.lead}

    def start_put(self, req: Request, key: str, value: str) -> None:
        rid = os.urandom(8).hex()
        try:
            self.node.propose(json.dumps({"rid": rid, "key": key, "value": value}).encode())
        except ProposalDroppedError:
            req.finish(self.error("proposal dropped (no leader known yet); try again"))
            return
        self.puts[rid] = req

    def start_get(self, req: Request, key: str) -> None:
        if self.lead == polyraft.NONE:
            req.finish(self.error("no leader known yet; try again"))
            return
        ctx = os.urandom(8)
        self.node.read_index(ctx)
        self.reads[ctx] = (req, key)

    def status(self) -> Reply:
        b = self.node.basic_status()
        st = self.storage.stats()
        return {
            "ok": True,
            "node": self.id,
            "leader": b.lead,
            "role": b.raft_state.name,
            "term": b.term,
            "commit": b.commit,
            "applied": self.applied,
            "keys": len(self.kv),
            "digest": digest(self.kv),
            "first_index": self.storage.first_index(),
            "last_index": self.storage.last_index(),
            "snapshot_index": self.snapshot_index,
            "snapshots_received": self.snapshots_received,
            "fsyncs": st.fsyncs,
            "readies": st.readies,
            "recovered": self.recovered,
        }

    def restore(self, snap: Snapshot) -> None:
        self.kv = json.loads(snap.data) if snap.data else {}
        self.applied = snap.index

    def apply(self, rd: Ready) -> None:
        for e in rd.committed_entries:
            if e.type == EntryType.EntryNormal and e.data:
                cmd = json.loads(e.data)
                self.kv[cmd["key"]] = cmd["value"]
                req = self.puts.pop(cmd["rid"], None)
                if req is not None:
                    req.finish({"ok": True, "index": e.index, "node": self.id, "leader": self.lead})
            elif e.type == EntryType.EntryConfChange:
                self.node.apply_conf_change(ConfChange.decode(e.data))
            elif e.type == EntryType.EntryConfChangeV2:
                self.node.apply_conf_change(ConfChangeV2.decode(e.data))
            self.applied = e.index

    def answer_reads(self) -> None:
        waiting = []
        for index, req, key in self.read_waits:
            if index <= self.applied:
                req.finish(
                    {
                        "ok": True,
                        "value": self.kv.get(key),
                        "read_index": index,
                        "applied": self.applied,
                        "node": self.id,
                        "leader": self.lead,
                    }
                )
            else:
                waiting.append((index, req, key))
        self.read_waits = waiting

    def maybe_snapshot(self) -> None:
        if self.applied - self.snapshot_index < self.snapshot_every:
            return
        data = json.dumps(self.kv, sort_keys=True).encode()
        self.storage.create_snapshot(self.applied, None, data)
        self.storage.compact(self.applied)
        self.snapshot_index = self.applied
        self.log(f"snapshot at index {self.applied} ({len(self.kv)} keys); log compacted")

    def handle_ready(self) -> None:
        rd = self.node.ready()
        if rd.soft_state is not None:
            ss = rd.soft_state
            if ss.lead != self.lead or ss.raft_state != self.role:
                term = self.node.basic_status().term
                if ss.raft_state == StateType.StateLeader:
                    self.log(f"I am the leader (term {term})")
                elif ss.lead != polyraft.NONE:
                    self.log(f"following leader {ss.lead} (term {term})")
                else:
                    self.log(f"no leader ({StateType(ss.raft_state).name}, term {term})")
            self.lead, self.role = ss.lead, ss.raft_state
        # Durable first (one fsync when must_sync), then tell the peers.
        self.storage.persist_ready(rd)
        for m in rd.messages:
            sender = self.senders.get(m.to)
            if sender is not None:
                sender.send(m)
        if rd.snapshot is not None and not rd.snapshot.is_empty():
            self.restore(rd.snapshot)
            self.snapshot_index = rd.snapshot.index
            self.snapshots_received += 1
            self.log(f"installed a snapshot from the leader at index {rd.snapshot.index} ({len(self.kv)} keys)")
        self.apply(rd)
        for rs in rd.read_states:
            waiting = self.reads.pop(rs.request_ctx, None)
            if waiting is not None:
                self.read_waits.append((rs.index, waiting[0], waiting[1]))
        self.node.advance()
        self.answer_reads()
        self.maybe_snapshot()

    def expire(self) -> None:
        now = time.monotonic()
        for rid in [r for r, req in self.puts.items() if req.deadline < now]:
            self.puts.pop(rid).finish(self.error("timed out waiting for the entry to commit"))
        for ctx in [c for c, (req, _) in self.reads.items() if req.deadline < now]:
            self.reads.pop(ctx)[0].finish(self.error("timed out waiting for the read index"))
        late = [w for w in self.read_waits if w[1].deadline < now]
        for _, req, _ in late:
            req.finish(self.error("timed out waiting to apply up to the read index"))
        self.read_waits = [w for w in self.read_waits if w[1].deadline >= now]

    def run(self) -> None:
        next_tick = time.monotonic() + self.tick_seconds
        while not self.stopping.is_set():
            try:
                fn = self.events.get(timeout=max(0.0, next_tick - time.monotonic()))
                fn()
                for _ in range(1000):
                    self.events.get_nowait()()
            except queue.Empty:
                pass
            now = time.monotonic()
            if now >= next_tick:
                self.node.tick()
                next_tick = max(next_tick + self.tick_seconds, now)
                self.expire()
            while self.node.has_ready():
                self.handle_ready()

    # -- servers --

    def serve(self) -> Tuple[TCPServer, TCPServer]:
        node = self

        class PeerHandler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while True:
                    head = read_exact(self.rfile, 4)
                    if head is None:
                        return
                    (n,) = struct.unpack(">I", head)
                    body = read_exact(self.rfile, n) if n <= MAX_FRAME else None
                    if body is None:
                        return
                    node.receive(body)

        class ClientHandler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for line in self.rfile:
                    try:
                        body = json.loads(line)
                        if not isinstance(body, dict):
                            raise ValueError("not an object")
                    except ValueError as e:
                        reply: Reply = {"ok": False, "error": f"bad request: {e}", "node": node.id}
                    else:
                        req = Request()
                        node.submit(req, body)
                        if not req.done.wait(REQUEST_TIMEOUT + 1.0):
                            req.finish(node.error("timed out"))
                        reply = req.reply
                    self.wfile.write(json.dumps(reply).encode() + b"\n")
                    self.wfile.flush()

        raft_server = TCPServer(self.peers[self.id], PeerHandler)
        client_server = TCPServer(self.client_addr, ClientHandler)
        for server in (raft_server, client_server):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return raft_server, client_server


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="One node of the polyraft key-value store demo.")
    ap.add_argument("--id", type=int, required=True, help="this node's id (a key of --peers)")
    ap.add_argument(
        "--peers", required=True, help="every node's raft address: 1=127.0.0.1:7001,2=127.0.0.1:7002,..."
    )
    ap.add_argument("--data-dir", required=True, help="where the WAL and snapshots live (created if missing)")
    ap.add_argument("--client", help="client listen address (default: this node's raft host, port + 1000)")
    ap.add_argument("--tick-ms", type=int, default=100, help="raft tick interval (default 100 ms)")
    ap.add_argument(
        "--snapshot-every", type=int, default=1000, help="snapshot and compact every N applied entries (default 1000)"
    )
    ap.add_argument(
        "--raft-log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARN", "ERROR"],
        help="the raft library's log level (default INFO: elections, snapshots)",
    )
    args = ap.parse_args(argv)
    try:
        peers = parse_peers(args.peers)
        if args.id not in peers:
            raise ValueError(f"--id {args.id} is not one of the --peers ids {sorted(peers)}")
        if args.client:
            client = parse_addr(args.client)
        else:
            host, port = peers[args.id]
            client = (host, port + 1000)
        if args.tick_ms <= 0 or args.snapshot_every <= 0:
            raise ValueError("--tick-ms and --snapshot-every must be positive")
    except ValueError as e:
        ap.error(str(e))
    try:
        node = KVNode(args.id, peers, client, args.data_dir, args.tick_ms, args.snapshot_every, args.raft_log_level)
    except polyraft.StorageError as e:
        print(f"node {args.id}: cannot open {args.data_dir}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    try:
        servers = node.serve()
    except OSError as e:
        print(f"node {args.id}: cannot listen: {e}", file=sys.stderr)
        return 1

    def stop(signum: int, frame: object) -> None:
        node.stopping.set()
        node.post(lambda: None)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    node.log(f"raft on {peers[args.id][0]}:{peers[args.id][1]}, clients on {client[0]}:{client[1]}")
    try:
        node.run()
    except polyraft.RaftError as e:
        node.log(f"stopping on {type(e).__name__}: {e}")
        return 1
    finally:
        for server in servers:
            server.server_close()
    node.log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
