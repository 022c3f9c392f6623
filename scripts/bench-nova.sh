#!/usr/bin/env bash
# Matching 10,000 devices against 20 device_spec entries: nova 34.0.0's Python vs
# passthru, same input, same run (figures in BENCHMARKS.md).
#   scripts/bench-nova.sh [--devices N] [--rounds R]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
here="$repo/scripts/nova-diff"
venv="${NOVA_DIFF_VENV:-$here/venv}"
if [ ! -x "$venv/bin/python" ]; then
    "$here/run.sh" --cases 1 >/dev/null   # creates the venv
fi
cd "$repo"
cargo build -q --release -p passthru --example nova_oracle
oracle="${CARGO_TARGET_DIR:-$repo/target}/release/examples/nova_oracle"
cd "$here"
"$venv/bin/python" -W ignore bench.py --oracle "$oracle" "$@" 2> >(grep -v -i -e eventlet -e "Could not find the expected" -e "^$" -e "we strongly recommend" -e "framework.  For more" -e "migration.html" -e "import eventlet" -e "If you are already using" >&2)
