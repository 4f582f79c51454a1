"""examples/kv-host/kvhost.py as a process: its client protocol tells OK
from rejected, and a retried put (same client and seq) applies once."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

OPEN: List["Client"] = []
NODE = Path(__file__).resolve().parents[2] / "examples" / "kv-host" / "kvhost.py"


class Client:
    """A connection to one host's client port (closed by the fixture)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rwb")
        OPEN.append(self)

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def call(self, **req: Any) -> Dict[str, Any]:
        self.file.write(json.dumps(req).encode() + b"\n")
        self.file.flush()
        reply: Dict[str, Any] = json.loads(self.file.readline())
        return reply

    def until_ok(self, **req: Any) -> Dict[str, Any]:
        """Retries while the groups elect their leaders (rejected)."""
        end = time.monotonic() + 15
        while True:
            r = self.call(**req)
            if r["status"] == "ok" or time.monotonic() > end:
                return r
            time.sleep(0.05)


@pytest.fixture(scope="module")
def ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[List[int]]:
    data = tmp_path_factory.mktemp("kv")
    proc = subprocess.Popen(
        [sys.executable, str(NODE), "--port", "0", "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        found = [int(proc.stdout.readline().rsplit(" ", 1)[1]) for _ in range(3)]
        yield found
    finally:
        for c in OPEN:
            c.close()
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_put_get_and_status(ports: List[int]) -> None:
    a, b = Client(ports[0]), Client(ports[1])
    assert a.until_ok(op="put", key="apple", value="red") == {"status": "ok", "value": ""}
    assert b.until_ok(op="put", key="apple", value="green") == {"status": "ok", "value": "red"}
    for p in ports:
        assert Client(p).until_ok(op="get", key="apple") == {"status": "ok", "value": "green"}
    st = a.call(op="status")
    assert st["status"] == "ok" and st["host"] == 1 and len(st["leaders"]) == 16
    assert a.call(op="nope")["status"] == "rejected"
    a.file.write(b"not json\n")
    a.file.flush()
    assert json.loads(a.file.readline())["status"] == "rejected"


def test_retried_put_applies_once(ports: List[int]) -> None:
    c = Client(ports[2])
    assert c.until_ok(op="put", key="n", value="1", client=77, seq=1)["value"] == ""
    # The same seq again (a retry after a lost reply) answers the first
    # outcome and does not apply again.
    assert c.call(op="put", key="n", value="2", client=77, seq=1) == {"status": "ok", "value": ""}
    assert c.until_ok(op="get", key="n")["value"] == "1"
    assert c.call(op="put", key="n", value="3", client=77, seq=2) == {"status": "ok", "value": "1"}
    assert c.call(op="put", key="n", value="4", client=77, seq=1)["status"] == "rejected"
