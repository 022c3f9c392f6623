//! `device.vfio-node-missing`: a device on vfio-pci has its `/dev/vfio/N`.

use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Devices,
    summary: "a vfio-bound device's /dev/vfio/N exists",
    run: check,
};

/// Stable id.
pub const ID: &str = "device.vfio-node-missing";
const LABEL: &str = "vfio group device";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    if !ctx.host.system.collected {
        return Vec::new();
    }
    ctx.targets
        .iter()
        .filter(|d| d.on_vfio())
        .filter_map(|d| {
            let g = d.iommu_group?;
            let node = format!("/dev/vfio/{g}");
            Some(if ctx.host.system.dev.has_vfio(&g.to_string()) {
                Finding::new(ID, Section::Devices, Severity::Pass, LABEL, format!("{node} present"))
                    .device(d.address)
            } else {
                Finding::new(
                    ID,
                    Section::Devices,
                    Severity::Fail,
                    LABEL,
                    format!("on vfio-pci but {node} does not exist"),
                )
                .device(d.address)
                .why("QEMU opens the group's device node; vfio registers it when vfio-pci binds a device of the group, and udev/devtmpfs creates it")
                .fix(format!("udevadm trigger --subsystem-match=vfio\nls -l {node}   # if still missing: echo {} > /sys/bus/pci/drivers/vfio-pci/unbind; echo {} > /sys/bus/pci/drivers/vfio-pci/bind", d.address, d.address))
            })
        })
        .collect()
}
