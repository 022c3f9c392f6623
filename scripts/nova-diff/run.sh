#!/usr/bin/env bash
# Differential test of passthru's nova rules against nova 34.0.0 itself.
#   scripts/nova-diff/run.sh [--cases N] [--seed S]      (default 400 cases of each kind)
#   scripts/nova-diff/run.sh --setup                     (only create the venv: the cargo
#                                                          tests load merged files with it)
# Creates scripts/nova-diff/venv on first use (pip, PyPI), builds the oracle example,
# and exits non-zero when nova and passthru disagree on any generated case.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${NOVA_DIFF_VENV:-$here/venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import nova.pci.devspec" 2>/dev/null; then
    python3 -m venv "$venv"
    log="$venv/pip.log"
    # pip complains that nova's other dependencies are missing: expected with --no-deps.
    { "$venv/bin/pip" install -q --upgrade pip &&
      "$venv/bin/pip" install -q --no-deps nova==34.0.0 &&
      "$venv/bin/pip" install -q -r "$here/requirements.txt" -c "$here/constraints.txt"; } >"$log" 2>&1 ||
        { cat "$log" >&2; exit 1; }
fi
if [ "${1:-}" = "--setup" ]; then
    exit 0
fi
cd "$repo"
cargo build -q --release -p passthru --example nova_oracle
oracle="${CARGO_TARGET_DIR:-$repo/target}/release/examples/nova_oracle"
# nova logs sysfs misses and deprecations at WARNING; they are expected here.
"$venv/bin/python" -W ignore "$here/diff.py" --oracle "$oracle" "$@" 2> >(grep -v -i -e eventlet -e "Could not find the expected" -e "^Deprecated:" -e "^$" -e "we strongly recommend" -e "framework.  For more" -e "migration.html" -e "import eventlet" -e "If you are already using" >&2)
