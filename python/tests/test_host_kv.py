"""examples/kv-host/kvhost.py as three processes (one host each, mutual
TLS between them): it speaks the KV client protocol
of examples/kv-go/PROTOCOL.md (OK / REJECTED / UNKNOWN / ERR), shards keys
like the Go and C nodes, and a retried PUT (same series) applies once."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, List

import pytest

from polyraft import dev_certificates

NODE = Path(__file__).resolve().parents[2] / "examples" / "kv-host" / "kvhost.py"
OPEN: List["Client"] = []


class Client:
    """A connection to one host's client port (closed by the fixture)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rwb")
        OPEN.append(self)

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def call(self, line: str) -> str:
        self.file.write(line.encode() + b"\n")
        self.file.flush()
        return self.file.readline().decode().rstrip("\n")

    def until_done(self, line: str) -> str:
        """Retries (same line, so the same series) while the groups elect
        their leaders: REJECTED or UNKNOWN."""
        end = time.monotonic() + 15
        while True:
            r = self.call(line)
            if r.startswith(("OK ", "ERR ")) or time.monotonic() > end:
                return r
            time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[List[int]]:
    """Three kvhost.py processes, one host each, mutual TLS between them."""
    data = tmp_path_factory.mktemp("kv")
    dev_certificates(data / "certs", [1, 2, 3])
    raft = {i: free_port() for i in (1, 2, 3)}
    peers = ",".join(f"{i}=127.0.0.1:{p}" for i, p in raft.items())
    procs = [
        subprocess.Popen(
            [sys.executable, str(NODE), "--id", str(i), "--raft", f"127.0.0.1:{raft[i]}", "--peers", peers,
             "--certs", str(data / "certs"), "--data-dir", str(data / f"host{i}")],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2, 3)
    ]
    try:
        # "host <id> raft <addr> clients <port>"
        yield [int(p.stdout.readline().rsplit(" ", 1)[1]) for p in procs if p.stdout is not None]
    finally:
        for c in OPEN:
            c.close()
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
            if p.stdout is not None:
                p.stdout.close()


def test_put_get_on_every_host(ports: List[int]) -> None:
    a, b = Client(ports[0]), Client(ports[1])
    assert a.until_done("PUT 5 1 0 apple red") == "OK "
    assert b.until_done("PUT 6 1 0 apple green and ripe") == "OK red"
    for p in ports:
        assert Client(p).until_done("GET apple") == "OK green and ripe"
    assert a.until_done("GET nothing") == "OK "


def test_bad_requests_get_err(ports: List[int]) -> None:
    c = Client(ports[0])
    for bad in ["HELLO", "PUT 0 1 0 k v", "PUT 1 1 1 k v", "PUT x 1 0 k v", "PUT 1 1 0 k=x v", "PUT -1 1 0 k v"]:
        assert c.call(bad).startswith("ERR "), bad
    assert c.until_done("GET k") == "OK ", "nothing was applied"


def test_retried_put_applies_once(ports: List[int]) -> None:
    c = Client(ports[2])
    assert c.until_done("PUT 77 1 0 n 1") == "OK "
    # The same series again (a retry after a lost reply), even on another
    # host, answers the first outcome and does not apply again.
    assert Client(ports[0]).call("PUT 77 1 0 n 1") == "OK "
    assert c.until_done("GET n") == "OK 1"
    assert c.call("PUT 77 2 1 n 2") == "OK 1"
    # A series the client already acknowledged is refused, not applied.
    assert c.call("PUT 77 1 0 n 3").startswith("REJECTED ")
    assert c.until_done("GET n") == "OK 2"


def test_no_leader_fails_fast(tmp_path: Path) -> None:
    """A host whose peers are all down answers REJECTED at once: no client
    waits out a deadline for a leader that does not exist."""
    dev_certificates(tmp_path / "certs", [1, 2, 3])
    peers = ",".join(f"{i}=127.0.0.1:{free_port()}" for i in (1, 2, 3))
    proc = subprocess.Popen(
        [sys.executable, str(NODE), "--id", "1", "--raft", peers.split(",")[0].split("=")[1], "--peers", peers,
         "--certs", str(tmp_path / "certs")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        c = Client(int(proc.stdout.readline().rsplit(" ", 1)[1]))
        for line in ["GET a", "PUT 3 1 0 a 1"]:
            start = time.monotonic()
            assert c.call(line).startswith("REJECTED "), line
            assert time.monotonic() - start < 0.5
        info = c.call("INFO 1")
        assert info.startswith("OK leader=0 ") and "voters=1,2,3" in info, info
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
