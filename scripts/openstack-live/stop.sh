#!/usr/bin/env bash
# Stops what start.sh started, by the pids it recorded: SIGTERM, then SIGKILL after 10 s.
#   scripts/openstack-live/stop.sh DIR
dir="$1"
[ -f "$dir/pids" ] || exit 0
pids=$(cat "$dir/pids")
for p in $pids; do kill -TERM -- "-$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null || true; done
for _ in $(seq 1 20); do
    alive=""
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && break
    sleep 0.5
done
for p in $alive; do kill -KILL -- "-$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null || true; done
: > "$dir/pids"
