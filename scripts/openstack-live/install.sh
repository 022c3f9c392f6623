#!/usr/bin/env bash
# Installs the real OpenStack services `passthru openstack` is tested against (PyPI:
# keystone 30, nova 34, openstack-placement 16, gunicorn) into one venv under target/,
# created once and reused. Prints the venv path.
#   scripts/openstack-live/install.sh [VENV]        (default target/openstack-venv)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${1:-${OPENSTACK_VENV:-$repo/target/openstack-venv}}"
probe='import nova.virt.fake, keystone.server, placement.wsgi, gunicorn'
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$probe" 2>/dev/null; then
    echo "$venv"; exit 0
fi
python3 -m venv "$venv"
log="$venv/pip.log"
{ "$venv/bin/pip" install -q --upgrade pip &&
  "$venv/bin/pip" install -q -r "$here/requirements.txt"; } >"$log" 2>&1 ||
    { tail -40 "$log" >&2; exit 1; }
"$venv/bin/python" -c "$probe"
echo "$venv"
