#!/usr/bin/env bash
# Runs every reference runner and both limit probes at each concurrency and checks that each
# prints one well-formed JSON line of the W4 contract. Prints the lines on stdout and ends
# with "check-refs: N passed, N failed". Run bench/host/install-refs.sh first.
#   usage: bench/host/refs/check.sh [DURATION_S] [CONCURRENCY...]   (default: 5 1 64 1024)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
BIN=bench/host/refs/bin
DURATION="${1:-5}"
shift || true
CONCS=("$@")
[ "${#CONCS[@]}" -gt 0 ] || CONCS=(1 64 1024)
SCRATCH="$(mktemp -d -p "${TMPDIR_REFS:-$PWD/target}" refs-check.XXXXXX 2>/dev/null || mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT

# name|command (without the common options)
RUNNERS=(
    "hashicorp-raft|$BIN/hashicorp-raft"
    "canonical-raft|$BIN/canonical-raft"
    "canonical-raft snapshot-threshold|$BIN/canonical-raft --snapshot-threshold 65536"
    "pysyncobj|$BIN/pysyncobj"
    "pysyncobj no-batch|$BIN/pysyncobj --append-entries-use-batch=false"
)
pass=0
fail=0
check_line() { # $1 = the output; validates the contract's keys and types
    python3 -c '
import json, sys
lines = sys.argv[1].strip().splitlines()
assert len(lines) == 1, "expected one line, got %d" % len(lines)
r = json.loads(lines[0])
keys = ["library", "variant", "concurrency", "writes", "seconds", "writes_per_s",
        "p50_ms", "p99_ms", "p999_ms", "cpu_s", "fsync"]
assert list(r) == keys, "keys %s" % list(r)
assert r["writes"] > 0 and r["seconds"] > 0 and r["writes_per_s"] > 0
assert 0 < r["p50_ms"] <= r["p99_ms"] <= r["p999_ms"]
assert r["cpu_s"] >= 0 and isinstance(r["fsync"], bool)
' "$1"
}
run() { # $1 = name, $2 = concurrency, rest = command
    local name="$1" c="$2" dir out
    shift 2
    dir="$(mktemp -d -p "$SCRATCH")"
    if out="$(timeout 300 "$@" --concurrency "$c" --duration "$DURATION" --size 128 --dir "$dir" \
        2>"$dir.stderr")" && check_line "$out"; then
        echo "$out"
        pass=$((pass + 1))
    else
        echo "check-refs: FAILED: $name at concurrency $c" >&2
        tail -5 "$dir.stderr" >&2
        fail=$((fail + 1))
    fi
    rm -rf "$dir" "$dir.stderr"
}
for r in "${RUNNERS[@]}"; do
    name="${r%%|*}"
    read -r -a cmd <<<"${r#*|}"
    for c in "${CONCS[@]}"; do
        run "$name" "$c" "${cmd[@]}"
    done
done
run "limit fdatasync" 1 "$BIN/limits" --mode fdatasync
run "limit fdatasync-prealloc" 1 "$BIN/limits" --mode fdatasync-prealloc
run "limit odirect-dsync" 1 "$BIN/limits" --mode odirect-dsync
run "limit loopback-rtt" 1 "$BIN/limits" --mode loopback-rtt
echo "check-refs: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
