#!/usr/bin/env bash
# Benchmark: passthru_facts (the passthru binary as an Ansible binary module) against
# Ansible's own fact gathering (ansible.builtin.setup) on the same 16 loopback hosts
# (real sshd on 127.0.0.2-17, passthru-testsupport's harness, each with its own fake
# root of the seeds' I350 host), same forks, same connection settings, in one run.
# Medians by hyperfine; the ratio is passthru_facts / setup. See BENCHMARKS.md.
#
#   scripts/bench-ansible.sh        # HOSTS=16 RUNS=10 FORKS=16 to change them
set -euo pipefail
cd "$(dirname "$0")/.."

HOSTS=${HOSTS:-16}
RUNS=${RUNS:-10}
FORKS=${FORKS:-16}
VENV=${PASSTHRU_ANSIBLE_VENV:-$PWD/target/ansible-venv}
for tool in hyperfine jq; do
  command -v "$tool" >/dev/null || { echo "bench-ansible: $tool is required" >&2; exit 3; }
done
[ -x "$VENV/bin/ansible" ] || { echo "bench-ansible: no $VENV/bin/ansible (scripts/test.sh creates the venv)" >&2; exit 3; }

# The release binary, placed as the modules (the build step), and the host harness.
scripts/ansible-collection.sh >/dev/null
cargo build -q -p passthru-testsupport --example sshd_fleet
BASE=$(mktemp -d)
target/debug/examples/sshd_fleet "$HOSTS" "$BASE/lab" >"$BASE/fleet.log" 2>&1 &
FLEET=$!
cleanup() {
  touch "$BASE/lab/stop"
  wait "$FLEET" 2>/dev/null || true
  rm -rf "$BASE"
}
trap cleanup EXIT
for _ in $(seq 600); do [ -e "$BASE/lab/ready" ] && break; kill -0 "$FLEET" 2>/dev/null || break; sleep 0.1; done
[ -e "$BASE/lab/ready" ] || { cat "$BASE/fleet.log" >&2; echo "bench-ansible: the test hosts did not start" >&2; exit 3; }

export PATH="$VENV/bin:$PATH" ANSIBLE_COLLECTIONS_PATH=$PWD/ansible ANSIBLE_HOME=$BASE/ah \
  ANSIBLE_REMOTE_TMP=$BASE/rt ANSIBLE_SSH_CONTROL_PATH_DIR=$BASE/cp ANSIBLE_NOCOLOR=1 \
  PYTHONWARNINGS=ignore ANSIBLE_INVENTORY=$BASE/lab/inventory.ini
run() { ansible bench -f "$FORKS" -o "$@"; }
# Both must succeed on every host before they are timed.
run -m passthru.kvm.passthru_facts | grep -c SUCCESS | grep -qx "$HOSTS" || { run -m passthru.kvm.passthru_facts; exit 3; }
run -m ansible.builtin.setup | grep -c SUCCESS | grep -qx "$HOSTS" || { run -m ansible.builtin.setup | head; exit 3; }

hyperfine -w 1 -r "$RUNS" --export-json "$BASE/h.json" \
  -n passthru_facts "ansible bench -f $FORKS -o -m passthru.kvm.passthru_facts" \
  -n setup "ansible bench -f $FORKS -o -m ansible.builtin.setup" >/dev/null

jq -r --arg hosts "$HOSTS" --arg forks "$FORKS" '
  (.results[] | select(.command=="passthru_facts") | .median) as $p |
  (.results[] | select(.command=="setup") | .median) as $s |
  "hosts \($hosts), forks \($forks), median of \(.results[0].times | length) runs:",
  "  passthru_facts      \($p * 1000 | floor) ms",
  "  ansible setup       \($s * 1000 | floor) ms",
  "  ratio passthru/setup \($p / $s * 100 | floor / 100)"' "$BASE/h.json"
