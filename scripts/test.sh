#!/usr/bin/env bash
# The one command that runs passthru's whole test suite on a fresh Debian/Ubuntu machine.
# It installs what the tests need (a Rust toolchain with rustfmt and clippy when none is
# there, a C linker, and the real peers: pciutils' lspci with pci.ids, libvirt's virsh
# and virt-xml-validate, fuse3 for the kernel simulator, systemd-analyze, ...), then runs
# fmt, clippy, every test, and the README's first command on this machine's own /sys.
# Idempotent: safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Nothing skips silently here: a test whose peer (lspci, virsh, /dev/fuse, ...) is
# missing fails instead of printing SKIPPED (passthru_testsupport::peer). Every
# "skip when missing" switch the tests know is listed; a developer running a single
# `cargo test` without them gets the SKIPPED lines instead.
export PASSTHRU_REQUIRE_PEERS=1
export PASSTHRU_REQUIRE_FUSE=1

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

if command -v apt-get >/dev/null; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    build-essential curl ca-certificates pkg-config \
    pciutils pci.ids libvirt-clients libvirt-daemon fuse3 libfuse3-dev \
    libxml2-utils augeas-tools hyperfine jq systemd python3-venv >/dev/null
  # topo/report pictures: Chromium opens the pages (DOM, screenshot, network log),
  # Graphviz lays out the DOT output.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium graphviz >/dev/null
  # man-db and groff render `passthru man` in tests/completions.rs (man -l).
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq man-db groff-base >/dev/null
  # Fleet tests (crates/passthru-testsupport/src/sshd.rs): real sshd on 127.0.0.2.., the ssh client.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssh-server openssh-client >/dev/null
fi

# Debian's packaged rustc is older than the workspace's rust-version: use rustup.
if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
    sh -s -- -y --profile minimal --component rustfmt,clippy
  export PATH="$HOME/.cargo/bin:$PATH"
elif command -v rustup >/dev/null; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi

# keystone 30, nova 34 and placement 16 from PyPI (a venv under target/, created once)
# for the `passthru openstack` tests, which start them on 127.0.0.1.
scripts/openstack-live/install.sh >/dev/null

# ansible-core 2.19 from PyPI for the Ansible module tests (crates/passthru-cli/tests/
# ansible.rs): a venv under target/, created once and reused.
if [ ! -x target/ansible-venv/bin/ansible-playbook ]; then
  python3 -m venv target/ansible-venv
  target/ansible-venv/bin/pip install -q 'ansible-core==2.19.*' >target/ansible-venv/pip.log 2>&1 ||
    { cat target/ansible-venv/pip.log >&2; exit 1; }
fi

# neutron's option definitions and agent parsers, and jsonschema, for the render tests
# (crates/passthru-cli/tests/render_peers.rs): a venv under target/, created once.
scripts/peers-venv.sh >/dev/null

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# nova 34 from PyPI in a venv (created once): the cargo tests feed it the nova.conf files
# `render nova --write` merges (crates/passthru-cli/tests/nova.rs).
scripts/nova-diff/run.sh --setup
cargo test --workspace -- --test-threads="$(nproc)"
# The README's first command, on this machine's real /sys (a debug build: the tests
# built it already).
cargo run -q --bin passthru -- ls >/dev/null

# nova's own code (PyPI nova 34.0.0 in a venv, created on first run) decides exactly as
# passthru on generated device_spec / alias / flavor / nova.conf inputs.
scripts/nova-diff/run.sh --cases 400
