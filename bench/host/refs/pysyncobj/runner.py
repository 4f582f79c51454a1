"""W4 reference runner for PySyncObj 0.3.17 (see ../README.md for the contract).

Run without --node it is node 1: it reserves three loopback ports, spawns nodes 2 and 3 as
copies of itself (separate OS processes), waits until node 1 leads, then keeps C commands in
flight with PySyncObj's callback form of a ``@replicated`` method: each callback (the command
committed by the leader and applied to its state machine) records the latency and submits the
client's next 128-byte command. It prints one JSON line on stdout; logs go to stderr.

Each node keeps its raft log in a journal file (``journalFile``) and its snapshots in a dump
file (``fullDumpFile``) under --dir: PySyncObj's persistent configuration. PySyncObj never
fsyncs (the journal is an mmap that is only msync'ed when the node is destroyed), so the
result says ``"fsync": false``.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import traceback

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, replicated

# Followers' election timeouts (s): far longer than node 1's defaults (0.4–1.4 s) so node 1
# campaigns first; once it leads, its heartbeats every 0.1 s keep them quiet. PySyncObj wants
# connectionTimeout >= raftMaxTimeout, so the followers' is raised with it.
FOLLOWER_TIMEOUTS = (5.0, 8.0)


class Counter(SyncObj):
    """The replicated state machine: counts applied commands and keeps the last one."""

    def __init__(self, self_addr, partners, conf):
        super().__init__(self_addr, partners, conf)
        self.__count = 0
        self.__last = b""

    @replicated
    def put(self, value):
        """Applies one command on every replica; returns the new count."""
        self.__count += 1
        self.__last = value
        return self.__count


def log(msg):
    print("pysyncobj-runner: " + msg, file=sys.stderr, flush=True)


def cpu_seconds(pid):
    """User+system CPU seconds of a process, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid, "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2:].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_listening(addr, deadline):
    """Waits until a follower accepts connections on addr."""
    host, port = addr.rsplit(":", 1)
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("follower at %s never listened" % addr)
            time.sleep(0.02)


def reserve_addrs(n):
    """Reserves n loopback ports by binding port 0, then releases them."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return ["127.0.0.1:%d" % s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def make_conf(args, node):
    """PySyncObj's defaults plus the journal and dump files and the run's variant."""
    kw = dict(
        journalFile=os.path.join(args.dir, "node%d.journal" % node),
        fullDumpFile=os.path.join(args.dir, "node%d.dump" % node),
    )
    if args.no_batch:
        kw["appendEntriesUseBatch"] = False
    if node != 1:
        kw["raftMinTimeout"], kw["raftMaxTimeout"] = FOLLOWER_TIMEOUTS
        kw["connectionTimeout"] = FOLLOWER_TIMEOUTS[1]
    return SyncObjConf(**kw)


def follower(args):
    """Runs node 2 or 3 until its standard input closes (node 1 ended)."""
    addrs = args.addrs.split(",")
    me = addrs[args.node - 1]
    obj = Counter(me, [a for a in addrs if a != me], make_conf(args, args.node))
    sys.stdin.buffer.read()  # returns at EOF
    obj.destroy()


def percentile(sorted_ns, q):
    i = min(max(int(q * len(sorted_ns) + 0.5) - 1, 0), len(sorted_ns) - 1)
    return sorted_ns[i] / 1e6


class Clients:
    """C closed-loop clients driven by PySyncObj's callbacks (called on its tick thread)."""

    WARMUP, MEASURE, DRAIN = range(3)

    def __init__(self, obj, concurrency, size):
        self.obj = obj
        self.size = size
        self.phase = self.WARMUP
        self.lat_ns = []
        self.outstanding = 0
        self.lock = threading.Lock()
        self.failure = None
        self.seq = [0] * concurrency

    def submit(self, client):
        seq = self.seq[client]
        self.seq[client] = seq + 1
        value = client.to_bytes(4, "little") + seq.to_bytes(4, "little")
        value += b"\xab" * (self.size - len(value))
        start = time.monotonic_ns()
        with self.lock:
            self.outstanding += 1
        self.obj.put(value, callback=lambda res, err: self.done(client, start, res, err))

    def done(self, client, start, res, err):
        end = time.monotonic_ns()
        with self.lock:
            self.outstanding -= 1
        if err != FAIL_REASON.SUCCESS:
            if self.failure is None:
                self.failure = "client %d: command failed, reason %r" % (client, err)
            self.phase = self.DRAIN
            return
        if self.phase == self.MEASURE:
            self.lat_ns.append(end - start)
        if self.phase != self.DRAIN:
            self.submit(client)


def leader(args):
    os.makedirs(args.dir, exist_ok=True)
    # Between two PySyncObj nodes the one with the greater address string opens the
    # connection (retrying only every connectionRetryTime, 5 s). Node 1 takes the greatest, so
    # it connects to both followers as soon as it starts, and they never dial it.
    addrs = sorted(reserve_addrs(3), reverse=True)
    children = []
    obj = None
    try:
        for node in (2, 3):
            cmd = [sys.executable, os.path.abspath(__file__), "--node", str(node),
                   "--addrs", ",".join(addrs), "--dir", args.dir,
                   "--concurrency", "1", "--duration", "1", "--size", str(args.size)]
            if args.no_batch:
                cmd.append("--append-entries-use-batch=false")
            children.append(subprocess.Popen(cmd, stdin=subprocess.PIPE))
        # Node 1 starts once both followers listen, so its first connections succeed and it
        # campaigns well before their longer election timers fire.
        for a in addrs[1:]:
            wait_listening(a, time.monotonic() + 30)
        obj = Counter(addrs[0], addrs[1:], make_conf(args, 1))
        deadline = time.monotonic() + 30
        while not (obj._isLeader() and obj._isReady()):
            if time.monotonic() > deadline:
                raise RuntimeError("node 1 did not become leader within 30 s (leader: %s)"
                                   % obj._getLeader())
            for c in children:
                if c.poll() is not None:
                    raise RuntimeError("a follower exited with %d" % c.returncode)
            time.sleep(0.01)
        # One command through the quorum before the clients start.
        obj.put(b"\0" * args.size, sync=True, timeout=30)
        log("node 1 leads; %d clients, warmup %.1fs, window %.1fs"
            % (args.concurrency, args.warmup, args.duration))

        pids = [os.getpid()] + [c.pid for c in children]
        clients = Clients(obj, args.concurrency, args.size)
        for client in range(args.concurrency):
            clients.submit(client)
        time.sleep(args.warmup)
        cpu0 = sum(cpu_seconds(p) for p in pids)
        t0 = time.monotonic()
        clients.phase = Clients.MEASURE
        time.sleep(args.duration)
        clients.phase = Clients.DRAIN
        elapsed = time.monotonic() - t0
        cpu1 = sum(cpu_seconds(p) for p in pids)
        deadline = time.monotonic() + 60
        while clients.outstanding > 0:
            if time.monotonic() > deadline:
                raise RuntimeError("%d commands never completed" % clients.outstanding)
            time.sleep(0.01)
        if clients.failure is not None:
            raise RuntimeError(clients.failure)
        if not obj._isLeader():
            raise RuntimeError("node 1 lost leadership during the run")
        for node, c in zip((2, 3), children):
            if c.poll() is not None:
                raise RuntimeError("follower node %d exited during the run" % node)
        lat = sorted(clients.lat_ns)
        if not lat:
            raise RuntimeError("no write completed in the window")
        print(json.dumps({
            "library": "pysyncobj",
            "variant": "appendEntriesUseBatch=False" if args.no_batch else "default",
            "concurrency": args.concurrency,
            "writes": len(lat),
            "seconds": elapsed,
            "writes_per_s": len(lat) / elapsed,
            "p50_ms": percentile(lat, 0.50),
            "p99_ms": percentile(lat, 0.99),
            "p999_ms": percentile(lat, 0.999),
            "cpu_s": round(cpu1 - cpu0, 2),
            "fsync": False,
        }), flush=True)
    finally:
        if obj is not None:
            obj.destroy()
        for c in children:
            c.stdin.close()
        for c in children:
            try:
                c.wait(timeout=10)
            except subprocess.TimeoutExpired:
                c.kill()
                c.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--concurrency", type=int, required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--dir", required=True)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--append-entries-use-batch", choices=["true", "false"], default="true",
                   help="PySyncObj's appendEntriesUseBatch (default true)")
    p.add_argument("--node", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--addrs", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.no_batch = args.append_entries_use_batch == "false"
    if args.concurrency < 1 or args.duration <= 0 or args.warmup < 0 or args.size < 8:
        p.error("need --concurrency >= 1, --duration > 0, --warmup >= 0, --size >= 8")
    try:
        if args.node:
            if args.node not in (2, 3) or len(args.addrs.split(",")) != 3:
                p.error("--node must be 2 or 3 with --addrs of three addresses")
            follower(args)
        else:
            leader(args)
    except Exception as e:  # one clear line, non-zero exit
        traceback.print_exc()
        log("error: %s: %s" % (type(e).__name__, e))
        sys.exit(1)


if __name__ == "__main__":
    main()
