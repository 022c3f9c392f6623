#!/usr/bin/env bash
# Checks that a passthru binary runs on the compute nodes operators have: glibc 2.28
# (RHEL 8, Ubuntu 20.04) or older, or no glibc at all (static, musl). Prints the
# highest GLIBC_ symbol version the binary needs and fails when it is above the limit.
# Usage: scripts/check-glibc.sh BINARY [MAX_VERSION (default 2.28)]
set -euo pipefail
bin=${1:?usage: scripts/check-glibc.sh BINARY [MAX_VERSION]}
max=${2:-2.28}
[ -f "$bin" ] || { echo "check-glibc: $bin does not exist (build it: scripts/release-build.sh)" >&2; exit 3; }
command -v objdump >/dev/null || { echo "check-glibc: objdump is missing (Debian package binutils)" >&2; exit 3; }
needs=$(objdump -T "$bin" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1 || true)
if [ -z "$needs" ]; then
  if objdump -p "$bin" | grep -q 'NEEDED'; then
    echo "check-glibc: $bin is dynamically linked but names no GLIBC_ version: $(objdump -p "$bin" | grep NEEDED | tr -s ' ')" >&2
    exit 1
  fi
  echo "$bin: static (no shared libraries, no GLIBC_ symbols): runs on any x86_64 Linux"
  exit 0
fi
highest=$(printf '%s\n%s\n' "$needs" "$max" | sort -V | tail -1)
if [ "$highest" != "$max" ]; then
  echo "$bin: needs GLIBC_$needs, above the limit $max (RHEL 8 / Ubuntu 20.04 would refuse it)" >&2
  exit 1
fi
echo "$bin: highest GLIBC_ symbol version $needs (limit $max): ok"
