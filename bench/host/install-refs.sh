#!/usr/bin/env bash
# Installs what W4's reference runners need and builds them into bench/host/refs/bin/:
#   hashicorp-raft  hashicorp/raft v1.7.2 + raft-boltdb/v2 v2.3.1 (Go module proxy, go.sum pinned)
#   canonical-raft  canonical/raft from Debian's libraft-dev, with libuv1-dev
#   pysyncobj       PySyncObj 0.3.17 from PyPI, in the venv bench/host/refs/venv
#   limits          the machine-limit probe (fdatasync appends, loopback round trips)
# Idempotent (installs only what is missing, rebuilds only what changed) and quiet: one line
# when ready; on failure the failing step's output and a one-line reason, exit non-zero.
set -euo pipefail

REFS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/refs"
BIN="$REFS/bin"
VENV="$REFS/venv"
PYSYNCOBJ_VERSION=0.3.17
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT

# step NAME CMD...: runs CMD with its output in $LOG; on failure prints it and stops.
step() {
    local name="$1"
    shift
    if ! "$@" >"$LOG" 2>&1; then
        cat "$LOG" >&2
        echo "install-refs: FAILED: $name" >&2
        exit 1
    fi
}

need() {
    command -v "$1" >/dev/null 2>&1 || { echo "install-refs: FAILED: '$1' not found ($2)" >&2; exit 1; }
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    need sudo "not root, and apt-get needs root"
    SUDO="sudo"
fi

# --- Debian packages: canonical/raft and libuv, and pkg-config to find them ---
APT_PKGS=(libraft-dev libuv1-dev pkg-config)
missing=()
for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    need apt-get "Debian's packages are needed: ${missing[*]}"
    step "apt-get update" $SUDO apt-get update -qq
    step "apt-get install ${missing[*]}" \
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
RAFT_DEB="$(dpkg-query -W -f='${Version}' libraft-dev)"

# --- toolchains ---
need cc "a C compiler"
need make "GNU make"
need go "the Go toolchain"
need python3 "CPython 3"

# --- PySyncObj in its own venv ---
if [ ! -x "$VENV/bin/python" ]; then
    step "python3 -m venv $VENV" python3 -m venv "$VENV"
fi
if [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("pysyncobj"))' 2>/dev/null)" != "$PYSYNCOBJ_VERSION" ]; then
    step "pip install pysyncobj==$PYSYNCOBJ_VERSION" \
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check "pysyncobj==$PYSYNCOBJ_VERSION"
fi

# --- builds ---
mkdir -p "$BIN"
step "go mod download (bench/host/refs/hashicorp)" sh -c "cd '$REFS/hashicorp' && go mod download"
step "go build hashicorp-raft" sh -c "cd '$REFS/hashicorp' && go build -o '$BIN/hashicorp-raft' ."
step "make canonical-raft" make -s -C "$REFS/canonical" BIN="$BIN"
step "make limits" make -s -C "$REFS/limits" BIN="$BIN"
cat >"$BIN/pysyncobj.tmp" <<'EOF'
#!/bin/sh
# The PySyncObj W4 runner, run by the venv that install-refs.sh made.
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../venv/bin/python" "$here/../pysyncobj/runner.py" "$@"
EOF
chmod +x "$BIN/pysyncobj.tmp"
mv "$BIN/pysyncobj.tmp" "$BIN/pysyncobj"

echo "install-refs: ready in bench/host/refs/bin: hashicorp-raft (raft v1.7.2, raft-boltdb/v2 v2.3.1)," \
    "canonical-raft (libraft-dev $RAFT_DEB), pysyncobj ($PYSYNCOBJ_VERSION), limits"
