#!/bin/sh
# Noise-free companion to `make bench`: instructions (callgrind) per applied
# entry for the W1 headline variants and per W2 cycle, polyraft and raft-rs
# side by side. Usage: bench/ir.sh BIN [N]
set -e
bin=$1; n=${2:-50000}
dir=$(dirname "$0")
printf '%-44s %12s %12s %7s\n' "variant" "polyraft" "raft-rs" "ratio"
run() {
    label=$1; shift
    a=$("$dir/profile.sh" "$bin" polyraft "$@" | awk '{print $NF}')
    b=$("$dir/profile.sh" "$bin" raftrs "$@" | awk '{print $NF}')
    printf '%-44s %12s %12s %7s\n' "$label" "$a" "$b" "$(awk "BEGIN{printf \"%.2f\", $b/$a}")"
}
# Batched appends are on for both libraries (the child's default); the
# first line shows the per-entry run without them, etcd's message shape.
run "W1 B=64 P=128 per-entry, no batch_append" --w W1 --n "$n" --batch-append 0
run "W1 B=64 P=128 per-entry" --w W1 --n "$n"
run "W1 B=64 P=128 batch" --w W1 --n "$n" --mode batch
run "W1 B=64 P=128 per-entry wire" --w W1 --n "$n" --wire 1
run "W1 B=64 P=128 batch wire" --w W1 --n "$n" --mode batch --wire 1
run "W2 3 voters (per cycle)" --w W2 --voters 3 --n 20000
echo "(instructions per entry or cycle; ratio = raft-rs / polyraft, higher is better for polyraft)"
