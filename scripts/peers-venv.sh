#!/usr/bin/env bash
# The Python peers of the render tests (crates/passthru-cli/tests/render_peers.rs), in a
# venv under target/ created once: neutron's own option definitions and parsers (PyPI
# neutron with neutron-lib, oslo.config, oslo.service, oslo.db, oslo.privsep) to load
# `render neutron-sriov`, and jsonschema to validate `render k8s-device-plugin` against
# the device plugin's schema (tests/data/sriovdp-config.schema.json).
#   scripts/peers-venv.sh            (prints the venv's python)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="${PASSTHRU_PEERS_VENV:-$repo/target/peers-venv}"
probe="import neutron.conf.plugins.ml2.config, neutron.plugins.ml2.drivers.mech_sriov.agent.common.config, neutron_lib.utils.helpers, jsonschema"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -W ignore -c "$probe" 2>/dev/null; then
    python3 -m venv "$venv"
    log="$venv/pip.log"
    # neutron itself without its (large) dependency set: only its conf and agent
    # modules are imported. pip warns about the rest: expected.
    { "$venv/bin/pip" install -q --upgrade pip &&
      "$venv/bin/pip" install -q --no-deps neutron==29.0.0 &&
      "$venv/bin/pip" install -q neutron-lib==5.0.1 "oslo.service[threading]" oslo.db oslo.privsep oslo.reports oslo.cache oslo.messaging \
          oslo.config oslo.i18n jsonschema; } >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
    "$venv/bin/python" -W ignore -c "$probe"
fi
echo "$venv/bin/python"
