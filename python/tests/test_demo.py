"""`make demo` end to end: examples/kv-host/kvdemo.py starts three kvhost.py
processes (one host each, mutual TLS, 16 groups), kills the busiest leader,
restarts it (catch-up by snapshot) and moves a replica of group 1 to a
fourth host. It exits 0 only if every step worked."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

DEMO = pathlib.Path(__file__).resolve().parent.parent.parent / "examples" / "kv-host" / "kvdemo.py"


def test_demo_runs_end_to_end() -> None:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, str(DEMO), "--timeout", "55"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        timeout=60,
    )
    out = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, out
    for step in [
        "mutual TLS",
        "all 16 groups elected a leader",
        "every host reads every key back",
        "applied once",
        "paused host",
        "SIGKILLed host",
        "took writes again",
        "were compacted behind snapshots",
        "snapshots installed",
        "membership: host 4 joined group 1",
        "demo OK",
    ]:
        assert step in out, f"missing {step!r} in:\n{out}"
