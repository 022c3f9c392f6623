#!/usr/bin/env bash
# The build step of the Ansible collection passthru.kvm: puts the passthru binary into
# plugins/modules/ under each module's name (binary modules: the targets need no Python).
#
#   scripts/ansible-collection.sh                    cargo build --release, into ansible/
#   scripts/ansible-collection.sh --debug            a debug build instead
#   scripts/ansible-collection.sh --binary PATH [--collection DIR]
#                                                    place an existing binary (tests)
#
# The binary is stripped of debug info (a debug build is ~90 MB, and Ansible copies the
# module to every host for every task); the module names are hard links to one file.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
collection="$repo/ansible/ansible_collections/passthru/kvm"
binary=""
profile=release
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --collection) collection="$2"; shift 2 ;;
    --debug) profile=debug; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "ansible-collection.sh: unknown option $1 (see --help)" >&2; exit 3 ;;
  esac
done
if [ -z "$binary" ]; then
  if [ "$profile" = release ]; then
    cargo build -q --release -p passthru-cli --bin passthru --manifest-path "$repo/Cargo.toml"
  else
    cargo build -q -p passthru-cli --bin passthru --manifest-path "$repo/Cargo.toml"
  fi
  binary="${CARGO_TARGET_DIR:-$repo/target}/$profile/passthru"
fi
modules="$collection/plugins/modules"
[ -d "$modules" ] || { echo "ansible-collection.sh: no $modules (give --collection DIR: the collection's root)" >&2; exit 3; }
first="$modules/passthru_facts"
tmp="$(mktemp "$modules/.passthru.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
if command -v objcopy >/dev/null; then
  objcopy --strip-debug "$binary" "$tmp"
else
  cp "$binary" "$tmp"
fi
chmod 0755 "$tmp"
mv -f "$tmp" "$first"
for m in passthru_doctor passthru_apply passthru_vfs passthru_bind passthru_nova; do
  ln -f "$first" "$modules/$m"
done
echo "ansible-collection.sh: $(du -h "$first" | cut -f1) passthru binary placed as 6 modules in $modules"
