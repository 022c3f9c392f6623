#!/usr/bin/env bash
# doctor vs lspci: `passthru doctor` (text and --json) on the parametric 16x128 tree
# (16 PFs x 128 VFs, 2081 functions) against `lspci -nnmm -D` reading the same tree,
# in the same hyperfine run; `ls --json` (reading the facts, no checks) shows how much
# of doctor's time is the read, and `--snapshot` runs show the checks alone. The tree goes on tmpfs (writing 114k files on disk takes
# long and says nothing about reading). doctor exits 1/2 when it finds problems, so
# hyperfine ignores exit codes (-i). Figures go to BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO="${1:-parametric:16x128}"
cargo build --release -q -p passthru-cli -p passthru-testsupport
BIN=target/release/passthru
BASE=/dev/shm
[ -d "$BASE" ] && [ -w "$BASE" ] || BASE="${TMPDIR:-/tmp}"
TMP=$(mktemp -d "$BASE/passthru-bench-doctor.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
target/release/passthru-fakehost write --scenario "$SCENARIO" "$TMP/root"
echo "$SCENARIO: $(ls "$TMP/root/sys/bus/pci/devices" | wc -l) functions"
"$BIN" --root "$TMP/root" doctor -q | tail -1 || true
"$BIN" --root "$TMP/root" snapshot -o "$TMP/snap.json"
hyperfine -N -i --warmup 3 --runs "${RUNS:-30}" --export-json "$TMP/bench.json" \
  -n "doctor" "$BIN --root $TMP/root doctor" \
  -n "doctor --json" "$BIN --root $TMP/root doctor --json" \
  -n "ls --json" "$BIN --root $TMP/root ls --json" \
  -n "lspci -nnmm -D" "lspci -A linux-sysfs -O sysfs.path=$TMP/root/sys/bus/pci -nnmm -D" \
  -n "snapshot: doctor --json" "$BIN --snapshot $TMP/snap.json doctor --json" \
  -n "snapshot: ls --json" "$BIN --snapshot $TMP/snap.json ls --json"
# Medians (ms), and doctor / lspci.
jq -r '.results | (map({(.command): .median}) | add) as $m
  | (.[] | "\(.command)\t\(.median * 1000 | . * 10 | round / 10) ms median\tuser+sys \((.user + .system) * 1000 | round) ms"),
    "doctor / lspci (median): \($m["doctor"] / $m["lspci -nnmm -D"] * 100 | round / 100)",
    "doctor --json / lspci (median): \($m["doctor --json"] / $m["lspci -nnmm -D"] * 100 | round / 100)"' "$TMP/bench.json"
