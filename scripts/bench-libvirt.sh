#!/usr/bin/env bash
# libvirt, OpenNebula and qemu commands, against their peers on the same inputs:
#  - `verify GUEST` on the seeds' guest and the i350 fake tree (no peer: the seed does
#    it by hand);
#  - `verify --all` over 20 domains of a libvirt test-driver node file, against the
#    floor of reading them (`virsh list` + one virsh running the 20 `dumpxml`s);
#  - `ls --filter 8086::0200` against `lspci -d 8086::0200` on a 16 PF x 128 VF tree
#    (2083 functions).
# Figures go to BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p passthru-cli -p passthru-testsupport
BIN=target/release/passthru
FAKE=target/release/passthru-fakehost
SEED=crates/passthru/tests/fixtures/libvirt/seed-instance-00000001.xml
TMP=$(mktemp -d "${TMPDIR:-/dev/shm}/pt-bench-libvirt.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$FAKE" write --scenario i350 "$TMP/i350"
"$FAKE" write --scenario parametric:16x128 "$TMP/big"
{
  echo "<node>"
  echo "<device><name>computer</name><capability type='system'><hardware><uuid>e2a3b6b4-6c1c-4b8e-9a57-3c7e3f6b7a10</uuid></hardware><firmware/></capability></device>"
  for i in $(seq 1 20); do
    sed "s/<domain type='kvm' id='2'>/<domain type='kvm'>/; s/instance-00000001/inst$i/; s/573bb201-10db-4c48-87f9-c08985bd7d0f/573bb201-10db-4c48-87f9-$(printf %012d "$i")/" "$SEED"
  done
  echo "</node>"
} > "$TMP/node.xml"
URI="test://$TMP/node.xml"
DUMPS=$(for i in $(seq 1 20); do printf 'dumpxml inst%s; ' "$i"; done)
LSPCI="lspci -A linux-sysfs -O sysfs.path=$TMP/big/sys/bus/pci -O hwdb.disable=1"
hyperfine -N --warmup 3 --runs 30 -i \
  "$BIN --root $TMP/i350 verify $SEED" \
  "$BIN --root $TMP/i350 verify --all --connect $URI" \
  "virsh -c $URI list --all --name" \
  "virsh -c $URI '$DUMPS'" \
  "$BIN --root $TMP/big ls --json --filter 8086::0200" \
  "$LSPCI -D -n -d 8086::0200"
