#!/usr/bin/env bash
# Pictures vs what they are drawn from, on the parametric 16x128 tree (16 PFs x 128 VFs,
# 2081 functions), in one hyperfine run: `topo --format svg` against `ls --json` (the
# inventory), and `report --html` against `doctor --json` (the report runs doctor, then
# draws). The tree goes on tmpfs (writing 114k files on disk says nothing about
# reading). doctor and report exit 1/2 when they find problems, so hyperfine ignores
# exit codes (-i). Figures go to BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO="${1:-parametric:16x128}"
cargo build --release -q -p passthru-cli -p passthru-testsupport
BIN=target/release/passthru
BASE=/dev/shm
[ -d "$BASE" ] && [ -w "$BASE" ] || BASE="${TMPDIR:-/tmp}"
TMP=$(mktemp -d "$BASE/passthru-bench-pictures.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
target/release/passthru-fakehost write --scenario "$SCENARIO" "$TMP/root"
echo "$SCENARIO: $(ls "$TMP/root/sys/bus/pci/devices" | wc -l) functions"
"$BIN" --root "$TMP/root" report --html "$TMP/r.html" || true
echo "report size: $(stat -c %s "$TMP/r.html") bytes"
hyperfine -N -i --warmup 3 --runs "${RUNS:-30}" --export-json "$TMP/bench.json" \
  -n "ls --json" "$BIN --root $TMP/root ls --json" \
  -n "topo --format svg" "$BIN --root $TMP/root topo --format svg -o $TMP/t.svg" \
  -n "doctor --json" "$BIN --root $TMP/root doctor --json" \
  -n "report --html" "$BIN --root $TMP/root report --html $TMP/r.html"
jq -r '.results | (map({(.command): .median}) | add) as $m
  | (.[] | "\(.command)\t\(.median * 1000 | . * 10 | round / 10) ms median\tuser+sys \((.user + .system) * 1000 | round) ms"),
    "topo svg / ls --json (median): \($m["topo --format svg"] / $m["ls --json"] * 100 | round / 100)",
    "report --html / doctor --json (median): \($m["report --html"] / $m["doctor --json"] * 100 | round / 100)"' "$TMP/bench.json"
