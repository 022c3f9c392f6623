#!/usr/bin/env bash
# Fleet benchmarks (BENCHMARKS.md), on real sshd on loopback (127.0.0.2..):
#  1. doctor on 8 hosts that each answer 4 s late (a ForceCommand delay standing in
#     for a distant network), --concurrency 8, against the same on one such host;
#  2. doctor on 16 plain hosts against `ansible all -m setup -f 16` (ansible-core from
#     PyPI, in target/ansible-venv) gathering facts from the same hosts.
# Medians of hyperfine runs (-i: doctor exits 1/2 with its verdict); prints the ratios. Usage: scripts/bench-fleet.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
bin=${PASSTHRU_BIN:-target/debug/passthru}
cargo build -q -p passthru-cli --bin passthru -p passthru-testsupport --bin passthru-sshd-fleet --bin passthru-fakehost
[ -x target/ansible-venv/bin/ansible ] || {
  python3 -m venv target/ansible-venv
  target/ansible-venv/bin/pip install -q ansible-core
}
S=$(mktemp -d /tmp/pt-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$S"; }
trap cleanup EXIT
target/debug/passthru-fakehost write --scenario i350 "$S/root" >/dev/null
fleet() { # N DELAY NAME: starts a fleet (not in a subshell, so its pid is kept to stop it)
  target/debug/passthru-sshd-fleet "$1" --delay "$2" --install "passthru=$PWD/$bin" \
    --ready "$S/$3.ready" --lifetime 1800 >/dev/null &
  pids+=($!)
  for _ in $(seq 600); do [ -s "$S/$3.ready" ] && break; sleep 0.1; done
}
median() { jq -r '.results[0].median' "$1"; }

# 1. Concurrency: 8 slow hosts vs 1.
fleet 8 4 slow; cfg=$(cat "$S/slow.ready")
hosts8=$(for i in $(seq 8); do printf -- '--host h%s ' "$i"; done)
hyperfine -N -i --runs "$runs" --export-json "$S/one.json" \
  "$bin --ssh-config $cfg --host h1 --remote-root $S/root doctor"
hyperfine -N -i --runs "$runs" --export-json "$S/eight.json" \
  "$bin --ssh-config $cfg $hosts8 --concurrency 8 --remote-root $S/root doctor"
one=$(median "$S/one.json"); eight=$(median "$S/eight.json")

# 2. 16 plain hosts: passthru doctor vs ansible -m setup.
fleet 16 0 plain; cfg16=$(cat "$S/plain.ready")
hosts16=$(for i in $(seq 16); do printf -- '--host h%s ' "$i"; done)
printf '[all]\n' > "$S/inv.ini"
for i in $(seq 16); do echo "h$i" >> "$S/inv.ini"; done
export ANSIBLE_HOME="$S/ah" ANSIBLE_SSH_CONTROL_PATH_DIR="$S/cp" ANSIBLE_LOCAL_TEMP="$S/lt"
export ANSIBLE_SSH_ARGS="-F $cfg16 -o ControlMaster=auto -o ControlPersist=60s" ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3
hyperfine -N -i --runs "$runs" --export-json "$S/pt16.json" \
  "$bin --ssh-config $cfg16 $hosts16 --concurrency 16 --remote-root $S/root doctor"
hyperfine -N -i --runs "$runs" --export-json "$S/ans16.json" \
  "target/ansible-venv/bin/ansible all -i $S/inv.ini -m setup -f 16"
pt16=$(median "$S/pt16.json"); ans16=$(median "$S/ans16.json")

printf '\n%-58s %8s\n' "command (median of $runs runs)" "seconds"
printf '%-58s %8.2f\n' "doctor, 1 host answering 4 s late" "$one"
printf '%-58s %8.2f\n' "doctor, 8 such hosts, --concurrency 8" "$eight"
printf '%-58s %8.2f\n' "doctor, 16 plain hosts, --concurrency 16" "$pt16"
printf '%-58s %8.2f\n' "ansible all -m setup -f 16, the same 16 hosts" "$ans16"
awk -v a="$eight" -v b="$one" 'BEGIN { printf "8 hosts / 1 host: %.2fx (target: at most 2x)\n", a / b }'
awk -v a="$pt16" -v b="$ans16" 'BEGIN { printf "passthru / ansible setup: %.2fx (target: at most 0.25x)\n", a / b }'
