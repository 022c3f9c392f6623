//! `device.numa-unknown`: on a host with several NUMA nodes, the device's node is
//! known (not the kernel's -1), so guests can be pinned next to it.

use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::model::PciDevice;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Devices,
    summary: "the device's NUMA node is known on a multi-node host",
    run: check,
};

/// Stable id.
pub const ID: &str = "device.numa-unknown";
const LABEL: &str = "NUMA node";

fn one(ctx: &Context, d: &PciDevice) -> Option<Finding> {
    let nodes = ctx.host.numa_nodes.len();
    let f =
        |sev, msg: String| Finding::new(ID, Section::Devices, sev, LABEL, msg).device(d.address);
    Some(match d.numa_node {
        Some(n) => f(Severity::Pass, format!("node {n}")),
        None if nodes > 1 => f(
            Severity::Warn,
            format!("NUMA node unknown (numa_node is -1) on a host with {nodes} nodes"),
        )
        .why("nova's NUMA policies and vCPU pinning need the device's node; unknown, a guest may run on the far socket and every DMA crosses the interconnect")
        .fix("Update the firmware (the ACPI _PXM of the slot is missing) or enable NUMA/SRAT reporting in the BIOS; meanwhile pin the guest by the slot's socket from the board manual, or set nova's numa_policy=legacy/preferred"),
        None if nodes == 1 => f(Severity::Pass, "single NUMA node host".into()),
        None => return None,
    })
}

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    ctx.targets.iter().filter_map(|d| one(ctx, d)).collect()
}
