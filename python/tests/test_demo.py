"""`make demo` end to end: examples/kv/demo.py starts three kvnode.py
processes on DurableStorage, kills the leader, restarts it and checks the
catch-up. It exits 0 only if every step worked."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

DEMO = pathlib.Path(__file__).resolve().parent.parent.parent / "examples" / "kv" / "demo.py"


def test_demo_runs_end_to_end() -> None:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, str(DEMO), "--timeout", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        timeout=58,
    )
    out = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, out
    for step in [
        "leader elected: node",
        "via ReadIndex",
        "with SIGKILL",
        "new leader: node",
        "all 5 keys survived",
        "restarted node",
        "caught up through",  # a snapshot, unless leadership moved at a bad moment
        "demo OK",
    ]:
        assert step in out, f"missing {step!r} in:\n{out}"
