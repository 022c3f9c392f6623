#!/usr/bin/env bash
# Benchmark: `passthru ls --json` against `lspci -nnmm -D` on the same fake trees
# (parametric 8x64 and 16x128, written on tmpfs), timed by hyperfine in the same run.
# Prints medians and the ratio passthru / lspci. See BENCHMARKS.md.
#
#   scripts/bench-ls.sh              # 30 runs each (RUNS=N to change)
#   BENCH_DIR=/some/tmpfs scripts/bench-ls.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-30}
SIZES=${SIZES:-"8x64 16x128"}
BASE=${BENCH_DIR:-/dev/shm}/passthru-bench.$$
for tool in hyperfine lspci jq; do
  command -v "$tool" >/dev/null || { echo "bench-ls: $tool is required" >&2; exit 3; }
done

cargo build --release -q -p passthru-cli -p passthru-testsupport --bins
PT=target/release/passthru
FH=target/release/passthru-fakehost

cleanup() { rm -rf "$BASE"; }
trap cleanup EXIT
mkdir -p "$BASE"

echo "wall-clock medians (ms); ratio = passthru / lspci. cpu = mean user+sys (ms)."
printf '%-8s %9s %9s %9s %13s %7s %13s %8s %8s %8s\n' tree functions passthru lspci lspci-nohwdb ratio ratio-nohwdb cpu-pt cpu-ls cpu-ratio
for s in $SIZES; do
  dir=$BASE/$s
  "$FH" write --scenario "parametric:$s" "$dir"
  # Both tools name devices from the same pci.ids: lspci reads the host's, passthru
  # the root's, so the tree gets a copy of the host's.
  for ids in /usr/share/misc/pci.ids /usr/share/hwdata/pci.ids; do
    if [ -f "$ids" ]; then
      mkdir -p "$dir/$(dirname "${ids#/}")" && cp "$ids" "$dir/${ids#/}"
      break
    fi
  done
  n=$("$PT" --root "$dir" ls --json | jq '.devices | length')
  m=$(lspci -A linux-sysfs -O "sysfs.path=$dir/sys/bus/pci" -nnmm -D 2>/dev/null | wc -l)
  if [ "$n" != "$m" ]; then
    echo "bench-ls: passthru lists $n functions, lspci $m" >&2
    exit 2
  fi
  hyperfine -N --warmup 3 --runs "$RUNS" --style none --export-json "$BASE/$s.json" \
    -n passthru "$PT --root $dir ls --json" \
    -n lspci "lspci -A linux-sysfs -O sysfs.path=$dir/sys/bus/pci -nnmm -D" \
    -n lspci-nohwdb "lspci -A linux-sysfs -O sysfs.path=$dir/sys/bus/pci -O hwdb.disable=1 -nnmm -D" \
    >/dev/null 2>&1
  jq -r --arg s "$s" --arg n "$n" '
    def r2: . * 100 | round / 100;
    def r3: . * 1000 | round / 1000;
    [.results[] | {(.command): {med: (.median * 1000), cpu: ((.user + .system) * 1000)}}] | add as $m
    | [$s, $n, ($m.passthru.med|r2), ($m.lspci.med|r2), ($m["lspci-nohwdb"].med|r2),
       ($m.passthru.med / $m.lspci.med | r3), ($m.passthru.med / $m["lspci-nohwdb"].med | r3),
       ($m.passthru.cpu|r2), ($m.lspci.cpu|r2), ($m.passthru.cpu / $m.lspci.cpu | r3)]
    | @tsv' "$BASE/$s.json" |
    awk -F'\t' '{printf "%-8s %9s %9s %9s %13s %7s %13s %8s %8s %8s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10}'
done
