#!/usr/bin/env python3
"""Load nova.conf files with nova 34's own code, as nova-compute and nova-api do at
start: oslo.config reads the files, `[pci] device_spec` goes through nova's
Whitelist (PciConfigInvalidSpec and friends), `[pci] alias` through
get_alias_from_config (PciInvalidAlias), and `[filter_scheduler] enabled_filters` is
read. Prints one JSON object:

    {"error": null | {"exception", "message"},
     "device_spec": [values in nova's merged order], "alias": {name: [numa_policy, specs]},
     "enabled_filters": [...]}

Used by passthru's tests to prove that what `render nova --write` merges is a file
nova itself loads:

    scripts/nova-diff/venv/bin/python -W ignore scripts/nova-diff/load_conf.py FILE...
"""
import json
import logging
import sys

logging.disable(logging.CRITICAL)

import nova.conf  # noqa: E402
from nova.pci import request, whitelist  # noqa: E402

CONF = nova.conf.CONF


def main(files):
    out = {"error": None}
    try:
        CONF(args=[], default_config_files=files, default_config_dirs=[])
        out["device_spec"] = list(CONF.pci.device_spec)
        whitelist.Whitelist(CONF.pci.device_spec)
        request.get_alias_from_config.cache_clear()
        aliases = request.get_alias_from_config()
        out["alias"] = {name: [numa, specs] for name, (numa, specs) in aliases.items()}
        out["enabled_filters"] = list(CONF.filter_scheduler.enabled_filters)
    except Exception as e:  # nova's own exception is the verdict
        out["error"] = {"exception": type(e).__name__, "message": str(e)}
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
