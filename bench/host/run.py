#!/usr/bin/env python3
"""W4 and W5 (bench/README.md, "W4/W5: the host end to end"): the polyraft
host end to end, side by side with hashicorp/raft, canonical/raft and
PySyncObj in one run, plus the machine's limits and many-group scaling.

    python3 bench/host/run.py [--smoke] [--out FILE] [--duration S] [--only NAMES]

Every runner is one command that starts a 3-process cluster on loopback,
runs closed-loop clients and prints one JSON line (bench/README.md gives
the contract). This driver runs every runner at every concurrency (the
polyraft ones with TLS off and on), the limit probes and W5, then writes
the rows (the keys of bench/results.json) to bench/results-host.json and
prints them as a table, followed by the issue's targets.

The references come from bench/host/install-refs.sh (run here when
bench/host/refs/bin is missing or empty); without it, reference rows are
skipped with a message. ``--refs DIR`` takes them from another directory
(e.g. a fake reference, to test this driver).

``--smoke``: 1 s runs: each polyraft runner at concurrency 1 (TLS off)
and 64 (TLS on), each reference's defaults at 64, the probes at 1, W5 with
10 groups; fails unless every JSON line is sane. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Set, Tuple

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(ROOT, "target", "bench-host")
REFS_BIN = os.path.join(ROOT, "bench", "host", "refs", "bin")
INSTALL_REFS = os.path.join(ROOT, "bench", "host", "install-refs.sh")

#: The polyraft runners: name -> command (before the contract's arguments).
POLYRAFT = {
    "rust": [os.path.join(ROOT, "target", "release", "examples", "bench_host")],
    "c": [os.path.join(OUT_DIR, "w4-c")],
    "python": [os.path.join(ROOT, "target", "w3", "venv-py", "bin", "python"), os.path.join(ROOT, "bench", "host", "py", "w4.py")],
    "go": [os.path.join(OUT_DIR, "w4-go")],
}
LANG_NAME = {"rust": "Rust", "c": "C", "python": "Python", "go": "Go"}

#: The reference runners (bench/host/refs/README.md): executable in the
#: refs directory, and the options of each variant run.
REFERENCES: List[Tuple[str, List[str]]] = [
    ("hashicorp-raft", []),
    ("canonical-raft", []),
    ("canonical-raft", ["--snapshot-threshold", "65536"]),
    ("pysyncobj", []),
    ("pysyncobj", ["--append-entries-use-batch=false"]),
]
#: The machine-limit probes (the same contract; library "limit"): durable
#: appends and loopback round trips, and at concurrency 1 only the two
#: informative disk paths (a preallocated file; O_DIRECT|O_DSYNC blocks).
LIMITS: List[Tuple[str, List[str]]] = [
    ("limits", ["--mode", "fdatasync"]),
    ("limits", ["--mode", "loopback-rtt"]),
    ("limits", ["--mode", "fdatasync-prealloc"]),
    ("limits", ["--mode", "odirect-dsync"]),
]
#: The probes run at concurrency 1 only.
LIMITS_C1_ONLY = ("fdatasync-prealloc", "odirect-dsync")
REF_NAMES = sorted({n for n, _ in REFERENCES + LIMITS})

#: Which polyraft runners are compared with which reference library.
PAIRS = {
    "hashicorp-raft": ("rust", "c", "go"),
    "canonical-raft": ("rust", "c", "go"),
    "pysyncobj": ("python",),
}

KEYS = ("library", "variant", "concurrency", "writes", "seconds", "writes_per_s", "p50_ms", "p99_ms", "p999_ms", "cpu_s", "fsync")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- running


def run_json(cmd: List[str], timeout: float, what: str) -> Tuple[Optional[Dict[str, Any]], str]:
    """Runs one runner; returns its last JSON line (or None) and an error."""
    t = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        tail = (e.stderr or b"")[-2000:]
        return None, f"{what}: timed out after {timeout:.0f} s; stderr: {tail!r}"
    except OSError as e:
        return None, f"{what}: cannot run {cmd[0]}: {e}"
    lines = [line for line in p.stdout.splitlines() if line.strip().startswith("{")]
    if p.returncode != 0 or not lines:
        return None, f"{what}: exit {p.returncode}; stderr: {p.stderr[-2000:].strip()}"
    try:
        rec = json.loads(lines[-1])
    except ValueError as e:
        return None, f"{what}: not JSON ({e}): {lines[-1][:200]}"
    log(f"  {what}: {fmt_run(rec)} ({time.monotonic() - t:.0f} s)")
    return rec, ""


def fmt_run(r: Dict[str, Any]) -> str:
    return (
        f"{r.get('writes_per_s', 0):,.0f} writes/s, p50 {r.get('p50_ms', 0):.2f} ms, p99 {r.get('p99_ms', 0):.2f} ms, "
        f"p99.9 {r.get('p999_ms', 0):.2f} ms, cpu {r.get('cpu_s', 0):.2f} s"
    )


def sane(r: Dict[str, Any], conc: int) -> List[str]:
    """What is wrong with a runner's JSON line (empty: nothing)."""
    bad = [f"missing {k}" for k in KEYS if k not in r]
    if bad:
        return bad
    num = lambda k: isinstance(r[k], (int, float)) and not isinstance(r[k], bool)  # noqa: E731
    bad += [f"{k} is not a number" for k in KEYS[2:10] if not num(k)]
    if bad:
        return bad
    if r["concurrency"] != conc:
        bad.append(f"concurrency {r['concurrency']} != {conc}")
    if r["writes"] <= 0 or r["seconds"] <= 0:
        bad.append("no writes in the window")
    elif abs(r["writes_per_s"] - r["writes"] / r["seconds"]) > 0.02 * r["writes_per_s"] + 1:
        bad.append("writes_per_s != writes / seconds")
    if not 0 < r["p50_ms"] <= r["p99_ms"] <= r["p999_ms"]:
        bad.append("latency quantiles not 0 < p50 <= p99 <= p99.9")
    if r["cpu_s"] < 0:
        bad.append("negative cpu_s")
    if not isinstance(r["fsync"], bool):
        bad.append("fsync is not a boolean")
    if r.get("errors", 0) > 0:
        bad.append(f"{r['errors']} failed proposals")
    return bad


class Driver:
    """Runs the plan and keeps every result."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.a = args
        self.failures: List[str] = []
        self.runs: List[Dict[str, Any]] = []  # W4 JSON lines of polyraft and the references, tagged
        self.limits: List[Dict[str, Any]] = []  # the limit probes' JSON lines
        self.w5_runs: List[Dict[str, Any]] = []
        self.missing: Set[str] = set()
        self.refs: Optional[str] = None
        os.makedirs(OUT_DIR, exist_ok=True)

    def tmpdir(self) -> str:
        # Under target/: on the real disk (not a tmpfs), so fsync means something.
        return tempfile.mkdtemp(prefix="run-", dir=OUT_DIR)

    def fail(self, what: str) -> None:
        self.failures.append(what)
        log(f"  FAILED {what}")

    def run_one(self, name: str, cmd: List[str], conc: int, extra: List[str]) -> Optional[Dict[str, Any]]:
        """One runner at one concurrency; its JSON line if it is sane."""
        d = self.tmpdir()
        args = ["--concurrency", str(conc), "--duration", str(self.a.duration), "--size", "128", "--dir", d,
                "--warmup", str(self.a.warmup)] + extra
        try:
            timeout = 180 + 3 * (self.a.duration + self.a.warmup)
            rec, err = run_json(cmd + args, timeout, f"{name} C={conc}")
        finally:
            shutil.rmtree(d, ignore_errors=True)
        if rec is None:
            self.fail(err)
            return None
        bad = sane(rec, conc)
        if bad:
            self.fail(f"{name} C={conc}: " + "; ".join(bad) + f": {json.dumps(rec)}")
            return None
        return rec

    def selected(self, name: str) -> bool:
        return not self.a.only or any(o in name for o in self.a.only.split(","))

    # -- references

    def find_refs(self) -> Optional[str]:
        """Where the reference runners are, installing them when missing;
        None when they cannot be had."""
        if self.a.refs:
            return self.a.refs
        if all(os.access(os.path.join(REFS_BIN, n), os.X_OK) for n in REF_NAMES):
            return REFS_BIN
        if not os.path.exists(INSTALL_REFS):
            log(f"references: {os.path.relpath(INSTALL_REFS, ROOT)} is not there (yet): reference and limit rows are skipped")
            return None
        log(f"references missing: running {os.path.relpath(INSTALL_REFS, ROOT)}")
        if subprocess.run(["bash", INSTALL_REFS], cwd=ROOT).returncode != 0:
            self.fail("bench/host/install-refs.sh failed: the reference runners that are missing are skipped")
        return REFS_BIN

    def reference_plan(self, conc: int) -> List[Tuple[str, List[str]]]:
        """(label, command) of every reference and probe run at `conc`."""
        if self.refs is None:
            return []
        out = []
        for name, extra in REFERENCES + LIMITS:
            # The smoke run: each reference's defaults at concurrency 64, the probes at 1.
            probe = name == "limits"
            if probe and extra[-1] in LIMITS_C1_ONLY and (conc != 1 or self.a.smoke):
                continue
            if self.a.smoke and (conc != 1 if probe else (extra or conc == 1)):
                continue
            label = " ".join([name] + extra)
            path = os.path.join(self.refs, name)
            if not self.selected(label):
                continue
            if not os.access(path, os.X_OK):
                if label not in self.missing:
                    self.missing.add(label)
                    log(f"references: {path} is missing: the rows of {label} are skipped")
                continue
            out.append((label, [path] + extra))
        return out

    # -- the plan

    def concurrencies(self) -> List[int]:
        return [1, 64] if self.a.smoke else [1, 64, 1024]

    def w4(self) -> None:
        self.refs = self.find_refs()
        for conc in self.concurrencies():
            log(f"W4 concurrency {conc}")
            for lang, cmd in POLYRAFT.items():
                if not self.selected(lang):
                    continue
                if not os.path.exists(cmd[0]):
                    self.fail(f"{lang}: {cmd[0]} is not built (make bench-host-build)")
                    continue
                # The smoke run: TLS off at concurrency 1, on at 64.
                for tls in [False, True] if not self.a.smoke else [conc == 64]:
                    rec = self.run_one(lang + ("-tls" if tls else ""), cmd, conc, ["--tls"] if tls else [])
                    if rec is not None:
                        rec.update(_lang=lang, _tls=tls, _ref=False)
                        self.runs.append(rec)
            for label, cmd in self.reference_plan(conc):
                rec = self.run_one(label, cmd, conc, [])
                if rec is None:
                    continue
                if rec["library"] == "limit":
                    self.limits.append(rec)
                else:
                    rec.update(_lang="", _tls=False, _ref=True)
                    self.runs.append(rec)

    def w5(self) -> None:
        cmd = POLYRAFT["rust"]
        if not self.selected("w5"):
            return
        if not os.path.exists(cmd[0]):
            self.fail(f"w5: {cmd[0]} is not built (make bench-host-build)")
            return
        if self.a.smoke:
            plan = [(10, 64, 1.0, 1.0)]
        else:
            plan = [(g, 1024, self.a.duration, 10.0) for g in (1, 100, 1000, 10000)]
        for groups, conc, dur, idle in plan:
            log(f"W5 groups {groups}")
            d = self.tmpdir()
            args = ["--concurrency", str(conc), "--duration", str(dur), "--size", "128", "--dir", d,
                    "--warmup", str(self.a.warmup), "--groups", str(groups), "--idle", str(idle)]
            try:
                rec, err = run_json(cmd + args, 900 + 3 * dur, f"w5 G={groups}")
            finally:
                shutil.rmtree(d, ignore_errors=True)
            if rec is None:
                self.fail(err)
                continue
            # Under W5's overload (10,000 groups, 1,024 clients, 2 cores) some
            # proposals are refused (dropped while a group elects): a
            # measured outcome, reported as its own row, not a broken run.
            # A run that lost most of its proposals is broken.
            refused = rec.get("errors", 0)
            if refused and refused * 2 < rec.get("writes", 0):
                log(f"    {refused} proposals refused (reported in the W5 rows)")
                rec = dict(rec, errors=0, refused=refused)
            bad = sane(rec, conc)
            if rec.get("groups") != groups or not all(k in rec for k in ("idle_cpu_pct", "idle_cpu_pct_max", "rss_per_group_kib")):
                bad.append("groups, idle_cpu_pct, idle_cpu_pct_max or rss_per_group_kib missing")
            if bad:
                self.fail(f"w5 G={groups}: " + "; ".join(bad) + f": {json.dumps(rec)}")
                continue
            log(f"    idle: {rec['idle_cpu_pct']:.3f} % of a core per host (max {rec['idle_cpu_pct_max']:.3f}), "
                f"{rec['rss_per_group_kib']:.2f} KiB per group")
            self.w5_runs.append(rec)

    # -- rows

    def rows(self) -> List[Dict[str, Any]]:
        rows: List[Dict[str, Any]] = []

        def row(workload: str, variant: str, metric: str, ours: Optional[float], ref: str, theirs: Optional[float]) -> None:
            ratio = ours / theirs if ours is not None and theirs else None
            rows.append({"workload": workload, "variant": variant, "metric": metric, "polyraft": ours,
                         "reference": ref, "reference_value": theirs, "ratio": ratio})

        mine = [r for r in self.runs if not r["_ref"]]
        refs = [r for r in self.runs if r["_ref"]]
        for r in mine:
            for ref in refs:
                if r["concurrency"] != ref["concurrency"] or r["_lang"] not in PAIRS.get(ref["library"], ()):
                    continue
                v = f"C={r['concurrency']} {r['variant']} vs {ref['variant']}" + ("" if ref["fsync"] else " (no fsync)")
                for metric, f in METRICS:
                    row("W4", v, metric, f(r), ref["library"], f(ref))
        # The machine's limits, and latency at concurrency 1 against them.
        for lim in self.limits:
            v = f"C={lim['concurrency']} machine"
            row("W4", v, f"{lim['variant']} /s", None, "limit", lim["writes_per_s"])
            row("W4", v, f"{lim['variant']} p50 ms", None, "limit", lim["p50_ms"])
        floor = self.latency_floor()
        if floor:
            for r in mine:
                if r["concurrency"] == 1:
                    row("W4", f"C=1 {r['variant']}", "p50 ms vs fdatasync + RTT", r["p50_ms"], "limit", floor)
        # W5: throughput against one group, idle cost against the targets.
        base = next((w["writes_per_s"] for w in self.w5_runs if w["groups"] == 1), None)
        for w in self.w5_runs:
            v = f"G={w['groups']} C={w['concurrency']}"
            row("W5", v, "writes/s vs G=1", w["writes_per_s"], "limit", base)
            row("W5", v, "p99 ms", w["p99_ms"], "limit", None)
            row("W5", v, "CPU s per 1k writes", 1000.0 * w["cpu_s"] / w["writes"], "limit", None)
            row("W5", v, "proposals refused", w.get("refused", 0), "limit", None)
            row("W5", f"G={w['groups']} idle", "CPU % of a core per host (max)", w["idle_cpu_pct_max"], "limit", 2.0)
            row("W5", f"G={w['groups']} idle", "RSS KiB per group", w["rss_per_group_kib"], "limit", 16.0)
        return rows

    def latency_floor(self) -> Optional[float]:
        """One fdatasync'ed append plus one loopback round trip (the p50 of
        each at concurrency 1), in ms."""
        p50 = {lim["variant"]: lim["p50_ms"] for lim in self.limits if lim["concurrency"] == 1}
        if "fdatasync" in p50 and "loopback-rtt" in p50:
            return float(p50["fdatasync"] + p50["loopback-rtt"])
        return None

    # -- targets

    def targets(self) -> List[Tuple[str, str, str]]:
        """(target, measured, verdict) for each of the issue's targets."""
        out = []
        top = max(self.concurrencies())

        def best(lib: str) -> Optional[Dict[str, Any]]:
            c = [r for r in self.runs if r["_ref"] and r["library"] == lib and r["concurrency"] == top]
            return max(c, key=lambda r: r["writes_per_s"]) if c else None

        def ours(lang: str, conc: int) -> Optional[Dict[str, Any]]:
            return next((r for r in self.runs if r["_lang"] == lang and not r["_tls"] and r["concurrency"] == conc), None)

        for lib, need in (("hashicorp-raft", 5), ("canonical-raft", 3), ("pysyncobj", 10)):
            ref = best(lib)
            for lang in PAIRS[lib]:
                name = f"W4 C={top} {LANG_NAME[lang]} >= {need}x {lib} (its fastest variant)"
                r = ours(lang, top)
                if ref is None or r is None:
                    out.append((name, "not measured", "-"))
                    continue
                x = r["writes_per_s"] / ref["writes_per_s"]
                out.append((name, f"{r['writes_per_s']:,.0f} vs {ref['writes_per_s']:,.0f} ({ref['variant']}): {x:.2f}x",
                            "met" if x >= need else "NOT met"))
        floor = self.latency_floor()
        for lang in POLYRAFT:
            name = f"W4 C=1 {LANG_NAME[lang]} p50 <= 2x (fdatasync + loopback RTT)"
            r = ours(lang, 1)
            if r is None or floor is None:
                out.append((name, "not measured", "-"))
                continue
            x = r["p50_ms"] / floor
            out.append((name, f"{r['p50_ms']:.3f} ms vs {floor:.3f} ms: {x:.2f}x", "met" if x <= 2 else "NOT met"))
        by_g = {w["groups"]: w for w in self.w5_runs}
        if 1 in by_g and 1000 in by_g:
            x = by_g[1000]["writes_per_s"] / by_g[1]["writes_per_s"]
            out.append(("W5 writes/s at 1,000 groups >= at 1 group",
                        f"{by_g[1000]['writes_per_s']:,.0f} vs {by_g[1]['writes_per_s']:,.0f}: {x:.2f}x", "met" if x >= 1 else "NOT met"))
        if by_g:
            big = by_g[max(by_g)]
            g = big["groups"]
            out.append((f"W5 {g:,} idle groups < 2% of one core (per host, max of 3)",
                        f"{big['idle_cpu_pct_max']:.3f} %", "met" if big["idle_cpu_pct_max"] < 2 else "NOT met"))
            out.append((f"W5 {g:,} idle groups < 16 KiB per group", f"{big['rss_per_group_kib']:.2f} KiB",
                        "met" if big["rss_per_group_kib"] < 16 else "NOT met"))
        return out

METRICS = (
    ("writes/s", lambda r: r["writes_per_s"]),
    ("p50 ms", lambda r: r["p50_ms"]),
    ("p99 ms", lambda r: r["p99_ms"]),
    ("p99.9 ms", lambda r: r["p999_ms"]),
    ("CPU s per 1k writes", lambda r: 1000.0 * r["cpu_s"] / r["writes"] if r["writes"] else None),
)


def num(v: Optional[float]) -> str:
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.2f}M"
    if a >= 1e4:
        return f"{v / 1e3:.1f}k"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.4f}"


def print_table(rows: List[Dict[str, Any]], runs: List[Dict[str, Any]], targets: List[Tuple[str, str, str]]) -> None:
    print("runs (one line per runner and concurrency):")
    print(f"{'library':<16} {'variant':<28} {'conc':>5} {'writes/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'CPU s/1k':>9} fsync")
    for r in sorted(runs, key=lambda r: (r["concurrency"], r["_ref"], r["library"], r["variant"])):
        cpu = 1000.0 * r["cpu_s"] / r["writes"] if r["writes"] else None
        print(f"{r['library']:<16} {r['variant']:<28} {r['concurrency']:>5} {num(r['writes_per_s']):>10} {num(r['p50_ms']):>8} "
              f"{num(r['p99_ms']):>8} {num(r['p999_ms']):>9} {num(cpu):>9} {'yes' if r['fsync'] else 'NO'}")
    print()
    print(f"{'workload':<8} {'variant':<46} {'metric':<32} {'polyraft':>9} {'reference':<15} {'ref value':>9} {'ratio':>7}")
    for r in rows:
        print(f"{r['workload']:<8} {r['variant']:<46} {r['metric']:<32} {num(r['polyraft']):>9} {r['reference']:<15} "
              f"{num(r['reference_value']):>9} {num(r['ratio']):>7}")
    print("(writes/s: higher is better; ms, CPU, KiB: lower is better; ratio = polyraft / reference)")
    print()
    print("targets:")
    for t, m, v in targets:
        print(f"  {v:<8} {t}: {m}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny runs; fail unless every JSON line is sane")
    ap.add_argument("--out", help="rows as JSON (default bench/results-host.json; smoke: target/bench-host/results-smoke.json)")
    ap.add_argument("--duration", type=float, help="measured seconds per run (default 10; smoke 1)")
    ap.add_argument("--warmup", type=float, help="seconds before the window (default 2; smoke 0.5)")
    ap.add_argument("--refs", help="directory of reference runners and probes (default bench/host/refs/bin)")
    ap.add_argument("--only", help="comma-separated substrings: run only the runners (rust, c, go, python, reference names, w5) that match")
    a = ap.parse_args()
    a.duration = a.duration or (1.0 if a.smoke else 10.0)
    a.warmup = a.warmup if a.warmup is not None else (0.5 if a.smoke else 2.0)
    out = a.out or (os.path.join(OUT_DIR, "results-smoke.json") if a.smoke else os.path.join(ROOT, "bench", "results-host.json"))
    t = time.monotonic()
    d = Driver(a)
    d.w4()
    d.w5()
    rows = d.rows()
    targets = d.targets()
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)
        f.write("\n")
    print_table(rows, d.runs, targets)
    print(f"\nrows written to {os.path.relpath(out, ROOT)}; {time.monotonic() - t:.0f} s")
    if d.failures:
        print(f"\n{len(d.failures)} FAILED:")
        for f in d.failures:
            print(f"  {f}")
        return 1
    if a.smoke:
        print(f"bench-host-smoke: {len(d.runs)} runs and {len(d.w5_runs)} W5 runs sane")
    return 0


if __name__ == "__main__":
    sys.exit(main())
