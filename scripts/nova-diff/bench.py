#!/usr/bin/env python3
"""Benchmark: match 10,000 devices against 20 device_spec entries, with nova 34.0.0's
own Whitelist and with passthru (the nova_oracle example), in the same run.

Both sides first decide every device and must agree; then each side times matching
alone (specs parsed once, outside the timing), best of several rounds.
Run through scripts/bench-nova.sh.
"""
import argparse
import json
import statistics
import subprocess
import sys
import time

import diff  # the fake sysfs and nova adapters

from nova.pci import whitelist


def host(n_devices):
    """A big SR-IOV host: PFs with 63 VFs each (Intel E810-like), plus GPUs/NVMe."""
    pci, links, devices = {}, {}, []
    bus = 0x18
    dom = 0
    pf_i = 0
    while len(devices) < n_devices:
        pf = f"{dom:04x}:{bus:02x}:00.{pf_i % 2}"
        pci[pf] = {"sriov_totalvfs": "64\n", "sriov_vf_device": "1889\n", "vendor": "0x8086\n"}
        links[f"ens{bus}f{pf_i % 2}"] = f"../../../{pf}"
        devices.append({"address": pf, "vendor_id": "8086", "product_id": "159b",
                        "dev_type": "type-PF"})
        for v in range(63):
            if len(devices) >= n_devices:
                break
            vb = bus + 1 + (pf_i % 2)
            vf = f"{dom:04x}:{vb:02x}:{(v // 8):02x}.{v % 8}"
            pci[vf] = {"vendor": "0x8086\n"}
            devices.append({"address": vf, "vendor_id": "8086", "product_id": "1889",
                            "dev_type": "type-VF", "parent_addr": pf})
        pf_i += 1
        if pf_i % 2 == 0:
            bus += 3
            if bus > 0xf8:
                bus, dom = 0x18, dom + 1
    return {"pci": pci, "net_device_links": links}, devices[:n_devices]


SPECS = [
    '{"vendor_id": "15b3", "product_id": "101e", "physical_network": "mlx"}',
    '{"vendor_id": "10de", "product_id": "20b5"}',
    '{"vendor_id": "1000", "product_id": "0097"}',
    '{"address": "0000:af:00.*", "physical_network": "physnet9"}',
    '{"address": "*:d8:*.*"}',
    '{"address": {"domain": "0001", "bus": "0[0-9]"}}',
    '{"address": {"bus": "e[0-9a-f]$", "slot": "00", "function": "[0-3]"}}',
    '{"vendor_id": "8086", "product_id": "0d58"}',
    '{"vendor_id": "8086", "product_id": "37c9", "address": "0000:3d:*.*"}',
    '{"address": "0000:ff:1f.7"}',
    '{"vendor_id": "144d", "product_id": "a80a"}',
    '{"address": {"domain": "0000", "bus": "fe", "slot": "00", "function": "0"}}',
    '{"vendor_id": "8086", "product_id": "1889", "address": "0000:f0:00.0"}',
    '{"devname": "ens240f0", "physical_network": "physnet8"}',
    '{"vendor_id": "1af4", "product_id": "1041"}',
    '{"address": {"bus": "c[0-9]", "function": "7"}, "trusted": "true"}',
    '{"vendor_id": "8086", "product_id": "159b", "address": "0000:e1:00.0"}',
    '{"address": "0000:4f:00.1", "vendor_id": "8086"}',
    '{"vendor_id": "8086", "product_id": "1889", "address": {"bus": "[2-9a-f][0-9a-f]"}, "physical_network": "physnet2"}',
    '{"vendor_id": "8086", "product_id": "1889", "physical_network": "physnet1"}',
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oracle", required=True)
    ap.add_argument("--devices", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    sysfs, devices = host(args.devices)
    case = {"kind": "whitelist", "specs": SPECS, "report_in_placement": False,
            "sysfs": sysfs, "devices": devices}

    # 1. Same decisions.
    nova_res = diff.nova_whitelist(case)
    rust_res = diff.passthru(args.oracle, [case])[0]
    if nova_res != rust_res:
        print("nova and passthru disagree on the benchmark input", file=sys.stderr)
        return 1
    specs = len(nova_res["specs"])
    matched = sum(1 for m in nova_res["matches"] if isinstance(m, int))

    # 2. nova's Python: matching only.
    diff.install_sysfs(sysfs)
    wl = whitelist.Whitelist(SPECS)
    devs = [{k: v for k, v in d.items() if k in ("vendor_id", "product_id", "address", "parent_addr")}
            for d in devices]
    py_times = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        for d in devs:
            wl.device_assignable(d)
        py_times.append(time.perf_counter() - t0)

    # 3. passthru: matching only, timed inside the process.
    bench = dict(case, kind="bench", rounds=args.rounds * 4)
    rs = diff.passthru(args.oracle, [bench] * args.rounds)
    rs_times = [r["seconds"] for r in rs]
    assert all(r["matched"] == matched for r in rs)

    py, rs_best = min(py_times), min(rs_times)
    print(f"devices {len(devices)}, specs {specs}, devices exposed {matched} (same decisions on every device)")
    print(f"nova 34.0.0 (Python {sys.version.split()[0]}): best {py * 1000:.1f} ms, median {statistics.median(py_times) * 1000:.1f} ms")
    print(f"passthru (Rust, release):          best {rs_best * 1000:.2f} ms, median {statistics.median(rs_times) * 1000:.2f} ms")
    print(f"speed-up: {py / rs_best:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
