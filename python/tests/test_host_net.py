"""polyraft.Host on the TCP network (TcpNetwork): three hosts in this
process over loopback with mutual TLS, certificates from
polyraft.dev_certificates; plain TCP only when asked for by name."""

from __future__ import annotations

import time
from pathlib import Path
from typing import IO, Callable, Dict, Iterator, List, TypeVar

import pytest

from polyraft import Entry, Host, ProposalRejectedError, ProposalTimeoutError, Session, StateMachine
from polyraft import TcpNetwork, dev_certificates

T = TypeVar("T")


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


def retry(f: Callable[[], T], deadline: float = 15.0) -> T:
    """Retries while the groups elect (rejected or timed out)."""
    end = time.monotonic() + deadline
    while True:
        try:
            return f()
        except (ProposalRejectedError, ProposalTimeoutError):
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def start_hosts(nets: List[TcpNetwork]) -> List[Host]:
    """Starts a host per network (listening on port 0), then tells every
    host where the others listen."""
    hosts = [Host(i + 1, network=n, tick_interval=0.02, election_ticks=10) for i, n in enumerate(nets)]
    for h in hosts:
        for o in hosts:
            if o is not h:
                addr = o.local_addr
                assert addr is not None
                h.add_peer(o.id, addr)
    return hosts


@pytest.fixture
def tls_hosts(tmp_path: Path) -> Iterator[List[Host]]:
    files = dev_certificates(tmp_path / "certs", [1, 2, 3])
    nets = [TcpNetwork("127.0.0.1:0", {}, cert=c, key=k, ca=ca) for c, k, ca in files.values()]
    assert all(n.tls for n in nets)
    hosts = start_hosts(nets)
    yield hosts
    for h in hosts:
        h.close()


def test_dev_certificates_writes_pem_files(tmp_path: Path) -> None:
    files = dev_certificates(tmp_path, [7, 9])
    assert sorted(files) == [7, 9]
    cert, key, ca = files[7]
    assert Path(cert).name == "host-7.pem" and Path(key).name == "host-7.key" and Path(ca).name == "ca.pem"
    assert Path(cert).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" in Path(key).read_text()
    assert Path(key).stat().st_mode & 0o077 == 0, "the key is private to its owner"
    with pytest.raises(ValueError):
        dev_certificates(tmp_path, [0])


def test_three_hosts_over_tls_replicate_many_groups(tls_hosts: List[Host]) -> None:
    members = {1: 1, 2: 2, 3: 3}
    for h in tls_hosts:
        for g in (1, 2, 3, 4):
            h.start_replica(g, h.id, KV(), members=members)
    for g in (1, 2, 3, 4):
        # Through every host: followers forward to the leader.
        for h in tls_hosts:
            retry(lambda: h.propose(g, b"k%d=from-%d" % (g, h.id), timeout=2.0))
        for h in tls_hosts:
            assert retry(lambda: h.read(g, b"k%d" % g, timeout=2.0)) == b"from-3"
    info = tls_hosts[0].group_info(1)
    assert info is not None and info.voters == [1, 2, 3] and info.leader in (1, 2, 3)


def test_session_retry_over_tls_applies_once(tls_hosts: List[Host]) -> None:
    for h in tls_hosts:
        h.start_replica(5, h.id, KV(), members={1: 1, 2: 2, 3: 3})
    s = Session(5, 42)
    assert retry(lambda: tls_hosts[0].propose_session(s, b"n=1", timeout=2.0)) == b""
    # A retry of series 1 from another host answers the first result and
    # applies nothing.
    again = Session(5, 42, series=1, responded_to=0)
    assert retry(lambda: tls_hosts[1].propose_session(again, b"n=1", timeout=2.0)) == b""
    assert retry(lambda: tls_hosts[2].propose(5, b"n=2", timeout=2.0)) == b"1"


def test_leader_failover_over_tls(tls_hosts: List[Host]) -> None:
    for h in tls_hosts:
        h.start_replica(6, h.id, KV(), members={1: 1, 2: 2, 3: 3})
    retry(lambda: tls_hosts[0].propose(6, b"a=1", timeout=2.0))
    info = tls_hosts[0].group_info(6)
    assert info is not None
    leader = next(h for h in tls_hosts if h.id == info.hosts[info.leader])
    leader.close()
    rest = [h for h in tls_hosts if h is not leader]
    assert retry(lambda: rest[0].propose(6, b"a=2", timeout=1.0)) == b"1"
    assert retry(lambda: rest[1].read(6, b"a", timeout=1.0)) == b"2"


def test_a_host_without_the_ca_cannot_join(tmp_path: Path) -> None:
    good = dev_certificates(tmp_path / "good", [1, 2])
    rogue = dev_certificates(tmp_path / "rogue", [2])  # host 2's name, another CA
    c, k, ca = good[1]
    rc, rk, rca = rogue[2]
    hosts = start_hosts([TcpNetwork("127.0.0.1:0", {}, cert=c, key=k, ca=ca),
                         TcpNetwork("127.0.0.1:0", {}, cert=rc, key=rk, ca=rca)])
    try:
        for h in hosts:
            h.start_replica(1, h.id, KV(), members={1: 1, 2: 2})
        with pytest.raises((ProposalRejectedError, ProposalTimeoutError)):
            hosts[0].propose(1, b"x=1", timeout=1.5)
    finally:
        for h in hosts:
            h.close()


def test_plaintext_only_by_name_and_bad_settings_are_refused(tmp_path: Path) -> None:
    plain = TcpNetwork.insecure_plaintext("127.0.0.1:0", {2: "127.0.0.1:1"})
    assert not plain.tls and "insecure_plaintext" in repr(plain)
    with Host(1, network=plain) as h:
        assert h.local_addr is not None and h.local_addr.startswith("127.0.0.1:")
    with pytest.raises(ValueError):
        TcpNetwork("nowhere", {}, cert=tmp_path, key=tmp_path, ca=tmp_path)
    with pytest.raises(ValueError):
        TcpNetwork("127.0.0.1:0", {}, cert=tmp_path / "no.pem", key=tmp_path / "no.key", ca=tmp_path / "ca.pem")
    with pytest.raises(ValueError):
        TcpNetwork.insecure_plaintext("127.0.0.1:0", {0: "127.0.0.1:1"})
    with Host(1) as alone:
        assert alone.local_addr is None
        with pytest.raises(ValueError):
            alone.add_peer(2, "127.0.0.1:1")
