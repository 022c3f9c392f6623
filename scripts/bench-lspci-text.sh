#!/usr/bin/env bash
# Parsing lspci text: `passthru --lspci FILE ls --json` on the corpus' largest capture
# (53 functions, 137 kB) and on a synthetic 2014-function capture (38 copies of it, each
# in its own PCI domain, 5.2 MB). Peer for scale: `lspci -nnvvv` reading nothing but
# printing (`cat` of the same text is the floor). Figures go to BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p passthru-cli
BIN=target/release/passthru
SRC=tests/data/lspci-corpus/desktop-gigabyte-x570-ryzen-pve-rtx2070-sata-vfio-pci.txt
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for i in $(seq 1 38); do
  # Prefix every title (bus:dev.fn in column 0) with a domain of its own.
  sed -E "s/^([0-9a-f]{2}:[0-9a-f]{2}\.[0-7] )/$(printf '%04x' "$i"):\1/" "$SRC"
done > "$TMP/big.txt"
echo "big: $(grep -cE '^[0-9a-f]{4}:' "$TMP/big.txt") functions, $(wc -c < "$TMP/big.txt") bytes"
hyperfine -N --warmup 3 --runs 30 \
  "$BIN --lspci $SRC ls --json" \
  "$BIN --lspci $TMP/big.txt ls --json" \
  "cat $TMP/big.txt"
