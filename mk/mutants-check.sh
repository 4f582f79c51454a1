#!/bin/sh
# Judges a cargo-mutants run (mk/mutants.mk): prints caught, missed, timed
# out, unviable and equivalent counts per file, and fails when a missed
# mutant is not listed in core/mutants-equivalent.txt.
#
# usage: mutants-check.sh OUTPUT_DIR/mutants.out CARGO_MUTANTS_EXIT_CODE
#
# cargo-mutants exits 0 (all caught), 2 (some missed), 3 (some timed out);
# anything else (a usage error, a failing baseline) fails here as it is.
# A timed-out mutant counts as caught: the suite noticed it looping.
# Mutants are matched by their full name, line:column included: names
# without it are ambiguous (two `>` in one function). When a file changes
# above a listed mutant, the mutant shows up as missed again and its line in
# the list must be updated: a stale entry fails, it never hides a mutant.
set -eu
out=$1
rc=$2
equivalent=${MUTANTS_EQUIVALENT:-core/mutants-equivalent.txt}
case $rc in 0|2|3) ;; *) echo "cargo-mutants failed (exit $rc); see $out/log" >&2; exit "$rc" ;; esac
[ -d "$out" ] || { echo "no results in $out" >&2; exit 1; }

names() { cat "$@" 2>/dev/null || true; }
known=$(mktemp)
trap 'rm -f "$known"' EXIT
grep -v '^#' "$equivalent" | grep -v '^[[:space:]]*$' | sed 's/  ::  .*//' | sort -u > "$known"

# One line per mutant: outcome<TAB>file<TAB>mutant.
for o in caught missed timeout unviable; do
  names "$out/$o.txt" | while IFS= read -r m; do
    if [ "$o" = missed ] && grep -qxF "$m" "$known"; then o2=equivalent; else o2=$o; fi
    printf '%s\t%s\t%s\n' "$o2" "${m%%:*}" "$m"
  done
done | awk -F'\t' '
  { n[$2 SUBSEP $1]++; files[$2] = 1; tot[$1]++; if ($1 == "missed") miss[++nm] = $3 }
  END {
    printf "%-34s %7s %7s %8s %9s %11s\n", "file", "caught", "missed", "timeout", "unviable", "equivalent"
    for (f in files) printf "%-34s %7d %7d %8d %9d %11d\n", f, n[f SUBSEP "caught"], n[f SUBSEP "missed"], n[f SUBSEP "timeout"], n[f SUBSEP "unviable"], n[f SUBSEP "equivalent"] | "sort"
    close("sort")
    printf "%-34s %7d %7d %8d %9d %11d\n", "total", tot["caught"], tot["missed"], tot["timeout"], tot["unviable"], tot["equivalent"]
    for (i = 1; i <= nm; i++) print "MISSED (not listed as equivalent): " miss[i]
    exit nm > 0
  }'
