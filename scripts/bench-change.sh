#!/usr/bin/env bash
# Benchmark: changing a host on the kernel simulator (passthru-sim, FUSE).
#  - `passthru vfs PF 4 --yes` (plan, journal, writes through 0, waits for VFs and
#    netdevs, re-reads the host, convergence) against the seeds' way, two `echo`s to
#    sriov_numvfs, on the same mount in the same run;
#  - `passthru bind VF --vfio --yes` against the three `echo`s of driverctl/dpdk-devbind;
#  - planning only (`passthru vfs PF 4`, no --yes) on a large host (parametric 16x128:
#    16 PFs, 2048 VFs) against `passthru ls` on it: planning is reading the host.
# Medians by hyperfine; ratios are passthru / shell. See BENCHMARKS.md.
#
#   scripts/bench-change.sh          # RUNS=N to change the run count (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-20}
for tool in hyperfine jq; do
  command -v "$tool" >/dev/null || { echo "bench-change: $tool is required" >&2; exit 3; }
done
[ -r /dev/fuse ] || { echo "bench-change: /dev/fuse is required" >&2; exit 3; }

cargo build --release -q -p passthru-cli -p passthru-testsupport --bins
PT=$PWD/target/release/passthru
SIM=$PWD/target/release/passthru-sim
BASE=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  rm -rf "$BASE"
}
trap cleanup EXIT

mount_sim() { # scenario mountpoint
  mkdir -p "$2"
  "$SIM" mount --scenario "$1" "$2" >"$2.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do [ -e "$2/.passthru-sim/status" ] && return 0; sleep 0.1; done
  echo "bench-change: passthru-sim did not mount $1" >&2; exit 3
}

median() { jq -r '.results[0].median * 10000 | floor / 10' "$1"; }

M=$BASE/i350
mount_sim i350 "$M"
PF=$M/sys/bus/pci/devices/0000:06:00.1
VF=0000:07:10.2
VFD=$M/sys/bus/pci/devices/$VF

hyperfine -N -w 2 -r "$RUNS" --export-json "$BASE/vfs.json" \
  --prepare "$PT --root $M vfs eno2 2 --yes" \
  "$PT --root $M vfs eno2 4 --yes" >/dev/null
hyperfine -w 2 -r "$RUNS" --export-json "$BASE/echo.json" \
  --prepare "sh -c 'echo 0 > $PF/sriov_numvfs; echo 2 > $PF/sriov_numvfs'" \
  "sh -c 'echo 0 > $PF/sriov_numvfs; echo 4 > $PF/sriov_numvfs'" >/dev/null
hyperfine -N -w 2 -r "$RUNS" --export-json "$BASE/bind.json" \
  --prepare "$PT --root $M bind $VF --host --yes" \
  "$PT --root $M bind $VF --vfio --yes" >/dev/null
hyperfine -w 2 -r "$RUNS" --export-json "$BASE/bindsh.json" \
  --prepare "$PT --root $M bind $VF --host --yes" \
  "sh -c 'echo vfio-pci > $VFD/driver_override; echo $VF > $M/sys/bus/pci/drivers/igbvf/unbind; echo $VF > $M/sys/bus/pci/drivers_probe'" >/dev/null

L=$BASE/large
mount_sim parametric:16x128 "$L"
# Its VFs are partly on vfio-pci: --force turns the refusals into warnings, and
# without --yes nothing changes. Reference: reading the same host (`ls`).
hyperfine -N -w 1 -r "$RUNS" --export-json "$BASE/plan.json" \
  "$PT --root $L vfs 0000:01:00.0 4 --force" >/dev/null
hyperfine -N -w 1 -r "$RUNS" --export-json "$BASE/ls.json" \
  "$PT --root $L ls" >/dev/null
n=$("$PT" --root "$L" ls --json | jq '.devices | length')

v=$(median "$BASE/vfs.json"); e=$(median "$BASE/echo.json")
b=$(median "$BASE/bind.json"); s=$(median "$BASE/bindsh.json"); p=$(median "$BASE/plan.json")
l=$(median "$BASE/ls.json")
echo "wall-clock medians (ms), $RUNS runs, on passthru-sim:"
printf '%-44s %8s %8s %7s\n' what passthru peer ratio
printf '%-44s %8s %8s %7s\n' "vfs eno2 2->4 --yes (i350)" "$v" "$e" "$(echo "scale=0; $v / $e" | bc)"
printf '%-44s %8s %8s %7s\n' "bind VF --vfio --yes (i350)" "$b" "$s" "$(echo "scale=0; $b / $s" | bc)"
printf '%-44s %8s %8s %7s\n' "plan vfs on parametric 16x128 ($n fns) vs ls" "$p" "$l" "$(echo "scale=2; $p / $l" | bc)"
