#!/usr/bin/env bash
# Starts a real keystone 30, placement 16 and nova 34 (api, conductor, scheduler and a
# fake compute reporting a fake host's PCI devices, in one process) on free 127.0.0.1
# ports, with fresh sqlite databases under DIR. See README.md, "OpenStack compute API".
#
#   scripts/openstack-live/start.sh DIR ROOT HOST
#
# ROOT is the compute host's fake root: nova reads ROOT/etc/nova/nova.conf (the [pci]
# and [filter_scheduler] options) and the fake driver reports ROOT/sys's PCI devices.
# HOST is nova's name for the compute host. Writes DIR/pids (stop.sh stops them),
# DIR/clouds.yaml (cloud 'live', keystone password auth as admin), DIR/urls and
# DIR/node.xml (the libvirt test driver's domains). Each server stops by itself after
# 30 minutes at most.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir="$(mkdir -p "$1" && cd "$1" && pwd)"
root="$(cd "$2" && pwd)"
host="$3"
venv="${OPENSTACK_VENV:-$repo/target/openstack-venv}"
py="$venv/bin/python"
life=1800
mkdir -p "$dir/log" "$dir/nova/lock" "$dir/placement" "$dir/keystone"
: > "$dir/pids"

read -r kp pp np < <("$py" "$here/livectl.py" ports 3)
ks="http://127.0.0.1:$kp"; pl="http://127.0.0.1:$pp"; nv="http://127.0.0.1:$np"
printf 'keystone %s\nplacement %s\nnova %s\n' "$ks" "$pl" "$nv" > "$dir/urls"

start() { # NAME CMD... : in the background, in its own session, with a lifetime
    local name="$1"; shift
    setsid timeout "$life" "$@" < /dev/null > "$dir/log/$name.log" 2>&1 &
    echo "$!" >> "$dir/pids"
}

# keystone
cat > "$dir/keystone/keystone.conf" <<CONF
[database]
connection = sqlite:///$dir/keystone.sqlite
[fernet_tokens]
key_repository = $dir/keystone/fernet-keys
[fernet_receipts]
key_repository = $dir/keystone/fernet-keys
[credential]
key_repository = $dir/keystone/credential-keys
CONF
km=("$venv/bin/keystone-manage" --config-file "$dir/keystone/keystone.conf")
u="$(id -un)"; g="$(id -gn)"
{ "${km[@]}" db_sync &&
  "${km[@]}" fernet_setup --keystone-user "$u" --keystone-group "$g" &&
  "${km[@]}" credential_setup --keystone-user "$u" --keystone-group "$g" &&
  "${km[@]}" bootstrap --bootstrap-password secret \
      --bootstrap-admin-url "$ks/v3" --bootstrap-public-url "$ks/v3" \
      --bootstrap-internal-url "$ks/v3" --bootstrap-region-id RegionOne
} > "$dir/log/keystone-setup.log" 2>&1 || { tail -20 "$dir/log/keystone-setup.log" >&2; exit 1; }
OS_KEYSTONE_CONFIG_DIR="$dir/keystone" OS_KEYSTONE_CONFIG_FILES=keystone.conf \
    start keystone "$venv/bin/gunicorn" --no-control-socket --chdir "$here" \
    -b "127.0.0.1:$kp" -w 1 --threads 4 wsgi_keystone:application

# placement (noauth2: nova reaches it with admin_token)
cat > "$dir/placement/placement.conf" <<CONF
[api]
auth_strategy = noauth2
[placement_database]
connection = sqlite:///$dir/placement.sqlite
CONF
"$venv/bin/placement-manage" --config-file "$dir/placement/placement.conf" db sync \
    > "$dir/log/placement-setup.log" 2>&1 || { tail -20 "$dir/log/placement-setup.log" >&2; exit 1; }
OS_PLACEMENT_CONFIG_DIR="$dir/placement" \
    start placement "$venv/bin/gunicorn" --no-control-socket --chdir "$here" \
    -b "127.0.0.1:$pp" -w 1 --threads 4 wsgi_placement:application

# nova: ROOT's nova.conf (PCI options) first, then the service plumbing.
cat > "$dir/nova-services.conf" <<CONF
[DEFAULT]
transport_url = fake://
state_path = $dir/nova
host = $host
compute_driver = pcifake.PciFakeDriver
[wsgi]
api_paste_config = $venv/etc/nova/api-paste.ini
[api_database]
connection = sqlite:///$dir/nova_api.sqlite
[database]
connection = sqlite:///$dir/nova.sqlite
[oslo_concurrency]
lock_path = $dir/nova/lock
[oslo_messaging_notifications]
driver = noop
[keystone_authtoken]
www_authenticate_uri = $ks/v3
auth_url = $ks/v3
auth_type = password
username = nova
password = secret
project_name = service
user_domain_name = Default
project_domain_name = Default
[placement]
auth_type = admin_token
endpoint = $pl
token = admin
endpoint_override = $pl
[glance]
endpoint_override = http://127.0.0.1:9
[scheduler]
discover_hosts_in_cells_interval = -1
CONF
nm=("$venv/bin/nova-manage" --config-file "$root/etc/nova/nova.conf" --config-file "$dir/nova-services.conf")
{ "${nm[@]}" api_db sync && "${nm[@]}" cell_v2 map_cell0 && "${nm[@]}" db sync &&
  "${nm[@]}" cell_v2 create_cell --name cell1 --transport-url fake:// \
      --database_connection "sqlite:///$dir/nova.sqlite"
} > "$dir/log/nova-setup.log" 2>&1 || { tail -20 "$dir/log/nova-setup.log" >&2; exit 1; }

"$py" "$here/livectl.py" wait "$ks/v3" 60
"$py" "$here/livectl.py" catalog "$ks" "$nv" > "$dir/log/catalog.log" 2>&1 ||
    { cat "$dir/log/catalog.log" >&2; exit 1; }
"$py" "$here/livectl.py" wait "$pl/" 60
printf '<node>\n</node>\n' > "$dir/node.xml"
PCIFAKE_ROOT="$root" PCIFAKE_NODE_XML="$dir/node.xml" \
    start nova "$py" -W ignore "$here/allinone.py" "$np" "$root/etc/nova/nova.conf" "$dir/nova-services.conf"
"$py" "$here/livectl.py" wait "$nv/" 120 || { tail -30 "$dir/log/nova.log" >&2; exit 1; }
"$py" "$here/livectl.py" wait-compute "$ks" "$nv" 120 || { tail -30 "$dir/log/nova.log" >&2; exit 1; }

cat > "$dir/clouds.yaml" <<CONF
clouds:
  live:
    auth:
      auth_url: $ks
      username: admin
      password: secret
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
CONF
echo "ready: $ks $pl $nv"
