"""polyraft.Host: three hosts in one process (in-process network), several
groups, a key-value state machine written in Python."""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import threading
import time
from pathlib import Path
from typing import IO, Callable, Dict, Iterator, List, Optional, TypeVar

import pytest

import polyraft
from polyraft import (
    AsyncHost,
    Entry,
    Host,
    HostClosedError,
    HostError,
    InProcNetwork,
    ProposalRejectedError,
    ProposalTimeoutError,
    Session,
    StateMachine,
)

T = TypeVar("T")
TICK = 0.02
GROUPS = [1, 2, 3, 4]
ALL = {1: 1, 2: 2, 3: 3}  # replica h runs on host h


class KV(StateMachine):
    """``key=value`` sets a key and returns its old value; ``+key`` adds one
    to a counter; ``!`` raises (a buggy command)."""

    def __init__(self) -> None:
        self.data: Dict[str, str] = {}
        self.applied: List[int] = []
        self.restores = 0

    def apply(self, entries: List[Entry]) -> List[bytes]:
        out = []
        for e in entries:
            self.applied.append(e.index)
            cmd = e.data.decode()
            if cmd == "!":
                raise ValueError("buggy command")
            if cmd.startswith("+"):
                n = int(self.data.get(cmd[1:], "0")) + 1
                self.data[cmd[1:]] = str(n)
                out.append(str(n).encode())
                continue
            k, _, v = cmd.partition("=")
            out.append(self.data.get(k, "").encode())
            self.data[k] = v
        return out

    def snapshot(self, writer: IO[bytes]) -> None:
        writer.write(json.dumps(self.data).encode())

    def restore(self, reader: IO[bytes]) -> None:
        self.data = json.loads(reader.read())
        self.restores += 1

    def lookup(self, query: bytes) -> bytes:
        if query == b"?":
            raise KeyError("no such query")
        return self.data.get(query.decode(), "").encode()


def retry(f: Callable[[], T], deadline: float = 10.0, also_timeouts: bool = False) -> T:
    """Calls ``f`` until it stops being rejected (no leader elected yet)."""
    end = time.monotonic() + deadline
    retried = (ProposalRejectedError, ProposalTimeoutError) if also_timeouts else ProposalRejectedError
    while True:
        try:
            return f()
        except retried:
            if time.monotonic() > end:
                raise
            time.sleep(0.02)


def eventually(cond: Callable[[], bool], deadline: float = 10.0) -> None:
    end = time.monotonic() + deadline
    while not cond():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.02)


class Cluster:
    def __init__(self, net: InProcNetwork, hosts: List[Host], sms: Dict[tuple[int, int], KV]) -> None:
        self.net, self.hosts, self.sms = net, hosts, sms

    def leader(self, group: int) -> Host:
        """The host whose replica leads ``group`` (waits for an election)."""
        found: List[Host] = []

        def has_leader() -> bool:
            found[:] = [h for h in self.hosts if not h.closed and (i := h.group_info(group)) is not None and i.is_leader]
            return bool(found)

        eventually(has_leader)
        return found[0]


def make_cluster(
    groups: List[int] = GROUPS, data_dir: Optional[Path] = None, **kw: object
) -> Cluster:
    net = InProcNetwork()
    hosts = []
    sms: Dict[tuple[int, int], KV] = {}
    for h in (1, 2, 3):
        host = Host(h, network=net, tick_interval=TICK, workers=2, data_dir=data_dir and data_dir / str(h), **kw)  # type: ignore[arg-type]
        for g in groups:
            sm = sms[(h, g)] = KV()
            host.start_replica(g, h, sm, members=ALL)
        hosts.append(host)
    return Cluster(net, hosts, sms)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    c = make_cluster()
    yield c
    for h in c.hosts:
        h.close()


def test_proposals_return_results_in_every_group(cluster: Cluster) -> None:
    hosts = cluster.hosts
    for g in GROUPS:
        # Any host takes a proposal: followers forward it to the leader.
        assert retry(lambda: hosts[g % 3].propose(g, f"k=v{g}".encode())) == b""
        assert hosts[(g + 1) % 3].propose(g, f"k=w{g}".encode()) == f"v{g}".encode()
        assert hosts[(g + 2) % 3].propose(g, b"+n") == b"1"
    for h in hosts:
        for g in GROUPS:
            assert h.read(g, b"k") == f"w{g}".encode()
    info = hosts[0].group_info(1)
    assert info is not None and info.voters == [1, 2, 3] and info.hosts == ALL and info.applied >= 4
    assert hosts[0].group_info(99) is None
    m = hosts[0].metrics()
    assert m["groups"] == len(GROUPS) and m["proposals"] >= 4
    assert "polyraft_host_proposals" in hosts[0].prometheus()


def test_rejected_is_not_applied_and_timed_out_is_unknown() -> None:
    # Long elections: a partitioned leader stays leader for the whole test.
    c = make_cluster(groups=[1], election_ticks=100)
    try:
        leader = c.leader(1)
        with pytest.raises(ProposalRejectedError, match="no replica"):
            leader.propose(7, b"x=1")
        others = [h.id for h in c.hosts if h is not leader]
        for o in others:
            c.net.partition(leader.id, o)
        t = time.monotonic()
        with pytest.raises(ProposalTimeoutError):
            leader.propose(1, b"x=1", timeout=0.3)
        assert time.monotonic() - t < 2.0
        with pytest.raises(TimeoutError):  # also a builtin TimeoutError
            leader.propose(1, b"y=1", timeout=0.1)
        for o in others:
            c.net.heal(leader.id, o)
        # The timed-out proposals were in the leader's log: they may (and
        # here do) apply once the partition heals.
        eventually(lambda: all(c.sms[(h, 1)].data.get("x") == "1" for h in (1, 2, 3)))
    finally:
        for h in c.hosts:
            h.close()


def test_session_retry_after_timeout_applies_once() -> None:
    c = make_cluster(groups=[1], election_ticks=100)
    try:
        leader = c.leader(1)
        s = Session(1, client_id=42)
        assert (s.group, s.client_id, s.series) == (1, 42, 1)
        assert leader.propose_session(s, b"+c") == b"1"
        assert s.series == 2 and s.responded_to == 1
        for o in (h.id for h in c.hosts if h is not leader):
            c.net.partition(leader.id, o)
        with pytest.raises(ProposalTimeoutError):
            leader.propose_session(s, b"+c", timeout=0.2)
        assert s.series == 2, "a timed-out proposal keeps its series for the retry"
        for o in (h.id for h in c.hosts if h is not leader):
            c.net.heal(leader.id, o)
        # The retry is the same proposal: the counter moves once, and every
        # attempt answers with that single application's result.
        assert retry(lambda: leader.propose_session(s, b"+c")) == b"2"
        assert leader.read(1, b"c") == b"2"
        assert s.series == 3
        assert Session(1).client_id != Session(1).client_id
        with pytest.raises(ValueError):
            Session(1, client_id=0)
        # A node proposing for a remote client resumes its session: the
        # same client and series are the same proposal, on any host.
        other = next(h for h in c.hosts if h is not leader)
        resumed = Session(1, 42, series=2, responded_to=1)
        assert (resumed.series, resumed.responded_to) == (2, 1)
        assert other.propose_session(resumed, b"+c") == b"2"
        assert leader.read(1, b"c") == b"2"
        with pytest.raises(ValueError, match="above"):
            Session(1, 42, series=2, responded_to=2)
        leader.close_session(s)
    finally:
        for h in c.hosts:
            h.close()


def test_linearizable_and_stale_reads(cluster: Cluster) -> None:
    leader = cluster.leader(2)
    follower = next(h for h in cluster.hosts if h is not leader)
    retry(lambda: leader.propose(2, b"a=1"))
    # A linearizable read on a follower sees the write at once.
    assert follower.read(2, b"a") == b"1"
    eventually(lambda: follower.stale_read(2, b"a") == b"1")
    # Cut the follower off: its stale reads answer from its old state, its
    # linearizable reads cannot be confirmed.
    for h in cluster.hosts:
        if h is not follower:
            cluster.net.partition(follower.id, h.id)
    leader.propose(2, b"a=2")
    assert leader.read(2, b"a") == b"2"
    assert follower.stale_read(2, b"a") == b"1"
    with pytest.raises((ProposalRejectedError, ProposalTimeoutError)):
        follower.read(2, b"a", timeout=0.3)
    # A lookup's exception reaches the reader; the replica keeps running.
    with pytest.raises(KeyError, match="no such query"):
        leader.read(2, b"?")
    with pytest.raises(KeyError):
        follower.stale_read(2, b"?")
    assert leader.read(2, b"a") == b"2"


def test_membership_change_and_leader_transfer() -> None:
    net = InProcNetwork()
    hosts = [Host(h, network=net, tick_interval=TICK, workers=1) for h in (1, 2, 3)]
    try:
        sms = {h.id: KV() for h in hosts}
        for h in hosts[:2]:
            h.start_replica(5, h.id, sms[h.id], members={1: 1, 2: 2})
        for i in range(10):
            retry(lambda: hosts[0].propose(5, f"k{i}={i}".encode()))
        # Replica 3 joins on host 3: started first, then added.
        hosts[2].start_replica(5, 3, sms[3], join=True)
        retry(lambda: hosts[0].add_replica(5, 3, 3))
        eventually(lambda: hosts[2].stale_read(5, b"k9") == b"9")
        info = hosts[2].group_info(5)
        assert info is not None and info.voters == [1, 2, 3] and info.hosts == {1: 1, 2: 2, 3: 3}
        retry(lambda: hosts[0].transfer_leader(5, 3))
        eventually(lambda: (i := hosts[0].group_info(5)) is not None and i.leader == 3)
        retry(lambda: hosts[2].remove_replica(5, 1))
        eventually(lambda: hosts[2].group_info(5) is not None and hosts[2].group_info(5).voters == [2, 3])  # type: ignore[union-attr]
        assert retry(lambda: hosts[1].propose(5, b"after=1")) == b""
        with pytest.raises(ProposalRejectedError):
            hosts[0].transfer_leader(5, 9)
    finally:
        for h in hosts:
            h.close()


def test_restart_catches_up_by_log_and_snapshot(tmp_path: Path) -> None:
    c = make_cluster(groups=[1, 2], data_dir=tmp_path, snapshot_entries=20, compaction_overhead=5)
    try:
        for i in range(10):
            retry(lambda: c.hosts[0].propose(1, f"k{i}={i}".encode()))
        c.hosts[2].close()
        # What the network transport's failure detector does.
        for h in c.hosts[:2]:
            h.report_host_down(3)
        for i in range(10, 80):
            # A proposal forwarded to host 3 before the others noticed it
            # is gone times out; these puts are idempotent, so retry.
            retry(lambda: c.hosts[0].propose(1, f"k{i}={i}".encode(), timeout=1.0), also_timeouts=True)
        # Host 3 restarts from its directory (members are ignored: the log
        # has the group) and catches up; the leader compacted past it, so
        # it gets a snapshot.
        h3 = Host(3, network=c.net, tick_interval=TICK, workers=2, data_dir=tmp_path / "3")
        c.hosts[2] = h3
        for g in (1, 2):
            sm = c.sms[(3, g)] = KV()
            h3.start_replica(g, 3, sm, members=ALL)
        eventually(lambda: h3.stale_read(1, b"k79") == b"79")
        assert c.sms[(3, 1)].restores >= 1
        assert c.sms[(3, 1)].data == c.sms[(1, 1)].data
        assert h3.read(1, b"k5") == b"5"
        with pytest.raises(HostError, match="already"):
            h3.start_replica(1, 3, KV(), members=ALL)
    finally:
        for h in c.hosts:
            h.close()


def test_apply_exception_stops_only_that_replica() -> None:
    with Host(9, tick_interval=TICK) as h:
        sms = {g: KV() for g in (1, 2)}
        for g in (1, 2):
            h.start_replica(g, 1, sms[g], members={1: 9})
        retry(lambda: h.propose(1, b"a=1"))
        retry(lambda: h.propose(2, b"a=1"))
        # The replica stops while the proposal waits: its outcome is unknown.
        with pytest.raises(ProposalTimeoutError):
            h.propose(1, b"!")
        failures = h.failures()
        assert len(failures) == 1 and failures[0][:2] == (1, 1)
        assert "ValueError: buggy command" in failures[0][2]
        assert h.group_info(1) is None
        with pytest.raises(ProposalRejectedError):
            h.propose(1, b"a=2")
        # The other group runs on.
        assert h.propose(2, b"a=2") == b"1"
    assert h.closed
    with pytest.raises(HostClosedError):
        h.propose(2, b"a=3")


class BadSnapshots(KV):
    def snapshot(self, writer: IO[bytes]) -> None:
        raise OSError("disk full")


def test_snapshot_exception_is_reported_and_the_replica_runs_on(tmp_path: Path) -> None:
    with Host(1, tick_interval=TICK, snapshot_entries=5, data_dir=tmp_path) as h:
        h.start_replica(1, 1, BadSnapshots(), members={1: 1})
        for i in range(12):
            retry(lambda: h.propose(1, f"k{i}={i}".encode()))
        assert any("snapshot raised: OSError: disk full" in f[2] for f in h.failures())
        assert h.read(1, b"k11") == b"11"
        info = h.group_info(1)
        assert info is not None and info.snapshot_index == 0
        # The directory is locked while the host runs.
        with pytest.raises(HostError, match="lock"):
            Host(2, data_dir=tmp_path)


class BadResults(KV):
    def apply(self, entries: List[Entry]) -> List[bytes]:
        return [b"one"] + super().apply(entries)


class Reentrant(KV):
    host: Optional[Host] = None

    def lookup(self, query: bytes) -> bytes:
        assert self.host is not None
        return self.host.propose(1, b"x=1")


def test_misuse_gets_clear_errors() -> None:
    with Host(1, tick_interval=TICK) as h:
        with pytest.raises(ValueError, match="members"):
            h.start_replica(1, 1, KV())
        with pytest.raises(TypeError, match="apply"):
            h.start_replica(1, 1, object(), members={1: 1})  # type: ignore[arg-type]
        with pytest.raises(HostError, match="not among"):
            h.start_replica(1, 2, KV(), members={1: 1})
        with pytest.raises(HostError):
            h.start_replica(1, 0, KV(), members={0: 1})
        r = Reentrant()
        r.host = h
        h.start_replica(1, 1, r, members={1: 1})
        with pytest.raises(ValueError, match="seconds"):
            h.propose(1, b"x", timeout=-1)
        with pytest.raises(RuntimeError, match="state machine callback"):
            retry(lambda: h.read(1, b"k"))
        h.start_replica(2, 1, BadResults(), members={1: 1})
        with pytest.raises(ProposalTimeoutError):
            retry(lambda: h.propose(2, b"k=1"))
        assert "returned 2 results for 1 entries" in h.failures()[0][2]
        s = Session(1)
        h.stop_replica(1)
        with pytest.raises(HostError):
            h.stop_replica(1)
        with pytest.raises(ProposalRejectedError):
            h.propose_session(s, b"x=1")
    with pytest.raises(TypeError):
        Host(1, network="tcp://nowhere")  # type: ignore[arg-type]
    with pytest.raises(HostError):
        Host(0)
    with pytest.raises(ValueError):
        Host(1, election_ticks=1, heartbeat_ticks=1)
    assert repr(h) == "Host(id=1, closed)"


def test_blocking_calls_release_the_gil(cluster: Cluster) -> None:
    leader = cluster.leader(1)
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        for o in (h.id for h in cluster.hosts if h is not leader):
            cluster.net.partition(leader.id, o)
        with pytest.raises((ProposalTimeoutError, ProposalRejectedError)):
            leader.propose(1, b"z=1", timeout=0.3)
    finally:
        stop.set()
        t.join()
    assert ticks > 10_000, "another Python thread ran while the call waited"


class Interrupted(Exception):
    pass


def test_a_signal_interrupts_a_blocking_call(cluster: Cluster) -> None:
    leader = cluster.leader(1)
    for o in (h.id for h in cluster.hosts if h is not leader):
        cluster.net.partition(leader.id, o)

    def on_alarm(signum: int, frame: object) -> None:
        raise Interrupted()

    old = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        t = time.monotonic()
        with pytest.raises(Interrupted):
            leader.propose(1, b"z=1", timeout=30)
        assert time.monotonic() - t < 5
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_asyncio_api(cluster: Cluster) -> None:
    async def main() -> None:
        aio = AsyncHost(cluster.hosts[0])
        assert aio.host is cluster.hosts[0]
        while True:
            try:
                await aio.propose(3, b"w=0")
                break
            except ProposalRejectedError:
                await asyncio.sleep(0.02)
        # 64 concurrent proposals to one group: every result is distinct.
        results = await asyncio.gather(*(aio.propose(3, b"+n") for _ in range(64)))
        assert sorted(int(r) for r in results) == list(range(1, 65))
        assert await aio.read(3, b"n") == b"64"
        assert await aio.stale_read(3, b"w") in (b"", b"0")
        with pytest.raises(ProposalRejectedError):
            await aio.propose(99, b"x=1")
        with pytest.raises(KeyError):
            await aio.read(3, b"?")
        s = Session(3)
        assert await aio.propose_session(s, b"+m") == b"1"
        with pytest.raises(RuntimeError, match="in flight"):
            await asyncio.gather(aio.propose_session(s, b"+m"), aio.propose_session(s, b"+m"))
        # A cancelled awaiter abandons the outcome, not the operation.
        task = asyncio.ensure_future(aio.propose(3, b"late=1"))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.2)
        with pytest.raises(ValueError):
            await aio.propose(3, b"x", timeout=float("nan"))
        leader = cluster.leader(3)
        target = next(h.id for h in cluster.hosts if h is not leader)
        await AsyncHost(leader).transfer_leader(3, target)
        await aio.add_learner(3, 4, 3)
        await aio.remove_replica(3, 4)

    asyncio.run(main())
    # The pending-op gauge drained.
    eventually(lambda: cluster.hosts[0].metrics()["pending_ops"] == 0)


def test_async_host_serves_one_loop_after_another(cluster: Cluster) -> None:
    aio = AsyncHost(cluster.hosts[1])

    async def put(v: bytes) -> bytes:
        while True:
            try:
                return await aio.propose(4, b"x=" + v)
            except ProposalRejectedError:
                await asyncio.sleep(0.02)

    assert asyncio.run(put(b"1")) == b""
    assert asyncio.run(put(b"2")) == b"1"
    gc.collect()
    assert len(aio._dispatchers) == 0, "a finished loop's dispatcher is released"


def test_async_context_manager_closes_the_host() -> None:
    async def main() -> Host:
        async with AsyncHost(Host(5, tick_interval=TICK)) as aio:
            aio.host.start_replica(1, 1, KV(), members={1: 5})
            while True:
                try:
                    assert await aio.propose(1, b"k=v") == b""
                    break
                except ProposalRejectedError:
                    await asyncio.sleep(0.02)
            return aio.host

    h = asyncio.run(main())
    assert h.closed
    assert polyraft.Host is Host


def test_the_lowest_election_priority_never_wins_between_equal_logs() -> None:
    # Priorities 1, 2, 3 for hosts 1, 2, 3 (Host(election_priority=...)).
    net = InProcNetwork()
    hosts: List[Host] = []
    groups = list(range(1, 9))
    for hid in (1, 2, 3):
        host = Host(hid, network=net, tick_interval=TICK, workers=1, election_priority=hid)
        for g in groups:
            host.start_replica(g, hid, KV(), members=ALL)
        hosts.append(host)
    try:
        c = Cluster(net, hosts, {})
        for g in groups:
            # Equal bootstrap logs: host 1 is refused by both others.
            assert c.leader(g) is not hosts[0], f"group {g} elected the lowest priority"
    finally:
        for host in hosts:
            host.close()


def test_raw_node_config_carries_priority_and_batch_append() -> None:
    c = polyraft.Config(id=1, priority=-3, batch_append=True)
    assert (c.priority, c.batch_append) == (-3, True)
    d = polyraft.Config(id=1)
    assert (d.priority, d.batch_append) == (0, False)
