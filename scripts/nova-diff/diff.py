#!/usr/bin/env python3
"""Differential test: nova 34.0.0's own code vs passthru on generated inputs.

Feeds the same generated device_spec values (with fake sysfs and devices), alias
values, flavor extra specs and nova.conf texts to nova's classes
(nova.pci.whitelist.Whitelist, devspec.PciDeviceSpec, request.get_alias_from_config,
request._translate_alias_to_requests, the pci_passthrough extra-spec validator,
oslo.config's ConfigOpts with nova's options, stats.PciDeviceStats pools and
support_requests) and to passthru's `nova_oracle`
example, and compares every decision: accept/reject, the exception class and
message, normalised ids, tags, address fields, PF mode, which spec takes each
device, alias specs and flavor requests, the option values oslo.config yields, and
the pools with whether each flavor's requests fit them.

Run it with scripts/nova-diff/run.sh (creates the venv, builds the oracle).
"""
import argparse
import io
import json
import os
import random
import re
import subprocess
import sys
import tempfile

import nova.conf
import nova.objects
from nova import exception
from nova.api.validation.extra_specs import pci_passthrough
from nova.pci import request
from nova.pci import utils as pci_utils
from nova.pci import whitelist

# Only the objects these code paths use (register_all would import all of nova).
__import__("nova.objects.instance_pci_requests")
__import__("nova.objects.pci_device")
from nova import objects  # noqa: E402
from nova.pci import stats as pci_stats  # noqa: E402
CONF = nova.conf.CONF
API_VALIDATOR = pci_passthrough.EXTRA_SPEC_VALIDATORS[0]


# --------------------------------------------------------------------- fake sysfs

class FakeSysfs:
    """The files nova.pci.utils reads, served from a SysfsView-shaped dict."""

    PCI = "/sys/bus/pci/devices/"
    NET = "/sys/class/net/"

    def __init__(self, view):
        self.pci = view.get("pci", {})
        self.links = view.get("net_device_links", {})

    def _split(self, p):
        """Maps a path to (pci_dir_name | None, rest) or ('link', ifname)."""
        if p.startswith(self.NET):
            rest = p[len(self.NET):]
            ifname, _, tail = rest.partition("/")
            if ifname not in self.links:
                return None
            if tail in ("device", "device/"):
                return ("link", ifname)
            if tail.startswith("device/"):
                target = self.links[ifname]
                return ("file", target.rstrip("/").split("/")[-1], tail[len("device/"):])
            return None
        if p.startswith(self.PCI):
            rest = p[len(self.PCI):]
            name, _, tail = rest.partition("/")
            if not tail:
                return ("dir", name)
            return ("file", name, tail)
        return None

    def isdir(self, p):
        s = self._split(p)
        if s is None:
            return False
        if s[0] == "link":
            return True
        if s[0] == "dir":
            return s[1] in self.pci
        return False

    def readlink(self, p):
        s = self._split(p)
        if s and s[0] == "link":
            return self.links[s[1]]
        raise OSError(22, "Invalid argument", p)

    def open(self, p, *a, **k):
        s = self._split(p)
        if s and s[0] == "file":
            d = self.pci.get(s[1])
            if d is not None and d.get(s[2]) is not None:
                return io.StringIO(d[s[2]])
        raise FileNotFoundError(2, "No such file or directory", p)


class FakeOs:
    def __init__(self, fs):
        self.fs = fs
        outer = self

        class P:
            isdir = staticmethod(lambda p: outer.fs.isdir(p))
            join = staticmethod(os.path.join)

        self.path = P

    def readlink(self, p):
        return self.fs.readlink(p)

    def listdir(self, p):
        raise FileNotFoundError(2, "No such file or directory", p)


def install_sysfs(view):
    fs = FakeSysfs(view)
    pci_utils.os = FakeOs(fs)
    pci_utils.open = fs.open


# --------------------------------------------------------------------- nova side

OBJ_ADDR = re.compile(r"object at 0x[0-9a-f]+>")


def exc_json(e):
    msg = OBJ_ADDR.sub("object at 0x...>", str(e))
    return {"exception": type(e).__name__, "message": msg}


def nova_whitelist(case):
    install_sysfs(case["sysfs"])
    CONF.set_override("report_in_placement", case["report_in_placement"], group="pci")
    try:
        wl = whitelist.Whitelist(case["specs"])
    except Exception as e:
        return {"error": exc_json(e)}
    specs = []
    for s in wl.specs:
        a = s._address_obj() if s.dev_name else s.address
        addr = None
        if a is not None:
            ps = a.pci_address_spec
            kind = {"PciAddressGlobSpec": "glob", "PciAddressRegexSpec": "regex",
                    "PhysicalPciAddress": "physical"}[type(ps).__name__]
            addr = {"kind": kind, "fields": [ps.domain, ps.bus, ps.slot, ps.func],
                    "is_pf": bool(a.is_physical_function)}
        specs.append({
            "vendor_id": s.vendor_id,
            "product_id": s.product_id,
            "tags": repr(s.tags),
            "devname": str(s.dev_name) if s.dev_name else None,
            "address": addr,
        })
    matches = []
    for d in case["devices"]:
        dev = {k: v for k, v in d.items()
               if k in ("vendor_id", "product_id", "address", "parent_addr") and v is not None}
        if d.get("card_serial_number") is not None:
            dev["capabilities"] = {"vpd": {"card_serial_number": d["card_serial_number"]}}
        try:
            found = wl.device_assignable(dev)
            matches.append(None if found is None else next(
                i for i, s in enumerate(wl.specs) if s is found))
        except Exception as e:
            matches.append({"error": exc_json(e)})
    return {"error": None, "specs": specs, "matches": matches}


def nova_alias(case):
    CONF.set_override("alias", case["values"], group="pci")
    CONF.set_override("pci_in_placement", case["pci_in_placement"], group="filter_scheduler")
    request.get_alias_from_config.cache_clear()
    error = None
    aliases = None
    try:
        got = request.get_alias_from_config()
        aliases = [[name, numa, [[list(kv) for kv in spec.items()] for spec in specs]]
                   for name, (numa, specs) in got.items()]
    except Exception as e:
        error = exc_json(e)
    flavors = []
    for f in case["flavors"]:
        try:
            API_VALIDATOR.validate("pci_passthrough:alias", f)
            api_error = None
        except exception.ValidationError as e:
            api_error = str(e)
        request.get_alias_from_config.cache_clear()
        try:
            reqs = request._translate_alias_to_requests(f)
            boot = {"requests": [[r.alias_name, r.count, r.numa_policy] for r in reqs]}
        except Exception as e:
            boot = {"error": exc_json(e)}
        flavors.append({"api_error": api_error, "boot": boot})
    return {"error": error, "aliases": aliases, "flavors": flavors}


def nova_pools(case):
    """PciDeviceStats built from the assignable devices, and support_requests."""
    install_sysfs(case["sysfs"])
    CONF.set_override("report_in_placement", False, group="pci")
    CONF.set_override("alias", case["aliases"], group="pci")
    CONF.set_override("pci_in_placement", False, group="filter_scheduler")
    request.get_alias_from_config.cache_clear()
    wl = whitelist.Whitelist(case["specs"])
    st = pci_stats.PciDeviceStats(numa_topology=None, dev_filter=wl)
    for d in case["devices"]:
        dev = {k: d[k] for k in ("vendor_id", "product_id", "address", "parent_addr")
               if d.get(k) is not None}
        try:
            if wl.device_assignable(dev) is None:
                continue
        except Exception:
            continue
        full = dict(dev, dev_type=d["dev_type"], numa_node=d.get("numa_node"),
                    label="label_%s_%s" % (d["vendor_id"], d["product_id"]),
                    dev_id="pci_" + d["address"].replace(":", "_").replace(".", "_"))
        if d.get("parent_ifname"):
            full["parent_ifname"] = d["parent_ifname"]
        st.add_device(objects.PciDevice.create(None, full))
    pools = [[repr({k: v for k, v in p.items() if k not in ("count", "devices")}),
              [x.address for x in p["devices"]]] for p in st.pools]
    fits = []
    for f in case["flavors"]:
        try:
            reqs = request._translate_alias_to_requests(f)
        except Exception:
            fits.append(None)
            continue
        fits.append(st.support_requests(reqs, provider_mapping=None))
    return {"pools": pools, "fits": fits}


def pools_case(r):
    """Valid specs only (pools need nova-compute running), devices with NUMA
    nodes and PF interface names, aliases that may ask for any device type."""
    sysfs = rand_sysfs(r)
    specs = []
    if r.random() < 0.7:
        specs.append(r.choice([
            '{"vendor_id": "8086", "product_id": "1520"}',
            '{"vendor_id": "8086", "product_id": "1520", "physical_network": "physnet1"}',
            '{"address": "0000:06:00.0", "trusted": "true"}',
            '{"vendor_id": "8086"}', "{}", '{"address": "*:07:10.*", "live_migratable": "yes"}',
            '{"product_id": "1521", "physical_network": "p"}',
            '{"devname": "eno2", "physical_network": "physnet2"}',
        ]))
    while len(specs) < r.randrange(1, 4):
        t = spec_text(r)
        if nova_whitelist({"specs": [t], "sysfs": sysfs, "report_in_placement": False,
                           "devices": []})["error"] is None:
            specs.append(t)
    devs = devices(r)
    devs = [d for d in devs if d["address"] != "10000:01:00.0" and d.get("parent_addr") != "junk"
            and d.get("vendor_id") and d.get("product_id") and d.get("dev_type")
            and d["address"].count(":") == 2]
    for d in devs:
        d.pop("card_serial_number", None)
        d["numa_node"] = r.choice([0, 0, 1, None])
        if d["dev_type"] == "type-VF" and r.random() < 0.6:
            d["parent_ifname"] = "eno%d" % (int(d["parent_addr"][-1]) + 1)
    aliases = []
    for name in ("a1", "a2"):
        a = {"name": name, "vendor_id": "8086",
             "product_id": r.choice(["1520", "1521", "8d02"])}
        if r.random() < 0.5:
            a["device_type"] = r.choice(["type-PF", "type-VF", "type-PCI"])
        if r.random() < 0.15:
            a["live_migratable"] = r.choice(["true", "false"])
        if r.random() < 0.1:
            a["capability_type"] = "pci"  # a key no pool has: never matches
        aliases.append(json.dumps(a))
    flavors = r.sample(["a1:1", "a1:2", "a2:1", "a1:4,a2:1", "a1:8", "a2:4", "a1:0",
                        "a1:2,a1:2", "a2:2,a1:3", "a1:9"], 4)
    return {"kind": "pools", "specs": specs, "sysfs": sysfs, "devices": devs,
            "aliases": aliases, "flavors": flavors}


def nova_conf(case, tmpdir):
    path = os.path.join(tmpdir, "nova.conf")
    with open(path, "w", newline="") as f:
        f.write(case["text"])
    for g, n in (("pci", "alias"), ("pci", "report_in_placement"),
                 ("filter_scheduler", "pci_in_placement")):
        CONF.clear_override(n, group=g)
    try:
        CONF(args=[], default_config_files=[path], default_config_dirs=[])
    except Exception as e:
        return {"error": exc_json(e)}
    out = {"error": None, "option_errors": {}}
    for key, g, n in (("device_spec", "pci", "device_spec"), ("alias", "pci", "alias"),
                      ("report_in_placement", "pci", "report_in_placement"),
                      ("pci_in_placement", "filter_scheduler", "pci_in_placement"),
                      ("enabled_filters", "filter_scheduler", "enabled_filters")):
        try:
            out[key] = getattr(getattr(CONF, g), n)
        except Exception as e:
            out["option_errors"][key] = exc_json(e)["message"]
    return out


# --------------------------------------------------------------------- generators

HEX = ["8086", "1520", "1521", "15b3", "10de", "abcd", "ABCD", "86", "0x8086", " 8086 ",
       "+8086", "-1", "8_086", "0x_15_20", "８０８６", "١٥٢٠", "", " ", "*", " * ", "80*",
       "g111", "10000", "80860", "ffff", "0", "0000", "1_", "__", "0x", "FFFF\n"]
NONSTR = [5, 1.5, None, True, [], {}, ["8086"], 0]

GLOB_PARTS = ["", "*", "0", "0000", "00", "0a", "0A", "07", "06", "1f", "20", "ff", "100",
              "0x07", " 07 ", "0*", "-1", "10000", "zz", "٠٧"]
FUNCS = ["", "*", "0", "1", "3", "7", "8", " 1", "0-3", "x", " "]
REGEX_PARTS = [".*", "0", "07", "0[0-7]", "[0-2]", "1[0-f]", "0a|0b", "(0|1)", "0$", "07$",
               "^07", "\\d{2}", "\\d{4}$", "[6[-7]", "*", "(", "0A", "(?i)0A", "a{", "0{,2}",
               "(?=0)0", "(?<=0)7", "[^1]", "0000", "00", "10", "1f", "3", "\\w+", "a**",
               "(?P<x>0)(?P=x)", "", "[z-a]", "\\q", "0+?", ".", "0.", "(a)(?(1)b|c)"]


REGEX_ALPHABET = "0123456789abcdefAF.*+?|()[]{}^$\\-,:=!<>Pdwsbx_ #"
HEX_ALPHABET = "0123456789abcdefABCDEFxX_+- *\t\u00a0\u0663\uff18\uff41\x1c"
GLOB_ALPHABET = "0123456789abcdefxX*:. _-"
FLAVOR_ALPHABET = "a1: ,2\t\u0663-+_x\n"


def fuzz(r, alphabet, n):
    return "".join(r.choice(alphabet) for _ in range(r.randrange(0, n)))


def mutate(r, text):
    """Character-level edits of a valid JSON text: what hand-editing does."""
    t = list(text)
    for _ in range(r.randrange(1, 3)):
        op = r.randrange(4)
        i = r.randrange(len(t) + 1)
        if op == 0 and t:
            del t[min(i, len(t) - 1)]
        elif op == 1:
            t.insert(i, r.choice('{}[],:"\' ' '\n\t0aN#'))
        elif op == 2 and t:
            j = min(i, len(t) - 1)
            t.insert(j, t[j])
        else:
            t.insert(i, r.choice([" # x", ",", "NaN", "'", "\\u00e9", "\\ud83d\\ude00"]))
    return "".join(t)


def rand_hex(r):
    if r.random() < 0.08:
        return r.choice(NONSTR)
    if r.random() < 0.25:
        return fuzz(r, HEX_ALPHABET, 7)
    return r.choice(HEX)


def rand_glob(r):
    if r.random() < 0.25:
        return fuzz(r, GLOB_ALPHABET, 14)
    shape = r.randrange(9)
    f = r.choice(FUNCS)
    p = lambda: r.choice(GLOB_PARTS)
    if shape == 0:
        return f"{p()}:{p()}:{p()}.{f}"
    if shape == 1:
        return f"{p()}:{p()}.{f}"
    if shape == 2:
        return f"{p()}.{f}"
    if shape == 3:
        return p()
    if shape == 4:
        return f"{p()}:"
    if shape == 5:
        return f"{p()}:{p()}:{p()}:{p()}"
    if shape == 6:
        return f"{p()}.{f}.{f}"
    if shape == 7:
        return r.choice(["0000:06:00.0", "0000:06:00.3", "06:00.1", "0000:07:10.3", "0000:07:10.*",
                         "*:07:10.*", "0000:06:00.", ":0a:00.", ".5", "*: *: *.6", "0:6:0.0",
                         "0000:0a:00:1", "0000:h4.12:6", "1f", "x. ", "1.2"])
    return f"{p()}:{p()}:{p()}.{p()}"


def rand_regex_dict(r):
    d = {}
    for k in ("domain", "bus", "slot", "function"):
        if r.random() < 0.6:
            c = r.random()
            d[k] = (r.choice(REGEX_PARTS) if c < 0.6 else fuzz(r, REGEX_ALPHABET, 9) if c < 0.96
                    else r.choice([7, None, ["0"]]))
    if r.random() < 0.15:
        d = r.choice([{"domain": "0000", "bus": "06", "slot": "00", "function": "0"},
                      {"domain": "0000", "bus": "06", "slot": "00", "function": "3"},
                      {"bus": "06", "slot": "00", "function": "0"},
                      {"domain": "0000", "bus": "6", "slot": "00", "function": "0"}])
    if r.random() < 0.05:
        d["extra"] = "x"
    return d


def rand_address(r):
    c = r.random()
    if c < 0.5:
        return rand_glob(r)
    if c < 0.8:
        return rand_regex_dict(r)
    return r.choice(["", {}, [], 0, None, 5, True, ["0000:06:00.0"], 1.0, False])


BOOLS = ["true", "false", "yes", "no", "1", "0", "TrUe", " on ", "OFF", "t", "f", "y", "n",
         "", "2", "maybe", True, False, 1, 0, 2, None, 1.0, [1], {"a": 1}]


def rand_spec(r):
    s = {}
    if r.random() < 0.7:
        s["vendor_id"] = rand_hex(r) if r.random() < 0.6 else "8086"
    if r.random() < 0.7:
        s["product_id"] = rand_hex(r) if r.random() < 0.6 else r.choice(["1520", "1521"])
    c = r.random()
    if c < 0.55:
        s["address"] = rand_address(r)
    elif c < 0.7:
        s["devname"] = r.choice(["eno1", "eno4", "enp7s16", "enp7s16f1", "missing0", "virt0",
                                 "", None, "eth9", 5])
        if r.random() < 0.2:
            s["address"] = rand_address(r)
    for tag in ("physical_network", "trusted", "managed", "live_migratable", "one_time_use",
                "remote_managed", "resource_class", "traits", "foo"):
        if r.random() < 0.12:
            if tag == "physical_network":
                s[tag] = r.choice(["physnet1", "PhysNet1", None, 5, ""])
            elif tag in ("resource_class", "traits", "foo"):
                s[tag] = r.choice(["CUSTOM_X", "blue, big", 3])
            else:
                s[tag] = r.choice(BOOLS)
    keys = list(s)
    r.shuffle(keys)
    return {k: s[k] for k in keys}


def spec_text(r):
    c = r.random()
    if c < 0.1:
        return mutate(r, json.dumps(rand_spec(r)))
    if c < 0.55:
        return json.dumps(rand_spec(r))
    if c < 0.75:
        return json.dumps([rand_spec(r) for _ in range(r.randrange(0, 3))])
    return r.choice([
        "{}", "[]", "", " ", "{'vendor_id': '8086'}", '{"vendor_id": "8086",}', "[1]", "[[]]",
        '"x"', "5", "null", "true", '{"vendor_id": "8086"} # nics', "{vendor_id: 1}",
        '{"address": NaN}', '{"vendor_id": "8086", "vendor_id": "15b3"}',
        '[{"vendor_id": "8086"}, 7]', '{"a": Infinity}', '  {"product_id": "1520"}  ',
        '{"address": {"bus": "07"}, "physical_network": "p"}', "[{}]",
        '{"devname": "eno1", "address": "0000:06:00.0"}',
        '{"devname": "virt0"}', '{"remote_managed": "true", "devname": "missing0"}',
        '{"remote_managed": "true", "devname": "eno1", "vendor_id": "8086", "product_id": "1520"}',
        '{"remote_managed": "true", "devname": "eno1", "product_id": "1521"}',
        '{"remote_managed": "true", "devname": "eno1", "product_id": "abcd"}',
        '{"remote_managed": "true", "address": "0000:06:00.0", "product_id": "1520"}',
        '{"one_time_use": "TrUe"}', '{"managed": "maybe"}',
    ])


def rand_sysfs(r):
    pci = {}
    for f in range(4):
        total = r.choice(["8\n", "8\n", "0\n", "x\n", None, " 8 "])
        pci[f"0000:06:00.{f}"] = {
            "sriov_totalvfs": total,
            "sriov_vf_device": r.choice(["1520\n", "1520\n", "\n", None]),
            "vendor": "0x8086\n",
            "product": r.choice([None, "0x1521\n"]),
        }
    for i in range(8):
        pci[f"0000:07:10.{i}"] = {"vendor": "0x8086\n"}
    pci["0000:00:1f.2"] = {"vendor": "0x8086\n"}
    links = {f"eno{f+1}": f"../../../0000:06:00.{f}" for f in range(4)}
    links["enp7s16"] = "../../../0000:07:10.0"
    links["enp7s16f1"] = "../../../0000:07:10.1"
    links["virt0"] = "../../../virtio0"
    return {"pci": pci, "net_device_links": links}


def devices(r):
    out = []
    for f in range(4):
        out.append({"address": f"0000:06:00.{f}", "vendor_id": "8086", "product_id": "1521",
                    "dev_type": "type-PF"})
    for i in range(8):
        out.append({"address": f"0000:07:10.{i}", "vendor_id": "8086", "product_id": "1520",
                    "dev_type": "type-VF", "parent_addr": f"0000:06:00.{i % 4}",
                    "card_serial_number": r.choice([None, "", "MT1234"])})
    out.append({"address": "0000:00:1f.2", "vendor_id": "8086", "product_id": "8d02",
                "dev_type": "type-PCI"})
    out.append({"address": "0000:0a:00.0", "vendor_id": "15b3", "product_id": "1017",
                "dev_type": "type-PCI"})
    out.append({"address": "10000:01:00.0", "vendor_id": "8086", "product_id": "0a54",
                "dev_type": "type-PCI"})
    if r.random() < 0.1:
        out.append(r.choice([
            {"address": "0000:07:00.0", "vendor_id": "8086"},
            {"address": "07:00.0", "vendor_id": "8086", "product_id": "1520"},
            {"address": "0000:07:10.6", "vendor_id": "8086", "product_id": "1520",
             "parent_addr": "junk"},
            {"address": "0000:05:00.0", "vendor_id": "ABCD", "product_id": "0086"},
        ]))
    return out


ALIAS_KEYS = {
    "name": ["a1", "a2", " a1 ", "", " ", "QuickAssist", "x" * 300, "Cirrus Logic", "a:b", 5],
    "vendor_id": ["8086", "ABCD", "0x8086", "808", "*", "8086\n", "٨٠٨٦", 8086, "g111"],
    "product_id": ["1520", "1521", "10ed", "g111", "15200", ""],
    "device_type": ["type-PCI", "type-PF", "type-VF", "vdpa", "type-pf", "", 1],
    "numa_policy": ["required", "legacy", "preferred", "socket", "derp", ""],
    "capability_type": ["pci", "usb"],
    "resource_class": ["CUSTOM_X", 3],
    "traits": ["A,B"],
    "live_migratable": ["true", "no", "invalid", True],
    "physical_network": ["p"],
    "devname": ["eno1"],
}


def rand_alias(r):
    d = {}
    if r.random() < 0.93:
        d["name"] = r.choice(ALIAS_KEYS["name"][:4]) if r.random() < 0.8 else r.choice(ALIAS_KEYS["name"])
    for k in ("vendor_id", "product_id"):
        if r.random() < 0.85:
            d[k] = ALIAS_KEYS[k][0 if k == "vendor_id" else r.randrange(3)] if r.random() < 0.8 else r.choice(ALIAS_KEYS[k])
    for k in ("device_type", "numa_policy", "capability_type", "resource_class", "traits",
              "live_migratable", "physical_network", "devname"):
        p = {"device_type": 0.5, "numa_policy": 0.2}.get(k, 0.05)
        if r.random() < p:
            vals = ALIAS_KEYS[k]
            d[k] = vals[r.randrange(min(3, len(vals)))] if r.random() < 0.8 else r.choice(vals)
    c = r.random()
    if c < 0.1:
        return mutate(r, json.dumps(d))
    if c < 0.9:
        return json.dumps(d)
    return r.choice(["[" + json.dumps(d) + "]", "{'name': 'a'}", "", "{", json.dumps(d) + " x"])


FLAVORS = ["a1:1", "a1:2", "a2:1", "a1:2,a2:1", "a1 : 2", "a1,a2:1", "a1:2,,a2:1", "a1:0",
           "a1:x", "A1:1", "a1:1:2", " a1:1", "a1:٣", "a1:+1", "a1:-1", "a1: 1", "a1:1_0",
           "QuickAssist : 3, a1: 1", "Cirrus Logic:4", "zz:1,a1", "a1:1, a2:1", "", ":1",
           "a1:1 ,a2:1", "a1:1\n", "a1:1,", "a1:\u00a01"]


def alias_case(r):
    return {"kind": "alias",
            "values": [rand_alias(r) for _ in range(r.randrange(0, 4))],
            "pci_in_placement": r.random() < 0.2,
            "flavors": r.sample(FLAVORS, 3) + [fuzz(r, FLAVOR_ALPHABET, 10)]}


CONF_LINES = [
    "[pci]", "[PCI]", "[DEFAULT]", "[default]", "[filter_scheduler]", "[ pci ]",
    'device_spec = {"vendor_id": "8086"}', 'device_spec: {"product_id": "1520"}',
    "device_spec = '{\"a\": 1}'", 'device_spec = "{"a": 1}"', "device_spec = {} # nics",
    'passthrough_whitelist = {"b": 2}', 'pci_passthrough_whitelist = {"c": 3}',
    'device_spec = {"address": {"bus": "07$$"}}', 'device_spec = {"address": {"bus": "07$"}}',
    'device_spec = {"x": "$bus"}', 'device_spec = {"x": "${report_in_placement}"}',
    'device_spec = {"x": "\\$y"}', 'device_spec = {"x": "$pci.report_in_placement"}',
    'device_spec = {"x": "${nosuch.opt}"}', 'device_spec = {"x": "$$$"}',
    'alias = {"name": "a1", "vendor_id": "8086", "product_id": "1520"}',
    'pci_alias = {"name": "a0"}', "alias =", 'alias = "',
    "report_in_placement = true", "report_in_placement = Yes", "report_in_placement = t",
    "pci_in_placement = on", "pci_in_placement = maybe",
    "enabled_filters = ComputeFilter, PciPassthroughFilter,",
    "enabled_filters =", "enabled_filters = A,B", "scheduler_default_filters = PciPassthroughFilter",
    "  continued", "\tcontinued2", "", "# comment", "; comment", "key without value",
    "= novalue", "[", "[]", "[pci] # x", "device_spec = {\"a\":\n   1}",
]


def conf_case(r, tmpdir):
    lines = ["[pci]"] if r.random() < 0.7 else []
    for _ in range(r.randrange(1, 9)):
        lines.append(r.choice(CONF_LINES))
    nl = r.choice(["\n", "\n", "\r\n"])
    return {"kind": "conf", "name": os.path.join(tmpdir, "nova.conf"), "text": nl.join(lines) + nl}


# --------------------------------------------------------------------- compare

def passthru(oracle, cases):
    inp = "".join(json.dumps(c) + "\n" for c in cases)
    p = subprocess.run([oracle], input=inp, capture_output=True, text=True, check=True)
    return [json.loads(l) for l in p.stdout.splitlines()]


def norm_conf(py):
    """nova's values -> the oracle's shape."""
    if py.get("error"):
        return {"error": py["error"]}
    errs = py["option_errors"]
    out = {"error": None}
    for k in ("device_spec", "alias", "report_in_placement", "pci_in_placement", "enabled_filters"):
        out[k] = errs.get(k) or py.get(k)
    return out


def norm_conf_rust(rs):
    if rs.get("error"):
        return {"error": rs["error"]}
    out = {"error": None}
    errs = {}
    for e in rs["option_errors"]:
        o = e["option"] or ""
        key = ("device_spec" if ("device_spec" in o or "whitelist" in o) else
               "alias" if "alias" in o else
               "report_in_placement" if "report_in_placement" in o else
               "pci_in_placement" if "pci_in_placement" in o else
               "enabled_filters" if "enabled_filters" in o else o)
        errs.setdefault(key, e["message"])
    for k in ("device_spec", "alias", "report_in_placement", "pci_in_placement", "enabled_filters"):
        out[k] = errs.get(k) or rs.get(k)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oracle", required=True)
    ap.add_argument("--cases", type=int, default=400, help="cases of each kind")
    ap.add_argument("--seed", type=int, default=34)
    ap.add_argument("--show", type=int, default=10, help="mismatches to print")
    args = ap.parse_args()
    r = random.Random(args.seed)
    tmpdir = tempfile.mkdtemp(prefix="nova-diff-")

    wl_cases = []
    for _ in range(args.cases):
        wl_cases.append({"kind": "whitelist",
                         "specs": [spec_text(r) for _ in range(r.randrange(1, 4))],
                         "report_in_placement": r.random() < 0.2,
                         "sysfs": rand_sysfs(r), "devices": devices(r)})
    al_cases = [alias_case(r) for _ in range(args.cases)]
    cf_cases = [conf_case(r, tmpdir) for _ in range(args.cases)]
    po_cases = [pools_case(r) for _ in range(max(1, args.cases // 2))]

    nova_out = [nova_whitelist(c) for c in wl_cases]
    nova_out += [nova_alias(c) for c in al_cases]
    nova_out += [norm_conf(nova_conf(c, tmpdir)) for c in cf_cases]
    nova_out += [nova_pools(c) for c in po_cases]
    rust_out = passthru(args.oracle, wl_cases + al_cases + cf_cases + po_cases)
    n1 = len(wl_cases) + len(al_cases)
    n2 = n1 + len(cf_cases)
    rust_out = rust_out[:n1] + [norm_conf_rust(x) for x in rust_out[n1:n2]] + rust_out[n2:]

    cases = wl_cases + al_cases + cf_cases + po_cases
    kinds = {}
    bad = []
    decisions = 0
    for c, n, p in zip(cases, nova_out, rust_out):
        k = c["kind"]
        kinds.setdefault(k, [0, 0])
        kinds[k][0] += 1
        decisions += (1 + len(n.get("matches") or []) + len(n.get("flavors") or [])
                      + len(n.get("pools") or []) + len(n.get("fits") or []))
        if n != p:
            kinds[k][1] += 1
            bad.append((c, n, p))
    for k, (total, wrong) in kinds.items():
        print(f"{k:10s} {total:5d} cases, {wrong} disagreements")
    errors = sum(1 for n in nova_out if n.get("error"))
    print(f"{decisions} decisions compared ({errors} cases where nova rejects the input)")
    for c, n, p in bad[: args.show]:
        print("---- case:", json.dumps({k: v for k, v in c.items() if k not in ("sysfs", "devices")}))
        for key in sorted(set(n) | set(p)):
            if n.get(key) != p.get(key):
                print(f"  {key}:\n    nova:     {json.dumps(n.get(key))}\n    passthru: {json.dumps(p.get(key))}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
