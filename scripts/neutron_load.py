"""Loads `passthru render neutron-sriov` output with neutron's own option definitions.

  python neutron_load.py AGENT_INI ML2_INI   -> JSON on stdout

The agent file is read with neutron's `[sriov_nic]` options and parsed as the SR-IOV
NIC agent does (neutron_lib's parse_mappings, the agent's parse_exclude_devices); the
ML2 file with neutron's `[ml2]` options. Any rejection raises (non-zero exit).
"""
import json
import sys
import warnings

warnings.simplefilter("ignore")
from oslo_config import cfg  # noqa: E402
from neutron_lib.utils import helpers  # noqa: E402
from neutron.conf.plugins.ml2 import config as ml2_config  # noqa: E402
from neutron.plugins.ml2.drivers.mech_sriov.agent.common import config as agent_config  # noqa: E402

agent = cfg.ConfigOpts()
agent.register_opts(agent_config.agent_common_config.sriov_nic_opts, "SRIOV_NIC")
agent(args=[], default_config_files=[sys.argv[1]])
mappings = helpers.parse_mappings(agent.SRIOV_NIC.physical_device_mappings, unique_keys=False)
exclude = agent_config.parse_exclude_devices(agent.SRIOV_NIC.exclude_devices)

server = cfg.ConfigOpts()
ml2_config.register_ml2_plugin_opts(server)
server(args=[], default_config_files=[sys.argv[2]])

print(json.dumps({
    "physical_device_mappings": {k: sorted(v) for k, v in mappings.items()},
    "exclude_devices": {k: sorted(v) for k, v in exclude.items()},
    "mechanism_drivers": list(server.ml2.mechanism_drivers),
}))
