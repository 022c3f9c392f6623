#!/usr/bin/env bash
# The one command that runs passthru's whole test suite on a fresh Debian/Ubuntu machine.
# It installs what the tests need (real peers: pciutils' lspci, libvirt's virsh and
# virt-xml-validate, fuse3 for the kernel simulator, ...), then runs fmt, clippy and
# every test. Idempotent: safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

if command -v apt-get >/dev/null; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    pciutils libvirt-clients libvirt-daemon fuse3 libfuse3-dev pkg-config \
    libxml2-utils augeas-tools hyperfine systemd python3-venv >/dev/null
fi

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test --all -- --test-threads="$(nproc)"

# nova's own code (PyPI nova 34.0.0 in a venv, created on first run) decides exactly as
# passthru on generated device_spec / alias / flavor / nova.conf inputs.
scripts/nova-diff/run.sh --cases 400
