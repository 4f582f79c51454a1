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

``--smoke``: every runner once at concurrency 1 and 64 for 1 s (TLS on
for one concurrency only), each probe once, W5 with 10 groups; fails
unless every JSON line is sane. Standard library only.
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
from typing import Any, Dict, List, Optional, Tuple

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
    def __init__(self, args: argparse.Namespace) -> None:
        self.a = args
        self.failures: List[str] = []
        self.runs: List[Dict[str, Any]] = []  # every W4 JSON line, tagged
        self.limits: Dict[str, float] = {}
        self.w5: List[Dict[str, Any]] = []
        os.makedirs(OUT_DIR, exist_ok=True)

    def tmpdir(self) -> str:
        return tempfile.mkdtemp(prefix="run-", dir=OUT_DIR)

    def contract(self, conc: int, tls: bool, d: str) -> List[str]:
        a = ["--concurrency", str(conc), "--duration", str(self.a.duration), "--size", "128", "--dir", d]
        a += ["--warmup", str(self.a.warmup)]
        return a + (["--tls"] if tls else [])

    def run_one(self, name: str, cmd: List[str], conc: int, tls: bool) -> Optional[Dict[str, Any]]:
        d = self.tmpdir()
        try:
            timeout = 120 + 3 * (self.a.duration + self.a.warmup)
            rec, err = run_json(cmd + self.contract(conc, tls, d), timeout, f"{name} c={conc}{' tls' if tls else ''}")
        finally:
            shutil.rmtree(d, ignore_errors=True)
        if rec is None:
            self.failures.append(err)
            log(f"  FAILED {err}")
            return None
        bad = sane(rec, conc)
        if bad:
            self.failures.append(f"{name} c={conc}: " + "; ".join(bad) + f": {json.dumps(rec)}")
            log(f"  FAILED {name} c={conc}: {'; '.join(bad)}")
        return rec

    # -- references

    def refs(self) -> Tuple[List[str], List[str]]:
        """(runners, probes) among the reference executables."""
        d = self.a.refs or REFS_BIN
        if not self.a.refs and not self.listing(d):
            if os.path.exists(INSTALL_REFS):
                log(f"references missing: running {os.path.relpath(INSTALL_REFS, ROOT)}")
                r = subprocess.run(["sh", INSTALL_REFS], cwd=ROOT)
                if r.returncode != 0:
                    self.failures.append(f"install-refs.sh exited {r.returncode}")
            else:
                log(f"references: {os.path.relpath(INSTALL_REFS, ROOT)} is not there yet: reference and limit rows are skipped")
                return [], []
        files = self.listing(d)
        if not files:
            log(f"references: nothing executable in {d}: reference and limit rows are skipped")
        probes = [f for f in files if is_probe(f)]
        return [f for f in files if f not in probes], probes

    @staticmethod
    def listing(d: str) -> List[str]:
        if not os.path.isdir(d):
            return []
        out = []
        for n in sorted(os.listdir(d)):
            p = os.path.join(d, n)
            if os.path.isfile(p) and os.access(p, os.X_OK) and not n.startswith("."):
                out.append(p)
        return out

    def probe(self, path: str) -> None:
        """A limit probe prints JSON lines with a name and a rate or a time:
        ``{"limit": "fdatasync", "per_s": X, "ms": Y}`` (either field)."""
        d = self.tmpdir()
        secs = "1" if self.a.smoke else "5"
        try:
            p = subprocess.run([path, "--duration", secs, "--dir", d], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.failures.append(f"probe {os.path.basename(path)}: {e}")
            return
        finally:
            shutil.rmtree(d, ignore_errors=True)
        got = 0
        for line in p.stdout.splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue
            name = str(r.get("limit") or r.get("probe") or r.get("name") or os.path.basename(path))
            per_s = r.get("per_s") or r.get("ops_per_s") or r.get("rate")
            ms = r.get("ms") or r.get("mean_ms") or r.get("p50_ms")
            if per_s is None and ms:
                per_s = 1000.0 / ms
            if ms is None and per_s:
                ms = 1000.0 / per_s
            if per_s and ms:
                self.limits[limit_key(name)] = float(ms)
                self.limits[limit_key(name) + "/s"] = float(per_s)
                got += 1
                log(f"  limit {name}: {per_s:,.0f}/s, {ms:.3f} ms")
        if p.returncode != 0 or got == 0:
            self.failures.append(f"probe {os.path.basename(path)}: exit {p.returncode}, no limit line; {p.stderr[-500:]}")

    # -- the plan

    def concurrencies(self) -> List[int]:
        return [1, 64] if self.a.smoke else [1, 64, 1024]

    def selected(self, name: str) -> bool:
        return not self.a.only or any(o in name for o in self.a.only.split(","))

    def w4(self) -> None:
        ref_runners, probes = self.refs()
        for p in probes:
            if self.selected(os.path.basename(p)):
                log(f"probe {os.path.basename(p)}")
                self.probe(p)
        for conc in self.concurrencies():
            log(f"W4 concurrency {conc}")
            for lang, cmd in POLYRAFT.items():
                if not self.selected(lang):
                    continue
                if not os.path.exists(cmd[0]):
                    self.failures.append(f"{lang}: {cmd[0]} is not built")
                    log(f"  FAILED {lang}: {cmd[0]} is not built")
                    continue
                tls_modes = [False, True] if not self.a.smoke or conc == 64 else [False]
                for tls in tls_modes:
                    rec = self.run_one(lang + ("-tls" if tls else ""), cmd, conc, tls)
                    if rec is not None:
                        rec.update(_lang=lang, _tls=tls, _ref=False)
                        self.runs.append(rec)
            for path in ref_runners:
                name = os.path.basename(path)
                if not self.selected(name):
                    continue
                rec = self.run_one(name, [path], conc, False)
                if rec is not None:
                    rec.update(_lang="", _tls=False, _ref=True)
                    self.runs.append(rec)

    def w5(self) -> None:
        cmd = POLYRAFT["rust"]
        if not self.selected("w5") or not os.path.exists(cmd[0]):
            return
        plan = [(10, 1.0, 1.0)] if self.a.smoke else [(g, self.a.duration, 10.0) for g in (1, 100, 1000, 10000)]
        conc = 64 if self.a.smoke else 1024
        for groups, dur, idle in plan:
            log(f"W5 groups {groups}")
            d = self.tmpdir()
            args = ["--concurrency", str(conc), "--duration", str(dur), "--size", "128", "--dir", d,
                    "--warmup", str(self.a.warmup), "--groups", str(groups), "--idle", str(idle)]
            try:
                rec, err = run_json(cmd + args, 600 + 3 * dur, f"w5 G={groups}")
            finally:
                shutil.rmtree(d, ignore_errors=True)
            if rec is None:
                self.failures.append(err)
                log(f"  FAILED {err}")
                continue
            bad = sane(rec, conc)
            if rec.get("groups") != groups or "idle_cpu_pct" not in rec or "rss_per_group_kib" not in rec:
                bad.append("groups, idle_cpu_pct or rss_per_group_kib missing")
            if bad:
                self.failures.append(f"w5 G={groups}: " + "; ".join(bad))
            log(f"    idle: {rec.get('idle_cpu_pct', 0):.3f} % of a core per host (max {rec.get('idle_cpu_pct_max', 0):.3f}), "
                f"{rec.get('rss_per_group_kib', 0):.2f} KiB per group")
            self.w5.append(rec)

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
        for k, val in sorted(self.limits.items()):
            row("W4", "machine", k if k.endswith("/s") else k + " ms", None, "limit", val)
        floor = self.latency_floor()
        if floor:
            for r in mine:
                if r["concurrency"] == 1:
                    row("W4", f"C=1 {r['variant']}", "p50 ms vs fdatasync + RTT", r["p50_ms"], "limit", floor)
        # W5: throughput against one group, idle cost against the targets.
        base = next((w["writes_per_s"] for w in self.w5 if w["groups"] == 1), None)
        for w in self.w5:
            v = f"G={w['groups']} C={w['concurrency']}"
            row("W5", v, "writes/s vs G=1", w["writes_per_s"], "limit", base)
            row("W5", v, "p99 ms", w["p99_ms"], "limit", None)
            row("W5", f"G={w['groups']} idle", "CPU % of a core per host (max)", w["idle_cpu_pct_max"], "limit", 2.0)
            row("W5", f"G={w['groups']} idle", "RSS KiB per group", w["rss_per_group_kib"], "limit", 16.0)
        return rows

    def latency_floor(self) -> Optional[float]:
        fs = next((v for k, v in self.limits.items() if "sync" in k and not k.endswith("/s")), None)
        rtt = next((v for k, v in self.limits.items() if ("rtt" in k or "round" in k or "loopback" in k) and not k.endswith("/s")), None)
        return fs + rtt if fs is not None and rtt is not None else None

    # -- targets

    def targets(self) -> List[Tuple[str, str, str]]:
        """(target, measured, verdict) for each of the issue's targets."""
        out = []

        def best(lib: str, conc: int) -> Optional[Dict[str, Any]]:
            c = [r for r in self.runs if r["_ref"] and r["library"] == lib and r["concurrency"] == conc]
            return max(c, key=lambda r: r["writes_per_s"]) if c else None

        def ours(lang: str, conc: int, tls: bool = False) -> Optional[Dict[str, Any]]:
            return next((r for r in self.runs if r["_lang"] == lang and r["_tls"] == tls and r["concurrency"] == conc), None)

        top = max(self.concurrencies())
        for lib, need, langs in (("hashicorp-raft", 5, ("rust", "c", "go")), ("canonical-raft", 3, ("rust", "c", "go")),
                                 ("pysyncobj", 10, ("python",))):
            ref = best(lib, top)
            for lang in langs:
                r = ours(lang, top)
                if ref is None or r is None:
                    out.append((f"W4 C={top} {LANG_NAME[lang]} >= {need}x {lib}", "not measured", "-"))
                    continue
                x = r["writes_per_s"] / ref["writes_per_s"]
                out.append((f"W4 C={top} {LANG_NAME[lang]} >= {need}x {lib} (its fastest variant)",
                            f"{r['writes_per_s']:,.0f} vs {ref['writes_per_s']:,.0f} ({ref['variant']}): {x:.2f}x",
                            "met" if x >= need else "NOT met"))
        floor = self.latency_floor()
        for lang in POLYRAFT:
            r = ours(lang, 1)
            if r is None or floor is None:
                out.append((f"W4 C=1 {LANG_NAME[lang]} p50 <= 2x (fdatasync + RTT)", "not measured", "-"))
                continue
            x = r["p50_ms"] / floor
            out.append((f"W4 C=1 {LANG_NAME[lang]} p50 <= 2x (fdatasync + RTT)",
                        f"{r['p50_ms']:.3f} ms vs {floor:.3f} ms: {x:.2f}x", "met" if x <= 2 else "NOT met"))
        by_g = {w["groups"]: w for w in self.w5}
        if 1 in by_g and 1000 in by_g:
            x = by_g[1000]["writes_per_s"] / by_g[1]["writes_per_s"]
            out.append(("W5 writes/s at 1,000 groups >= at 1 group",
                        f"{by_g[1000]['writes_per_s']:,.0f} vs {by_g[1]['writes_per_s']:,.0f}: {x:.2f}x", "met" if x >= 1 else "NOT met"))
        big = by_g.get(10000) or (by_g[max(by_g)] if by_g else None)
        if big is not None:
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


def is_probe(path: str) -> bool:
    n = os.path.basename(path).lower()
    return any(w in n for w in ("probe", "limit", "fdatasync", "fsync", "rtt", "loopback"))


def limit_key(name: str) -> str:
    n = name.lower()
    if "sync" in n:
        return "fdatasync"
    if "rtt" in n or "round" in n or "loopback" in n or "ping" in n:
        return "loopback RTT"
    return n


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
        print(f"bench-host-smoke: {len(d.runs)} runs and {len(d.w5)} W5 runs sane")
    return 0


if __name__ == "__main__":
    sys.exit(main())
