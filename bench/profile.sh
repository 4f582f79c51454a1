#!/bin/sh
# Instruction counts (callgrind) of one workload, for comparing runs on a
# noisy machine: bench/profile.sh BIN IMPL [child args...]
# Prints Ir per applied entry; the profile is left in /tmp/cg.IMPL.out.
set -e
bin=$1; imp=$2; shift 2
out=/tmp/cg.$imp.out
line=$(valgrind --tool=callgrind --callgrind-out-file=$out "$bin" child --impl "$imp" "$@" 2>/tmp/cg.$imp.err)
ir=$(grep -o 'refs: *[0-9,]*' /tmp/cg.$imp.err | tr -dc 0-9)
n=$(echo "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["applied"])')
echo "$imp $* Ir/entry $((ir / n))"
