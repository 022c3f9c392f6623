#!/usr/bin/env bash
# The kernel simulator's cost: time to mount a scenario (load + boot image), real lspci
# and `passthru ls --json` through the FUSE mount against the same tree on tmpfs, and
# one `sriov_numvfs` write creating 64 VFs. Figures go to BENCHMARKS.md.
# Needs /dev/fuse and root (or a user allowed to mount FUSE).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p passthru-testsupport -p passthru-cli
SIM=target/release/passthru-sim
FAKE=target/release/passthru-fakehost
LS=target/release/passthru
TMP=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
PIDS=()
cleanup() {
  # Stop the simulators by pid and wait until they have unmounted before removing
  # anything (never rm into a live mount).
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if ! grep -q " $TMP/" /proc/mounts; then rm -rf "$TMP"; fi
}
trap cleanup EXIT

mount_tree() { # TREE MOUNTPOINT; sets SECS to the time until it serves
  mkdir -p "$2"
  local s e
  s=$(date +%s.%N)
  "$SIM" mount --tree "$1" "$2" >/dev/null 2>&1 &
  PIDS+=($!)
  while [ ! -e "$2/.passthru-sim/status" ]; do sleep 0.01; done
  e=$(date +%s.%N)
  SECS=$(echo "$e - $s" | bc)
}

for sc in i350 parametric:8x64; do
  name=${sc/:/-}
  "$FAKE" write --scenario "$sc" "$TMP/$name"
  mount_tree "$TMP/$name" "$TMP/m-$name"
  echo "mount $sc: $SECS s ($(find "$TMP/$name" | wc -l) files)"
done

for name in i350 parametric-8x64; do
  hyperfine -N --warmup 2 --runs 10 \
    "lspci -A linux-sysfs -O sysfs.path=$TMP/m-$name/sys/bus/pci -O hwdb.disable=1 -nnvvv -D" \
    "lspci -A linux-sysfs -O sysfs.path=$TMP/$name/sys/bus/pci -O hwdb.disable=1 -nnvvv -D" \
    "$LS --root $TMP/m-$name ls --json" \
    "$LS --root $TMP/$name ls --json"
done

# One write creating 64 VFs (parametric PFs have 128 total; VFs enabled at load).
PF=$(ls "$TMP/m-parametric-8x64/sys/bus/pci/devices/" | head -n 200 | while read -r d; do
  [ -e "$TMP/m-parametric-8x64/sys/bus/pci/devices/$d/sriov_totalvfs" ] && echo "$d" && break; done)
N=$TMP/m-parametric-8x64/sys/bus/pci/devices/$PF/sriov_numvfs
hyperfine -N --runs 10 --prepare "sh -c 'echo 0 > $N'" "sh -c 'echo 64 > $N'"
